"""Plain numpy twin of `local_polynomial.rd_kernel`: rdrobust's matrices, one replication at a time."""

from __future__ import annotations

import numpy as np

from .. import status as st
from ..inference import normal_critical
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE
from .conventions import EPANECHNIKOV, HC1, HC2, HII_FLOOR, MSERD, NN, NN_MATCHES, UNIFORM, codes


def _weights(x, kernel, bandwidth):
    u = x / bandwidth
    inside = np.abs(u) <= 1
    shape = [1 - np.abs(u), 0.75 * (1 - u**2), np.full_like(u, 0.5)][kernel]
    return np.where(inside, shape, 0.0) / bandwidth


def _nn(x, y, matches):
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
                tol = max(dl, dr) * np.sqrt(np.finfo(float).eps)
                take_left, take_right = dr - dl > tol or abs(dl - dr) <= tol, dl - dr > tol or abs(dl - dr) <= tol
            if take_left:
                lo = int(np.searchsorted(x, x[lo - 1], side="left"))
            if take_right:
                hi = int(np.searchsorted(x, x[hi], side="right"))
        j = hi - lo - 1
        res[i] = np.sqrt(j / (j + 1)) * (y[i] - (y[lo:hi].sum() - y[i]) / j)
    return res


def _residuals(x, y, r, w, inv, beta, vce):
    """The fit's residuals as the variance uses them (nn, or hc with d = the fit's coefficients)."""
    if vce == NN:
        return _nn(x, y, NN_MATCHES)
    res = y - r @ beta
    if vce == HC1:
        return res * np.sqrt(len(x) / (len(x) - r.shape[1]))
    if vce >= HC2:
        hii = np.einsum("ij,jk,ik->i", r, inv, r) * w
        return res / np.maximum(1 - hii, HII_FLOOR) ** (0.5 if vce == HC2 else 1.0)
    return res


def _bw_constants(x, y, o, nu, pilot, h_b, scale, kernel, vce):
    """rdrobust_bw on one side: (V, B, R), None when a fit is not identified."""
    w = _weights(x, kernel, pilot)
    ex, ey, ew = x[w > 0], y[w > 0], w[w > 0]
    if len(np.unique(ex)) < o + 1 or (vce == HC1 and len(ex) <= o + 1):
        return None
    r = np.vander(ex / pilot, o + 1, increasing=True)  # powers of x/c (rdrobust: of x; the same fit)
    g = r.T @ (ew[:, None] * r)
    if not np.linalg.eigvalsh(g)[0] > 0:
        return None
    inv = np.linalg.inv(g)
    beta = inv @ (r.T @ (ew * ey))
    res = _residuals(ex, ey, r, ew, inv, beta, vce)
    v_v = (inv @ ((res[:, None] * ew[:, None] * r).T @ (res[:, None] * ew[:, None] * r)) @ inv)[nu, nu] / pilot ** (
        2 * nu
    )
    b_const = (inv @ ((ew[:, None] * r).T @ (ex / pilot) ** (o + 1)))[nu]
    wb = _weights(x, kernel, h_b)
    bx, by, bw = x[wb > 0], y[wb > 0], wb[wb > 0]
    if len(np.unique(bx)) < o + 2 or (vce == HC1 and scale > 0 and len(bx) <= o + 2):
        return None
    rb = np.vander(bx / h_b, o + 2, increasing=True)
    gb = rb.T @ (bw[:, None] * rb)
    if not np.linalg.eigvalsh(gb)[0] > 0:
        return None
    inv_b = np.linalg.inv(gb)
    beta_b = inv_b @ (rb.T @ (bw * by))
    reg = 0.0
    if scale > 0:
        res_b = _residuals(bx, by, rb, bw, inv_b, beta_b, vce)
        score = res_b[:, None] * bw[:, None] * rb
        reg = 3 * b_const**2 * (inv_b @ (score.T @ score) @ inv_b)[-1, -1] / h_b ** (2 * (o + 1))
    return (
        (2 * nu + 1) * pilot ** (2 * nu + 1) * v_v,
        np.sqrt(2 * (o + 1 - nu)) * b_const * beta_b[-1] / h_b ** (o + 1),
        scale * 2 * (o + 1 - nu) * reg,
    )


def reference_mserd(x, y, p, kernel, vce):
    """rdbwselect's mserd (the module docstring of `bandwidth`) on sorted x; None when undefined."""
    q, n = p + 1, len(x)
    if n < 20:
        return max(abs(x[0]), abs(x[-1])), max(abs(x[0]), abs(x[-1]))
    sd_x, sd_y = np.std(x, ddof=1), np.std(y, ddof=1)
    q25, q75 = (x[int(np.floor(n * t))] if n * t != np.floor(n * t) else (x[int(n * t) - 1] + x[int(n * t)]) / 2
                for t in (0.25, 0.75))  # fmt: skip
    c_k = {EPANECHNIKOV: 2.34, UNIFORM: 1.843}.get(kernel, 2.576)
    xs, ys = x / sd_x, y / sd_y
    sides = [(xs[xs < 0], ys[xs < 0]), (xs[xs >= 0], ys[xs >= 0])]
    distinct = [len(np.unique(s[0])) for s in sides]
    pilot = c_k * min(1.0, (q75 - q25) / sd_x / 1.349) * sum(distinct) ** (-0.2)
    ranges = [abs(xs[0]), abs(xs[-1])]
    pilot = min(pilot, max(ranges))
    mass = any(1 - m / len(s[0]) >= 0.2 for m, s in zip(distinct, sides, strict=True))
    floor = 0.0
    if mass:
        nearest = [np.unique(np.abs(s[0]))[min(10, m) - 1] for m, s in zip(distinct, sides, strict=True)]
        floor = max(nearest) * (1 + np.sqrt(np.finfo(float).eps))
        pilot = max(pilot, floor)

    def both(o, nu, h_bs, scale):
        found = [_bw_constants(s[0], s[1], o, nu, pilot, hb, scale, kernel, vce) for s, hb in zip(sides, h_bs)]
        return None if None in found else found

    def optimum(c, rate):
        (v_l, b_l, r_l), (v_r, b_r, r_r) = c
        return min(((v_l + v_r) / ((b_r - b_l) ** 2 + r_l + r_r)) ** rate, max(ranges))

    c_d = both(q + 1, q + 1, [rng * (1 + np.sqrt(np.finfo(float).eps)) for rng in ranges], 0.0)
    if c_d is None:
        return None
    d = max(optimum(c_d, 1 / (2 * q + 5)), floor)
    c_b = both(q, p + 1, [d, d], 1.0)
    if c_b is None:
        return None
    b = optimum(c_b, 1 / (2 * q + 3))
    c_h = both(p, 0, [b, b], 1.0)
    if c_h is None:
        return None
    h, b = sd_x * optimum(c_h, 1 / (2 * p + 3)), sd_x * b
    return (h, b) if np.isfinite(h) and np.isfinite(b) and h > 0 and b > 0 else None


def _side(x, y, p, kernel, h, b, vce):
    """(status, β_p[0], β_bc[0], V_cl, V_rb, N_h) of one side, x sorted."""
    q = p + 1
    wh, wb = _weights(x, kernel, h), _weights(x, kernel, b)
    n_h = int((wh > 0).sum())
    if len(np.unique(x[wh > 0])) < p + 1 or len(np.unique(x[wb > 0])) < q + 1:
        return st.TOO_FEW_OBSERVATIONS, n_h
    keep = wh > 0 if h > b else wb > 0
    x, y, wh, wb = x[keep], y[keep], wh[keep], wb[keep]
    m = len(x)
    if vce == HC1 and m <= q + 1:
        return st.NO_RESIDUAL_DF, n_h
    r_q = np.vander(x, q + 1, increasing=True)
    r_p = r_q[:, : p + 1]
    g_p, g_q = r_p.T @ (wh[:, None] * r_p), r_q.T @ (wb[:, None] * r_q)
    if min(np.linalg.eigvalsh(g_p)[0], np.linalg.eigvalsh(g_q)[0]) <= 0:
        return st.SINGULAR, n_h
    inv_p, inv_q = np.linalg.inv(g_p), np.linalg.inv(g_q)
    lead = (wh[:, None] * r_p).T @ (x / h) ** (p + 1)
    qq = wh[:, None] * r_p - h ** (p + 1) * np.outer((r_q @ inv_q[p + 1]) * wb, lead)
    beta_p, beta_q = inv_p @ (r_p.T @ (wh * y)), inv_q @ (r_q.T @ (wb * y))
    beta_bc = inv_p @ (qq.T @ y)
    if vce == NN:
        res_h = res_b = _nn(x, y, NN_MATCHES)
    else:
        res_h, res_b = y - r_p @ beta_p, y - r_q @ beta_q
        if vce == HC1:
            res_h, res_b = res_h * np.sqrt(m / (m - p - 1)), res_b * np.sqrt(m / (m - q - 1))
        elif vce >= HC2:
            power = 0.5 if vce == HC2 else 1.0
            hii_p = np.einsum("ij,jk,ik->i", r_p, inv_p, r_p) * wh
            hii_q = np.einsum("ij,jk,ik->i", r_q, inv_q, r_q) * wb
            res_h = res_h / np.maximum(1 - hii_p, HII_FLOOR) ** power
            res_b = res_b / np.maximum(1 - hii_q, HII_FLOOR) ** power
    v_cl = inv_p @ ((res_h[:, None] * wh[:, None] * r_p).T @ (res_h[:, None] * wh[:, None] * r_p)) @ inv_p
    v_rb = inv_p @ ((res_b[:, None] * qq).T @ (res_b[:, None] * qq)) @ inv_p
    return st.OK, n_h, beta_p[0], beta_bc[0], v_cl[0, 0], v_rb[0, 0]


def reference_rd(batch, truth, options, level, out, status):
    p, kernel, h_fixed, b_fixed, vce, bwselect = codes(options)
    crit = normal_critical(level)
    for r in range(batch["x"].shape[0]):
        order = np.argsort(batch["x"][r], kind="stable")
        x, y = batch["x"][r][order], batch["y"][r][order]
        h, b = h_fixed, b_fixed
        if bwselect == MSERD:
            chosen = reference_mserd(x, y, p, kernel, vce) if 0 < (x < 0).sum() < len(x) else "empty side"
            if chosen is None or chosen == "empty side":
                out[r], status[r] = np.nan, st.SINGULAR if chosen is None else st.TOO_FEW_OBSERVATIONS
                if chosen == "empty side":
                    out[r, :, 7:] = 0.0
                continue
            h, b = chosen
        left, right = _side(x[x < 0], y[x < 0], p, kernel, h, b, vce), _side(x[x >= 0], y[x >= 0], p, kernel, h, b, vce)
        out[r, :, 5:] = [h, b, left[1], right[1]]
        code = left[0] if left[0] != st.OK else right[0]
        if code != st.OK:
            out[r, :, :5], status[r] = np.nan, code
            continue
        se_cl, se_rb = np.sqrt(left[4] + right[4]), np.sqrt(left[5] + right[5])
        tau_cl, tau_bc = right[2] - left[2], right[3] - left[3]
        for j, (estimate, se) in enumerate([(tau_cl, se_cl), (tau_bc, se_cl), (tau_bc, se_rb)]):
            if not (se > 0 and np.isfinite(se)):
                out[r, j, :5], status[r, j] = np.nan, st.NO_VARIATION
                continue
            out[r, j, [ESTIMATE, SE, CI_LOW, CI_HIGH]] = estimate, se, estimate - crit * se, estimate + crit * se
            reject = float(abs(estimate - truth[r, j]) > crit * se)
            out[r, j, REJECT] = reject if np.isfinite(truth[r, j]) else np.nan
            status[r, j] = st.OK
