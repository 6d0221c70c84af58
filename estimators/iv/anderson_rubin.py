"""The Anderson–Rubin test of H0: β = β0, classical or heteroskedasticity/cluster-robust, and its confidence set.

The AR test regresses y − β0·x on [1, z] and tests that the instruments'
coefficients are zero.  Centred (intercept partialled out), with
g(β0) = S_zy − β0·S_zx, the coefficients are S_zz⁻¹g(β0) and the residuals
ε_i(β0) = e_yi − β0·e_xi, where e_y, e_x are the first-stage residuals of
y and x on z.

``se = "classical"``: AR(β0) = (u0'P u0 / K) / (u0'M u0 / (n − K − 1)),
u0'P u0 = Qyy − 2β0·Qxy + β0²·Qxx, u0'M u0 = Eyy − 2β0·Exy + β0²·Exx;
exactly F(K, n − K − 1) under H0 with normal homoskedastic errors, whatever
the instruments' strength.  Its confidence set {AR ≤ c} is
{a·β0² + b·β0 + d ≤ 0} with a = (n−K−1)·Qxx − cK·Exx,
b = −2((n−K−1)·Qxy − cK·Exy), d = (n−K−1)·Qyy − cK·Eyy.

``se = "hc1"`` or ``"cluster"``: the Wald statistic with the robust
covariance, W(β0) = g'(f·Ω(β0))⁻¹g with
Ω(β0) = Σ_g s_g(β0) s_g(β0)' = Ω_yy − β0(Ω_xy + Ω_yx) + β0²Ω_xx,
s_g = Σ_{i∈g} z̃_i ε_i (each observation its own group for hc1), and
f = n/(n − K − 1) (HC1) or G/(G − 1)·(n − 1)/(n − K − 1) (CR1); AR = W/K
against F(K, n − K − 1) (hc1) or F(K, G − 1) (cluster): statsmodels
``OLS(...).fit(cov_type=...).wald_test(..., use_f=True)``.  Robust to
heteroskedasticity (and within-cluster correlation), valid whatever the
instruments' strength, no longer exact.  Its confidence set
{W ≤ Kc} = {det(C·Ω(β0) − g g') ≥ 0} with C = f·K·c, a polynomial of
degree 2K in β0 (Ω(β0) ≻ 0): its real roots, from the eigenvalues of the
quadratic eigenvalue problem's companion matrix, bound the accepted
pieces.  K = 1 gives a quadratic, as in the classical case.

``se = "cr2"``: the CR2 Wald statistic with the HTZ small-sample test of
Pustejovsky & Tipton (2018), (ν − K + 1)/ν · W/K against F(K, ν − K + 1)
(`estimators.iv.cr2`; clubSandwich ``Wald_test(vcov = "CR2", test =
"HTZ")``, fixtures in ``tests/fixtures/cr2_htz/``).

The set is stored in the encoding of `estimators.inference`: a bounded
interval, two rays (ci_low > ci_high), the whole line or the empty set.
With K ≥ 2 the robust set can have more pieces (rare); it is then stored
as the smallest of these shapes that contains it (its coverage can only
rise; the test at the truth is exact) and ``ar_set_pieces`` counts the
pieces.  `estimate` is the 2SLS estimate; `se` is NaN.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numba import njit
from scipy import optimize, stats

from .. import status as st
from ..inference import (
    cholesky_solve,
    cr1_factor,
    f_critical,
    inverse_quadratic_form,
    write_failure,
)
from ..moments import FAST
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator, Setting
from .common import (
    CLASSICAL,
    CLUSTER,
    EXX,
    EXY,
    EYY,
    FSTAT,
    N_STATS,
    NEEDS,
    QXX,
    QXY,
    QYY,
    SE_TYPES,
    TSLS,
    cluster_groups,
    cluster_needs,
    count_groups,
    effective_f,
    iv_statistics,
    projection,
    statistics_from_cross_products,
    sufficient_check,
    quadratic_set,
    reference_fit,
)
from .cr2 import cr2_batch, reference_adjustments, reference_cr2_htz
from .kclass import reference_first_stage

AR_STAT, FIRST_F, EFFECTIVE_F, PIECES = 5, 6, 7, 8
AR_SE_TYPES = (*SE_TYPES, "cr2")
CR2 = AR_SE_TYPES.index("cr2")
AR_DIAGNOSTICS = ("ar_stat", "first_stage_f", "first_stage_f_effective", "ar_set_pieces")
IMAG_TOLERANCE = 1e-9  # an eigenvalue with |imag| below this share of its modulus is a real root


@njit(cache=True, fastmath=FAST)
def robust_meats(x, z, y, means, a, c, groups, n_groups, omega, s_g, weights, weighted):
    """Ω_yy, Ω_xy, Ω_xx (omega[0], omega[1], omega[2], each K × K) of the module docstring.

    Ω_xy = Σ_g s_gx s_gy'; groups[i] ∈ 0 … n_groups − 1, or n_groups = 0 for
    one group per observation; s_g (n_groups, 2, K) is scratch.  With
    `weighted`, the scores are s_g = Σ_{i∈g} weights[:, i]·e_i (CR2: the
    columns of Ĝ_g = Z̃_g'A_g, `cr2`) instead of Σ z̃_i e_i.
    """
    k, n = z.shape
    iy = k + 1
    zc = np.empty(k)
    omega[:, :, :] = 0.0
    if n_groups > 0:
        s_g[:n_groups, :, :] = 0.0
    for i in range(n):
        fit_x = 0.0
        fit_y = 0.0
        for j in range(k):
            zc[j] = z[j, i] - z[j, 0] - means[1 + j]
            fit_x += a[j] * zc[j]
            fit_y += c[j] * zc[j]
        ex = x[i] - x[0] - means[0] - fit_x
        ey = y[i] - y[0] - means[iy] - fit_y
        if n_groups > 0:
            g = int(groups[i])
            for j in range(k):
                score = weights[j, i] if weighted else zc[j]
                s_g[g, 0, j] += score * ey
                s_g[g, 1, j] += score * ex
            continue
        ey2, exy, ex2 = ey * ey, ex * ey, ex * ex
        for j in range(k):
            for m in range(j + 1):  # Ω_yy and Ω_xx are symmetric: the lower triangle, mirrored below
                zz = zc[j] * zc[m]
                omega[0, j, m] += zz * ey2
                omega[2, j, m] += zz * ex2
            for m in range(k):
                omega[1, j, m] += zc[j] * zc[m] * exy
    if n_groups == 0:
        for j in range(k):
            for m in range(j):
                omega[0, m, j] = omega[0, j, m]
                omega[2, m, j] = omega[2, j, m]
    for g in range(n_groups):
        for j in range(k):
            for m in range(k):
                omega[0, j, m] += s_g[g, 0, j] * s_g[g, 0, m]
                omega[1, j, m] += s_g[g, 1, j] * s_g[g, 0, m]
                omega[2, j, m] += s_g[g, 1, j] * s_g[g, 1, m]


@njit(cache=True)
def robust_wald(b0, gy, gx, omega, k, work, vec):
    """g(β0)'Ω(β0)⁻¹g(β0) (no small-sample factor); NaN when Ω(β0) is not positive definite."""
    for j in range(k):
        vec[j] = gy[j] - b0 * gx[j]
        for m in range(k):
            work[j, m] = omega[0, j, m] - b0 * (omega[1, j, m] + omega[1, m, j]) + b0 * b0 * omega[2, j, m]
    return inverse_quadratic_form(work, vec, k)


@njit(cache=True)
def polynomial_roots(m0, m1, m2, k):
    """Real roots of det(M0 + M1·t + M2·t²) from the companion matrix of the quadratic eigenvalue problem.

    Linearised with the better-conditioned end: M2 (roots t) or, when M2 is
    nearly singular, M0 (roots 1/t of the reversed polynomial).
    """
    lead, tail = m2, m0
    scale2 = abs(np.linalg.det(m2)) / max(np.prod(np.sqrt(np.abs(np.diag(m2)) + 1e-300)), 1e-300) ** 2
    scale0 = abs(np.linalg.det(m0)) / max(np.prod(np.sqrt(np.abs(np.diag(m0)) + 1e-300)), 1e-300) ** 2
    reversed_ = scale2 < 1e-10 and scale0 > scale2
    if reversed_:
        lead, tail = m0, m2
    companion = np.zeros((2 * k, 2 * k))
    for j in range(k):
        companion[j, k + j] = 1.0
    inv_lead = np.linalg.inv(lead)
    lower_left = -inv_lead @ tail
    lower_right = -inv_lead @ m1
    for j in range(k):
        for m in range(k):
            companion[k + j, m] = lower_left[j, m]
            companion[k + j, k + m] = lower_right[j, m]
    eig = np.linalg.eigvals(companion.astype(np.complex128))
    roots = np.empty(2 * k)
    count = 0
    for value in eig:
        if abs(value.imag) <= IMAG_TOLERANCE * (1.0 + abs(value.real)):
            if reversed_:
                if value.real == 0.0:
                    continue
                roots[count] = 1.0 / value.real
            else:
                roots[count] = value.real
            count += 1
    return np.sort(roots[:count])


@njit(cache=True)
def accepted_set(roots, accept_at, ends):
    """The (ci_low, ci_high) encoding of the accepted pieces, and their number.

    roots: sorted boundaries; accept_at[j]: whether the piece left of
    roots[j] (j < m) or right of the last (j = m) is accepted; `ends` the
    same for ±∞ (the outer pieces).
    """
    m = roots.shape[0]
    pieces = 0
    lo = np.inf
    hi = -np.inf
    previous = False
    for j in range(m + 1):
        if accept_at[j]:
            if not previous:
                pieces += 1
            left = -np.inf if j == 0 else roots[j - 1]
            right = np.inf if j == m else roots[j]
            lo = min(lo, left)
            hi = max(hi, right)
        previous = accept_at[j]
    if pieces == 0:
        return np.inf, -np.inf, 0
    if ends and accept_at[0] and accept_at[m] and pieces == 2:
        # Two rays: (-inf, right end of the first piece] ∪ [left end of the last, inf).
        first_end = roots[0]
        for j in range(m + 1):
            if not accept_at[j]:
                first_end = roots[j - 1]
                break
        last_start = roots[m - 1]
        for j in range(m, -1, -1):
            if not accept_at[j]:
                last_start = roots[j]
                break
        return last_start, first_end, 2
    return lo, hi, pieces


@njit(cache=True)
def robust_set(gy, gx, omega, k, threshold, work, vec):
    """The robust AR confidence set {W ≤ threshold}: (ci_low, ci_high, pieces)."""
    if k == 1:
        # (gy − t·gx)² ≤ threshold·Ω(t): −(M2 t² + M1 t + M0) ≤ 0.
        m2 = threshold * omega[2, 0, 0] - gx[0] * gx[0]
        m1 = -threshold * 2.0 * omega[1, 0, 0] + 2.0 * gy[0] * gx[0]
        m0 = threshold * omega[0, 0, 0] - gy[0] * gy[0]
        lo, hi = quadratic_set(-m2, -m1, -m0)
        pieces = 0 if lo == np.inf and hi == -np.inf else (2 if lo > hi else 1)
        return lo, hi, pieces
    m0 = np.empty((k, k))
    m1 = np.empty((k, k))
    m2 = np.empty((k, k))
    for j in range(k):
        for m in range(k):
            m0[j, m] = threshold * omega[0, j, m] - gy[j] * gy[m]
            m1[j, m] = -threshold * (omega[1, j, m] + omega[1, m, j]) + gy[j] * gx[m] + gx[j] * gy[m]
            m2[j, m] = threshold * omega[2, j, m] - gx[j] * gx[m]
    roots = polynomial_roots(m0, m1, m2, k)
    m = roots.shape[0]
    accept_at = np.empty(m + 1, dtype=np.bool_)
    span = 1.0
    for j in range(m):
        span = max(span, abs(roots[j]))
    for j in range(m + 1):
        if m == 0:
            point = 0.0
        elif j == 0:
            point = roots[0] - span
        elif j == m:
            point = roots[m - 1] + span
        else:
            point = 0.5 * (roots[j - 1] + roots[j])
        accept_at[j] = robust_wald(point, gy, gx, omega, k, work, vec) <= threshold
    return accepted_set(roots, accept_at, True)


@njit(cache=True)
def classical_ar(q, k, df, crit, b0):
    """The classical AR test of H0: β = b0 and its set from the cross-product statistics q.

    AR(b0) = (e'P_Z e/K)/(e'M_Z e/df), e = y − b0·x (df = n − K − 1): a quadratic
    ratio in b0, so {b0: AR ≤ crit} is where df·(Q − crit·K/df·E) of [y, x] is
    negative semidefinite along (1, −b0): `quadratic_set`.  Returns (status,
    AR, ci_low, ci_high, pieces).
    """
    explained = q[QYY] - 2.0 * b0 * q[QXY] + b0 * b0 * q[QXX]
    residual = q[EYY] - 2.0 * b0 * q[EXY] + b0 * b0 * q[EXX]
    if not (residual > 0.0):
        return st.NO_VARIATION, np.nan, np.nan, np.nan, np.nan
    ar = (explained / k) / (residual / df)
    qa = df * q[QXX] - crit * k * q[EXX]
    qb = -2.0 * (df * q[QXY] - crit * k * q[EXY])
    qc = df * q[QYY] - crit * k * q[EYY]
    low, high = quadratic_set(qa, qb, qc)
    pieces = 0.0 if low == np.inf and high == -np.inf else (2.0 if low > high else 1.0)
    return st.OK, ar, low, high, pieces


@njit(cache=True)
def write_ar(out, status, r, q, ar, crit, low, high, pieces, effective):
    """Replication r's record: the 2SLS estimate (no se), the AR set, its test at the truth, the diagnostics."""
    out[r, ESTIMATE] = q[QXY] / q[QXX]
    out[r, SE] = np.nan
    out[r, CI_LOW] = low
    out[r, CI_HIGH] = high
    out[r, REJECT] = 1.0 if ar > crit else 0.0
    out[r, AR_STAT] = ar
    out[r, FIRST_F] = q[FSTAT]
    out[r, EFFECTIVE_F] = effective
    out[r, PIECES] = pieces
    status[r] = st.OK


@njit(cache=True)
def anderson_rubin_sufficient_kernel(scatter, n_obs, crit, truth, out, status):
    """The classical Anderson–Rubin test and set from each replication's centred scatter matrix alone.

    Parameters
    ----------
    scatter : float64 array, shape (R, K + 2, K + 2)
        Centred cross-products of [x, z_1..z_K, y] (`causalmc.sims.dgps.gaussian`).
    n_obs : float64 array, shape (R,)
    crit : float
        The F(K, n − K − 1) critical value (one n per cell).
    truth, out, status
        As for `anderson_rubin_kernel` with ``se = classical``.
    """
    n_reps = scatter.shape[0]
    k = scatter.shape[1] - 2
    cp = np.empty((k + 2, k + 2))
    szz = np.empty((k, k))
    a = np.empty(k)
    q = np.empty(N_STATS)
    for r in range(n_reps):
        cp[:, :] = scatter[r]
        code = statistics_from_cross_products(cp, k, n_obs[r], szz, a, q)
        if code == st.OK:
            code, ar, low, high, pieces = classical_ar(q, k, n_obs[r] - k - 1, crit, truth[r])
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        write_ar(out, status, r, q, ar, crit, low, high, pieces, q[FSTAT])


@njit(cache=True)
def anderson_rubin_kernel(y, x, z, groups, se_code, f_crit, g_hat, nu, cr2_crit, truth, out, status):
    """Batched Anderson–Rubin test of H0: β = truth and its inverted confidence set.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
    z : float64 array, shape (R, K, n)
    groups : float64 array, shape (R, n)
        Cluster ids 0 … G − 1 (``se = cluster`` only).
    se_code : int
        CLASSICAL, HC1, CLUSTER or CR2.
    f_crit : float64 array
        F critical values by denominator degrees of freedom (index n − K − 1
        for classical and hc1, G − 1 for cluster).
    g_hat, nu, cr2_crit : float64 arrays, shapes (R, K, n), (R,), (R,)
        CR2 only (else unread): Ĝ, the HTZ ν (`cr2.cr2_batch`) and the
        F(K, ν − K + 1) critical value of each replication.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 9)
        estimate (2SLS), se (NaN), ci_low, ci_high, reject, ar_stat (at the
        truth), first_stage_f, first_stage_f_effective, ar_set_pieces.
    status : int8 array, shape (R,)
    """
    n_reps, k, n = z.shape
    work = np.empty((k + 2, n))
    cp = np.empty((k + 2, k + 2))
    means = np.empty(k + 2)
    szz = np.empty((k, k))
    a_fs = np.empty(k)
    c_fs = np.empty(k)
    gy = np.empty(k)
    gx = np.empty(k)
    q = np.empty(N_STATS)
    omega = np.empty((3, k, k))
    s_g = np.empty((n, 2, k))
    small = np.empty((k, k))
    vec = np.empty(k)
    meat = np.empty((k, k))
    scratch = np.empty((k, k))
    df = n - k - 1
    for r in range(n_reps):
        code = iv_statistics(x[r], z[r], y[r], work, cp, means, szz, a_fs, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        b0 = truth[r]
        if se_code == CLASSICAL:
            crit = f_crit[df]
            code, ar, low, high, pieces = classical_ar(q, k, df, crit, b0)
            if code != st.OK:
                write_failure(out, status, r, code)
                continue
            effective = q[FSTAT]
        else:
            clustered = se_code == CLUSTER or se_code == CR2
            n_groups = count_groups(groups[r]) if clustered else 0
            if clustered and n_groups < 2:
                write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
                continue
            if se_code == CR2 and not (nu[r] - k + 1.0 > 0.0 and cr2_crit[r] > 0.0):
                write_failure(out, status, r, st.NO_RESIDUAL_DF)
                continue
            iy = k + 1
            for j in range(k):
                c_fs[j] = cp[1 + j, iy]
                gy[j] = cp[1 + j, iy]
                gx[j] = cp[1 + j, 0]
            cholesky_solve(szz, c_fs, k)
            robust_meats(x[r], z[r], y[r], means, a_fs, c_fs, groups[r], n_groups, omega, s_g, g_hat[r], se_code == CR2)
            if se_code == CR2:  # HTZ: reject when (ν − K + 1)/ν · W/K exceeds the F(K, ν − K + 1) quantile
                factor = nu[r] / (nu[r] - k + 1.0)
                crit = cr2_crit[r]
            elif se_code == CLUSTER:
                factor = cr1_factor(n_groups, n, k + 1)
                crit = f_crit[n_groups - 1]
            else:
                factor = n / float(df)
                crit = f_crit[df]
            wald = robust_wald(b0, gy, gx, omega, k, small, vec)
            if math.isnan(wald):
                write_failure(out, status, r, st.SINGULAR)
                continue
            ar = wald / factor / k
            low, high, pieces_int = robust_set(gy, gx, omega, k, factor * k * crit, small, vec)
            pieces = float(pieces_int)
            for j in range(k):
                for m in range(j + 1):
                    meat[j, m] = omega[2, j, m]
            effective, _ = effective_f(q[QXX], szz, meat, k, 1.0 if se_code == CR2 else factor, scratch)
        write_ar(out, status, r, q, ar, crit, low, high, pieces, effective)


@cache
def f_critical_by_df(level: float, k: int, max_df: int) -> np.ndarray:
    """F(K, d) critical values indexed by d = 0 … max_df (index 0 NaN)."""
    table = np.full(max_df + 1, np.nan)
    table[1:] = stats.f.ppf(level, k, np.arange(1, max_df + 1))
    table.setflags(write=False)
    return table


def cr2_critical_values(batch, level):
    """Ĝ, ν and the F(K, ν − K + 1) critical value per replication (`cr2`; NaN where ν is not defined)."""
    z = batch["z"]
    r, k, n = z.shape
    g_hat, nu = np.empty((r, k, n)), np.empty(r)
    cr2_batch(z, batch["cluster"], g_hat, nu)
    with np.errstate(invalid="ignore"):
        crit = np.where(nu - k + 1 > 0, stats.f.ppf(level, k, np.maximum(nu - k + 1, 1e-300)), np.nan)
    return g_hat, nu, crit


_UNUSED = np.zeros((1, 1, 1))


def _run_anderson_rubin(batch, truth, options, level, out, status):
    k, n = batch["z"].shape[1:]
    se_code = AR_SE_TYPES.index(options["se"])
    g_hat, nu, crit = _UNUSED, _UNUSED[0, 0], _UNUSED[0, 0]
    if se_code == CR2:
        g_hat, nu, crit = cr2_critical_values(batch, level)
    anderson_rubin_kernel(
        batch["y"], batch["x"], batch["z"], cluster_groups(batch), se_code, f_critical_by_df(level, k, n),
        g_hat, nu, crit, truth, out, status,
    )  # fmt: skip


def reference_ar_statistic(y, x, Z, beta0):
    """AR(β0) from two explicit regressions of y − β0·x: on [1] and on [1, z]."""
    n, k = Z.shape[0], Z.shape[1] - 1
    u0 = y - beta0 * x
    resid = u0 - projection(Z, u0)
    ssr_u = resid @ resid
    ssr_r = np.sum((u0 - u0.mean()) ** 2)
    return ((ssr_r - ssr_u) / k) / (ssr_u / (n - k - 1))


def _reference_set(statistic, crit, center):
    """{β0: statistic(β0) ≤ crit} by scanning β0 = center + tan(φ) on a fine grid of φ and bracketing each
    crossing with brentq; its (ci_low, ci_high) encoding and number of pieces.  `statistic` takes arrays."""
    phi = np.linspace(-np.pi / 2, np.pi / 2, 4001)[1:-1]
    points = center + np.tan(phi)
    accept = statistic(points) <= crit
    roots = []
    for j in np.flatnonzero(accept[1:] != accept[:-1]):
        roots.append(optimize.brentq(lambda b: statistic(b) - crit, points[j], points[j + 1], xtol=1e-13, rtol=1e-15))
    pieces_accept = [accept[0]] + [accept[j + 1] for j in np.flatnonzero(accept[1:] != accept[:-1])]
    pieces = sum(1 for j, a in enumerate(pieces_accept) if a and (j == 0 or not pieces_accept[j - 1]))
    if pieces == 0:
        return np.inf, -np.inf, 0
    if pieces == len(pieces_accept) == 1:
        return -np.inf, np.inf, 1
    if accept[0] and accept[-1] and pieces == 2:
        return roots[-1], roots[0], 2
    bounds = [-np.inf] + roots + [np.inf]
    accepted = [(bounds[j], bounds[j + 1]) for j, a in enumerate(pieces_accept) if a]
    return accepted[0][0], accepted[-1][1], pieces


def _grid_statistic(y, x, Z, groups, se, nu=None):
    """AR(β0) for an array of β0 from explicit projections of y and x on Z (u0 = y − β0·x is linear in β0):
    classical (ESS/K)/(RSS/(n − K − 1)), or robust W/K with the scores per cluster (HC1: per observation);
    cr2: the scores of A_g-adjusted residuals and the HTZ scaling (ν − K + 1)/ν · W/K."""
    n, k = Z.shape[0], Z.shape[1] - 1
    zz_inv = np.linalg.inv(Z.T @ Z)
    coef = zz_inv @ Z.T @ np.column_stack([y, x])  # (K + 1, 2)
    resid = np.column_stack([y, x]) - Z @ coef
    if se == "classical":
        centred = np.column_stack([y, x]) - np.column_stack([y, x]).mean(axis=0)
        total = centred.T @ centred
        rss = resid.T @ resid

        def statistic(b0):
            b0 = np.asarray(b0, float)
            quad = lambda m: m[0, 0] - 2 * b0 * m[0, 1] + b0 * b0 * m[1, 1]  # noqa: E731
            return ((quad(total) - quad(rss)) / k) / (quad(rss) / (n - k - 1))

        return statistic
    labels = np.unique(groups)
    g_count = len(labels)
    factor = n / (n - k - 1) if se == "hc1" else g_count / (g_count - 1) * (n - 1) / (n - k - 1)
    adjusted = {g: np.eye(int(np.sum(groups == g))) for g in labels}
    if se == "cr2":
        factor = nu / (nu - k + 1)
        adjusted = {g: adjust for g, (_, adjust) in reference_adjustments(Z, groups).items()}
    scores_y = np.array([Z[groups == g].T @ adjusted[g] @ resid[groups == g, 0] for g in labels])
    scores_x = np.array([Z[groups == g].T @ adjusted[g] @ resid[groups == g, 1] for g in labels])

    def statistic(b0):
        values = []
        for b in np.atleast_1d(np.asarray(b0, float)):
            scores = scores_y - b * scores_x
            cov = zz_inv @ scores.T @ scores @ zz_inv * factor
            delta = coef[1:, 0] - b * coef[1:, 1]
            values.append(delta @ np.linalg.solve(cov[1:, 1:], delta) / k)
        return np.array(values) if np.ndim(b0) else values[0]

    return statistic


def _reference_anderson_rubin(batch, truth, options, level, out, status):
    """The statistic from explicit projections (and sandwiches); the set by a grid scan and root-finding."""
    se = options["se"]
    for r in range(batch["y"].shape[0]):
        code, fit = reference_fit(batch, r, TSLS, 0.0)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        beta, _, _, _, _, f, Z, n, k = fit
        y, x = batch["y"][r], batch["x"][r]
        groups = batch["cluster"][r] if se in ("cluster", "cr2") else np.arange(n)
        g_count = len(np.unique(groups))
        if se in ("cluster", "cr2") and g_count < 2:
            write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
            continue
        if se == "cr2":
            nu = reference_cr2_htz(y, Z, groups)[1]
            if not nu - k + 1 > 0:
                write_failure(out, status, r, st.NO_RESIDUAL_DF)
                continue
            crit = f_critical(level, k, nu - k + 1)
            effective = reference_first_stage(x, Z, groups, "cr2")[1]
            statistic = _grid_statistic(y, x, Z, groups, se, nu)
        else:
            crit = f_critical(level, k, (g_count if se == "cluster" else n - k) - 1)
            effective = f if se == "classical" else reference_first_stage(x, Z, groups, se)[1]
            statistic = _grid_statistic(y, x, Z, groups, se)
        low, high, pieces = _reference_set(statistic, crit, beta[1])
        ar = float(statistic(truth[r]))
        out[r, :9] = beta[1], np.nan, low, high, float(ar > crit), ar, f, effective, pieces
        status[r] = st.OK


def _run_anderson_rubin_sufficient(batch, truth, options, level, out, status):
    k, n = batch["scatter"].shape[1] - 2, batch["n_obs"][0]
    anderson_rubin_sufficient_kernel(
        batch["scatter"], batch["n_obs"], f_critical(level, k, n - k - 1), truth, out, status
    )


def _reference_anderson_rubin_sufficient(batch, truth, options, level, out, status):
    """From S of [x, z…, y] with explicit matrices: e = y − b0·x has e'P_Z e = w'S_wz S_zz⁻¹ S_zw w and
    e'M_Z e = w'S_ww w − that, w = (1, −b0) over [y, x]; the set by the grid scan and root-finding."""
    for r in range(batch["scatter"].shape[0]):
        s, n = batch["scatter"][r], batch["n_obs"][r]
        k = s.shape[0] - 2
        w = [k + 1, 0]
        s_zz, s_zw = s[1 : k + 1, 1 : k + 1], s[1 : k + 1][:, w]
        if n - k - 1 <= 1:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        if np.linalg.matrix_rank(s_zz) < k:
            write_failure(out, status, r, st.SINGULAR)
            continue
        explained = s_zw.T @ np.linalg.solve(s_zz, s_zw)
        total = s[np.ix_(w, w)]

        def statistic(b0, explained=explained, total=total, n=n, k=k):
            b0 = np.asarray(b0, float)
            quad = lambda m: m[0, 0] - 2 * b0 * m[0, 1] + b0 * b0 * m[1, 1]  # noqa: E731
            return (quad(explained) / k) / ((quad(total) - quad(explained)) / (n - k - 1))

        crit = f_critical(level, k, n - k - 1)
        f = (explained[1, 1] / k) / ((total[1, 1] - explained[1, 1]) / (n - k - 1))
        estimate = explained[0, 1] / explained[1, 1]
        low, high, pieces = _reference_set(statistic, crit, estimate)
        ar = float(statistic(truth[r]))
        out[r, :9] = estimate, np.nan, low, high, float(ar > crit), ar, f, f, pieces
        status[r] = st.OK


ESTIMATORS = (
    Estimator(
        name="anderson_rubin",
        summary="Anderson–Rubin test (classical, hc1 or cluster) and its inverted confidence set (estimate = 2SLS)",
        needs=NEEDS,
        run=_run_anderson_rubin,
        reference=_reference_anderson_rubin,
        sufficient=_run_anderson_rubin_sufficient,
        sufficient_reference=_reference_anderson_rubin_sufficient,
        sufficient_check=sufficient_check,
        options=(
            Setting(
                "se",
                "classical",
                "classical (exact F under homoskedastic normal errors), hc1 (heteroskedasticity-robust Wald) or "
                "cluster (CR1 Wald, F(K, G−1)) or cr2 (CR2 Wald with the HTZ small-sample test of Pustejovsky & "
                "Tipton 2018: clubSandwich's Wald_test(test = 'HTZ'))",
                choices=AR_SE_TYPES,
            ),
        ),
        diagnostics=AR_DIAGNOSTICS,
        option_needs=cluster_needs,
    ),
)
