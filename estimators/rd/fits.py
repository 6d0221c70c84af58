"""Numba building blocks of the ``rd`` kernel and its bandwidth selector: kernel weights, weighted polynomial
fits in powers of x, their hc residuals, and rdrobust's nearest-neighbour residuals."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .conventions import EPANECHNIKOV, HC1, HC2, HC3, HII_FLOOR, UNIFORM


@njit(cache=True, error_model="numpy")
def kernel_weight(u, kernel, bandwidth):
    """K(u)/bandwidth with rdrobust's kernels (K = 0 outside |u| ≤ 1)."""
    a = abs(u)
    if a > 1.0:
        return 0.0
    if kernel == EPANECHNIKOV:
        return 0.75 * (1.0 - u * u) / bandwidth
    if kernel == UNIFORM:
        return 0.5 / bandwidth
    return (1.0 - a) / bandwidth


@njit(cache=True, error_model="numpy")
def distinct_sorted(values, mask):
    """Number of distinct values among the sorted `values` where `mask` holds."""
    count = 0
    last = np.nan
    for i in range(values.shape[0]):
        if mask[i] and (count == 0 or values[i] != last):
            count += 1
            last = values[i]
    return count


@njit(cache=True, error_model="numpy")
def nn_residuals(x, y, matches):
    """rdrobust's nearest-neighbour residuals of y on sorted x (ties in x count as one neighbour group).

    For unit i, J_i ≥ min(matches, n − 1) neighbours are added one x-value
    group at a time, from the nearer side (both when equidistant within a
    relative tolerance √eps); ε̂_i = √(J_i/(J_i+1))·(y_i − Σ_J y_j / J_i).
    """
    n = x.shape[0]
    dups = np.empty(n, np.int64)
    dupsid = np.empty(n, np.int64)
    start = 0
    for i in range(1, n + 1):
        if i == n or x[i] != x[start]:
            for j in range(start, i):
                dups[j] = i - start
                dupsid[j] = j - start + 1
            start = i
    tol_eps = math.sqrt(np.finfo(np.float64).eps)
    cap = min(matches, n - 1)
    res = np.empty(n)
    for pos in range(n):
        rpos = dups[pos] - dupsid[pos]
        lpos = dupsid[pos] - 1
        while lpos + rpos < cap:
            if pos - lpos - 1 < 0:
                rpos += dups[pos + rpos + 1]
            elif pos + rpos + 1 >= n:
                lpos += dups[pos - lpos - 1]
            else:
                dleft = x[pos] - x[pos - lpos - 1]
                dright = x[pos + rpos + 1] - x[pos]
                tol = max(dleft, dright) * tol_eps
                if dleft - dright > tol:
                    rpos += dups[pos + rpos + 1]
                elif dright - dleft > tol:
                    lpos += dups[pos - lpos - 1]
                else:
                    rpos += dups[pos + rpos + 1]
                    lpos += dups[pos - lpos - 1]
        lo, hi = pos - lpos, pos + rpos + 1
        ji = hi - lo - 1
        s = 0.0
        for j in range(lo, hi):
            s += y[j]
        s -= y[pos]
        res[pos] = math.sqrt(ji / (ji + 1.0)) * (y[pos] - s / ji)
    return res


@njit(cache=True, error_model="numpy")
def _powers(x, k, row):
    row[0] = 1.0
    for j in range(1, k):
        row[j] = row[j - 1] * x


@njit(cache=True, error_model="numpy")
def _gram(ex, w, k):
    g = np.zeros((k, k))
    row = np.empty(k)
    for i in range(ex.shape[0]):
        _powers(ex[i], k, row)
        for a in range(k):
            for c in range(k):
                g[a, c] += w[i] * row[a] * row[c]
    return g


@njit(cache=True, error_model="numpy")
def _fit(ex, ey, w, inv, k):
    """Γ⁻¹ Σ w r y."""
    t = np.zeros(k)
    row = np.empty(k)
    for i in range(ex.shape[0]):
        _powers(ex[i], k, row)
        for a in range(k):
            t[a] += w[i] * row[a] * ey[i]
    return inv @ t


@njit(cache=True, error_model="numpy")
def _hc_residuals(ex, ey, w, inv, beta, k, vce, n_window):
    """y − r'β scaled by the hc factor (d = k: the fit's number of coefficients)."""
    n = ex.shape[0]
    res = np.empty(n)
    row = np.empty(k)
    scale = math.sqrt(n_window / (n_window - k)) if vce == HC1 else 1.0
    for i in range(n):
        _powers(ex[i], k, row)
        fitted = 0.0
        for a in range(k):
            fitted += row[a] * beta[a]
        res[i] = (ey[i] - fitted) * scale
        if vce == HC2 or vce == HC3:
            hii = 0.0
            for a in range(k):
                for c in range(k):
                    hii += row[a] * inv[a, c] * row[c]
            hii *= w[i]
            one_minus = max(1.0 - hii, HII_FLOOR)
            res[i] /= math.sqrt(one_minus) if vce == HC2 else one_minus
    return res
