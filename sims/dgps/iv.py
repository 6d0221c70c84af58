"""Instrumental variables with a confounded treatment (weak or strong instruments).

For units i = 1..n, independently:

    Z_i ~ N(0, I_K)                                   K instruments
    U_i, v_i, e_i ~ N(0, 1)                           U the unobserved confounder
    s_i = 1 + hetero · |Z_i1|                         error scale
    X_i = pi · (Z_i1 + … + Z_iK) + s_i · (U_i + v_i)    first stage
    Y_i = beta · X_i + s_i · (gamma · U_i + e_i)       outcome

Truth: beta.  U drives both X and Y, so OLS of Y on X converges to
beta + gamma / (K·pi² + 2) (homoskedastic case); Z moves X only, so 2SLS is
consistent.  The strength is given either as ``pi`` or as
``mu2_per_instrument``, the concentration parameter per instrument
μ²/K = n·pi²/2 (the first-stage error U + v has variance 2), from which
pi = √(2 · mu2_per_instrument / n); the expected first-stage F is then about
1 + μ²/K.  Exactly one of the two must be set.  With hetero > 0 both errors
scale with |Z_1|, so robust standard errors and the robust first-stage F
matter (and the μ² scale refers to the homoskedastic design).

Batch arrays: ``y`` (R, n), ``x`` (R, n), ``z`` (R, K, n).  Draw order per
unit: Z_1..Z_K, U, v, e.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp


@njit(cache=True)
def _draw(rng, beta, gamma, pi, hetero, y, x, z):
    n_reps, k, n = z.shape
    for r in range(n_reps):
        xr, yr, zr = x[r], y[r], z[r]
        for i in range(n):
            z1 = rng.standard_normal()
            zr[0, i] = z1
            zsum = z1
            for j in range(1, k):
                zj = rng.standard_normal()
                zr[j, i] = zj
                zsum += zj
            u = rng.standard_normal()
            v = rng.standard_normal()
            e = rng.standard_normal()
            s = 1.0 + hetero * abs(z1)
            xi = pi * zsum + s * (u + v)
            xr[i] = xi
            yr[i] = beta * xi + s * (gamma * u + e)


def first_stage_coefficient(p) -> float:
    """pi, given directly or through the concentration parameter per instrument."""
    if p["pi"] is not None:
        return p["pi"]
    return math.sqrt(2.0 * p["mu2_per_instrument"] / p["n"])


def generate(rng, n_reps, p):
    n, k = p["n"], p["k_instruments"]
    y, x, z = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, k, n))
    _draw(rng, p["beta"], p["gamma"], first_stage_coefficient(p), p["hetero"], y, x, z)
    return {"y": y, "x": x, "z": z, "truth": np.full(n_reps, p["beta"])}


def check(p):
    problems = []
    if (p["pi"] is None) == (p["mu2_per_instrument"] is None):
        problems.append((("pi", "mu2_per_instrument"), "set exactly one of pi and mu2_per_instrument"))
    if p["n"] < p["k_instruments"] + 3:
        problems.append(
            (
                ("n", "k_instruments"),
                f"n = {p['n']} is too small for {p['k_instruments']} instruments; allowed: n ≥ k_instruments + 3",
            )
        )
    return problems


DGPS = (
    Dgp(
        name="iv",
        summary="confounded X with K instruments of chosen strength (weak-IV designs)",
        params=(
            Setting("n", 1000, "number of units", minimum=4),
            Setting("k_instruments", 1, "number of instruments K", minimum=1, maximum=100),
            Setting("beta", 2.0, "true effect of X on Y (the truth)"),
            Setting("gamma", 3.0, "effect of the unobserved confounder U on Y"),
            Setting("pi", None, "first-stage coefficient on each instrument (or set mu2_per_instrument)", kind=float),
            Setting(
                "mu2_per_instrument",
                None,
                "concentration parameter per instrument, n·pi²/2 (or set pi)",
                kind=float,
                minimum=0.0,
            ),
            Setting("hetero", 0.0, "error scale is 1 + hetero·|Z_1| in both equations", minimum=0.0),
        ),
        provides=("y", "x", "z"),
        generate=generate,
        check=check,
        examples=(
            {"n": 60, "k_instruments": 2, "pi": 0.3, "hetero": 0.5},
            {"n": 40, "k_instruments": 1, "mu2_per_instrument": 2.0},
        ),
    ),
)
