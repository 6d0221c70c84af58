"""Learners of nuisance functions: E[y | x] and P(y = 1 | x) from training data, for cross-fitted estimators.

``fit_predict(name, options, x_train, y_train, x_test, seed) -> (pred, info)``
is the one entry point from Python; `LEARNERS` lists them by name and
`validate_options` checks a scenario's options (ValueError naming the
learner, the key and what is allowed).  The built-in learners are numba
kernels with plain numpy twins, held to scikit-learn by the tests:

- ``ols``, ``ridge`` (`linear`): least squares, scikit-learn's
  ``LinearRegression`` and ``Ridge``.

A compiled caller (a batched cross-fitting kernel) calls the kernels
directly, without Python in the loop: each ``*_fit(x, y, …, coef, info)``
takes row-major x (n, p), writes coef (p + 1,) with the intercept first and
info (4,) (`INFO_FIELDS`), and returns a status code of
`causalmc.estimators.status`; ``linear_predict(x, coef, pred)`` predicts.
A failed fit is a status with NaN coefficients, never an exception.

This package sees arrays only: it never imports from ``sims`` and the core
install never needs scikit-learn.
"""

from .base import ALPHA, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, Learner
from .linear import linear_predict, ols_fit, ridge_fit
from .registry import LEARNERS, fit_predict, validate_options

__all__ = [
    "ALPHA",
    "CONVERGED",
    "INFO_FIELDS",
    "ITERATIONS",
    "LEARNERS",
    "Learner",
    "NONZERO",
    "fit_predict",
    "linear_predict",
    "ols_fit",
    "ridge_fit",
    "validate_options",
]
