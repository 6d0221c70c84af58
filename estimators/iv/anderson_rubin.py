"""The Anderson–Rubin test of H0: β = β0 and its confidence set by test inversion."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import status as st
from ..inference import f_critical, write_failure
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator
from .common import (
    EXX,
    EXY,
    EYY,
    FSTAT,
    N_STATS,
    NEEDS,
    QXX,
    QXY,
    QYY,
    TSLS,
    iv_statistics,
    projection,
    quadratic_set,
    reference_fit,
)


@njit(cache=True)
def anderson_rubin_kernel(y, x, z, f_crit, truth, out, status):
    """Batched Anderson–Rubin test of H0: beta = truth and its inverted confidence set.

    The AR statistic for β0 regresses y − β0·x on [1, z]:
    AR(β0) = (u0'P u0 / K) / (u0'M u0 / (n − K − 1)), u0 = ỹ − β0·x̃, with
    u0'P u0 = Qyy − 2β0·Qxy + β0²·Qxx and u0'M u0 = Eyy − 2β0·Exy + β0²·Exx,
    exactly F(K, n − K − 1) under H0 with normal homoskedastic errors,
    whatever the instruments' strength.  The confidence set
    {β0 : AR(β0) ≤ c} is {β0 : a·β0² + b·β0 + d ≤ 0} with
    a = (n−K−1)·Qxx − cK·Exx, b = −2((n−K−1)·Qxy − cK·Exy),
    d = (n−K−1)·Qyy − cK·Eyy: a bounded interval (a > 0), the union of two
    rays (a < 0, real roots; stored as ci_low > ci_high), the whole line
    (a < 0, no real roots) or the empty set (a > 0, no real roots; stored as
    ci_low = +inf, ci_high = −inf).  `estimate` is the 2SLS point estimate
    and `se` is NaN (the test has no standard error).

    Parameters
    ----------
    f_crit : float
        F_{K, n−K−1} critical value at the level.
    out : float64 array, shape (R, 7)
        estimate, se, ci_low, ci_high, reject, ar_stat (at the truth),
        first_stage_f.
    """
    n_reps, k, n = z.shape
    work = np.empty((k + 2, n))
    cp = np.empty((k + 2, k + 2))
    means = np.empty(k + 2)
    szz = np.empty((k, k))
    a_fs = np.empty(k)
    q = np.empty(N_STATS)
    df = n - k - 1
    for r in range(n_reps):
        code = iv_statistics(x[r], z[r], y[r], work, cp, means, szz, a_fs, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        b0 = truth[r]
        explained = q[QYY] - 2.0 * b0 * q[QXY] + b0 * b0 * q[QXX]
        residual = q[EYY] - 2.0 * b0 * q[EXY] + b0 * b0 * q[EXX]
        if not (residual > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        ar = (explained / k) / (residual / df)
        qa = df * q[QXX] - f_crit * k * q[EXX]
        qb = -2.0 * (df * q[QXY] - f_crit * k * q[EXY])
        qc = df * q[QYY] - f_crit * k * q[EYY]
        low, high = quadratic_set(qa, qb, qc)
        out[r, ESTIMATE] = q[QXY] / q[QXX]
        out[r, SE] = np.nan
        out[r, CI_LOW] = low
        out[r, CI_HIGH] = high
        out[r, REJECT] = 1.0 if ar > f_crit else 0.0
        out[r, 5] = ar
        out[r, 6] = q[FSTAT]
        status[r] = st.OK


def _run_anderson_rubin(batch, truth, options, level, out, status):
    k, n = batch["z"].shape[1:]
    anderson_rubin_kernel(batch["y"], batch["x"], batch["z"], f_critical(level, k, n - k - 1), truth, out, status)


def reference_ar_statistic(y, x, Z, beta0):
    """AR(β0) from two explicit regressions of y − β0·x: on [1] and on [1, z]."""
    n, k = Z.shape[0], Z.shape[1] - 1
    u0 = y - beta0 * x
    resid = u0 - projection(Z, u0)
    ssr_u = resid @ resid
    ssr_r = np.sum((u0 - u0.mean()) ** 2)
    return ((ssr_r - ssr_u) / k) / (ssr_u / (n - k - 1))


def _reference_anderson_rubin(batch, truth, options, level, out, status):
    """Statistic from explicit regressions; the set from the AR polynomial built with np.polyfit."""
    for r in range(batch["y"].shape[0]):
        code, fit = reference_fit(batch, r, TSLS, 0.0)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        beta, _, _, _, _, f, Z, n, k = fit
        y, x = batch["y"][r], batch["x"][r]
        c = f_critical(level, k, n - k - 1)
        # (n−K−1)·explained(β0) − cK·residual(β0) is a quadratic in β0: fit it exactly through 3 points.
        points = np.array([-1.0, 0.0, 1.0])
        values = []
        for b0 in points:
            u0 = y - b0 * x
            fitted = projection(Z, u0)
            resid = u0 - fitted
            values.append((n - k - 1) * np.sum((fitted - u0.mean()) ** 2) - c * k * resid @ resid)
        qa, qb, qc = np.polyfit(points, values, 2)
        if qb * qb - 4 * qa * qc >= 0:
            roots = np.sort(np.roots([qa, qb, qc]).real)
            low, high = (roots[0], roots[1]) if qa > 0 else (roots[1], roots[0])
        else:
            low, high = (np.inf, -np.inf) if qa > 0 else (-np.inf, np.inf)
        ar = reference_ar_statistic(y, x, Z, truth[r])
        out[r, :7] = beta[1], np.nan, low, high, float(ar > c), ar, f
        status[r] = st.OK


ESTIMATORS = (
    Estimator(
        name="anderson_rubin",
        summary="Anderson–Rubin test and its inverted confidence set (estimate = 2SLS)",
        needs=NEEDS,
        run=_run_anderson_rubin,
        reference=_reference_anderson_rubin,
        diagnostics=("ar_stat", "first_stage_f"),
    ),
)
