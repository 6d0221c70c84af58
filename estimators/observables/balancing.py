"""Entropy balancing (Hainmueller 2012) for the average effect on the treated.

Notation for one replication: n units, treatment dᵢ ∈ {0, 1} (n₁ treated,
n₀ controls), outcome yᵢ, covariates xᵢ (length p), and the moment functions
c(x) whose treated means the controls are reweighted to match (option
``moments``):

    moments = 1:  c(x) = (x₁, …, x_p)                        the means
    moments = 2:  c(x) = (x₁, …, x_p, x₁², …, x_p²)          and the variances

(no cross-products, as Hainmueller's ``ebal`` with second moments).  With
m = Σ dᵢc(xᵢ)/n₁ the treated means, the control weights solve

    min Σ_{dᵢ=0} wᵢ log(wᵢ/(1/n₀))  subject to  Σ_{dᵢ=0} wᵢ = 1,  Σ_{dᵢ=0} wᵢc(xᵢ) = m,

whose solution is wᵢ = exp(λ'(c(xᵢ) − m)) / Σ_{dⱼ=0} exp(λ'(c(xⱼ) − m)) with λ
minimising the convex dual

    L(λ) = log Σ_{dᵢ=0} exp(λ'(c(xᵢ) − m)),
    ∇L = Σ wᵢ(c(xᵢ) − m) (the balance gap),   ∇²L = Σ wᵢ(c(xᵢ) − c̄_w)(c(xᵢ) − c̄_w)'.

The kernel finds λ by Newton's method from λ = 0 (uniform weights) with a
backtracking (Armijo) line search, on the moment columns centred at m and
scaled by their unweighted control standard deviations (the weights do not
change: Newton's method is affine invariant, the conditioning improves),
the variances' columns built as (x − m_x)², which span the same space as x²
given x and a constant.  It stops when the Newton decrement √(g'H⁻¹g), the
balance gap in units of the weighted covariance, is at most 1e-12 (then after
one more full step) or stalls at rounding level below 1e-8.  The estimate is

    τ̂ = μ̂₁ − μ̂₀,   μ̂₁ = Σ dᵢyᵢ/n₁,   μ̂₀ = Σ_{dᵢ=0} wᵢyᵢ.

Standard errors (option ``se``), no degrees-of-freedom correction, normal
interval τ̂ ± z·se:

``sandwich``       the M-estimation sandwich of the stacked estimating
                   equations for m (dᵢ(cᵢ − m)), λ (the dual's first-order
                   conditions (1 − dᵢ)e^{λ'(cᵢ−m)}(cᵢ − m)), μ₁ and μ₀
                   (the approach of Zhao & Percival 2017 and of ``WeightIt``'s
                   M-estimation standard errors for entropy balancing, not
                   compared with it numerically here): se = √Σφᵢ² with
                   φᵢ = dᵢ[yᵢ − μ̂₁ − β'(cᵢ − m)]/n₁ − wᵢ[yᵢ − μ̂₀ − β'(cᵢ − m)],
                   β = (Σ wᵢ(cᵢ − m)(cᵢ − m)')⁻¹ Σ wᵢ(cᵢ − m)(yᵢ − μ̂₀), the
                   weighted least-squares slope of y on c among the controls.
                   It accounts for the estimated λ and m (the treated means
                   are random), so it targets the population ATT.
``fixed_weights``  the weights treated as known: HC0 of the weighted least
                   squares of y on (1, d) with weight 1 for the treated and
                   wᵢ for the controls (what ``ebal`` followed by a weighted
                   ``lm`` with a robust variance reports), i.e. φᵢ as above
                   with β = 0.  It ignores the balancing; usually conservative
                   when the outcome depends on the balanced covariates.
                   Held to statsmodels ``WLS(...).fit(cov_type="HC0")``.

The tests hold the weights to the exact balance conditions and the
estimates to ``empirical_calibration.calibrate(objective=ENTROPY)``.

Diagnostics: ``ess_control`` (1/Σwᵢ², Kish's effective number of controls),
``max_weight_share`` (the largest wᵢ), ``max_smd`` (the largest absolute
standardised mean difference of a covariate after weighting,
|mean₁ − Σwᵢxᵢ| / √((s₁² + s₀²)/2), s² the unweighted within-arm variances,
as in `weighting`; at the solution it is at rounding level, a check of the
balance; NaN without covariates).

Statuses: ``no_variation`` (no treated or no control unit), ``no_overlap``
(one treated or one control unit; or the balance is infeasible: the treated
means m lie outside the interior of the convex hull of the controls' c(xᵢ),
so L is unbounded below or attains its infimum only at infinity; the kernel
sees the weighted covariance collapse below 1e-10 of the unweighted one in
some direction, a line search that cannot descend, or no convergence in
100 iterations), ``singular`` (a moment column constant among the controls,
its control variance at most 1e-10 of its mean square, or collinear with the
others by the Cholesky pivot rule of `inference`, e.g. x² = x for a binary x).

References: Hainmueller (2012), Political Analysis 20(1); Zhao & Percival
(2017), Journal of Causal Inference 5(1).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import optimize, special

from .. import status as st
from ..inference import PIVOT_TOLERANCE, cholesky_inplace, cholesky_solve, normal_critical, write_failure, write_wald
from ..spec import Estimator, Setting
from .common import ADJUST_OPTION, adjustment_arrays, covariates, estimand_term, max_standardised_difference, one_term
from ..inference import positive_definite

SE_TYPES = ("sandwich", "fixed_weights")
SANDWICH, FIXED_WEIGHTS = range(2)
DIAGNOSTICS = ("ess_control", "max_weight_share", "max_smd")
ESS0, MAX_SHARE, MAX_SMD = range(5, 8)

MAX_ITERATIONS = 100
# Newton stops when √(g'H⁻¹g) ≤ TOLERANCE: the gap in units of the weighted covariance (near machine precision).
TOLERANCE = 1e-12
# Below this decrement the quadratic convergence stalls only on rounding: a step that fails to halve it ends there.
ROUNDING_FLOOR = 1e-8
# Below this decrement L's decrease (≈ decrement²/2) is too close to its rounding for a line search to judge it,
# and the quadratic model is exact enough to take the full Newton step.
FULL_STEP = 1e-5
ARMIJO = 0.25
MAX_HALVINGS = 60


@njit(cache=True)
def _moment_columns(x, d, order, cc):
    """Fill cc (K, n) with the moment columns centred at their treated means and scaled by their control s.d.

    Returns False when a column is constant among the controls: its control variance is at most PIVOT_TOLERANCE
    of its mean square.
    """
    p, n = x.shape
    n1 = 0.0
    for i in range(n):
        n1 += d[i] > 0.5
    for j in range(p):
        m = 0.0
        for i in range(n):
            if d[i] > 0.5:
                m += x[j, i]
        m /= n1
        for i in range(n):
            cc[j, i] = x[j, i] - m
        if order == 2:
            # (x − m_x)² spans x² given x and 1; its centring keeps the squares small
            v = 0.0
            for i in range(n):
                if d[i] > 0.5:
                    v += cc[j, i] * cc[j, i]
            v /= n1
            for i in range(n):
                cc[p + j, i] = cc[j, i] * cc[j, i] - v
    for j in range(cc.shape[0]):
        mean = sq = raw_sq = n0 = 0.0
        for i in range(n):
            if d[i] < 0.5:
                n0 += 1.0
                mean += cc[j, i]
                raw_sq += cc[j, i] * cc[j, i]
        mean /= n0
        for i in range(n):
            if d[i] < 0.5:
                sq += (cc[j, i] - mean) ** 2
        # the Cholesky pivot rule for the column after the intercept: a constant column keeps a variance of
        # rounding size (its copies of one value do not average to that value exactly)
        if not sq > PIVOT_TOLERANCE * raw_sq:
            return False
        scale = math.sqrt(sq / n0)
        for i in range(n):
            cc[j, i] /= scale
    return True


@njit(cache=True)
def _dual(cc, d, lam, w):
    """L(λ) = log Σ_controls exp(λ'cᵢ); fills w with the normalised control weights (0 for the treated)."""
    k, n = cc.shape
    top = -math.inf
    for i in range(n):
        if d[i] < 0.5:
            z = 0.0
            for j in range(k):
                z += lam[j] * cc[j, i]
            w[i] = z
            top = max(top, z)
    total = 0.0
    for i in range(n):
        if d[i] < 0.5:
            w[i] = math.exp(w[i] - top)  # shifted by the largest exponent: no overflow
            total += w[i]
        else:
            w[i] = 0.0
    for i in range(n):
        w[i] /= total
    return top + math.log(total)


@njit(cache=True)
def _gradient_hessian(cc, w, grad, hess):
    """grad = Σ wᵢcᵢ (the gap), hess = Σ wᵢcᵢcᵢ' − grad grad' (the weighted covariance)."""
    k, n = cc.shape
    grad[:] = 0.0
    hess[:, :] = 0.0
    for i in range(n):
        if w[i] == 0.0:
            continue
        for a in range(k):
            grad[a] += w[i] * cc[a, i]
            for b in range(a + 1):
                hess[a, b] += w[i] * cc[a, i] * cc[b, i]
    for a in range(k):
        for b in range(a + 1):
            hess[a, b] -= grad[a] * grad[b]
            hess[b, a] = hess[a, b]


@njit(cache=True)
def entropy_weights(cc, d, w):
    """Solve the entropy-balancing dual for standardised, centred moment columns by damped Newton.

    Parameters
    ----------
    cc : float64 array, shape (K, n)
        Moment columns minus their treated means, scaled to unit control variance (`_moment_columns`).
    d : float64 array, shape (n,)
        0/1 treatment.
    w : float64 array, shape (n,)
        Output: the balancing weights of the controls (summing to 1), 0 for the treated.

    Returns
    -------
    int
        ``ok``; ``singular`` when the unweighted control covariance of the columns is not positive definite;
        ``no_overlap`` when the balance is infeasible (see the module docstring).
    """
    k = cc.shape[0]
    lam = np.zeros(k)
    trial = np.empty(k)
    grad = np.empty(k)
    hess = np.empty((k, k))
    step = np.empty(k)
    w_trial = np.empty_like(w)
    value = _dual(cc, d, lam, w)
    previous = math.inf
    for iteration in range(MAX_ITERATIONS):
        _gradient_hessian(cc, w, grad, hess)
        if not cholesky_inplace(hess, k):
            return st.SINGULAR if iteration == 0 else st.NO_OVERLAP
        for a in range(k):
            # the columns have unit unweighted variance: a pivot this small is a weighted covariance that has
            # collapsed in some direction, the weights escaping to a face of the hull (infeasible balance)
            if not hess[a, a] * hess[a, a] > PIVOT_TOLERANCE:
                return st.SINGULAR if iteration == 0 else st.NO_OVERLAP
        step[:] = grad
        cholesky_solve(hess, step, k)
        decrement2 = 0.0
        for a in range(k):
            decrement2 += grad[a] * step[a]
        if decrement2 <= TOLERANCE * TOLERANCE:
            # one last full step leaves the gap at rounding level, not at the tolerance
            for a in range(k):
                lam[a] -= step[a]
            _dual(cc, d, lam, w)
            return st.OK
        if decrement2 <= ROUNDING_FLOOR * ROUNDING_FLOOR and decrement2 > previous / 4.0:
            return st.OK  # quadratic convergence has stopped: the gap is at rounding level
        previous = decrement2
        t = 1.0
        for _ in range(MAX_HALVINGS):
            for a in range(k):
                trial[a] = lam[a] - t * step[a]
            new_value = _dual(cc, d, trial, w_trial)
            if new_value <= value - ARMIJO * t * decrement2 or decrement2 <= FULL_STEP * FULL_STEP:
                break
            t *= 0.5
        else:
            return st.NO_OVERLAP
        lam[:] = trial
        w[:] = w_trial
        value = new_value
    return st.NO_OVERLAP


@njit(cache=True)
def balancing_kernel(y, d, cov, order, se_code, crit, truth, out, status):
    """Batched entropy balancing for the ATT with its standard error (see the module docstring).

    Parameters
    ----------
    y, d : float64 arrays, shape (R, n)
        Outcome and 0/1 treatment.
    cov : float64 array, shape (R, p, n)
        Covariates to balance.
    order : int
        1 (means) or 2 (means and variances).
    se_code : int
        SANDWICH or FIXED_WEIGHTS.
    crit : float
        Normal critical value of the interval.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 8)
        estimate, se, ci_low, ci_high, reject, then `DIAGNOSTICS`.
    status : int8 array, shape (R,)
    """
    n_reps, p, n = cov.shape
    k = order * p
    cc = np.empty((k, n))
    w = np.empty(n)
    hess = np.empty((k, k))
    beta = np.empty(k)
    for r in range(n_reps):
        yr, dr, xr = y[r], d[r], cov[r]
        n1 = 0.0
        for i in range(n):
            n1 += dr[i] > 0.5
        n0 = n - n1
        if n1 == 0.0 or n0 == 0.0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if n1 < 2.0 or n0 < 2.0:
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        if not _moment_columns(xr, dr, order, cc):
            write_failure(out, status, r, st.SINGULAR)
            continue
        code = entropy_weights(cc, dr, w)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        mu1 = mu0 = 0.0
        for i in range(n):
            if dr[i] > 0.5:
                mu1 += yr[i]
            else:
                mu0 += w[i] * yr[i]
        mu1 /= n1
        tau = mu1 - mu0
        beta[:] = 0.0
        if se_code == SANDWICH and k > 0:
            # β = (Σ wᵢcᵢcᵢ')⁻¹ Σ wᵢcᵢ(yᵢ − μ̂₀): the derivative of the dual's conditions in λ is Σ wᵢcᵢcᵢ'
            hess[:, :] = 0.0
            for i in range(n):
                if w[i] == 0.0:
                    continue
                e = w[i] * (yr[i] - mu0)
                for a in range(k):
                    beta[a] += e * cc[a, i]
                    for b in range(a + 1):
                        hess[a, b] += w[i] * cc[a, i] * cc[b, i]
            if not cholesky_inplace(hess, k):
                write_failure(out, status, r, st.NO_OVERLAP)
                continue
            cholesky_solve(hess, beta, k)
        var = 0.0
        for i in range(n):
            fit = 0.0
            for a in range(k):
                fit += beta[a] * cc[a, i]
            if dr[i] > 0.5:
                phi = (yr[i] - mu1 - fit) / n1
            else:
                phi = -w[i] * (yr[i] - mu0 - fit)
            var += phi * phi
        write_wald(out, status, r, tau, math.sqrt(var), crit, truth[r])
        if status[r] != st.OK:
            continue
        _diagnostics(dr, xr, w, out, r)


@njit(cache=True)
def _diagnostics(d, x, w, out, r):
    n = d.shape[0]
    sum_sq = share = 0.0
    for i in range(n):
        sum_sq += w[i] * w[i]
        share = max(share, w[i])
    out[r, ESS0] = 1.0 / sum_sq
    out[r, MAX_SHARE] = share
    out[r, MAX_SMD] = max_standardised_difference(d, x, d, w)


def _run(batch, truth, options, level, out, status):
    balancing_kernel(
        np.ascontiguousarray(batch["y"], dtype=np.float64),
        np.ascontiguousarray(batch["treatment"], dtype=np.float64),
        covariates(batch, options),
        options["moments"],
        SE_TYPES.index(options["se"]),
        normal_critical(level),
        truth,
        out,
        status,
    )


def _reference(batch, truth, options, level, out, status):
    """Plain numpy and scipy: raw moments (x, x²); feasibility by a linear program; λ by scipy's trust-region
    Newton on the dual, polished by a root finder on its first-order conditions; the sandwich A⁻¹BA⁻ᵀ of the stacked
    equations with A by complex-step differentiation (``sandwich``) or the matrix HC0 of weighted least squares of y
    on (1, d) (``fixed_weights``)."""
    y_all, d_all, x_all = batch["y"], np.asarray(batch["treatment"], dtype=np.float64), covariates(batch, options)
    order, se = options["moments"], options["se"]
    crit = normal_critical(level)
    for r in range(y_all.shape[0]):
        y, d, x = y_all[r], d_all[r], x_all[r]
        treated = d > 0.5
        n1, n0 = treated.sum(), (~treated).sum()
        if n1 == 0 or n0 == 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if n1 < 2 or n0 < 2:
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        c = np.vstack([x, x**2][:order]).T  # (n, K) the raw moment functions
        k = c.shape[1]
        scale = c[~treated].std(axis=0)  # fixed constants: the weights do not depend on the columns' scales
        # a constant column (its copies of one value average to it only up to rounding), then collinear ones
        constant = scale**2 <= PIVOT_TOLERANCE * (c[~treated] ** 2).mean(axis=0)
        if constant.any() or not positive_definite(np.atleast_2d(np.cov(c[~treated].T, bias=True))):
            write_failure(out, status, r, st.SINGULAR)
            continue
        c = c / scale
        m = c[treated].mean(axis=0)
        if k and not _interior(c[~treated] - m):
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        lam = _solve_dual(c[~treated] - m) if k else np.zeros(0)
        z = (c - m) @ lam
        w = np.where(treated, 0.0, np.exp(z - z[~treated].max()))
        w /= w.sum()
        mu1, mu0 = y[treated].mean(), w @ y
        if se == "sandwich":
            shift = z[~treated].max()

            def equations(theta):
                m_, lam_, mu1_, mu0_ = theta[:k], theta[k : 2 * k], theta[2 * k], theta[2 * k + 1]
                e = (1 - d) * np.exp((c - m_) @ lam_ - shift)
                return np.column_stack([d[:, None] * (c - m_), e[:, None] * (c - m_), d * (y - mu1_), e * (y - mu0_)])

            theta = np.concatenate([m, lam, [mu1, mu0]])
            psi = equations(theta)
            jac = np.empty((theta.size, theta.size))
            for j in range(theta.size):
                h = np.zeros(theta.size, complex)
                h[j] = 1e-30j
                jac[:, j] = equations(theta + h).imag.sum(axis=0) / 1e-30
            bread = np.linalg.inv(jac)
            cov_theta = bread @ psi.T @ psi @ bread.T
            contrast = np.zeros(theta.size)
            contrast[-2:] = (1.0, -1.0)
            variance = contrast @ cov_theta @ contrast
        else:
            design = np.column_stack([np.ones_like(y), d])
            v = np.where(treated, 1.0, w * n1)  # the control weights summing to n₁, as ebal's
            xtvx = design.T @ (v[:, None] * design)
            coef = np.linalg.solve(xtvx, design.T @ (v * y))
            resid = y - design @ coef
            meat = (design * ((v * resid) ** 2)[:, None]).T @ design
            bread = np.linalg.inv(xtvx)
            variance = (bread @ meat @ bread)[1, 1]
        write_wald(out, status, r, mu1 - mu0, np.sqrt(variance), crit, truth[r])
        if status[r] != st.OK:
            continue
        out[r, ESS0] = 1 / (w**2).sum()
        out[r, MAX_SHARE] = w.max()
        smd = [
            abs(xj[treated].mean() - w @ xj) / np.sqrt((xj[treated].var(ddof=1) + xj[~treated].var(ddof=1)) / 2)
            for xj in x
        ]
        out[r, MAX_SMD] = max(smd) if smd else np.nan


def _interior(c0):
    """Whether 0 is interior to the convex hull of the rows of c0 (n₀, K): the largest t such that 0 = Σ aᵢc0ᵢ with
    Σ aᵢ = 1 and every aᵢ ≥ t is positive (a linear program in aᵢ = t + bᵢ, bᵢ ≥ 0)."""
    n0, k = c0.shape
    a_eq = np.zeros((k + 1, n0 + 1))
    a_eq[:k, :n0] = c0.T
    a_eq[:k, n0] = c0.sum(axis=0)
    a_eq[k, :n0] = 1.0
    a_eq[k, n0] = n0
    b_eq = np.zeros(k + 1)
    b_eq[k] = 1.0
    cost = np.zeros(n0 + 1)
    cost[n0] = -1.0
    result = optimize.linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=[(0, None)] * (n0 + 1), method="highs")
    # at a boundary point the optimum is t = 0 (up to HiGHS's feasibility tolerance, 1e-7)
    return result.status == 0 and result.x[n0] * n0 > 1e-6


def _solve_dual(c0):
    """λ minimising log Σ exp(c0ᵢ'λ): scipy's ``trust-exact`` (exact gradient and Hessian) from λ = 0, whose
    comparisons of the dual's values stop at gaps near 1e-8 (its decrease is then below rounding), polished by
    MINPACK's hybrid Powell method on the first-order conditions Σ wᵢc0ᵢ = 0 with the Hessian as Jacobian."""

    def value(lam):
        return special.logsumexp(c0 @ lam)

    def gradient(lam):
        return special.softmax(c0 @ lam) @ c0

    def hessian(lam):
        p = special.softmax(c0 @ lam)
        mean = p @ c0
        return (c0 * p[:, None]).T @ c0 - np.outer(mean, mean)

    start = optimize.minimize(value, np.zeros(c0.shape[1]), jac=gradient, hess=hessian, method="trust-exact").x
    return optimize.root(gradient, start, jac=hessian, method="hybr", options={"xtol": 1e-15}).x


SE_OPTION = Setting(
    "se",
    "sandwich",
    "standard errors: sandwich (M-estimation, the estimated weights and treated means accounted for) or "
    "fixed_weights (HC0 of weighted least squares, the weights treated as known)",
    choices=SE_TYPES,
)
MOMENTS_OPTION = Setting(
    "moments", 1, "moments balanced: 1 (the covariates' means) or 2 (means and variances)", minimum=1, maximum=2
)
ESTIMAND_OPTION = Setting(
    "estimand", "att", "the target: att (the controls are reweighted to the treated units)", choices=("att",)
)

ESTIMATORS = (
    Estimator(
        name="entropy_balancing",
        summary="entropy balancing (Hainmueller 2012) of the covariates' means (and variances), ATT",
        needs=("y", "treatment"),
        run=one_term(_run),
        reference=one_term(_reference),
        terms=estimand_term,
        options=(ESTIMAND_OPTION, ADJUST_OPTION, MOMENTS_OPTION, SE_OPTION),
        diagnostics=DIAGNOSTICS,
        option_needs=adjustment_arrays,
    ),
)
