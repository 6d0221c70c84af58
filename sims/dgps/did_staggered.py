"""Staggered adoption: cohorts of units adopt a treatment in different periods.

A balanced panel of units i = 1..G and periods t = 1..T.  Adoption cohorts
k = 0..K−1 adopt in periods g_k = first_cohort + k·cohort_spacing; a share
never_share of the units is never treated.  In each replication:

    lambda_t ~ N(0, 1)                       period effects
    alpha_i ~ N(0, 1),  u_i ~ N(0, 1)        unit effects, assignment noise
    units ranked by selection·alpha_i + u_i: the highest scores go to the
    earliest cohort (round(never_share·G) lowest never adopt; the treated
    split as evenly as possible, earlier cohorts taking the remainder)
    eps_i1 = eta_i1,  eps_it = rho·eps_i,t−1 + √(1 − rho²)·eta_it,  eta ~ N(0, 1)
    y_it = alpha_i + lambda_t + tau_it + trend_gap·1(i adopts)·(t − g_i) + eps_it

with event time e = t − g_i and the effect of cohort k

    tau_it = tau + tau_growth·e + tau_cohort_gap·k     for e ≥ 0,
    tau_it = tau + tau_cohort_gap·k                    for −anticipation ≤ e < 0,
    tau_it = 0                                         otherwise (and never treated).

Effects that grow with e (tau_growth) or differ by cohort (tau_cohort_gap)
make the static two-way fixed-effects estimate a weighted average of
effects with weights that may be negative (de Chaisemartin & D'Haultfœuille
2020; Goodman-Bacon 2021).  trend_gap breaks parallel trends (zero at
adoption); selection > 0 makes early adopters those with high unit effects
(harmless for fixed-effects estimators, which difference alpha out).

Truths (terms; the same in every replication, as cohort sizes are fixed):

- ``att`` (the estimand): the mean of tau_it over treated unit-periods
  (t ≥ g_i): Callaway & Sant'Anna's "simple" aggregation.
- ``e=k``: ATT(e), the mean of tau over the adopting units observed at
  event time k (1 ≤ g_i + k ≤ T), for every k the panel has; 0 before
  adoption unless anticipated.
- ``dynamic``: the mean of ATT(e) over e = 0 … T − g_min (Callaway &
  Sant'Anna's dynamic aggregation).
- ``group``: Σ_k (n_k / n_treated)·mean_{t ≥ g_k} tau (their group
  aggregation).

Batch arrays: ``panel_y`` (R, G, T); ``cohort`` (R, G), the adoption period
g_i (1-indexed), 0 for never-treated units (csdid's convention).  Draw
order per replication: lambda_1..lambda_T, then per unit alpha_i and u_i,
then per unit eta_i1..eta_iT.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import TRUTH_PREFIX, Dgp
from .did_panel import AR1_RHO


def cohort_sizes(n_units: int, n_cohorts: int, never_share: float) -> tuple[int, list[int]]:
    """(never-treated count, units per cohort): the treated split evenly, earlier cohorts taking the rest."""
    n_never = round(never_share * n_units)
    base, extra = divmod(n_units - n_never, n_cohorts)
    return n_never, [base + (k < extra) for k in range(n_cohorts)]


def adoption_periods(p) -> list[int]:
    return [p["first_cohort"] + k * p["cohort_spacing"] for k in range(p["n_cohorts"])]


def effect(p, k: int, e: int) -> float:
    """tau of cohort k at event time e (see the module docstring)."""
    if e >= 0:
        return p["tau"] + p["tau_growth"] * e + p["tau_cohort_gap"] * k
    if e >= -p["anticipation"]:
        return p["tau"] + p["tau_cohort_gap"] * k
    return 0.0


def truths(p) -> dict[str, float]:
    """Every term's true value: att first, then the event times, dynamic and group."""
    t_max = p["n_periods"]
    _, sizes = cohort_sizes(p["n_units"], p["n_cohorts"], p["never_share"])
    starts = adoption_periods(p)
    cohorts = [(k, g, n) for k, (g, n) in enumerate(zip(starts, sizes, strict=True)) if n > 0]
    treated_cells = [(n, effect(p, k, t - g)) for k, g, n in cohorts for t in range(g, t_max + 1)]
    out = {"att": sum(n * v for n, v in treated_cells) / sum(n for n, _ in treated_cells)}
    event = {}
    for e in range(1 - max(g for _, g, _ in cohorts), t_max - min(g for _, g, _ in cohorts) + 1):
        seen = [(n, effect(p, k, e)) for k, g, n in cohorts if 1 <= g + e <= t_max]
        event[e] = sum(n * v for n, v in seen) / sum(n for n, _ in seen)
        out[f"e={e}"] = event[e]
    post = [v for e, v in event.items() if e >= 0]
    out["dynamic"] = sum(post) / len(post)
    n_treated = sum(n for _, _, n in cohorts)
    out["group"] = sum(
        n / n_treated * sum(effect(p, k, t - g) for t in range(g, t_max + 1)) / (t_max - g + 1) for k, g, n in cohorts
    )
    return out


@njit(cache=True)
def _draw(rng, selection, rho, trend_gap, cohort_of_rank, start_of_cohort, effects, y, cohort):
    """Fill y (R, G, T) and cohort (R, G); effects[k, t] is cohort k's tau in period t + 1."""
    n_reps, n_units, n_periods = y.shape
    innovation = math.sqrt(1.0 - rho * rho)
    lam = np.empty(n_periods)
    alpha = np.empty(n_units)
    score = np.empty(n_units)
    for r in range(n_reps):
        for t in range(n_periods):
            lam[t] = rng.standard_normal()
        for i in range(n_units):
            alpha[i] = rng.standard_normal()
            score[i] = selection * alpha[i] + rng.standard_normal()
        order = np.argsort(-score)  # rank 0: the highest score, the earliest cohort
        for rank in range(n_units):
            i = order[rank]
            k = cohort_of_rank[rank]
            g = start_of_cohort[k] if k >= 0 else 0
            cohort[r, i] = g
            eps = 0.0
            for t in range(n_periods):
                eps = rng.standard_normal() if t == 0 else rho * eps + innovation * rng.standard_normal()
                value = alpha[i] + lam[t] + eps
                if k >= 0:
                    value += effects[k, t] + trend_gap * (t + 1 - g)
                y[r, i, t] = value


def generate(rng, n_reps, p):
    g_units, t_periods = p["n_units"], p["n_periods"]
    n_never, sizes = cohort_sizes(g_units, p["n_cohorts"], p["never_share"])
    cohort_of_rank = np.array([k for k, n in enumerate(sizes) for _ in range(n)] + [-1] * n_never, dtype=np.int64)
    starts = np.array(adoption_periods(p), dtype=np.int64)
    effects = np.array([[effect(p, k, t + 1 - g) for t in range(t_periods)] for k, g in enumerate(starts)])
    y = np.empty((n_reps, g_units, t_periods))
    cohort = np.empty((n_reps, g_units))
    # Units are drawn in rank order (the order of their cohorts), so the draws
    # of unit i depend on its rank; the arrays are indexed by unit.
    _draw(rng, p["selection"], p["rho"], p["trend_gap"], cohort_of_rank, starts, effects, y, cohort)
    batch = {"panel_y": y, "cohort": cohort}
    for term, value in truths(p).items():
        batch["truth" if term == "att" else f"{TRUTH_PREFIX}{term}"] = np.full(n_reps, value)
    return batch


def check(p):
    problems = []
    last = p["first_cohort"] + (p["n_cohorts"] - 1) * p["cohort_spacing"]
    if last > p["n_periods"]:
        problems.append(
            (
                ("first_cohort", "cohort_spacing", "n_cohorts", "n_periods"),
                f"the last cohort adopts in period {last}, after the panel's last period {p['n_periods']}",
            )
        )
    n_never, sizes = cohort_sizes(p["n_units"], p["n_cohorts"], p["never_share"])
    if min(sizes) < 1:
        problems.append((("n_units", "n_cohorts", "never_share"), f"cohort sizes {sizes}: every cohort needs a unit"))
    if p["anticipation"] >= p["first_cohort"]:
        problems.append(
            (("anticipation", "first_cohort"), "anticipation reaches before the first period of the first cohort")
        )
    return problems


DGPS = (
    Dgp(
        name="did_staggered",
        summary="G × T panel, adoption cohorts (staggered), dynamic or cohort-specific effects, AR(1) errors",
        params=(
            Setting("n_units", 50, "number of units G", minimum=2),
            Setting("n_periods", 20, "number of periods T", minimum=3),
            Setting("n_cohorts", 3, "number of adoption cohorts", minimum=1),
            Setting("first_cohort", 6, "adoption period of the first cohort (1-indexed)", minimum=2),
            Setting("cohort_spacing", 4, "periods between two cohorts' adoptions", minimum=1),
            Setting("never_share", 0.25, "share of never-treated units", minimum=0.0, maximum=1.0, max_exclusive=True),
            Setting("tau", 1.0, "effect in the adoption period"),
            Setting("tau_growth", 0.0, "added effect per period since adoption (dynamic effects)"),
            Setting("tau_cohort_gap", 0.0, "added effect per later cohort (heterogeneous cohorts)"),
            Setting("anticipation", 0, "periods before adoption with the adoption-period effect", minimum=0),
            AR1_RHO,
            Setting("trend_gap", 0.0, "slope of the adopting units' differential linear trend (zero at adoption)"),
            Setting("selection", 0.0, "early adoption selected on the unit effect (0 = random)"),
        ),
        provides=("panel_y", "cohort"),
        generate=generate,
        check=check,
        estimand="att",
        examples=(
            {
                "n_units": 9,
                "n_periods": 8,
                "n_cohorts": 2,
                "first_cohort": 3,
                "cohort_spacing": 3,
                "rho": 0.5,
                "tau_growth": 0.3,
                "tau_cohort_gap": -0.5,
                "selection": 1.0,
            },
            {
                "n_units": 7,
                "n_periods": 6,
                "n_cohorts": 3,
                "first_cohort": 2,
                "cohort_spacing": 2,
                "never_share": 0.0,
                "anticipation": 1,
                "trend_gap": 0.2,
            },
            {"n_units": 12, "n_periods": 11, "n_cohorts": 2, "first_cohort": 5, "cohort_spacing": 3, "tau_growth": 0.2},
        ),
    ),
)
