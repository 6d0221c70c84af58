"""The learners of `causalmc.estimators.learners` held to scikit-learn (the outside oracle), kernels and twins.

Conventions: every learner fits an intercept, unpenalised; ``ols`` is
``LinearRegression``, ``ridge`` is ``Ridge(alpha)`` (penalty α‖w‖² on the
slopes), ``lasso`` is ``Lasso(alpha)`` ((1/2n)‖y − b − Xw‖² + α‖w‖₁) and
``lasso_cv`` is ``LassoCV`` given the same folds (the ``1se`` rule is
glmnet's, computed here from scikit-learn's fold errors); ``logistic`` is
``LogisticRegression`` (C Σ log-loss + ½‖w‖², or C = inf) and
``logistic_lasso`` is ``LogisticRegression(l1_ratio=1, solver="saga")``
(C Σ log-loss + ‖w‖₁, intercept unpenalised).  Many random datasets are
batched inside each test function.
"""

import numpy as np
import pytest
from sklearn.linear_model import Lasso, LassoCV, LinearRegression, LogisticRegression, LogisticRegressionCV, Ridge
from sklearn.model_selection import KFold, StratifiedKFold

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
    is learner_failed; no training row is too_few_observations.  Nothing raises."""
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
    empty = np.empty((0, 2))
    for name in ("ols", "ridge", "lasso", "lasso_cv", "logistic", "logistic_lasso", "logistic_lasso_cv"):
        for reference in (False, True):
            pred, info = fit_predict(name, {}, empty, np.empty(0), x[:2, :2], 0, reference=reference)
            assert info["status"] == "too_few_observations" and np.isnan(pred).all(), name
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


TIGHT = {"tol": 1e-12, "max_iter": 100_000}


def test_lasso_equals_scikit_learn():
    """lasso = Lasso(alpha) with tol = 1e-12 on both sides (duality gap ≤ 1e-12·‖yᶜ‖²): coefficients and
    predictions within 1e-9 relative to 1 + |value| (achieved: about 1e-13), kernel and twin, on 40 datasets with
    α from 0.3% to 90% of α_max (from dense to one or two non-zero slopes)."""
    rng = np.random.default_rng(11)
    worst, sizes = 0.0, set()
    for x, y, x_test in _datasets(40, 2):
        alpha_max = np.max(np.abs((x - x.mean(0)).T @ (y - y.mean()))) / len(y)
        alpha = float(alpha_max * 10.0 ** rng.uniform(-2.5, -0.05))
        model = Lasso(alpha=alpha, **TIGHT).fit(x, y)
        want = np.concatenate([[model.intercept_], model.coef_])
        for reference in (False, True):
            pred, info = fit_predict("lasso", {"alpha": alpha} | TIGHT, x, y, x_test, 0, reference=reference)
            assert info["status"] == "ok" and info["converged"] and info["alpha"] == alpha
            assert info["nonzero"] == np.count_nonzero(info["coef"][1:])
            worst = max(worst, _worst(pred, model.predict(x_test)), _worst(info["coef"], want))
        sizes.add(int(info["nonzero"]))
    assert worst < 1e-9, worst
    assert min(sizes) <= 2 and max(sizes) >= 6  # sparse and dense fits both checked


def test_lasso_cv_equals_scikit_learn_with_the_same_folds():
    """lasso_cv = LassoCV(alphas=n_alphas, cv=[the same (train, test) folds]) with tol = 1e-12 on both sides: the
    grid (to 1e-12 relative: numpy's geomspace and log10 steps differ in rounding), every fold's error along it
    (1e-9 relative), the chosen α and the refit's predictions (1e-9).  The 1se rule is checked against glmnet's
    rule applied to scikit-learn's ``mse_path_`` and a Lasso refit at that α.  Contiguous folds are KFold(K)'s;
    shuffled ones a permutation from the seed.  14 datasets, K from 2 to 10; the twin on the first four."""
    rng = np.random.default_rng(5)
    worst = {"grid": 0.0, "mse": 0.0, "pred": 0.0}
    chosen = set()
    for d, (x, y, x_test) in enumerate(_datasets(14, 3, n_range=(40, 160), p_range=(2, 10))):
        k = int(rng.integers(2, 11))
        options = {"cv": k, "n_alphas": 25, "rule": ("min", "1se")[d % 2], "folds": ("contiguous", "shuffled")[d // 7]}
        for reference in (False, True) if d < 4 else (False,):
            pred, info = fit_predict("lasso_cv", options | TIGHT, x, y, x_test, 100 + d, reference=reference)
            assert info["status"] == "ok" and info["converged"]
            fold = info["fold"]
            splits = [(np.flatnonzero(fold != j), np.flatnonzero(fold == j)) for j in range(k)]
            if options["folds"] == "contiguous":
                for (train, test), (want_train, want_test) in zip(splits, KFold(k).split(x), strict=True):
                    assert np.array_equal(train, want_train) and np.array_equal(test, want_test)
            model = LassoCV(alphas=25, cv=splits, **TIGHT).fit(x, y)
            grid = model.alphas_
            worst["grid"] = max(worst["grid"], _worst(info["alphas"] / grid, np.ones(25)))
            worst["mse"] = max(worst["mse"], _worst(info["cv_mse"] / model.mse_path_, np.ones((25, k))))
            means = model.mse_path_.mean(axis=1)
            best = int(np.argmin(means))
            if options["rule"] == "1se":
                bound = means[best] + model.mse_path_[best].std(ddof=1) / np.sqrt(k)
                best = int(np.flatnonzero(means <= bound)[0])
                model = Lasso(alpha=grid[best], **TIGHT).fit(x, y)
            else:
                assert model.alpha_ == grid[best]
            assert info["alpha"] == pytest.approx(grid[best], rel=1e-12)
            worst["pred"] = max(worst["pred"], _worst(pred, model.predict(x_test)))
            chosen.add(best)
    assert worst["grid"] < 1e-12 and worst["mse"] < 1e-9 and worst["pred"] < 1e-9, worst
    assert len(chosen) > 3  # the choice moves along the grid across datasets


def test_lasso_cv_statuses_and_folds():
    """Fewer rows than folds is too_few_observations (NaN predictions); shuffled folds follow the seed."""
    x = np.arange(8.0).reshape(4, 2)
    for reference in (False, True):
        pred, info = fit_predict("lasso_cv", {"cv": 5}, x, np.arange(4.0), x, 0, reference=reference)
        assert info["status"] == "too_few_observations" and np.isnan(pred).all()
    x, y, x_test = next(_datasets(1, 9))
    folds = [fit_predict("lasso_cv", {"folds": "shuffled"}, x, y, x_test, seed)[1]["fold"] for seed in (1, 1, 2)]
    assert np.array_equal(folds[0], folds[1]) and not np.array_equal(folds[0], folds[2])
    assert np.array_equal(np.bincount(folds[0]), [len(test) for _, test in KFold(5).split(x)])


def _binary_datasets(count, seed):
    """Random logit datasets (x_train, y_train 0/1, x_test) with both classes and no separation at these n."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(80, 300))
        p = int(rng.integers(1, 8))
        x = rng.normal(size=(n + 20, p)) * rng.uniform(0.5, 2.0, p) + rng.normal(0.0, 1.0, p)
        eta = rng.normal(0.0, 0.5) + x @ (rng.normal(0.0, 0.7, p) * (rng.random(p) < 0.7))
        y = (rng.random(n + 20) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
        yield x[:n], y[:n], x[n:]


def test_logistic_equals_scikit_learn():
    """logistic = LogisticRegression(C = inf or C, solver="newton-cholesky", tol=1e-14) (both Newton, both solve
    exactly): P(y = 1) at new points and the coefficients to 1e-8 relative to 1 + |value|, kernel and twin, on 30
    datasets with C from 0.01 to 100."""
    rng = np.random.default_rng(13)
    worst = 0.0
    for x, y, x_test in _binary_datasets(30, 4):
        c = float(10.0 ** rng.uniform(-2, 2))
        for options, sk_c in (({"penalty": "none"}, np.inf), ({"C": c}, c)):
            model = LogisticRegression(C=sk_c, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(x, y)
            want = np.concatenate([model.intercept_, model.coef_[0]])
            for reference in (False, True):
                pred, info = fit_predict("logistic", options, x, y, x_test, 0, reference=reference)
                assert info["status"] == "ok" and info["converged"] and info["alpha"] == 1.0 / sk_c
                worst = max(worst, _worst(pred, model.predict_proba(x_test)[:, 1]), _worst(info["coef"], want))
    assert worst < 1e-8, worst


def test_logistic_lasso_solves_its_problem_and_equals_saga():
    """logistic_lasso minimises C Σ log-loss + ‖w‖₁ (intercept free): its optimality (KKT) conditions hold to 1e-9,
    Σ(pᵢ − yᵢ) = 0, |xⱼᵀ(p − y)| = 1/C with the sign opposite to wⱼ ≠ 0 and ≤ 1/C where wⱼ = 0, on 30 datasets
    with C spanning all-zero to dense fits, kernel and twin.  Against scikit-learn's saga (tol=1e-12, max_iter
    1e6): coefficients and probabilities to 1e-8 where saga keeps a slope.  Where saga zeroes every slope its
    stopping rule, on the slopes' changes, leaves the intercept unconverged (seen: 0.41 to 0.49 for
    logit(ȳ) = 0.461), so there the intercept is held to logit(ȳ), the exact optimum."""
    rng = np.random.default_rng(17)
    worst_kkt, worst_saga, sizes = 0.0, 0.0, set()
    for x, y, x_test in _binary_datasets(30, 6):
        z = np.column_stack([np.ones(len(y)), x])
        score_max = np.max(np.abs(x.T @ (y - y.mean())))  # 1/C above it zeroes every slope
        c = float(10.0 ** rng.uniform(-0.2, 1.5) / score_max)
        model = LogisticRegression(C=c, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=1_000_000).fit(x, y)
        for reference in (False, True):
            pred, info = fit_predict("logistic_lasso", {"C": c}, x, y, x_test, 0, reference=reference)
            assert info["status"] == "ok" and info["converged"]
            coef = info["coef"]
            residual = z.T @ (1.0 / (1.0 + np.exp(-(z @ coef))) - y)
            active = coef[1:] != 0.0
            kkt = np.concatenate([
                [residual[0]],
                (residual[1:] + np.sign(coef[1:]) / c)[active],
                np.maximum(np.abs(residual[1:]) - 1.0 / c, 0.0)[~active],
            ])  # fmt: skip
            worst_kkt = max(worst_kkt, float(np.max(np.abs(kkt))) * c)
            if model.coef_.any():
                want = np.concatenate([model.intercept_, model.coef_[0]])
                worst_saga = max(worst_saga, _worst(coef, want), _worst(pred, model.predict_proba(x_test)[:, 1]))
            else:
                assert not active.any() and coef[0] == pytest.approx(np.log(y.mean() / (1 - y.mean())), abs=1e-12)
        sizes.add(int(info["nonzero"]))
    assert worst_kkt < 1e-9 and worst_saga < 1e-8, (worst_kkt, worst_saga)
    assert 0 in sizes and max(sizes) >= 4  # empty, sparse and dense fits


def test_logistic_lasso_cv_equals_logistic_regression_cv_with_the_same_folds():
    """logistic_lasso_cv = LogisticRegressionCV(Cs, l1_ratios=[1], solver="saga", cv=[the same folds], tol=1e-12):
    the grid (1e-14 relative), the stratified folds (= StratifiedKFold(K)), every fold's score where saga keeps a
    slope (1e-9; where it zeroes them all its intercept is unconverged, see the logistic_lasso test), the chosen
    C exactly and the refit's probabilities (1e-8).  Four datasets, log-loss and accuracy scoring, K = 3 and 5;
    the twin on the first."""
    worst = {"scores": 0.0, "pred": 0.0}
    for d, (x, y, x_test) in enumerate(_binary_datasets(4, 41)):
        k, scoring = (5, 3)[d % 2], ("log_loss", "accuracy")[d // 3]
        options = {"Cs": 6, "cv": k, "scoring": scoring}
        for reference in (False, True) if d == 0 else (False,):
            pred, info = fit_predict("logistic_lasso_cv", options, x, y, x_test, 0, reference=reference)
            assert info["status"] == "ok" and info["converged"]
            fold = info["fold"]
            want = np.empty(len(y), np.int64)
            for j, (_, test) in enumerate(StratifiedKFold(k).split(x, y)):
                want[test] = j
            assert np.array_equal(fold, want)
            splits = [(np.flatnonzero(fold != j), np.flatnonzero(fold == j)) for j in range(k)]
            model = LogisticRegressionCV(
                Cs=6, l1_ratios=[1.0], solver="saga", cv=splits, tol=1e-12, max_iter=100_000,
                scoring="neg_log_loss" if scoring == "log_loss" else "accuracy", use_legacy_attributes=True,
            ).fit(x, y)  # fmt: skip
            assert np.allclose(info["Cs"], model.Cs_, rtol=1e-14, atol=0)
            kept = model.coefs_paths_[1.0][:, :, 0, :-1].any(axis=2).T  # (Cs, K): saga kept a slope
            gaps = np.abs(model.scores_[1.0][:, :, 0].T - info["scores"])[kept]
            worst["scores"] = max(worst["scores"], float(gaps.max()))
            assert 1.0 / info["alpha"] == pytest.approx(model.C_[0], rel=1e-14)
            worst["pred"] = max(worst["pred"], _worst(pred, model.predict_proba(x_test)[:, 1]))
    assert worst["scores"] < 1e-9 and worst["pred"] < 1e-8, worst


def test_logistic_failures_are_statuses():
    """One class: no_variation for every logistic learner; separated data: separation for the MLE, a finite fit
    with an L2 or L1 penalty."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 2))
    separated = (x[:, 0] > 0).astype(float)
    for reference in (False, True):
        for name, options in (
            ("logistic", {}),
            ("logistic", {"penalty": "none"}),
            ("logistic_lasso", {}),
            ("logistic_lasso_cv", {"Cs": 3}),
        ):
            pred, info = fit_predict(name, options, x, np.ones(50), x[:3], 0, reference=reference)
            assert info["status"] == "no_variation" and np.isnan(pred).all()
            pred, info = fit_predict(name, options, x, separated, x[:3], 0, reference=reference)
            if options.get("penalty") == "none":
                assert info["status"] == "separation" and np.isnan(pred).all()
            else:
                assert info["status"] == "ok" and ((pred >= 0) & (pred <= 1)).all()  # C = 1e4 may round to 0 or 1


def test_the_sklearn_learner_equals_scikit_learn_called_directly():
    """A regressor predicts ``predict``, a classifier ``predict_proba[:, 1]``, each with random_state = the seed:
    exactly scikit-learn's numbers when called directly with the same random_state."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    x, y, x_test = next(_datasets(1, 21, n_range=(150, 151)))
    params = {"n_estimators": 15, "max_depth": 4, "max_features": 0.5}
    options = {"estimator": "sklearn.ensemble.RandomForestRegressor", "params": params}
    pred, info = fit_predict("sklearn", options, x, y, x_test, 42)
    want = RandomForestRegressor(**params, random_state=42).fit(x, y).predict(x_test)
    assert info["status"] == "ok" and np.array_equal(pred, want)
    assert not np.array_equal(pred, fit_predict("sklearn", options, x, y, x_test, 43)[0])
    xb, yb, xb_test = next(_binary_datasets(1, 22))
    options = {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 10}}
    pred, info = fit_predict("sklearn", options, xb, yb, xb_test, 7)
    want = RandomForestClassifier(n_estimators=10, random_state=7).fit(xb, yb).predict_proba(xb_test)[:, 1]
    assert info["status"] == "ok" and np.array_equal(pred, want)
    pred, info = fit_predict("sklearn", options, xb, np.zeros(len(yb)), xb_test, 7)
    assert info["status"] == "no_variation" and np.isnan(pred).all()
    options = {"estimator": "sklearn.linear_model.LinearRegression", "params": {}}
    pred, info = fit_predict("sklearn", options, x, y, x_test, 0)  # no random_state: used as it is
    assert np.allclose(pred, fit_predict("ols", {}, x, y, x_test, 0)[0], rtol=1e-10, atol=1e-10)


def test_the_sklearn_learner_takes_data_never_code():
    """Only classes inside the sklearn namespace, only their constructor parameters, only plain values."""
    cases = {
        "os.system": "allowed: the import path of a scikit-learn estimator class",
        "sklearn.ensemble._forest.RandomForestRegressor": "is not allowed",
        "sklearn.ensemble.NoSuchForest": "scikit-learn has no such class",
        "sklearn.model_selection.KFold": "is not a scikit-learn estimator class",
        "sklearn.preprocessing.StandardScaler": "neither a regressor nor a classifier",
    }
    for path, message in cases.items():
        with pytest.raises(ValueError, match=f"learner 'sklearn': .*{message}"):
            validate_options("sklearn", {"estimator": path})
    forest = "sklearn.ensemble.RandomForestRegressor"
    for params, message in (
        ({"random_state": 1}, "may not set 'random_state': it is the learner's seed"),
        ({"n_trees": 5}, "unknown parameter 'n_trees' of sklearn.ensemble.RandomForestRegressor; allowed: .*n_estimators"),
        ({"max_depth": {"a": 1}}, "is not plain data"),
    ):
        with pytest.raises(ValueError, match=message):
            validate_options("sklearn", {"estimator": forest, "params": params})
    with pytest.raises(ValueError, match="'estimator' is missing"):
        validate_options("sklearn", {})
    assert validate_options("sklearn", {"estimator": forest, "params": {"n_estimators": 5}})["params"] == {
        "n_estimators": 5
    }


def test_the_core_install_needs_no_scikit_learn(monkeypatch):
    """No module of estimators/ imports scikit-learn (read from the source), and without it the sklearn learner
    says how to install it."""
    import ast
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "estimators"
    imported = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "numba" in imported and "sklearn" not in imported
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails as if it were absent
    with pytest.raises(ValueError, match=r'scikit-learn is not installed; the sklearn learner needs it: pip install -e "\.\[ml\]"'):
        validate_options("sklearn", {"estimator": "sklearn.ensemble.RandomForestRegressor"})


def test_the_compiled_entry_point_gives_fit_predicts_numbers():
    """fit_predict_kernel(encode(name, options)) — what a compiled cross-fitting loop calls — returns exactly
    fit_predict's predictions, diagnostics and statuses for every built-in learner (shuffled folds passed in)."""
    from causalmc.estimators.learners import INFO_FIELDS, encode, fit_predict_kernel

    x, y, x_test = next(_datasets(1, 31, n_range=(90, 91), p_range=(5, 6)))
    xb, yb, xb_test = next(_binary_datasets(1, 32))
    cases = [
        ("ols", {}, x, y, x_test),
        ("ridge", {"alpha": 3.0}, x, y, x_test),
        ("lasso", {"alpha": 0.1}, x, y, x_test),
        ("lasso_cv", {"rule": "1se"}, x, y, x_test),
        ("lasso_cv", {"folds": "shuffled", "cv": 3, "n_alphas": 30}, x, y, x_test),
        ("logistic", {"C": 0.5}, xb, yb, xb_test),
        ("logistic", {"penalty": "none"}, xb, yb, xb_test),
        ("logistic_lasso", {"C": 0.05}, xb, yb, xb_test),
        ("logistic_lasso_cv", {"Cs": 5, "cv": 3}, xb, yb, xb_test),
        ("logistic_lasso_cv", {"Cs": 4, "folds": "shuffled", "cv": 3, "scoring": "accuracy"}, xb, yb, xb_test),
        ("logistic", {}, xb, np.ones(len(yb)), xb_test),  # one class: no_variation
        ("logistic_lasso_cv", {}, xb, np.ones(len(yb)), xb_test),
        ("ols", {}, x[:0], y[:0], x_test),  # no rows: too_few_observations
        ("lasso_cv", {}, x[:0], y[:0], x_test),
    ]
    for name, options, xt, yt, xs in cases:
        want, info = fit_predict(name, options, xt, yt, xs, 5)
        code, params = encode(name, options)
        fold = info["fold"] if options.get("folds") == "shuffled" else np.empty(0, np.int64)
        coef, pred, got = np.empty(xt.shape[1] + 1), np.empty(len(xs)), np.empty(len(INFO_FIELDS))
        status = fit_predict_kernel(code, params, xt, yt, fold, xs, coef, pred, got)
        assert st.NAMES[status] == info["status"], name
        assert np.array_equal(pred, want, equal_nan=True), name
        if info["status"] == "ok":
            assert np.array_equal(coef, info["coef"]) and got[0] == info["alpha"] and got[1] == info["nonzero"]
    with pytest.raises(ValueError, match="learner 'sklearn' has no compiled form"):
        encode("sklearn", {"estimator": "sklearn.linear_model.LinearRegression"})


def test_a_run_with_the_sklearn_learner_records_scikit_learns_version(tmp_path):
    """Through the seam: scenario text → causalmc.run → manifest.json; the sklearn learner's fits depend on
    scikit-learn's version, so the provenance names it."""
    import json

    import sklearn

    import causalmc

    text = """
name = "sk_provenance"
dgp = "plr_ccddhnr"
reps = 2
seed = 1
estimators = [
  { name = "dml_plr", ml_l = "sklearn", ml_m = "sklearn", ml_l_options = { estimator = "sklearn.linear_model.LinearRegression", params = {} }, ml_m_options = { estimator = "sklearn.linear_model.LinearRegression", params = {} } },
]
[params]
n = 100
dim_x = 5
"""
    run = causalmc.run(text, out=tmp_path, jobs=1, progress=False, figures=False)
    manifest = json.loads((tmp_path / "sk_provenance" / "manifest.json").read_text())
    assert manifest["versions"]["scikit-learn"] == sklearn.__version__
    assert (run.records()["status"] == "ok").all()
