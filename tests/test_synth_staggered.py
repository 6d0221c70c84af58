"""sdid_staggered and sc_staggered held to synthdid-py 0.1.0 cohort by cohort, to Stata sdid's definitions, and
through the seam.

Conventions (Stata ``sdid`` 2.0.6, `estimators.synth.staggered`): each
adoption cohort a is fitted on the sub-panel of the never-treated units
(controls first, in the batch's order) and the units adopting in a, over
every period (T0 = a − 1); its noise level, ζ and weights are those of
synthdid 0.0.9 on that sub-panel (synthdid-py's ``synthdid_estimate`` and
``sc_estimate``); τ̂ = Σ_a N1_a·T1_a·τ̂_a / Σ_a N1_a·T1_a.  Bootstrap and
placebo draws re-fit every cohort of the draw from scratch (σ̂ and ζ of the
draw), warm-started at the fit's weights; se = √((B − 1)/B)·sd.  The
jackknife keeps the weights (ω renormalised, uniform when all were 0) and
recounts the cohort weights; se = √((N − 1)/N·Σ(τ̂₋ᵢ − τ̄)²).  Tolerance 1e-8
relative (+1e-12): the Frank–Wolfe iterates are R's up to rounding (the
kernel carries A x and the gradient along the steps, R recomputes them), so
the two stop at the same step; the solver's tolerance does not enter.
diff-diff 3.13's ``SyntheticDiD`` refuses staggered designs (it asks for block
treatment), so it is no oracle here.
"""

import numpy as np
import pytest
from conftest import assert_close, kernel_and_twin, run_estimator, write_scenario
from synthdid.estimate import sc_estimate, synthdid_estimate
from synthdid.vcov import jackknife_se

import causalmc
from causalmc.estimators import status as st
from causalmc.estimators.spec import CI_HIGH, CI_LOW, ESTIMATE, SE
from causalmc.estimators.synth import kernel, staggered
from causalmc.estimators.synth.staggered_reference import reference_aggregate
from causalmc.sims.scenario import ScenarioError

METHODS = {"sdid": kernel.SDID, "sc": kernel.SC}


def staggered_panel(rng, n_never, sizes, starts, t, noise=1.0):
    """Rank-2 factors plus unit and period effects and noise, effects 1 + 0.1·k in cohort k's post-periods; the
    units at random places of the batch: (y (G, T), cohort (G,), with 0 for the never treated)."""
    g = n_never + sum(sizes)
    y = rng.normal(size=(g, 2)) @ rng.normal(size=(2, t)) + rng.normal(size=(g, 1)) + rng.normal(size=(1, t))
    cohort = np.concatenate([np.zeros(n_never), np.repeat(starts, sizes)]).astype(float)
    rng.shuffle(cohort)
    for k, a in enumerate(starts):
        y[cohort == a, a - 1 :] += 1 + 0.1 * k
    return y + noise * rng.normal(size=(g, t)), cohort


def oracle(name, Y, n0, t0, start=None):
    """synthdid-py on one sub-panel Y (controls first); ``start`` = (λ, ω) warm-starts both weights, re-solved."""
    extra = {} if start is None else {"update_omega": True}
    if name == "sdid":
        if start is not None:
            extra |= {"weights": {"lambda": start[0], "omega": start[1]}, "update_lambda": True}
        return synthdid_estimate(Y, n0, t0, **extra)
    if start is not None:
        extra["weights"] = {"lambda": np.zeros(t0), "omega": start[1]}
    return sc_estimate(Y, n0, t0, **extra)


def oracle_aggregate(name, y, cohort, starts=None):
    """({a: synthdid-py's estimate on a's sub-panel}, Σ_a N1_a·T1_a·τ̂_a / Σ_a N1_a·T1_a) on rows y, cohorts 0/a."""
    t = y.shape[1]
    controls = y[cohort == 0]
    fits = {}
    for a in sorted(set(cohort[cohort > 0].astype(int).tolist())):
        start = None if starts is None else starts[a]
        fits[a] = oracle(name, np.vstack([controls, y[cohort == a]]), len(controls), a - 1, start)
    cells = {a: np.sum(cohort == a) * (t - a + 1) for a in fits}
    return fits, sum(cells[a] * float(fits[a]) for a in fits) / sum(cells.values())


@pytest.fixture(scope="module")
def random_panels():
    """Ten staggered panels: 4–9 never-treated units, two or three cohorts of 1–4 units, T 7–10, two noise levels."""
    rng = np.random.default_rng(20261207)
    designs = [(6, (2, 2), (4, 6), 8), (5, (3, 1, 2), (3, 5, 7), 9), (8, (2, 3), (5, 8), 10),
               (4, (2, 2, 2), (3, 4, 6), 7), (9, (4, 2), (6, 7), 9)]  # fmt: skip
    return [staggered_panel(rng, *design, noise) for noise in (0.5, 2.0) for design in designs]


@pytest.mark.parametrize("name", METHODS)
def test_each_cohort_is_synthdid_py_on_its_sub_panel_and_the_estimate_their_cell_weighted_mean(random_panels, name):
    """On every panel: the kernel's and the twin's τ̂_a, ω_a and λ_a equal synthdid-py's on the sub-panel of the
    never treated and cohort a, to 1e-8; the kernel's τ̂ is Σ_a N1_a·T1_a·τ̂_a / Σ_a N1_a·T1_a of
    synthdid-py's τ̂_a (its jackknife one_treated when a cohort has one unit)."""
    for y, cohort in random_panels:
        fits, expected = oracle_aggregate(name, y, cohort)
        what = f"{name} on {y.shape}, cohorts {sorted(fits)}"
        units, adoption, n0, periods = staggered.staggered_design(cohort, y.shape[1])
        lam_all, omega_all = np.zeros((len(periods), y.shape[1])), np.zeros((len(periods), n0))
        tau = np.empty(len(periods))
        estimate = staggered.aggregate(y, units, adoption, units, periods, METHODS[name], False, lam_all, omega_all,
                                       tau)  # fmt: skip
        twin, twin_fits = reference_aggregate(y[units], adoption, METHODS[name])
        assert list(periods) == sorted(fits) == sorted(twin_fits)
        for k, a in enumerate(periods):
            weights = fits[a].weights
            assert_close([tau[k], twin_fits[a][0]], [float(fits[a])] * 2, what=f"{what}: τ̂_{a}")
            for omega in (omega_all[k], twin_fits[a][2]):
                assert_close(omega, weights.omega, what=f"{what}: ω_{a}")
            for lam in (lam_all[k, : a - 1], twin_fits[a][1]):
                assert_close(lam, weights.lambda_ if name == "sdid" else np.zeros(a - 1), what=f"{what}: λ_{a}")
        assert_close([estimate, twin], [expected] * 2, what=what)
        code, estimate, se, cohorts = staggered.one_replication(y, cohort, METHODS[name], kernel.JACKKNIFE,
                                                                np.random.default_rng(0), np.empty(0))  # fmt: skip
        assert_close(estimate, expected, what=what)
        assert cohorts == len(fits) and code == (st.ONE_TREATED if min(np.unique(cohort, return_counts=True)[1]) == 1
                                                 else st.OK)  # fmt: skip


@pytest.mark.parametrize("name", METHODS)
def test_bootstrap_and_placebo_draws_are_synthdid_py_fits_of_the_drawn_panels(name):
    """Each draw's estimate is the cell-weighted mean of synthdid-py's fits (σ̂ and ζ of the draw, weights re-solved
    from the fit's, ω restricted to the draw's controls) on the drawn panel, to 1e-8.  Bootstrap: ⌊N·u⌋ for N
    uniforms over the controls then the adopters, sorted, redrawn without a control or an adopter.  Placebo: the
    never treated ordered by N0 uniforms; the j-th adopter's period goes to the one at place N0 − N1 + j."""
    rng = np.random.default_rng(31)
    y, cohort = staggered_panel(rng, 9, (2, 2), (4, 6), 8)
    units, adoption, n0, periods = staggered.staggered_design(cohort, 8)
    n = len(units)
    fitted, _ = oracle_aggregate(name, y, cohort)
    for se in (kernel.BOOTSTRAP, kernel.PLACEBO):
        draws = np.empty(4)
        code, *_ = staggered.one_replication(y, cohort, METHODS[name], se, np.random.default_rng(5), draws)
        assert code == st.OK
        same = np.random.default_rng(5)
        for value in draws:
            if se == kernel.PLACEBO:
                order = np.argsort(same.random(n0), kind="mergesort")
                drawn = np.zeros(n0, dtype=int)
                drawn[order[n0 - (n - n0) :]] = adoption[n0:]
                rows, origin = units[:n0], np.arange(n0)
            else:
                while True:
                    picks = np.sort(np.minimum((same.random(n) * n).astype(int), n - 1))
                    if 0 < np.sum(picks < n0) < n:
                        break
                rows, drawn, origin = units[picks], adoption[picks], picks
            controls = origin[drawn == 0]
            starts = {}
            for a in set(drawn[drawn > 0].tolist()):
                omega = fitted[a].weights.omega[controls]
                starts[a] = (fitted[a].weights.lambda_, omega / omega.sum() if omega.sum() else np.full(len(omega),
                             1 / len(omega)))  # fmt: skip
            _, expected = oracle_aggregate(name, y[rows], drawn.astype(float), starts)
            assert_close(value, expected, what=f"{name} draw ({'placebo' if se == kernel.PLACEBO else 'bootstrap'})")


def test_one_cohort_is_the_common_start_estimator():
    """With a single cohort the estimate is sdid's (and sc's) on the same panel, bit for bit, and the fixed-weights
    jackknife se synthdid-py's jackknife_se to 1e-8 (the common-start kernel's to 1e-12)."""
    rng = np.random.default_rng(4)
    y, cohort = staggered_panel(rng, 8, (3,), (6,), 9)
    treated = (cohort > 0).astype(float)
    for name in METHODS:
        common = run_estimator(name, {"panel_y": y[None], "treated": treated[None], "start": np.array([6])},
                               {"se": "jackknife"})[0]  # fmt: skip
        ours, status = run_estimator(f"{name}_staggered", {"panel_y": y[None], "cohort": cohort[None]},
                                     {"se": "jackknife"})  # fmt: skip
        assert status[0] == st.OK and ours[0, ESTIMATE] == common[0, ESTIMATE]
        assert_close(ours[0, SE], common[0, SE], rtol=1e-12)
        Y = np.vstack([y[cohort == 0], y[cohort > 0]])
        assert_close(ours[0, SE], jackknife_se(oracle(name, Y, 8, 5)), what=f"{name} jackknife")


def test_kernel_equals_twin_on_random_staggered_panels():
    """Kernel ≡ twin (1e-10 relative; every status ok) for both methods and the three variances on a batch of two
    did_staggered panels, 8 never treated and two cohorts of 3 (B = 2 draws: the same uniforms in the same order).
    The two Frank–Wolfe forms agree to rounding here (measured ≤ 4e-13), as they stop at the same step."""
    from causalmc.sims.dgps import registry

    dgp = registry()["did_staggered"]
    defaults = {s.name: s.default for s in dgp.params}
    params = defaults | {"n_units": 14, "n_periods": 8, "n_cohorts": 2, "first_cohort": 4, "cohort_spacing": 2,
                         "never_share": 0.6, "rho": 0.5, "tau_growth": 0.2}  # fmt: skip
    batch = dgp.generate(np.random.default_rng(9), 2, params)
    batch = {"panel_y": batch["panel_y"], "cohort": batch["cohort"]}
    for name in ("sdid_staggered", "sc_staggered"):
        for se in ("bootstrap", "placebo", "jackknife"):
            kernel_and_twin(name, batch, {"se": se, "draws": 2}, rtol=1e-10)


def test_undefined_cases_are_statuses():
    """No never-treated unit: no_comparison; no adopter: no_variation; adoption in period 2 with one control (one
    first difference for σ̂): no_variation; N0 ≤ N1: placebo few_controls; one adopter: bootstrap one_treated
    (placebo defined); a cohort of one unit: jackknife one_treated (Stata stops), bootstrap defined.  Kernel and
    twin alike, NaN numbers."""
    rng = np.random.default_rng(12)
    y, _ = staggered_panel(rng, 4, (2, 2), (4, 6), 8)
    cases = {
        "no_comparison": (np.array([4, 4, 6, 6, 4, 4, 6, 6.0]), {"jackknife": st.NO_COMPARISON}),
        "no_adopter": (np.zeros(8), {"jackknife": st.NO_VARIATION}),
        "sigma": (np.array([0, 2, 2, 5, 5, 5, 5, 5.0]), {"bootstrap": st.NO_VARIATION}),
        "few_controls": (np.array([0, 0, 0, 4, 4, 6, 6, 6.0]), {"placebo": st.FEW_CONTROLS, "jackknife": st.OK}),
        "one_adopter": (np.array([0, 0, 0, 0, 0, 0, 0, 5.0]), {"bootstrap": st.ONE_TREATED, "placebo": st.OK}),
        "cohort_of_one": (np.array([0, 0, 0, 0, 4, 4, 6, 0.0]), {"jackknife": st.ONE_TREATED, "bootstrap": st.OK}),
    }
    for case, (cohort, expected) in cases.items():
        for name in ("sdid_staggered", "sc_staggered"):
            for se, code in expected.items():
                batch = {"panel_y": y[None], "cohort": cohort[None]}
                out, status = kernel_and_twin(name, batch, {"se": se, "draws": 5}, all_ok=False)
                assert status[0] == code, (case, name, se, status)
                assert np.isnan(out[0]).all() == (code != st.OK), (case, name, se)


SCENARIO = """dgp = "did_staggered"
estimators = [
    { name = "sdid_staggered", se = "jackknife", label = "sdid" },
    { name = "sc_staggered", se = "placebo", draws = 20, label = "sc" },
    "cs",
    "imputation",
]
[params]
n_units = 24
n_periods = 10
n_cohorts = 2
first_cohort = 5
cohort_spacing = 2
never_share = 0.6
tau_growth = 0.25
"""


def test_scenario_runs_sdid_beside_cs_and_imputation(tmp_path):
    """did_staggered → causalmc.run: sdid_staggered and sc_staggered records (term att, status ok, the DGP's att
    truth: the mean effect over treated unit-periods) beside cs's and imputation's with the same truth; a
    replication's tidy frame → causalmc.estimate gives the record's numbers (the same stream for the same seed
    and replication is not promised: the jackknife's se is deterministic); listing sdid on did_staggered names
    sdid_staggered."""
    path = write_scenario(tmp_path, "synth_staggered", SCENARIO, reps=8)
    records = causalmc.run(path, out=tmp_path / "out", jobs=1, progress=False, figures=False).records()
    assert set(records["estimator"]) >= {"sdid", "sc", "cs", "imputation"}
    att = records[records["term"] == "att"]
    sizes = ((5, 5), (5, 7))  # 10 adopters in two cohorts of 5, adopting in periods 5 and 7 of 10
    cells = [(n, 1 + 0.25 * (t - g)) for n, g in sizes for t in range(g, 11)]
    truth = sum(n * v for n, v in cells) / sum(n for n, _ in cells)
    assert np.allclose(att["truth"], truth)
    for label in ("sdid", "sc"):
        ours = records[records["estimator"] == label]
        assert len(ours) == 8 and (ours["term"] == "att").all() and (ours["status"] == "ok").all()
        assert (ours["cohorts"] == 2).all()
    frame = causalmc.sample(path, rep=3)
    result = causalmc.estimate("sdid_staggered", frame, se="jackknife")
    record = records[(records["estimator"] == "sdid") & (records["rep"] == 3)].iloc[0]
    assert_close([result["estimate"], result["se"]], [record["estimate"], record["se"]])
    wrong = write_scenario(tmp_path, "wrong", SCENARIO.replace('name = "sdid_staggered"', 'name = "sdid"'))
    with pytest.raises(ScenarioError, match="sdid_staggered"):
        causalmc.run(wrong, out=tmp_path / "wrong", jobs=1, progress=False)


def test_sdid_staggered_is_unbiased_with_homogeneous_effects(tmp_path):
    """Claim, through causalmc.run: on did_staggered with one constant effect (tau = 1; 30 units, 12 periods, cohorts
    adopting in 5 and 8, a third never treated, AR(1) 0.5) |bias| ≤ 4·MCSE for sdid_staggered and sc_staggered
    (300 replications; the jackknife, the cheapest variance, as the estimate does not depend on it)."""
    body = """dgp = "did_staggered"
estimators = [{ name = "sdid_staggered", se = "jackknife" }, { name = "sc_staggered", se = "jackknife" }]
[params]
n_units = 30
n_periods = 12
n_cohorts = 2
first_cohort = 5
cohort_spacing = 3
never_share = 0.34
rho = 0.5
[[expect]]
estimator = "sdid_staggered_jackknife"
measure = "bias"
equals = 0.0
[[expect]]
estimator = "sc_staggered_jackknife"
measure = "bias"
equals = 0.0
"""
    path = write_scenario(tmp_path, "claim", body, reps=300)
    results = causalmc.run(path, out=tmp_path / "claim", jobs=1, progress=False, figures=False)
    assert len(results.expectations) == 2 and results.passed, results.expectations
