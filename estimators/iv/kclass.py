"""k-class IV estimators: 2SLS, LIML, Fuller, and 2SLS reported only past a first-stage pre-test.

One endogenous regressor x, K instruments z, an intercept.  The estimates,
the first-stage F and the ``classical`` and ``hc1`` standard errors are
those of `estimators.iv.common` (from the centred cross-products):

``tsls``          λ = 0;  ``liml``: λ the smallest root of det(Q − λE) = 0;
``fuller``        λ_LIML − alpha/(n − K − 1) (option ``alpha``, default 1).
``tsls_pretest``  2SLS reported only when a pre-test passes, else status
                  ``screened_out`` (its diagnostics still recorded).  Option
                  ``screen``: ``f`` (the first-stage F of the se type: the
                  classical F, or the robust one with hc1/cluster) > f_min;
                  ``effective`` (the effective F) > f_min; ``mop`` (the
                  effective F above its critical value for K_eff, below).

Standard errors (option ``se``): ``classical`` σ̂² = û'û/(n − 2) from the
structural residuals, ``hc1``, both with normal intervals (linearmodels
``debiased=True``, whose IV intervals are normal); ``cluster``: CR1 by the
DGP's ``cluster``, Σ_g (Σ_{i∈g} x̂ᵢûᵢ)² / (Qxx − λExx)² · G/(G − 1)·(n −
1)/(n − 2) (linearmodels ``cov_type="clustered", debiased=True``) with a
t(G − 1) interval.

Diagnostics per record: ``first_stage_f`` (F(K, n − K − 1) under no first
stage), ``first_stage_f_robust`` (the robust Wald statistic / K, with hc1
or cluster; NaN with classical), ``kappa``, ``first_stage_f_effective``
(Montiel Olea & Pflueger 2013: π̂'S_zzπ̂ / tr(S_zz⁻¹Ω̂) with the se type's
Ω̂, weakivtest's formula; equal to the robust F with one instrument, to the
classical F with classical errors) and ``effective_f_k_eff``, the K_eff of
MOP's simplified critical value for a 10 % worst-case bias,
ncx2.ppf(level, K_eff, K_eff/0.1)/K_eff (23.1 with K_eff = 1); the
summary's ``share_effective_f_weak`` compares each effective F with it.
Stock–Yogo (2005) critical values ship as package data
(``estimators/data/stock_yogo.csv``) and are printed next to the F
statistics of IV runs.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numba import njit
from scipy import stats

from .. import status as st
from ..inference import (
    cr1_factor,
    normal_critical,
    t_critical_table,
    write_failure,
    write_wald,
)
from ..spec import REJECT, Estimator, Setting
from .common import (
    CLASSICAL,
    CLUSTER,
    EXX,
    EXY,
    FSTAT,
    FULLER,
    HC1,
    LIML,
    N_STATS,
    NEEDS,
    QXX,
    QXY,
    SE_OPTION,
    SE_TYPES,
    SXX,
    SXY,
    SYY,
    TSLS,
    cluster_groups,
    cluster_needs,
    count_groups,
    effective_f,
    iv_statistics,
    liml_lambda,
    reference_fit,
    statistics_from_cross_products,
    sufficient_check,
    robust_first_stage_f,
    robust_sums,
)

# Diagnostic columns after the five core ones.
FIRST_F, ROBUST_F, KAPPA, EFFECTIVE_F, K_EFF = range(5, 10)
KCLASS_DIAGNOSTICS = ("first_stage_f", "first_stage_f_robust", "kappa", "first_stage_f_effective",
                      "effective_f_k_eff")  # fmt: skip
SCREEN_F, SCREEN_EFFECTIVE, SCREEN_MOP = 0, 1, 2
SCREENS = ("f", "effective", "mop")
TAU = 0.1  # worst-case bias of the effective-F critical value (MOP's 10 %)


@njit(cache=True)
def kclass_estimate(q, method, alpha, n, k):
    """(λ, Qxx − λExx, β(λ)) of the k-class member; β is NaN unless Qxx − λExx > 0 (then ``singular``).

    λ = κ − 1: 0 (2SLS), LIML's root, or LIML's root − alpha/(n − K − 1) (Fuller).
    """
    lam = 0.0
    if method != TSLS:
        lam = liml_lambda(q)
        if method == FULLER:
            lam -= alpha / (n - k - 1)
    denominator = q[QXX] - lam * q[EXX]
    beta = (q[QXY] - lam * q[EXY]) / denominator if denominator > 0.0 else np.nan
    return lam, denominator, beta


@njit(cache=True)
def classical_kclass_variance(q, beta, n, denominator):
    """σ̂²/(Qxx − λExx), σ̂² = (Syy − 2βSxy + β²Sxx)/(n − 2) the structural residuals' variance."""
    ssr = q[SYY] - 2.0 * beta * q[SXY] + beta * beta * q[SXX]
    return max(ssr, 0.0) / (n - 2) / denominator


@njit(cache=True)
def kclass_sufficient_kernel(scatter, n_obs, method, alpha, crit, f_min, truth, out, status):
    """Classical 2SLS / LIML / Fuller from each replication's centred scatter matrix alone.

    Parameters
    ----------
    scatter : float64 array, shape (R, K + 2, K + 2)
        Centred cross-products of [x, z_1..z_K, y] (`causalmc.sims.dgps.gaussian`).
    n_obs : float64 array, shape (R,)
    method, alpha, crit, f_min, truth, out, status
        As for `kclass_kernel` with ``se = classical``: the screening F (any
        screen) is the first-stage F, which is also the effective F (K_eff = K).

    Notes
    -----
    The arithmetic of `kclass_kernel`'s classical path after its cross-products:
    `statistics_from_cross_products`, `kclass_estimate`, `classical_kclass_variance`.
    """
    n_reps = scatter.shape[0]
    k = scatter.shape[1] - 2
    cp = np.empty((k + 2, k + 2))
    szz = np.empty((k, k))
    a = np.empty(k)
    q = np.empty(N_STATS)
    for r in range(n_reps):
        n = n_obs[r]
        cp[:, :] = scatter[r]
        code = statistics_from_cross_products(cp, k, n, szz, a, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        lam, denominator, beta = kclass_estimate(q, method, alpha, n, k)
        if not (denominator > 0.0):
            write_failure(out, status, r, st.SINGULAR)
            out[r, FIRST_F] = q[FSTAT]
            continue
        if f_min > -np.inf and not (q[FSTAT] > f_min):
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(
                out, status, r, beta, math.sqrt(classical_kclass_variance(q, beta, n, denominator)), crit, truth[r]
            )
        out[r, FIRST_F] = q[FSTAT]
        out[r, ROBUST_F] = np.nan
        out[r, KAPPA] = lam + 1.0
        out[r, EFFECTIVE_F] = q[FSTAT]
        out[r, K_EFF] = float(k)


@njit(cache=True)
def kclass_kernel(y, x, z, groups, method, alpha, se_code, crit, t_table, f_min, screen, truth, out, status):
    """Batched 2SLS / LIML / Fuller with first-stage diagnostics.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
    z : float64 array, shape (R, K, n)
    groups : float64 array, shape (R, n)
        Cluster ids 0 … G − 1 (read with ``se = cluster`` only).
    method : int
        TSLS, LIML or FULLER.
    alpha : float
        Fuller's constant (FULLER only).
    se_code : int
        CLASSICAL, HC1 or CLUSTER.
    crit : float
        Normal critical value z_{1−α/2} (classical, hc1).
    t_table : float64 array
        t critical values by degrees of freedom (cluster: t(G − 1)).
    f_min : float
        Pre-test threshold: replications whose screening F is ≤ f_min get
        status ``screened_out`` (their diagnostics are still recorded); −inf
        for none.
    screen : int
        SCREEN_F (the first-stage F of the se type: classical F, or the
        robust one) or SCREEN_EFFECTIVE (the effective F).
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 10)
        estimate, se, ci_low, ci_high, reject, first_stage_f,
        first_stage_f_robust (hc1/cluster, else NaN), kappa,
        first_stage_f_effective, and effective_f_k_eff, the K_eff of its
        critical value (`effective_critical_value`).
    status : int8 array, shape (R,)

    Notes
    -----
    Cluster variance: Σ_g (Σ_{i∈g} x̂ᵢûᵢ)² / (Qxx − λExx)² · G/(G − 1)·(n − 1)/(n − 2)
    (linearmodels ``cov_type="clustered", debiased=True``), t(G − 1)
    interval.  The first stage's robust meat takes HC1's n/(n − K − 1) or
    CR1's G/(G − 1)·(n − 1)/(n − K − 1); classical, it is σ̂²S_zz and the
    effective F is the classical F with K_eff = K.
    """
    n_reps, k, n = z.shape
    work = np.empty((k + 2, n))
    cp = np.empty((k + 2, k + 2))
    means = np.empty(k + 2)
    szz = np.empty((k, k))
    a = np.empty(k)
    q = np.empty(N_STATS)
    meat = np.empty((k, k))
    scratch = np.empty((k, k))
    szx = np.empty(k)
    score_g = np.empty(n)
    first_g = np.empty((n, k))
    for r in range(n_reps):
        code = iv_statistics(x[r], z[r], y[r], work, cp, means, szz, a, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        lam, denominator, beta = kclass_estimate(q, method, alpha, n, k)
        if not (denominator > 0.0):
            write_failure(out, status, r, st.SINGULAR)
            out[r, FIRST_F] = q[FSTAT]
            continue
        robust_f = np.nan
        if se_code == CLASSICAL:
            var = classical_kclass_variance(q, beta, n, denominator)
            effective, k_eff = q[FSTAT], float(k)
            c = crit
        else:
            n_groups = count_groups(groups[r]) if se_code == CLUSTER else 0
            if se_code == CLUSTER and n_groups < 2:
                write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
                continue
            for j in range(k):
                szx[j] = cp[1 + j, 0]
            total = robust_sums(x[r], z[r], y[r], means, a, beta, True, meat, groups[r], n_groups, score_g, first_g)
            if se_code == HC1:
                var = total / denominator**2 * n / (n - 2)
                first_factor = n / (n - k - 1.0)
                c = crit
            else:
                var = total / denominator**2 * cr1_factor(n_groups, n, 2)  # K = 2: intercept and x
                first_factor = cr1_factor(n_groups, n, k + 1)
                c = t_table[n_groups - 1]
            robust_f = robust_first_stage_f(meat, szx, k, first_factor)
            effective, k_eff = effective_f(q[QXX], szz, meat, k, first_factor, scratch)
        f_used = effective if screen == SCREEN_EFFECTIVE else (q[FSTAT] if se_code == CLASSICAL else robust_f)
        if f_min > -np.inf and not (f_used > f_min):
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta, math.sqrt(var), c, truth[r])
        out[r, FIRST_F] = q[FSTAT]
        out[r, ROBUST_F] = robust_f
        out[r, KAPPA] = lam + 1.0
        out[r, EFFECTIVE_F] = effective
        out[r, K_EFF] = k_eff


def effective_critical_value(k_eff, level=0.95):
    """MOP's simplified (Patnaik) critical value of the effective F for 10 % worst-case bias at α = 1 − level:
    χ²-noncentral quantile ncx2.ppf(level, K_eff, K_eff/τ)/K_eff (23.1 for K_eff = 1)."""
    k_eff = np.asarray(k_eff, dtype=float)
    value = np.full(k_eff.shape, np.nan)
    usable = np.isfinite(k_eff) & (k_eff > 0)
    distinct, where = np.unique(k_eff[usable], return_inverse=True)  # homoskedastic: one K_eff = K
    value[usable] = (stats.ncx2.ppf(level, distinct, distinct / TAU) / distinct)[where]
    return value


def finish_kclass(out, status, options):
    """MOP screening (``screen = "mop"``): the effective F against its critical value from K_eff.

    The critical value (a noncentral χ² quantile, slow) is computed only
    here and in the summary (``share_effective_f_weak``), not per record.
    """
    if options.get("screen") == "mop":
        weak = (status == st.OK) & ~(out[:, EFFECTIVE_F] > effective_critical_value(out[:, K_EFF]))
        out[weak, : REJECT + 1] = np.nan
        status[weak] = st.SCREENED_OUT


def _run_kclass(batch, truth, options, level, out, status, method):
    screen = SCREENS.index(options.get("screen", "f"))
    kclass_kernel(
        batch["y"], batch["x"], batch["z"], cluster_groups(batch), method, float(options.get("alpha", 0.0)),
        SE_TYPES.index(options["se"]), normal_critical(level), t_critical_table(level, batch["y"].shape[1]),
        float(options.get("f_min", -np.inf)) if screen != SCREEN_MOP else -np.inf, screen, truth, out, status,
    )  # fmt: skip
    finish_kclass(out, status, options)


def _reference_kclass(batch, truth, options, level, out, status, method):
    """Explicit matrices: A = X'(I − κM_Z)X, the sandwich with P_Z X (by observation or cluster), the first
    stage's robust covariance of the excluded coefficients, the effective F from the orthonormalised
    instruments, K_eff from the eigenvalues of its Ŵ."""
    alpha = float(options.get("alpha", 0.0))
    screen = options.get("screen", "f")
    f_min = float(options.get("f_min", -np.inf)) if screen != "mop" else -np.inf
    se = options["se"]
    for r in range(batch["y"].shape[0]):
        code, fit = reference_fit(batch, r, method, alpha)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        beta, A, xhat, resid, kappa, f, Z, n, k = fit
        a_inv = np.linalg.inv(A)
        robust_f, effective, k_eff = np.nan, f, float(k)
        crit = normal_critical(level)
        if se == "classical":
            cov = resid @ resid / (n - 2) * a_inv
        else:
            groups = batch["cluster"][r] if se == "cluster" else np.arange(n)
            labels = np.unique(groups)
            if se == "cluster" and len(labels) < 2:
                write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
                continue
            scores = np.array([xhat[groups == g].T @ resid[groups == g] for g in labels])
            g_count = len(labels)
            factor = n / (n - 2) if se == "hc1" else g_count / (g_count - 1) * (n - 1) / (n - 2)
            cov = a_inv @ scores.T @ scores @ a_inv * factor
            if se == "cluster":
                crit = stats.t.ppf(0.5 + level / 2, g_count - 1)
            robust_f, effective, k_eff = reference_first_stage(batch["x"][r], Z, groups, se)
        f_used = effective if screen == "effective" else (f if se == "classical" else robust_f)
        if f_min > -np.inf and not f_used > f_min:
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta[1], np.sqrt(cov[1, 1]), crit, truth[r])
        out[r, FIRST_F : K_EFF + 1] = f, robust_f, kappa, effective, k_eff
    finish_kclass(out, status, options)


def reference_first_stage(x, Z, groups, se):
    """(robust F, effective F, K_eff) of x ~ Z with HC1, CR1 or CR2 covariance, from explicit matrices.

    CR2 (`cr2`): each cluster's residuals premultiplied by A_g = (I − H_gg)^(−1/2), no further factor.

    The effective F as MOP define it: instruments orthonormalised (Z̃'Z̃/n = I after partialling out the
    intercept), F_eff = x'Z̃Z̃'x/(n·tr Ŵ) with Ŵ the robust covariance of √n times Z̃'s first-stage coefficients.
    """
    n, k = Z.shape[0], Z.shape[1] - 1
    coef = np.linalg.lstsq(Z, x, rcond=None)[0]
    e = x - Z @ coef
    labels = np.unique(groups)
    g_count = len(labels)
    factor = n / (n - k - 1) if se == "hc1" else g_count / (g_count - 1) * (n - 1) / (n - k - 1)
    if se == "cr2":
        from .cr2 import reference_adjustments

        factor = 1.0
        adjustments = reference_adjustments(Z, groups)
        adjusted = {g: (lambda v, g=g: adjustments[g][1] @ v) for g in labels}
    else:
        adjusted = {g: (lambda v: v) for g in labels}
    zz_inv = np.linalg.inv(Z.T @ Z)
    scores = np.array([Z[groups == g].T @ adjusted[g](e[groups == g]) for g in labels])
    cov = zz_inv @ scores.T @ scores @ zz_inv * factor
    b = coef[1:]
    robust_f = b @ np.linalg.solve(cov[1:, 1:], b) / k
    zc = Z[:, 1:] - Z[:, 1:].mean(axis=0)
    root = np.linalg.cholesky(zc.T @ zc / n)
    zt = zc @ np.linalg.inv(root).T  # orthonormalised: zt'zt/n = I
    pi_t = zt.T @ x / n  # first-stage coefficients of zt (its columns are orthogonal to 1)
    resid = x - x.mean() - zt @ pi_t
    s_t = np.array([zt[groups == g].T @ adjusted[g](resid[groups == g]) for g in labels])
    w = s_t.T @ s_t / n * factor  # robust covariance of √n·π̂_t (zt'zt/n = I)
    effective = (x @ zt) @ (zt.T @ x) / (n * n * np.trace(w)) * n
    eig = np.linalg.eigvalsh(w)
    k_eff = np.trace(w) ** 2 * (1 + 2 / TAU) / (np.trace(w @ w) + 2 / TAU * np.trace(w) * eig.max())
    return robust_f, effective, k_eff


def _run_kclass_sufficient(batch, truth, options, level, out, status, method):
    screen = SCREENS.index(options.get("screen", "f"))
    kclass_sufficient_kernel(
        batch["scatter"], batch["n_obs"], method, float(options.get("alpha", 0.0)), normal_critical(level),
        float(options.get("f_min", -np.inf)) if screen != SCREEN_MOP else -np.inf, truth, out, status,
    )  # fmt: skip
    finish_kclass(out, status, options)


def _reference_kclass_sufficient(batch, truth, options, level, out, status, method):
    """Plain numpy from S of [x, z…, y]: Q = S_·z S_zz⁻¹ S_z·, E = S − Q for W = [y, x]; LIML's κ the smallest
    eigenvalue of E_W⁻¹S_W; β = (Qxy − λExy)/(Qxx − λExx); σ̂² = (Syy − 2βSxy + β²Sxx)/(n − 2)."""
    alpha = float(options.get("alpha", 0.0))
    screen = options.get("screen", "f")
    f_min = float(options.get("f_min", -np.inf)) if screen != "mop" else -np.inf
    crit = normal_critical(level)
    for r in range(batch["scatter"].shape[0]):
        s, n = batch["scatter"][r], batch["n_obs"][r]
        k = s.shape[0] - 2
        if n - k - 1 <= 1:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        w = [k + 1, 0]  # y, x
        s_zz, s_zw = s[1 : k + 1, 1 : k + 1], s[1 : k + 1][:, w]
        if np.linalg.matrix_rank(s_zz) < k:
            write_failure(out, status, r, st.SINGULAR)
            continue
        q_w = s_zw.T @ np.linalg.solve(s_zz, s_zw)
        e_w = s[np.ix_(w, w)] - q_w
        f = (q_w[1, 1] / k) / (e_w[1, 1] / (n - k - 1))
        if not (q_w[1, 1] > 0 and e_w[1, 1] > 0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        lam = 0.0
        if method != TSLS:
            lam = max(np.min(np.linalg.eigvals(np.linalg.solve(e_w, s[np.ix_(w, w)])).real) - 1.0, 0.0)
            if method == FULLER:
                lam -= alpha / (n - k - 1)
        denominator = q_w[1, 1] - lam * e_w[1, 1]
        beta = (q_w[0, 1] - lam * e_w[0, 1]) / denominator
        ssr = s[k + 1, k + 1] - 2 * beta * s[0, k + 1] + beta**2 * s[0, 0]
        if f_min > -np.inf and not f > f_min:
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta, np.sqrt(max(ssr, 0.0) / (n - 2) / denominator), crit, truth[r])
        out[r, FIRST_F : K_EFF + 1] = f, np.nan, lam + 1.0, f, k
    finish_kclass(out, status, options)


_FULLER_ALPHA = Setting("alpha", 1.0, "Fuller's constant (1 is nearly unbiased)", minimum=0.0, min_exclusive=True)
_F_MIN = Setting("f_min", 10.0, "report 2SLS only when the screening F exceeds this", minimum=0.0)
_SCREEN = Setting(
    "screen",
    "f",
    "the pre-test: f (the first-stage F of the se type: classical, or robust with hc1/cluster) or effective "
    "(Montiel Olea & Pflueger's effective F) above f_min, or mop (the effective F above its 10 % worst-case-bias "
    "critical value; f_min unused)",
    choices=SCREENS,
)

ESTIMATORS = (
    Estimator(
        name="tsls",
        summary="two-stage least squares, normal interval; records the first-stage F",
        needs=NEEDS,
        run=partial(_run_kclass, method=TSLS),
        reference=partial(_reference_kclass, method=TSLS),
        sufficient=partial(_run_kclass_sufficient, method=TSLS),
        sufficient_reference=partial(_reference_kclass_sufficient, method=TSLS),
        sufficient_check=sufficient_check,
        options=(SE_OPTION,),
        diagnostics=KCLASS_DIAGNOSTICS,
        option_needs=cluster_needs,
    ),
    Estimator(
        name="liml",
        summary="limited-information maximum likelihood (k-class, κ = smallest eigenvalue)",
        needs=NEEDS,
        run=partial(_run_kclass, method=LIML),
        reference=partial(_reference_kclass, method=LIML),
        sufficient=partial(_run_kclass_sufficient, method=LIML),
        sufficient_reference=partial(_reference_kclass_sufficient, method=LIML),
        sufficient_check=sufficient_check,
        options=(SE_OPTION,),
        diagnostics=KCLASS_DIAGNOSTICS,
        option_needs=cluster_needs,
    ),
    Estimator(
        name="fuller",
        summary="Fuller's modified LIML, κ = κ_LIML − alpha/(n − K − 1)",
        needs=NEEDS,
        run=partial(_run_kclass, method=FULLER),
        reference=partial(_reference_kclass, method=FULLER),
        sufficient=partial(_run_kclass_sufficient, method=FULLER),
        sufficient_reference=partial(_reference_kclass_sufficient, method=FULLER),
        sufficient_check=sufficient_check,
        options=(SE_OPTION, _FULLER_ALPHA),
        diagnostics=KCLASS_DIAGNOSTICS,
        option_needs=cluster_needs,
    ),
    Estimator(
        name="tsls_pretest",
        summary="2SLS reported only when a first-stage pre-test passes (else screened_out)",
        needs=NEEDS,
        run=partial(_run_kclass, method=TSLS),
        reference=partial(_reference_kclass, method=TSLS),
        sufficient=partial(_run_kclass_sufficient, method=TSLS),
        sufficient_reference=partial(_reference_kclass_sufficient, method=TSLS),
        sufficient_check=sufficient_check,
        options=(SE_OPTION, _F_MIN, _SCREEN),
        diagnostics=KCLASS_DIAGNOSTICS,
        option_needs=cluster_needs,
    ),
)
