"""Lunceford & Davidian (2004): confounders X, outcome predictors V, three strengths each.

For units i = 1..n, independently (Lunceford & Davidian 2004, Statistics in
Medicine 23:2937–2960, Section 5; every value below also agrees with an
independent public R implementation of the design):

    X3 ~ Bernoulli(x3_prob)                              (0.2 in the paper)
    V3 | X3 ~ Bernoulli(0.75·X3 + 0.25·(1 − X3))
    (X1, V1, X2, V2)' | X3 ~ N(τ_X3, Σ),  τ₁ = (1, 1, −1, −1)',  τ₀ = −τ₁,
        Σ = [[1, .5, −.5, −.5], [.5, 1, −.5, −.5], [−.5, −.5, 1, .5], [−.5, −.5, .5, 1]]
    logit P(T = 1 | X) = β₀ + β₁X1 + β₂X2 + β₃X3
    Y = ν₀ + ν₁X1 + ν₂X2 + ν₃X3 + ν₄T + ξ₁V1 + ξ₂V2 + ξ₃V3 + e,   e ~ N(0, 1)

with ν = (0, −1, 1, −1, 2) and, by ``confounding`` (the X's association with
the treatment) and ``outcome_association`` (the V's with the outcome):

    β = (0, 0.6, −0.6, 0.6) strong, (0, 0.3, −0.3, 0.3) moderate, 0 none
    ξ = (−1, 1, 1) strong, (−0.5, 0.5, 0.5) moderate, 0 none

X confounds; V predicts the outcome and is correlated with X but not with
the treatment given X, so a propensity model in X is right, an outcome
model needs X and V, and adding V to the score only adds variance.  Truths:
ate = att = ν₄ = 2 (a constant effect).

Batch arrays: ``y``, ``x`` and ``treatment`` (R, n); ``controls`` (R, 6, n)
= (X1, X2, X3, V1, V2, V3); the same as ``x1``, ``x2``, ``x3``, ``v1``,
``v2``, ``v3`` (R, n) each, for ``adjust``.  Draw order per unit: the
uniforms for X3 and V3, four normals for (X1, V1, X2, V2), the uniform for
T, e.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp

STRENGTHS = ("none", "moderate", "strong")
BETA = {"none": (0.0, 0.0, 0.0, 0.0), "moderate": (0.0, 0.3, -0.3, 0.3), "strong": (0.0, 0.6, -0.6, 0.6)}
XI = {"none": (0.0, 0.0, 0.0), "moderate": (-0.5, 0.5, 0.5), "strong": (-1.0, 1.0, 1.0)}
NU = (0.0, -1.0, 1.0, -1.0, 2.0)
SIGMA = np.array([[1, 0.5, -0.5, -0.5], [0.5, 1, -0.5, -0.5], [-0.5, -0.5, 1, 0.5], [-0.5, -0.5, 0.5, 1.0]])
TAU1 = np.array([1.0, 1.0, -1.0, -1.0])  # the mean of (X1, V1, X2, V2) given X3 = 1; −TAU1 given X3 = 0
NAMES = ("x1", "x2", "x3", "v1", "v2", "v3")


@njit(cache=True)
def _draw(rng, x3_prob, chol, tau1, beta, xi, nu, y, t, controls):
    n_reps, _, n = controls.shape
    z = np.empty(4)
    for r in range(n_reps):
        for i in range(n):
            x3 = 1.0 if rng.random() < x3_prob else 0.0
            v3 = 1.0 if rng.random() < 0.25 + 0.5 * x3 else 0.0
            for j in range(4):
                z[j] = rng.standard_normal()
            sign = 1.0 if x3 == 1.0 else -1.0
            x1 = sign * tau1[0] + chol[0, 0] * z[0]
            v1 = sign * tau1[1] + chol[1, 0] * z[0] + chol[1, 1] * z[1]
            x2 = sign * tau1[2] + chol[2, 0] * z[0] + chol[2, 1] * z[1] + chol[2, 2] * z[2]
            v2 = sign * tau1[3] + chol[3, 0] * z[0] + chol[3, 1] * z[1] + chol[3, 2] * z[2] + chol[3, 3] * z[3]
            score = 1.0 / (1.0 + math.exp(-(beta[0] + beta[1] * x1 + beta[2] * x2 + beta[3] * x3)))
            ti = 1.0 if rng.random() < score else 0.0
            mean = nu[0] + nu[1] * x1 + nu[2] * x2 + nu[3] * x3 + nu[4] * ti + xi[0] * v1 + xi[1] * v2 + xi[2] * v3
            y[r, i] = mean + rng.standard_normal()
            t[r, i] = ti
            controls[r, 0, i], controls[r, 1, i], controls[r, 2, i] = x1, x2, x3
            controls[r, 3, i], controls[r, 4, i], controls[r, 5, i] = v1, v2, v3


def generate(rng, n_reps, p):
    n = p["n"]
    y, t, controls = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, 6, n))
    beta, xi = np.array(BETA[p["confounding"]]), np.array(XI[p["outcome_association"]])
    _draw(rng, p["x3_prob"], np.linalg.cholesky(SIGMA), TAU1, beta, xi, np.array(NU), y, t, controls)
    truth = np.full(n_reps, NU[4])
    batch = {"y": y, "x": t, "treatment": t, "controls": controls, "truth": truth, "truth:att": truth.copy()}
    return batch | {name: controls[:, j] for j, name in enumerate(NAMES)}


DGPS = (
    Dgp(
        name="lunceford_davidian",
        summary="Lunceford & Davidian (2004): confounders X and outcome predictors V, strong/moderate/no association",
        params=(
            Setting("n", 1000, "number of units", minimum=10),
            Setting("confounding", "strong", "association of X with the treatment (β)", choices=STRENGTHS),
            Setting("outcome_association", "strong", "association of V with the outcome (ξ)", choices=STRENGTHS),
            Setting("x3_prob", 0.2, "P(X3 = 1)", minimum=0.0, maximum=1.0, min_exclusive=True, max_exclusive=True),
        ),
        provides=("y", "x", "treatment", "controls", *NAMES),
        generate=generate,
        examples=({"n": 200}, {"n": 60, "confounding": "none", "outcome_association": "moderate"}),
        estimand="ate",
    ),
)
