"""The interactive regression design of DoubleML's ``make_irm_data`` (after Belloni et al. 2017's supplement).

For units i = 1..n, independently (DoubleML 0.11's
``make_irm_data(n_obs, dim_x, theta, R2_d, R2_y)``):

    v_i ~ U(0, 1),  ζ_i ~ N(0, 1),  x_i ~ N(0, Σ),  Σ_jk = 0.5^|j−k|
    β_j = 1/j²  (j = 1..p),   c_y = √(R²_y/((1 − R²_y)·β'Σβ)),
    c_d = √((π²/3)·R²_d/((1 − R²_d)·β'Σβ))
    d_i = 1[expit(c_d x_i'β) > v_i]
    y_i = θ d_i + c_y d_i x_i'β + ζ_i

so the effect of d is θ + c_y x'β: the ATE is θ (E x = 0) and the ATT is
θ + c_y E[s · expit(c_d s)] / E[expit(c_d s)] with s = x'β ~ N(0, β'Σβ) and
E[expit(c_d s)] = 1/2 (symmetry), computed by Gauss–Hermite quadrature
(200 nodes).  Truths: ``ate`` (the estimand) and ``att``, both population
values, the same in every replication.

Batch arrays: ``y`` and ``treatment`` (d) (R, n),
``controls`` (R, p, n).  Draw order per unit: v, ζ, then the p normals of x
(x = L·z, L the Cholesky factor of Σ).  DoubleML draws each block for all
units at once from numpy's legacy generator; the tests compare moments.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.linalg import toeplitz

from causalmc.estimators.spec import Setting

from . import Dgp
from .plr import R2, correlated_normals, toeplitz_cholesky

QUADRATURE_NODES = 200


def coefficients(dim_x: int, r2_d: float, r2_y: float) -> tuple[np.ndarray, float, float, float]:
    """(β, c_d, c_y, β'Σβ) of the module docstring."""
    beta = 1.0 / np.arange(1, dim_x + 1) ** 2
    b_sigma_b = float(beta @ toeplitz(0.5 ** np.arange(dim_x)) @ beta)
    c_y = math.sqrt(r2_y / ((1.0 - r2_y) * b_sigma_b))
    c_d = math.sqrt(math.pi**2 / 3.0 * r2_d / ((1.0 - r2_d) * b_sigma_b))
    return beta, c_d, c_y, b_sigma_b


def att(theta: float, dim_x: int, r2_d: float, r2_y: float) -> float:
    """θ + c_y·2·E[s expit(c_d s)], s ~ N(0, β'Σβ), by Gauss–Hermite quadrature."""
    _, c_d, c_y, b_sigma_b = coefficients(dim_x, r2_d, r2_y)
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)  # weight exp(-u²/2)
    s = math.sqrt(b_sigma_b) * nodes
    mean = np.sum(weights * s / (1.0 + np.exp(-c_d * s))) / math.sqrt(2.0 * math.pi)
    return theta + c_y * 2.0 * mean


@njit(cache=True)
def _draw(rng, chol, beta, theta, c_d, c_y, y, d, x):
    n_reps, p, n = x.shape
    z = np.empty(p)
    for r in range(n_reps):
        for i in range(n):
            v = rng.random()
            zeta = rng.standard_normal()
            correlated_normals(rng, chol, z, x, r, i)
            index = 0.0
            for j in range(p):
                index += beta[j] * x[r, j, i]
            treated = 1.0 if 1.0 / (1.0 + math.exp(-c_d * index)) > v else 0.0
            d[r, i] = treated
            y[r, i] = theta * treated + c_y * treated * index + zeta


def generate(rng, n_reps, p):
    n, dim = p["n"], p["dim_x"]
    y, d, x = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, dim, n))
    beta, c_d, c_y, _ = coefficients(dim, p["R2_d"], p["R2_y"])
    _draw(rng, toeplitz_cholesky(0.5, dim), beta, p["theta"], c_d, c_y, y, d, x)
    truth = np.full(n_reps, p["theta"])
    return {"y": y, "treatment": d, "controls": x, "truth": truth,
            "truth:att": np.full(n_reps, att(p["theta"], dim, p["R2_d"], p["R2_y"]))}


DGPS = (
    Dgp(
        name="irm_dml",
        summary="interactive regression design of DoubleML's make_irm_data: binary d, effect θ + c_y·x'β",
        params=(
            Setting("n", 500, "number of units (DoubleML's n_obs)", minimum=10),
            Setting("dim_x", 20, "number of covariates, Toeplitz correlation 0.5^|j-k|", minimum=1),
            Setting("theta", 0.0, "the average treatment effect (the truth)"),
            Setting("R2_d", 0.5, "R² of the treatment equation's index (DoubleML's R2_d)", **R2),
            Setting("R2_y", 0.5, "R² of the outcome's covariate part (DoubleML's R2_y)", **R2),
        ),
        provides=("y", "treatment", "controls"),
        generate=generate,
        examples=({"n": 200, "dim_x": 5}, {"n": 80, "dim_x": 3, "theta": 0.5, "R2_d": 0.2}),
        estimand="ate",
    ),
)
