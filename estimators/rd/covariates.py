"""rdrobust's covariate adjustment (``covs``; Calonico, Cattaneo, Farrell & Titiunik 2019) for the ``rd`` kernel.

With covariates z (k of them) the outcome becomes y − z'γ with one γ for both sides,

    γ = (Σ_s Σ_i W_i z̃_i z̃_i')⁻¹ Σ_s Σ_i W_i z̃_i ỹ_i,

z̃, ỹ the residuals of the W-weighted fits of z and y on (1, x, …, x^p) on each side s (W the kernel weights of
the estimate's bandwidth h; in the bandwidth selector, of the pilot on one side with the fit's order).  Every row
of rdrobust is then the sharp one of y − z'γ (rdrobust's s = (1, −γ) on the columns (y, z), a linear combination),
and a fuzzy design adjusts the take-up with its own γ_T the same way.  Collinear covariates (rdrobust's
``covs_drop``, then a pseudo-inverse) leave z'γ the projection on their span: here a covariate whose residual
pivot in a Cholesky factorisation of Σ W z̃ z̃' falls below 1e-10 of its diagonal is dropped, the same z'γ.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..inference import spd_inverse
from .fits import _gram, _powers

DROP_TOL = 1e-10


@njit(cache=True, error_model="numpy")
def partial_sums(x, w, z, y, k, zwz, zwy):
    """Add Σ W z̃ z̃' into zwz (kz, kz) and Σ W z̃ ỹ into zwy (kz,) for units with w > 0; z is (kz, n); the fit has
    k coefficients in powers of x.  False when that fit is not identified."""
    kz = z.shape[0]
    inv = np.empty((k, k))
    if not spd_inverse(_gram(x, w, k), k, inv):
        return False
    u_z = np.zeros((k, kz))  # R'WZ
    u_y = np.zeros(k)  # R'Wy
    row = np.empty(k)
    for i in range(x.shape[0]):
        if w[i] <= 0.0:
            continue
        _powers(x[i], k, row)
        for a in range(k):
            u_y[a] += w[i] * row[a] * y[i]
            for c in range(kz):
                u_z[a, c] += w[i] * row[a] * z[c, i]
        for c in range(kz):
            zwy[c] += w[i] * z[c, i] * y[i]
            for d in range(kz):
                zwz[c, d] += w[i] * z[c, i] * z[d, i]
    proj = inv @ u_z
    zwz -= u_z.T @ proj
    zwy -= proj.T @ u_y
    return True


@njit(cache=True, error_model="numpy")
def solve_dropping(a, b):
    """γ solving a γ = b for SPD-or-singular a (kz, kz), dropping (γ_j = 0) each column whose Cholesky pivot, given
    the columns kept before it, is ≤ DROP_TOL of its diagonal: the projection rdrobust's pseudo-inverse gives."""
    kz = a.shape[0]
    keep = np.zeros(kz, np.bool_)
    for j in range(kz):
        keep[j] = True
        idx = np.nonzero(keep)[0]
        sub = a[idx][:, idx].copy()
        inv = np.empty((idx.shape[0], idx.shape[0]))
        if not (a[j, j] > 0.0 and spd_inverse(sub, idx.shape[0], inv) and 1.0 / inv[-1, -1] > DROP_TOL * a[j, j]):
            keep[j] = False
    idx = np.nonzero(keep)[0]
    gamma = np.zeros(kz)
    if idx.shape[0] == 0:
        return gamma
    sub = a[idx][:, idx].copy()
    inv = np.empty((idx.shape[0], idx.shape[0]))
    spd_inverse(sub, idx.shape[0], inv)
    g = inv @ b[idx]
    for m in range(idx.shape[0]):
        gamma[idx[m]] = g[m]
    return gamma


@njit(cache=True, error_model="numpy")
def adjust(y, z, gamma):
    """y − z'γ, z (kz, n)."""
    out = y.copy()
    for c in range(z.shape[0]):
        out -= gamma[c] * z[c]
    return out


@njit(cache=True, error_model="numpy")
def side_adjusted(x, y, z, w, k):
    """y − z'γ with γ from this side's units with w > 0 alone (the bandwidth selector's pilot fits)."""
    kz = z.shape[0]
    zwz, zwy = np.zeros((kz, kz)), np.zeros(kz)
    if not partial_sums(x, w, z, y, k, zwz, zwy):
        return False, y
    gamma = solve_dropping(zwz, zwy)
    return math.isfinite(gamma.sum()), adjust(y, z, gamma)
