"""Nearest-neighbour matching (``match``) ≡ its twin ≡ R's Matching; the AI (2016) adjustment by coverage.

Conventions, as R Matching's ``Match(..., ties = TRUE, distance.tolerance = 0)``:
- matching with replacement, every unit tied with the m-th nearest kept with weight 1/Mᵢ;
- Abadie–Imbens (2006) standard error of the population estimand (Matching's default ``sample = FALSE``),
  conditional variances from J = ``var_matches`` within-group matches (``Var.calc = J``, the sample
  variance of the unit's and its J neighbours' outcomes), or homoskedastic with J = 0 (``Var.calc = 0``);
  no degrees-of-freedom correction; normal intervals;
- bias adjustment: Matching's ``BiasAdjust = TRUE`` with ``Z = X``;
- on the propensity score with ``ps_se = "ai2006"``: Matching's ``$se`` with X = the fitted logit score
  (the score taken as known); ``ps_se = "ai2016"`` subtracts the Abadie–Imbens (2016) adjustment, which no
  library here has: it is held to its promise, 95 % coverage, by Monte Carlo.

Ties: covariate rows drawn from a small pool of patterns give exact duplicates, which every implementation
sees as ties; integer covariates (p = 1) add equidistant ties on both sides.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CI_HIGH, CI_LOW, ESTIMATE, SE, assert_close, st
from conftest import kernel_and_twin_single_term as kernel_and_twin
from conftest import run_single_term as run_estimator

from causalmc.estimators.inference import covers

FIXTURES = Path(__file__).parent / "fixtures" / "matching"
MAX_SMD, MATCHED_UNITS, MAX_WEIGHT, PS_MIN, PS_MAX = range(5, 10)


def tied_batch(rng, n_reps, n, p, pool):
    """Covariates from `pool` continuous patterns per replication (exact duplicates: ties), or continuous
    (pool = 0), or small integers (pool = -1, p = 1: equidistant ties too); logit assignment; heterogeneous
    effects and heteroskedastic errors."""
    if pool > 0:
        patterns = rng.normal(size=(n_reps, p, pool)) * rng.uniform(0.5, 3, size=(n_reps, p, 1))
        pick = rng.integers(0, pool, size=(n_reps, n))
        x = np.take_along_axis(patterns, pick[:, None, :].repeat(p, axis=1), axis=2)
    elif pool == 0:
        x = rng.normal(size=(n_reps, p, n)) * rng.uniform(0.5, 3, size=(n_reps, p, 1))
    else:
        x = rng.integers(0, 6, size=(n_reps, p, n)).astype(float)
    index = (x - x.mean(axis=2, keepdims=True)) / x.std(axis=2, keepdims=True)
    d = (rng.random((n_reps, n)) < 1 / (1 + np.exp(-0.8 * index.sum(axis=1)))).astype(float)
    d[:, :6], d[:, 6:12] = 1.0, 0.0  # groups large enough for m = 4 and J = 3 on every replication
    y = 10 + x.sum(axis=1) + d * (1 + 0.5 * x[:, 0]) + rng.normal(size=(n_reps, n)) * (1 + np.abs(x[:, 0]))
    return {"y": y, "treatment": d, "controls": x}


COVARIATE_OPTIONS = [
    {},
    {"estimand": "att"},
    {"metric": "mahalanobis", "m": 2},
    {"bias_adjust": "regression", "var_matches": 1},
    {"estimand": "att", "bias_adjust": "regression", "metric": "mahalanobis", "m": 4, "var_matches": 3},
    {"var_matches": 0, "m": 2, "bias_adjust": "regression"},
    {"estimand": "att", "var_matches": 0},
]


@pytest.mark.parametrize("n, p, pool", [(25, 1, 5), (60, 1, -1), (80, 2, 12), (120, 3, 20), (150, 2, 0), (40, 3, 0)])
def test_kernel_equals_twin_with_ties(rng, n, p, pool):
    """The sorted search (p = 1) and the brute force (p > 1) against the twin's distances from every unit."""
    batch = tied_batch(rng, 20, n, p, pool)
    truth = rng.normal(1, 0.3, size=(20, 1))
    for options in COVARIATE_OPTIONS:
        out, _ = kernel_and_twin("match", batch, options, level=0.9, truth=truth)
        half = out[:, CI_HIGH] - out[:, ESTIMATE]
        assert_close(half, 1.6448536269514722 * out[:, SE], what="normal critical value")
        assert (out[:, MATCHED_UNITS] >= 1).all() and np.isnan(out[:, [PS_MIN, PS_MAX]]).all()


@pytest.mark.parametrize("pool", [0, 15])
def test_propensity_kernel_equals_twin(rng, pool):
    batch = tied_batch(rng, 20, 90, 2, pool)
    for options in (
        {"on": "propensity"},
        {"on": "propensity", "estimand": "att"},
        {"on": "propensity", "ps_se": "ai2006", "m": 2, "var_matches": 0},
        {"on": "propensity", "estimand": "att", "m": 3, "var_matches": 4},
    ):
        out, _ = kernel_and_twin("match", batch, options)
        assert (0 < out[:, PS_MIN]).all() and (out[:, PS_MIN] < out[:, PS_MAX]).all() and (out[:, PS_MAX] < 1).all()


def _fixture_cases():
    return pd.read_csv(FIXTURES / "matching.csv").to_dict("records")


@cache
def _fixture_data():
    return pd.read_csv(FIXTURES / "datasets.csv")


@pytest.mark.parametrize("case", _fixture_cases(), ids=lambda c: f"{c['dataset']}-{c['on']}-{c['estimand']}")
def test_equals_r_matching(case):
    """Estimate and standard error ≡ R Matching's ``$est`` and ``$se`` (fixtures by make_fixtures.R):
    ``Match(Y, Tr, X, M, estimand, BiasAdjust, Weight, ties = TRUE, distance.tolerance = 0, Var.calc)``,
    Weight 1 = inverse_variance, 2 = mahalanobis; propensity rows match on glm's logit score, our ps_se = ai2006.
    """
    data = _fixture_data()
    unit = data[data["dataset"] == case["dataset"]]
    x = unit[[f"x{j + 1}" for j in range(case["p"])]].to_numpy().T[None]
    batch = {"y": unit["y"].to_numpy()[None], "treatment": unit["tr"].to_numpy(float)[None], "controls": x.copy()}
    options = {
        "m": case["M"],
        "estimand": case["estimand"].lower(),
        "bias_adjust": "regression" if case["bias"] else "none",
        "metric": "inverse_variance" if case["weight"] == 1 else "mahalanobis",
        "var_matches": case["var_calc"],
        "on": case["on"],
    }
    if case["on"] == "propensity":
        options["ps_se"] = "ai2006"
    out, _ = kernel_and_twin("match", batch, options)
    assert_close(out[0, [ESTIMATE, SE]], [case["est"], case["se"]], what="vs R Matching")
    if case["on"] == "propensity":  # our logit against glm's, as a range (the scores are matched on)
        ps = unit["ps"].to_numpy()
        assert_close(out[0, [PS_MIN, PS_MAX]], [ps.min(), ps.max()], rtol=1e-7, what="score range vs glm")


def test_hand_computed_matches():
    """One covariate, ATT, m = 1, J = 1.  Treated at x = 0, 2 and 5; controls at 0, 1, 3, 5, 5.
    Unit at 2 ties between the controls at 1 and 3 (weight ½ each); unit at 5 ties between the two at 5."""
    x = np.array([0.0, 2, 5, 0, 1, 3, 5, 5])
    d = np.array([1.0, 1, 1, 0, 0, 0, 0, 0])
    y = np.array([3.0, 8, 9, 1, 2, 6, 4, 7])
    batch = {"y": y[None], "treatment": d[None], "controls": x[None, None]}
    out, status = kernel_and_twin("match", batch, {"estimand": "att", "var_matches": 1})
    tau_i = np.array([3 - 1, 8 - (2 + 6) / 2, 9 - (4 + 7) / 2])
    # K: control at 0 → 1, at 1 and 3 → ½, both at 5 → ½; KK: 1, ¼, ¼, ¼, ¼, so K² − KK = 0 everywhere.
    variance = np.sum((tau_i - tau_i.mean()) ** 2) / 9
    assert_close(out[0, [ESTIMATE, SE]], [tau_i.mean(), np.sqrt(variance)])
    assert out[0, MATCHED_UNITS] == 5 and out[0, MAX_WEIGHT] == 1.0
    # Balance after matching: treated mean 7/3; matched controls (0 + 2 + 5)/3 = 7/3: no difference.
    assert abs(out[0, MAX_SMD]) < 1e-12


def test_failures_are_statuses(rng):
    base = tied_batch(rng, 8, 40, 2, 0)
    y, d, x = base["y"], base["treatment"], base["controls"]
    d[0] = 0.0  # no treated unit
    x[1, 1] = 3.0  # a constant covariate
    x[2, 1] = 2 * x[2, 0] - 1  # collinear covariates (singular S under mahalanobis)
    d[3] = 0.0
    d[3, :2] = 1.0  # two treated units: m = 3 needs three; the ATE's J = 2 within-group matches need three
    d[4] = 0.0
    d[4, :3] = 1.0  # three treated: enough for J = 2, not for J = 3
    nv, sing, ok, nrd = st.NO_VARIATION, st.SINGULAR, st.OK, st.NO_RESIDUAL_DF
    cases = {
        (): [nv, sing, ok, nrd, ok],
        (("metric", "mahalanobis"),): [nv, sing, sing, nrd, ok],
        (("m", 3),): [nv, sing, ok, st.NO_OVERLAP, ok],
        (("var_matches", 3),): [nv, sing, ok, nrd, nrd],
        (("var_matches", 3), ("estimand", "att")): [nv, sing, ok, ok, ok],  # only the controls' variances
    }
    for options, expected in cases.items():
        for reference in (False, True):
            out, status = run_estimator(
                "match", {"y": y, "treatment": d, "controls": x}, dict(options), reference=reference
            )
            assert list(status[:5]) == expected, (options, reference, status)
            assert np.isnan(out[status != st.OK]).all() and np.isfinite(out[status == st.OK, :5]).all()


def test_separation_and_singular_bias_adjustment_are_statuses():
    # A covariate that predicts the treatment perfectly: the logit runs to infinity.
    x = np.array([[0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
    d = (x[0] > 4.5).astype(float)
    y = x[0] + d
    separated = {"y": y[None], "treatment": d[None], "controls": x[None]}
    # Every treated unit's nearest controls share x = 0: the K-weighted regression has no spread in x.
    x2 = np.array([[0.0, 0.1, -0.1, 0, 0, 9, 10]])
    d2 = np.array([1.0, 1, 1, 0, 0, 0, 0])
    singular = {"y": np.arange(7.0)[None], "treatment": d2[None], "controls": x2[None]}
    for reference in (False, True):
        _, status = run_estimator("match", separated, {"on": "propensity"}, reference=reference)
        assert status[0] == st.SEPARATION
        options = {"estimand": "att", "bias_adjust": "regression", "var_matches": 1}
        _, status = run_estimator("match", singular, options, reference=reference)
        assert status[0] == st.SINGULAR


def ai2016_design(rng, n_reps, n):
    """Abadie & Imbens (2016)'s Monte Carlo design: X₁, X₂ ~ U(−½, ½); P(W = 1 | X) = Λ(X₁ + 2X₂);
    Y(0) = 3X₁ − 3X₂ + U₀, Y(1) = 5 + 5X₁ + X₂ + U₁, U ~ N(0, 1).  The outcome moves along directions the score
    ignores, so estimating the score matters.  ATE = 5; ATT = 5 + E[(2X₁ + 4X₂)Λ]/E[Λ]."""
    x = rng.uniform(-0.5, 0.5, size=(n_reps, 2, n))
    d = (rng.random((n_reps, n)) < 1 / (1 + np.exp(-(x[:, 0] + 2 * x[:, 1])))).astype(float)
    y0 = 3 * x[:, 0] - 3 * x[:, 1] + rng.normal(size=(n_reps, n))
    y1 = 5 + 5 * x[:, 0] + x[:, 1] + rng.normal(size=(n_reps, n))
    return {"y": np.where(d > 0.5, y1, y0), "treatment": d, "controls": x}


def ai2016_att():
    """The population ATT of `ai2016_design` by the midpoint rule on a 2000² grid (error ~1e-7)."""
    g = (np.arange(2000) + 0.5) / 2000 - 0.5
    x1, x2 = np.meshgrid(g, g)
    score = 1 / (1 + np.exp(-(x1 + 2 * x2)))
    return 5 + np.sum((2 * x1 + 4 * x2) * score) / np.sum(score)


def test_estimated_score_adjustment_gives_nominal_coverage(rng):
    """Matching on a logit score fitted to the data, n = 500, 2,000 replications, the defaults (m = 1, J = 2):
    the AI (2016)-adjusted intervals cover the population ATE and ATT 95 % of the time (within 4 MCSE, MCSE =
    √(p(1 − p)/R)); the unadjusted AI (2006) interval for the ATE over-covers (the known result: the
    adjustment for the ATE is never positive, checked here replication by replication)."""
    n_reps = 2000
    batch = ai2016_design(rng, n_reps, 500)
    coverage = {}
    for estimand, truth in (("ate", 5.0), ("att", ai2016_att())):
        for ps_se in ("ai2016", "ai2006"):
            options = {"on": "propensity", "estimand": estimand, "ps_se": ps_se}
            out, status = run_estimator("match", batch, options, truth=np.full((n_reps, 1), truth))
            assert (status == st.OK).all()
            p = covers(out[:, CI_LOW], out[:, CI_HIGH], truth).mean()
            coverage[estimand, ps_se] = (p, np.sqrt(p * (1 - p) / n_reps), out)
    for estimand in ("ate", "att"):
        p, mcse, _ = coverage[estimand, "ai2016"]
        assert abs(p - 0.95) <= 4 * mcse, (estimand, p, mcse)
    p, mcse, unadjusted = coverage["ate", "ai2006"]
    assert p - 0.95 > 4 * mcse, (p, mcse)
    adjusted = coverage["ate", "ai2016"][2]
    assert_close(adjusted[:, ESTIMATE], unadjusted[:, ESTIMATE])
    assert (adjusted[:, SE] <= unadjusted[:, SE]).all()


def test_options_that_do_not_combine_are_refused():
    from causalmc.estimators import registry

    spec = registry()["match"]
    base = spec.default_options()
    assert spec.check(base, 0.95) is None
    assert spec.check(base | {"on": "propensity", "metric": "mahalanobis"}, 0.95)
    assert spec.check(base | {"on": "propensity", "bias_adjust": "regression"}, 0.95)
    assert spec.check(base | {"ps_se": "ai2006"}, 0.95)
    assert spec.check(base | {"on": "propensity", "var_matches": 1}, 0.95)
    assert spec.check(base | {"on": "propensity", "ps_se": "ai2006", "var_matches": 0}, 0.95) is None
    assert spec.applies({"y": (10,), "controls": (1, 10)}, base) is None
    assert spec.applies({"y": (10,)}, base | {"adjust": ()})


@pytest.mark.parametrize("bias_adjust", ["none", "regression"])
def test_point_estimate_matches_causalinference(rng, bias_adjust):
    # causalinference's est_via_matching: one match, inverse-variance metric, its regression bias adjustment.
    # Only the estimate is compared: its standard error is not Abadie–Imbens's (0.22 against 0.16 on such data).
    causalinference = pytest.importorskip("causalinference")
    for _ in range(5):
        n = int(rng.integers(80, 300))
        x = rng.normal(size=(n, 2))
        d = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
        y = x[:, 0] + d * (1 + x[:, 1]) + rng.normal(size=n)
        model = causalinference.CausalModel(y, d, x)
        model.est_via_matching(matches=1, bias_adj=bias_adjust == "regression")
        batch = {"y": y[None], "treatment": d[None].astype(float), "controls": x.T[None].copy()}
        for estimand in ("ate", "att"):
            options = {"bias_adjust": bias_adjust, "var_matches": 1, "estimand": estimand}
            out, _ = kernel_and_twin("match", batch, options)
            np.testing.assert_allclose(out[0, ESTIMATE], model.estimates["matching"][estimand], rtol=1e-8)
