"""Simpson's paradox, calibrated to the kidney-stone study (Charig et al. 1986).

Charig et al. compared open surgery (A) with percutaneous nephrolithotomy
(B); Julious & Mullee (1994) tabulated the successes by stone size:

    stone size   A (treated)        B (control)
    small         81/87  (93.1 %)   234/270 (86.7 %)
    large        192/263 (73.0 %)    55/80  (68.8 %)
    all          273/350 (78.0 %)   289/350 (82.6 %)

A is better for both sizes and worse overall: large stones, which fail
more often, were mostly treated with A.  For units i = 1..n, independently:

    S_i = 1 (large) with probability 343/700
    T_i = 1 (A) with probability 87/357 (small) or 263/343 (large)
    U_i ~ U(0, 1);  Y_i(a) = 1[U_i < p(a, S_i)],  p the success rates above
    Y_i = Y_i(T_i)

The potential outcomes share U_i (a unit that succeeds under the worse
treatment succeeds under the better one).  Truths per replication:
ate = mean_i Y_i(1) − Y_i(0), whose expectation is Σ_s P(s)·(p(A, s) −
p(B, s)) = 0.0537; att = the same over the units treated with A (0.0480 in
expectation).  The naive difference in means converges to −0.0457.

Batch arrays: ``y``, ``x`` and ``treatment`` (R, n); ``controls``
(R, 1, n) = S; ``stone_size`` (R, n) = S.  Draw order per unit: the
uniform for S, for T, then U.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp

# Julious & Mullee (1994), Table 1: (successes, patients) by [size][treatment], size 0 small, treatment 1 = A.
COUNTS = np.array([[[234, 270], [81, 87]], [[55, 80], [192, 263]]], dtype=np.float64)
P_LARGE = COUNTS[1, :, 1].sum() / COUNTS[:, :, 1].sum()
P_TREATED = COUNTS[:, 1, 1] / COUNTS[:, :, 1].sum(axis=1)  # P(A | size)
SUCCESS = COUNTS[:, :, 0] / COUNTS[:, :, 1]  # [size, treatment]
EXPECTED_ATE = float((COUNTS[:, :, 1].sum(axis=1) / COUNTS[:, :, 1].sum()) @ (SUCCESS[:, 1] - SUCCESS[:, 0]))


@njit(cache=True)
def _draw(rng, p_large, p_treated, success, y, t, size, ate, att):
    n_reps, n = y.shape
    for r in range(n_reps):
        effect_all = effect_treated = treated = 0.0
        for i in range(n):
            s = 1 if rng.random() < p_large else 0
            ti = 1 if rng.random() < p_treated[s] else 0
            u = rng.random()
            y1 = 1.0 if u < success[s, 1] else 0.0
            y0 = 1.0 if u < success[s, 0] else 0.0
            size[r, i] = s
            t[r, i] = ti
            y[r, i] = y1 if ti else y0
            effect_all += y1 - y0
            effect_treated += ti * (y1 - y0)
            treated += ti
        ate[r] = effect_all / n
        att[r] = effect_treated / treated if treated > 0 else np.nan


def generate(rng, n_reps, p):
    n = p["n"]
    y, t, size = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, n))
    ate, att = np.empty(n_reps), np.empty(n_reps)
    _draw(rng, P_LARGE, P_TREATED, SUCCESS, y, t, size, ate, att)
    return {
        "y": y,
        "x": t,
        "treatment": t,
        "controls": size[:, None, :].copy(),
        "stone_size": size,
        "truth": ate,
        "truth:att": att,
    }


DGPS = (
    Dgp(
        name="kidney_stones",
        summary="Simpson's paradox: treatment A better for small and large stones, worse overall (Charig et al. 1986)",
        params=(Setting("n", 700, "number of patients (the study had 700)", minimum=4),),
        provides=("y", "x", "treatment", "controls", "stone_size"),
        generate=generate,
        examples=({"n": 700}, {"n": 30}),
        estimand="ate",
    ),
)
