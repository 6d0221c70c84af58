"""Every shipped DGP through the seam: scenario TOML text → `causalmc.sample` / `causalmc.run` → what its docs promise.

A DGP tested only by calling its generator is not tested: the scenario
loader casts, defaults and resolves parameters before a DGP sees them, and
a promise can be lost on the way (a shipped default slice was).  So each
DGP here is written as a scenario file, and

- `causalmc.sample` of it gives the dataset its docstring describes: rows
  (a default ``n`` in effect is ``n`` rows), columns and their roles (blocks
  as numbered columns, panels long with ``unit`` and ``period``), treated
  counts and start windows, clusters, instruments, and the truth (a closed
  form computed from the frame itself where the docstring gives one);
- one `causalmc.run` of it (three replications, one process) writes one
  record per (cell, replication, estimator, term), each with the truth its
  DGP documents: the closed form where there is one, and in every case the
  truth `sample` shows for that replication.

`placebo_panel`, whose promises are about data files, is in
test_through_the_seam_placebo.py.  Statistical checks hold a sample
statistic to its expectation within 4 standard errors computed from the
same sample (no tuned tolerance, no chosen seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_scenario

import causalmc
from causalmc.estimators.spec import BUILT_IN
from causalmc.sims import plugins
from causalmc.sims.scenario import ScenarioError

REPS = 3


def residual_within_4_se(e: np.ndarray, mean: float = 0.0, sd: float = 1.0) -> None:
    """The mean and variance of n independent N(mean, sd²) draws, each within 4 standard errors
    (sd/√n for the mean, sd²·√(2/n) for the variance)."""
    n = e.size
    assert abs(e.mean() - mean) <= 4 * sd / math.sqrt(n), e.mean()
    assert abs(e.var() - sd**2) <= 4 * sd**2 * math.sqrt(2 / n), e.var()


# -- the scenarios: one per DGP, each run once per session -------------------------------------------------------


@dataclass(frozen=True)
class Case:
    body: str  # the scenario after name, reps and seed
    rows: int  # records of a run of REPS replications: Σ over cells of REPS × the (estimator, term) pairs applying
    truth: Callable[[str, dict], float | None]  # (term, grid values) -> the documented truth, None: per replication


def _constant(value: float) -> Callable[[str, dict], float]:
    return lambda term, cell: value


def _staggered_truth(term: str, cell: dict) -> float:
    """did_staggered with tau = 1, tau_growth = 0.25, cohorts of 13, 13 and 12 units adopting in 6, 10 and 14
    (38 of 50 units, never_share 0.25 leaving round(12.5) = 12), T = 20."""
    if term.startswith("e="):
        e = int(term[2:])
        return 1.0 + 0.25 * e if e >= 0 else 0.0
    sizes, starts = (13, 13, 12), (6, 10, 14)
    cells = [(n, 1.0 + 0.25 * (t - g)) for n, g in zip(sizes, starts, strict=True) for t in range(g, 21)]
    if term == "att":  # the mean effect over treated unit-periods
        return sum(n * v for n, v in cells) / sum(n for n, _ in cells)
    if term == "dynamic":  # the mean of ATT(e) over e = 0 … T − g_min = 14
        return float(np.mean([1.0 + 0.25 * e for e in range(15)]))
    raise AssertionError(term)


DAG_BODY = """dgp = "dag"
estimators = [
    { name = "ols_adjusted", adjust = ["C"], label = "confounder" },
    { name = "ols_adjusted", adjust = ["C", "M"], label = "plus_mediator" },
    { name = "aipw", adjust = ["C"], label = "aipw" },
]
[dag]
treatment = "T"
outcome = "Y"
controls = ["C"]
[dag.parameters]
gamma = 1.0
[dag.variables.C]
type = "normal"
[dag.variables.T]
type = "binary"
parents = { C = 0.8 }
[dag.variables.M]
type = "normal"
parents = { T = 1.0 }
[dag.variables.Y]
type = "normal"
parents = { T = 1.0, M = 0.5, C = "gamma" }
terms = [{ product = ["T", "C"], coef = 0.5 }]
[grid]
gamma = [0, 1]
"""

CASES = {
    "confounding": Case(
        'dgp = "confounding"\nestimators = ["ols", { name = "ols_adjusted", se = "hc1" }]\n'
        "[params]\nbeta = 0.5\n[grid]\nhetero = [0, 1]\n",
        rows=2 * REPS * 2,
        truth=_constant(0.5),
    ),
    "rct": Case(
        'dgp = "rct"\nestimators = ["diff_means", "ols_adjusted", { name = "ipw", estimand = "att" }]\n'
        "[grid]\nselection = [0.0, 1.0]\n",
        rows=2 * REPS * 3,
        truth=_constant(4.0),
    ),
    "angrist_pischke": Case(
        'dgp = "angrist_pischke"\nestimators = ["ols", { name = "ols", se = "hc2", df = "bm" }]\n'
        "[grid]\nsigma_ratio = [0.5, 2]\n",
        rows=2 * REPS * 2,
        truth=_constant(0.0),
    ),
    "did_2x2": Case(
        'dgp = "did_2x2"\nestimators = ["did", "before_after", "post_gap"]\n'
        "[params]\nsd_unit = 0.0\nsd_eps = 1e-9\n[grid]\ntrend_gap = [0, 1]\n",
        rows=2 * REPS * 3,
        truth=_constant(5.0),
    ),
    "did_panel": Case(
        'dgp = "did_panel"\nestimators = ["twfe", { name = "twfe", se = "cluster" }, "twfe_collapsed"]\n'
        "[grid]\nrho = [0.0, 0.8]\n",
        rows=2 * REPS * 3,
        truth=_constant(0.0),
    ),
    "did_staggered": Case(
        'dgp = "did_staggered"\n'
        'estimators = ["twfe_staggered", { name = "cs", aggregation = "event", label = "cs_event" }, "imputation"]\n'
        "[params]\ntau_growth = 0.25\n",
        rows=REPS * (1 + 10 + 6),  # att; e=-4 … e=4 and dynamic; att and e=0 … e=4
        truth=_staggered_truth,
    ),
    "iv": Case(
        'dgp = "iv"\nestimators = ["tsls", "anderson_rubin", "tsls_tf"]\n'
        "[params]\nmu2_per_instrument = 10.0\n[grid]\nk_instruments = [1, 3]\n",
        rows=REPS * (3 + 2),  # tsls_tf applies to one instrument only: skipped in the K = 3 cell
        truth=_constant(2.0),
    ),
    "kang_schafer": Case(
        'dgp = "kang_schafer"\nestimators = [\n    "diff_means",\n    { name = "ipw", label = "ipw_controls" },\n'
        '    { name = "ipw", adjust = ["x1", "x2", "x3", "x4"], label = "ipw_x" },\n'
        '    { name = "ipw", adjust = ["z1", "z2", "z3", "z4"], label = "ipw_z" },\n]\n'
        "[params]\ntau = 10.0\n",
        rows=REPS * 4,
        truth=_constant(10.0),
    ),
    "kidney_stones": Case(
        'dgp = "kidney_stones"\nestimators = ["diff_means", "stratify", { name = "stratify", estimand = "att" }]\n',
        rows=REPS * 3,
        truth=lambda term, cell: None,  # the sample's effect, per replication
    ),
    "lunceford_davidian": Case(
        'dgp = "lunceford_davidian"\nestimators = ["diff_means", "aipw"]\n[grid]\nconfounding = ["none", "strong"]\n',
        rows=2 * REPS * 2,
        truth=_constant(2.0),
    ),
    "observables": Case(
        'dgp = "observables"\nestimators = ["ipw", "aipw", { name = "ipw", estimand = "att", label = "ipw_att" }]\n'
        "[params]\ntau_het = 0.5\n[grid]\ngamma = [0.5, 2.5]\n",
        rows=2 * REPS * 3,
        truth=lambda term, cell: None,  # tau + tau_het · mean X1 of the replication's units
    ),
    "dag": Case(DAG_BODY, rows=2 * REPS * 3, truth=lambda term, cell: None),
    "rd": Case(
        'dgp = "rd"\nestimators = [{ name = "rd", h = 0.3 }, '
        '{ name = "rd", h = 0.25, b = 0.4, kernel = "uniform", vce = "hc1", label = "rd_hc1" }]\n'
        '[grid]\nmodel = ["lee", "ludwig_miller"]\n',
        rows=2 * REPS * 2 * 3,  # conventional, bias_corrected, robust
        truth=lambda term, cell: {"lee": 0.04, "ludwig_miller": -3.45}[cell["model"]],
    ),
}


@pytest.fixture(scope="session")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("seam")


@pytest.fixture(scope="session")
def scenario_path(folder):
    """The case's scenario file (written once)."""
    written = {}

    def get(name: str) -> Path:
        if name not in written:
            written[name] = write_scenario(folder, name, CASES[name].body, reps=REPS)
        return written[name]

    return get


@pytest.fixture(scope="session")
def run_of(folder, scenario_path):
    """The case's run (once per session): REPS replications, one process, no figures."""
    runs = {}

    def get(name: str):
        if name not in runs:
            runs[name] = causalmc.run(scenario_path(name), out=folder / "runs", jobs=1, progress=False, figures=False)
        return runs[name]

    return get


def test_every_shipped_dgp_goes_through_the_seam():
    shipped = {d.name for d in plugins.dgp_registry().values() if d.origin == BUILT_IN}
    # placebo_panel's cases are in test_through_the_seam_data.py, factor_panel's in test_factor_panel.py,
    # nie_wager's in test_nie_wager.py, the double-ML designs' in test_dml_designs.py (and a run in test_dml.py)
    elsewhere = {"placebo_panel", "factor_panel", "nie_wager", "plr_ccddhnr", "plr_sparse", "pliv_sparse", "irm_dml"}
    assert shipped == {*CASES, *elsewhere}, "a DGP without a through-the-scenario test"


# -- what a run writes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_a_run_writes_a_record_per_cell_rep_estimator_and_term_with_the_documented_truth(name, scenario_path, run_of):
    case, run = CASES[name], run_of(name)
    records = run.records()
    grid = list(run.scenario.grid)
    for column in ("cell", *grid, "rep", "estimator", "term", "truth", "estimate", "se", "ci_low", "ci_high",
                   "reject", "status"):  # fmt: skip
        assert column in records, column
    assert len(records) == case.rows
    keys = ["cell", "rep", "estimator", "term"]
    assert not records.duplicated(keys).any()
    per_rep = records.groupby(["cell", "estimator", "term"], observed=True)["rep"].apply(sorted)
    assert all(reps == list(range(REPS)) for reps in per_rep), per_rep
    assert (records["status"] == "ok").mean() > 0.5, records["status"].value_counts()
    for (cell_label, rep), rows in records.groupby(["cell", "rep"], observed=True):
        values = {p: rows[p].iloc[0] for p in grid}
        frame = causalmc.sample(scenario_path(name), cell=values, rep=int(rep))
        assert frame.attrs["cell"] == cell_label and frame.attrs["rep"] == rep
        truths = frame.attrs["truths"]
        for term, truth in zip(rows["term"], rows["truth"], strict=True):
            documented = case.truth(term, values)
            if documented is not None:
                assert truth == pytest.approx(documented, rel=1e-12, abs=1e-12), (cell_label, term)
            assert truth == truths[term] or (math.isnan(truth) and math.isnan(truths[term])), (cell_label, term)


# -- what sample gives, DGP by DGP ---------------------------------------------------------------------------------


def test_confounding_sample_has_n_rows_y_x_and_the_confounder_as_w1(scenario_path):
    frame = causalmc.sample(scenario_path("confounding"), cell={"hetero": 0}, rep=1)
    assert list(frame.columns) == ["y", "x", "w1"] and len(frame) == 1000  # the default n
    assert frame.attrs["truth"] == 0.5 and frame.attrs["truths"] == {"effect": 0.5}
    # The short regression of y on x is centred on beta + γxγy/(γx² + 1) = 1.0 (classical se of the sample's fit).
    x = frame["x"] - frame["x"].mean()
    slope = (x * frame["y"]).sum() / (x * x).sum()
    residual = frame["y"] - frame["y"].mean() - slope * x
    se = math.sqrt((residual**2).sum() / (len(frame) - 2) / (x * x).sum())
    assert abs(slope - 1.0) <= 4 * se, (slope, se)


def test_rct_sample_has_a_binary_treatment_as_x_and_the_covariate_as_w1(scenario_path):
    frame = causalmc.sample(scenario_path("rct"), cell={"selection": 0.0}, rep=0)
    assert list(frame.columns) == ["y", "x", "treatment", "w1"] and len(frame) == 1000
    assert (frame["x"] == frame["treatment"]).all() and set(frame["treatment"]) == {0.0, 1.0}
    assert frame.attrs["truths"] == {"ate": 4.0, "att": 4.0}


def test_angrist_pischke_sample_treats_the_first_three_of_thirty(scenario_path):
    frame = causalmc.sample(scenario_path("angrist_pischke"), cell={"sigma_ratio": 2}, rep=0)
    assert list(frame.columns) == ["y", "x", "treatment"] and len(frame) == 30
    assert frame["treatment"].tolist() == [1.0] * 3 + [0.0] * 27 and (frame["x"] == frame["treatment"]).all()
    assert frame.attrs["truth"] == 0.0


def test_did_2x2_sample_is_the_textbook_two_by_two(scenario_path):
    """Without unit effects and with negligible noise the cells are the docstring's: controls 0 → trend (2),
    treated group_gap (2) → 2 + trend + tau (9), and a parallel-trends violation adds trend_gap to the last."""
    for trend_gap in (0, 1):
        frame = causalmc.sample(scenario_path("did_2x2"), cell={"trend_gap": trend_gap}, rep=0)
        assert list(frame.columns) == ["unit", "period", "y", "treated", "start", "post", "D"]
        assert len(frame) == 400 and set(frame["period"]) == {1, 2} and (frame["start"] == 2).all()
        treated = frame.groupby("unit")["treated"].first()
        assert treated.tolist() == [1.0] * 100 + [0.0] * 100  # the first half of the default 200 units
        means = frame.groupby(["treated", "period"])["y"].mean()
        expected = {(0.0, 1): 0.0, (0.0, 2): 2.0, (1.0, 1): 2.0, (1.0, 2): 9.0 + trend_gap}
        assert means.to_dict() == pytest.approx(expected, abs=1e-6)


def test_did_2x2_treats_the_first_half_rounded_down(folder):
    path = write_scenario(folder, "did_2x2_odd", 'dgp = "did_2x2"\nestimators = ["did"]\n[params]\nn_units = 9\n')
    frame = causalmc.sample(path, rep=0)
    assert len(frame) == 18 and frame.groupby("unit")["treated"].first().tolist() == [1.0] * 4 + [0.0] * 5


def test_did_2x2_run_shows_the_documented_biases(run_of):
    """DiD is tau (5) plus the trend gap; before–after adds the common trend (2), the post-period gap the
    group difference (2)."""
    records = run_of("did_2x2").records()
    means = records.groupby(["trend_gap", "estimator"], observed=True)["estimate"].mean()
    expected = {(0.0, "did"): 5.0, (0.0, "before_after"): 7.0, (0.0, "post_gap"): 7.0, (1.0, "did"): 6.0}
    for key, value in expected.items():
        assert means[key] == pytest.approx(value, abs=1e-6), key


def test_did_panel_sample_is_a_long_panel_with_a_common_start_in_its_window(folder, scenario_path):
    scenario = causalmc.sims.api.as_scenario(scenario_path("did_panel"), reps=40)  # sample 40 replications
    starts = set()
    for rep in range(40):
        frame = causalmc.sample(scenario, cell={"rho": 0.8}, rep=rep)
        assert list(frame.columns) == ["unit", "period", "y", "treated", "start", "post", "D"]
        assert len(frame) == 50 * 20 and frame["start"].nunique() == 1  # the default 50 × 20
        assert frame.groupby("unit")["treated"].first().tolist() == [1.0] * 25 + [0.0] * 25
        starts.add(int(frame["start"].iloc[0]))
    assert starts <= set(range(6, 16)) and len(starts) > 1, starts  # Uniform{start_min = 6, …, start_max = 15}
    fixed = write_scenario(
        folder, "did_panel_fixed", 'dgp = "did_panel"\nestimators = ["twfe"]\n[params]\nstart_min = 9\nstart_max = 9\n'
    )
    assert {int(causalmc.sample(fixed, rep=r)["start"].iloc[0]) for r in range(REPS)} == {9}


def test_did_staggered_sample_has_its_cohorts_and_documented_truths(scenario_path):
    frame = causalmc.sample(scenario_path("did_staggered"), rep=1)
    assert list(frame.columns) == ["unit", "period", "y", "cohort", "D"] and len(frame) == 50 * 20
    sizes = frame.groupby("unit")["cohort"].first().value_counts().sort_index()
    assert sizes.to_dict() == {0.0: 12, 6.0: 13, 10.0: 13, 14.0: 12}
    expected_d = ((frame["cohort"] > 0) & (frame["period"] >= frame["cohort"])).astype(float)
    assert (frame["D"] == expected_d).all()
    truths = frame.attrs["truths"]
    # ATT: the mean of the effects 1 + 0.25·(period − cohort) over the frame's treated unit-periods.
    treated = frame[frame["D"] == 1]
    assert truths["att"] == pytest.approx((1 + 0.25 * (treated["period"] - treated["cohort"])).mean(), rel=1e-12)
    assert set(truths) == {"att", "dynamic", "group", *(f"e={e}" for e in range(-13, 15))}
    for term, value in truths.items():
        if term != "group":
            assert value == pytest.approx(_staggered_truth(term, {}), rel=1e-12), term


def test_iv_sample_has_k_instruments_and_units_as_their_own_clusters(scenario_path):
    for k in (1, 3):
        frame = causalmc.sample(scenario_path("iv"), cell={"k_instruments": k}, rep=0)
        assert list(frame.columns) == ["y", "x", *(f"z{j}" for j in range(1, k + 1)), "cluster"]
        assert len(frame) == 1000 and frame["cluster"].tolist() == list(range(1000))
        assert frame.attrs["truth"] == 2.0


def test_iv_clusters_are_consecutive_units_of_equal_size(folder):
    path = write_scenario(
        folder,
        "iv_clusters",
        'dgp = "iv"\nestimators = [{ name = "tsls", se = "cluster" }]\n'
        "[params]\nn = 600\npi = 0.3\nn_clusters = 40\nicc = 0.3\nicc_z = 0.5\n",
    )
    frame = causalmc.sample(path, rep=0)
    assert len(frame) == 600 and frame["cluster"].tolist() == [float(i * 40 // 600) for i in range(600)]


def test_iv_without_a_strength_is_refused_naming_both_keys(folder):
    path = write_scenario(folder, "iv_no_strength", 'dgp = "iv"\nestimators = ["tsls"]\n')
    with pytest.raises(ScenarioError, match=r"params\.pi and params\.mu2_per_instrument"):
        causalmc.sample(path)


def test_kang_schafer_sample_shows_latent_z_and_their_documented_transforms(scenario_path):
    frame = causalmc.sample(scenario_path("kang_schafer"), rep=2)
    latent, observed = [f"z{j}" for j in range(1, 5)], [f"x{j}" for j in range(1, 5)]
    assert list(frame.columns) == ["y", "x", "treatment", *(f"w{j}" for j in range(1, 5)), *latent, *observed]
    assert len(frame) == 1000 and (frame["x"] == frame["treatment"]).all()
    z1, z2, z3, z4 = (frame[c].to_numpy() for c in latent)
    expected = [np.exp(z1 / 2), z2 / (1 + np.exp(z1)) + 10, (z1 * z3 / 25 + 0.6) ** 3, (z2 + z4 + 20) ** 2]
    for j, column in enumerate(observed):
        np.testing.assert_allclose(frame[column], expected[j], rtol=1e-12)
        assert (frame[f"w{j + 1}"] == frame[column]).all()  # the controls are the analyst's X
    e = frame["y"] - 210 - 27.4 * z1 - 13.7 * (z2 + z3 + z4) - 10.0 * frame["treatment"]
    residual_within_4_se(e.to_numpy())
    assert frame.attrs["truths"] == {"ate": 10.0, "att": 10.0}


def test_kang_schafer_adjust_lists_reach_the_kernel(scenario_path, run_of):
    """adjust = [x1 … x4] is the default controls (the same numbers); [z1 … z4] is another model; and
    `estimate` with the same list on the replication's sample gives the record."""
    records = run_of("kang_schafer").records().set_index(["rep", "estimator"])["estimate"]
    for rep in range(REPS):
        assert records[(rep, "ipw_x")] == records[(rep, "ipw_controls")]
        assert records[(rep, "ipw_z")] != records[(rep, "ipw_x")]
    frame = causalmc.sample(scenario_path("kang_schafer"), rep=1)
    again = causalmc.estimate("ipw", frame, adjust=["z1", "z2", "z3", "z4"]).set_index("term")  # a row per term
    assert again.loc["ate", "estimate"] == records[(1, "ipw_z")]


def test_kidney_stones_sample_has_700_patients_and_sample_effects(scenario_path):
    frame = causalmc.sample(scenario_path("kidney_stones"), rep=0)
    assert list(frame.columns) == ["y", "x", "treatment", "w1", "stone_size"] and len(frame) == 700
    assert (frame["w1"] == frame["stone_size"]).all() and set(frame["stone_size"]) == {0.0, 1.0}
    assert set(frame["y"]) == {0.0, 1.0} and (frame["x"] == frame["treatment"]).all()
    # The truths are sample means of Y(1) − Y(0) ∈ {−1, 0, 1}: over 700 units, and over the treated.
    truths = frame.attrs["truths"]
    assert truths["ate"] * 700 == pytest.approx(round(truths["ate"] * 700), abs=1e-9)
    treated = frame["treatment"].sum()
    assert truths["att"] * treated == pytest.approx(round(truths["att"] * treated), abs=1e-9)


def test_lunceford_davidian_sample_has_x_and_v_as_controls_and_their_outcome_equation(scenario_path):
    xi = {"none": (0.0, 0.0, 0.0), "strong": (-1.0, 1.0, 1.0)}["strong"]  # outcome_association's default
    names = ["x1", "x2", "x3", "v1", "v2", "v3"]
    for confounding in ("none", "strong"):
        frame = causalmc.sample(scenario_path("lunceford_davidian"), cell={"confounding": confounding}, rep=0)
        assert list(frame.columns) == ["y", "x", "treatment", *(f"w{j}" for j in range(1, 7)), *names]
        assert len(frame) == 1000 and frame.attrs["truths"] == {"ate": 2.0, "att": 2.0}
        for j, name in enumerate(names):
            assert (frame[f"w{j + 1}"] == frame[name]).all()
        assert set(frame["x3"]) <= {0.0, 1.0} and set(frame["v3"]) <= {0.0, 1.0}
        mean = -frame["x1"] + frame["x2"] - frame["x3"] + 2 * frame["treatment"]
        mean += xi[0] * frame["v1"] + xi[1] * frame["v2"] + xi[2] * frame["v3"]
        residual_within_4_se((frame["y"] - mean).to_numpy())


def test_observables_sample_truths_are_the_sample_effects_of_x1(scenario_path):
    """ate = tau + tau_het·mean X1 over the units, att the same over the treated (tau = 1, tau_het = 0.5)."""
    frame = causalmc.sample(scenario_path("observables"), cell={"gamma": 2.5}, rep=2)
    assert list(frame.columns) == ["y", "x", "treatment", "w1", "w2", "w3"] and len(frame) == 1000  # p = 3
    treated = frame["treatment"] == 1
    truths = frame.attrs["truths"]
    assert truths["ate"] == pytest.approx(1 + 0.5 * frame["w1"].mean(), rel=1e-12)
    assert truths["att"] == pytest.approx(1 + 0.5 * frame.loc[treated, "w1"].mean(), rel=1e-12)


def test_dag_sample_has_the_graphs_variables_and_its_truth_by_intervention(scenario_path):
    """Y(1) − Y(0) = 1 + 0.5·(M(1) − M(0)) + 0.5·C = 1.5 + 0.5·C for each unit: ate and att are its means."""
    for gamma in (0, 1):
        frame = causalmc.sample(scenario_path("dag"), cell={"gamma": gamma}, rep=1)
        assert list(frame.columns) == ["y", "x", "treatment", "w1", "C", "M"] and len(frame) == 1000
        assert (frame["w1"] == frame["C"]).all() and (frame["x"] == frame["treatment"]).all()
        truths = frame.attrs["truths"]
        assert truths["ate"] == pytest.approx(1.5 + 0.5 * frame["C"].mean(), rel=1e-12)
        assert truths["att"] == pytest.approx(1.5 + 0.5 * frame.loc[frame["treatment"] == 1, "C"].mean(), rel=1e-12)


def test_dag_adjust_lists_reach_the_kernel(scenario_path, run_of):
    """Adjusting for C alone, and for C and the mediator M, as `estimate` does with the same lists."""
    records = run_of("dag").records()
    frame = causalmc.sample(scenario_path("dag"), cell={"gamma": 1}, rep=2)
    for label, adjust in (("confounder", ["C"]), ("plus_mediator", ["C", "M"])):
        row = records[(records["gamma"] == 1.0) & (records["rep"] == 2) & (records["estimator"] == label)]
        assert causalmc.estimate("ols_adjusted", frame, adjust=adjust)["estimate"] == row["estimate"].iloc[0]


def test_a_grid_of_integers_is_a_float_parameter_everywhere(folder, scenario_path, run_of):
    """hetero = [0, 1] is cast to floats before the DGP, the identity, the records' grid column and `sample`'s
    cell: written 0.0 and 1.0 it is the same run."""
    floats = write_scenario(folder, "confounding_floats", CASES["confounding"].body.replace("[0, 1]", "[0.0, 1.0]"))
    as_ints, as_floats = (causalmc.sims.api.as_scenario(p) for p in (scenario_path("confounding"), floats))
    assert [c.key for c in as_ints.cells()] == [c.key for c in as_floats.cells()]
    assert as_ints.fingerprint() == as_floats.fingerprint()
    records = run_of("confounding").records()
    assert records["hetero"].dtype == np.float64 and set(records["hetero"]) == {0.0, 1.0}
    assert set(records["cell"]) == {"hetero=0", "hetero=1"}
    assert pd.api.types.is_float_dtype(records["truth"])
