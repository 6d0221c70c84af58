"""Selection on observables with tunable overlap and effects that vary with a covariate.

For units i = 1..n, independently:

    X_ij ~ N(0, 1), j = 1..p                                   covariates (all observed)
    logit P(T_i = 1) = alpha + gamma · X_i1                     the propensity score
    Y_i(0) = X_i1 + 0.5 · Σ_{j>1} X_ij + nonlinear · X_i1² + sigma · e_i,   e_i ~ N(0, 1)
    Y_i(1) = Y_i(0) + tau + tau_het · X_i1                      unit-level effect τ(X_i1)
    Y_i = Y_i(T_i)

X1 drives both treatment and outcome (the confounder).  ``gamma`` sets the
overlap: the scores spread towards 0 and 1 as it grows, so inverse
probability weights explode (Khan & Tamer 2010: with gamma large the ATE is
irregularly identified).  With ``tau_het`` ≠ 0 the effect varies with X1; OLS
of Y on T and X then estimates Σ ω(x)τ(x) with ω ∝ π(x)(1 − π(x)) (Angrist
1998), not the ATE, unless the scores are symmetric around the mean of X1
(alpha = 0).  ``nonlinear`` ≠ 0 makes a linear outcome model wrong (the
propensity model stays right).

Truths per replication, with the same noise under both treatments:
    ate = mean over units of Y_i(1) − Y_i(0) = tau + tau_het · mean_i X_i1
    att = the same mean over the units with T_i = 1 (term ``att``; NaN without any)

Batch arrays: ``y``, ``x`` and ``treatment`` (R, n) (x is the 0/1 treatment
as for ``ols``), ``controls`` (R, p, n).  Draw order per unit: X_i1..X_ip,
the uniform for T_i, e_i.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp


@njit(cache=True)
def _draw(rng, alpha, gamma, tau, tau_het, nonlinear, sigma, y, t, controls, ate, att):
    n_reps, p, n = controls.shape
    for r in range(n_reps):
        effect_all = effect_treated = treated = 0.0
        for i in range(n):
            for j in range(p):
                controls[r, j, i] = rng.standard_normal()
            x1 = controls[r, 0, i]
            score = 1.0 / (1.0 + math.exp(-(alpha + gamma * x1)))
            ti = 1.0 if rng.random() < score else 0.0
            y0 = x1 + nonlinear * x1 * x1 + sigma * rng.standard_normal()
            for j in range(1, p):
                y0 += 0.5 * controls[r, j, i]
            effect = tau + tau_het * x1
            t[r, i] = ti
            y[r, i] = y0 + ti * effect
            effect_all += effect
            effect_treated += ti * effect
            treated += ti
        ate[r] = effect_all / n
        att[r] = effect_treated / treated if treated > 0 else math.nan


def generate(rng, n_reps, p):
    n, k = p["n"], p["p"]
    y, t, controls = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, k, n))
    ate, att = np.empty(n_reps), np.empty(n_reps)
    _draw(rng, p["alpha"], p["gamma"], p["tau"], p["tau_het"], p["nonlinear"], p["sigma"], y, t, controls, ate, att)
    return {"y": y, "x": t, "treatment": t, "controls": controls, "truth": ate, "truth:att": att}


DGPS = (
    Dgp(
        name="observables",
        summary="selection on observables: logit score in X1 with overlap gamma, effects varying with X1",
        params=(
            Setting("n", 1000, "number of units", minimum=4),
            Setting("p", 3, "number of covariates (X1 confounds; the others only predict Y)", minimum=1),
            Setting(
                "alpha", 0.0, "intercept of the logit score (≠ 0: treatment rarer or commoner, asymmetric weights)"
            ),
            Setting("gamma", 1.0, "slope of the logit score on X1: larger means less overlap", minimum=0.0),
            Setting("tau", 1.0, "effect at X1 = 0"),
            Setting("tau_het", 0.0, "slope of the effect in X1 (heterogeneous effects)"),
            Setting("nonlinear", 0.0, "coefficient of X1² in Y(0): a linear outcome model is then wrong"),
            Setting("sigma", 1.0, "sd of the outcome noise", minimum=0.0, min_exclusive=True),
        ),
        provides=("y", "x", "treatment", "controls"),
        generate=generate,
        examples=({"n": 60, "p": 2, "tau_het": 1.0, "alpha": -0.5}, {"n": 200, "gamma": 2.0, "nonlinear": 0.5}),
        estimand="ate",
    ),
)
