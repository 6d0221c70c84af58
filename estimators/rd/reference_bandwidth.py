"""Plain numpy twin of `bandwidth.select`: rdbwselect's steps, one replication at a time."""

from __future__ import annotations

from math import factorial

import numpy as np
from scipy.linalg import sqrtm

from .conventions import (
    CERCOMB1,
    CERCOMB2,
    CERRD,
    CERSUM,
    CERTWO,
    CR2,
    CR3,
    EPANECHNIKOV,
    HC1,
    HC2,
    HII_FLOOR,
    MSECOMB1,
    MSECOMB2,
    MSESUM,
    MSETWO,
    NN,
    NN_MATCHES,
    UNIFORM,
)

EPS_ROOT = np.sqrt(np.finfo(float).eps)


def weights(x, kernel, bandwidth):
    """K(x/bandwidth)/bandwidth."""
    u = x / bandwidth
    inside = np.abs(u) <= 1
    shape = [1 - np.abs(u), 0.75 * (1 - u**2), np.full_like(u, 0.5)][kernel]
    return np.where(inside, shape, 0.0) / bandwidth


def nn(x, y, matches):
    """Nearest-neighbour residuals: for each unit, whole tie groups of x are added, nearest side first."""
    n = len(x)
    res = np.empty(n)
    for i in range(n):
        lo = i
        while lo > 0 and x[lo - 1] == x[i]:
            lo -= 1
        hi = i + 1
        while hi < n and x[hi] == x[i]:
            hi += 1
        while hi - lo - 1 < min(matches, n - 1):
            if lo == 0:
                take_left, take_right = False, True
            elif hi == n:
                take_left, take_right = True, False
            else:
                dl, dr = x[i] - x[lo - 1], x[hi] - x[i]
                tol = max(dl, dr) * EPS_ROOT
                take_left, take_right = dr - dl > tol or abs(dl - dr) <= tol, dl - dr > tol or abs(dl - dr) <= tol
            if take_left:
                lo = int(np.searchsorted(x, x[lo - 1], side="left"))
            if take_right:
                hi = int(np.searchsorted(x, x[hi], side="right"))
        j = hi - lo - 1
        res[i] = np.sqrt(j / (j + 1)) * (y[i] - (y[lo:hi].sum() - y[i]) / j)
    return res


def residuals(x, y, r, w, inv, beta, vce, clustered):
    """The fit's residuals as the variance uses them (nn, or hc with d = the fit's coefficients; plain for CR1)."""
    if clustered:
        return y - r @ beta
    if vce == NN:
        return nn(x, y, NN_MATCHES)
    res = y - r @ beta
    if vce == HC1:
        return res * np.sqrt(len(x) / (len(x) - r.shape[1]))
    if vce >= HC2:
        hii = np.einsum("ij,jk,ik->i", r, inv, r) * w
        return res / np.maximum(1 - hii, HII_FLOOR) ** (0.5 if vce == HC2 else 1.0)
    return res


def meat(scores, cl, k):
    """Σ score² (cl None), or CR1: (n−1)/(n−k)·G/(G−1)·Σ_g (Σ_{i∈g} score)²."""
    if cl is None:
        return float(scores @ scores)
    ids, inverse = np.unique(cl, return_inverse=True)
    if len(ids) < 2:
        return np.nan
    sums = np.bincount(inverse, weights=scores)
    return (len(scores) - 1) / (len(scores) - k) * len(ids) / (len(ids) - 1) * float(sums @ sums)


def variance(coef, res, x, w, inv, cl, vce):
    """Σ (c e)² (cl None), or the cluster-robust variance of `clusters` with vce cr1, cr2 or cr3, for the fit in
    powers of x with weights w and inverse Gram inv; None when a cluster's I − H_gg is singular."""
    k = inv.shape[0]
    if cl is None or vce not in (CR2, CR3):
        return meat(coef * res, cl, k)
    # Γ − L_g, the other clusters' Gram, is singular when they have fewer than k distinct x with weight: count, for
    # each cluster, the distinct x (w > 0) no other cluster has
    pairs = np.unique(np.column_stack([x[w > 0], cl[w > 0]]), axis=0)
    values, holders = np.unique(pairs[:, 0], return_counts=True)
    only = pairs[np.isin(pairs[:, 0], values[holders == 1]), 1]
    ids, inverse = np.unique(cl, return_inverse=True)
    if len(values) - np.bincount(np.searchsorted(ids, only), minlength=len(ids)).max(initial=0) < k:
        return None
    r = np.vander(x, k, increasing=True)
    total = 0.0
    for g in range(len(ids)):
        inside = inverse == g
        hat = r[inside] @ inv @ r[inside].T * w[inside]  # H_gg = R_g Γ⁻¹ R_g' W_g
        one_minus = np.eye(int(inside.sum())) - hat
        if vce == CR3:
            adjusted = np.linalg.solve(one_minus, res[inside])
        else:
            adjusted = np.linalg.solve(np.real(sqrtm(one_minus)), res[inside])
        total += float(coef[inside] @ adjusted) ** 2
    return total


def partialled(r, w, z, cols):
    """Columns minus z·γ, γ = pinv(Σ w z̃ z̃') Σ w z̃ c̃ (tilde: residuals of the w-weighted fit on r), rdrobust's."""
    proj = r @ np.linalg.pinv(r.T @ (w[:, None] * r)) @ (r.T * w)
    zt, ct = z - proj @ z, cols - proj @ cols
    gamma = np.linalg.pinv(zt.T @ (w[:, None] * zt)) @ (zt.T @ (w[:, None] * ct))
    return gamma


def _constants(side, o, nu, pilot, h_b, scale, kernel, vce):
    """rdrobust_bw on one side: (V, B, R), None when a fit is not identified."""
    x, y, t, cl, z = side
    clustered = cl is not None
    w = weights(x, kernel, pilot)
    inside = w > 0
    ex, ew = x[inside], w[inside]
    if len(np.unique(ex)) < o + 1 or (vce == HC1 and not clustered and len(ex) <= o + 1):
        return None
    r = np.vander(ex / pilot, o + 1, increasing=True)  # powers of x/c (rdrobust: of x; the same fit)
    g = r.T @ (ew[:, None] * r)
    if not np.linalg.eigvalsh(g)[0] > 0:
        return None
    inv = np.linalg.inv(g)
    if z is not None:  # covariates: partialled out on this pilot window, as rdrobust's s = (1, −γ)
        cols = np.column_stack([y] if t is None else [y, t])
        gamma = partialled(r, ew, z[inside], cols[inside])
        cols = cols - z @ gamma
        y, t = cols[:, 0], None if t is None else cols[:, 1]
    if t is not None:  # fuzzy: rdrobust's s = (1/τ_T, −τ_Y/τ_T²) from this pilot fit
        tau_y, tau_t = factorial(nu) * (inv @ (r.T @ (ew[:, None] * np.column_stack([y, t])[inside])))[nu] / pilot**nu
        y = y / tau_t - t * tau_y / tau_t**2
    ey = y[inside]
    ecl = cl[inside] if clustered else None
    beta = inv @ (r.T @ (ew * ey))
    res = residuals(ex, ey, r, ew, inv, beta, vce, clustered)
    v_v = variance(ew * (r @ inv[nu]), res, ex / pilot, ew, inv, ecl, vce)
    if v_v is None:
        return None
    v_v /= pilot ** (2 * nu)
    b_const = (inv @ ((ew[:, None] * r).T @ (ex / pilot) ** (o + 1)))[nu]
    wb = weights(x, kernel, h_b)
    bx, by, bw = x[wb > 0], y[wb > 0], wb[wb > 0]
    if len(np.unique(bx)) < o + 2 or (vce == HC1 and not clustered and scale > 0 and len(bx) <= o + 2):
        return None
    rb = np.vander(bx / h_b, o + 2, increasing=True)
    gb = rb.T @ (bw[:, None] * rb)
    if not np.linalg.eigvalsh(gb)[0] > 0:
        return None
    inv_b = np.linalg.inv(gb)
    beta_b = inv_b @ (rb.T @ (bw * by))
    reg = 0.0
    if scale > 0:
        res_b = residuals(bx, by, rb, bw, inv_b, beta_b, vce, clustered)
        v_b = variance(bw * (rb @ inv_b[-1]), res_b, bx / h_b, bw, inv_b, cl[wb > 0] if clustered else None, vce)
        if v_b is None:
            return None
        reg = 3 * b_const**2 * v_b / h_b ** (2 * (o + 1))
    found = (
        (2 * nu + 1) * pilot ** (2 * nu + 1) * v_v,
        np.sqrt(2 * (o + 1 - nu)) * b_const * beta_b[-1] / h_b ** (o + 1),
        scale * 2 * (o + 1 - nu) * reg,
    )
    return found if np.isfinite(found).all() else None


def reference_select(x, y, t, cl, z, p, deriv, kernel, vce, method, adjust):
    """rdbwselect's (h₋, h₊, b₋, b₊) for `method` (the module docstring of `bandwidth`) on sorted x; None when
    undefined.  t: the take-up (fuzzy) or None; cl: cluster ids or None; z: covariates (n, kz) or None."""
    q, n = p + 1, len(x)
    if n < 20:
        return (max(abs(x[0]), abs(x[-1])),) * 4
    sd_x, sd_y = np.std(x, ddof=1), np.std(y, ddof=1)
    q25, q75 = (x[int(np.floor(n * s))] if n * s != np.floor(n * s) else (x[int(n * s) - 1] + x[int(n * s)]) / 2
                for s in (0.25, 0.75))  # fmt: skip
    c_k = {EPANECHNIKOV: 2.34, UNIFORM: 1.843}.get(kernel, 2.576)
    xs, ys = x / sd_x, y / sd_y
    masks = [xs < 0, xs >= 0]
    if t is not None and min(np.var(t[m]) for m in masks) == 0:
        t = None  # rdrobust selects on y alone when the take-up is constant on a side
    sides = [tuple(None if a is None else a[m] for a in (xs, ys, t, cl, z)) for m in masks]
    distinct = [len(np.unique(s[0])) for s in sides]
    pilot = c_k * min(1.0, (q75 - q25) / sd_x / 1.349) * (sum(distinct) if adjust else n) ** (-0.2)
    ranges = np.array([abs(xs[0]), abs(xs[-1])])
    pilot = min(pilot, ranges.max())
    floors = np.zeros(2)
    if adjust and any(1 - m / len(s[0]) >= 0.2 for m, s in zip(distinct, sides, strict=True)):
        floors = np.array([np.unique(np.abs(s[0]))[min(10, m) - 1] for m, s in zip(distinct, sides, strict=True)])
        floors *= 1 + EPS_ROOT
        pilot = max(pilot, floors.max())

    def both(o, nu, h_bs, scale):
        found = [_constants(s, o, nu, pilot, hb, scale, kernel, vce) for s, hb in zip(sides, h_bs, strict=True)]
        return None if None in found else np.array(found)

    c_d = both(q + 1, q + 1, ranges * (1 + EPS_ROOT), 0.0)
    if c_d is None:
        return None

    def pooled(c, sign, rate):
        return min(((c[0, 0] + c[1, 0]) / ((c[1, 1] + sign * c[0, 1]) ** 2 + c[0, 2] + c[1, 2])) ** rate, ranges.max())

    def common(sign):
        d = max(pooled(c_d, sign, 1 / (2 * q + 5)), floors.max())
        c_b = both(q, p + 1, [d, d], 1.0)
        b = None if c_b is None else pooled(c_b, sign, 1 / (2 * q + 3))
        c_h = None if b is None else both(p, deriv, [b, b], 1.0)
        return None if c_h is None else (pooled(c_h, sign, 1 / (2 * p + 3)), b)

    def two():
        d = np.maximum(np.minimum((c_d[:, 0] / c_d[:, 1] ** 2) ** (1 / (2 * q + 5)), ranges), floors)
        c_b = both(q, p + 1, d, 1.0)
        if c_b is None:
            return None
        b = np.minimum((c_b[:, 0] / (c_b[:, 1] ** 2 + c_b[:, 2])) ** (1 / (2 * q + 3)), ranges)
        c_h = both(p, deriv, b, 1.0)
        if c_h is None:
            return None
        return np.minimum((c_h[:, 0] / (c_h[:, 1] ** 2 + c_h[:, 2])) ** (1 / (2 * p + 3)), ranges), b

    need_two = method in (MSETWO, CERTWO, MSECOMB2, CERCOMB2)
    need_sum = method in (MSESUM, CERSUM, MSECOMB1, MSECOMB2, CERCOMB1, CERCOMB2)
    need_rd = method not in (MSETWO, CERTWO, MSESUM, CERSUM)
    found = {
        "rd": common(-1.0) if need_rd else 0,
        "sum": common(1.0) if need_sum else 0,
        "two": two() if need_two else 0,
    }
    if any(v is None for v in found.values()):
        return None
    if method in (MSETWO, CERTWO):
        (h_l, h_r), (b_l, b_r) = found["two"]
    elif method in (MSESUM, CERSUM):
        h_l = h_r = found["sum"][0]
        b_l = b_r = found["sum"][1]
    elif method in (MSECOMB1, CERCOMB1):
        h_l = h_r = min(found["rd"][0], found["sum"][0])
        b_l = b_r = min(found["rd"][1], found["sum"][1])
    elif method in (MSECOMB2, CERCOMB2):
        (h_l, h_r), (b_l, b_r) = (
            [np.median([found["rd"][j], found["sum"][j], found["two"][j][s]]) for s in range(2)] for j in range(2)
        )
    else:
        h_l = h_r = found["rd"][0]
        b_l = b_r = found["rd"][1]
    hb = np.array([h_l, h_r, b_l, b_r])
    if method in (CERRD, CERSUM, CERTWO, CERCOMB1, CERCOMB2):
        units = n if cl is None else sum(len(np.unique(s[3])) for s in sides)
        hb[:2] *= units ** (-(p / ((3 + p) * (3 + 2 * p))))
    hb *= sd_x
    return hb if np.isfinite(hb).all() and (hb > 0).all() else None
