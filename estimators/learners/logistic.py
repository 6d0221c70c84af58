"""Logistic learners of P(y = 1 | x): ``logistic`` (unpenalised or L2) and ``logistic_lasso`` (L1).

With ℓᵢ(b, w) = log(1 + e^ηᵢ) − yᵢηᵢ, ηᵢ = b + xᵢᵀw, y coded 0/1, the
objectives are scikit-learn's ``LogisticRegression`` (intercept always
unpenalised):

- ``logistic``, ``penalty = "none"`` (``C = inf``): min Σ ℓᵢ, the maximum
  likelihood logit, fitted by `estimators.observables.propensity`'s
  Newton–Raphson (the propensity score's kernel: one home for the MLE);
  (quasi-)complete separation is status ``separation``, collinear columns
  ``singular``;
- ``logistic``, ``penalty = "l2"``: min C Σ ℓᵢ + ½‖w‖² (scikit-learn's
  default, C = 1), by Newton's method with step halving on the objective,
  stopped when no coefficient moved more than 1e-10 relative to 1 + |β|
  (convergence is quadratic there, so the error is far below it);
- ``logistic_lasso``: min C Σ ℓᵢ + ‖w‖₁ (``l1_ratio = 1`` with the
  ``saga`` solver, whose intercept is unpenalised; ``liblinear`` penalises
  the intercept, a different estimator), by proximal Newton (Lee, Sun &
  Saunders 2014; glmnet's and newGLMNET's scheme): at each step the
  quadratic model of Σ ℓᵢ plus the L1 term is minimised by coordinate
  descent (soft-thresholding the slopes, the intercept free), then a
  backtracking line search (Armijo on the full objective, Tseng & Yun 2009)
  takes a fraction of that step; stopped by the same 1e-10 rule.

A training set with one class is ``no_variation`` (the intercept runs to
±∞), with NaN coefficients.  Prediction is 1/(1 + e^−η).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import cholesky_inplace, cholesky_solve
from ..observables.propensity import LOGIT, fit_propensity, reference_propensity
from ..spec import Setting
from .base import ALPHA, CLASSIFICATION, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, Learner

PENALTIES = ("l2", "none")
MAX_NEWTON = 100
MAX_INNER = 10_000
STEP_TOLERANCE = 1e-10
# the inner coordinate descent stops when no coordinate moved more than this (relative to 1 + |β + d|)
INNER_TOLERANCE = 1e-13
ARMIJO = 1e-4


@njit(cache=True)
def log1p_exp(t):
    """log(1 + eᵗ) without overflow."""
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


@njit(cache=True)
def sigmoid(t):
    """1/(1 + e^−t) without overflow."""
    if t >= 0.0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)


@njit(cache=True)
def logistic_predict(x, coef, pred):
    """pred = 1/(1 + e^−(b + Xw)) for coef = (b, w); x (m, p), pred (m,)."""
    m, p = x.shape
    for i in range(m):
        s = coef[0]
        for j in range(p):
            s += x[i, j] * coef[j + 1]
        pred[i] = sigmoid(s)


@njit(cache=True)
def _loss(x, y, beta):
    """Σ ℓᵢ at beta = (b, w)."""
    n, p = x.shape
    total = 0.0
    for i in range(n):
        eta = beta[0]
        for j in range(p):
            eta += x[i, j] * beta[j + 1]
        total += log1p_exp(eta) - y[i] * eta
    return total


@njit(cache=True)
def _derivatives(x, y, beta, grad, hess):
    """The gradient (k,) and Hessian (k, k) of Σ ℓᵢ at beta, k = p + 1 (the design [1, x]); returns Σ ℓᵢ."""
    n, p = x.shape
    k = p + 1
    grad[:] = 0.0
    hess[:, :] = 0.0
    z = np.empty(k)
    z[0] = 1.0
    total = 0.0
    for i in range(n):
        eta = beta[0]
        for j in range(p):
            z[j + 1] = x[i, j]
            eta += x[i, j] * beta[j + 1]
        total += log1p_exp(eta) - y[i] * eta
        prob = sigmoid(eta)
        r = prob - y[i]
        v = prob * (1.0 - prob)
        for a in range(k):
            grad[a] += r * z[a]
            za = v * z[a]
            for b in range(a + 1):
                hess[a, b] += za * z[b]
    for a in range(k):
        for b in range(a):
            hess[b, a] = hess[a, b]
    return total


@njit(cache=True)
def _one_class(y):
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i]
    return total == 0.0 or total == y.shape[0]


@njit(cache=True)
def _start(y, beta):
    """β = (logit ȳ, 0): the intercept-only fit, where every penalised path starts."""
    mean = 0.0
    for i in range(y.shape[0]):
        mean += y[i]
    mean /= y.shape[0]
    beta[:] = 0.0
    beta[0] = math.log(mean / (1.0 - mean))


@njit(cache=True)
def _count_nonzero(coef):
    count = 0
    for j in range(1, coef.shape[0]):
        count += coef[j] != 0.0
    return count


@njit(cache=True)
def logistic_fit(x, y, c, coef, info):
    """``logistic``: min C Σ ℓᵢ + ½‖w‖², or the unpenalised MLE when c is inf; returns a status code.

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
        0 or 1.
    c : float
        scikit-learn's C > 0; ``math.inf`` for no penalty.
    coef : float64 array, shape (p + 1,)
        Out: (b, w); NaN when the fit failed.
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS` (α = 1/C, non-zero slopes, converged, Newton steps).
    """
    n, p = x.shape
    k = p + 1
    info[ALPHA] = 1.0 / c
    info[ITERATIONS] = 0.0
    info[CONVERGED] = 0.0
    info[NONZERO] = np.nan
    if n == 0 or _one_class(y):
        coef[:] = np.nan
        return st.NO_VARIATION
    if math.isinf(c):
        ps = np.empty(n)
        hess = np.empty((k, k))
        code = fit_propensity(np.ascontiguousarray(x.T), y, LOGIT, coef, ps, hess)
        if code != st.OK:
            coef[:] = np.nan
            return code
        info[CONVERGED] = 1.0
        info[NONZERO] = _count_nonzero(coef)
        return st.OK
    ridge = 1.0 / c  # Σ ℓᵢ + (1/2C)‖w‖²: the same minimiser
    grad = np.empty(k)
    hess = np.empty((k, k))
    step = np.empty(k)
    trial = np.empty(k)
    _start(y, coef)
    for iteration in range(MAX_NEWTON):
        current = _derivatives(x, y, coef, grad, hess)
        for a in range(1, k):
            current += 0.5 * ridge * coef[a] * coef[a]
            grad[a] += ridge * coef[a]
            hess[a, a] += ridge
        if not cholesky_inplace(hess, k):
            coef[:] = np.nan
            return st.SINGULAR
        step[:] = grad
        cholesky_solve(hess, step, k)
        scale = 1.0
        for _halving in range(60):
            for a in range(k):
                trial[a] = coef[a] - scale * step[a]
            value = _loss(x, y, trial)
            for a in range(1, k):
                value += 0.5 * ridge * trial[a] * trial[a]
            if value <= current + 1e-13 * abs(current):
                break
            scale *= 0.5
        moved = 0.0
        for a in range(k):
            moved = max(moved, abs(trial[a] - coef[a]) / (1.0 + abs(coef[a])))
        coef[:] = trial
        info[ITERATIONS] = iteration + 1
        if moved < STEP_TOLERANCE:
            info[CONVERGED] = 1.0
            break
    info[NONZERO] = _count_nonzero(coef)
    return st.OK


@njit(cache=True)
def _l1_direction(grad, hess, beta, lam, d, hd):
    """The proximal Newton direction: d minimising gᵀd + ½dᵀHd + λ Σ_{j ≥ 1} |β_j + d_j| by cyclic coordinate
    descent from d = 0 (the intercept, index 0, unpenalised); hd = H d kept up to date.  Returns the sweeps."""
    k = beta.shape[0]
    d[:] = 0.0
    hd[:] = 0.0
    for sweep in range(MAX_INNER):
        biggest = 0.0
        scale = 1.0
        for a in range(k):
            haa = hess[a, a]
            if haa <= 0.0:
                continue
            old = d[a]
            if a == 0:
                new = old - (grad[0] + hd[0]) / haa
            else:
                # minimise over t = β_a + d_a: c·(t − β_a) + ½ H_aa (t − β_a)² + λ|t|
                c = grad[a] + hd[a] - haa * old
                u = haa * beta[a] - c
                t = math.copysign(max(abs(u) - lam, 0.0), u) / haa
                new = t - beta[a]
            if new != old:
                delta = new - old
                for b in range(k):
                    hd[b] += delta * hess[a, b]
                d[a] = new
            biggest = max(biggest, abs(new - old))
            scale = max(scale, abs(beta[a] + new))
        if biggest <= INNER_TOLERANCE * scale:
            return sweep + 1
    return MAX_INNER


@njit(cache=True)
def _l1_norm(beta):
    total = 0.0
    for j in range(1, beta.shape[0]):
        total += abs(beta[j])
    return total


@njit(cache=True)
def logistic_lasso_fit(x, y, c, coef, info):
    """``logistic_lasso``: min C Σ ℓᵢ + ‖w‖₁ (intercept unpenalised) by proximal Newton; returns a status code.

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
        0 or 1.
    c : float
        scikit-learn's C > 0.
    coef : float64 array, shape (p + 1,)
        Out: (b, w); NaN when the fit failed.
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS` (α = 1/C, non-zero slopes, converged, proximal Newton steps).
    """
    n, p = x.shape
    k = p + 1
    lam = 1.0 / c  # Σ ℓᵢ + (1/C)‖w‖₁: the same minimiser
    info[ALPHA] = lam
    info[ITERATIONS] = 0.0
    info[CONVERGED] = 0.0
    info[NONZERO] = np.nan
    if n == 0 or _one_class(y):
        coef[:] = np.nan
        return st.NO_VARIATION
    grad = np.empty(k)
    hess = np.empty((k, k))
    d = np.empty(k)
    hd = np.empty(k)
    trial = np.empty(k)
    _start(y, coef)
    for iteration in range(MAX_NEWTON):
        current = _derivatives(x, y, coef, grad, hess) + lam * _l1_norm(coef)
        _l1_direction(grad, hess, coef, lam, d, hd)
        # the decrease the model promises: gᵀd + λ(‖w + d‖₁ − ‖w‖₁) ≤ 0
        promised = -lam * _l1_norm(coef)
        for a in range(k):
            promised += grad[a] * d[a]
            if a > 0:
                promised += lam * abs(coef[a] + d[a])
        scale = 1.0
        for _halving in range(60):
            for a in range(k):
                trial[a] = coef[a] + scale * d[a]
            value = _loss(x, y, trial) + lam * _l1_norm(trial)
            if value <= current + ARMIJO * scale * promised + 1e-13 * abs(current):
                break
            scale *= 0.5
        moved = 0.0
        for a in range(k):
            moved = max(moved, abs(trial[a] - coef[a]) / (1.0 + abs(coef[a])))
        coef[:] = trial
        info[ITERATIONS] = iteration + 1
        if moved < STEP_TOLERANCE:
            info[CONVERGED] = 1.0
            break
    info[NONZERO] = _count_nonzero(coef)
    return st.OK


def logistic_reference(x, y, c) -> tuple[int, np.ndarray, int, bool]:
    """The plain twin of `logistic_fit`: (status, coef, Newton steps, converged), numpy Newton on [1, x]."""
    n, p = x.shape
    if n == 0 or y.min() == y.max():
        return st.NO_VARIATION, np.full(p + 1, np.nan), 0, False
    if math.isinf(c):
        code, coef, _, _ = reference_propensity(np.ascontiguousarray(x.T), y, LOGIT)
        return code, coef, 0, code == st.OK
    z = np.column_stack([np.ones(n), x])
    penalty = np.full(p + 1, 1.0 / c)
    penalty[0] = 0.0

    def objective(beta):
        eta = z @ beta
        return np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * np.sum(penalty * beta**2)

    beta = np.zeros(p + 1)
    beta[0] = math.log(y.mean() / (1.0 - y.mean()))
    for iteration in range(MAX_NEWTON):
        prob = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (prob - y) + penalty * beta
        hess = (z * (prob * (1.0 - prob))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        current, scale = objective(beta), 1.0
        while objective(beta - scale * step) > current + 1e-13 * abs(current) and scale > 1e-18:
            scale /= 2.0
        trial = beta - scale * step
        moved = np.max(np.abs(trial - beta) / (1.0 + np.abs(beta)))
        beta = trial
        if moved < STEP_TOLERANCE:
            return st.OK, beta, iteration + 1, True
    return st.OK, beta, MAX_NEWTON, False


def logistic_lasso_reference(x, y, c) -> tuple[int, np.ndarray, int, bool]:
    """The plain twin of `logistic_lasso_fit`: proximal Newton in numpy, the direction by coordinate descent."""
    n, p = x.shape
    if n == 0 or y.min() == y.max():
        return st.NO_VARIATION, np.full(p + 1, np.nan), 0, False
    z = np.column_stack([np.ones(n), x])
    lam = 1.0 / c

    def objective(beta):
        eta = z @ beta
        return np.sum(np.logaddexp(0.0, eta) - y * eta) + lam * np.abs(beta[1:]).sum()

    beta = np.zeros(p + 1)
    beta[0] = math.log(y.mean() / (1.0 - y.mean()))
    for iteration in range(MAX_NEWTON):
        prob = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (prob - y)
        hess = (z * (prob * (1.0 - prob))[:, None]).T @ z
        d = np.zeros(p + 1)
        for _sweep in range(MAX_INNER):
            before = d.copy()
            for a in range(p + 1):
                rest = grad[a] + hess[a] @ d - hess[a, a] * d[a]
                if a == 0:
                    d[0] = -rest / hess[0, 0]
                else:
                    u = hess[a, a] * beta[a] - rest
                    d[a] = math.copysign(max(abs(u) - lam, 0.0), u) / hess[a, a] - beta[a]
            if np.max(np.abs(d - before)) <= INNER_TOLERANCE * max(1.0, np.max(np.abs(beta + d))):
                break
        promised = grad @ d + lam * (np.abs(beta[1:] + d[1:]).sum() - np.abs(beta[1:]).sum())
        current, scale = objective(beta), 1.0
        while objective(beta + scale * d) > current + ARMIJO * scale * promised + 1e-13 * abs(current):
            scale /= 2.0
            if scale < 1e-18:
                break
        trial = beta + scale * d
        moved = np.max(np.abs(trial - beta) / (1.0 + np.abs(beta)))
        beta = trial
        if moved < STEP_TOLERANCE:
            return st.OK, beta, iteration + 1, True
    return st.OK, beta, MAX_NEWTON, False


def _c_of(options) -> float:
    return math.inf if options.get("penalty") == "none" else float(options["C"])


def _compiled(kernel):
    def fit(x, y, x_test, options, seed):
        coef = np.empty(x.shape[1] + 1)
        info = np.empty(len(INFO_FIELDS))
        code = kernel(x, y, _c_of(options), coef, info)
        pred = np.empty(x_test.shape[0])
        logistic_predict(x_test, coef, pred)
        return code, pred, info, {"coef": coef}

    return fit


def _plain(twin):
    def fit(x, y, x_test, options, seed):
        c = _c_of(options)
        code, coef, steps, converged = twin(x, y, c)
        nonzero = np.count_nonzero(coef[1:]) if code == st.OK else np.nan
        info = np.array([1.0 / c, nonzero, float(converged), steps])
        return code, 1.0 / (1.0 + np.exp(-(coef[0] + x_test @ coef[1:]))), info, {"coef": coef}

    return fit


C_OPTION = Setting("C", 1.0, "the inverse penalty strength (scikit-learn's C): C Σ log-loss + penalty", minimum=0.0,
                   min_exclusive=True)  # fmt: skip

LEARNERS = (
    Learner(
        "logistic",
        "logistic regression, unpenalised or C Σ log-loss + ½‖w‖² (scikit-learn's LogisticRegression)",
        CLASSIFICATION,
        (Setting("penalty", "l2", "l2 (scikit-learn's default) or none (the MLE; C is ignored)", choices=PENALTIES),
         C_OPTION),
        fit=_compiled(logistic_fit),
        reference=_plain(logistic_reference),
    ),
    Learner(
        "logistic_lasso",
        "L1 logistic regression, C Σ log-loss + ‖w‖₁, intercept unpenalised (LogisticRegression l1_ratio=1, saga)",
        CLASSIFICATION,
        (C_OPTION,),
        fit=_compiled(logistic_lasso_fit),
        reference=_plain(logistic_lasso_reference),
    ),
)  # fmt: skip
