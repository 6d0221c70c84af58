"""rdrobust's data-driven bandwidths (rdbwselect, Calonico, Cattaneo & Farrell 2020), every ``bwselect`` of
rdrobust 2.1.1 with its defaults (``stdvars``, ``bwrestrict``, ``scaleregul = 1``) and ``masspoints`` ``adjust``
(the default) or ``off``.

On x and y divided by their sample sds (ddof 1), with N the units and M the distinct x, the pilot

    c = C_K · min(1, IQR(x)/(1.349·sd(x))) · M^(−1/5)   (N^(−1/5) with masspoints = "off"),
    C_K = 2.576, 2.34, 1.843 (tri, epa, uni)

is capped at the farther side's range and, with ``adjust`` and mass points (≥ 20 % repeated x on a side), raised
to reach the 10th distinct x on each side (the floors bw_min₋, bw_min₊).  Each side s gives, for a fit of order
o estimating derivative ν with pilot c:

    V_s = (2ν+1)·c^(2ν+1)·[Γ⁻¹ Σ W² r r' ε̂² Γ⁻¹]_νν
    B_s = √(2(o+1−ν))·𝓑·β̂_B,last
    R_s = 2(o+1−ν)·3𝓑²·V̂(β̂_B,last)

with 𝓑 = c^ν [Γ⁻¹ Σ W r (x/c)^(o+1)]_ν and β̂_B the order-(o+1) fit with bandwidth h_B.  Three steps, each
with its bias-fit bandwidth from the step before: d (o = ν = q+1, h_B the side's range, no regularisation),
b (o = q, ν = p+1, h_B = d) and h (o = p, ν = deriv, h_B = b), with the rates r = 1/(2q+5), 1/(2q+3), 1/(2p+3):

``rd``   one bandwidth: ((V₋+V₊)/((B₊−B₋)² + R₋+R₊))^r, capped at the farther range (d floored at both floors);
``sum``  the same with (B₊+B₋)²;
``two``  one per side: (V_s/(B_s² + R_s))^r, capped at the side's range (d floored at the side's floor).

``mserd``, ``msesum``, ``msetwo`` are these; ``msecomb1`` = min(mserd, msesum) and ``msecomb2`` = the median of
mserd, msesum and msetwo on each side (for h and b apart); ``cer*`` multiply h (not b) of their ``mse*`` by
N^(−p/((3+p)(3+2p))) (N the units; with clusters, G₋ + G₊, the clusters on each side).  h, b are scaled back
by sd(x).  Fewer than 20 units: h = b = the farther range.

Residuals ε̂ are the estimator's (``vce``; hc1 needs more units in a window than coefficients, where rdrobust
divides by zero; hc2/hc3 inherit rdrobust's floor of 1e-8 on 1 − h_ii).  With clusters, ε̂ are the plain
residuals and the meat is the fit's cluster-robust one (`clusters`): cr1 scales Σ_g (Σ_{i∈g} ·)² by
(n−1)/(n−k)·G/(G−1) with n, G the window's units and clusters and k the fit's coefficients; cr2 and cr3 adjust each
cluster's residuals with the leverage of the fit itself (rdrobust's), undefined (``singular``) where a cluster's
I − H_gg is singular.  Covariates (``covs``) are partialled out of y (and t) on each pilot window
with that side's own γ and the fit's order (`covariates`; rdrobust's s = (1, −γ)).  Fuzzy designs: on each pilot window the order-o fits of y and of the
take-up t give τ_Y, τ_T (ν!·coefficient ν) and the side's y is replaced by y/τ_T − t·τ_Y/τ_T² (rdrobust's
linear combination s; when t is constant on a side, rdrobust selects on y alone, as here).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..inference import spd_inverse
from .conventions import (
    CERCOMB1,
    CERCOMB2,
    CERRD,
    CERSUM,
    CERTWO,
    EPANECHNIKOV,
    HC0,
    HC1,
    MSECOMB1,
    MSECOMB2,
    MSERD,
    MSESUM,
    MSETWO,
    NN,
    NN_MATCHES,
    UNIFORM,
)
from .clusters import clustered_variance, count_clusters
from .covariates import side_adjusted
from .fits import _fit, _gram, _hc_residuals, _powers, kernel_weight, nn_residuals

EPS_ROOT = math.sqrt(np.finfo(np.float64).eps)
MASS_SHARE = 0.2  # a side with this share of repeated x has mass points: rdrobust then checks 10 distinct x
BWCHECK = 10


@njit(cache=True, error_model="numpy")
def _window(x, y, cl, h, kernel):
    n = x.shape[0]
    w = np.empty(n)
    for i in range(n):
        w[i] = kernel_weight(x[i] / h, kernel, h)
    keep = w > 0.0
    return x[keep], y[keep], cl[keep], w[keep]


@njit(cache=True, error_model="numpy")
def _distinct(x):
    count = 0
    for i in range(x.shape[0]):
        if i == 0 or x[i] != x[i - 1]:
            count += 1
    return count


@njit(cache=True, error_model="numpy")
def _variance_row(ex, ey, ecl, w, inv, beta, k, row_index, vce, clustered):
    """[Γ⁻¹ Σ W² r r' ε̂² Γ⁻¹] at (row_index, row_index), ε̂ the residuals of the k-coefficient fit."""
    if vce == NN and not clustered:
        res = nn_residuals(ex, ey, NN_MATCHES)
    else:
        res = _hc_residuals(ex, ey, w, inv, beta, k, HC0 if clustered else vce, ex.shape[0])
    row = np.empty(k)
    coef = np.empty(ex.shape[0])
    for i in range(ex.shape[0]):
        _powers(ex[i], k, row)
        a = 0.0
        for c in range(k):
            a += inv[row_index, c] * row[c]
        coef[i] = a * w[i]
    if clustered:  # NaN when a cluster's leverage block is singular: the bandwidth is then undefined
        ok, value = clustered_variance(coef, res, ex, w, inv, ecl, k, vce)
        return value if ok else np.nan
    return ((coef * res) ** 2).sum()


@njit(cache=True, error_model="numpy")
def _combined_outcome(x, y, t, cl, o, nu, pilot, kernel):
    """Fuzzy: y/τ_T − t·τ_Y/τ_T² on the whole side, τ from the order-o fits on the pilot window (None if undefined)."""
    ex, ey, _, w = _window(x, y, cl, pilot, kernel)
    _, et, _, _ = _window(x, t, cl, pilot, kernel)
    k = o + 1
    eu = ex / pilot
    inv = np.empty((k, k))
    if _distinct(ex) < k or not spd_inverse(_gram(eu, w, k), k, inv):
        return False, y
    scale = math.gamma(nu + 1.0) / pilot**nu
    tau_y = scale * _fit(eu, ey, w, inv, k)[nu]
    tau_t = scale * _fit(eu, et, w, inv, k)[nu]
    return True, y / tau_t - t * (tau_y / tau_t**2)


@njit(cache=True, error_model="numpy")
def side_constants(x, y, t, cl, z, fuzzy, clustered, o, nu, pilot, h_b, scale, kernel, vce, out):
    """rdrobust_bw on one side (module docstring): out = [V, B, R]; False when a fit is not identified.

    z (kz, n): covariates (kz = 0: none), partialled out of y (and t) on the pilot window (`covariates`)."""
    if z.shape[0] > 0:
        w_pilot = np.empty(x.shape[0])
        for i in range(x.shape[0]):
            w_pilot[i] = kernel_weight(x[i] / pilot, kernel, pilot)
        if _distinct(x[w_pilot > 0.0]) < o + 1:
            return False
        ok, y = side_adjusted(x / pilot, y, z, w_pilot, o + 1)
        if fuzzy:
            ok_t, t = side_adjusted(x / pilot, t, z, w_pilot, o + 1)
            ok = ok and ok_t
        if not ok:
            return False
    if fuzzy:
        ok, y = _combined_outcome(x, y, t, cl, o, nu, pilot, kernel)
        if not ok:
            return False
    ex, ey, ecl, w = _window(x, y, cl, pilot, kernel)
    k = o + 1
    if _distinct(ex) < k or (vce == HC1 and not clustered and ex.shape[0] <= k):  # hc1's N/(N − d) needs N > d
        return False
    eu = ex / pilot  # powers of x/c: the same fit, better conditioned than rdrobust's powers of x
    inv = np.empty((k, k))
    if not spd_inverse(_gram(eu, w, k), k, inv):
        return False
    beta = _fit(eu, ey, w, inv, k)
    v_v = _variance_row(eu, ey, ecl, w, inv, beta, k, nu, vce, clustered) / pilot ** (2 * nu)
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
    bx, by, bcl, bw = _window(x, y, cl, h_b, kernel)
    kb = o + 2
    if _distinct(bx) < kb or (vce == HC1 and not clustered and scale > 0.0 and bx.shape[0] <= kb):
        return False
    bu = bx / h_b
    inv_b = np.empty((kb, kb))
    if not spd_inverse(_gram(bu, bw, kb), kb, inv_b):
        return False
    beta_b = _fit(bu, by, bw, inv_b, kb)
    last = beta_b[kb - 1] / h_b ** (kb - 1)
    reg = 0.0
    if scale > 0.0:
        v_b = _variance_row(bu, by, bcl, bw, inv_b, beta_b, kb, kb - 1, vce, clustered)
        reg = 3.0 * b_const**2 * v_b / h_b ** (2 * (kb - 1))
    out[0] = (2 * nu + 1) * pilot ** (2 * nu + 1) * v_v
    out[1] = math.sqrt(2.0 * (o + 1 - nu)) * b_const * last
    out[2] = scale * 2.0 * (o + 1 - nu) * reg
    return math.isfinite(out[0]) and math.isfinite(out[1]) and math.isfinite(out[2])


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
def _nth_distinct(sorted_abs, k):
    """The k-th distinct value (1-based) of an ascending array."""
    count = 0
    for i in range(sorted_abs.shape[0]):
        if i == 0 or sorted_abs[i] != sorted_abs[i - 1]:
            count += 1
            if count == k:
                return sorted_abs[i]
    return np.nan


@njit(cache=True, error_model="numpy")
def _both(sides, fuzzy, clustered, o, nu, pilot, hb_l, hb_r, scale, kernel, vce, left, right):
    xl, yl, tl, cll, zl, xr, yr, tr, clr, zr = sides
    return side_constants(xl, yl, tl, cll, zl, fuzzy, clustered, o, nu, pilot, hb_l, scale, kernel, vce, left) and (
        side_constants(xr, yr, tr, clr, zr, fuzzy, clustered, o, nu, pilot, hb_r, scale, kernel, vce, right)
    )


@njit(cache=True, error_model="numpy")
def _pooled(left, right, sign, rate):
    """((V₋+V₊)/((B₊ + sign·B₋)² + R₋+R₊))^rate."""
    return ((left[0] + right[0]) / ((right[1] + sign * left[1]) ** 2 + right[2] + left[2])) ** rate


@njit(cache=True, error_model="numpy")
def _common(sides, fuzzy, clustered, p, deriv, pilot, c_d, sign, bw_max, floor, kernel, vce, hb):
    """The ``rd`` (sign −1) or ``sum`` (sign +1) bandwidths (h, b) into hb from the d-step constants c_d."""
    q = p + 1
    left, right = np.empty(3), np.empty(3)
    d = max(min(_pooled(c_d[0], c_d[1], sign, 1.0 / (2 * q + 5)), bw_max), floor)
    if not _both(sides, fuzzy, clustered, q, p + 1, pilot, d, d, 1.0, kernel, vce, left, right):
        return False
    b = min(_pooled(left, right, sign, 1.0 / (2 * q + 3)), bw_max)
    if not _both(sides, fuzzy, clustered, p, deriv, pilot, b, b, 1.0, kernel, vce, left, right):
        return False
    hb[0] = min(_pooled(left, right, sign, 1.0 / (2 * p + 3)), bw_max)
    hb[1] = b
    return True


@njit(cache=True, error_model="numpy")
def _two(sides, fuzzy, clustered, p, deriv, pilot, c_d, bw_max, floors, kernel, vce, hb):
    """The ``two`` bandwidths (h₋, h₊, b₋, b₊) into hb."""
    q = p + 1
    left, right = np.empty(3), np.empty(3)
    d = np.empty(2)
    for s in range(2):
        d[s] = max(min((c_d[s][0] / c_d[s][1] ** 2) ** (1.0 / (2 * q + 5)), bw_max[s]), floors[s])
    if not _both(sides, fuzzy, clustered, q, p + 1, pilot, d[0], d[1], 1.0, kernel, vce, left, right):
        return False
    b_l = min((left[0] / (left[1] ** 2 + left[2])) ** (1.0 / (2 * q + 3)), bw_max[0])
    b_r = min((right[0] / (right[1] ** 2 + right[2])) ** (1.0 / (2 * q + 3)), bw_max[1])
    if not _both(sides, fuzzy, clustered, p, deriv, pilot, b_l, b_r, 1.0, kernel, vce, left, right):
        return False
    hb[0] = min((left[0] / (left[1] ** 2 + left[2])) ** (1.0 / (2 * p + 3)), bw_max[0])
    hb[1] = min((right[0] / (right[1] ** 2 + right[2])) ** (1.0 / (2 * p + 3)), bw_max[1])
    hb[2], hb[3] = b_l, b_r
    return True


@njit(cache=True, error_model="numpy")
def _median3(a, b, c):
    return max(min(a, b), min(max(a, b), c))


@njit(cache=True, error_model="numpy")
def _variance(a):
    return ((a - a.mean()) ** 2).mean() if a.shape[0] > 0 else 0.0


@njit(cache=True, error_model="numpy")
def select(xs, ys, ts, cls, zs, cut, p, deriv, kernel, vce, fuzzy, clustered, method, adjust, hb):
    """(h₋, h₊, b₋, b₊) of rdrobust's ``bwselect`` `method` into hb for sorted xs (cut: the first index at or above
    0; ts, cls the take-up and cluster ids, zs (kz, n) the covariates, in the same order); False where undefined."""
    n = xs.shape[0]
    q = p + 1
    if n < 20:
        hb[:] = max(abs(xs[0]), abs(xs[n - 1]))
        return True
    sd_x, sd_y = _sd(xs), _sd(ys)
    iqr = _quantile_type2(xs, 0.75) - _quantile_type2(xs, 0.25)
    spread = min(1.0, (iqr / sd_x) / 1.349)
    c_k = 2.34 if kernel == EPANECHNIKOV else (1.843 if kernel == UNIFORM else 2.576)
    x = xs / sd_x
    y = ys / sd_y
    xl, xr = x[:cut], x[cut:]
    m_l, m_r = _distinct(xl), _distinct(xr)
    pilot = c_k * spread * ((m_l + m_r) if adjust else n) ** (-0.2)
    bw_max_l, bw_max_r = abs(x[0]), abs(x[n - 1])
    bw_max = max(bw_max_l, bw_max_r)
    pilot = min(pilot, bw_max)
    floors = np.zeros(2)
    if adjust and (1.0 - m_l / xl.shape[0] >= MASS_SHARE or 1.0 - m_r / xr.shape[0] >= MASS_SHARE):
        floors[0] = _nth_distinct(-xl[::-1], min(BWCHECK, m_l)) * (1.0 + EPS_ROOT)
        floors[1] = _nth_distinct(xr, min(BWCHECK, m_r)) * (1.0 + EPS_ROOT)
        pilot = max(pilot, floors.max())
    # rdrobust selects a fuzzy design's bandwidths on y alone when the take-up is constant on a side
    fuzzy = fuzzy and _variance(ts[:cut]) > 0.0 and _variance(ts[cut:]) > 0.0
    sides = (xl, y[:cut], ts[:cut], cls[:cut], zs[:, :cut], xr, y[cut:], ts[cut:], cls[cut:], zs[:, cut:])
    left, right = np.empty(3), np.empty(3)
    ok = _both(
        sides, fuzzy, clustered, q + 1, q + 1, pilot, bw_max_l * (1 + EPS_ROOT), bw_max_r * (1 + EPS_ROOT), 0.0,
        kernel, vce, left, right,
    )  # fmt: skip
    if not ok:
        return False
    c_d = (left, right)
    rd, sm, two = np.full(2, np.nan), np.full(2, np.nan), np.full(4, np.nan)
    floor = floors.max()
    need_rd = method in (MSERD, CERRD, MSECOMB1, MSECOMB2, CERCOMB1, CERCOMB2)
    need_sum = method in (MSESUM, CERSUM, MSECOMB1, MSECOMB2, CERCOMB1, CERCOMB2)
    need_two = method in (MSETWO, CERTWO, MSECOMB2, CERCOMB2)
    if need_rd and not _common(sides, fuzzy, clustered, p, deriv, pilot, c_d, -1.0, bw_max, floor, kernel, vce, rd):
        return False
    if need_sum and not _common(sides, fuzzy, clustered, p, deriv, pilot, c_d, 1.0, bw_max, floor, kernel, vce, sm):
        return False
    maxima = np.array([bw_max_l, bw_max_r])
    if need_two and not _two(sides, fuzzy, clustered, p, deriv, pilot, c_d, maxima, floors, kernel, vce, two):
        return False
    if method in (MSERD, CERRD):
        hb[0], hb[1], hb[2], hb[3] = rd[0], rd[0], rd[1], rd[1]
    elif method in (MSESUM, CERSUM):
        hb[0], hb[1], hb[2], hb[3] = sm[0], sm[0], sm[1], sm[1]
    elif method in (MSETWO, CERTWO):
        hb[:] = two
    elif method in (MSECOMB1, CERCOMB1):
        hb[0] = hb[1] = min(rd[0], sm[0])
        hb[2] = hb[3] = min(rd[1], sm[1])
    else:
        for s in range(2):
            hb[s] = _median3(rd[0], sm[0], two[s])
            hb[2 + s] = _median3(rd[1], sm[1], two[2 + s])
    if method in (CERRD, CERSUM, CERTWO, CERCOMB1, CERCOMB2):
        units = count_clusters(cls[:cut]) + count_clusters(cls[cut:]) if clustered else n
        hb[0] *= units ** (-(p / ((3.0 + p) * (3.0 + 2.0 * p))))
        hb[1] *= units ** (-(p / ((3.0 + p) * (3.0 + 2.0 * p))))
    hb *= sd_x
    for j in range(4):
        if not (math.isfinite(hb[j]) and hb[j] > 0.0):
            return False
    return True
