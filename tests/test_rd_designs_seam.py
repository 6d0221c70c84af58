"""The rd DGP's fuzzy, kink, discrete, covariate and cluster designs with the rd estimator's options, through the
seam: scenario text → causalmc.run / sample / estimate.

Conventions: the estimator's as in test_rd_designs (rdrobust 2.1.1's, compared to 1e-8, estimates to
1e-8·(|τ̂| + se)); the DGP's truths are the closed forms of `causalmc.sims.dgps.rd_designs`, checked against
large samples: a take-up share against its binomial standard error, an effect against the robust interval of
one dataset of 100,000 units (|τ̂_bc − τ| ≤ 4·se_rb: a false alarm has probability ≈ 6e-5 under the
asymptotic normality rdrobust's interval rests on).
"""

import warnings

import numpy as np
import pytest
from conftest import write_scenario
from rdrobust import rdrobust

import causalmc

from causalmc.estimators.rd.conventions import FIRST_STAGE_TERMS, TERMS

SEAM = """dgp = "rd"
estimators = [
    { name = "rd", fuzzy = "takeup", covs = ["covariate"], cluster = "cluster", bwselect = "mserd", label = "rd_all" },
    { name = "rd", fuzzy = "takeup", deriv = 1, p = 2, bwselect = "msetwo", label = "rd_kink" },
    { name = "rd", bwselect = "cerrd", masspoints = "off", label = "rd_cer" },
    { name = "rd", fuzzy = "takeup", covs = ["covariate"], cluster = "cluster", vce = "cr2", bwselect = "mserd", label = "rd_cr2" },
    { name = "rd", cluster = "cluster", vce = "hc3", h = 0.5, b = 0.6, label = "rd_cr3" },
]
[params]
n = 800
clusters = 40
covariates = "ccft2"
complier_shift = 0.1
[grid]
design = ["fuzzy", "kink"]
"""


@pytest.fixture(scope="module")
def seam_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rd_designs_seam")
    path = write_scenario(folder, "rd_designs_seam", SEAM, reps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return path, causalmc.run(path, out=folder / "runs", jobs=1, progress=False, figures=False)


def test_a_run_records_the_first_stage_and_the_design_truths(seam_run):
    """Fuzzy estimators record six terms (the first stage's three too), the sharp one three; the truths are the
    design's: τ + δ for the fuzzy design's rows (CCFT model 2's τ), 0.8 = 1 − a − ν for its first stage; β = 1
    and κ = 1 in the kink design."""
    _, run = seam_run
    records = run.records()
    assert (records["status"] == "ok").all()
    fuzzy_terms = set(records[records["estimator"] == "rd_all"]["term"])
    assert fuzzy_terms == set(TERMS + FIRST_STAGE_TERMS)
    assert set(records[records["estimator"] == "rd_cer"]["term"]) == set(TERMS)
    tau = 0.3853995 - 0.3650975 + (0.2824018 - 0.2212406) * 0.49062457
    fuzzy = records[records["design"] == "fuzzy"]
    main = fuzzy["term"].isin(TERMS)
    np.testing.assert_allclose(fuzzy[main]["truth"], tau + 0.1, rtol=1e-12)
    np.testing.assert_allclose(fuzzy[~main]["truth"], 0.8, rtol=1e-12)
    np.testing.assert_allclose(records[records["design"] == "kink"]["truth"], 1.0)
    two = records[records["estimator"] == "rd_kink"]
    assert (two["h"] != two["h_right"]).all()  # msetwo: one bandwidth per side


@pytest.mark.parametrize("design", ["fuzzy", "kink"])
def test_sample_and_estimate_equal_rdrobust_and_the_run(seam_run, design):
    """`sample` gives x, y, takeup, cluster, covariate; `estimate` with fuzzy, covs, cluster and mserd (CR1 and cr2),
    the fuzzy kink with msetwo, and vce hc3 with cluster (rdrobust's cr3) equals rdrobust on the frame and the run's
    record."""
    path, run = seam_run
    records = run.records()
    frame = causalmc.sample(path, cell={"design": design}, rep=1)
    assert list(frame.columns) == ["x", "y", "takeup", "cluster", "covariate"]
    data = {c: frame[c].to_numpy() for c in frame.columns}
    calls = [
        ("rd_all", {"fuzzy": "takeup", "covs": ["covariate"], "cluster": "cluster", "bwselect": "mserd"},
         {"fuzzy": data["takeup"], "covs": data["covariate"], "cluster": data["cluster"]}),
        ("rd_kink", {"fuzzy": "takeup", "deriv": 1, "p": 2, "bwselect": "msetwo"},
         {"fuzzy": data["takeup"], "deriv": 1, "p": 2, "bwselect": "msetwo"}),
        ("rd_cr2", {"fuzzy": "takeup", "covs": ["covariate"], "cluster": "cluster", "vce": "cr2", "bwselect": "mserd"},
         {"fuzzy": data["takeup"], "covs": data["covariate"], "cluster": data["cluster"], "vce": "cr2"}),
        ("rd_cr3", {"cluster": "cluster", "vce": "hc3", "h": 0.5, "b": 0.6},
         {"cluster": data["cluster"], "vce": "cr3", "h": 0.5, "b": 0.6}),
    ]  # fmt: skip
    for label, options, kwargs in calls:
        got = causalmc.estimate({"name": "rd", **options}, frame).set_index("term")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = rdrobust(data["y"], data["x"], c=0, **kwargs)
        rows = got.loc[list(TERMS)]
        scale = np.abs(fit.coef.values[:, 0]) + fit.se.values[:, 0]
        assert (np.abs(rows["estimate"].to_numpy() - fit.coef.values[:, 0]) <= 1e-8 * scale).all()
        np.testing.assert_allclose(rows["se"], fit.se.values[:, 0], rtol=1e-8)
        if "fuzzy" in options:
            first = got.loc[list(FIRST_STAGE_TERMS), "estimate"]
            np.testing.assert_allclose(first, fit.tau_T.values[:, 0], rtol=1e-8)
        np.testing.assert_allclose(rows[["h", "h_right"]].iloc[0], fit.bws.values[0], rtol=1e-8)
        mine = records[(records["design"] == design) & (records["rep"] == 1) & (records["estimator"] == label)]
        mine = mine.set_index("term").loc[got.index]
        np.testing.assert_allclose(got["estimate"], mine["estimate"], rtol=1e-12)
        np.testing.assert_allclose(got["se"], mine["se"], rtol=1e-12)


LARGE = """dgp = "rd"
estimators = [{ name = "rd" }]
[params]
n = 100000
"""


def large_sample(tmp_path, params):
    body = LARGE + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in params.items())
    return causalmc.sample(write_scenario(tmp_path, "rd_large", body, reps=2), rep=0)


def test_the_truths_hold_in_large_samples(tmp_path):
    """Closed-form truths against one sample of 100,000 each: the fuzzy design's take-up shares a and 1 − ν on
    each side of the cutoff (4 binomial se), its compliers' effect τ + δ; the kink design's ratio β; CCFT model
    4's τ with its correlated covariate; a coarsened (mass_points = 200) and a clustered sharp design's τ — each
    within 4 robust se of the estimate (fuzzy, kink, covs, cluster as the design needs)."""
    fuzzy = large_sample(tmp_path, {"design": "fuzzy", "always_takers": 0.2, "never_takers": 0.15,
                                    "complier_shift": 0.3})  # fmt: skip
    below, above = fuzzy["takeup"][fuzzy["x"] < 0], fuzzy["takeup"][fuzzy["x"] >= 0]
    assert abs(below.mean() - 0.2) <= 4 * np.sqrt(0.2 * 0.8 / len(below))
    assert abs(above.mean() - 0.85) <= 4 * np.sqrt(0.85 * 0.15 / len(above))
    cases = [
        (fuzzy, {"fuzzy": "takeup", "bwselect": "mserd"}),
        (large_sample(tmp_path, {"design": "kink", "kink_slope": 0.8, "kink_effect": 1.5, "takeup_noise": 0.02}),
         {"fuzzy": "takeup", "deriv": 1, "p": 2, "bwselect": "mserd"}),
        (large_sample(tmp_path, {"covariates": "ccft4"}), {"covs": ["covariate"], "bwselect": "mserd"}),
        (large_sample(tmp_path, {"mass_points": 200, "model": "cct3"}), {"bwselect": "mserd"}),
        (large_sample(tmp_path, {"clusters": 50, "cluster_sd": 0.2}), {"cluster": "cluster", "bwselect": "mserd"}),
    ]  # fmt: skip
    for frame, options in cases:
        got = causalmc.estimate({"name": "rd", **options}, frame).set_index("term").loc["robust"]
        truth = frame.attrs["truths"]["robust"]
        assert abs(got["estimate"] - truth) <= 4 * got["se"], (options, got["estimate"], truth, got["se"])


def test_a_bad_bandwidth_selector_or_design_is_refused_naming_the_key(tmp_path):
    """bwselect and masspoints outside rdrobust's methods, and a DGP with too many always- and never-takers, are
    scenario errors naming the key."""
    bad = [
        ('dgp = "rd"\nestimators = [{ name = "rd", bwselect = "ik" }]\n', "bwselect"),
        ('dgp = "rd"\nestimators = [{ name = "rd", masspoints = "check" }]\n', "masspoints"),
        ('dgp = "rd"\nestimators = [{ name = "rd" }]\n[params]\nalways_takers = 0.6\nnever_takers = 0.5\n',
         "always_takers"),
    ]  # fmt: skip
    for i, (body, key) in enumerate(bad):
        path = write_scenario(tmp_path, f"rd_bad_{i}", body)
        with pytest.raises(Exception, match=key):
            causalmc.run(path, out=tmp_path / "runs", jobs=1, progress=False, figures=False)
