"""Instrumental-variables estimators and weak-instrument-robust inference.

Model: y = b0 + beta·x + u, one endogenous regressor x, K excluded
instruments z, the intercept the only exogenous regressor.  Every kernel
works from the centred cross-products of [x, z_1..z_K, y] (intercept
partialled out, `estimators.moments`):

    S_ab   centred cross-products              (e.g. Sxx, Sxy, Syy)
    Q_ab = S_az S_zz⁻¹ S_zb                   (a'P_Z b: the parts explained by z)
    E_ab = S_ab − Q_ab                         (a'M_Z b: first-stage residual products)

and from these, with n the sample size:

first-stage F   (Qxx/K) / (Exx/(n−K−1)), F(K, n−K−1) under H0 (linearmodels'
                ``first_stage.diagnostics["f.stat"]`` with ``debiased=True``)
robust F        W/K, W = S_zx' M⁻¹ S_zx · (n−K−1)/n the HC1 Wald statistic of the
                first-stage coefficients, M = Σ ε̂ᵢ² z̃ᵢz̃ᵢ' (linearmodels reports W)
k-class         β(λ) = (Qxy − λ·Exy) / (Qxx − λ·Exx), λ = κ − 1:
                2SLS λ = 0; LIML λ = smallest root of det(Q − λE) = 0 for the
                2×2 matrices of [y, x] (κ the smallest eigenvalue of
                (W'M_Z W)⁻¹ W'M₁W, W = [y, x]); Fuller λ_LIML − α/(n − K − 1)
classical se    σ̂² / (Qxx − λ·Exx), σ̂² = û'û/(n − 2), û = y − b0 − βx the
                structural residuals (linearmodels ``cov_type="unadjusted",
                debiased=True``)
hc1 se          Σ (x̂ᵢ ûᵢ)² / (Qxx − λ·Exx)² · n/(n − 2), x̂ the centred first-stage
                fit (linearmodels ``cov_type="robust", debiased=True``, which
                uses P_Z X in the middle for every k-class estimator)

Intervals use normal critical values (linearmodels' default for IV).
Anderson–Rubin and tF are documented at their kernels.

Statuses: ``singular`` when the instruments are collinear (or constant),
``no_variation`` when x has no first-stage fit, ``no_residual_df`` when
n ≤ K + 1, ``screened_out`` for the pre-test estimator.
"""

from __future__ import annotations

import math
from functools import cache, partial
from importlib import resources

import numpy as np
from numba import njit

from . import status as st
from .inference import cholesky_inplace, cholesky_solve, f_critical, normal_critical, write_failure, write_wald
from .moments import FAST, centred_cross_products
from .spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator, Setting

SE_TYPES = ("classical", "hc1")
CLASSICAL, HC1 = 0, 1
TSLS, LIML, FULLER = 0, 1, 2

# Indices into the per-replication statistics vector `q`.
SXX, SXY, SYY, QXX, QXY, QYY, EXX, EXY, EYY, FSTAT = range(10)
N_STATS = 10

SE_OPTION = Setting(
    "se", "classical", "standard errors: classical or hc1 (heteroskedasticity-robust)", choices=SE_TYPES
)

TF_MAX_F = 104.7  # above this first-stage F the tF critical value is 1.96 (LMMP 2022)
TF_MIN_F = 4.0  # below it the tF procedure never rejects


# -- shared numerics -------------------------------------------------------------


@njit(cache=True, fastmath=FAST)
def iv_statistics(x, z, y, work, cp, means, szz, a, q):
    """Cross-product statistics of one replication; returns a status code.

    Parameters
    ----------
    x, y : float64 arrays, shape (n,)
    z : float64 array, shape (K, n)
    work, cp, means : scratch for `centred_cross_products` (K + 2 variables)
    szz : float64 array, shape (K, K)
        Receives the Cholesky factor of S_zz.
    a : float64 array, shape (K,)
        Receives the first-stage slopes S_zz⁻¹ S_zx.
    q : float64 array, shape (N_STATS,)
        Receives Sxx, Sxy, Syy, Qxx, Qxy, Qyy, Exx, Exy, Eyy and the first-stage F.
    """
    k = z.shape[0]
    n = x.shape[0]
    if n - k - 1 <= 1:
        return st.NO_RESIDUAL_DF
    centred_cross_products(x, z, y, work, cp, means)
    iy = k + 1
    for i in range(k):
        for j in range(k):
            szz[i, j] = cp[1 + i, 1 + j]
    if not cholesky_inplace(szz, k):
        return st.SINGULAR
    c = np.empty(k)
    for j in range(k):
        a[j] = cp[1 + j, 0]
        c[j] = cp[1 + j, iy]
    cholesky_solve(szz, a, k)
    cholesky_solve(szz, c, k)
    qxx = qxy = qyy = 0.0
    for j in range(k):
        qxx += cp[1 + j, 0] * a[j]
        qxy += cp[1 + j, 0] * c[j]
        qyy += cp[1 + j, iy] * c[j]
    q[SXX], q[SXY], q[SYY] = cp[0, 0], cp[0, iy], cp[iy, iy]
    q[QXX], q[QXY], q[QYY] = qxx, qxy, qyy
    q[EXX], q[EXY], q[EYY] = cp[0, 0] - qxx, cp[0, iy] - qxy, cp[iy, iy] - qyy
    if not (qxx > 0.0) or not (q[EXX] > 0.0):
        return st.NO_VARIATION
    q[FSTAT] = (qxx / k) / (q[EXX] / (n - k - 1))
    return st.OK


@njit(cache=True)
def liml_lambda(q):
    """λ = κ_LIML − 1: the smallest root of det(Q − λE) = 0 for W = [y, x].

    Q and E are the explained and residual 2 × 2 cross-products of [y, x].
    The quadratic d2·λ² + d1·λ + d0 has d0 = det Q ≥ 0 (zero when K = 1, so
    LIML = 2SLS there) and d1 ≤ 0; the smaller root is taken in the form
    2·d0 / (−d1 + √disc), free of cancellation.
    """
    d2 = q[EYY] * q[EXX] - q[EXY] ** 2
    d1 = -(q[QYY] * q[EXX] + q[QXX] * q[EYY] - 2.0 * q[QXY] * q[EXY])
    d0 = q[QYY] * q[QXX] - q[QXY] ** 2
    disc = max(d1 * d1 - 4.0 * d2 * d0, 0.0)
    denominator = -d1 + math.sqrt(disc)
    if not (denominator > 0.0):
        return 0.0
    return max(2.0 * d0 / denominator, 0.0)


@njit(cache=True, fastmath=FAST)
def robust_sums(x, z, y, means, a, beta, want_first_stage, meat):
    """One pass for the HC sandwiches.

    Returns Σᵢ (x̂ᵢ ûᵢ)² with x̂ the centred first-stage fit and û = ỹ − βx̃;
    when `want_first_stage`, also fills ``meat`` (K × K) with
    Σᵢ ε̂ᵢ² z̃ᵢ z̃ᵢ', ε̂ = x̃ − x̂ the first-stage residuals.
    """
    k, n = z.shape
    iy = k + 1
    zc = np.empty(k)
    if want_first_stage:
        meat[:, :] = 0.0
    total = 0.0
    for i in range(n):
        xc = x[i] - x[0] - means[0]
        fit = 0.0
        for j in range(k):
            zc[j] = z[j, i] - z[j, 0] - means[1 + j]
            fit += a[j] * zc[j]
        u = y[i] - y[0] - means[iy] - beta * xc
        total += (fit * u) ** 2
        if want_first_stage:
            e2 = (xc - fit) ** 2
            for j in range(k):
                for l in range(j + 1):
                    meat[j, l] += e2 * zc[j] * zc[l]
    return total


@njit(cache=True)
def robust_first_stage_f(meat, szx, k, n):
    """W/K with W = S_zx' M⁻¹ S_zx · (n−K−1)/n (HC1 Wald of the first stage)."""
    for j in range(k):
        for l in range(j + 1, k):
            meat[j, l] = meat[l, j]
    if not cholesky_inplace(meat, k):
        return np.nan
    sol = szx.copy()
    cholesky_solve(meat, sol, k)
    w = 0.0
    for j in range(k):
        w += szx[j] * sol[j]
    return w * (n - k - 1) / n / k


# -- k-class estimators (2SLS, LIML, Fuller) ------------------------------------


@njit(cache=True)
def kclass_kernel(y, x, z, method, alpha, se_code, crit, f_min, truth, out, status):
    """Batched 2SLS / LIML / Fuller with first-stage diagnostics.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
    z : float64 array, shape (R, K, n)
    method : int
        TSLS, LIML or FULLER.
    alpha : float
        Fuller's constant (FULLER only).
    se_code : int
        CLASSICAL or HC1.
    crit : float
        Normal critical value z_{1−α/2}.
    f_min : float
        Pre-test threshold: replications with first-stage F ≤ f_min get
        status ``screened_out`` (their F is still recorded); −inf for none.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 8)
        estimate, se, ci_low, ci_high, reject, first_stage_f,
        first_stage_f_robust (hc1 only, else NaN), kappa.
    status : int8 array, shape (R,)
    """
    n_reps, k, n = z.shape
    work = np.empty((k + 2, n))
    cp = np.empty((k + 2, k + 2))
    means = np.empty(k + 2)
    szz = np.empty((k, k))
    a = np.empty(k)
    q = np.empty(N_STATS)
    meat = np.empty((k, k))
    szx = np.empty(k)
    for r in range(n_reps):
        code = iv_statistics(x[r], z[r], y[r], work, cp, means, szz, a, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        lam = 0.0
        if method != TSLS:
            lam = liml_lambda(q)
            if method == FULLER:
                lam -= alpha / (n - k - 1)
        denominator = q[QXX] - lam * q[EXX]
        if not (denominator > 0.0):
            write_failure(out, status, r, st.SINGULAR)
            out[r, 5] = q[FSTAT]
            continue
        beta = (q[QXY] - lam * q[EXY]) / denominator
        robust_f = np.nan
        if se_code == CLASSICAL:
            ssr = q[SYY] - 2.0 * beta * q[SXY] + beta * beta * q[SXX]
            var = max(ssr, 0.0) / (n - 2) / denominator
        else:
            for j in range(k):
                szx[j] = cp[1 + j, 0]
            var = robust_sums(x[r], z[r], y[r], means, a, beta, True, meat) / denominator**2 * n / (n - 2)
            robust_f = robust_first_stage_f(meat, szx, k, n)
        f_used = robust_f if se_code == HC1 else q[FSTAT]
        if f_min > -np.inf and not (f_used > f_min):
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta, math.sqrt(var), crit, truth[r])
        out[r, 5] = q[FSTAT]
        out[r, 6] = robust_f
        out[r, 7] = lam + 1.0


KCLASS_DIAGNOSTICS = ("first_stage_f", "first_stage_f_robust", "kappa")


def _run_kclass(batch, truth, options, level, out, status, method):
    kclass_kernel(
        batch["y"],
        batch["x"],
        batch["z"],
        method,
        float(options.get("alpha", 0.0)),
        SE_TYPES.index(options["se"]),
        normal_critical(level),
        float(options.get("f_min", -np.inf)),
        truth,
        out,
        status,
    )


# -- reference twins: explicit matrices, one replication at a time ---------------


def _design(batch, r):
    y, x, z = batch["y"][r], batch["x"][r], batch["z"][r].T
    n = len(y)
    X = np.column_stack([np.ones(n), x])
    Z = np.column_stack([np.ones(n), z])
    return y, X, Z


def _projection(Z, A):
    return Z @ np.linalg.lstsq(Z, A, rcond=None)[0]


def _reference_fit(batch, r, method, alpha):
    """(status, (beta, A, Xhat, resid, kappa, F, Z, n, K)) from textbook matrix formulas; (status, None) on failure.

    A = X'(I − κM_Z)X and β = A⁻¹X'(I − κM_Z)y with X = [1, x], Z = [1, z];
    κ from an explicit eigenvalue problem.
    """
    y, X, Z = _design(batch, r)
    n, k = X.shape[0], Z.shape[1] - 1
    if n - k - 1 <= 1:
        return st.NO_RESIDUAL_DF, None
    if np.linalg.matrix_rank(Z) < Z.shape[1]:
        return st.SINGULAR, None
    xhat = _projection(Z, X)
    first_resid = X[:, 1] - xhat[:, 1]
    ssr_u = first_resid @ first_resid
    ssr_r = np.sum((X[:, 1] - X[:, 1].mean()) ** 2)
    if not ssr_r - ssr_u > 0:
        return st.NO_VARIATION, None
    f = ((ssr_r - ssr_u) / k) / (ssr_u / (n - k - 1))
    kappa = 1.0
    if method != TSLS:
        W = np.column_stack([y, X[:, 1]])
        W1 = W - W.mean(axis=0)
        WZ = W - _projection(Z, W)
        kappa = min(np.linalg.eigvals(np.linalg.solve(WZ.T @ WZ, W1.T @ W1)).real)
        if method == FULLER:
            kappa -= alpha / (n - Z.shape[1])
    mz_x = X - xhat
    A = X.T @ X - kappa * (mz_x.T @ mz_x)
    beta = np.linalg.solve(A, X.T @ y - kappa * (mz_x.T @ (y - _projection(Z, y))))
    resid = y - X @ beta
    return st.OK, (beta, A, xhat, resid, kappa, f, Z, n, k)


def _reference_kclass(batch, truth, options, level, out, status, method):
    crit = normal_critical(level)
    alpha = float(options.get("alpha", 0.0))
    f_min = float(options.get("f_min", -np.inf))
    for r in range(batch["y"].shape[0]):
        code, fit = _reference_fit(batch, r, method, alpha)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        beta, A, xhat, resid, kappa, f, Z, n, k = fit
        a_inv = np.linalg.inv(A)
        robust_f = np.nan
        if options["se"] == "classical":
            cov = resid @ resid / (n - 2) * a_inv
        else:
            cov = a_inv @ (xhat.T * resid**2) @ xhat @ a_inv * n / (n - 2)
            robust_f = _reference_robust_f(batch["x"][r], Z)
        f_used = robust_f if options["se"] == "hc1" else f
        if f_min > -np.inf and not f_used > f_min:
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta[1], np.sqrt(cov[1, 1]), crit, truth[r])
        out[r, 5:8] = f, robust_f, kappa


def _reference_robust_f(x, Z):
    """HC1 Wald statistic of the excluded instruments in x ~ Z, over K."""
    n, k = Z.shape[0], Z.shape[1] - 1
    coef = np.linalg.lstsq(Z, x, rcond=None)[0]
    e = x - Z @ coef
    zz_inv = np.linalg.inv(Z.T @ Z)
    cov = zz_inv @ (Z.T * e**2) @ Z @ zz_inv * n / (n - k - 1)
    b = coef[1:]
    return b @ np.linalg.solve(cov[1:, 1:], b) / k


# -- Anderson–Rubin --------------------------------------------------------------


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


@njit(cache=True)
def quadratic_set(qa, qb, qc):
    """{t : qa·t² + qb·t + qc ≤ 0} in the (ci_low, ci_high) encoding of `estimators.inference`."""
    if qa == 0.0:
        if qb > 0.0:
            return -np.inf, -qc / qb
        if qb < 0.0:
            return -qc / qb, np.inf
        return (-np.inf, np.inf) if qc <= 0.0 else (np.inf, -np.inf)
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0.0:
        return (np.inf, -np.inf) if qa > 0.0 else (-np.inf, np.inf)
    # Stable roots: the larger-magnitude root first, then the product of roots.
    root = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))
    r1 = root / qa
    r2 = qc / root if root != 0.0 else r1
    lo, hi = min(r1, r2), max(r1, r2)
    if qa > 0.0:
        return lo, hi
    return hi, lo  # two rays: (-inf, lo] ∪ [hi, inf)


def _run_anderson_rubin(batch, truth, options, level, out, status):
    k, n = batch["z"].shape[1:]
    anderson_rubin_kernel(batch["y"], batch["x"], batch["z"], f_critical(level, k, n - k - 1), truth, out, status)


def reference_ar_statistic(y, x, Z, beta0):
    """AR(β0) from two explicit regressions of y − β0·x: on [1] and on [1, z]."""
    n, k = Z.shape[0], Z.shape[1] - 1
    u0 = y - beta0 * x
    resid = u0 - _projection(Z, u0)
    ssr_u = resid @ resid
    ssr_r = np.sum((u0 - u0.mean()) ** 2)
    return ((ssr_r - ssr_u) / k) / (ssr_u / (n - k - 1))


def _reference_anderson_rubin(batch, truth, options, level, out, status):
    """Statistic from explicit regressions; the set from the AR polynomial built with np.polyfit."""
    for r in range(batch["y"].shape[0]):
        code, fit = _reference_fit(batch, r, TSLS, 0.0)
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
            fitted = _projection(Z, u0)
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


# -- tF (Lee, McCrary, Moreira & Porter 2022) ------------------------------------


@cache
def tf_table() -> tuple[np.ndarray, np.ndarray]:
    """The published 5 % tF critical values: (√F grid, critical value).

    Lee, McCrary, Moreira & Porter (2022), "Valid t-Ratio Inference for
    IV", American Economic Review 112(10): 3260–3290 (package data
    ``estimators/data/lmmp_tf_table.csv``).
    """
    text = resources.files(__package__).joinpath("data/lmmp_tf_table.csv").read_text()
    rows = np.array([[float(v) for v in line.split(",")] for line in text.strip().splitlines()[1:]])
    return rows[:, 0].copy(), rows[:, 2].copy()


@njit(cache=True)
def tf_critical_value(f, sqrt_f_grid, values):
    """5 % tF critical value at first-stage F: linear in √F between table rows.

    +inf below F = 4 (the procedure never rejects there), 1.96 from F = 104.7.
    """
    if not (f >= TF_MIN_F):
        return np.inf
    if f >= TF_MAX_F:
        return 1.96
    s = math.sqrt(f)
    j = np.searchsorted(sqrt_f_grid, s, side="right") - 1
    j = min(max(j, 0), len(sqrt_f_grid) - 2)
    w = (s - sqrt_f_grid[j]) / (sqrt_f_grid[j + 1] - sqrt_f_grid[j])
    return values[j] + w * (values[j + 1] - values[j])


@cache
def stock_yogo() -> dict[tuple[str, int, float], float]:
    """Stock–Yogo (2005) critical values of the Cragg–Donald first-stage F.

    One endogenous regressor; keys ``(table, K, threshold)`` with table
    ``"size"`` (maximal size of a nominal 5 % 2SLS Wald test: 0.10, 0.15,
    0.20, 0.25; K = 1..10) or ``"relative_bias"`` (maximal 2SLS bias
    relative to OLS: 0.05, 0.10, 0.20, 0.30; K = 3..10).  Stock & Yogo,
    "Testing for Weak Instruments in Linear IV Regression" (2005), Tables
    5.1 and 5.2 (package data ``estimators/data/stock_yogo.csv``).
    """
    text = resources.files(__package__).joinpath("data/stock_yogo.csv").read_text()
    table = {}
    for line in text.strip().splitlines()[1:]:
        name, k, threshold, value = line.split(",")
        table[(name, int(k), float(threshold))] = float(value)
    return table


def tf_critical(f: float) -> float:
    """tF critical value at first-stage F (Python entry point to the table)."""
    return float(tf_critical_value(float(f), *tf_table()))


@njit(cache=True)
def apply_tf(out, status, truth, sqrt_f_grid, values, use_robust):
    """Replace the normal critical value of 2SLS rows by the tF one.

    Reads the first-stage F the t-ratio goes with (robust with hc1) from
    ``out[:, 5 or 6]`` and writes the critical value to ``out[:, 8]``.
    """
    for r in range(out.shape[0]):
        if status[r] != st.OK:
            continue
        f = out[r, 6] if use_robust else out[r, 5]
        c = tf_critical_value(f, sqrt_f_grid, values)
        est, se = out[r, ESTIMATE], out[r, SE]
        out[r, 8] = c
        if c == np.inf:
            out[r, CI_LOW], out[r, CI_HIGH], out[r, REJECT] = -np.inf, np.inf, 0.0
        else:
            out[r, CI_LOW], out[r, CI_HIGH] = est - c * se, est + c * se
            out[r, REJECT] = 1.0 if abs(est - truth[r]) > c * se else 0.0


def _run_tf(batch, truth, options, level, out, status):
    _run_kclass(batch, truth, options, level, out, status, method=TSLS)
    out[:, 8] = np.nan
    apply_tf(out, status, truth, *tf_table(), options["se"] == "hc1")


def _reference_tf(batch, truth, options, level, out, status):
    """2SLS twin, then the table read with np.interp in √F."""
    _reference_kclass(batch, truth, options, level, out, status, method=TSLS)
    grid, values = tf_table()
    out[:, 8] = np.nan
    for r in np.flatnonzero(status == st.OK):
        f = out[r, 6] if options["se"] == "hc1" else out[r, 5]
        c = np.inf if f < TF_MIN_F else 1.96 if f >= TF_MAX_F else np.interp(np.sqrt(f), grid, values)
        est, se = out[r, ESTIMATE], out[r, SE]
        out[r, CI_LOW], out[r, CI_HIGH] = (-np.inf, np.inf) if c == np.inf else (est - c * se, est + c * se)
        out[r, REJECT], out[r, 8] = float(abs(est - truth[r]) > c * se), c


def _one_instrument(shapes, options):
    k = shapes["z"][0]
    return None if k == 1 else f"the tF procedure is tabulated for one instrument (this cell has K = {k})"


def _level_95(options, level):
    return None if level == 0.95 else f"the tF table is for 5 % tests; set level = 0.95 (not {level:g})"


# -- registry ----------------------------------------------------------------------------

_NEEDS = ("y", "x", "z")
_FULLER_ALPHA = Setting("alpha", 1.0, "Fuller's constant (1 is nearly unbiased)", minimum=0.0, min_exclusive=True)
_F_MIN = Setting("f_min", 10.0, "report 2SLS only when the first-stage F exceeds this", minimum=0.0)

ESTIMATORS = (
    Estimator(
        name="tsls",
        summary="two-stage least squares, normal interval; records the first-stage F",
        needs=_NEEDS,
        run=partial(_run_kclass, method=TSLS),
        reference=partial(_reference_kclass, method=TSLS),
        options=(SE_OPTION,),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
    Estimator(
        name="liml",
        summary="limited-information maximum likelihood (k-class, κ = smallest eigenvalue)",
        needs=_NEEDS,
        run=partial(_run_kclass, method=LIML),
        reference=partial(_reference_kclass, method=LIML),
        options=(SE_OPTION,),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
    Estimator(
        name="fuller",
        summary="Fuller's modified LIML, κ = κ_LIML − alpha/(n − K − 1)",
        needs=_NEEDS,
        run=partial(_run_kclass, method=FULLER),
        reference=partial(_reference_kclass, method=FULLER),
        options=(SE_OPTION, _FULLER_ALPHA),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
    Estimator(
        name="anderson_rubin",
        summary="Anderson–Rubin test and its inverted confidence set (estimate = 2SLS)",
        needs=_NEEDS,
        run=_run_anderson_rubin,
        reference=_reference_anderson_rubin,
        diagnostics=("ar_stat", "first_stage_f"),
    ),
    Estimator(
        name="tsls_tf",
        summary="2SLS t-ratio with the tF critical value of Lee et al. (2022), one instrument",
        needs=_NEEDS,
        run=_run_tf,
        reference=_reference_tf,
        options=(SE_OPTION,),
        diagnostics=(*KCLASS_DIAGNOSTICS, "tf_critical_value"),
        applies=_one_instrument,
        check=_level_95,
    ),
    Estimator(
        name="tsls_pretest",
        summary="2SLS reported only when the first-stage F exceeds f_min (else screened_out)",
        needs=_NEEDS,
        run=partial(_run_kclass, method=TSLS),
        reference=partial(_reference_kclass, method=TSLS),
        options=(SE_OPTION, _F_MIN),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
)
