"""The ``sklearn`` learner: any scikit-learn regressor or classifier, named by import path, its parameters as data.

    ml_m = { learner = "sklearn", estimator = "sklearn.ensemble.RandomForestClassifier",
             params = { n_estimators = 200, max_depth = 5 } }

(the table's layout is the estimator's; this module sees ``estimator`` and
``params``).  Scenario files are data, never code: ``estimator`` must be a
dotted path inside the ``sklearn.`` namespace (no private component) naming
a class that is a scikit-learn regressor or classifier, and ``params`` may
hold only the class's constructor parameters with plain values (numbers,
strings, booleans, lists of them).  ``random_state`` is not a parameter: it
is the learner's ``seed`` (reduced modulo 2³², scikit-learn's range) for
every estimator that has one, so fits are reproducible and each cross-fitting
split draws its own.

A regressor predicts ``predict(x_test)``; a classifier (y coded 0/1)
``predict_proba(x_test)[:, 1]``.  These run in Python at scikit-learn's
speed; an exception raised while fitting or predicting (scikit-learn's
checks of the data) is status ``learner_failed`` with the message in
``info["message"]``.  scikit-learn is the optional extra ``ml``
(``pip install -e ".[ml]"``); the core install never imports it.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping

import numpy as np

from .. import status as st
from ..spec import Setting
from .base import EITHER, INFO_FIELDS, Learner

INSTALL_HINT = 'scikit-learn is not installed; the sklearn learner needs it: pip install -e ".[ml]"'
_PATH = re.compile(r"sklearn(\.[A-Za-z][A-Za-z0-9_]*)+")
_PLAIN = (bool, int, float, str)


def _sklearn_base():
    try:
        return importlib.import_module("sklearn.base")
    except ImportError:
        raise ValueError(INSTALL_HINT) from None


def resolve(path: str):
    """The scikit-learn class at a dotted path inside ``sklearn.``, or ValueError saying what is allowed."""
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise ValueError(
            f"estimator {path!r} is not allowed; allowed: the import path of a scikit-learn estimator class, "
            "e.g. 'sklearn.ensemble.RandomForestRegressor'"
        )
    base = _sklearn_base()
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise ValueError(f"estimator {path!r}: scikit-learn has no such class") from None
    if not (isinstance(cls, type) and issubclass(cls, base.BaseEstimator)):
        raise ValueError(f"estimator {path!r} is not a scikit-learn estimator class")
    if not (base.is_regressor(cls()) or base.is_classifier(cls())):
        raise ValueError(f"estimator {path!r} is neither a regressor nor a classifier")
    return cls


def _plain(value) -> bool:
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN) and not (isinstance(value, float) and not math.isfinite(value))


def check(options) -> str | None:
    """Why these options are not allowed (`Learner.validate`), or None."""
    if options.get("estimator") is None:
        return "'estimator' is missing; allowed: the import path of a scikit-learn estimator class"
    try:
        cls = resolve(options["estimator"])
    except ValueError as exc:
        return str(exc)
    params = options.get("params", {})
    if not isinstance(params, Mapping):
        return f"params must be a table of {options['estimator']}'s parameters, not {type(params).__name__}"
    accepted = cls().get_params(deep=False)
    for key, value in params.items():
        if key == "random_state":
            return "params may not set 'random_state': it is the learner's seed"
        if key not in accepted:
            allowed = ", ".join(k for k in accepted if k != "random_state")
            return f"unknown parameter {key!r} of {options['estimator']}; allowed: {allowed}"
        if not _plain(value):
            return f"parameter {key!r}: {value!r} is not plain data (a number, string, boolean or a list of them)"
    return None


def _fit(x, y, x_test, options, seed):
    cls = resolve(options["estimator"])
    model = cls(**dict(options.get("params", {})))
    if "random_state" in model.get_params(deep=False):
        model.set_params(random_state=int(seed) % 2**32)
    info = np.full(len(INFO_FIELDS), np.nan)
    classifier = _sklearn_base().is_classifier(model)
    if classifier and np.unique(y).size < 2:
        return st.NO_VARIATION, None, info, {}
    try:
        model.fit(x, y)
        pred = model.predict_proba(x_test)[:, list(model.classes_).index(1.0)] if classifier else model.predict(x_test)
    except Exception as exc:  # noqa: BLE001 — scikit-learn's own checks of the data: a failed fit, never a crash
        return st.LEARNER_FAILED, None, info, {"message": f"{type(exc).__name__}: {exc}"}
    return st.OK, np.asarray(pred, dtype=np.float64), info, {"model": model}


LEARNERS = (
    Learner(
        "sklearn",
        "any scikit-learn regressor or classifier, by import path, with its parameters as data (extra ml)",
        EITHER,
        (Setting("estimator", None, "the import path of a scikit-learn estimator class", kind=str),),
        fit=_fit,
        reference=_fit,  # scikit-learn is its own reference
        validate=check,
        extra_options=("params",),
    ),
)
