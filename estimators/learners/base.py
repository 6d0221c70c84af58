"""What every learner shares: the `Learner` record and the diagnostics its kernel writes.

Every kernel writes ``info`` (4,) float64 with the slots `INFO_FIELDS`:
the penalty α used or chosen (NaN when none), the number of non-zero
slopes, 1.0 when the solver converged (else 0.0), and its iterations
(coordinate-descent sweeps, Newton steps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..spec import Setting

ALPHA, NONZERO, CONVERGED, ITERATIONS = range(4)
INFO_FIELDS = ("alpha", "nonzero", "converged", "iterations")

REGRESSION, CLASSIFICATION, EITHER = "regression", "classification", "either"

# fit(x_train, y_train, x_test, options, seed) -> (status code, pred (m,), info (4,) by INFO_FIELDS, extra dict)
Fit = Callable[[np.ndarray, np.ndarray, np.ndarray, Mapping, int], tuple[int, np.ndarray, np.ndarray, dict]]


@dataclass(frozen=True)
class Learner:
    """One learner.

    Parameters
    ----------
    name : str
        Registry name (``ml_l = "lasso_cv"`` in a scenario).
    summary : str
        One line for listings.
    kind : str
        ``regression`` (predicts E[y | x]), ``classification`` (predicts
        P(y = 1 | x), y coded 0/1) or ``either`` (the scikit-learn bridge:
        decided by the estimator named).
    options : tuple of Setting
        Scalar options, validated by `Setting.validate`.
    fit : callable
        ``fit(x_train, y_train, x_test, options, seed) -> (status, pred,
        info, extra)``: the compiled path.
    reference : callable
        Same signature, plain numpy code: the twin the tests hold `fit` to.
    validate : callable, optional
        ``validate(options) -> str | None``: a reason a complete set of
        options is not allowed (options that are not scalars: the
        scikit-learn bridge's ``params``).
    extra_options : tuple of str
        Option names `validate` checks instead of a `Setting`.
    revision : int
        Raised by one whenever a change alters the predictions this learner
        makes, even in the last bits; it enters the fingerprint of the runs
        whose estimators use the learner (`EstimatorSpec.part_revisions`),
        left out at 0.
    """

    name: str
    summary: str
    kind: str
    options: tuple[Setting, ...]
    fit: Fit
    reference: Fit
    validate: Callable[[Mapping], str | None] | None = None
    extra_options: tuple[str, ...] = ()
    revision: int = 0
    option_map: Mapping[str, Setting] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "option_map", {o.name: o for o in self.options})

    def default_options(self) -> dict:
        return {o.name: o.default for o in self.options}

    def allowed_keys(self) -> tuple[str, ...]:
        return (*self.option_map, *self.extra_options)


