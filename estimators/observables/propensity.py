"""The propensity score: a logit or probit of the treatment on the covariates.

For unit i with covariates xᵢ (with an intercept first) and treatment dᵢ,
p(xᵢ) = F(xᵢ'β) with F the logistic or the standard normal cdf.  β̂
maximises the log-likelihood Σ dᵢ log pᵢ + (1 − dᵢ) log(1 − pᵢ), found by
Newton–Raphson from β = 0 with step halving, one pass over the units per
step.  The weighting and matching
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

import numpy as np
from numba import njit

from .. import status as st
from ..inference import PIVOT_TOLERANCE, cholesky_inplace, cholesky_solve

LINKS = ("logit", "probit")
LOGIT, PROBIT = range(2)
MAX_ITERATIONS = 100
# Newton steps stop once every coefficient moved less than this (relative to 1 + |β|): convergence is
# quadratic, so the error after such a step is of the order of its square, below machine precision.
STEP_TOLERANCE = 1e-8
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


@njit(cache=True)
def _evaluate(cov, d, link, coef, ps, grad, info):
    """One pass over the units at coef: fill ps = F(xβ), the score Σ sᵢ and the observed information (see the
    module docstring); return the log-likelihood (-inf when a score is 0 or 1 against the data)."""
    p, n = cov.shape
    k = p + 1
    grad[:] = 0.0
    info[:, :] = 0.0
    total = 0.0
    x = np.empty(k)
    x[0] = 1.0
    for i in range(n):
        index = coef[0]
        for j in range(p):
            x[j + 1] = cov[j, i]
            index += coef[j + 1] * x[j + 1]
        if link == LOGIT:
            # one exponential gives the score and log(1 + e^index), stably on both sides
            if index >= 0.0:
                e = math.exp(-index)
                pi = 1.0 / (1.0 + e)
                softplus = index + math.log1p(e)
            else:
                e = math.exp(index)
                pi = e / (1.0 + e)
                softplus = math.log1p(e)
            total += d[i] * index - softplus
            g = d[i] - pi
            w = pi * (1.0 - pi)
        else:
            q = 2.0 * d[i] - 1.0
            pi = 0.5 * math.erfc(-index / _SQRT2)
            tail = 0.5 * math.erfc(-q * index / _SQRT2)  # Φ(q·index), the probability of what was observed
            total += math.log(tail) if tail > 0.0 else -math.inf
            g = q * _INV_SQRT_2PI * math.exp(-0.5 * index * index) / tail
            w = g * (g + index)
        ps[i] = pi
        for a in range(k):
            grad[a] += g * x[a]
            wa = w * x[a]
            for b in range(a + 1):
                info[a, b] += wa * x[b]
    for a in range(k):
        for b in range(a):
            info[b, a] = info[a, b]
    return total


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
    log-likelihood, score and information together; a step that lowers
    the log-likelihood is halved until it does not.
    """
    p, n = cov.shape
    k = p + 1
    treated = 0.0
    for i in range(n):
        treated += d[i]
    if treated == 0.0 or treated == n:
        return st.NO_VARIATION
    coef[:] = 0.0
    grad = np.empty(k)
    chol = np.empty((k, k))
    start = np.empty(k)
    step = np.empty(k)
    current = _evaluate(cov, d, link, coef, ps, grad, info)
    converged = False
    for iteration in range(MAX_ITERATIONS):
        chol[:, :] = info
        if not cholesky_inplace(chol, k):
            # At β = 0 the information is X'X times a constant: collinear covariates.  Later it
            # vanishes because the scores run to 0 or 1.
            return st.SINGULAR if iteration == 0 else st.SEPARATION
        step[:] = grad
        cholesky_solve(chol, step, k)
        start[:] = coef
        for _halving in range(60):
            for a in range(k):
                coef[a] = start[a] + step[a]
            value = _evaluate(cov, d, link, coef, ps, grad, info)
            if value >= current - 1e-12 * abs(current):
                break
            step *= 0.5
        moved = 0.0
        for a in range(k):
            moved = max(moved, abs(coef[a] - start[a]) / (1.0 + abs(start[a])))
        current = value
        if moved < STEP_TOLERANCE:
            converged = True
            break
    if not converged or not math.isfinite(current):
        return st.SEPARATION
    for i in range(n):
        if ps[i] < SEPARATION_TOLERANCE or ps[i] > 1.0 - SEPARATION_TOLERANCE:
            return st.SEPARATION
    chol[:, :] = info
    if not cholesky_inplace(chol, k):
        return st.SEPARATION
    return st.OK


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


def positive_definite(a):
    """The twin's test of the kernel's pivot rule: every Cholesky pivot above PIVOT_TOLERANCE of its diagonal."""
    a, diagonal = a.copy(), np.diag(a).copy()
    for j in range(a.shape[0]):
        if not (a[j, j] > PIVOT_TOLERANCE * diagonal[j] and diagonal[j] > 0):
            return False
        a[j:, j] /= np.sqrt(a[j, j])
        a[j + 1 :, j + 1 :] -= np.outer(a[j + 1 :, j], a[j + 1 :, j])
    return True


def _nans(k, n):
    return np.full(k, np.nan), np.full(n, np.nan), np.full((k, k), np.nan)
