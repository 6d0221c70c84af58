"""DML estimators (dml_plr, dml_irm, dml_pliv) against DoubleML 0.11 fed the same nuisance predictions and folds.

Convention of every oracle comparison: our fit of one dataset gives its
folds (one assignment per split) and the nuisance predictions its scores
read; DoubleML gets the same folds (``set_sample_splitting``) and the same
predictions (``fit(external_predictions=...)``), so its learners are never
fitted.  Then θ̂ (the median over splits), se (DoubleML's aggregation
(median(θ_s + 1.96 se_s) − θ̂)/1.96, no small-sample factor) and the 95 %
interval (the medians of the splits' bounds) agree to 1e-8, and so do the
per-split θ_s and se_s.  The numba scores are also held to their numpy twin.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from doubleml import DoubleMLData, DoubleMLIRM, DoubleMLPLIV, DoubleMLPLR
from doubleml.utils import PSProcessorConfig
from sklearn.linear_model import LinearRegression, LogisticRegression

import causalmc
from causalmc.estimators import status as st
from causalmc.estimators.dml.crossfit import fold_assignment, splits
from causalmc.estimators.dml.models import IRM, PLIV, PLR, fit_one

from conftest import assert_close, write_scenario

CRIT = 1.959963984540054
BASE = {"folds": 5, "n_rep": 1, "cross_fit": True, "adjust": None}


def _data(rng, n, p, binary=False):
    x = rng.standard_normal((n, p))
    z = x[:, 0] + rng.standard_normal(n)
    if binary:
        d = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0] - 0.5 * x[:, 1]))).astype(float)
    else:
        d = 0.8 * z + x[:, 1] + rng.standard_normal(n)
    y = 0.5 * d + x[:, 0] - 0.5 * x[:, 2] ** 2 + rng.standard_normal(n)
    return y, d, z, np.ascontiguousarray(x)


def _frame(y, d, x, z=None):
    cols = {f"x{j}": x[:, j] for j in range(x.shape[1])} | {"y": y, "d": d}
    if z is not None:
        cols["z"] = z
    data = pd.DataFrame(cols)
    return DoubleMLData(data, "y", "d", [f"x{j}" for j in range(x.shape[1])], z_cols="z" if z is not None else None)


def _doubleml(model, fit, folds, options, y, d, x, z):
    """DoubleML on the same data, folds and nuisance predictions as `fit`."""
    pred = np.transpose(fit.predictions, (2, 0, 1))  # (n, S, 3)
    n_rep = pred.shape[1]
    smpls = [splits(fit.fold_of[s], folds) for s in range(n_rep)]
    reg = LinearRegression()
    if model is PLR:
        iv = options["score"] == "IV-type"
        dml = DoubleMLPLR(_frame(y, d, x), reg, reg, ml_g=reg if iv else None, n_folds=folds, n_rep=n_rep,
                          score=options["score"], draw_sample_splitting=False)
        ext = {"ml_m": pred[:, :, 1]} | ({"ml_g": pred[:, :, 0]} if iv else {"ml_l": pred[:, :, 0]})
    elif model is IRM:
        config = PSProcessorConfig(clipping_threshold=options["trimming_threshold"])
        dml = DoubleMLIRM(_frame(y, d, x), reg, LogisticRegression(), n_folds=folds, n_rep=n_rep,
                          score=options["score"], ps_processor_config=config, draw_sample_splitting=False)
        ext = {"ml_g0": pred[:, :, 0], "ml_g1": pred[:, :, 1], "ml_m": pred[:, :, 2]}
    else:
        dml = DoubleMLPLIV(_frame(y, d, x, z), reg, reg, reg, n_folds=folds, n_rep=n_rep,
                           draw_sample_splitting=False)
        ext = {"ml_l": pred[:, :, 0], "ml_m": pred[:, :, 1], "ml_r": pred[:, :, 2]}
    dml.set_sample_splitting(smpls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dml.fit(external_predictions={"d": ext})
    return dml


def _compare(model, options, learners, n_datasets, seed, binary=False):
    rng = np.random.default_rng(seed)
    for i in range(n_datasets):
        n, p = int(rng.integers(80, 300)), int(rng.integers(3, 8))
        y, d, z, x = _data(rng, n, p, binary)
        opts = BASE | learners | options
        fit = fit_one(model, opts, y, d, z, x, np.random.default_rng(seed + i), CRIT)
        assert fit.status == 0, (model.name, options, fit.status)
        dml = _doubleml(model, fit, opts["folds"], opts, y, d, x, z)
        what = f"{model.name} {options} dataset {i}"
        assert_close(fit.thetas, dml.all_coef[0], what=f"{what} θ_s")
        assert_close(fit.ses, dml.all_se[0], what=f"{what} se_s")
        assert_close([fit.estimate, fit.se], [dml.coef[0], dml.se[0]], what=f"{what} θ, se")
        assert_close([fit.ci_low, fit.ci_high], dml.confint(level=0.95).to_numpy()[0], what=f"{what} ci")
        twin = fit_one(model, opts, y, d, z, x, np.random.default_rng(seed + i), CRIT, reference=True)
        assert_close([twin.estimate, twin.se, twin.ci_low, twin.ci_high],
                     [fit.estimate, fit.se, fit.ci_low, fit.ci_high], what=f"{what} twin")


def test_plr_equals_doubleml_given_the_same_predictions():
    """PLR, both scores, n_rep 1 and 3, 2 to 7 folds, ols / ridge / lasso nuisances: 8 datasets per case (n 80–300,
    p 3–7)."""
    for k, (score, n_rep, folds, learner) in enumerate(
        [("partialling out", 1, 5, "ols"), ("partialling out", 3, 2, "ridge"), ("IV-type", 1, 5, "lasso"),
         ("IV-type", 4, 3, "ols")]
    ):
        learners = {"ml_l": learner, "ml_m": learner, "ml_g": learner}
        _compare(PLR, {"score": score, "n_rep": n_rep, "folds": folds}, learners, 8, 100 * k)


def test_irm_equals_doubleml_given_the_same_predictions():
    """IRM, ATE and ATTE, n_rep 1 and 3, trimming 0.01 and 0.1 (DoubleML's ps_processor_config clipping), ols
    outcome and a linear-probability propensity (clipped): 8 datasets per case."""
    for k, (score, n_rep, trim) in enumerate([("ATE", 1, 0.01), ("ATE", 3, 0.1), ("ATTE", 1, 0.01), ("ATTE", 3, 0.1)]):
        opts = {"score": score, "n_rep": n_rep, "trimming_threshold": trim}
        _compare(IRM, opts, {"ml_g": "ols", "ml_m": "ols"}, 8, 1000 + 100 * k, binary=True)


def test_pliv_equals_doubleml_given_the_same_predictions():
    """PLIV (partialling out, one instrument), n_rep 1 and 3, ols and ridge: 8 datasets per case."""
    for k, (n_rep, learner) in enumerate([(1, "ols"), (3, "ridge")]):
        _compare(PLIV, {"n_rep": n_rep}, {"ml_l": learner, "ml_m": learner, "ml_r": learner}, 8, 2000 + 100 * k)


def test_folds_are_kfold_sized_and_seeded():
    """Fold sizes as scikit-learn's KFold (the first n mod K folds one larger); the same stream gives the same
    folds, another stream other folds."""
    for n, k in ((10, 3), (101, 5), (7, 7)):
        fold_of = fold_assignment(np.random.default_rng(3), n, k)
        sizes = np.bincount(fold_of, minlength=k)
        assert list(sizes) == [n // k + (j < n % k) for j in range(k)]
        assert (fold_assignment(np.random.default_rng(3), n, k) == fold_of).all()
    assert (fold_assignment(np.random.default_rng(4), 101, 5) != fold_assignment(np.random.default_rng(3), 101, 5)).any()


# -- statuses: never a crash ---------------------------------------------------------------------------------------


def test_failures_are_statuses():
    """A learner failing (non-finite covariates: learner_failed), a training fold without treated units
    (empty_fold), every propensity clipped (no_overlap) and a non-binary IRM treatment (no_variation)."""
    rng = np.random.default_rng(7)
    y, d, z, x = _data(rng, 200, 3, binary=True)
    irm = BASE | {"score": "ATE", "ml_g": "ols", "ml_m": "logistic", "trimming_threshold": 0.01}
    bad = x.copy()
    bad[5, 1] = np.nan
    assert fit_one(IRM, irm, y, d, None, bad, np.random.default_rng(0), CRIT).status == st.LEARNER_FAILED
    one = np.zeros(200)
    one[0] = 1.0  # one treated unit: the folds that test it train ĝ₁ on nobody
    assert fit_one(IRM, irm, y, one, None, x, np.random.default_rng(0), CRIT).status == st.EMPTY_FOLD
    rare = (rng.random(200) < 0.1).astype(float)
    clipped = irm | {"trimming_threshold": 0.45, "ml_m": "ols"}  # linear probabilities near 0.1, all below 0.45
    assert fit_one(IRM, clipped, y, rare, None, x, np.random.default_rng(0), CRIT).status == st.NO_OVERLAP
    assert fit_one(IRM, irm, y, d + 0.5, None, x, np.random.default_rng(0), CRIT).status == st.NO_VARIATION


# -- through the seam: scenario text → causalmc.run / sample / estimate --------------------------------------------

SEAM = """dgp = "plr_ccddhnr"
estimators = [
    {{ name = "dml_plr", ml_l = "lasso_cv", ml_m = "lasso_cv", ml_l_options = {{ cv = 3 }}, label = "plr_lasso" }},
    {{ name = "dml_plr", score = "IV-type", n_rep = 2, folds = 3, label = "plr_iv" }},
    {{ name = "dml_plr", cross_fit = false, ml_l = "lasso", ml_m = "lasso", label = "plr_nocf" }},
]
[params]
n = 120
dim_x = 6
"""


@pytest.fixture(scope="module")
def seam_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dml_seam")
    path = write_scenario(folder, "dml_seam", SEAM.format(), reps=3)
    return path, causalmc.run(path, out=folder / "runs", jobs=1, progress=False, figures=False)


def test_a_run_records_estimates_and_diagnostics(seam_run):
    """Every record ok with the truth α = 0.5, DoubleML's interval around the estimate, the chosen λ of lasso_cv
    (positive) and NaN for ols, the ĝ loss only for the IV-type score."""
    _, run = seam_run
    records = run.records()
    assert len(records) == 9 and (records["status"] == "ok").all() and (records["truth"] == 0.5).all()
    assert (records["ci_low"] < records["estimate"]).all() and (records["estimate"] < records["ci_high"]).all()
    lasso = records[records["estimator"] == "plr_lasso"]
    assert (lasso["alpha_l"] > 0).all() and lasso["loss_g"].isna().all()
    iv = records[records["estimator"] == "plr_iv"]
    assert (iv["loss_g"] > 0).all()


def test_estimate_on_a_sample_equals_doubleml(seam_run):
    """`sample` → `estimate` (seed 5) with lasso_cv nuisances equals DoubleML fed the fit's folds and predictions:
    the estimate's stream decides the folds, the same seed gives the same numbers."""
    path, _ = seam_run
    frame = causalmc.sample(path, rep=1)
    entry = {"name": "dml_plr", "ml_l": "lasso_cv", "ml_m": "lasso_cv", "n_rep": 2}
    got = causalmc.estimate(entry, frame, seed=5)
    again = causalmc.estimate(entry, frame, seed=5)
    assert got["status"] == "ok" and got["estimate"] == again["estimate"]
    x = np.ascontiguousarray(frame.drop(columns=["y", "d"]).to_numpy())  # the controls, w1 … w6
    y, d = frame["y"].to_numpy(), frame["d"].to_numpy()
    opts = BASE | {"score": "partialling out", "ml_l": "lasso_cv", "ml_m": "lasso_cv", "ml_l_options": None,
                   "ml_m_options": None, "ml_g": "ols", "n_rep": 2}
    fit = fit_one(PLR, opts, y, d, None, x, np.random.default_rng(5), CRIT)
    assert_close([got["estimate"], got["se"]], [fit.estimate, fit.se], what="estimate vs fit_one")
    dml = _doubleml(PLR, fit, 5, opts, y, d, x, None)
    assert_close([got["estimate"], got["se"]], [dml.coef[0], dml.se[0]], what="estimate vs DoubleML")


def test_bad_learner_options_are_refused_naming_the_key(tmp_path):
    for body, key in (
        ('estimators = [{ name = "dml_plr", ml_l = "forest" }]', "ml_l"),
        ('estimators = [{ name = "dml_plr", ml_m = "lasso_cv", ml_m_options = { folds = 0 } }]', "ml_m"),
    ):
        path = write_scenario(tmp_path, "dml_bad", f'dgp = "plr_ccddhnr"\n{body}\n')
        with pytest.raises(Exception, match=key):
            causalmc.run(path, out=tmp_path / "runs", jobs=1, progress=False, figures=False)
