"""Learners of nuisance functions: E[y | x] and P(y = 1 | x) from training data, for cross-fitted estimators.

``fit_predict(name, options, x_train, y_train, x_test, seed) -> (pred, info)``
is the one entry point from Python; `LEARNERS` lists them by name and
`validate_options` checks a scenario's options (ValueError naming the
learner, the key and what is allowed).  The built-in learners are numba
kernels with plain numpy twins, held to scikit-learn by the tests:

- ``ols``, ``ridge`` (`linear`): least squares, scikit-learn's
  ``LinearRegression`` and ``Ridge``;
- ``lasso`` (`lasso`), ``lasso_cv`` (`lasso_cv`): coordinate descent with
  covariance updates, scikit-learn's ``Lasso`` and ``LassoCV`` (and glmnet's
  1-SE rule);
- ``logistic``, ``logistic_lasso`` (`logistic`): P(y = 1 | x) by Newton's
  method and proximal Newton, scikit-learn's ``LogisticRegression`` with
  an L2 penalty or none, and with an L1 penalty (saga's objective);
- ``logistic_lasso_cv`` (`logistic_cv`): the L1 logistic with C chosen by
  cross-validation, scikit-learn's ``LogisticRegressionCV``;
- ``sklearn`` (`sklearn_bridge`): any scikit-learn regressor or classifier
  named by import path, its parameters as data (the optional extra ``ml``).

A compiled caller (a batched cross-fitting kernel) gets a learner as
``code, params = encode(name, options)`` and calls
``fit_predict_kernel(code, params, x_train, y_train, fold, x_test, coef,
pred, info)`` inside its loop (`compiled`), or the kernels themselves:
each ``*_fit(x, y, …, coef, info)`` takes row-major x (n, p), writes coef
(p + 1,) with the intercept first and info (4,) (`INFO_FIELDS`), and
returns a status code of `causalmc.estimators.status`;
``linear_predict(x, coef, pred)`` and ``logistic_predict(x, coef, pred)``
predict.  A failed fit is a status with NaN coefficients, never an
exception.

This package sees arrays only: it never imports from ``sims`` and the core
install never needs scikit-learn.
"""

from .base import ALPHA, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, Learner
from .compiled import CODES, N_PARAMS, encode, fit_predict_kernel
from .lasso import lasso_fit, lasso_gram_cd
from .lasso_cv import RULE_1SE, RULE_MIN, contiguous_folds, folds_of, lasso_cv_fit
from .linear import linear_predict, ols_fit, ridge_fit
from .logistic import logistic_fit, logistic_lasso_fit, logistic_predict
from .logistic_cv import logistic_lasso_cv_fit, stratified_folds
from .registry import LEARNERS, fit_predict, validate_options

__all__ = [
    "ALPHA",
    "CODES",
    "CONVERGED",
    "INFO_FIELDS",
    "ITERATIONS",
    "LEARNERS",
    "Learner",
    "NONZERO",
    "N_PARAMS",
    "RULE_1SE",
    "RULE_MIN",
    "contiguous_folds",
    "encode",
    "fit_predict",
    "fit_predict_kernel",
    "folds_of",
    "lasso_cv_fit",
    "lasso_fit",
    "lasso_gram_cd",
    "linear_predict",
    "logistic_fit",
    "logistic_lasso_cv_fit",
    "logistic_lasso_fit",
    "logistic_predict",
    "ols_fit",
    "ridge_fit",
    "stratified_folds",
    "validate_options",
]
