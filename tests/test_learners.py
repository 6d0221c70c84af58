"""The learners of `causalmc.estimators.learners` held to scikit-learn (the outside oracle), kernels and twins.

Conventions: every learner fits an intercept, unpenalised; ``ols`` is
``LinearRegression``, ``ridge`` is ``Ridge(alpha)`` (penalty α‖w‖² on the
slopes).  Many random datasets are batched inside each test function.
"""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from causalmc.estimators import status as st
from causalmc.estimators.learners import LEARNERS, fit_predict, validate_options


def _datasets(count, seed, n_range=(20, 200), p_range=(1, 12)):
    """Random regression datasets: (x_train, y_train, x_test), covariates with scales and means of their own."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(*n_range))
        p = int(rng.integers(*p_range))
        scale = rng.uniform(0.2, 5.0, p)
        shift = rng.normal(0.0, 3.0, p)
        x = rng.normal(size=(n + 30, p)) * scale + shift
        beta = rng.normal(size=p) * (rng.random(p) < 0.6)
        y = 1.5 + x @ beta + rng.normal(0.0, rng.uniform(0.3, 3.0), n + 30)
        yield x[:n], y[:n], x[n:]


def _worst(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / (1.0 + np.abs(np.asarray(b)))))


def test_ols_and_ridge_equal_scikit_learn():
    """ols = LinearRegression and ridge = Ridge(alpha) (both solve exactly): coefficients and predictions to 1e-8
    relative to 1 + |value|, kernel and twin, on 60 random datasets with α from 0.01 to 100."""
    rng = np.random.default_rng(7)
    worst = {"ols": 0.0, "ridge": 0.0}
    for x, y, x_test in _datasets(60, 1):
        alpha = float(10.0 ** rng.uniform(-2, 2))
        for name, options, model in (
            ("ols", {}, LinearRegression()),
            ("ridge", {"alpha": alpha}, Ridge(alpha=alpha)),
        ):
            model.fit(x, y)
            want_coef = np.concatenate([[model.intercept_], model.coef_])
            for reference in (False, True):
                pred, info = fit_predict(name, options, x, y, x_test, 0, reference=reference)
                assert info["status"] == "ok"
                assert info["converged"] and info["nonzero"] == x.shape[1]
                worst[name] = max(worst[name], _worst(pred, model.predict(x_test)), _worst(info["coef"], want_coef))
    assert worst["ols"] < 1e-8 and worst["ridge"] < 1e-8, worst


def test_a_failed_fit_is_a_status_with_nan_predictions():
    """Collinear columns: ols is singular (NaN predictions, status), ridge with α > 0 still fits; non-finite data
    is learner_failed.  Nothing raises."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    x[:, 2] = x[:, 0] - 2.0 * x[:, 1]
    y = rng.normal(size=40)
    for reference in (False, True):
        pred, info = fit_predict("ols", {}, x, y, x[:5], 0, reference=reference)
        assert info["status"] == "singular" and np.isnan(pred).all() and pred.shape == (5,)
        pred, info = fit_predict("ridge", {"alpha": 0.5}, x, y, x[:5], 0, reference=reference)
        assert info["status"] == "ok" and np.isfinite(pred).all()
        y_bad = y.copy()
        y_bad[4] = np.nan
        pred, info = fit_predict("ols", {}, x[:, :2], y_bad, x[:5, :2], 0, reference=reference)
        assert info["status"] == "learner_failed" and np.isnan(pred).all()
    assert st.NAMES[st.LEARNER_FAILED] == "learner_failed"


def test_options_are_checked_with_the_learner_the_key_and_what_is_allowed():
    assert validate_options("ridge", {}) == {"alpha": 1.0}
    assert validate_options("ridge", {"alpha": 2}) == {"alpha": 2.0}
    with pytest.raises(ValueError, match=r"unknown option 'lambda' of learner 'ridge'; allowed: alpha"):
        validate_options("ridge", {"lambda": 1.0})
    with pytest.raises(ValueError, match=r"option 'alpha' of learner 'ridge': -1.* allowed: a number ≥ 0"):
        validate_options("ridge", {"alpha": -1.0})
    with pytest.raises(ValueError, match=r"unknown option 'alpha' of learner 'ols'; allowed: \(none\)"):
        validate_options("ols", {"alpha": 1.0})
    with pytest.raises(ValueError, match=r"unknown learner 'forest'; allowed: .*ols"):
        validate_options("forest", {})
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="shapes do not match"):
        fit_predict("ols", {}, x, np.zeros(4), x, 0)
    assert set(LEARNERS) >= {"ols", "ridge"}
