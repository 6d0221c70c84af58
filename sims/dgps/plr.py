"""Partially linear designs for double machine learning: Chernozhukov et al. (2018)'s and a sparse one.

``plr_ccddhnr`` — DoubleML's ``make_plr_CCDDHNR2018(n_obs, dim_x, alpha)``
(Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins 2018,
Section 6.1).  For units i = 1..n, independently:

    x_i ~ N(0, Σ),  Σ_jk = 0.7^|j−k|  (p = dim_x covariates)
    d_i = a₀ x_i1 + a₁ expit(x_i3) + s₁ v_i,         v_i ~ N(0, 1)
    y_i = α d_i + b₀ expit(x_i1) + b₁ x_i3 + s₂ ζ_i,   ζ_i ~ N(0, 1)

with expit(u) = eᵘ/(1 + eᵘ) and DoubleML's defaults a₀ = 1, a₁ = 0.25,
s₁ = 1, b₀ = 1, b₁ = 0.25, s₂ = 1.  Truth: α.

``plr_sparse`` — sparse high-dimensional confounding (in the spirit of
Belloni, Chernozhukov & Hansen 2014): p covariates of which the first s
confound,

    x_i ~ N(0, Σ),  Σ_jk = ρ^|j−k|,   b_j = 1/j for j ≤ s, 0 beyond
    d_i = c_d x_i'b + v_i,   y_i = θ d_i + c_y x_i'b + ζ_i,   v, ζ ~ N(0, 1)

with c_d and c_y set so that the covariates explain the share R²_d of d's
variance and R²_y of the variance of y − θd: c = √(R²/((1 − R²)·b'Σb)).
Truth: θ.

``pliv_sparse`` — the same covariates with one instrument and an
endogenous treatment (partially linear IV, DoubleML's PLIV):

    z_i = c_z x_i'b + w_i,   d_i = γ z_i + c_d x_i'b + v_i,   y_i = θ d_i + c_y x_i'b + ζ_i
    w ~ N(0, 1),  (v, ζ) ~ N(0, [[1, ρ_e], [ρ_e, 1]])  (ρ_e = ``endogeneity``)

with c_z, c_d, c_y as above for R²_z = R²_d = R²_y = ``R2``.  Truth: θ.

Batch arrays: ``y`` and ``d`` (R, n) (``d`` continuous: the binary-treatment
estimators' ``treatment`` is not provided), ``controls`` (R, p, n);
``pliv_sparse`` also ``z`` (R, 1, n).  Draw order
per unit: the p normals of x (then x = L·z with L the Cholesky factor of
Σ), v, ζ; ``pliv_sparse``: the p normals, w, v, then ζ's own normal
(ζ = ρ_e v + √(1 − ρ_e²)·e).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.linalg import toeplitz

from causalmc.estimators.spec import Setting

from . import Dgp

CCDDHNR_DEFAULTS = {"a_0": 1.0, "a_1": 0.25, "s_1": 1.0, "b_0": 1.0, "b_1": 0.25, "s_2": 1.0}


def toeplitz_cholesky(rho: float, p: int) -> np.ndarray:
    """The lower Cholesky factor of Σ_jk = ρ^|j−k|, shape (p, p)."""
    return np.linalg.cholesky(toeplitz(rho ** np.arange(p)))


@njit(cache=True)
def correlated_normals(rng, chol, z, x_out, r, i):
    """x_out[r, :, i] = L·z with z a fresh vector of standard normals (len p, overwritten)."""
    p = z.shape[0]
    for j in range(p):
        z[j] = rng.standard_normal()
    for j in range(p):
        acc = 0.0
        for k in range(j + 1):
            acc += chol[j, k] * z[k]
        x_out[r, j, i] = acc


@njit(cache=True)
def _expit(u):
    return 1.0 / (1.0 + math.exp(-u))


@njit(cache=True)
def _draw_ccddhnr(rng, chol, alpha, a0, a1, s1, b0, b1, s2, y, d, x):
    n_reps, p, n = x.shape
    z = np.empty(p)
    for r in range(n_reps):
        for i in range(n):
            correlated_normals(rng, chol, z, x, r, i)
            x1, x3 = x[r, 0, i], x[r, 2, i]
            d[r, i] = a0 * x1 + a1 * _expit(x3) + s1 * rng.standard_normal()
            y[r, i] = alpha * d[r, i] + b0 * _expit(x1) + b1 * x3 + s2 * rng.standard_normal()


@njit(cache=True)
def _draw_sparse(rng, chol, theta, coef_d, coef_y, y, d, x):
    n_reps, p, n = x.shape
    z = np.empty(p)
    for r in range(n_reps):
        for i in range(n):
            correlated_normals(rng, chol, z, x, r, i)
            index = 0.0
            for j in range(coef_d.shape[0]):
                index += coef_d[j] * x[r, j, i]
            index_y = index / coef_d[0] * coef_y[0] if coef_d[0] != 0.0 else 0.0
            d[r, i] = index + rng.standard_normal()
            y[r, i] = theta * d[r, i] + index_y + rng.standard_normal()


@njit(cache=True)
def _draw_pliv(rng, chol, theta, gamma, rho_e, coef, scales, y, d, z, x):
    n_reps, p, n = x.shape
    normals = np.empty(p)
    for r in range(n_reps):
        for i in range(n):
            correlated_normals(rng, chol, normals, x, r, i)
            index = 0.0
            for j in range(coef.shape[0]):
                index += coef[j] * x[r, j, i]
            w = rng.standard_normal()
            v = rng.standard_normal()
            zeta = rho_e * v + math.sqrt(1.0 - rho_e * rho_e) * rng.standard_normal()
            z[r, 0, i] = scales[0] * index + w
            d[r, i] = gamma * z[r, 0, i] + scales[1] * index + v
            y[r, i] = theta * d[r, i] + scales[2] * index + zeta


def generate_pliv(rng, n_reps, p):
    n, dim, s = p["n"], p["p"], p["s"]
    y, d, x, z = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, dim, n)), np.empty((n_reps, 1, n))
    coef = sparse_coefficients(dim, s, p["rho"], p["R2"])
    scales = np.ones(3)  # c_z = c_d = c_y: one R² for the three equations
    _draw_pliv(rng, toeplitz_cholesky(p["rho"], dim), p["theta"], p["gamma"], p["endogeneity"], coef, scales,
               y, d, z, x)
    return _batch(y, d, x, np.full(n_reps, p["theta"])) | {"z": z}


def _batch(y, d, x, truth):
    return {"y": y, "d": d, "controls": x, "truth": truth}


def generate_ccddhnr(rng, n_reps, p):
    n, dim = p["n"], p["dim_x"]
    y, d, x = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, dim, n))
    c = [p[k] for k in CCDDHNR_DEFAULTS]
    _draw_ccddhnr(rng, toeplitz_cholesky(0.7, dim), p["alpha"], *c, y, d, x)
    return _batch(y, d, x, np.full(n_reps, p["alpha"]))


def sparse_coefficients(p: int, s: int, rho: float, r2: float) -> np.ndarray:
    """c·b of `plr_sparse` (module docstring), shape (s,): b_j = 1/j scaled to explain the share r2."""
    b = 1.0 / np.arange(1, s + 1)
    sigma = toeplitz(rho ** np.arange(p))[:s, :s]
    return b * math.sqrt(r2 / ((1.0 - r2) * (b @ sigma @ b)))


def generate_sparse(rng, n_reps, p):
    n, dim, s = p["n"], p["p"], p["s"]
    y, d, x = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, dim, n))
    coef_d = sparse_coefficients(dim, s, p["rho"], p["R2_d"])
    coef_y = sparse_coefficients(dim, s, p["rho"], p["R2_y"])
    _draw_sparse(rng, toeplitz_cholesky(p["rho"], dim), p["theta"], coef_d, coef_y, y, d, x)
    return _batch(y, d, x, np.full(n_reps, p["theta"]))


def _check_sparse(p):
    return [(("s", "p"), f"s = {p['s']} non-zero coefficients need p ≥ s (p = {p['p']})")] if p["s"] > p["p"] else []


def _check_ccddhnr(p):
    return [(("dim_x",), "dim_x must be at least 3 (the design reads x₁ and x₃)")] if p["dim_x"] < 3 else []


def sparse_settings(p: int) -> tuple[Setting, ...]:
    """The parameters the sparse designs share (n, p with its default, s, rho, theta)."""
    return (
        Setting("n", 500, "number of units", minimum=10),
        Setting("p", p, "number of covariates, Toeplitz correlation rho^|j-k|", minimum=1),
        Setting("s", 5, "number of confounders (non-zero coefficients 1/j, j ≤ s)", minimum=1),
        Setting("rho", 0.5, "correlation of neighbouring covariates", minimum=-1.0, maximum=1.0,
                min_exclusive=True, max_exclusive=True),
        Setting("theta", 0.5, "the effect of d on y (the truth)"),
    )


R2 = {"minimum": 0.0, "maximum": 1.0, "min_exclusive": True, "max_exclusive": True}

DGPS = (
    Dgp(
        name="plr_ccddhnr",
        summary="partially linear design of Chernozhukov et al. (2018), DoubleML's make_plr_CCDDHNR2018",
        params=(
            Setting("n", 500, "number of units (DoubleML's n_obs)", minimum=10),
            Setting("dim_x", 20, "number of covariates, Toeplitz correlation 0.7^|j-k|", minimum=3),
            Setting("alpha", 0.5, "the effect of d on y (the truth)"),
            *(Setting(k, v, f"DoubleML's {k} (module docstring)") for k, v in CCDDHNR_DEFAULTS.items()),
        ),
        provides=("y", "d", "controls"),
        generate=generate_ccddhnr,
        check=_check_ccddhnr,
        examples=({"n": 100}, {"n": 60, "dim_x": 5, "alpha": 1.0}),
        estimand="theta",
    ),
    Dgp(
        name="pliv_sparse",
        summary="partially linear IV design: one instrument, endogenous d, sparse confounding (s of p covariates)",
        params=(
            *sparse_settings(20),
            Setting("gamma", 1.0, "the instrument's first-stage coefficient"),
            Setting("endogeneity", 0.5, "correlation of d's and y's errors", minimum=-1.0, maximum=1.0,
                    min_exclusive=True, max_exclusive=True),
            Setting("R2", 0.5, "share of variance the covariates explain in each equation", **R2),
        ),
        provides=("y", "d", "z", "controls"),
        generate=generate_pliv,
        check=_check_sparse,
        examples=({"n": 100, "p": 10},),
        estimand="theta",
    ),
    Dgp(
        name="plr_sparse",
        summary="partially linear design with sparse high-dimensional confounding (s of p covariates confound)",
        params=(
            *sparse_settings(100),
            Setting("R2_d", 0.5, "share of d's variance the covariates explain", **R2),
            Setting("R2_y", 0.5, "share of the variance of y - θd the covariates explain", **R2),
        ),
        provides=("y", "d", "controls"),
        generate=generate_sparse,
        check=_check_sparse,
        examples=({"n": 100, "p": 30}, {"n": 60, "p": 8, "s": 8, "rho": 0.0}),
        estimand="theta",
    ),
)
