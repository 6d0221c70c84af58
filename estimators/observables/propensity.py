"""The propensity score: a logit or probit of the treatment on the covariates.

For unit i with covariates xᵢ (with an intercept first) and treatment dᵢ,
p(xᵢ) = F(xᵢ'β) with F the logistic or the standard normal cdf.  β̂
maximises the log-likelihood Σ dᵢ log pᵢ + (1 − dᵢ) log(1 − pᵢ), found by
Newton–Raphson (from the linear discriminant or β = 0) with step halving,
one pass over the units per step.  The weighting and matching
estimators need, besides p̂:

- the score of unit i, sᵢ = (dᵢ − pᵢ) f(xᵢ'β) / (pᵢ(1 − pᵢ)) · xᵢ, with f = F'
  (logit: (dᵢ − pᵢ) xᵢ);
- the observed information I = −Σ ∂sᵢ/∂β', which for the logit is
  Σ pᵢ(1 − pᵢ) xᵢxᵢ' and for the probit Σ λᵢ(λᵢ + xᵢ'β) xᵢxᵢ' with
  λᵢ = qᵢ φ(qᵢxᵢ'β)/Φ(qᵢxᵢ'β), qᵢ = 2dᵢ − 1 (statsmodels ``Logit`` and
  ``Probit`` ``hessian``), so that β̂ − β ≈ I⁻¹ Σ sᵢ, the term every
  M-estimation sandwich adds for the estimated score.

A fit that does not converge, or whose scores reach 0 or 1 (complete or
quasi-complete separation: some covariate pattern predicts the treatment
perfectly) is status ``separation``; collinear covariates are ``singular``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from numba import njit

from .. import status as st
from ..inference import cholesky_inplace, cholesky_solve, positive_definite
from ..moments import FAST, dot, linear_index, total, weighted_gram, weighted_sums
from ..vector_math import exp_into, sum_log1p

LINKS = ("logit", "probit")
LOGIT, PROBIT = range(2)
MAX_ITERATIONS = 100
# Newton steps stop once every coefficient moved less than this (relative to 1 + |β|): convergence is
# quadratic, so the error after such a step is of the order of its square, below machine precision.
STEP_TOLERANCE = 1e-8
# Below this Newton decrement g'I⁻¹g the step is taken without evaluating the log-likelihood: the quadratic
# model then predicts a gain of 0.005 and Newton's method is in its quadratic phase.
FULL_STEP_DECREMENT = 1e-2
# A fitted score this close to 0 or 1 means the likelihood is maximised at infinity.
SEPARATION_TOLERANCE = 1e-10
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def link_values(index, link):
    """(F(index), f(index)) for the logit or probit link."""
    if link == LOGIT:
        if index >= 0.0:
            e = math.exp(-index)
            p = 1.0 / (1.0 + e)
        else:
            e = math.exp(index)
            p = e / (1.0 + e)
        return p, p * (1.0 - p)
    return 0.5 * math.erfc(-index / _SQRT2), _INV_SQRT_2PI * math.exp(-0.5 * index * index)


@njit(cache=True, error_model="numpy")  # see vector_math: vectorised divisions
def _logit_scores(d, index, ps, g, w, e, bits):
    """The logit's pᵢ = F(tᵢ), gᵢ = dᵢ − pᵢ and wᵢ = pᵢ(1 − pᵢ) from tᵢ = index, and e = e^−|t|: one exponential
    per unit, of −|t|, gives p on both sides without overflow."""
    n = d.shape[0]
    for i in range(n):
        w[i] = -abs(index[i])
    exp_into(w, e, bits)  # not in place: overlapping arrays keep LLVM's loops scalar
    for i in range(n):
        inverse = 1.0 / (1.0 + e[i])
        pi = inverse if index[i] >= 0.0 else e[i] * inverse
        ps[i] = pi
        g[i] = d[i] - pi
        w[i] = pi * (1.0 - pi)


@njit(cache=True)
def _count_outside(x, low, high):
    """How many xᵢ lie outside [low, high] (a count, so the loop vectorises)."""
    count = 0
    for i in range(x.shape[0]):
        count += (x[i] < low) | (x[i] > high)
    return count


@njit(cache=True, fastmath=FAST)
def _linear_part(d, index):
    """Σᵢ dᵢtᵢ − max(tᵢ, 0), the logit log-likelihood but for Σ log(1 + e^−|tᵢ|)."""
    total = 0.0
    for i in range(d.shape[0]):
        total += d[i] * index[i] - max(index[i], 0.0)
    return total


@njit(cache=True)
def _evaluate(cov, d, link, coef, ps, grad, info, index, g, w, e, bits, want_loglik):
    """One pass over the units at coef: fill ps = F(xβ), the score Σ sᵢ and the observed information (see the
    module docstring); return the log-likelihood when `want_loglik` (-inf when a score is 0 or 1 against the
    data), else 0.  index, g, w, e: float64 scratch of shape (n,); bits: int64 scratch of shape (n,)."""
    n = d.shape[0]
    linear_index(cov, coef, index)
    total = 0.0
    if link == LOGIT:
        _logit_scores(d, index, ps, g, w, e, bits)
        if want_loglik:
            # Σ dᵢtᵢ − log(1 + e^tᵢ), with log(1 + eᵗ) = max(t, 0) + log(1 + e^−|t|)
            total = _linear_part(d, index) - sum_log1p(e)
    else:
        for i in range(n):
            t = index[i]
            q = 2.0 * d[i] - 1.0
            pi = 0.5 * math.erfc(-t / _SQRT2)
            tail = 0.5 * math.erfc(-q * t / _SQRT2)  # Φ(q·index), the probability of what was observed
            if want_loglik:
                total += math.log(tail) if tail > 0.0 else -math.inf
            ps[i] = pi
            g[i] = q * _INV_SQRT_2PI * math.exp(-0.5 * t * t) / tail
            w[i] = g[i] * (g[i] + t)
    weighted_sums(cov, g, grad)
    weighted_gram(cov, w, info, index)
    return total


@njit(cache=True)
def _discriminant_start(cov, d, coef, chol):
    """Linear discriminant analysis's logit coefficients, a start near β̂ when the covariates are roughly normal
    within arms: β = S⁻¹(μ₁ − μ₀), intercept log(n₁/n₀) − β'(μ₁ + μ₀)/2, with S the pooled within-arm
    covariance.  False (coef untouched) when S is not positive definite.

    S comes from one pass, (Σxx' − n₁μ₁μ₁' − n₀μ₀μ₀')/(n − 2), which loses digits to cancellation when a
    covariate's mean dwarfs its spread: harmless in a start, which the fit drops when it is worse than β = 0.
    chol: (≥ p, ≥ p) scratch."""
    p, n = cov.shape
    n1 = total(d)
    n0 = n - n1
    if p == 0 or n1 < 2.0 or n0 < 2.0:
        return False
    m1 = np.empty(p)
    m0 = np.empty(p)
    for j in range(p):
        treated_sum = dot(d, cov[j])
        m1[j] = treated_sum / n1
        m0[j] = (total(cov[j]) - treated_sum) / n0
    for a in range(p):
        for b in range(a + 1):
            cross = dot(cov[a], cov[b]) - n1 * m1[a] * m1[b] - n0 * m0[a] * m0[b]
            chol[a, b] = chol[b, a] = cross / (n - 2.0)
    if not cholesky_inplace(chol, p):
        return False
    gap = m1 - m0
    cholesky_solve(chol, gap, p)
    coef[0] = math.log(n1 / n0)
    for j in range(p):
        coef[j + 1] = gap[j]
        coef[0] -= 0.5 * gap[j] * (m1[j] + m0[j])
    return True


@njit(cache=True)
def fit_propensity(cov, d, link, coef, ps, info):
    """Maximum-likelihood logit or probit of d on [1, cov]; returns a status code.

    Parameters
    ----------
    cov : float64 array, shape (p, n)
        Covariates, variable-major (no intercept; it is added).
    d : float64 array, shape (n,)
        Treatment, 0 or 1.
    link : int
        LOGIT or PROBIT.
    coef : float64 array, shape (p + 1,)
        Out: β̂, the intercept first.
    ps : float64 array, shape (n,)
        Out: the fitted scores F(xᵢ'β̂).
    info : float64 array, shape (p + 1, p + 1)
        Out: the observed information at β̂.

    Returns
    -------
    int
        ``ok``; ``no_variation`` when every unit has the same treatment;
        ``singular`` when the information is not positive definite at
        β = 0 (collinear covariates); ``separation`` when it stops being
        so later, when Newton–Raphson does not converge, or when a score is
        within SEPARATION_TOLERANCE of 0 or 1.

    Notes
    -----
    Each Newton step costs one pass over the units, which evaluates the
    score and information together.  The logit starts from the linear
    discriminant (`_discriminant_start`) when that is closer in likelihood
    than β = 0, which saves about two steps.  While the Newton decrement
    g'I⁻¹g (twice the gain the quadratic model predicts) exceeds
    FULL_STEP_DECREMENT, the pass also evaluates the log-likelihood and a
    step that lowers it is halved until it does not; closer to the
    maximum, where Newton's method converges quadratically, full steps are
    taken unchecked.
    """
    p, n = cov.shape
    k = p + 1
    treated = 0.0
    for i in range(n):
        treated += d[i]
    if treated == 0.0 or treated == n:
        return st.NO_VARIATION
    grad = np.empty(k)
    chol = np.empty((k, k))
    start = np.empty(k)
    step = np.empty(k)
    index = np.empty(n)
    g = np.empty(n)
    w = np.empty(n)
    e = np.empty(n)
    bits = np.empty(n, np.int64)
    coef[:] = 0.0
    from_zero = True
    if link == LOGIT and _discriminant_start(cov, d, coef, chol):
        current = _evaluate(cov, d, link, coef, ps, grad, info, index, g, w, e, bits, True)
        chol[:, :] = info
        # worse than β = 0 (log-likelihood −n log 2), or an information that is not positive definite there,
        # which β = 0 tells apart (collinear or separated): start from 0
        from_zero = not (current > -n * math.log(2.0) and cholesky_inplace(chol, k))
        if from_zero:
            coef[:] = 0.0
    if from_zero:
        current = _evaluate(cov, d, link, coef, ps, grad, info, index, g, w, e, bits, True)
    converged = False
    for iteration in range(MAX_ITERATIONS):
        chol[:, :] = info
        if not cholesky_inplace(chol, k):
            # At β = 0 the information is X'X times a constant: collinear covariates.  Later it
            # vanishes because the scores run to 0 or 1.
            return st.SINGULAR if iteration == 0 and from_zero else st.SEPARATION
        step[:] = grad
        cholesky_solve(chol, step, k)
        decrement = 0.0
        for a in range(k):
            decrement += step[a] * grad[a]
        checked = not decrement < FULL_STEP_DECREMENT
        start[:] = coef
        for _halving in range(60):
            for a in range(k):
                coef[a] = start[a] + step[a]
            value = _evaluate(cov, d, link, coef, ps, grad, info, index, g, w, e, bits, checked)
            if not checked or value >= current - 1e-12 * abs(current):
                break
            step *= 0.5
        moved = 0.0
        for a in range(k):
            moved = max(moved, abs(coef[a] - start[a]) / (1.0 + abs(start[a])))
        current = value if checked else current
        if moved < STEP_TOLERANCE:
            converged = True
            break
    if not converged or not math.isfinite(current):
        return st.SEPARATION
    if _count_outside(ps, SEPARATION_TOLERANCE, 1.0 - SEPARATION_TOLERANCE) > 0:
        return st.SEPARATION
    chol[:, :] = info
    if not cholesky_inplace(chol, k):
        return st.SEPARATION
    return st.OK


@njit(cache=True)
def fit_propensity_batch(cov, d, link, codes, coefs, scores, infos):
    """`fit_propensity` on each of R datasets: cov (R, p, n), d (R, n); out codes (R,) int8, coefs (R, p + 1),
    scores (R, n), infos (R, p + 1, p + 1)."""
    for r in range(d.shape[0]):
        codes[r] = fit_propensity(cov[r], d[r], link, coefs[r], scores[r], infos[r])


class PropensityFits(NamedTuple):
    """A batch's fitted propensity scores (`fit_propensity_batch`)."""

    status: np.ndarray  # (R,) int8
    coef: np.ndarray  # (R, p + 1)
    ps: np.ndarray  # (R, n)
    info: np.ndarray  # (R, p + 1, p + 1)


def fitted_propensity(
    batch: Mapping[str, np.ndarray], options: Mapping, d: np.ndarray, cov: np.ndarray
) -> PropensityFits:
    """The propensity score of every dataset of `batch`: d (R, n) its float64 treatment and cov (R, p, n) the
    covariates of ``adjust``, with ``link``.

    Fitted once per batch when the batch has a memo (`spec.Batch`, as the
    runner's have): ipw, aipw and ipwra in one scenario share the fit, as a
    user fits the score once and hands it to statsmodels'
    ``TreatmentEffect``.  The fit is a function of the data alone, so the
    numbers are the same whichever estimator fits it first.
    """
    memo = getattr(batch, "memo", None)
    adjust = options.get("adjust")
    key = ("propensity", None if adjust is None else tuple(adjust), options["link"])
    if memo is not None and key in memo:
        return memo[key]
    n_reps, p, n = cov.shape
    fits = PropensityFits(
        np.empty(n_reps, np.int8), np.empty((n_reps, p + 1)), np.empty((n_reps, n)), np.empty((n_reps, p + 1, p + 1))
    )
    fit_propensity_batch(cov, d, LINKS.index(options["link"]), fits.status, fits.coef, fits.ps, fits.info)
    if memo is not None:
        memo[key] = fits
    return fits


def reference_propensity(cov: np.ndarray, d: np.ndarray, link: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Plain twin of `fit_propensity`: (status, coef, ps, info) by numpy Newton–Raphson on the full design."""
    from scipy import special

    n = d.shape[0]
    x = np.column_stack([np.ones(n), cov.T])
    if d.sum() in (0, n):
        return st.NO_VARIATION, *_nans(x.shape[1], n)

    def scores(beta):
        index = x @ beta
        if link == LOGIT:
            p = special.expit(index)
            return index, p, d - p, p * (1 - p)
        q = 2 * d - 1
        lam = q * np.exp(-0.5 * index**2) / np.sqrt(2 * np.pi) / special.ndtr(q * index)
        return index, special.ndtr(index), lam, lam * (lam + index)

    def loglik(beta):
        p = scores(beta)[1]
        with np.errstate(divide="ignore"):
            return np.sum(np.where(d > 0.5, np.log(p), np.log1p(-p)))

    beta = np.zeros(x.shape[1])
    current = loglik(beta)
    for iteration in range(MAX_ITERATIONS):
        _, _, g, w = scores(beta)
        info = (x * w[:, None]).T @ x
        if not positive_definite(info):
            return (st.SINGULAR if iteration == 0 else st.SEPARATION), *_nans(x.shape[1], n)
        step_dir = np.linalg.solve(info, x.T @ g)
        step = 1.0
        for _halving in range(60):
            trial = beta + step * step_dir
            value = loglik(trial)
            if value >= current - 1e-12 * abs(current):
                break
            step /= 2
        moved = np.max(np.abs(trial - beta) / (1 + np.abs(beta)))
        beta, current = trial, value
        if moved < STEP_TOLERANCE:
            break
    else:
        return st.SEPARATION, *_nans(x.shape[1], n)
    _, p, g, w = scores(beta)
    if not np.isfinite(current) or p.min() < SEPARATION_TOLERANCE or p.max() > 1 - SEPARATION_TOLERANCE:
        return st.SEPARATION, *_nans(x.shape[1], n)
    return st.OK, beta, p, (x * w[:, None]).T @ x


def _nans(k, n):
    return np.full(k, np.nan), np.full(n, np.nan), np.full((k, k), np.nan)
