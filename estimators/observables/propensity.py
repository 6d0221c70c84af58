"""The propensity score: a logit or probit of the treatment on the covariates.

For unit i with covariates xᵢ (with an intercept first) and treatment dᵢ,
p(xᵢ) = F(xᵢ'β) with F the logistic or the standard normal cdf.  β̂
maximises the log-likelihood Σ dᵢ log pᵢ + (1 − dᵢ) log(1 − pᵢ), found by
Newton–Raphson from β = 0 with step halving.  The weighting and matching
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
# Newton steps stop when every coefficient moves less than this (relative to 1 + |β|):
# the quadratic convergence puts the solution at machine precision one step later.
STEP_TOLERANCE = 1e-11
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
def _log_likelihood(cov, d, link, coef, ps):
    """Fill ps = F(xβ) and return the log-likelihood (-inf when a score is 0 or 1 against the data)."""
    p, n = cov.shape
    total = 0.0
    for i in range(n):
        index = coef[0]
        for j in range(p):
            index += coef[j + 1] * cov[j, i]
        pi, _ = link_values(index, link)
        ps[i] = pi
        if d[i] > 0.5:
            total += math.log(pi) if pi > 0.0 else -math.inf
        else:
            total += math.log1p(-pi) if pi < 1.0 else -math.inf
    return total


@njit(cache=True)
def _gradient_information(cov, d, link, coef, grad, info):
    """The score Σ sᵢ and the observed information at coef (see the module docstring)."""
    p, n = cov.shape
    k = p + 1
    grad[:] = 0.0
    info[:, :] = 0.0
    for i in range(n):
        index = coef[0]
        for j in range(p):
            index += coef[j + 1] * cov[j, i]
        pi, fi = link_values(index, link)
        if link == LOGIT:
            g = d[i] - pi
            w = fi
        else:
            q = 2.0 * d[i] - 1.0
            lam = q * fi / (0.5 * math.erfc(-q * index / _SQRT2))
            g = lam
            w = lam * (lam + index)
        for a in range(k):
            xa = 1.0 if a == 0 else cov[a - 1, i]
            grad[a] += g * xa
            for b in range(a + 1):
                xb = 1.0 if b == 0 else cov[b - 1, i]
                info[a, b] += w * xa * xb
    for a in range(k):
        for b in range(a):
            info[b, a] = info[a, b]


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
        ``singular`` when the information is not positive definite;
        ``separation`` when Newton–Raphson does not converge or a score is
        within SEPARATION_TOLERANCE of 0 or 1.
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
    trial = np.empty(k)
    current = _log_likelihood(cov, d, link, coef, ps)
    converged = False
    for iteration in range(MAX_ITERATIONS):
        _gradient_information(cov, d, link, coef, grad, info)
        chol[:, :] = info
        if not cholesky_inplace(chol, k):
            # At β = 0 the information is X'X times a constant: collinear covariates.  Later it
            # vanishes because the scores run to 0 or 1.
            return st.SINGULAR if iteration == 0 else st.SEPARATION
        cholesky_solve(chol, grad, k)  # grad now holds the Newton step
        step = 1.0
        for _halving in range(60):
            for a in range(k):
                trial[a] = coef[a] + step * grad[a]
            value = _log_likelihood(cov, d, link, trial, ps)
            if value >= current - 1e-12 * abs(current):
                break
            step *= 0.5
        moved = 0.0
        for a in range(k):
            moved = max(moved, abs(trial[a] - coef[a]) / (1.0 + abs(coef[a])))
            coef[a] = trial[a]
        current = value
        if moved < STEP_TOLERANCE:
            converged = True
            break
    if not converged or not math.isfinite(current):
        return st.SEPARATION
    _log_likelihood(cov, d, link, coef, ps)
    for i in range(n):
        if ps[i] < SEPARATION_TOLERANCE or ps[i] > 1.0 - SEPARATION_TOLERANCE:
            return st.SEPARATION
    _gradient_information(cov, d, link, coef, grad, info)
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
