"""Kang & Schafer (2007): doubly robust estimators when both models are wrong.

For units i = 1..n, independently (Kang & Schafer 2007, Section 1.4):

    Z_i = (Z_i1, …, Z_i4) ~ N(0, I₄)                     latent covariates
    Y_i(0) = 210 + 27.4 Z_i1 + 13.7 (Z_i2 + Z_i3 + Z_i4) + e_i,   e_i ~ N(0, 1)
    Y_i(1) = Y_i(0) + tau
    P(T_i = 1) = expit(−Z_i1 + 0.5 Z_i2 − 0.25 Z_i3 − 0.1 Z_i4)
    X_i1 = exp(Z_i1/2),  X_i2 = Z_i2/(1 + exp(Z_i1)) + 10,
    X_i3 = (Z_i1 Z_i3/25 + 0.6)³,  X_i4 = (Z_i2 + Z_i4 + 20)²   what the analyst sees

Kang & Schafer estimate the mean of Y observed only for respondents (T = 1);
here T is a treatment and the target the effect of T, which needs the same
missing-outcome means in both arms.  Models linear (logit) in Z are
correct; the same models in X are wrong, mildly for each model alone but
badly for doubly robust estimators when both are wrong: some units get huge
weights and a wrong outcome model does not absorb them.  The naive
comparison is biased by about −20 (treated units have low Z1).

Truths per replication: ate = att = tau (a constant effect).

Batch arrays: ``y``, ``x`` and ``treatment`` (R, n); ``controls`` (R, 4, n)
= X (the analyst's covariates); ``z1`` … ``z4`` and ``x1`` … ``x4``
(R, n) each, so estimators choose a model with ``adjust = ["z1", "z2",
"z3", "z4"]`` (correct) or the x's (incorrect), and ``outcome_adjust`` for
the outcome models.  Draw order per unit: Z_i1..Z_i4, the uniform for T_i, e_i.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp

LATENT = ("z1", "z2", "z3", "z4")
OBSERVED = ("x1", "x2", "x3", "x4")


@njit(cache=True)
def _draw(rng, tau, y, t, z, x):
    n_reps, _, n = z.shape
    for r in range(n_reps):
        for i in range(n):
            z1, z2, z3, z4 = rng.standard_normal(), rng.standard_normal(), rng.standard_normal(), rng.standard_normal()
            score = 1.0 / (1.0 + math.exp(-(-z1 + 0.5 * z2 - 0.25 * z3 - 0.1 * z4)))
            ti = 1.0 if rng.random() < score else 0.0
            y[r, i] = 210.0 + 27.4 * z1 + 13.7 * (z2 + z3 + z4) + rng.standard_normal() + tau * ti
            t[r, i] = ti
            z[r, 0, i], z[r, 1, i], z[r, 2, i], z[r, 3, i] = z1, z2, z3, z4
            x[r, 0, i] = math.exp(z1 / 2.0)
            x[r, 1, i] = z2 / (1.0 + math.exp(z1)) + 10.0
            x[r, 2, i] = (z1 * z3 / 25.0 + 0.6) ** 3
            x[r, 3, i] = (z2 + z4 + 20.0) ** 2


def generate(rng, n_reps, p):
    n = p["n"]
    y, t = np.empty((n_reps, n)), np.empty((n_reps, n))
    z, x = np.empty((n_reps, 4, n)), np.empty((n_reps, 4, n))
    _draw(rng, p["tau"], y, t, z, x)
    truth = np.full(n_reps, p["tau"])
    batch = {"y": y, "x": t, "treatment": t, "controls": x, "truth": truth, "truth:att": truth.copy()}
    batch |= {name: z[:, j] for j, name in enumerate(LATENT)} | {name: x[:, j] for j, name in enumerate(OBSERVED)}
    return batch


DGPS = (
    Dgp(
        name="kang_schafer",
        summary="Kang & Schafer (2007): latent Z, observed nonlinear transforms X; correct or incorrect models",
        params=(
            Setting("n", 1000, "number of units", minimum=10),
            Setting("tau", 0.0, "the constant treatment effect (the truth)"),
        ),
        provides=("y", "x", "treatment", "controls", *LATENT, *OBSERVED),
        generate=generate,
        examples=({"n": 200}, {"n": 40, "tau": 10.0}),
        estimand="ate",
    ),
)
