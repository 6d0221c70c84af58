"""Plain numpy twin of `local_polynomial.rd_kernel`: rdrobust's matrices, one replication at a time."""

from __future__ import annotations

import numpy as np

from .. import status as st
from ..inference import normal_critical
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE
from .conventions import HC1, HC2, HII_FLOOR, NN, NN_MATCHES, codes


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
    p, kernel, h, b, vce = codes(options)
    crit = normal_critical(level)
    for r in range(batch["x"].shape[0]):
        order = np.argsort(batch["x"][r], kind="stable")
        x, y = batch["x"][r][order], batch["y"][r][order]
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
