"""Plain numpy twin of `density.density_kernel`: rddensity's matrices (one design for both sides), one
replication at a time."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .. import status as st
from ..inference import normal_critical, positive_definite
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE
from .density_constants import (
    COMB,
    DIFF,
    EACH,
    F_LEFT,
    F_RIGHT,
    FIXED,
    H_LEFT,
    H_RIGHT,
    JACKKNIFE,
    N_LEFT,
    N_RIGHT,
    P_VALUE,
    T_STAT,
    kernel_arguments,
)
from .reference_bandwidth import weights


def _fit(x, y, n, h_left, h_right, order, s, kernel, vce, kappa):
    """rddensity's unrestricted fit on the window's sorted x: [f̂₋, f̂₊, β₋[s], β₊[s], var₋, var₊, var_diff,
    var_sum] (all NaN when the design is singular)."""
    left = x < 0
    h = np.where(left, h_left, h_right)
    w = weights(x, kernel, h)
    powers = (x / h)[:, None] ** np.arange(order + 1)
    design = np.zeros((len(x), 2 * order + 2))  # columns: left u⁰, right u⁰, left u¹, right u¹, …
    design[left, 0::2], design[~left, 1::2] = powers[left], powers[~left]
    scale = np.repeat([[h_left, h_right]], order + 1, axis=0) ** np.arange(order + 1)[:, None]
    scale = scale.reshape(-1)
    gram = design.T @ (w[:, None] * design)
    if len(x) == 0 or not positive_definite(gram):
        return np.full(8, np.nan)
    inv = np.linalg.inv(gram)
    near = np.where(left, y[left][-1] if left.any() else 0.0, y[~left][0] if (~left).any() else 0.0)
    beta = inv @ (design.T @ (w * (y - near))) / scale  # F̂ less its value nearest the cutoff: the same slopes
    if vce == JACKKNIFE:
        weighted = w[:, None] * design / (n - 1)
        tails = np.cumsum(weighted[::-1], axis=0)[::-1] - weighted  # Σ over the units after each
        _, first = np.unique(x, return_index=True)
        groups = np.searchsorted(x[first], x)
        tails = tails[first[groups]]  # a tie group takes the sum after its first member
        v = (inv @ tails.T @ tails @ inv) / np.outer(scale, scale)
        var = [v[2, 2], v[3, 3], v[2, 2] + v[3, 3] - 2 * v[2, 3], v[2, 2] + v[3, 3] + 2 * v[2, 3]]
    else:
        var_l, var_r = beta[2] * kappa / (n * h_left), beta[3] * kappa / (n * h_right)
        var = [var_l, var_r, var_l + var_r, var_l + var_r]
    var = [v if v >= 0 else np.nan for v in var]
    return np.array([beta[2], beta[3], beta[2 * s], beta[2 * s + 1], *var])


def _nearest(side, k):
    """rddensity's k-th nearest |x| on a side (its farthest when it has fewer), over units and distinct values."""
    distance = np.sort(np.abs(side))
    distinct = np.unique(distance)
    return max(distance[min(k, len(distance)) - 1], distinct[min(k, len(distinct)) - 1])


def reference_bandwidths(x, y, p, kernel, vce, kappa_p, bias_c, pilot_b, pilot_c):
    """rdbwdensity's (left, right, diff, sum) bandwidths on sorted x."""
    n = len(x)
    left, right = x[x < 0], x[x >= 0]
    z = x.mean() / x.std(ddof=1)
    hermite = np.polynomial.hermite_e.hermeval
    f_b = 1 / (hermite(z, np.eye(p + 3)[p + 2]) ** 2 * stats.norm.pdf(z))
    f_c = 1 / (hermite(z, np.eye(p + 1)[p]) ** 2 * stats.norm.pdf(z))
    far = np.abs(x).max()
    b = ((2 * p + 1) / 4 * f_b * pilot_b / n) ** (1 / (2 * p + 5)) * x.std(ddof=1)
    c = (1 / (2 * p) * f_c * pilot_c / n) ** (1 / (2 * p + 1)) * x.std(ddof=1)
    b = max(min(b, far), _nearest(left, p + 23), _nearest(right, p + 23))
    c = max(min(c, far), _nearest(left, p + 21), _nearest(right, p + 21))
    in_b, in_c = np.abs(x) <= b, np.abs(x) <= c
    fit_b = _fit(x[in_b], y[in_b], n, b, b, p + 2, p + 1, kernel, vce, 0.0)
    fit_c = _fit(x[in_c], y[in_c], n, c, c, p, 1, kernel, vce, kappa_p)
    bias_l, bias_r = fit_b[2] * bias_c * (-1) ** p, fit_b[3] * bias_c
    bias = np.array([bias_l, bias_r, bias_r - bias_l, bias_r + bias_l])
    variance = n * c * fit_c[4:]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (variance / (2 * p) / bias**2 / n) ** (1 / (2 * p + 1))
    h = np.where(np.isnan(h), 0.0, h)
    h = np.minimum(h, [abs(x[0]), x[-1], far, far])
    near_l, near_r = _nearest(left, p + 21), _nearest(right, p + 21)
    return np.maximum(h, [near_l, near_r, max(near_l, near_r), max(near_l, near_r)])


def reference_rd_density(batch, truth, options, level, out, status):
    p, kernel, bwselect, h_fixed, vce, kappa_p, kappa_q, bias_c, pilot_b, pilot_c = kernel_arguments(options)
    crit = normal_critical(level)
    out, status = out[:, 0], status[:, 0]
    for r in range(batch["x"].shape[0]):
        x = np.sort(batch["x"][r])
        n = len(x)
        out[r], n_left = np.nan, int((x < 0).sum())
        if n_left in (0, n):
            status[r], out[r, N_LEFT], out[r, N_RIGHT] = st.TOO_FEW_OBSERVATIONS, n_left, n - n_left
            continue
        _, last = np.unique(x[::-1], return_index=True)  # F̂ of a tie group: its last member's rank
        y = ((n - 1 - last)[np.searchsorted(np.unique(x), x)]) / (n - 1)
        h_left = h_right = h_fixed
        if bwselect != FIXED:
            hs = reference_bandwidths(x, y, p, kernel, vce, kappa_p, bias_c, pilot_b, pilot_c)
            h_left, h_right = {
                COMB: (np.median(hs[[0, 2, 3]]), np.median(hs[[1, 2, 3]])),
                EACH: (hs[0], hs[1]),
                DIFF: (hs[2], hs[2]),
            }.get(bwselect, (hs[3], hs[3]))
        window = (x >= -h_left) & (x <= h_right)
        fit = _fit(x[window], y[window], n, h_left, h_right, p + 1, 1, kernel, vce, kappa_q)
        out[r, [H_LEFT, H_RIGHT]] = h_left, h_right
        out[r, [N_LEFT, N_RIGHT]] = (window & (x < 0)).sum(), (window & (x >= 0)).sum()
        if np.isnan(fit[0]):
            status[r] = st.SINGULAR
            continue
        out[r, [F_LEFT, F_RIGHT]] = fit[:2]
        if not (fit[6] > 0 and np.isfinite(fit[6])):
            status[r] = st.NO_VARIATION
            continue
        estimate, se = fit[1] - fit[0], math.sqrt(fit[6])
        out[r, [ESTIMATE, SE, CI_LOW, CI_HIGH]] = estimate, se, estimate - crit * se, estimate + crit * se
        out[r, [REJECT, T_STAT, P_VALUE]] = float(abs(estimate / se) > crit), estimate / se, 2 * stats.norm.sf(
            abs(estimate / se)
        )
        status[r] = st.OK
