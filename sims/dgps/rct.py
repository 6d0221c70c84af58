"""Potential outcomes with randomised or self-selected treatment.

For units i = 1..n, independently:

    W_i, U_i ~ N(0, 1)
    Y0_i = mu0 + sd0 · (√r2 · W_i + √(1 − r2) · U_i)     untreated outcome
    Y1_i = Y0_i + tau                                      treated outcome
    logit P(T_i = 1) = logit(p_treat) + selection · (Y0_i − mu0) / sd0
    Y_i = T_i · Y1_i + (1 − T_i) · Y0_i                   observed outcome

Truth: tau, the average treatment effect (term ``ate``; the effect on the
treated, term ``att``, is the same constant).  With selection = 0 assignment is
randomised and every estimator here is unbiased; with selection > 0 units
with high untreated outcomes select into treatment and the comparison of
means is biased upward.  The covariate W explains a share r2 of Var(Y0);
controlling for it sharpens a randomised comparison and, under selection,
removes only the part of the bias that runs through W.

Batch arrays: ``y`` (R, n); ``x`` and ``treatment`` (R, n), the same 0/1
array; ``controls`` (R, 1, n) = W.  Draw order per unit: W, U, then a
uniform for T.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp


@njit(cache=True)
def _draw(rng, mu0, sd0, tau, logit_p, selection, r2, y, treatment, controls):
    n_reps, n = y.shape
    a = math.sqrt(r2)
    b = math.sqrt(1.0 - r2)
    for r in range(n_reps):
        for i in range(n):
            w = rng.standard_normal()
            std_y0 = a * w + b * rng.standard_normal()
            p = 1.0 / (1.0 + math.exp(-(logit_p + selection * std_y0)))
            t = 1.0 if rng.random() < p else 0.0
            controls[r, 0, i] = w
            treatment[r, i] = t
            y[r, i] = mu0 + sd0 * std_y0 + tau * t


def _logit(p: float) -> float:
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def generate(rng, n_reps, p):
    n = p["n"]
    y, t, w = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, 1, n))
    _draw(rng, p["mu0"], p["sd0"], p["tau"], _logit(p["p_treat"]), p["selection"], p["r2"], y, t, w)
    truth = np.full(n_reps, p["tau"])  # a constant effect: the ATE and the ATT
    return {"y": y, "x": t, "treatment": t, "controls": w, "truth": truth, "truth:att": truth.copy()}


DGPS = (
    Dgp(
        name="rct",
        summary="potential outcomes; randomised (selection = 0) or self-selected treatment",
        params=(
            Setting("n", 1000, "number of units", minimum=4),
            Setting("mu0", 50.0, "mean untreated outcome"),
            Setting("sd0", 10.0, "sd of the untreated outcome", minimum=0.0, min_exclusive=True),
            Setting("tau", 4.0, "treatment effect, the same for every unit (the truth)"),
            Setting("p_treat", 0.5, "treatment probability of a unit with an average Y0", minimum=0.0, maximum=1.0),
            Setting("selection", 0.0, "selection on the standardised Y0 (0 = randomised)"),
            Setting("r2", 0.5, "share of Var(Y0) explained by the covariate W", minimum=0.0, maximum=1.0),
        ),
        provides=("y", "x", "treatment", "controls"),
        generate=generate,
        examples=({"n": 40, "selection": 1.0}, {"n": 12, "p_treat": 0.2}),
        estimand="ate",
    ),
)
