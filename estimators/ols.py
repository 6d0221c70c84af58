"""Ordinary least squares of y on an intercept, x and optional controls.

``ols``          y ~ 1 + x
``ols_adjusted`` y ~ 1 + x + controls   (option ``adjust``: the DGP's measured
                 confounders by default, or the variables it names)

Both report the coefficient on x.  Standard errors (option ``se``), with
aᵢ the row of (X'X)⁻¹X' for x, êᵢ the residuals, hᵢ the leverages and k
counting the intercept (statsmodels ``OLS(...).fit(cov_type=...)``):

``classical``  σ̂² [(X'X)⁻¹]ₓₓ with σ̂² = SSR / (n − k).
``hc0``        Σ aᵢ²êᵢ² (White 1980).
``hc1``        HC0 · n / (n − k).
``hc2``        Σ aᵢ²êᵢ²/(1 − hᵢ) (unbiased under homoskedasticity).
``hc3``        Σ aᵢ²êᵢ²/(1 − hᵢ)² (close to the jackknife).

Degrees of freedom of the interval and test (option ``df``):

``residual``   t(n − k), statsmodels' ``conf_int()`` with ``use_t=True``.
``normal``     the normal critical value.
``bm``         t(ν) with ν the Bell–McCaffrey (2002) degrees of freedom of
               the HC2 variance for the coefficient on x, as Imbens & Kolesár
               (2016) recommend; only with ``se = "hc2"``.  R clubSandwich's
               Satterthwaite test of CR2 with one observation per cluster.

Diagnostic ``dof``: the degrees of freedom used (inf for normal).

Statuses: ``singular`` (collinear regressors), ``no_residual_df`` (n ≤ k),
``leverage_one`` (an observation with leverage 1 under ``hc2``, ``hc3`` or
``bm``, which divide by 1 − hᵢ).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numba import njit

from . import status as st
from .inference import (
    normal_critical,
    spd_inverse,
    t_critical,
    write_failure,
    write_t_intervals,
    write_wald,
)
from .moments import FAST, centred_cross_products
from .adjustment import ADJUST_OPTION, adjustment_arrays, covariates
from .spec import ESTIMATE, SE, Estimator, Setting

SE_TYPES = ("classical", "hc0", "hc1", "hc2", "hc3")
CLASSICAL, HC0, HC1, HC2, HC3 = range(5)
DF_TYPES = ("residual", "normal", "bm")
RESIDUAL, NORMAL, BM = range(3)
DOF = 5  # the diagnostic column: degrees of freedom of the critical value (inf: normal)
# 1 − h_ii below this is a leverage of one: HC2, HC3 and Bell–McCaffrey divide by it.
LEVERAGE_TOLERANCE = 1e-10

SE_OPTION = Setting(
    "se",
    "classical",
    "standard errors: classical (SSR/(n−k)), hc0 (White), hc1 (HC0·n/(n−k)), hc2 (ê²/(1−h)), hc3 (ê²/(1−h)²)",
    choices=SE_TYPES,
)
DF_OPTION = Setting(
    "df",
    "residual",
    "degrees of freedom of the t interval and test: residual (n−k), normal, or bm (Bell–McCaffrey, with se = hc2)",
    choices=DF_TYPES,
)


@njit(cache=True, fastmath=FAST)
def fit_slopes(cp, k, sxx, inv, b):
    """The slopes b = S⁻¹s from the centred cross-products cp of [x, controls…, y]; returns a status code.

    Writes S_xx's inverse into `inv` (`sxx` is scratch).  ``no_variation``
    when x is constant, ``singular`` when the regressors are collinear.
    """
    if not (cp[0, 0] > 0.0):
        return st.NO_VARIATION
    sxx[:, :] = cp[:k, :k]
    if not spd_inverse(sxx, k, inv):
        return st.SINGULAR
    for c in range(k):
        s = 0.0
        for d in range(k):
            s += inv[c, d] * cp[d, k]
        b[c] = s
    return st.OK


@njit(cache=True, fastmath=FAST)
def classical_variance(cp, k, b, inv, df):
    """σ̂²[S⁻¹]ₓₓ with σ̂² = SSR/df and SSR = s_yy − b's (the first regressor's variance)."""
    ssr = cp[k, k]
    for c in range(k):
        ssr -= b[c] * cp[c, k]
    return max(ssr, 0.0) / df * inv[0, 0]


@njit(cache=True)
def ols_sufficient_kernel(scatter, n_obs, columns, crit, dof, truth, out, status):
    """Classical OLS of y on [1, x, w] from each replication's centred scatter matrix alone.

    Parameters
    ----------
    scatter : float64 array, shape (R, q, q)
        Centred cross-products S of the DGP's variables [x, controls…, y]
        (`sims.dgps.gaussian`): all OLS with an intercept needs.
    n_obs : float64 array, shape (R,)
        Observations behind each S.
    columns : int64 array, shape (k + 1,)
        Indices into S of x, the controls used, and y (last).
    crit, dof : float
        Critical value and recorded degrees of freedom (t(n − k − 1) or normal).
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 6)
        Filled with estimate, se, ci_low, ci_high, reject, dof.
    status : int8 array, shape (R,)

    Notes
    -----
    The same arithmetic as the classical path of `ols_kernel` once its
    centred cross-products are formed: b = S_xx⁻¹ s_xy, SSR = s_yy − b's,
    se² = SSR/(n − k − 1)·[S_xx⁻¹]₀₀.
    """
    n_reps = scatter.shape[0]
    k = columns.shape[0] - 1
    cp = np.empty((k + 1, k + 1))
    sxx = np.empty((k, k))
    inv = np.empty((k, k))
    b = np.empty(k)
    for r in range(n_reps):
        df = n_obs[r] - (k + 1)
        if df <= 0:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        for a in range(k + 1):
            for c in range(k + 1):
                cp[a, c] = scatter[r, columns[a], columns[c]]
        code = fit_slopes(cp, k, sxx, inv, b)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        write_wald(out, status, r, b[0], np.sqrt(classical_variance(cp, k, b, inv, df)), crit, truth[r])
        out[r, DOF] = dof if status[r] == st.OK else np.nan


@njit(cache=True, fastmath=FAST)
def ols_kernel(y, x, w, se_code, df_code, crit, dof, truth, out, status):
    """Batched OLS of y on [1, x, w], reporting the coefficient on x.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
        Outcome and regressor of interest, one row per replication.
    w : float64 array, shape (R, p, n)
        Controls, one row per variable (p may be 0).
    se_code : int
        CLASSICAL, HC0, HC1, HC2 or HC3.
    df_code : int
        RESIDUAL or NORMAL (the interval is written here with `crit`), or
        BM (the kernel writes estimate, se and ν; the wrapper the interval).
    crit : float
        Critical value for RESIDUAL (t_{n−k, 1−α/2}, k = p + 2) or NORMAL.
    dof : float
        Degrees of freedom recorded for RESIDUAL (n − k) or NORMAL (inf).
    truth : float64 array, shape (R,)
        Null value of the per-replication test.
    out : float64 array, shape (R, 6)
        Filled with estimate, se, ci_low, ci_high, reject, dof.
    status : int8 array, shape (R,)

    Notes
    -----
    The intercept is partialled out by centring (Frisch–Waugh–Lovell): with
    S the centred cross-products of [x, w] and s those with y, the slopes
    are b = S⁻¹s (Cholesky), SSR = s_yy − b's.  Coefficient rows of
    (X'X)⁻¹X' equal those of S⁻¹X̃', so with aᵢ = [S⁻¹]ₓ· x̃ᵢ and the
    leverage hᵢ = 1/n + x̃ᵢ'S⁻¹x̃ᵢ the sandwich variances of b_x are
    Σ (aᵢêᵢ)²·ωᵢ with ωᵢ = 1 (HC0), n/(n−k) (HC1), 1/(1−hᵢ) (HC2) and
    1/(1−hᵢ)² (HC3) (MacKinnon & White 1985).

    Bell–McCaffrey degrees of freedom (Bell & McCaffrey 2002; Imbens &
    Kolesár 2016, with HC2): ν = (Σλ)²/Σλ², λ the eigenvalues of G'G with
    G = (I − H)·diag(dᵢ), dᵢ = aᵢ/√(1 − hᵢ).  Since G'G = D(I − H)D, no n×n
    matrix is needed: Σλ = Σ aᵢ² and
    Σλ² = Σ dᵢ⁴(1 − 2hᵢ) + tr(MAMA), with zᵢ = (1, x̃ᵢ),
    M = diag(1/n, S⁻¹) (so H_ij = zᵢ'M z_j) and A = Σ dᵢ² zᵢzᵢ'.

    Statuses: ``no_residual_df`` when n ≤ k, ``no_variation`` when x is
    constant, ``singular`` when x is collinear with the controls,
    ``leverage_one`` when HC2, HC3 or BM meet an observation with hᵢ = 1.
    """
    n_reps, n = y.shape
    p = w.shape[1]
    k = p + 1  # slopes after centring
    df = n - (k + 1)
    need_leverage = se_code == HC2 or se_code == HC3 or df_code == BM
    work = np.empty((k + 1, n))  # variables x, w_1..w_p, y, shifted
    cp = np.empty((k + 1, k + 1))
    means = np.empty(k + 1)
    sxx = np.empty((k, k))
    inv = np.empty((k, k))
    b = np.empty(k)
    v = np.empty(k)  # one observation's centred regressors
    a_mat = np.empty((k + 1, k + 1))  # A = Σ dᵢ² zᵢzᵢ'
    ma = np.empty((k + 1, k + 1))  # M·A
    for r in range(n_reps):
        if df <= 0:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        centred_cross_products(x[r], w[r], y[r], work, cp, means)
        code = fit_slopes(cp, k, sxx, inv, b)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        if se_code == CLASSICAL:
            var = classical_variance(cp, k, b, inv, df)
        meat = 0.0
        sum_a2 = 0.0
        sum_d4 = 0.0
        a_mat[:, :] = 0.0
        leverage_one = False
        if se_code != CLASSICAL or df_code == BM:
            for i in range(n):
                e = y[r, i] - y[r, 0] - means[k]
                v[0] = x[r, i] - x[r, 0] - means[0]
                for j in range(p):
                    v[1 + j] = w[r, j, i] - w[r, j, 0] - means[1 + j]
                a_i = 0.0
                for c in range(k):
                    e -= b[c] * v[c]
                    a_i += inv[0, c] * v[c]
                weight = 1.0
                if need_leverage:
                    h = 1.0 / n
                    for c in range(k):
                        s = 0.0
                        for d in range(k):
                            s += inv[c, d] * v[d]
                        h += v[c] * s
                    if not (1.0 - h > LEVERAGE_TOLERANCE):
                        leverage_one = True
                        break
                    if se_code == HC2:
                        weight = 1.0 / (1.0 - h)
                    elif se_code == HC3:
                        weight = 1.0 / ((1.0 - h) * (1.0 - h))
                meat += (a_i * e) ** 2 * weight
                if df_code == BM:
                    d2 = a_i * a_i / (1.0 - h)
                    sum_a2 += a_i * a_i
                    sum_d4 += d2 * d2 * (1.0 - 2.0 * h)
                    a_mat[0, 0] += d2
                    for c in range(k):
                        a_mat[0, 1 + c] += d2 * v[c]
                        for d in range(c + 1):
                            a_mat[1 + c, 1 + d] += d2 * v[c] * v[d]
        if leverage_one:
            write_failure(out, status, r, st.LEVERAGE_ONE)
            continue
        if se_code == HC0 or se_code == HC2 or se_code == HC3:
            var = meat
        elif se_code == HC1:
            var = meat * n / df
        if df_code != BM:
            write_wald(out, status, r, b[0], np.sqrt(var), crit, truth[r])
            out[r, DOF] = dof if status[r] == st.OK else np.nan
            continue
        for c in range(k):  # A was accumulated in its first row and lower triangle
            a_mat[1 + c, 0] = a_mat[0, 1 + c]
            for d in range(c):
                a_mat[1 + d, 1 + c] = a_mat[1 + c, 1 + d]
        for d in range(k + 1):
            ma[0, d] = a_mat[0, d] / n
            for c in range(k):
                s = 0.0
                for j in range(k):
                    s += inv[c, j] * a_mat[1 + j, d]
                ma[1 + c, d] = s
        tr_mama = 0.0
        for c in range(k + 1):
            for d in range(k + 1):
                tr_mama += ma[c, d] * ma[d, c]
        se = np.sqrt(var)
        sum_sq = sum_d4 + tr_mama
        if not (se > 0.0) or not np.isfinite(se) or not (sum_sq > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        out[r, ESTIMATE] = b[0]
        out[r, SE] = se
        out[r, DOF] = sum_a2 * sum_a2 / sum_sq
        status[r] = st.OK


def _controls(batch, options, adjusted: bool) -> np.ndarray:
    if adjusted:
        return covariates(batch, options)
    y = batch["y"]
    return np.empty((y.shape[0], 0, y.shape[1]))


def _critical(level, n, k, df_type) -> tuple[float, float]:
    """(critical value, degrees of freedom) of a constant-df interval; NaN for BM (per replication)."""
    if df_type == "residual":
        return t_critical(level, n - k), float(n - k)
    if df_type == "normal":
        return normal_critical(level), math.inf
    return math.nan, math.nan


def check_options(options, level) -> str | None:
    if options["df"] == "bm" and options["se"] != "hc2":
        return f"df = 'bm' goes with se = 'hc2' (Bell–McCaffrey degrees of freedom of HC2), not se = {options['se']!r}"
    return None


def run_ols(batch, truth, options, level, out, status, adjusted):
    y, x, w = batch["y"], batch["x"], _controls(batch, options, adjusted)
    n, k = y.shape[1], w.shape[1] + 2
    crit, dof = _critical(level, n, k, options["df"])
    df_code = DF_TYPES.index(options["df"])
    ols_kernel(y, x, w, SE_TYPES.index(options["se"]), df_code, crit, dof, truth, out, status)
    if df_code == BM:
        write_t_intervals(out, status, truth, level, out[:, DOF])


def reference_ols(batch, truth, options, level, out, status, adjusted):
    """Plain numpy: X = [1, x, W], least squares, the hat matrix, textbook sandwiches;
    Bell–McCaffrey ν from the eigenvalues of G'G, G = (I − H)·diag(aᵢ/√(1 − hᵢ))."""
    y_all, x_all, w_all = batch["y"], batch["x"], _controls(batch, options, adjusted)
    se_type, df_type = options["se"], options["df"]
    for r in range(y_all.shape[0]):
        y = y_all[r]
        X = np.column_stack([np.ones_like(y), x_all[r], w_all[r].T])
        n, k = X.shape
        if n <= k:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        if np.ptp(x_all[r]) == 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if np.linalg.matrix_rank(X) < k:
            write_failure(out, status, r, st.SINGULAR)
            continue
        xtx_inv = np.linalg.inv(X.T @ X)
        beta = xtx_inv @ X.T @ y
        resid = y - X @ beta
        hat = X @ xtx_inv @ X.T
        h = np.diag(hat)
        if (se_type in ("hc2", "hc3") or df_type == "bm") and (1 - h <= LEVERAGE_TOLERANCE).any():
            write_failure(out, status, r, st.LEVERAGE_ONE)
            continue
        omega = {
            "classical": None,
            "hc0": resid**2,
            "hc1": resid**2 * n / (n - k),
            "hc2": resid**2 / (1 - h),
            "hc3": resid**2 / (1 - h) ** 2,
        }[se_type]
        if omega is None:
            cov = resid @ resid / (n - k) * xtx_inv
        else:
            cov = xtx_inv @ (X.T * omega) @ X @ xtx_inv
        se = np.sqrt(cov[1, 1])
        if df_type == "bm":
            a = (xtx_inv @ X.T)[1]
            g = (np.eye(n) - hat) * (a / np.sqrt(1 - h))  # column i scaled by dᵢ
            lam = np.linalg.eigvalsh(g.T @ g)
            dof = lam.sum() ** 2 / (lam**2).sum()
            crit = t_critical(level, dof)
        else:
            crit, dof = _critical(level, n, k, df_type)
        write_wald(out, status, r, beta[1], se, crit, truth[r])
        out[r, DOF] = dof if status[r] == st.OK else np.nan


def _sufficient_columns(batch, adjusted: bool) -> np.ndarray:
    """Indices into the scatter of [x, controls…, y]: x, the controls when adjusted, y."""
    q = batch["scatter"].shape[1]
    return np.array([0, *range(1, q - 1), q - 1] if adjusted else [0, q - 1], dtype=np.int64)


def _run_sufficient(batch, truth, options, level, out, status, adjusted):
    columns = _sufficient_columns(batch, adjusted)
    n = int(batch["n_obs"][0])  # one n per cell
    crit, dof = _critical(level, n, len(columns), options["df"])
    ols_sufficient_kernel(batch["scatter"], batch["n_obs"], columns, crit, dof, truth, out, status)


def _reference_sufficient(batch, truth, options, level, out, status, adjusted):
    """Plain numpy from S: b = solve(S_xx, s_xy), SSR = s_yy − b's, se² = SSR/(n − k)·[S_xx⁻¹]₀₀ (k with the intercept)."""
    columns = _sufficient_columns(batch, adjusted)
    for r in range(batch["scatter"].shape[0]):
        cp = batch["scatter"][r][np.ix_(columns, columns)]
        n, k = batch["n_obs"][r], len(columns)
        if n <= k:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        sxx, sxy = cp[:-1, :-1], cp[:-1, -1]
        if not cp[0, 0] > 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if np.linalg.matrix_rank(sxx) < k - 1:
            write_failure(out, status, r, st.SINGULAR)
            continue
        b = np.linalg.solve(sxx, sxy)
        ssr = cp[-1, -1] - b @ sxy
        se = np.sqrt(max(ssr, 0.0) / (n - k) * np.linalg.inv(sxx)[0, 0])
        crit, dof = _critical(level, n, k, options["df"])
        write_wald(out, status, r, b[0], se, crit, truth[r])
        out[r, DOF] = dof if status[r] == st.OK else np.nan


def _sufficient_check(options) -> str | None:
    if options.get("adjust") is not None:
        return "adjust = [...] picks variables from the data; the sufficient statistics hold the DGP's controls only"
    if options["se"] != "classical":
        return (
            f"se = {options['se']!r} needs every observation's residual; only se = 'classical' uses the scatter alone"
        )
    if options["df"] == "bm":
        return "df = 'bm' needs every observation's leverage"
    return None


ESTIMATORS = (
    Estimator(
        name="ols",
        summary="OLS of y on 1 + x (the naive regression)",
        needs=("y", "x"),
        run=partial(run_ols, adjusted=False),
        reference=partial(reference_ols, adjusted=False),
        options=(SE_OPTION, DF_OPTION),
        diagnostics=("dof",),
        check=check_options,
        sufficient=partial(_run_sufficient, adjusted=False),
        sufficient_reference=partial(_reference_sufficient, adjusted=False),
        sufficient_check=_sufficient_check,
    ),
    Estimator(
        name="ols_adjusted",
        summary="OLS of y on 1 + x + the covariates in adjust (default: the DGP's measured controls)",
        needs=("y", "x"),
        run=partial(run_ols, adjusted=True),
        reference=partial(reference_ols, adjusted=True),
        options=(SE_OPTION, DF_OPTION, ADJUST_OPTION),
        option_needs=adjustment_arrays,
        diagnostics=("dof",),
        check=check_options,
        sufficient=partial(_run_sufficient, adjusted=True),
        sufficient_reference=partial(_reference_sufficient, adjusted=True),
        sufficient_check=_sufficient_check,
    ),
)
