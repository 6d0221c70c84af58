"""sdid, sc and difp held to synthdid-py 0.1.0 (the port of R synthdid 0.0.9) and to R's published numbers.

Conventions (R's, `estimators.synth.kernel`): controls first in the
batch's order, T0 = start − 1; noise level = sd (n − 1) of the controls'
pre-period first differences; ζ_ω = η_ω·σ̂ with η_ω = (N1·T1)^¼ (sdid) or
1e-6 (sc, and difp as the paper's vignette); ζ_λ = 1e-6·σ̂; min_decrease =
1e-5·σ̂; 100 Frank–Wolfe steps, sparsify, 10⁴ steps.  Standard errors:
placebo and bootstrap √((B − 1)/B)·sd of B draws (weights re-solved from
warm starts), fixed-weights jackknife √((N − 1)/N·Σ(τ̂₋ᵢ − τ̄)²); normal
intervals.  Estimates, weights and jackknife se to 1e-8 (relative, +1e-12):
the Frank–Wolfe iterates are R's up to rounding, the solver's tolerance
does not enter (both sides stop at the same step).
"""

import numpy as np
import pytest
from conftest import assert_close, kernel_and_twin, run_estimator
from synthdid import load_california_prop99, panel_matrices
from synthdid.estimate import Weights, refit, sc_estimate, synthdid_estimate
from synthdid.utils import sum_normalize
from synthdid.vcov import bootstrap_sample, bootstrap_se, jackknife_se, placebo_se

from causalmc.estimators import status as st
from causalmc.estimators.spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE
from causalmc.estimators.synth import kernel
from causalmc.estimators.synth.reference import reference_fit, reference_one

METHODS = {"sdid": kernel.SDID, "sc": kernel.SC, "difp": kernel.DIFP}
SE_CODES = {"placebo": kernel.PLACEBO, "bootstrap": kernel.BOOTSTRAP, "jackknife": kernel.JACKKNIFE}
ALL_SE = (*SE_CODES, "none")
EFFECTIVE, WEIGHT_MAX, PERIODS, TIME_MAX = 5, 6, 7, 8


def factor_panel(rng, n, t, n1, t1, noise):
    """Rank-2 factors plus unit and period effects and noise; a treatment block of n1 units from period t − t1 on."""
    y = rng.normal(size=(n, 2)) @ rng.normal(size=(2, t)) + rng.normal(size=(n, 1)) + rng.normal(size=(1, t))
    return y + noise * rng.normal(size=(n, t)), n - n1, t - t1


def oracle(name, Y, n0, t0):
    """synthdid-py's estimate object for the method (Y with the controls first); difp as the paper's vignette."""
    if name == "sdid":
        return synthdid_estimate(Y, n0, t0)
    if name == "sc":
        return sc_estimate(Y, n0, t0)
    return synthdid_estimate(Y, n0, t0, weights={"lambda": np.full(t0, 1 / t0)}, eta_omega=1e-6)


def scattered(rng, Y, n0):
    """Y (controls first) with the treated rows moved to random positions, each group's order kept: (y, treated)."""
    treated = np.zeros(Y.shape[0], bool)
    treated[rng.choice(Y.shape[0], Y.shape[0] - n0, replace=False)] = True
    y = np.empty_like(Y)
    y[~treated], y[treated] = Y[:n0], Y[n0:]
    return y, treated.astype(float)


def kernel_fit(Y, n0, t0, name):
    """kernel.fit and the twin's reference_fit on Y (controls first) with R's tuning: two (τ̂, λ, ω)."""
    method = METHODS[name]
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    rows = np.arange(Y.shape[0])
    sigma = kernel.noise_level(Y, rows, n0, t0)
    eta = (n1 * t1) ** 0.25 if name == "sdid" else 1e-6
    z, gram = kernel.centred_pre_periods(Y, t0, method != kernel.SC)
    lam = np.full(t0, 0.0 if method == kernel.SC else 1 / t0)
    omega = np.full(n0, 1 / n0)
    estimate = kernel.fit(Y, rows, n0, t0, method, z, gram, eta * sigma, 1e-6 * sigma, 1e-5 * sigma, lam, omega)
    twin = reference_fit(Y, n0, t0, method, eta * sigma, 1e-6 * sigma, 1e-5 * sigma,
                         np.full(t0, 0.0 if method == kernel.SC else 1 / t0), np.full(n0, 1 / n0))  # fmt: skip
    return (estimate, lam, omega), twin


@pytest.fixture(scope="module")
def random_panels():
    """Twelve factor panels of assorted shapes (N 8–16, T 6–10, 1–4 treated units, 1–3 post-periods) and noise."""
    rng = np.random.default_rng(20240924)
    shapes = [(8, 6, 2, 1), (10, 8, 2, 2), (12, 7, 3, 2), (9, 9, 1, 3), (14, 8, 4, 2), (16, 10, 3, 3)]
    return [factor_panel(rng, *shape, noise) for noise in (0.5, 2.0) for shape in shapes]


@pytest.mark.parametrize("name", METHODS)
def test_weights_estimates_and_jackknife_equal_synthdid_py_on_random_panels(random_panels, name):
    """On every panel, with the treated units at random positions of the batch: the kernel's and the twin's τ̂,
    ω, λ and fixed-weights jackknife se equal synthdid-py's to 1e-8 (with one treated unit the status is
    one_treated, where synthdid-py's se is NaN); the registered kernel's diagnostics are its weights' 1/Σω², max ω,
    1/Σλ², max λ (NaN for sc) and its interval τ̂ ± 1.96·se."""
    rng = np.random.default_rng(5)
    for Y, n0, t0 in random_panels:
        what = f"{name} on {Y.shape}, N0={n0}, T0={t0}"
        expected = oracle(name, Y, n0, t0)
        jackknife = jackknife_se(expected)
        omega, lam = expected.weights.omega, expected.weights.lambda_
        y, treated = scattered(rng, Y, n0)
        kernel_result = kernel.one_replication(
            y, treated, t0 + 1, METHODS[name], kernel.JACKKNIFE, np.random.default_rng(0), np.empty(0)
        )
        code, twin = reference_one(Y, n0, t0, METHODS[name], kernel.JACKKNIFE, 0, None)
        if Y.shape[0] - n0 == 1:
            assert kernel_result[0] == code == st.ONE_TREATED and np.isnan(jackknife)
            continue
        assert kernel_result[0] == code == st.OK
        for estimate, se, fitted_omega, fitted_lam in (kernel_result[1:], twin):
            assert_close([estimate, se], [float(expected), jackknife], what=what + " τ̂, jackknife se")
            assert_close(fitted_omega, omega, what=what + " ω")
            assert_close(fitted_lam, lam, what=what + " λ")
        out, status = run_estimator(name, {"panel_y": y[None], "treated": treated[None], "start": np.array([t0 + 1])},
                                    {"se": "jackknife"})  # fmt: skip
        assert status[0] == st.OK
        assert_close(out[0, :2], [float(expected), jackknife])
        assert_close(out[0, CI_HIGH] - out[0, CI_LOW], 2 * 1.959963984540054 * jackknife)
        time_weights = [np.nan, np.nan] if name == "sc" else [1 / np.sum(lam**2), lam.max()]
        assert_close(out[0, EFFECTIVE:], [1 / np.sum(omega**2), omega.max(), *time_weights])


def test_california_matches_r_and_synthdid_py():
    """Proposition 99 (39 states × 1970–2000, California treated from 1989): R's SDID −15.60383, SC −19.61966 and
    the paper's DIFP −11.1 (Table 1); weights as synthdid-py's to 1e-8, kernel and twin alike."""
    panel = panel_matrices(load_california_prop99())
    Y, n0, t0 = panel.Y, panel.N0, panel.T0
    published = {"sdid": -15.60383, "sc": -19.61966, "difp": -11.1}
    for name, digits in (("sdid", 5), ("sc", 5), ("difp", 1)):
        expected = oracle(name, Y, n0, t0)
        for estimate, lam, omega in kernel_fit(Y, n0, t0, name):
            assert round(estimate, digits) == published[name]
            assert_close(estimate, float(expected))
            assert_close(omega, expected.weights.omega)
            assert_close(lam, expected.weights.lambda_)


@pytest.mark.parametrize("se, name", [("placebo", "sdid"), ("bootstrap", "sdid"), ("placebo", "sc"),
                                      ("bootstrap", "difp")])  # fmt: skip
def test_each_draw_is_synthdid_pys_refit_on_the_same_units(se, name):
    """A draw's estimate equals synthdid-py's refit (its vcov's inner step: the estimate's options, ω restricted
    to the draw's controls and sum-normalised as the warm start) on the draw's rows, to 1e-8.  The draws: placebo,
    the controls ordered by N0 uniforms (the first N0 − N1 controls); bootstrap, ⌊N·u⌋ for N uniforms, sorted,
    redrawn without a control or a treated row."""
    rng = np.random.default_rng(77)
    Y, n0, t0 = factor_panel(rng, 12, 8, 3, 2, 1.0)
    n = Y.shape[0]
    batch = {"panel_y": Y, "treated": (np.arange(n) >= n0).astype(float)}
    draws = np.empty(6)
    code, estimate, _, omega, lam = kernel.one_replication(
        batch["panel_y"], batch["treated"], t0 + 1, METHODS[name], SE_CODES[se], np.random.default_rng(3), draws
    )
    assert code == st.OK
    fitted = oracle(name, Y, n0, t0)
    assert_close(omega, fitted.weights.omega)
    same = np.random.default_rng(3)
    for value in draws:
        if se == "placebo":
            rows = np.argsort(same.random(n0), kind="mergesort")
            n_controls = n0 - (n - n0)
        else:
            while True:
                rows = np.sort(np.minimum((same.random(n) * n).astype(int), n - 1))
                n_controls = int((rows < n0).sum())
                if 0 < n_controls < n:
                    break
        warm = Weights(lambda_=fitted.weights.lambda_, omega=sum_normalize(fitted.weights.omega[rows[:n_controls]]))
        again = refit(fitted, Y=Y[rows], N0=n_controls, T0=t0, X=fitted.setup.X[rows], weights=warm)
        assert_close(value, float(again), what=f"{name} {se} draw")


def _variance_and_mcse(draws):
    """s² = Σ(d − d̄)²/B (R's se²) and its Monte Carlo standard error √((m₄ − s⁴)/B)."""
    centred = draws - draws.mean()
    s2 = np.mean(centred**2)
    return s2, np.sqrt((np.mean(centred**4) - s2**2) / len(draws))


@pytest.mark.parametrize("se", ["placebo", "bootstrap"])
def test_placebo_and_bootstrap_variances_equal_synthdid_pys_in_distribution(se):
    """On one panel, sc's se² from B = 1,000 draws and synthdid-py's from its own 1,000 draws estimate the same
    variance: |s²_a − s²_b| ≤ 4·√2·MCSE(s²) (the two are independent with the same MCSE under the claim).
    sc on a noisy panel: its Frank–Wolfe stops in a few steps, so synthdid-py's loop is quick."""
    rng = np.random.default_rng(11)
    Y, n0, t0 = factor_panel(rng, 10, 8, 2, 2, 3.0)
    draws = np.empty(1000)
    code, *_ = kernel.one_replication(
        Y, (np.arange(10) >= n0).astype(float), t0 + 1, kernel.SC, SE_CODES[se], np.random.default_rng(8), draws
    )
    assert code == st.OK
    ours, mcse = _variance_and_mcse(draws)
    fitted = oracle("sc", Y, n0, t0)
    if se == "placebo":
        theirs = placebo_se(fitted, 1000, random_state=9) ** 2
    else:
        theirs = bootstrap_se(fitted, 1000, random_state=9) ** 2
    assert abs(ours - theirs) <= 4 * np.sqrt(2) * mcse, (ours, theirs, mcse)


def test_undefined_variances_are_statuses_where_synthdid_gives_none():
    """One treated unit: bootstrap and jackknife one_treated (synthdid-py: NaN), placebo defined; N0 ≤ N1: placebo
    few_controls (synthdid-py raises); one control of nonzero weight: jackknife one_donor (synthdid-py: NaN)."""
    rng = np.random.default_rng(2)
    Y, n0, t0 = factor_panel(rng, 8, 7, 1, 2, 1.0)
    batch = {"panel_y": Y[None], "treated": (np.arange(8) >= n0).astype(float)[None], "start": np.array([t0 + 1])}
    fitted = oracle("sdid", Y, n0, t0)
    assert np.isnan(bootstrap_sample(fitted, 5)).all() and np.isnan(jackknife_se(fitted))
    for se, code in (("bootstrap", st.ONE_TREATED), ("jackknife", st.ONE_TREATED), ("placebo", st.OK)):
        out, status = kernel_and_twin("sdid", batch, {"se": se, "draws": 5}, all_ok=False)
        assert status[0] == code and np.isnan(out[0]).all() == (code != st.OK)

    Y, n0, t0 = factor_panel(rng, 6, 7, 3, 2, 1.0)
    with pytest.raises(ValueError, match="more controls than treated"):
        placebo_se(oracle("sc", Y, n0, t0), 5)
    batch = {"panel_y": Y[None], "treated": (np.arange(6) >= n0).astype(float)[None], "start": np.array([t0 + 1])}
    out, status = kernel_and_twin("sc", batch, {"se": "placebo", "draws": 5}, all_ok=False)
    assert status[0] == st.FEW_CONTROLS and np.isnan(out[0]).all()

    # Treated units far out along control 0's direction: synthetic control puts all its weight on control 0.
    Y, n0, t0 = factor_panel(rng, 8, 7, 2, 2, 1.0)
    Y[n0:] = Y[0] + 10 * (Y[0] - Y[1:n0].mean(axis=0)) + rng.normal(scale=0.01, size=(2, 7))
    fitted = oracle("sc", Y, n0, t0)
    assert np.count_nonzero(fitted.weights.omega) == 1 and np.isnan(jackknife_se(fitted))
    batch = {"panel_y": Y[None], "treated": (np.arange(8) >= n0).astype(float)[None], "start": np.array([t0 + 1])}
    out, status = kernel_and_twin("sc", batch, {"se": "jackknife"}, all_ok=False)
    assert status[0] == st.ONE_DONOR and np.isnan(out[0]).all()


@pytest.mark.parametrize("name", ["sdid", "sc", "difp"])
def test_no_pre_or_post_period_or_too_few_differences_is_no_variation(name):
    """Start at period 1 or after T, T0 = 1 (no first difference for the noise level: R stops), every unit treated
    or none: no_variation, kernel and twin alike."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=(5, 6, 6))
    treated = np.tile((np.arange(6) >= 4).astype(float), (5, 1))
    treated[3] = 1.0
    treated[4] = 0.0
    batch = {"panel_y": y, "treated": treated, "start": np.array([1, 7, 2, 4, 4])}
    for se in ALL_SE:
        out, status = kernel_and_twin(name, batch, {"se": se, "draws": 5}, all_ok=False)
        assert (status == st.NO_VARIATION).all() and np.isnan(out).all()


def test_draws_come_from_the_estimators_generator_alone():
    """The same generator state gives the same se; another gives another (placebo and bootstrap)."""
    rng = np.random.default_rng(6)
    Y, n0, t0 = factor_panel(rng, 10, 7, 2, 2, 1.0)
    batch = {"panel_y": Y[None], "treated": (np.arange(10) >= n0).astype(float)[None], "start": np.array([t0 + 1])}
    for se in ("placebo", "bootstrap"):
        first, _ = run_estimator("difp", batch, {"se": se, "draws": 20}, seed=1)
        again, _ = run_estimator("difp", batch, {"se": se, "draws": 20}, seed=1)
        other, _ = run_estimator("difp", batch, {"se": se, "draws": 20}, seed=2)
        assert first[0, SE] == again[0, SE] != other[0, SE] and first[0, ESTIMATE] == other[0, ESTIMATE]


SCENARIO = """\
name = "synth_seam"
dgp = "placebo_panel"
reps = 4
seed = 12
chunk_size = 2
[params]
data = "castle"
min_pre = 4
min_post = 2
[grid]
n_treated = [1, 3]
"""


@pytest.fixture(scope="module")
def seam_records(tmp_path_factory):
    """castle placebo laws (1 or 3 treated states) with sdid, sc and difp under each se, through causalmc.run."""
    import causalmc

    folder = tmp_path_factory.mktemp("synth_seam")
    entries = "".join(
        f'[[estimators]]\nname = "{name}"\nlabel = "{name}_{se}"\nse = "{se}"\ndraws = 30\n'
        for name in ("sdid", "sc", "difp")
        for se in ALL_SE
    )
    path = folder / "synth.toml"
    path.write_text(SCENARIO + entries)
    return causalmc.run(path, out=folder / "out", progress=False, figures=False).records()


def test_a_scenario_runs_every_method_and_se_with_statuses_and_diagnostics(seam_records):
    """Through causalmc.run: with 3 treated states every record is ok, the interval τ̂ ± 1.96·se, 1 ≤ effective
    controls ≤ 47 and the largest unit weight in (0, 1], time diagnostics in [1, T0] and (0, 1] (NaN for sc); with
    1 treated state bootstrap and jackknife are one_treated with NaN numbers and placebo ok."""
    records = seam_records[~seam_records["estimator"].str.endswith("_none")]
    assert set(records["estimator"]) == {f"{n}_{s}" for n in ("sdid", "sc", "difp") for s in SE_CODES}
    three = records[records["n_treated"] == 3]
    assert (three["status"] == "ok").all() and len(three) == 4 * 9
    assert np.allclose(three["ci_high"] - three["ci_low"], 2 * 1.959963984540054 * three["se"])
    assert three["controls_effective"].between(1, 47).all() and three["unit_weight_max"].between(0, 1).all()
    timed = three[~three["estimator"].str.startswith("sc_")]
    assert timed["periods_effective"].between(1, 9).all() and timed["time_weight_max"].between(0, 1).all()
    assert three.loc[three["estimator"].str.startswith("sc_"), ["periods_effective", "time_weight_max"]].isna().all(
        axis=None
    )
    one = records[records["n_treated"] == 1]
    undefined = one[~one["estimator"].str.endswith("_placebo")]
    assert (undefined["status"] == "one_treated").all() and undefined["estimate"].isna().all()
    assert (one.loc[one["estimator"].str.endswith("_placebo"), "status"] == "ok").all()


def test_se_none_records_the_estimate_alone_wherever_it_is_defined(seam_records):
    """Through causalmc.run: se = "none" is ok with 1 and 3 treated states (where the bootstrap and jackknife are
    undefined too), its estimate is the placebo run's on the same replication (the same τ̂; only the se differs)
    and its se, interval and test are NaN; the weight diagnostics are kept."""
    records = seam_records.set_index(["estimator", "n_treated", "rep"]).sort_index()
    for name in ("sdid", "sc", "difp"):
        alone, placebo = records.loc[f"{name}_none"], records.loc[f"{name}_placebo"]
        assert len(alone) == 8 and (alone["status"] == "ok").all() and (placebo["status"] == "ok").all()
        assert (alone["estimate"] == placebo["estimate"]).all()
        assert alone[["se", "ci_low", "ci_high", "reject"]].isna().all(axis=None)
        assert (alone["controls_effective"] == placebo["controls_effective"]).all()


def test_se_none_kernel_and_twin_equal_synthdid_py_where_variances_are_undefined():
    """One treated unit and N0 ≤ N1 (no bootstrap, jackknife or placebo in synthdid): se = "none" gives τ̂ equal to
    synthdid-py's to 1e-8 with status ok and NaN se, interval and test, kernel and twin alike."""
    rng = np.random.default_rng(2)
    for shape in ((8, 7, 1, 2), (6, 7, 3, 2)):
        Y, n0, t0 = factor_panel(rng, *shape, 1.0)
        batch = {"panel_y": Y[None], "treated": (np.arange(shape[0]) >= n0).astype(float)[None],
                 "start": np.array([t0 + 1])}  # fmt: skip
        for name in METHODS:
            out, status = kernel_and_twin(name, batch, {"se": "none"})
            assert_close(out[0, ESTIMATE], float(oracle(name, Y, n0, t0)))
            assert np.isnan(out[0, [SE, CI_LOW, CI_HIGH, REJECT]]).all()


def test_estimate_on_a_sample_frame_equals_synthdid_py(tmp_path):
    """causalmc.sample's tidy castle panel → causalmc.estimate: τ̂ equals synthdid-py's on the same panel (controls
    first, T0 = start − 1) to 1e-8, its placebo se with 200 draws is finite, and the seed fixes it."""
    import causalmc

    path = tmp_path / "s.toml"
    one_cell = SCENARIO.replace("[grid]\nn_treated = [1, 3]", "n_treated = 3")
    path.write_text(one_cell.replace("[params]", 'estimators = ["sdid"]\n[params]'))
    frame = causalmc.sample(path, rep=1)
    wide = frame.pivot(index="unit", columns="period", values="y")
    treated = frame.groupby("unit")["treated"].first().reindex(wide.index).to_numpy() != 0
    t0 = int(frame["start"].iloc[0]) - 1
    Y = np.vstack([wide.to_numpy()[~treated], wide.to_numpy()[treated]])
    for name in ("sdid", "sc", "difp"):
        result = causalmc.estimate(name, frame, se="placebo", seed=4)
        assert result["status"] == "ok" and np.isfinite(result["se"]) and result["se"] > 0
        assert_close(result["estimate"], float(oracle(name, Y, int((~treated).sum()), t0)))
        assert causalmc.estimate(name, frame, se="placebo", seed=4)["se"] == result["se"]
