"""One compiled entry point for the built-in learners, for batched kernels that fit nuisances in a loop.

A cross-fitting kernel receives a learner as two numbers from Python,
``code, params = encode(name, options)``, and inside its compiled loop calls

    status = fit_predict_kernel(code, params, x_train, y_train, fold, x_test, coef, pred, info)

which fits `name` with those options and predicts, as `fit_predict` does
(the same numbers: tested), without returning to Python.  The scikit-learn
bridge has no code: it runs in Python per fit.

``params`` (float64, `N_PARAMS`) holds at `PENALTY` the ridge or lasso α or
the logistic C (inf for ``penalty = "none"``), and for the lasso `TOL`,
`MAX_ITER`, and for the cross-validated learners `N_FOLDS`, `N_GRID`,
`EPS`, `RULE` and `FOLDING`.  ``lasso_cv`` with contiguous folds and
``logistic_lasso_cv`` with stratified or contiguous ones make their folds
from the training rows themselves (``fold`` is then not read; pass an
empty int64 array); with shuffled folds the caller passes ``fold``
(n_train,), e.g. ``folds_of(n_train, K, "shuffled", seed)`` drawn in
Python beforehand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numba import njit

from .. import status as st
from .lasso import lasso_fit
from .lasso_cv import FOLDINGS, RULES, contiguous_folds, lasso_cv_fit
from .linear import linear_predict, ridge_fit
from .logistic import _one_class, logistic_fit, logistic_lasso_fit, logistic_predict
from .logistic_cv import FOLDINGS as LOGISTIC_FOLDINGS
from .logistic_cv import SCORINGS, c_grid, logistic_lasso_cv_fit, stratified_folds
from .registry import validate_options

CODES = ("ols", "ridge", "lasso", "lasso_cv", "logistic", "logistic_lasso", "logistic_lasso_cv")
OLS, RIDGE, LASSO, LASSO_CV, LOGISTIC, LOGISTIC_LASSO, LOGISTIC_LASSO_CV = range(len(CODES))
# N_GRID: the number of α (lasso_cv) or C (logistic_lasso_cv); RULE: lasso_cv's rule or logistic_lasso_cv's scoring;
# FOLDING: the index of the folding in the learner's own list (lasso.FOLDINGS, logistic_cv.FOLDINGS)
PENALTY, TOL, MAX_ITER, N_FOLDS, N_GRID, EPS, RULE, FOLDING = range(8)
N_PARAMS = 8


def encode(name: str, options: Mapping) -> tuple[int, np.ndarray]:
    """(code, params) of a built-in learner for `fit_predict_kernel`; ValueError for bad options or a learner that
    has no compiled form (``sklearn``)."""
    chosen = validate_options(name, options)
    if name not in CODES:
        raise ValueError(f"learner {name!r} has no compiled form; compiled: {', '.join(CODES)}")
    params = np.full(N_PARAMS, np.nan)
    if name in ("ridge", "lasso"):
        params[PENALTY] = chosen["alpha"]
    elif name == "logistic":
        params[PENALTY] = math.inf if chosen["penalty"] == "none" else chosen["C"]
    elif name == "logistic_lasso":
        params[PENALTY] = chosen["C"]
    if name in ("lasso", "lasso_cv"):
        params[TOL] = chosen["tol"]
        params[MAX_ITER] = chosen["max_iter"]
    if name == "lasso_cv":
        params[N_FOLDS] = chosen["cv"]
        params[N_GRID] = chosen["n_alphas"]
        params[EPS] = chosen["eps"]
        params[RULE] = RULES.index(chosen["rule"])
        params[FOLDING] = FOLDINGS.index(chosen["folds"])
    if name == "logistic_lasso_cv":
        params[N_FOLDS] = chosen["cv"]
        params[N_GRID] = chosen["Cs"]
        params[RULE] = SCORINGS.index(chosen["scoring"])
        params[FOLDING] = LOGISTIC_FOLDINGS.index(chosen["folds"])
    return CODES.index(name), params


@njit(cache=True)
def fit_predict_kernel(code, params, x_train, y_train, fold, x_test, coef, pred, info):
    """Fit the learner `code` with `params` (`encode`) and predict; returns a status code.

    Parameters
    ----------
    code : int
        One of OLS … LOGISTIC_LASSO.
    params : float64 array, shape (N_PARAMS,)
    x_train : float64 array, shape (n, p)
    y_train : float64 array, shape (n,)
    fold : int64 array, shape (n,) or (0,)
        ``lasso_cv``'s folds when shuffled; else not read.
    x_test : float64 array, shape (m, p)
    coef : float64 array, shape (p + 1,)
        Out: (b, w).
    pred : float64 array, shape (m,)
        Out: E[y | x] or P(y = 1 | x); NaN when the status is not ``ok``.
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS`.

    Returns
    -------
    int
        The learner's status; ``learner_failed`` when a prediction is not finite.
    """
    n = x_train.shape[0]
    if n == 0:  # as fit_predict: no training row, whatever the learner
        coef[:] = np.nan
        info[:] = np.nan
        pred[:] = np.nan
        return st.TOO_FEW_OBSERVATIONS
    if code == OLS:
        status = ridge_fit(x_train, y_train, 0.0, coef, info)
    elif code == RIDGE:
        status = ridge_fit(x_train, y_train, params[PENALTY], coef, info)
    elif code == LASSO:
        status = lasso_fit(x_train, y_train, params[PENALTY], params[TOL], int(params[MAX_ITER]), coef, info)
    elif code == LASSO_CV:
        n_folds = int(params[N_FOLDS])
        n_alphas = int(params[N_GRID])
        folds = fold
        if params[FOLDING] == 0.0:
            folds = np.empty(n, np.int64)
            contiguous_folds(n, n_folds, folds)
        alphas = np.empty(n_alphas)
        cv_mse = np.empty((n_alphas, n_folds))
        status = lasso_cv_fit(
            x_train, y_train, folds, n_folds, n_alphas, params[EPS], int(params[RULE]), params[TOL],
            int(params[MAX_ITER]), coef, info, alphas, cv_mse,
        )  # fmt: skip
    elif code == LOGISTIC:
        status = logistic_fit(x_train, y_train, params[PENALTY], coef, info)
    elif code == LOGISTIC_LASSO:
        status = logistic_lasso_fit(x_train, y_train, params[PENALTY], coef, info)
    else:
        status = _logistic_lasso_cv(params, x_train, y_train, fold, coef, info)
    if status != st.OK:
        pred[:] = np.nan
        return status
    if code >= LOGISTIC:
        logistic_predict(x_test, coef, pred)
    else:
        linear_predict(x_test, coef, pred)
    for i in range(pred.shape[0]):
        if not math.isfinite(pred[i]):
            pred[:] = np.nan
            return st.LEARNER_FAILED
    return st.OK


@njit(cache=True)
def _logistic_lasso_cv(params, x_train, y_train, fold, coef, info):
    """`logistic_lasso_cv_fit` with the grid 10^linspace(−4, 4, Cs) and folds made here unless shuffled."""
    n = x_train.shape[0]
    n_folds = int(params[N_FOLDS])
    n_cs = int(params[N_GRID])
    info[:] = np.nan
    if n < n_folds:
        coef[:] = np.nan
        return st.TOO_FEW_OBSERVATIONS
    if _one_class(y_train):
        coef[:] = np.nan
        return st.NO_VARIATION
    folds = fold
    if params[FOLDING] != 2.0:  # stratified or contiguous: made from the rows
        folds = np.empty(n, np.int64)
        if params[FOLDING] == 0.0:
            stratified_folds(y_train, n_folds, folds)
        else:
            contiguous_folds(n, n_folds, folds)
    cs = c_grid(n_cs)
    scores = np.empty((n_cs, n_folds))
    return logistic_lasso_cv_fit(x_train, y_train, folds, n_folds, cs, int(params[RULE]), coef, info, scores)
