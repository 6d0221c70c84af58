"""Selection on observables: the propensity score, the weighting estimators, lin and stratify.

Conventions, stated once and asserted below:
- the propensity score is the logit/probit MLE; its information is the observed one (−Hessian);
- ipw, aipw and ipwra standard errors are the GMM sandwich of all estimating equations stacked, with no
  degrees-of-freedom correction and a normal interval (Stata ``teffects``, statsmodels ``TreatmentEffect``);
  aipw ``se = "influence"`` is √(mean ψ²/n) (DoubleML ``DoubleMLIRM``);
- lin's standard errors are OLS HC0–HC3 of the interacted regression (statsmodels ``OLS.fit(cov_type=...)``);
- stratify's is the Neyman variance, the HC2 variance of the saturated regression.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import RTOL
from conftest import kernel_and_twin_single_term as kernel_and_twin
from conftest import run_single_term as run_estimator
from statsmodels.treatment.treatment_effects import TreatmentEffect

from causalmc.estimators import status as st
from causalmc.estimators.observables import propensity
from causalmc.estimators.observables.propensity import LOGIT, PROBIT, fit_propensity, reference_propensity
from causalmc.estimators.spec import CI_HIGH, CI_LOW, ESTIMATE, SE, Batch


def selection_batch(rng, n_reps, n, p, strength=0.7):
    """Covariates N(0, 1), a logit treatment on them (scores well inside (0.01, 0.99) for strength ≤ 0.7),
    a nonlinear outcome with a heterogeneous effect."""
    cov = rng.normal(size=(n_reps, p, n))
    index = 0.2 + strength * cov[:, 0] - 0.5 * strength * cov[:, -1]
    d = (rng.random((n_reps, n)) < 1 / (1 + np.exp(-index))).astype(float)
    y = 1 + (2 + 0.5 * cov[:, 0]) * d + cov[:, 0] + 0.5 * cov[:, -1] ** 2 + rng.normal(size=(n_reps, n))
    return {"y": y, "treatment": d, "controls": cov}


def fit_both(cov, d, link):
    k = cov.shape[0] + 1
    coef, ps, info = np.empty(k), np.empty(d.size), np.empty((k, k))
    code = fit_propensity(cov, d, link, coef, ps, info)
    return code, coef, ps, info, reference_propensity(cov, d, link)


@pytest.mark.parametrize("link", [LOGIT, PROBIT])
def test_propensity_matches_statsmodels(rng, link):
    # Convention: maximum likelihood; info = the observed information −∂²ℓ/∂β∂β' (statsmodels `hessian`).
    family = sm.Logit if link == LOGIT else sm.Probit
    for _ in range(20):
        n, p = rng.integers(30, 400), rng.integers(1, 4)
        batch = selection_batch(rng, 1, n, p, strength=rng.uniform(0.2, 1.5))
        cov, d = batch["controls"][0], batch["treatment"][0]
        code, coef, ps, info, (ref_code, ref_coef, ref_ps, ref_info) = fit_both(cov, d, link)
        assert code == ref_code == st.OK
        oracle = family(d, sm.add_constant(cov.T, has_constant="add")).fit(disp=0, method="newton", tol=1e-14)
        for ours in (coef, ref_coef):
            np.testing.assert_allclose(ours, oracle.params, rtol=RTOL, atol=1e-10)
        for ours in (ps, ref_ps):
            np.testing.assert_allclose(ours, oracle.predict(), rtol=RTOL, atol=1e-12)
        for ours in (info, ref_info):
            np.testing.assert_allclose(ours, -oracle.model.hessian(oracle.params), rtol=RTOL)


def test_propensity_from_far_starts_matches_statsmodels(rng):
    # Convention: as above.  Binary, skewed and heavy-tailed covariates, where the logit's start (the linear
    # discriminant) is far from β̂ and the fit takes checked, halved steps, still reach statsmodels' MLE.
    for _ in range(20):
        n = rng.integers(40, 400)
        cov = np.vstack([rng.random(n) < 0.3, rng.exponential(size=n), rng.standard_t(4, size=n)])
        index = -0.5 + 1.5 * cov[0] - rng.uniform(0, 0.5) * cov[1] + rng.uniform(-1, 1) * cov[2]
        d = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(float)
        code, coef, ps, info, (ref_code, ref_coef, ref_ps, ref_info) = fit_both(cov, d, LOGIT)
        assert code == ref_code == st.OK
        oracle = sm.Logit(d, sm.add_constant(cov.T, has_constant="add")).fit(disp=0, method="newton", tol=1e-14)
        for ours in (coef, ref_coef):
            np.testing.assert_allclose(ours, oracle.params, rtol=RTOL, atol=1e-10)
        np.testing.assert_allclose(ps, oracle.predict(), rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(info, -oracle.model.hessian(oracle.params), rtol=RTOL)
    # A binary covariate that splits the arms but for two units each: the discriminant's slope (23.5) is 3.7
    # times the MLE's log odds ratio, log 576
    x = np.r_[np.zeros(48), np.ones(2), np.ones(48), np.zeros(2)][None, :]
    d = np.r_[np.zeros(50), np.ones(50)]
    code, coef, ps, info, (ref_code, ref_coef, *_) = fit_both(x, d, LOGIT)
    assert code == ref_code == st.OK
    np.testing.assert_allclose(coef, [-np.log(24.0), np.log(576.0)], rtol=RTOL)
    np.testing.assert_allclose(ref_coef, coef, rtol=RTOL)


def test_propensity_is_fitted_once_per_batch(rng):
    # ipw, aipw, ipwra and match on the score share a batch's fit through its memo (the runner's batches have
    # one), with the same numbers as fits of their own; a plain dict has no memo.
    arrays = selection_batch(rng, 5, 300, 2)
    options = {"match": {"on": "propensity"}}  # matching on the score shares the same logit
    names = ("ipw", "aipw", "ipwra", "match")
    alone = {name: run_estimator(name, arrays, options.get(name)) for name in names}
    batch = Batch(arrays)
    together = {name: run_estimator(name, batch, options.get(name)) for name in names}
    for name in alone:
        np.testing.assert_array_equal(together[name][0], alone[name][0])
    assert list(batch.memo) == [("propensity", None, "logit")]
    d, cov = batch["treatment"], batch["controls"]
    shared = batch.memo[("propensity", None, "logit")]
    assert propensity.fitted_propensity(batch, {"link": "logit"}, d, cov) is shared
    assert propensity.fitted_propensity(batch, {"link": "probit"}, d, cov) is not shared
    assert propensity.fitted_propensity(batch, {"link": "logit", "adjust": ["controls"]}, d, cov) is not shared
    assert len(batch.memo) == 3
    assert propensity.fitted_propensity(arrays, {"link": "logit"}, d, cov) is not propensity.fitted_propensity(
        arrays, {"link": "logit"}, d, cov
    )


@pytest.mark.parametrize("link", [LOGIT, PROBIT])
def test_propensity_failures_are_statuses(link):
    grid = np.arange(8.0)[None, :]
    cases = {
        st.SEPARATION: (grid, (grid[0] > 3.5).astype(float)),  # complete separation
        st.NO_VARIATION: (grid, np.ones(8)),
        st.SINGULAR: (np.vstack([grid, 2 * grid]), np.array([0, 1, 0, 1, 1, 0, 1, 0.0])),
    }
    for expected, (cov, d) in cases.items():
        code, _, _, _, (ref_code, *_) = fit_both(cov, d, link)
        assert code == ref_code == expected


WEIGHTING_OPTIONS = [
    *(
        {"estimand": e, "weights": w, "se": s}
        for e, w, s in itertools.product(["ate", "att"], ["hajek", "ht"], ["sandwich", "fixed_ps"])
    ),
    {"link": "probit", "trim": 0.1},
    {"link": "probit", "estimand": "att", "weights": "ht"},
]
AIPW_OPTIONS = [
    {},
    {"se": "influence"},
    {"estimand": "att", "se": "influence"},
    {"estimand": "att"},
    {"link": "probit", "trim": 0.05},
]
IPWRA_OPTIONS = [{}, {"estimand": "att"}, {"link": "probit", "trim": 0.1}, {"estimand": "att", "link": "probit"}]


@pytest.mark.parametrize(
    "name, options",
    [("ipw", o) for o in WEIGHTING_OPTIONS]
    + [("aipw", o) for o in AIPW_OPTIONS]
    + [("ipwra", o) for o in IPWRA_OPTIONS],
)
def test_weighting_kernel_equals_twin(rng, name, options):
    # The twin stacks the estimating equations and differentiates them by complex step: an independent sandwich.
    for n, p in ((60, 1), (250, 3)):
        batch = selection_batch(rng, 4, n, p)
        kernel_and_twin(name, batch, options)
    # different covariates for the two models (only the first for the score, all for the outcome)
    batch = selection_batch(rng, 3, 200, 3)
    batch |= {f"c{j}": batch["controls"][:, j] for j in range(3)}
    extra = {"adjust": ("c0", "c2")} | ({"outcome_adjust": ("c0", "c1", "c2")} if name != "ipw" else {})
    kernel_and_twin(name, batch, options | extra)


def test_weighting_failures_are_statuses(rng):
    batch = selection_batch(rng, 4, 40, 1)
    batch["treatment"][0] = 1.0  # everyone treated
    batch["treatment"][1] = (batch["controls"][1, 0] > 0).astype(float)  # separation
    batch["treatment"][2, :] = 0.0
    batch["treatment"][2, :2] = 1.0  # two treated: too few for aipw's outcome model
    for name in ("ipw", "aipw", "ipwra"):
        _, status = kernel_and_twin(name, batch, all_ok=False)
        assert status[0] == st.NO_VARIATION and status[1] == st.SEPARATION
        assert status[2] == (st.NO_OVERLAP if name != "ipw" else st.OK)
    # trimming every treated unit away leaves no overlap
    _, status = kernel_and_twin("ipw", selection_batch(rng, 2, 60, 1, strength=3.0), {"trim": 0.49}, all_ok=False)
    assert (status == st.NO_OVERLAP).all()


def treatment_effect(batch, r, link, five=False):
    """statsmodels' TreatmentEffect on replication r (outcome OLS and score on the same covariates)."""
    x = sm.add_constant(batch["controls"][r].T, has_constant="add")
    d = batch["treatment"][r]
    family = sm.Logit if link == "logit" else sm.Probit
    select = family(d, x).fit(disp=0, method="newton", tol=1e-14)
    # statsmodels' GMM clips scores to [0.01, 0.99]; the comparison needs them inside
    assert 0.01 < select.predict().min() and select.predict().max() < 0.99
    return TreatmentEffect(sm.OLS(batch["y"][r], x), d.astype(int), results_select=select)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_weighting_matches_statsmodels(rng, link):
    # Convention: GMM sandwich, no degrees-of-freedom correction (statsmodels TreatmentEffect, HC0 GMM weights).
    # ipw_ra needs five covariates: statsmodels 0.15.0's ipw_ra raises (a shape error) when the score and
    # the outcome models have different numbers of parameters than it assumes (six, as in its own test).
    cases = [
        ("ipw", "ipw", "ate"),
        ("ipw", "ipw", "att"),
        ("aipw", "aipw", "ate"),
        ("ipwra", "ipw_ra", "ate"),
        ("ipwra", "ipw_ra", "att"),
    ]
    batch = selection_batch(rng, 4, 500, 5)
    for name, method, estimand in cases:
        out, _ = kernel_and_twin(name, batch, {"link": link, "estimand": estimand})
        for r in range(batch["y"].shape[0]):
            teff = treatment_effect(batch, r, link)
            result = getattr(teff, method)(**({"effect_group": 1} if estimand == "att" else {}))
            np.testing.assert_allclose(out[r, ESTIMATE], result.effect[0], rtol=RTOL)
            np.testing.assert_allclose(out[r, SE], result.sd[0], rtol=RTOL)


def test_aipw_and_horvitz_thompson_match_doubleml(rng):
    # Convention: DoubleML's IRM with external in-sample predictions: se = √(mean ψ²/n), ψ the orthogonal score,
    # no df correction.  Outcome predictions of 0 turn its ATE score into Horvitz–Thompson IPW (p̂ held fixed).
    doubleml = pytest.importorskip("doubleml")
    from doubleml.utils.propensity_score_processing import PSProcessorConfig
    from sklearn.linear_model import LinearRegression, LogisticRegression

    batch = selection_batch(rng, 3, 300, 2)
    aipw_ate, _ = run_estimator("aipw", batch, {"se": "influence"})
    aipw_att, _ = run_estimator("aipw", batch, {"se": "influence", "estimand": "att"})
    ht, _ = run_estimator("ipw", batch, {"weights": "ht", "se": "fixed_ps"})
    for r in range(batch["y"].shape[0]):
        y, d, cov = batch["y"][r], batch["treatment"][r], batch["controls"][r]
        x = sm.add_constant(cov.T)
        ps = sm.Logit(d, x).fit(disp=0, method="newton", tol=1e-14).predict()
        fits = [sm.OLS(y[d == a], x[d == a]).fit().predict(x) for a in (0, 1)]
        data = doubleml.DoubleMLData.from_arrays(cov.T, y, d)

        def irm(score, g0, g1):
            model = doubleml.DoubleMLIRM(
                data,
                LinearRegression(),
                LogisticRegression(),
                score=score,
                n_folds=2,
                ps_processor_config=PSProcessorConfig(clipping_threshold=1e-12),
            )
            preds = {"ml_g0": g0[:, None], "ml_g1": g1[:, None], "ml_m": ps[:, None]}
            model.fit(external_predictions={"d": preds})
            return model.coef[0], model.se[0]

        for ours, (estimate, se) in (
            (aipw_ate[r], irm("ATE", *fits)),
            (aipw_att[r], irm("ATTE", *fits)),
            (ht[r], irm("ATE", np.zeros_like(y), np.zeros_like(y))),
        ):
            np.testing.assert_allclose(ours[ESTIMATE], estimate, rtol=RTOL)
            np.testing.assert_allclose(ours[SE], se, rtol=RTOL)


def test_cattaneo2_reproduces_stata_teffects():
    # statsmodels ships the cattaneo2 data (n = 4,642) and Stata 17 `teffects` results: probit score on
    # mmarried, mage, mage², fbaby, medu; outcome models on prenatal1, mmarried, mage, fbaby.  Point estimates to
    # 1e-8 (Stata's printed digits); standard errors too (teffects' GMM sandwich, the convention above).
    from statsmodels.treatment.tests import results as stata_results
    from statsmodels.treatment.tests.results import results_teffects as stata

    data = pd.read_csv(Path(stata_results.__file__).parent / "cataneo2.csv")
    score = ("mmarried_", "mage", "mage2", "fbaby_", "medu")
    outcome = ("prenatal1_", "mmarried_", "mage", "fbaby_")
    batch = {"y": data["bweight"].to_numpy(float)[None], "treatment": data["mbsmoke_"].to_numpy(float)[None]}
    batch |= {c: data[c].to_numpy(float)[None] for c in {*score, *outcome}}
    cases = [
        ("ipw", {"adjust": score}, stata.results_ipw),
        ("aipw", {"adjust": score, "outcome_adjust": outcome}, stata.results_aipw),
        ("ipwra", {"adjust": score, "outcome_adjust": outcome}, stata.results_ipwra),
        ("lin", {"adjust": outcome}, stata.results_ra),
    ]
    for name, options, expected in cases:
        options = options | ({"link": "probit"} if name != "lin" else {})
        out, status = kernel_and_twin(name, batch, options)
        np.testing.assert_allclose(out[0, ESTIMATE], expected.table[0, 0], rtol=RTOL)
        if name != "lin":  # teffects ra's SE adds the sampling variance of the covariate means (see lin's docstring)
            np.testing.assert_allclose(out[0, SE], expected.table[0, 1], rtol=RTOL)


def discrete_batch(rng, n_reps, n, p):
    cov = rng.integers(0, 3, size=(n_reps, p, n)).astype(float)
    d = (rng.random((n_reps, n)) < 0.3 + 0.15 * cov[:, 0]).astype(float)
    y = 1 + (2 + cov[:, 0]) * d + cov.sum(axis=1) + rng.normal(size=(n_reps, n))
    return {"y": y, "treatment": d, "controls": cov}


def interacted_ols(y, d, dummies, centre, cov_type):
    """statsmodels OLS of y on [1, d, D − centre, d·(D − centre)]; (coefficient on d, its se)."""
    z = dummies - centre
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), d, z, z * d[:, None]])).fit(cov_type=cov_type)
    return fit.params[1], fit.bse[1]


@pytest.mark.parametrize("se", ["hc0", "hc1", "hc2", "hc3"])
def test_lin_matches_statsmodels(rng, se):
    # Convention: OLS sandwich HCx of the interacted regression with covariates centred at their means; normal df.
    batch = selection_batch(rng, 5, 120, 2)
    out, _ = kernel_and_twin("lin", batch, {"se": se})
    for r in range(5):
        cov, d = batch["controls"][r].T, batch["treatment"][r]
        estimate, std = interacted_ols(batch["y"][r], d, cov, cov.mean(axis=0), se.upper())
        np.testing.assert_allclose(out[r, [ESTIMATE, SE]], [estimate, std], rtol=RTOL)
        ra = TreatmentEffect(sm.OLS(batch["y"][r], sm.add_constant(cov)), d.astype(int)).ra(return_results=False)
        np.testing.assert_allclose(out[r, ESTIMATE], ra[0], rtol=RTOL)


@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_stratify_matches_hc2_of_the_saturated_regression(rng, estimand):
    # Convention: Neyman variance = HC2 of y on d, the centred stratum dummies and their products with d (centred
    # at the mean of all units for the ATE, of the treated for the ATT); normal interval.
    batch = discrete_batch(rng, 6, 400, 2)
    out, status = kernel_and_twin("stratify", batch, {"estimand": estimand})
    for r in range(6):
        d = batch["treatment"][r]
        strata = pd.factorize(pd.Series(map(tuple, batch["controls"][r].T)))[0]
        dummies = pd.get_dummies(strata, drop_first=True).to_numpy(float)
        centre = dummies.mean(axis=0) if estimand == "ate" else dummies[d > 0.5].mean(axis=0)
        np.testing.assert_allclose(
            out[r, [ESTIMATE, SE]], interacted_ols(batch["y"][r], d, dummies, centre, "HC2"), rtol=RTOL
        )
        assert out[r, 5] == strata.max() + 1


def test_stratify_failures_are_statuses(rng):
    batch = discrete_batch(rng, 3, 40, 1)
    batch["treatment"][0] = (batch["controls"][0, 0] == 2).astype(float)  # strata 0 and 1 have no treated
    batch["treatment"][1] = 0.0
    batch["treatment"][1, np.flatnonzero(batch["controls"][1, 0] == 0)[:1]] = 1.0
    batch["treatment"][1, np.flatnonzero(batch["controls"][1, 0] == 1)[:2]] = 1.0
    batch["treatment"][1, np.flatnonzero(batch["controls"][1, 0] == 2)[:2]] = 1.0
    _, status = kernel_and_twin("stratify", batch, all_ok=False)
    assert status[0] == st.NO_OVERLAP and status[1] == st.LEVERAGE_ONE and status[2] == st.OK


def test_estimate_on_your_own_table_adjusts_for_named_columns(tmp_path, capsys):
    # `estimate ipw own.csv --option adjust=age,educ`: a list option from the command line, columns by name
    import json

    from causalmc.sims.cli import main

    rng = np.random.default_rng(5)
    batch = selection_batch(rng, 1, 300, 2)
    frame = pd.DataFrame(
        {
            "y": batch["y"][0],
            "treatment": batch["treatment"][0],
            "age": batch["controls"][0, 0],
            "educ": batch["controls"][0, 1],
        }
    )
    path = tmp_path / "own.csv"
    frame.to_csv(path, index=False)
    options = ["--option", "adjust=age,educ", "--option", "estimand=att"]
    assert main(["estimate", "ipw", str(path), *options, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = printed[0] if isinstance(printed, list) else printed
    expected, _ = run_estimator("ipw", batch, {"estimand": "att"})
    np.testing.assert_allclose([record["estimate"], record["se"]], expected[0, [ESTIMATE, SE]], rtol=RTOL)
    assert record["term"] == "att"


def test_aipw_att_sandwich_covers(rng):
    # Convention: the GMM sandwich of the stacked equations (score, both outcome models, τ), no df correction,
    # normal interval.  Constant effect 2 (sample and population ATT alike), linear outcome, logit score.
    from causalmc.estimators.inference import covers

    n_reps = 2000
    batch = selection_batch(rng, n_reps, 1000, 2)
    batch["y"] = 1 + 2 * batch["treatment"] + batch["controls"].sum(axis=1) + rng.normal(size=(n_reps, 1000))
    out, status = run_estimator("aipw", batch, {"estimand": "att"})
    assert (status == 0).all()
    hits = covers(out[:, CI_LOW], out[:, CI_HIGH], 2.0)
    coverage = hits.mean()
    assert abs(coverage - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / n_reps), coverage


def test_runs_sharing_the_fit_keep_each_estimators_records(tmp_path):
    # Through the runner: aipw's records are the same to the bit whether ipw shares its batches' fits or not.
    from causalmc.sims import api

    def run(estimators, out):
        scenario = tmp_path / f"{out}.toml"
        scenario.write_text(
            f'name = "{out}"\ndgp = "observables"\nreps = 300\nseed = 7\nchunk_size = 100\n'
            f"estimators = {estimators}\n[params]\nn = 200\n"
        )
        records = api.run(scenario, out=tmp_path / out, progress=False, figures=False, fresh=True).records()
        return records[records["estimator"] == "aipw"].drop(columns="estimator").reset_index(drop=True)

    pd.testing.assert_frame_equal(run('["aipw"]', "alone"), run('["ipw", "aipw"]', "shared"))
