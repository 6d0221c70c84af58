"""The plain twin of `matching.match_kernel`: nearest-neighbour matching as R's Matching organises it.

One replication at a time in numpy: brute-force distances from each unit,
the matched pairs as (unit, match, 1/Mᵢ) rows, K and KK by bincount, the
Abadie–Imbens variance from those rows.  The formulas are in `matching`'s
docstring; this module shares no code with its kernel.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .. import status as st
from ..inference import normal_critical, write_failure, write_wald
from ..spec import CORE_COLUMNS
from . import common
from .propensity import LOGIT, reference_propensity


def reference_match(batch, truth, options, level, out, status):
    """Plain numpy, one replication at a time, as R Matching organises it: brute-force distances from each unit,
    the matched pairs as (unit, match, 1/Mᵢ) rows, K and KK by bincount, the variance from those rows."""
    cov_all = common.covariates(batch, options)
    crit = normal_critical(level)
    for r in range(batch["y"].shape[0]):
        code, est, se, diagnostics = _reference_one(batch["y"][r], batch["treatment"][r], cov_all[r], options)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        write_wald(out, status, r, est, se, crit, truth[r])
        if status[r] == st.OK:
            out[r, len(CORE_COLUMNS) :] = diagnostics


def _reference_one(y, d, x, options):
    """(status, estimate, se, diagnostics) of one replication; x has shape (p, n)."""
    failed = (np.nan, np.nan, None)
    treated = d > 0.5
    n, p = len(y), x.shape[0]
    n1, n0 = int(treated.sum()), int((~treated).sum())
    m, big_j = options["m"], options["var_matches"]
    ate = options["estimand"] == "ate"
    on_ps = options["on"] == "propensity"
    adjust_ps = on_ps and options["ps_se"] == "ai2016"
    if n1 == 0 or n0 == 0:
        return st.NO_VARIATION, *failed
    if on_ps:
        code, beta, _, info = reference_propensity(x, d, LOGIT)
        if code != st.OK:
            return code, *failed
        # The score unit by unit (elementwise), so that identical covariate rows get identical scores and tie;
        # a BLAS product x @ β may round the same row differently at different positions.
        ps = special.expit(beta[0] + np.sum(beta[1:, None] * x, axis=0))

        def distances(i):
            return (ps - ps[i]) ** 2

    else:
        if options["metric"] == "inverse_variance" or p == 1:
            variances = np.var(x, axis=1, ddof=1)
            if not (variances > 0).all():
                return st.SINGULAR, *failed
            a_mat = np.diag(1 / variances)
        else:
            s_mat = np.cov(x)
            if np.linalg.matrix_rank(s_mat) < p:
                return st.SINGULAR, *failed
            a_mat = np.linalg.inv(s_mat)

        def distances(i):
            delta = (x - x[:, [i]]).T
            return np.einsum("ja,ab,jb->j", delta, a_mat, delta)

    if n0 < m or (ate and n1 < m) or (adjust_ps and not ate and n1 < m):
        return st.NO_OVERLAP, *failed
    if big_j > 0 and (n0 < big_j + 1 or (ate and n1 < big_j + 1)):
        return st.NO_RESIDUAL_DF, *failed
    if adjust_ps and (n0 < big_j or n1 < big_j):
        return st.NO_RESIDUAL_DF, *failed

    def nearest(i, group_mask, k, exclude_self):
        candidates = np.flatnonzero(group_mask & (np.arange(n) != i)) if exclude_self else np.flatnonzero(group_mask)
        dc = distances(i)[candidates]
        return candidates[dc <= np.sort(dc)[k - 1]]

    # Matched pairs (unit, match, weight) of the target units.
    target = np.ones(n, bool) if ate else treated
    rows_i, rows_j, rows_w = [], [], []
    imputed = np.full(n, np.nan)
    for i in range(n):
        if target[i] or adjust_ps:
            found = nearest(i, ~treated if treated[i] else treated, m, False)
            imputed[i] = y[found].mean()
            if target[i]:
                rows_i += [i] * len(found)
                rows_j += list(found)
                rows_w += [1 / len(found)] * len(found)
    rows_i, rows_j, rows_w = np.array(rows_i), np.array(rows_j), np.array(rows_w)
    k_count = np.bincount(rows_j, weights=rows_w, minlength=n)
    kk_count = np.bincount(rows_j, weights=rows_w**2, minlength=n)
    # Bias adjustment: least squares of y on [1, x] in each group, weighted by K.
    alpha = {0: np.zeros(p), 1: np.zeros(p)}
    if options["bias_adjust"] == "regression":
        for g in (0, 1) if ate else (0,):
            use = (treated == bool(g)) & (k_count > 0)
            design = np.column_stack([np.ones(use.sum()), x[:, use].T]) * np.sqrt(k_count[use])[:, None]
            if np.linalg.matrix_rank(design) < p + 1:
                return st.SINGULAR, *failed
            alpha[g] = np.linalg.lstsq(design, y[use] * np.sqrt(k_count[use]), rcond=None)[0][1:]
    # Pair differences τ̂ᵢⱼ (treated minus control, bias-adjusted), and τ̂ᵢ their weighted means.
    sign = np.where(treated[rows_i], 1.0, -1.0)
    match_group = np.where(treated[rows_i], 0, 1)
    adjustment = np.array([(x[:, i] - x[:, j]) @ alpha[g] for i, j, g in zip(rows_i, rows_j, match_group)])
    pair = sign * (y[rows_i] - y[rows_j]) - sign * adjustment if len(rows_i) else np.zeros(0)
    tau = np.full(n, np.nan)
    tau[target] = np.bincount(rows_i, weights=rows_w * pair, minlength=n)[target]
    if adjust_ps and not ate:
        tau[~treated] = imputed[~treated] - y[~treated]
    est = np.sum(rows_w * pair) / np.sum(rows_w)
    n_target = target.sum()
    # Conditional variances: within-group matching (J ≥ 1) or one pooled value (J = 0).
    if big_j == 0:
        sigma2 = np.full(n, 0.5 * np.sum(rows_w * (pair - est) ** 2) / np.sum(rows_w))
    else:
        sigma2 = np.zeros(n)
        for j in np.flatnonzero(k_count > 0):
            own = nearest(j, treated == treated[j], big_j, True)
            sigma2[j] = np.var(y[np.append(own, j)], ddof=1)
    factor = k_count**2 - kk_count + (2 * k_count if ate else 0)
    var = (np.sum(sigma2 * factor) + np.sum((tau[target] - est) ** 2)) / n_target**2
    if adjust_ps:
        f = ps * (1 - ps)
        x1 = np.vstack([np.ones(n), x])  # (k, n), intercept first
        c = np.zeros(p + 1)
        for i in range(n):
            for g in (0, 1):
                h = nearest(i, treated == bool(g), big_j, False)
                cov_row = (x1[:, h] - x1[:, h].mean(axis=1, keepdims=True)) @ (y[h] - y[h].mean()) / (len(h) - 1)
                if ate:
                    scale = 1 / ps[i] if g == 1 else 1 / (1 - ps[i])
                else:
                    scale = 1.0 if g == 1 else ps[i] / (1 - ps[i])
                c += f[i] * scale * cov_row
        c /= n_target
        info_inv = np.linalg.inv(info)
        var -= c @ info_inv @ c
        if not ate:
            dvec = x1 @ (f * (tau - est)) / n_target
            var += dvec @ info_inv @ dvec
    se = np.sqrt(var) if var > 0 else np.nan
    # Diagnostics.
    if n1 < 2 or n0 < 2:
        smd = np.nan
    else:
        xhat = {0: np.where(~treated, x, 0.0), 1: np.where(treated, x, 0.0)}
        for i, j, w in zip(rows_i, rows_j, rows_w):
            xhat[0 if treated[i] else 1][:, i] += w * x[:, j]
        diff = np.abs(xhat[1][:, target].mean(axis=1) - xhat[0][:, target].mean(axis=1))
        sd = np.sqrt((np.var(x[:, treated], axis=1, ddof=1) + np.var(x[:, ~treated], axis=1, ddof=1)) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            smd = np.max(np.where(sd > 0, diff / sd, np.where(diff == 0, 0.0, np.inf)))
    ps_range = (ps.min(), ps.max()) if on_ps else (np.nan, np.nan)
    diagnostics = np.array([smd, np.sum(k_count > 0), k_count.max(), *ps_range])
    return st.OK, est, se, diagnostics
