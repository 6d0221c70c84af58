"""``logistic_lasso_cv``: L1 logistic regression with C chosen by K-fold cross-validation (LogisticRegressionCV).

The objective at each C is ``logistic_lasso``'s, C Σ ℓᵢ + ‖w‖₁ with the
intercept unpenalised (`logistic`).  As scikit-learn's
``LogisticRegressionCV(l1_ratios=[1], solver="saga")``:

- the grid: ``Cs`` values log-spaced from 1e-4 to 1e4 (scikit-learn's
  ``Cs = 10``), fitted in increasing order, each fold's path warm started
  at the previous C;
- the folds: ``stratified`` (the default, scikit-learn's
  ``StratifiedKFold(K)`` without shuffling, what ``cv = K`` means for a
  classifier: each class's rows, in order, dealt into contiguous blocks
  whose sizes deal the sorted labels round-robin), ``contiguous``
  (``KFold(K)``) or ``shuffled`` (KFold's block labels permuted by a
  generator seeded with the learner's seed);
- the score of a fold at a C: ``log_loss`` (the default: scikit-learn's
  ``scoring="neg_log_loss"``, the mean of ℓᵢ over the held-out rows with
  the sign flipped) or ``accuracy`` (scikit-learn's default scoring: the
  share of held-out rows with 1[η > 0] = y);
- the choice: the C with the largest sum of fold scores (the first, i.e.
  smallest, C on ties), then the fit at that C on all the training rows.

A fold whose training rows hold one class is ``no_variation``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..spec import Setting
from .base import ALPHA, CLASSIFICATION, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, Learner
from .lasso_cv import FOLDINGS as LASSO_FOLDINGS
from .lasso_cv import contiguous_folds
from .logistic import (
    _count_nonzero,
    _one_class,
    _start,
    l1_logistic_solve,
    log1p_exp,
    logistic_lasso_reference,
    logistic_predict,
)

FOLDINGS = ("stratified", *LASSO_FOLDINGS)
STRATIFIED, CONTIGUOUS, SHUFFLED = range(3)
SCORINGS = ("log_loss", "accuracy")
LOG_LOSS, ACCURACY = range(2)


@njit(cache=True)
def stratified_folds(y, n_folds, fold):
    """fold (n,) int64 out: scikit-learn's StratifiedKFold(K) without shuffling for 0/1 labels.  Classes are
    numbered by first appearance; the sorted labels are dealt round-robin to the K folds to size each fold's
    share of each class; each class's rows, in order, then fill the folds' shares in fold order."""
    n = y.shape[0]
    first = y[0]
    count_first = 0
    for i in range(n):
        count_first += y[i] == first
    for c in range(2):
        # class c occupies positions [start, stop) of the sorted labels; fold k takes positions ≡ k (mod K)
        start = 0 if c == 0 else count_first
        stop = count_first if c == 0 else n
        i = 0
        for k in range(n_folds):
            first_position = start + ((k - start) % n_folds)
            share = 0 if first_position >= stop else (stop - 1 - first_position) // n_folds + 1
            taken = 0
            while taken < share:
                if (y[i] == first) == (c == 0):
                    fold[i] = k
                    taken += 1
                i += 1


@njit(cache=True)
def logistic_lasso_cv_fit(x, y, fold, n_folds, cs, scoring, coef, info, scores):
    """L1 logistic regression at the C chosen by K-fold cross-validation (module docstring); returns a status.

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
        0 or 1.
    fold : int64 array, shape (n,)
        The fold of each row, 0 … K − 1.
    n_folds : int
    cs : float64 array, shape (n_cs,)
        The grid of C, increasing.
    scoring : int
        LOG_LOSS or ACCURACY.
    coef : float64 array, shape (p + 1,)
        Out: (b, w) at the chosen C on all rows; NaN when the fit failed.
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS` (α = 1/C chosen, non-zero slopes, 1.0 when every fit converged, all Newton steps).
    scores : float64 array, shape (n_cs, n_folds)
        Out: each fold's score at each C (larger is better).
    """
    n, p = x.shape
    n_cs = cs.shape[0]
    info[:] = np.nan
    counts = np.zeros(n_folds, np.int64)
    for i in range(n):
        if fold[i] < 0 or fold[i] >= n_folds:
            coef[:] = np.nan
            return st.TOO_FEW_OBSERVATIONS
        counts[fold[i]] += 1
    for k in range(n_folds):
        if counts[k] == 0 or counts[k] == n:
            coef[:] = np.nan
            return st.TOO_FEW_OBSERVATIONS
    steps = 0
    all_converged = True
    w = np.empty(p + 1)
    for k in range(n_folds):
        n_test = counts[k]
        x_train = np.empty((n - n_test, p))
        y_train = np.empty(n - n_test)
        x_test = np.empty((n_test, p))
        y_test = np.empty(n_test)
        a = 0
        b = 0
        for i in range(n):
            if fold[i] == k:
                x_test[b] = x[i]
                y_test[b] = y[i]
                b += 1
            else:
                x_train[a] = x[i]
                y_train[a] = y[i]
                a += 1
        if _one_class(y_train):
            coef[:] = np.nan
            return st.NO_VARIATION
        _start(y_train, w)
        for c in range(n_cs):
            done, converged = l1_logistic_solve(x_train, y_train, 1.0 / cs[c], w)
            steps += done
            all_converged = all_converged and converged
            total = 0.0
            for i in range(n_test):
                eta = w[0]
                for j in range(p):
                    eta += x_test[i, j] * w[j + 1]
                if scoring == LOG_LOSS:
                    total -= log1p_exp(eta) - y_test[i] * eta
                else:
                    total += (eta > 0.0) == (y_test[i] == 1.0)
            scores[c, k] = total / n_test
    best = 0
    best_sum = -math.inf
    for c in range(n_cs):
        s = 0.0
        for k in range(n_folds):
            s += scores[c, k]
        if s > best_sum:
            best_sum = s
            best = c
    _start(y, coef)
    done, converged = l1_logistic_solve(x, y, 1.0 / cs[best], coef)
    info[ALPHA] = 1.0 / cs[best]
    info[NONZERO] = _count_nonzero(coef)
    info[CONVERGED] = 1.0 if (converged and all_converged) else 0.0
    info[ITERATIONS] = steps + done
    return st.OK


def logistic_lasso_cv_reference(x, y, fold, n_folds, cs, scoring):
    """The plain twin of `logistic_lasso_cv_fit`: (status, coef, chosen C, scores, converged), each fold and C
    fitted by `logistic_lasso_reference` from its own start (the optimum is unique: warm starts change only the
    path to it)."""
    if np.bincount(fold, minlength=n_folds).min() == 0 or np.bincount(fold, minlength=n_folds).max() == len(y):
        return st.TOO_FEW_OBSERVATIONS, np.full(x.shape[1] + 1, np.nan), np.nan, None, False
    scores = np.empty((cs.size, n_folds))
    converged = True
    for k in range(n_folds):
        train, test = fold != k, fold == k
        if y[train].min() == y[train].max():
            return st.NO_VARIATION, np.full(x.shape[1] + 1, np.nan), np.nan, None, False
        for c, value in enumerate(cs):
            _, coef, _, done = logistic_lasso_reference(x[train], y[train], value)
            converged &= done
            eta = coef[0] + x[test] @ coef[1:]
            if scoring == "log_loss":
                scores[c, k] = -np.mean(np.logaddexp(0.0, eta) - y[test] * eta)
            else:
                scores[c, k] = np.mean((eta > 0.0) == (y[test] == 1.0))
    best = int(np.argmax(scores.sum(axis=1)))
    _, coef, _, done = logistic_lasso_reference(x, y, cs[best])
    return st.OK, coef, cs[best], scores, converged and done


def folds_for(y: np.ndarray, n_folds: int, folding: str, seed: int) -> np.ndarray:
    """The fold of each row: stratified (`stratified_folds`), contiguous, or contiguous labels permuted by the seed."""
    fold = np.empty(y.shape[0], np.int64)
    if folding == "stratified":
        stratified_folds(y, n_folds, fold)
        return fold
    contiguous_folds(y.shape[0], n_folds, fold)
    return fold if folding == "contiguous" else np.random.default_rng(seed).permutation(fold)


@njit(cache=True)
def c_grid(n_cs):
    """scikit-learn's grid for an integer Cs, logspace(-4, 4, Cs): 10^(−4 + 8c/(Cs − 1)), c = 0 … Cs − 1 (equal to
    numpy's to rounding)."""
    cs = np.empty(n_cs)
    for c in range(n_cs):
        cs[c] = 10.0 ** (-4.0 + 8.0 * c / (n_cs - 1))
    return cs


def _folds(x, y, options, seed):
    """The folds, or the status that stops before them (one class; fewer rows than folds)."""
    if x.shape[0] < options["cv"]:
        return st.TOO_FEW_OBSERVATIONS, None
    if _one_class(y):
        return st.NO_VARIATION, None
    return st.OK, folds_for(y, options["cv"], options["folds"], seed)


def _fit(x, y, x_test, options, seed):
    k = options["cv"]
    cs = c_grid(options["Cs"])
    coef = np.empty(x.shape[1] + 1)
    info = np.full(len(INFO_FIELDS), np.nan)
    scores = np.full((cs.size, k), np.nan)
    code, fold = _folds(x, y, options, seed)
    if code != st.OK:
        return code, None, info, {}
    code = logistic_lasso_cv_fit(x, y, fold, k, cs, SCORINGS.index(options["scoring"]), coef, info, scores)
    pred = np.empty(x_test.shape[0])
    logistic_predict(x_test, coef, pred)
    return code, pred, info, {"coef": coef, "Cs": cs, "scores": scores, "fold": fold}


def _plain(x, y, x_test, options, seed):
    cs = c_grid(options["Cs"])
    code, fold = _folds(x, y, options, seed)
    if code != st.OK:
        return code, None, np.full(len(INFO_FIELDS), np.nan), {}
    code, coef, c, scores, converged = logistic_lasso_cv_reference(x, y, fold, options["cv"], cs, options["scoring"])
    info = np.array([1.0 / c, np.count_nonzero(coef[1:]) if code == st.OK else np.nan, float(converged), np.nan])
    pred = 1.0 / (1.0 + np.exp(-(coef[0] + x_test @ coef[1:])))
    return code, pred, info, {"coef": coef, "Cs": cs, "scores": scores, "fold": fold}


LEARNERS = (
    Learner(
        "logistic_lasso_cv",
        "L1 logistic regression with C chosen by K-fold cross-validation (LogisticRegressionCV, l1_ratios=[1])",
        CLASSIFICATION,
        (
            Setting("Cs", 10, "the number of C values, log-spaced from 1e-4 to 1e4 (scikit-learn's Cs)", minimum=2),
            Setting("cv", 5, "the number of folds K", minimum=2),
            Setting("folds", "stratified", "stratified (StratifiedKFold, scikit-learn's default for classifiers), "
                    "contiguous (KFold) or shuffled by the seed", choices=FOLDINGS),
            Setting("scoring", "log_loss", "the held-out score: log_loss (neg_log_loss) or accuracy",
                    choices=SCORINGS),
        ),
        fit=_fit,
        reference=_plain,
    ),
)  # fmt: skip
