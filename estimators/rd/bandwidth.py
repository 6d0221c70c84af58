"""rdrobust's data-driven bandwidth ``mserd`` (rdbwselect, Calonico, Cattaneo & Farrell 2020): one common MSE-optimal h
for both sides and its bias-correction bandwidth b, with rdrobust 2.x's defaults (``stdvars``, ``masspoints =
"adjust"``, ``bwrestrict``, ``scaleregul = 1``).

On x and y divided by their sample sds (ddof 1), with N (M) the units (distinct x) and the pilot

    c = C_K · min(1, IQR(x)/(1.349·sd(x))) · M^(−1/5),  C_K = 2.576, 2.34, 1.843 (tri, epa, uni)

capped at the farther side's range and, with mass points (≥ 20 % repeated x on a side), raised to reach the 10th
distinct x on each side, each side s gives, for a fit of order o estimating derivative ν with
pilot c:

    V_s = (2ν+1)·c^(2ν+1)·[Γ⁻¹ Σ W² r r' ε̂² Γ⁻¹]_νν
    B_s = √(2(o+1−ν))·𝓑·β̂_B,last
    R_s = 2(o+1−ν)·3𝓑²·V̂(β̂_B,last)

with 𝓑 = c^ν [Γ⁻¹ Σ W r (x/c)^(o+1)]_ν and β̂_B the order-(o+1) fit with bandwidth h_B.  Then
d = ((V₋+V₊)/(B₊−B₋)²)^(1/(2q+5)) (o = ν = q+1, h_B the side's range, no regularisation),
b = ((V₋+V₊)/((B₊−B₋)² + R₋+R₊))^(1/(2q+3)) (o = q, ν = p+1, h_B = d),
h = ((V₋+V₊)/((B₊−B₋)² + R₋+R₊))^(1/(2p+3)) (o = p, ν = 0, h_B = b), each capped at the farther range,
and h, b scaled back by sd(x).  Residuals ε̂ are the estimator's (``vce``; hc1 needs more units in a window than
coefficients, where rdrobust divides by zero; hc2/hc3 inherit rdrobust's floor of 1e-8 on 1 − h_ii, so a window
with a leverage near one, a handful of units on a side, gives bandwidths that agree with rdrobust's only to the
conditioning of that division).  Fewer than 20 units: h = b = the farther range.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .conventions import EPANECHNIKOV, HC1, NN, NN_MATCHES, UNIFORM
from ..inference import spd_inverse
from .fits import _fit, _gram, _hc_residuals, _powers, kernel_weight, nn_residuals

EPS_ROOT = math.sqrt(np.finfo(np.float64).eps)
MASS_SHARE = 0.2  # a side with this share of repeated x has mass points: rdrobust then checks 10 distinct x
BWCHECK = 10


@njit(cache=True, error_model="numpy")
def _window(x, y, h, kernel):
    n = x.shape[0]
    w = np.empty(n)
    for i in range(n):
        w[i] = kernel_weight(x[i] / h, kernel, h)
    keep = w > 0.0
    return x[keep], y[keep], w[keep]


@njit(cache=True, error_model="numpy")
def _distinct(x):
    count = 0
    for i in range(x.shape[0]):
        if i == 0 or x[i] != x[i - 1]:
            count += 1
    return count


@njit(cache=True, error_model="numpy")
def _variance_row(ex, ey, w, inv, beta, k, row_index, vce):
    """[Γ⁻¹ Σ W² r r' ε̂² Γ⁻¹] at (row_index, row_index), ε̂ the residuals of the k-coefficient fit."""
    if vce == NN:
        res = nn_residuals(ex, ey, NN_MATCHES)
    else:
        res = _hc_residuals(ex, ey, w, inv, beta, k, vce, ex.shape[0])
    row = np.empty(k)
    total = 0.0
    for i in range(ex.shape[0]):
        _powers(ex[i], k, row)
        a = 0.0
        for c in range(k):
            a += inv[row_index, c] * row[c]
        total += (a * w[i] * res[i]) ** 2
    return total


@njit(cache=True, error_model="numpy")
def side_constants(x, y, o, nu, pilot, h_b, scale, kernel, vce, out):
    """rdrobust_bw on one side (module docstring): out = [V, B, R]; False when a fit is not identified."""
    ex, ey, w = _window(x, y, pilot, kernel)
    k = o + 1
    if _distinct(ex) < k or (vce == HC1 and ex.shape[0] <= k):  # hc1's N/(N − d) needs N > d
        return False
    eu = ex / pilot  # powers of x/c: the same fit, better conditioned than rdrobust's powers of x
    inv = np.empty((k, k))
    if not spd_inverse(_gram(eu, w, k), k, inv):
        return False
    beta = _fit(eu, ey, w, inv, k)
    v_v = _variance_row(eu, ey, w, inv, beta, k, nu, vce) / pilot ** (2 * nu)
    row = np.empty(k)
    lead = np.zeros(k)
    for i in range(eu.shape[0]):
        _powers(eu[i], k, row)
        u = eu[i] ** k
        for a in range(k):
            lead[a] += w[i] * row[a] * u
    b_const = 0.0  # c^ν [Γ⁻¹ Σ W r (x/c)^(o+1)]_ν in powers of x = [Γ_u⁻¹ Σ W r_u u^(o+1)]_ν in u
    for a in range(k):
        b_const += inv[nu, a] * lead[a]
    if not (h_b > 0.0 and math.isfinite(h_b)):
        return False
    bx, by, bw = _window(x, y, h_b, kernel)
    kb = o + 2
    if _distinct(bx) < kb or (vce == HC1 and scale > 0.0 and bx.shape[0] <= kb):
        return False
    bu = bx / h_b
    inv_b = np.empty((kb, kb))
    if not spd_inverse(_gram(bu, bw, kb), kb, inv_b):
        return False
    beta_b = _fit(bu, by, bw, inv_b, kb)
    last = beta_b[kb - 1] / h_b ** (kb - 1)
    reg = 0.0
    if scale > 0.0:
        reg = 3.0 * b_const**2 * _variance_row(bu, by, bw, inv_b, beta_b, kb, kb - 1, vce) / h_b ** (2 * (kb - 1))
    out[0] = (2 * nu + 1) * pilot ** (2 * nu + 1) * v_v
    out[1] = math.sqrt(2.0 * (o + 1 - nu)) * b_const * last
    out[2] = scale * 2.0 * (o + 1 - nu) * reg
    return True


@njit(cache=True, error_model="numpy")
def _quantile_type2(xs, prob):
    """R's quantile type 2 of sorted xs (rdrobust's quantile_type2)."""
    n = xs.shape[0]
    g = n * prob
    j = int(math.floor(g))
    if g == j:
        return 0.5 * (xs[j - 1] + xs[j])
    return xs[j]


@njit(cache=True, error_model="numpy")
def _sd(a):
    return math.sqrt(((a - a.mean()) ** 2).sum() / (a.shape[0] - 1))


@njit(cache=True, error_model="numpy")
def mserd(xs, ys, cut, p, kernel, vce, hb):
    """(h, b) of rdrobust's ``mserd`` into hb for sorted xs (cut: the first index at or above 0); False if undefined."""
    n = xs.shape[0]
    q = p + 1
    range_l, range_r = abs(xs[0]), abs(xs[n - 1])
    if n < 20:
        hb[0] = hb[1] = max(range_l, range_r)
        return True
    sd_x, sd_y = _sd(xs), _sd(ys)
    iqr = _quantile_type2(xs, 0.75) - _quantile_type2(xs, 0.25)
    spread = min(1.0, (iqr / sd_x) / 1.349)
    c_k = 2.34 if kernel == EPANECHNIKOV else (1.843 if kernel == UNIFORM else 2.576)
    x = xs / sd_x
    y = ys / sd_y
    xl, yl, xr, yr = x[:cut], y[:cut], x[cut:], y[cut:]
    m_l, m_r = _distinct(xl), _distinct(xr)
    pilot = c_k * spread * (m_l + m_r) ** (-0.2)
    bw_max_l, bw_max_r = abs(x[0]), abs(x[n - 1])
    bw_max = max(bw_max_l, bw_max_r)
    pilot = min(pilot, bw_max)
    check = 1.0 - m_l / xl.shape[0] >= MASS_SHARE or 1.0 - m_r / xr.shape[0] >= MASS_SHARE
    bw_min = 0.0
    if check:
        bw_min = max(_nth_distinct(-xl[::-1], min(BWCHECK, m_l)), _nth_distinct(xr, min(BWCHECK, m_r)))
        bw_min *= 1.0 + EPS_ROOT
        pilot = max(pilot, bw_min)
    left, right = np.empty(3), np.empty(3)
    if not (
        side_constants(xl, yl, q + 1, q + 1, pilot, bw_max_l * (1 + EPS_ROOT), 0.0, kernel, vce, left)
        and side_constants(xr, yr, q + 1, q + 1, pilot, bw_max_r * (1 + EPS_ROOT), 0.0, kernel, vce, right)
    ):
        return False
    d = ((left[0] + right[0]) / (right[1] - left[1]) ** 2) ** (1.0 / (2 * (q + 1) + 3))
    d = max(min(d, bw_max), bw_min) if check else min(d, bw_max)
    if not (
        side_constants(xl, yl, q, p + 1, pilot, d, 1.0, kernel, vce, left)
        and side_constants(xr, yr, q, p + 1, pilot, d, 1.0, kernel, vce, right)
    ):
        return False
    b = min(((left[0] + right[0]) / ((right[1] - left[1]) ** 2 + right[2] + left[2])) ** (1.0 / (2 * q + 3)), bw_max)
    if not (
        side_constants(xl, yl, p, 0, pilot, b, 1.0, kernel, vce, left)
        and side_constants(xr, yr, p, 0, pilot, b, 1.0, kernel, vce, right)
    ):
        return False
    h = min(((left[0] + right[0]) / ((right[1] - left[1]) ** 2 + right[2] + left[2])) ** (1.0 / (2 * p + 3)), bw_max)
    hb[0], hb[1] = sd_x * h, sd_x * b
    return math.isfinite(hb[0]) and math.isfinite(hb[1]) and hb[0] > 0.0 and hb[1] > 0.0


@njit(cache=True, error_model="numpy")
def _nth_distinct(sorted_abs, k):
    """The k-th distinct value (1-based) of an ascending array."""
    count = 0
    for i in range(sorted_abs.shape[0]):
        if i == 0 or sorted_abs[i] != sorted_abs[i - 1]:
            count += 1
            if count == k:
                return sorted_abs[i]
    return np.nan
