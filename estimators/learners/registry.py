"""The learner registry: `Learner`, `LEARNERS`, option validation and `fit_predict`.

A learner maps training data (x_train (n, p), y_train (n,)) to predictions
at x_test (m, p): E[y | x] for a regression learner, P(y = 1 | x) for a
classification learner (y coded 0/1).  Options are plain data (numbers,
strings, lists, a table of scikit-learn parameters), checked here with the
learner's name, the key and what is allowed in every message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .. import status as st
from . import lasso, lasso_cv, linear, logistic, logistic_cv, sklearn_bridge
from .base import CLASSIFICATION, INFO_FIELDS, Learner

def _collect(*modules) -> dict[str, Learner]:
    found = {}
    for module in modules:
        for learner in module.LEARNERS:
            if learner.name in found:
                raise RuntimeError(f"learner {learner.name!r} is defined twice")
            found[learner.name] = learner
    return found


def validate_options(name: str, options: Mapping) -> dict:
    """The complete options of learner `name` (defaults filled in), or ValueError naming the learner, the key and
    what is allowed.  A scenario reader turns the error into exit code 2."""
    if not isinstance(name, str) or name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; allowed: {', '.join(LEARNERS)}")
    learner = LEARNERS[name]
    if not isinstance(options, Mapping):
        raise ValueError(f"options of learner {name!r} must be a table, not {type(options).__name__}")
    chosen = learner.default_options()
    for key, value in options.items():
        if key not in learner.allowed_keys():
            allowed = ", ".join(learner.allowed_keys()) or "(none)"
            raise ValueError(f"unknown option {key!r} of learner {name!r}; allowed: {allowed}")
        if key in learner.option_map:
            try:
                chosen[key] = learner.option_map[key].validate(value)
            except ValueError as exc:
                raise ValueError(f"option {key!r} of learner {name!r}: {exc}") from None
        else:
            chosen[key] = value
    if learner.validate is not None and (reason := learner.validate(chosen)):
        raise ValueError(f"learner {name!r}: {reason}")
    return chosen


def _check_arrays(name: str, x_train, y_train, x_test, seed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x_train = np.ascontiguousarray(x_train, dtype=np.float64)
    y_train = np.ascontiguousarray(y_train, dtype=np.float64)
    x_test = np.ascontiguousarray(x_test, dtype=np.float64)
    if x_train.ndim != 2 or y_train.ndim != 1 or x_test.ndim != 2:
        raise ValueError(f"learner {name!r}: x_train (n, p), y_train (n,) and x_test (m, p) expected")
    if x_train.shape[0] != y_train.shape[0] or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"learner {name!r}: shapes do not match: x_train {x_train.shape}, y_train {y_train.shape}, "
            f"x_test {x_test.shape}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"learner {name!r}: seed must be an integer, not {seed!r}")
    return x_train, y_train, x_test


def fit_predict(
    name: str,
    options: Mapping,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    seed: int,
    *,
    reference: bool = False,
) -> tuple[np.ndarray, dict]:
    """Fit learner `name` on (x_train, y_train) and predict at x_test.

    Parameters
    ----------
    name : str
        A key of `LEARNERS`.
    options : Mapping
        The learner's options (plain data); missing ones take their defaults.
    x_train : float64 array, shape (n, p)
    y_train : float64 array, shape (n,)
        0/1 for a classification learner.
    x_test : float64 array, shape (m, p)
    seed : int
        The learner's own randomness: shuffled cross-validation folds,
        scikit-learn's ``random_state``.
    reference : bool
        Run the plain numpy twin instead of the compiled kernel (tests).

    Returns
    -------
    pred : float64 array, shape (m,)
        E[y | x] (regression) or P(y = 1 | x) (classification); NaN when the
        fit failed.
    info : dict
        ``status`` (a name of `estimators.status.NAMES`: ``ok``, or why the
        fit failed), ``alpha`` (the penalty used or chosen; NaN when none),
        ``nonzero`` (non-zero slopes), ``converged`` (bool), ``iterations``
        (−1 where the solver does not count them),
        and learner-specific entries (``alphas`` and ``cv_mse`` for
        ``lasso_cv`` …).

    Raises
    ------
    ValueError
        For bad options or arrays of the wrong shape, never for a numerical
        reason (a singular design, separation, non-finite data): those are
        statuses with NaN predictions.
    """
    chosen = validate_options(name, options)
    x_train, y_train, x_test = _check_arrays(name, x_train, y_train, x_test, seed)
    learner = LEARNERS[name]
    if learner.kind == CLASSIFICATION and not np.isin(y_train[np.isfinite(y_train)], (0.0, 1.0)).all():
        raise ValueError(f"learner {name!r} is a classifier: y_train must be coded 0/1")
    if x_train.shape[0] == 0:
        code, pred, info, extra = st.TOO_FEW_OBSERVATIONS, None, np.full(len(INFO_FIELDS), np.nan), {}
    elif not (np.isfinite(x_train).all() and np.isfinite(y_train).all() and np.isfinite(x_test).all()):
        code, pred, info, extra = st.LEARNER_FAILED, None, np.full(len(INFO_FIELDS), np.nan), {}
    else:
        code, pred, info, extra = (learner.reference if reference else learner.fit)(
            x_train, y_train, x_test, chosen, int(seed)
        )
        if code == st.OK and not np.isfinite(pred).all():
            code = st.LEARNER_FAILED
    if code != st.OK:
        pred = np.full(x_test.shape[0], np.nan)
    out = {"status": st.NAMES[code]}
    for key, value in zip(INFO_FIELDS, info, strict=True):
        out[key] = float(value)
    out["converged"] = bool(out["converged"] == 1.0)
    out["iterations"] = int(out["iterations"]) if math.isfinite(out["iterations"]) else -1
    out.update(extra)
    return pred, out


LEARNERS: dict[str, Learner] = _collect(linear, lasso, lasso_cv, logistic, logistic_cv, sklearn_bridge)
