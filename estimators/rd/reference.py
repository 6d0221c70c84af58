"""Plain numpy twin of `local_polynomial.rd_kernel`: rdrobust's matrices, one replication at a time."""

from __future__ import annotations

from math import factorial

import numpy as np

from .. import status as st
from ..inference import normal_critical
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE
from .conventions import FIXED, HC1, HC2, HII_FLOOR, NN, NN_MATCHES, codes, design
from .reference_bandwidth import nn, reference_select, variance, weights


def _side(x, y, cl, p, deriv, kernel, h, b, vce):
    """(status, N_h, ν!β_p[ν], ν!β_bc[ν], V_cl, V_rb) of one side, x sorted; cl the cluster ids or None."""
    q = p + 1
    wh, wb = weights(x, kernel, h), weights(x, kernel, b)
    n_h = int((wh > 0).sum())
    if len(np.unique(x[wh > 0])) < p + 1 or len(np.unique(x[wb > 0])) < q + 1:
        return st.TOO_FEW_OBSERVATIONS, n_h
    keep = wh > 0 if h > b else wb > 0
    x, y, wh, wb = x[keep], y[keep], wh[keep], wb[keep]
    cl = None if cl is None else cl[keep]
    m = len(x)
    if vce == HC1 and cl is None and m <= q + 1:
        return st.NO_RESIDUAL_DF, n_h
    r_p = np.vander(x / h, p + 1, increasing=True)  # powers of x/h and x/b: rdrobust's fits, better conditioned
    r_q = np.vander(x / b, q + 1, increasing=True)
    g_p, g_q = r_p.T @ (wh[:, None] * r_p), r_q.T @ (wb[:, None] * r_q)
    if min(np.linalg.eigvalsh(g_p)[0], np.linalg.eigvalsh(g_q)[0]) <= 0:
        return st.SINGULAR, n_h
    inv_p, inv_q = np.linalg.inv(g_p), np.linalg.inv(g_q)
    lead = (wh[:, None] * r_p).T @ (x / h) ** (p + 1)
    qq = wh[:, None] * r_p - (h / b) ** (p + 1) * np.outer((r_q @ inv_q[p + 1]) * wb, lead)
    beta_p, beta_q = inv_p @ (r_p.T @ (wh * y)), inv_q @ (r_q.T @ (wb * y))
    beta_bc = inv_p @ (qq.T @ y)
    if vce == NN and cl is None:
        res_h = res_b = nn(x, y, NN_MATCHES)
    else:
        res_h, res_b = y - r_p @ beta_p, y - r_q @ beta_q
        if cl is not None:
            pass  # cluster-robust (cr1, cr2, cr3): the plain residuals
        elif vce == HC1:
            res_h, res_b = res_h * np.sqrt(m / (m - p - 1)), res_b * np.sqrt(m / (m - q - 1))
        elif vce >= HC2:
            power = 0.5 if vce == HC2 else 1.0
            hii_p = np.einsum("ij,jk,ik->i", r_p, inv_p, r_p) * wh
            hii_q = np.einsum("ij,jk,ik->i", r_q, inv_q, r_q) * wb
            res_h = res_h / np.maximum(1 - hii_p, HII_FLOOR) ** power
            res_b = res_b / np.maximum(1 - hii_q, HII_FLOOR) ** power
    # clustered: the conventional variance with the p fit's leverage, the robust one with the q fit's (rdrobust's)
    v_cl = variance((wh[:, None] * r_p) @ inv_p[deriv], res_h, x / h, wh, inv_p, cl, vce)
    v_rb = variance(qq @ inv_p[deriv], res_b, x / b, wb, inv_q, cl, vce)
    if v_cl is None or v_rb is None:
        return st.LEVERAGE_ONE, n_h
    v_cl, v_rb = v_cl / h ** (2 * deriv), v_rb / h ** (2 * deriv)
    f = factorial(deriv) / h**deriv  # the coefficient of x^ν is that of u^ν over h^ν
    return st.OK, n_h, f * beta_p[deriv], f * beta_bc[deriv], factorial(deriv) ** 2 * v_cl, factorial(deriv) ** 2 * v_rb


def _sides(x, y, cl, p, deriv, kernel, hb, vce):
    neg = x < 0
    left = _side(x[neg], y[neg], None if cl is None else cl[neg], p, deriv, kernel, hb[0], hb[2], vce)
    right = _side(x[~neg], y[~neg], None if cl is None else cl[~neg], p, deriv, kernel, hb[1], hb[3], vce)
    return left, right, left[0] if left[0] != st.OK else right[0]


def _rows(left, right):
    """(estimate, se) of the three rows of the contrasts right − left."""
    se_cl, se_rb = np.sqrt(left[4] + right[4]), np.sqrt(left[5] + right[5])
    return [(right[2] - left[2], se_cl), (right[3] - left[3], se_cl), (right[3] - left[3], se_rb)]


def _adjusted(x, y, t, z, p, kernel, hb):
    """y − z'γ_Y (and t − z'γ_T), γ from the h-weighted partialled cross-products summed over both sides."""
    cols = np.column_stack([y] if t is None else [y, t])
    zwz, zwc = 0.0, 0.0
    for side, h in ((x < 0, hb[0]), (x >= 0, hb[1])):
        w = weights(x[side], kernel, h)
        inside = w > 0
        r = np.vander(x[side][inside] / h, p + 1, increasing=True)
        proj = r @ np.linalg.inv(r.T @ (w[inside, None] * r)) @ (r.T * w[inside])
        zt = z[side][inside] - proj @ z[side][inside]
        ct = cols[side][inside] - proj @ cols[side][inside]
        zwz = zwz + zt.T @ (w[inside, None] * zt)
        zwc = zwc + zt.T @ (w[inside, None] * ct)
    cols = cols - z @ (np.linalg.pinv(zwz) @ zwc)
    return cols[:, 0], None if t is None else cols[:, 1]


def reference_rd(batch, truth, options, level, out, status):
    p, kernel, h_fixed, b_fixed, vce, bwselect = codes(options)
    deriv, fuzzy, clustered, adjust = design(options)
    crit = normal_critical(level)
    for r in range(batch["x"].shape[0]):
        order = np.argsort(batch["x"][r], kind="stable")
        x, y = batch["x"][r][order], batch["y"][r][order]
        t = batch[options["fuzzy"]][r][order].astype(float) if fuzzy else None
        cl = batch[options["cluster"]][r][order] if clustered else None
        covs = [np.reshape(batch[name][r], (-1, len(x))) for name in options.get("covs") or ()]
        z = np.vstack(covs)[:, order].T if covs else None
        hb = [h_fixed, h_fixed, b_fixed, b_fixed]
        if bwselect != FIXED:
            if not 0 < (x < 0).sum() < len(x):
                out[r], status[r] = np.nan, st.TOO_FEW_OBSERVATIONS
                out[r, :, 7:9] = 0.0
                continue
            hb = reference_select(x, y, t, cl, z, p, deriv, kernel, vce, bwselect, adjust)
            if hb is None:
                out[r], status[r] = np.nan, st.SINGULAR
                continue
        if z is not None:  # one γ for both sides: the partialled cross-products summed over the sides
            y, t = _adjusted(x, y, t, z, p, kernel, hb)
        left, right, code = _sides(x, y, cl, p, deriv, kernel, hb, vce)
        out[r, :, 5:] = [hb[0], hb[2], left[1], right[1], hb[1], hb[3]]
        if code == st.OK and fuzzy:
            t_left, t_right, code = _sides(x, t, cl, p, deriv, kernel, hb, vce)
        if code != st.OK:
            out[r, :, :5], status[r] = np.nan, code
            continue
        rows = _rows(left, right)
        if fuzzy:
            first = _rows(t_left, t_right)
            (tau_y, _), (tau_y_bc, _), _ = rows
            tau_t, tau_t_bc = first[0][0], first[1][0]
            s = np.array([1 / tau_t, -tau_y / tau_t**2])
            tau = tau_y / tau_t
            tau_bc = tau - s @ [tau_y - tau_y_bc, tau_t - tau_t_bc]
            (_, se_cl), _, (_, se_rb) = _rows(*_sides(x, s[0] * y + s[1] * t, cl, p, deriv, kernel, hb, vce)[:2])
            rows = [(tau, se_cl), (tau_bc, se_cl), (tau_bc, se_rb)] + first
        for j, (estimate, se) in enumerate(rows):
            if not (se > 0 and np.isfinite(se)):
                out[r, j, :5], status[r, j] = np.nan, st.NO_VARIATION
                continue
            out[r, j, [ESTIMATE, SE, CI_LOW, CI_HIGH]] = estimate, se, estimate - crit * se, estimate + crit * se
            reject = float(abs(estimate - truth[r, j]) > crit * se)
            out[r, j, REJECT] = reject if np.isfinite(truth[r, j]) else np.nan
            status[r, j] = st.OK
