"""A balanced panel with a common treatment start and serially correlated errors.

For units i = 1..G and periods t = 1..T, in each replication:

    t0 ~ Uniform{start_min, …, start_max}           common start period
    lambda_t ~ N(0, 1),  alpha_i ~ N(0, 1)           period and unit effects
    eps_i1 = eta_i1,  eps_it = rho·eps_i,t−1 + √(1 − rho²)·eta_it,  eta ~ N(0, 1)
    D_it = treated_i · 1(t ≥ t0)
    y_it = alpha_i + lambda_t + tau·D_it + trend_gap·treated_i·(t − t0) + eps_it

The first round(treated_share·G) units are treated.  eps is a stationary
AR(1) with unit variance within each unit (Bertrand, Duflo & Mullainathan
2004: with rho > 0, conventional standard errors of the two-way
fixed-effects estimate are too small).  tau = 0 makes the treatment a
placebo law.  trend_gap adds a linear differential trend for the treated
units, zero at t0: the two-way fixed-effects estimate is then biased by
trend_gap·T/2 whatever t0, and an event-study pre-trend test can detect it.
A start after T leaves no treated period (the kernels return a status).

Truth: tau.  Batch arrays: ``panel_y`` (R, G, T), ``treated`` (R, G) of
0/1, ``start`` (R,) the first treated period (1-indexed).  Draw order per
replication: t0, lambda_1..lambda_T, then per unit alpha, eta_1..eta_T.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp


@njit(cache=True)
def _draw(rng, n_treated, start_min, start_max, rho, tau, trend_gap, y, start):
    n_reps, n_units, n_periods = y.shape
    innovation = math.sqrt(1.0 - rho * rho)
    lam = np.empty(n_periods)
    shift = np.empty(n_periods)  # what treatment adds to a treated unit in period t
    for r in range(n_reps):
        t0 = rng.integers(start_min, start_max + 1)
        start[r] = t0
        for t in range(n_periods):
            lam[t] = rng.standard_normal()
            period = t + 1
            shift[t] = (tau if period >= t0 else 0.0) + trend_gap * (period - t0)
        for i in range(n_units):
            alpha = rng.standard_normal()
            row = y[r, i]
            eps = rng.standard_normal()
            if i < n_treated:
                row[0] = alpha + lam[0] + shift[0] + eps
                for t in range(1, n_periods):
                    eps = rho * eps + innovation * rng.standard_normal()
                    row[t] = alpha + lam[t] + shift[t] + eps
            else:
                row[0] = alpha + lam[0] + eps
                for t in range(1, n_periods):
                    eps = rho * eps + innovation * rng.standard_normal()
                    row[t] = alpha + lam[t] + eps


# The serial correlation of the errors, shared by the panel DGPs.
AR1_RHO = Setting(
    "rho",
    0.0,
    "AR(1) coefficient of the errors within a unit",
    minimum=-1.0,
    maximum=1.0,
    min_exclusive=True,
    max_exclusive=True,
)


def generate(rng, n_reps, p):
    g, t = p["n_units"], p["n_periods"]
    n_treated = round(p["treated_share"] * g)
    y = np.empty((n_reps, g, t))
    start = np.empty(n_reps, dtype=np.int64)
    _draw(rng, n_treated, p["start_min"], p["start_max"], p["rho"], p["tau"], p["trend_gap"], y, start)
    treated = np.zeros((n_reps, g))
    treated[:, :n_treated] = 1.0
    return {"panel_y": y, "treated": treated, "start": start, "truth": np.full(n_reps, p["tau"])}


def check(p):
    if p["start_min"] > p["start_max"]:
        return [
            (
                ("start_min", "start_max"),
                f"start_min = {p['start_min']} exceeds start_max = {p['start_max']}; allowed: start_min ≤ start_max",
            )
        ]
    return []


DGPS = (
    Dgp(
        name="did_panel",
        summary="G × T panel, common random start, AR(1) errors (placebo laws), differential trends",
        params=(
            Setting("n_units", 50, "number of units G", minimum=2),
            Setting("n_periods", 20, "number of periods T", minimum=2),
            AR1_RHO,
            Setting("tau", 0.0, "treatment effect (the truth; 0 = a placebo law)"),
            Setting("trend_gap", 0.0, "slope of the treated units' differential linear trend"),
            Setting("treated_share", 0.5, "share of units treated", minimum=0.0, maximum=1.0),
            Setting("start_min", 6, "earliest start period (1-indexed)", minimum=1),
            Setting("start_max", 15, "latest start period (1-indexed)", minimum=1),
        ),
        provides=("panel_y", "treated", "start"),
        generate=generate,
        check=check,
        examples=(
            {"n_units": 8, "n_periods": 7, "start_min": 3, "start_max": 6, "rho": 0.5, "trend_gap": 0.2},
            {"n_units": 6, "n_periods": 5, "start_min": 2, "start_max": 5, "treated_share": 0.3},
        ),
    ),
)
