"""Least squares learners: ``ols`` and ``ridge`` (with an unpenalised intercept).

Both solve the centred normal equations: with x̄, ȳ the training means and
Xᶜ = X − 1x̄ᵀ, yᶜ = y − ȳ,

    (XᶜᵀXᶜ + αI) w = Xᶜᵀyᶜ,    b = ȳ − x̄ᵀw,

α = 0 for ``ols``.  This is scikit-learn's ``LinearRegression`` and
``Ridge(alpha)`` (penalty α‖w‖² on the slopes only, the intercept
recovered from the means).  Prediction is b + xᵀw.

The kernels take row-major x (n, p) and write ``coef`` (p + 1,), the
intercept first, so a compiled caller (a cross-fitting loop) can fit and
predict without Python: see `linear_predict`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import status as st
from ..inference import cholesky_inplace, cholesky_solve
from ..spec import Setting
from .base import ALPHA, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, REGRESSION, Learner



@njit(cache=True)
def centred_gram(x, y, xmean, gram, xty):
    """The training means and centred cross-products; returns (ȳ, yᶜᵀyᶜ).

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
    xmean : float64 array, shape (p,)
        Out: x̄.
    gram : float64 array, shape (p, p)
        Out: XᶜᵀXᶜ.
    xty : float64 array, shape (p,)
        Out: Xᶜᵀyᶜ.
    """
    n, p = x.shape
    ymean = 0.0
    for i in range(n):
        ymean += y[i]
    ymean /= n
    xmean[:] = 0.0
    for i in range(n):
        for j in range(p):
            xmean[j] += x[i, j]
    for j in range(p):
        xmean[j] /= n
    gram[:, :] = 0.0
    xty[:] = 0.0
    yy = 0.0
    row = np.empty(p)
    for i in range(n):
        yc = y[i] - ymean
        yy += yc * yc
        for j in range(p):
            row[j] = x[i, j] - xmean[j]
        for j in range(p):
            xty[j] += row[j] * yc
            for k in range(j + 1):
                gram[j, k] += row[j] * row[k]
    for j in range(p):
        for k in range(j):
            gram[k, j] = gram[j, k]
    return ymean, yy


@njit(cache=True)
def ridge_fit(x, y, alpha, coef, info):
    """Ridge regression, min ‖y − b − Xw‖² + α‖w‖², by the centred normal equations; returns a status code.

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
    alpha : float
        α ≥ 0; 0 is ordinary least squares.
    coef : float64 array, shape (p + 1,)
        Out: (b, w).
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS` (α, non-zero slopes, 1.0, 1).

    Returns
    -------
    int
        ``ok``, or ``singular`` when XᶜᵀXᶜ + αI is not numerically positive
        definite (collinear columns, p ≥ n, a constant column with α = 0);
        then coef is NaN.
    """
    n, p = x.shape
    xmean = np.empty(p)
    gram = np.empty((p, p))
    xty = np.empty(p)
    ymean, _ = centred_gram(x, y, xmean, gram, xty)
    for j in range(p):
        gram[j, j] += alpha
    info[ALPHA] = alpha
    info[CONVERGED] = 1.0
    info[ITERATIONS] = 1.0
    if n < 1 or not cholesky_inplace(gram, p):
        coef[:] = np.nan
        info[NONZERO] = np.nan
        return st.SINGULAR
    cholesky_solve(gram, xty, p)
    b = ymean
    nonzero = 0
    for j in range(p):
        coef[j + 1] = xty[j]
        b -= xmean[j] * xty[j]
        nonzero += xty[j] != 0.0
    coef[0] = b
    info[NONZERO] = nonzero
    return st.OK


@njit(cache=True)
def ols_fit(x, y, coef, info):
    """Least squares with an intercept: `ridge_fit` with α = 0 (same arguments, same statuses)."""
    return ridge_fit(x, y, 0.0, coef, info)


@njit(cache=True)
def linear_predict(x, coef, pred):
    """pred = b + Xw for coef = (b, w); x (m, p), pred (m,)."""
    m, p = x.shape
    for i in range(m):
        s = coef[0]
        for j in range(p):
            s += x[i, j] * coef[j + 1]
        pred[i] = s


def ridge_reference(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[int, np.ndarray]:
    """The plain twin of `ridge_fit`: (status, coef) with numpy's solver on the centred data."""
    xc = x - x.mean(axis=0)
    a = xc.T @ xc + alpha * np.eye(x.shape[1])
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return st.SINGULAR, np.full(x.shape[1] + 1, np.nan)
    if np.linalg.cond(a) > 1e12:
        return st.SINGULAR, np.full(x.shape[1] + 1, np.nan)
    w = np.linalg.solve(a, xc.T @ (y - y.mean()))
    return st.OK, np.concatenate([[y.mean() - x.mean(axis=0) @ w], w])


def _compiled(x, y, x_test, alpha) -> tuple[int, np.ndarray, np.ndarray, dict]:
    coef = np.empty(x.shape[1] + 1)
    info = np.empty(len(INFO_FIELDS))
    code = ridge_fit(x, y, alpha, coef, info)
    pred = np.empty(x_test.shape[0])
    linear_predict(x_test, coef, pred)
    return code, pred, info, {"coef": coef}


def _plain(x, y, x_test, alpha) -> tuple[int, np.ndarray, np.ndarray, dict]:
    code, coef = ridge_reference(x, y, alpha)
    info = np.array([alpha, np.count_nonzero(coef[1:]) if code == st.OK else np.nan, 1.0, 1.0])
    return code, coef[0] + x_test @ coef[1:], info, {"coef": coef}


ALPHA_OPTION = Setting("alpha", 1.0, "the ridge penalty α on ‖w‖² (scikit-learn's Ridge alpha)", minimum=0.0)

LEARNERS = (
    Learner(
        "ols",
        "least squares with an intercept (scikit-learn's LinearRegression)",
        REGRESSION,
        (),
        fit=lambda x, y, x_test, options, seed: _compiled(x, y, x_test, 0.0),
        reference=lambda x, y, x_test, options, seed: _plain(x, y, x_test, 0.0),
    ),
    Learner(
        "ridge",
        "ridge regression, ‖y − b − Xw‖² + α‖w‖² with an unpenalised intercept (scikit-learn's Ridge)",
        REGRESSION,
        (ALPHA_OPTION,),
        fit=lambda x, y, x_test, options, seed: _compiled(x, y, x_test, options["alpha"]),
        reference=lambda x, y, x_test, options, seed: _plain(x, y, x_test, options["alpha"]),
    ),
)
