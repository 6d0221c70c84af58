"""Omitted common cause (the confounding example).

For units i = 1..n, independently:

    Z_i ~ N(0, 1)                                  the confounder
    X_i = gamma_x · Z_i + e1_i                     the treatment
    Y_i = beta · X_i + gamma_y · Z_i + s_i · e2_i  the outcome
    e1_i, e2_i ~ N(0, 1),   s_i = 1 + hetero · |X_i|

Truth: beta.  The short regression of Y on X converges to
beta + gamma_x · gamma_y / (gamma_x² + 1) (0.5 at the defaults); adding Z
closes the backdoor path X ← Z → Y.  With hetero > 0 the outcome error
grows with |X|, so classical standard errors are wrong and HC1 matters.

Batch arrays: ``y`` (R, n), ``x`` (R, n), ``controls`` (R, 1, n) = Z.

Sufficient sampler (``sampler = "sufficient"``, exact when hetero = 0):
(X, Z, Y) are then jointly normal with mean 0, w = Mε, ε ~ N(0, I₃),

    M = [[gamma_x, 1, 0], [1, 0, 0], [beta·gamma_x + gamma_y, beta, 1]]

(rows X, Z, Y), so the batch holds exact draws of the mean and the centred
scatter of [X, Z, Y] (`sims.dgps.gaussian`) for any n, at a cost free of n.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp
from .gaussian import sufficient_batch


@njit(cache=True)
def _draw(rng, beta, gamma_x, gamma_y, hetero, y, x, controls):
    n_reps, n = y.shape
    for r in range(n_reps):
        for i in range(n):
            z = rng.standard_normal()
            xi = gamma_x * z + rng.standard_normal()
            e2 = rng.standard_normal() * (1.0 + hetero * abs(xi))
            x[r, i] = xi
            controls[r, 0, i] = z
            y[r, i] = beta * xi + gamma_y * z + e2


def generate(rng, n_reps, p):
    n = p["n"]
    batch = {"y": np.empty((n_reps, n)), "x": np.empty((n_reps, n)), "controls": np.empty((n_reps, 1, n))}
    _draw(rng, p["beta"], p["gamma_x"], p["gamma_y"], p["hetero"], batch["y"], batch["x"], batch["controls"])
    batch["truth"] = np.full(n_reps, p["beta"])
    return batch


def _sufficient(rng, n_reps, p):
    b, gx, gy = p["beta"], p["gamma_x"], p["gamma_y"]
    m = np.array([[gx, 1.0, 0.0], [1.0, 0.0, 0.0], [b * gx + gy, b, 1.0]])
    batch = sufficient_batch(rng, n_reps, np.linalg.cholesky(m @ m.T), np.zeros(3), p["n"])
    batch["truth"] = np.full(n_reps, p["beta"])
    return batch


def _sufficient_inexact(p) -> str | None:
    if p["hetero"] != 0:
        return f"hetero = {p['hetero']:g} makes the errors non-normal given X (only hetero = 0 is jointly Gaussian)"
    return None


DGPS = (
    Dgp(
        name="confounding",
        summary="Z confounds X → Y; OLS without Z is biased by gamma_x·gamma_y/(gamma_x²+1)",
        params=(
            Setting("n", 1000, "number of units", minimum=4),
            Setting("beta", 0.0, "true effect of X on Y (the truth)"),
            Setting("gamma_x", 1.0, "effect of the confounder Z on X"),
            Setting("gamma_y", 1.0, "effect of the confounder Z on Y"),
            Setting("hetero", 0.0, "outcome error sd is 1 + hetero·|X| (heteroskedasticity)", minimum=0.0),
        ),
        provides=("y", "x", "controls"),
        generate=generate,
        examples=({"n": 40, "hetero": 0.5}, {"n": 5}),
        sufficient=_sufficient,
        sufficient_inexact=_sufficient_inexact,
    ),
)
