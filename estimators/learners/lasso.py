"""``lasso``: the lasso at a fixed penalty, and its solver, which ``lasso_cv`` (`lasso_cv`) runs along a path.

Objective (scikit-learn's ``Lasso``)::

    min over (b, w) of  (1/2n) ‖y − b − Xw‖² + α‖w‖₁

The intercept b is unpenalised, so it is removed by centring: with
Xᶜ = X − 1x̄ᵀ, yᶜ = y − ȳ, G = XᶜᵀXᶜ and q = Xᶜᵀyᶜ, w minimises
½wᵀGw − qᵀw + nα‖w‖₁ and b = ȳ − x̄ᵀw.

Solver: cyclic coordinate descent with covariance updates (Friedman,
Hastie & Tibshirani 2010, §2.2): G is formed once per fit, Gw is kept up
to date after each coordinate move, and coordinate j moves to
S(q_j − (Gw)_j + G_jj w_j, nα) / G_jj (S the soft-threshold).  A column
without variance (G_jj = 0) keeps w_j = 0.  Convergence is scikit-learn's:
after a sweep whose largest coefficient move is at most ``tol`` times the
largest coefficient, the duality gap is computed, and the fit stops when
it is at most ``tol`` · yᶜᵀyᶜ; otherwise after ``max_iter`` sweeps
(``converged`` = 0 in the diagnostics; the coefficients are still used, as
scikit-learn does with a warning).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..spec import Setting
from .base import ALPHA, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, REGRESSION, Learner
from .linear import centred_system, linear_predict, no_rows


@njit(cache=True)
def lasso_gram_cd(gram, inverse, xty, yy, n, alpha, tol, max_iter, w, gw):
    """Coordinate descent for ½wᵀGw − qᵀw + nα‖w‖₁ from the warm start w; returns (sweeps, converged).

    Parameters
    ----------
    gram : float64 array, shape (p, p)
        G = XᶜᵀXᶜ.
    inverse : float64 array, shape (p,)
        1/G_jj, 0 where G_jj = 0 (`diagonal_inverse`).
    xty : float64 array, shape (p,)
        q = Xᶜᵀyᶜ.
    yy : float
        yᶜᵀyᶜ.
    n : int
        Rows behind G (the objective's 1/2n).
    alpha, tol : float
    max_iter : int
    w : float64 array, shape (p,)
        In: the start; out: the solution.
    gw : float64 array, shape (p,)
        In: G·w at the start; out: G·w at the solution.

    Notes
    -----
    The move of coordinate j is written w_j ← S(w_j + (q_j − (Gw)_j)/G_jj, nα/G_jj) with 1/G_jj formed
    once per Gram matrix: the same minimiser as S(q_j − (Gw)_j + G_jj w_j, nα)/G_jj up to rounding, without
    a division between one coordinate's move and the next (10 % of lasso_cv's time on the ``dml`` workload).
    A column without variance (G_jj = 0) keeps w_j = 0.
    """
    p = w.shape[0]
    penalty = alpha * n
    for sweep in range(max_iter):
        w_max = 0.0
        d_w_max = 0.0
        for j in range(p):
            scale = inverse[j]
            if scale == 0.0:
                continue
            old = w[j]
            rho = old + (xty[j] - gw[j]) * scale
            threshold = penalty * scale
            if rho > threshold:
                new = rho - threshold
            elif rho < -threshold:
                new = rho + threshold
            else:
                new = 0.0
            if new != old:
                delta = new - old
                for k in range(p):  # G is symmetric: its row j, contiguous, is its column j
                    gw[k] += delta * gram[j, k]
                w[j] = new
            d_w_max = max(d_w_max, abs(new - old))
            w_max = max(w_max, abs(new))
        if w_max == 0.0 or d_w_max / w_max <= tol or sweep == max_iter - 1:
            if duality_gap(xty, yy, penalty, w, gw) <= tol * yy:
                return sweep + 1, True
    return max_iter, False


@njit(cache=True)
def diagonal_inverse(gram, inverse):
    """inverse (p,) out: 1/G_jj, or 0 where G_jj = 0 (a column without variance, whose slope stays 0)."""
    for j in range(inverse.shape[0]):
        inverse[j] = 1.0 / gram[j, j] if gram[j, j] != 0.0 else 0.0


@njit(cache=True)
def duality_gap(xty, yy, penalty, w, gw):
    """The lasso's duality gap at w, from G·w (scikit-learn's, in covariance form): with R = yᶜ − Xᶜw,
    ‖R‖² = yᶜᵀyᶜ − 2qᵀw + wᵀGw and XᶜᵀR = q − Gw; `penalty` is nα."""
    q_dot_w = 0.0
    w_gw = 0.0
    l1 = 0.0
    dual_norm = 0.0
    for j in range(w.shape[0]):
        q_dot_w += xty[j] * w[j]
        w_gw += w[j] * gw[j]
        l1 += abs(w[j])
        dual_norm = max(dual_norm, abs(xty[j] - gw[j]))
    r_norm2 = yy - 2.0 * q_dot_w + w_gw
    if dual_norm > penalty:
        const = penalty / dual_norm
        gap = 0.5 * (r_norm2 + r_norm2 * const * const)
    else:
        const = 1.0
        gap = r_norm2
    return gap + penalty * l1 - const * (yy - q_dot_w)


@njit(cache=True)
def finish_fit(w, xmean, ymean, coef):
    """coef = (ȳ − x̄ᵀw, w); returns the number of non-zero slopes."""
    b = ymean
    nonzero = 0
    for j in range(w.shape[0]):
        coef[j + 1] = w[j]
        b -= xmean[j] * w[j]
        nonzero += w[j] != 0.0
    coef[0] = b
    return nonzero


@njit(cache=True)
def lasso_fit(x, y, alpha, tol, max_iter, coef, info):
    """The lasso at penalty α, from w = 0; returns a status code (``ok``: the lasso has a solution for any
    data, and a sweep limit reached is ``converged`` = 0 in info; ``too_few_observations`` when n = 0).

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
    alpha : float
        α ≥ 0 (scikit-learn's Lasso alpha).
    tol : float
        Duality-gap tolerance relative to yᶜᵀyᶜ (scikit-learn's tol).
    max_iter : int
        Most sweeps over the coordinates.
    coef : float64 array, shape (p + 1,)
        Out: (b, w).
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS`.
    """
    n, p = x.shape
    if n == 0:
        return no_rows(coef, info)
    xmean, gram, xty, ymean, yy = centred_system(x, y)
    w = np.zeros(p)
    gw = np.zeros(p)
    inverse = np.empty(p)
    diagonal_inverse(gram, inverse)
    sweeps, converged = lasso_gram_cd(gram, inverse, xty, yy, n, alpha, tol, max_iter, w, gw)
    info[ALPHA] = alpha
    info[NONZERO] = finish_fit(w, xmean, ymean, coef)
    info[CONVERGED] = 1.0 if converged else 0.0
    info[ITERATIONS] = sweeps
    return st.OK


def _soft(value: float, threshold: float) -> float:
    return math.copysign(max(abs(value) - threshold, 0.0), value)


def lasso_reference(x, y, alpha, tol, max_iter, w=None) -> tuple[np.ndarray, int, bool]:
    """The plain twin of `lasso_fit`: coordinate descent on the residuals (no Gram matrix), the duality gap from
    them; returns (coef (p + 1,), sweeps, converged), from the warm start `w` when given."""
    n, p = x.shape
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    w = np.zeros(p) if w is None else w.copy()
    r = yc - xc @ w
    norms = (xc**2).sum(axis=0)
    penalty = alpha * n
    yy = yc @ yc
    sweeps, converged = max_iter, False
    for sweep in range(max_iter):
        w_max = d_w_max = 0.0
        for j in range(p):
            if norms[j] == 0.0:
                continue
            old = w[j]
            new = _soft(xc[:, j] @ r + norms[j] * old, penalty) / norms[j]
            r -= (new - old) * xc[:, j]
            w[j] = new
            d_w_max = max(d_w_max, abs(new - old))
            w_max = max(w_max, abs(new))
        if w_max == 0.0 or d_w_max / w_max <= tol or sweep == max_iter - 1:
            dual_norm = np.max(np.abs(xc.T @ r)) if p else 0.0
            const = penalty / dual_norm if dual_norm > penalty else 1.0
            gap = 0.5 * (r @ r) * (1.0 + const**2) if dual_norm > penalty else r @ r
            gap += penalty * np.abs(w).sum() - const * (r @ yc)
            if gap <= tol * yy:
                sweeps, converged = sweep + 1, True
                break
    return np.concatenate([[y.mean() - x.mean(axis=0) @ w], w]), sweeps, converged


TOL_OPTION = Setting("tol", 1e-4, "duality-gap tolerance, relative to the centred ‖y‖² (scikit-learn's tol)", minimum=0.0)
MAX_ITER_OPTION = Setting("max_iter", 1000, "most coordinate-descent sweeps per fit (scikit-learn's max_iter)", minimum=1)
# The learners' revision (`Learner.revision`), raised whenever their numbers change, even in the last bits:
# 1: a coordinate moves by multiplying with 1/G_jj (`lasso_gram_cd`; lasso and lasso_cv); lasso_cv warm-starts
#    each α from the last two solutions extrapolated (`_extrapolate`: 2.9× fewer sweeps on the dml workload's
#    data) and sums its held-out errors reassociated.  Every fit passes the same duality-gap test, so the numbers
#    move within the solver tolerance (and lasso_cv's chosen α where two α's CV errors are within it)
REVISION = 1


def _lasso(x, y, x_test, options, seed):
    coef = np.empty(x.shape[1] + 1)
    info = np.empty(len(INFO_FIELDS))
    code = lasso_fit(x, y, options["alpha"], options["tol"], options["max_iter"], coef, info)
    pred = np.empty(x_test.shape[0])
    linear_predict(x_test, coef, pred)
    return code, pred, info, {"coef": coef}


def _lasso_plain(x, y, x_test, options, seed):
    coef, sweeps, converged = lasso_reference(x, y, options["alpha"], options["tol"], options["max_iter"])
    info = np.array([options["alpha"], np.count_nonzero(coef[1:]), float(converged), sweeps])
    return st.OK, coef[0] + x_test @ coef[1:], info, {"coef": coef}


LEARNERS = (
    Learner(
        "lasso",
        "the lasso at a fixed α, (1/2n)‖y − b − Xw‖² + α‖w‖₁ (scikit-learn's Lasso)",
        REGRESSION,
        (
            Setting("alpha", 1.0, "the penalty α on ‖w‖₁ (scikit-learn's Lasso alpha)", minimum=0.0),
            TOL_OPTION,
            MAX_ITER_OPTION,
        ),
        fit=_lasso,
        reference=_lasso_plain,
        revision=REVISION,
    ),
)  # fmt: skip
