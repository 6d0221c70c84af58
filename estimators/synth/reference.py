"""The plain twin of `kernel`: synthdid 0.0.9's algorithm written out on whole matrices, as R states it.

Each Frank–Wolfe step recomputes A x and the gradient from A (R's
``fw.step``); the weights are solved on the collapsed form (R's
``collapsed.form``); the resamples are built as matrices of rows.  The
random draws are the kernel's, in the same order.
"""

from __future__ import annotations

import math

import numpy as np

from .. import status as st
from ..inference import normal_critical, write_failure, write_point, write_wald
from .kernel import (
    BOOTSTRAP,
    CONTROLS_EFFECTIVE,
    JACKKNIFE,
    NO_SE,
    PERIODS_EFFECTIVE,
    PLACEBO,
    ROUNDING,
    SC,
    SDID,
    TIME_WEIGHT_MAX,
    UNIT_WEIGHT_MAX,
)
from .solver import ETA_LAMBDA, ETA_SC, MAX_ITER, MAX_ITER_PRE_SPARSIFY, MIN_DECREASE_FACTOR


def reference_frank_wolfe(Y, zeta, intercept, x, min_decrease, max_iter):
    """R's sc.weight.fw: weights on the first k columns of Y (m × (k + 1)) predicting the last one."""
    if intercept:
        Y = Y - Y.mean(axis=0)
    m = Y.shape[0]
    A, b = Y[:, :-1], Y[:, -1]
    eta = m * zeta**2
    x = x.copy()
    vals = []
    while len(vals) < max_iter and (len(vals) < 2 or vals[-2] - vals[-1] > min_decrease**2):
        Ax = A @ x
        half_grad = (Ax - b) @ A + eta * x
        i = int(np.argmin(half_grad))
        d_x = -x
        d_x[i] = 1 - x[i]
        if np.any(d_x != 0):
            d_err = A[:, i] - Ax
            denominator = d_err @ d_err + eta * (d_x @ d_x)
            if denominator > 0:  # R's NaN step on a flat objective is skipped (as synthdid-py)
                x = x + min(1.0, max(0.0, -(half_grad @ d_x) / denominator)) * d_x
        err = Y @ np.append(x, -1.0)
        vals.append(zeta**2 * (x @ x) + (err @ err) / m)
    return x


def reference_sparsify(x):
    x = np.where(x <= x.max() / 4, 0.0, x)
    return x / x.sum()


def reference_sum_normalize(x):
    return x / x.sum() if x.sum() != 0 else np.full(len(x), 1 / len(x))


def reference_weights(Y, zeta, intercept, start, min_decrease):
    """synthdid_estimate's two rounds: 100 steps, sparsify, 10⁴ steps."""
    x = reference_frank_wolfe(Y, zeta, intercept, start, min_decrease, MAX_ITER_PRE_SPARSIFY)
    return reference_frank_wolfe(Y, zeta, intercept, reference_sparsify(x), min_decrease, MAX_ITER)


def collapsed_form(Y, n0, t0):
    """(N0 + 1) × (T0 + 1): the controls' pre-periods, their post-period means, the treated units' mean."""
    top = np.column_stack([Y[:n0, :t0], Y[:n0, t0:].mean(axis=1)])
    bottom = np.append(Y[n0:, :t0].mean(axis=0), Y[n0:, t0:].mean())
    return np.vstack([top, bottom])


def reference_fit(Y, n0, t0, method, zeta_omega, zeta_lambda, min_decrease, lam, omega):
    """τ̂ on Y (controls first), re-solving what the method solves from the start weights; (τ̂, λ, ω)."""
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    Yc = collapsed_form(Y, n0, t0)
    if method == SDID:
        lam = reference_weights(Yc[:n0], zeta_lambda, True, lam, min_decrease)
    omega = reference_weights(Yc[:, :t0].T, zeta_omega, method != SC, omega, min_decrease)
    unit = np.concatenate([-omega, np.full(n1, 1 / n1)])
    time = np.concatenate([-lam, np.full(t1, 1 / t1)])
    return unit @ Y @ time, lam, omega


def reference_one(Y, n0, t0, method, se, n_draws, rng):
    """(τ̂, se, ω, λ) on one design matrix Y (controls first), or (status, ...) where synthdid gives NA."""
    n, t_all = Y.shape
    n1 = n - n0
    diffs = np.diff(Y[:n0, :t0], axis=1)
    if diffs.size < 2:
        return st.NO_VARIATION, None
    sigma = np.std(diffs, ddof=1)
    if se == PLACEBO and n0 <= n1:
        return st.FEW_CONTROLS, None
    if se in (BOOTSTRAP, JACKKNIFE) and n1 == 1:
        return st.ONE_TREATED, None
    eta_omega = (n1 * (t_all - t0)) ** 0.25 if method == SDID else ETA_SC
    opts = (eta_omega * sigma, ETA_LAMBDA * sigma, MIN_DECREASE_FACTOR * sigma)
    lam0 = np.full(t0, 0.0 if method == SC else 1 / t0)
    estimate, lam, omega = reference_fit(Y, n0, t0, method, *opts, lam0, np.full(n0, 1 / n0))
    if se == NO_SE:
        return st.OK, (estimate, math.nan, omega, lam)
    if se == JACKKNIFE:
        if np.count_nonzero(omega) == 1:
            return st.ONE_DONOR, None
        values = []
        for i in range(n):
            keep = np.delete(np.arange(n), i)
            unit = np.concatenate([-reference_sum_normalize(omega[keep[keep < n0]]), np.full(n - 1 - (keep < n0).sum(),
                                   1 / (n - 1 - (keep < n0).sum()))])  # fmt: skip
            values.append(unit @ Y[keep] @ np.concatenate([-lam, np.full(t_all - t0, 1 / (t_all - t0))]))
        return _with_spread(estimate, math.sqrt((n - 1) / n * (n - 1) * np.var(values, ddof=1)), values, omega, lam)
    draws = []
    for _ in range(n_draws):
        if se == PLACEBO:
            order = np.argsort(rng.random(n0), kind="mergesort")
            design, n_controls, start = Y[order], n0 - n1, omega[order[: n0 - n1]]
        else:
            while True:
                picks = np.sort(np.minimum((rng.random(n) * n).astype(np.int64), n - 1))
                n_controls = int((picks < n0).sum())
                if 0 < n_controls < n:
                    break
            design, start = Y[picks], omega[picks[:n_controls]]
        draws.append(reference_fit(design, n_controls, t0, method, *opts, lam, reference_sum_normalize(start))[0])
    return _with_spread(estimate, math.sqrt((n_draws - 1) / n_draws) * np.std(draws, ddof=1), draws, omega, lam)


def _with_spread(estimate, se, replicates, omega, lam):
    """(status, result): no variation when the replicates are equal up to rounding (see `kernel.spread_is_rounding`)."""
    if not se > ROUNDING * np.max(np.abs(replicates)):
        return st.NO_VARIATION, None
    return st.OK, (estimate, se, omega, lam)


def reference_synth(batch, truth, options, level, out, status, method, rng=None):
    """The twin of `methods`' run: each replication's design matrix, then `reference_one`."""
    y_all, treated_all, starts = batch["panel_y"], batch["treated"], batch["start"]
    se = {"placebo": PLACEBO, "bootstrap": BOOTSTRAP, "jackknife": JACKKNIFE, "none": NO_SE}[options["se"]]
    crit = normal_critical(level)
    for r in range(y_all.shape[0]):
        treated = treated_all[r] != 0
        n0, t0, t_all = int((~treated).sum()), int(starts[r]) - 1, y_all.shape[2]
        if n0 == 0 or n0 == len(treated) or t0 < 1 or t0 >= t_all:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        Y = np.vstack([y_all[r][~treated], y_all[r][treated]])
        code, result = reference_one(Y, n0, t0, method, se, options["draws"], rng)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        estimate, se_value, omega, lam = result
        if se == NO_SE:
            write_point(out, status, r, estimate)
        else:
            write_wald(out, status, r, estimate, se_value, crit, truth[r])
        if status[r] == st.OK:
            out[r, CONTROLS_EFFECTIVE] = 1 / np.sum(omega**2)
            out[r, UNIT_WEIGHT_MAX] = omega.max()
            no_time = method == SC
            out[r, PERIODS_EFFECTIVE] = np.nan if no_time else 1 / np.sum(lam**2)
            out[r, TIME_WEIGHT_MAX] = np.nan if no_time else lam.max()
