"""What the IV estimators share: the cross-product statistics, LIML's root, robust sums, the reference fit.

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

import numpy as np
from numba import njit

from .. import status as st
from ..inference import cholesky_inplace, cholesky_solve, inverse_quadratic_form
from ..moments import FAST, centred_cross_products
from ..spec import Setting

SE_TYPES = ("classical", "hc1", "cluster")
CLASSICAL, HC1, CLUSTER = 0, 1, 2
TSLS, LIML, FULLER = 0, 1, 2

# Indices into the per-replication statistics vector `q`.
SXX, SXY, SYY, QXX, QXY, QYY, EXX, EXY, EYY, FSTAT = range(10)
N_STATS = 10

SE_OPTION = Setting(
    "se",
    "classical",
    "standard errors: classical, hc1 (heteroskedasticity-robust) or cluster (CR1 by the DGP's cluster, t(G−1))",
    choices=SE_TYPES,
)

NEEDS = ("y", "x", "z")


def cluster_groups(batch):
    """The cluster ids (the DGP's ``cluster``), or zeros where the estimator does not read them."""
    return batch["cluster"] if "cluster" in batch else np.zeros_like(batch["y"])


def cluster_needs(options):
    """``se = "cluster"`` (or ``"cr2"``) reads the DGP's ``cluster`` array (ids 0 … G − 1 per observation)."""
    return ("cluster",) if options.get("se") in ("cluster", "cr2") else ()


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
    return statistics_from_cross_products(cp, k, n, szz, a, q)


@njit(cache=True, fastmath=FAST)
def statistics_from_cross_products(cp, k, n, szz, a, q):
    """`iv_statistics` once the centred cross-products cp of [x, z_1..z_K, y] of n observations are formed.

    All the classical IV statistics need; the sufficient-statistic sampler
    (`causalmc.sims.dgps.gaussian`) draws cp itself.  Returns a status code.
    """
    if n - k - 1 <= 1:
        return st.NO_RESIDUAL_DF
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


def sufficient_check(options) -> str | None:
    """The IV estimators' forms for sufficient statistics are the classical ones."""
    if options.get("se", "classical") != "classical":
        return (
            f"se = {options['se']!r} needs every observation's residual; only se = 'classical' uses the scatter alone"
        )
    return None


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
def robust_sums(x, z, y, means, a, beta, want_first_stage, meat, groups, n_groups, score_g, first_g):
    """One pass for the HC or cluster sandwiches.

    Returns Σ_g (Σ_{i∈g} x̂ᵢ ûᵢ)² with x̂ the centred first-stage fit and
    û = ỹ − βx̃; when `want_first_stage`, also fills the lower triangle of
    ``meat`` (K × K) with Σ_g s_g s_g', s_g = Σ_{i∈g} ε̂ᵢ z̃ᵢ, ε̂ = x̃ − x̂ the
    first-stage residuals.  With n_groups = 0 every observation is its own
    group (HC); else groups[i] ∈ 0 … n_groups − 1, and score_g (n_groups,)
    and first_g (n_groups, K) are scratch.
    """
    k, n = z.shape
    iy = k + 1
    zc = np.empty(k)
    if want_first_stage:
        meat[:, :] = 0.0
    if n_groups > 0:
        score_g[:n_groups] = 0.0
        first_g[:n_groups, :] = 0.0
    total = 0.0
    for i in range(n):
        xc = x[i] - x[0] - means[0]
        fit = 0.0
        for j in range(k):
            zc[j] = z[j, i] - z[j, 0] - means[1 + j]
            fit += a[j] * zc[j]
        u = y[i] - y[0] - means[iy] - beta * xc
        if n_groups > 0:
            g = int(groups[i])
            score_g[g] += fit * u
            if want_first_stage:
                for j in range(k):
                    first_g[g, j] += (xc - fit) * zc[j]
            continue
        total += (fit * u) ** 2
        if want_first_stage:
            e2 = (xc - fit) ** 2
            for j in range(k):
                for l in range(j + 1):
                    meat[j, l] += e2 * zc[j] * zc[l]
    if n_groups > 0:
        for g in range(n_groups):
            total += score_g[g] * score_g[g]
            if want_first_stage:
                for j in range(k):
                    for l in range(j + 1):
                        meat[j, l] += first_g[g, j] * first_g[g, l]
    return total


@njit(cache=True)
def count_groups(groups):
    """G = 1 + the largest cluster id (ids are 0 … G − 1)."""
    top = 0.0
    for i in range(groups.shape[0]):
        top = max(top, groups[i])
    return int(top) + 1


@njit(cache=True)
def traces(b, k):
    """(tr B, tr B²) of the leading k × k block of a square matrix B."""
    trace = 0.0
    trace_sq = 0.0
    for j in range(k):
        trace += b[j, j]
        for m in range(k):
            trace_sq += b[j, m] * b[m, j]
    return trace, trace_sq


@njit(cache=True)
def effective_f(qxx, szz_chol, meat, k, factor, scratch):
    """Montiel Olea & Pflueger's effective F and their K_eff, from the first stage's robust meat.

    F_eff = Qxx / tr(S_zz⁻¹ M·factor) (= π̂'S_zz π̂ / tr(Ŵ S_zz) with Ŵ the
    robust covariance of π̂); with B = S_zz⁻¹M (the eigenvalues of the
    orthonormalised Ŵ), K_eff = tr(B)²(1 + 2x)/(tr(B²) + 2x·tr(B)·λ_max(B))
    for x = 1/τ = 10 (10 % worst-case bias).  ``meat`` holds its lower
    triangle; ``szz_chol`` the Cholesky factor of S_zz.
    """
    for j in range(k):
        for l in range(j + 1, k):
            meat[j, l] = meat[l, j]
    b = scratch
    col = np.empty(k)
    for l in range(k):
        for j in range(k):
            col[j] = meat[j, l]
        cholesky_solve(szz_chol, col, k)
        for j in range(k):
            b[j, l] = col[j]
    trace, trace_sq = traces(b, k)
    largest = np.max(np.linalg.eigvals(b[:k, :k]).real)
    x_tau = 10.0
    k_eff = trace * trace * (1.0 + 2.0 * x_tau) / (trace_sq + 2.0 * x_tau * trace * largest)
    return qxx / (trace * factor), k_eff


@njit(cache=True)
def robust_first_stage_f(meat, szx, k, factor):
    """W/K with W = S_zx' (M·factor)⁻¹ S_zx, the robust Wald statistic of the first stage.

    factor n/(n − K − 1) for HC1, G/(G − 1)·(n − 1)/(n − K − 1) for CR1;
    reads the lower triangle of ``meat`` (left unchanged).
    """
    chol = np.empty((k, k))
    for j in range(k):
        for l in range(j + 1):
            chol[j, l] = meat[j, l]
    return inverse_quadratic_form(chol, szx, k) / factor / k


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


# -- reference twins: explicit matrices, one replication at a time ---------------


def design(batch, r):
    y, x, z = batch["y"][r], batch["x"][r], batch["z"][r].T
    n = len(y)
    X = np.column_stack([np.ones(n), x])
    Z = np.column_stack([np.ones(n), z])
    return y, X, Z


def projection(Z, A):
    return Z @ np.linalg.lstsq(Z, A, rcond=None)[0]


def reference_fit(batch, r, method, alpha):
    """(status, (beta, A, Xhat, resid, kappa, F, Z, n, K)) from textbook matrix formulas; (status, None) on failure.

    A = X'(I − κM_Z)X and β = A⁻¹X'(I − κM_Z)y with X = [1, x], Z = [1, z];
    κ from an explicit eigenvalue problem.
    """
    y, X, Z = design(batch, r)
    n, k = X.shape[0], Z.shape[1] - 1
    if n - k - 1 <= 1:
        return st.NO_RESIDUAL_DF, None
    if np.linalg.matrix_rank(Z) < Z.shape[1]:
        return st.SINGULAR, None
    xhat = projection(Z, X)
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
        WZ = W - projection(Z, W)
        kappa = min(np.linalg.eigvals(np.linalg.solve(WZ.T @ WZ, W1.T @ W1)).real)
        if method == FULLER:
            kappa -= alpha / (n - Z.shape[1])
    mz_x = X - xhat
    A = X.T @ X - kappa * (mz_x.T @ mz_x)
    beta = np.linalg.solve(A, X.T @ y - kappa * (mz_x.T @ (y - projection(Z, y))))
    resid = y - X @ beta
    return st.OK, (beta, A, xhat, resid, kappa, f, Z, n, k)


def reference_robust_f(x, Z):
    """HC1 Wald statistic of the excluded instruments in x ~ Z, over K."""
    n, k = Z.shape[0], Z.shape[1] - 1
    coef = np.linalg.lstsq(Z, x, rcond=None)[0]
    e = x - Z @ coef
    zz_inv = np.linalg.inv(Z.T @ Z)
    cov = zz_inv @ (Z.T * e**2) @ Z @ zz_inv * n / (n - k - 1)
    b = coef[1:]
    return b @ np.linalg.solve(cov[1:, 1:], b) / k
