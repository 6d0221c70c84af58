"""The manipulation test ``rd_density`` ≡ its twin ≡ rddensity 3.0 (Python, Cattaneo, Jansson, Ma & Masini), and
the ``rd`` DGP's ``manipulation`` option.

Conventions held to ``rddensity(X, c=0, p=p, kernel=..., vce=..., bwselect=... | h=[h], fitselect="unrestricted")``
(its defaults otherwise: q = p + 1, regularize with nLocalMin = nUniqueMin = 20 + p + 1, massPoints): the estimate is
``hat["diff"]`` (f̂₊ − f̂₋ of the order-q fit), its se ``sd_jk["diff"]`` (jackknife) or ``sd_asy["diff"]`` (plugin),
``t_stat`` and ``p_value`` its ``test`` (normal, two-sided), ``f_left``/``f_right`` ``hat["left"/"right"]``,
``h_left``/``h_right`` ``h``, ``n_h_left``/``n_h_right`` ``n["eff_left"/"eff_right"]``.  ``reject`` is |T| > z_{1−α/2}
(the test of no discontinuity), the interval f̂₊ − f̂₋ ± z·se.

Tolerance 1e-8 relative with p = 1, 2 (the default) for the densities, se, bandwidths and counts; the difference
f̂₊ − f̂₋ and T to 1e-8 of the scale they are computed from (|f̂₋| + |f̂₊|, and that over se; the p-value within
0.4 times T's, |dp/dT| ≤ 0.8): where the densities nearly cancel no relative tolerance on the difference holds,
because rddensity's fits of powers of x/h (a Gram matrix with condition number near 1e5, inverted by
``numpy.linalg.inv``) carry rounding errors near 1e-10 in each density.  With p = 3 the bandwidth selector's
order-5 fit is ill-conditioned enough that rddensity's own inverse moves the bandwidth by ~1e-9: 1e-7 there.
"""

import itertools
import warnings

import numpy as np
import pytest
from conftest import assert_close, kernel_and_twin, run_estimator, st, write_scenario
from rddensity import rddensity

import causalmc

from causalmc.estimators.rd.conventions import KERNELS
from causalmc.estimators.rd.density_constants import BWSELECT, VCE
from causalmc.sims.dgps import rd as rd_dgp

COLUMNS = [0, 1, 5, 6, 7, 8, 9, 10, 11, 12]  # estimate, se, then the diagnostics


def oracle(x, p, kernel, vce, bwselect, h):
    """rddensity's numbers in the order of COLUMNS."""
    arguments = {"p": p, "kernel": kernel, "vce": vce, "bino_flag": False}
    arguments |= {"h": [h]} if bwselect == "fixed" else {"bwselect": bwselect}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = rddensity(x, **arguments)
    sd, key = (fit.sd_jk, "jk") if vce == "jackknife" else (fit.sd_asy, "asy")
    return np.array([
        fit.hat["diff"], sd["diff"], fit.test[f"t_{key}"], fit.test[f"p_{key}"], fit.hat["left"], fit.hat["right"],
        fit.h["left"], fit.h["right"], fit.n["eff_left"], fit.n["eff_right"],
    ])  # fmt: skip


def assert_matches(actual, expected, rtol, what):
    """`actual` and `expected` (R, 10) in COLUMNS' order, within the tolerances of the module docstring."""
    actual, expected = np.atleast_2d(actual), np.atleast_2d(expected)
    scale = np.abs(expected[:, 4]) + np.abs(expected[:, 5])
    for j, tolerance in ((0, scale), (2, scale / expected[:, 1]), (3, 0.8 * scale / expected[:, 1])):
        assert (np.abs(actual[:, j] - expected[:, j]) <= rtol * tolerance).all(), (what, j, actual[:, j], expected[:, j])
    assert_close(actual[:, [1, 4, 5, 6, 7, 8, 9]], expected[:, [1, 4, 5, 6, 7, 8, 9]], rtol=rtol, what=what)


def running(rng, n_reps, n, ties=False, heap=0):
    """x = 2·Beta(2, 4) − 1, the first `heap` units reflected above 0 (a density jump), rounded to 0.01 with `ties`
    (mass points)."""
    x = 2 * rng.beta(2, 4, (n_reps, n)) - 1
    x[:, :heap] = np.abs(x[:, :heap])
    return np.round(x, 2) if ties else x


def test_rd_density_equals_rddensity(rng):
    """Every kernel × vce × bwselect (comb, each, diff, sum, fixed h) with p = 2, and p = 1, 3 with the defaults, on
    continuous x with and without a heap above the cutoff and on x with mass points: kernel ≡ twin ≡ rddensity."""
    cases = [dict(p=2, kernel=k, vce=v, bwselect=b) for k, v, b in itertools.product(KERNELS, VCE, BWSELECT)]
    cases += [dict(p=1, kernel="triangular", vce="jackknife", bwselect="comb")]
    cases += [dict(p=3, kernel=k, vce="jackknife", bwselect="comb") for k in KERNELS]
    for i, case in enumerate(cases):
        x = running(rng, 3, 300 + 50 * (i % 5), ties=i % 4 == 3, heap=40 * (i % 3))
        options = case | {"h": 0.25 + 0.05 * (i % 3)}
        rtol = 1e-7 if case["p"] == 3 else 1e-8
        out, status = run_estimator("rd_density", {"x": x}, options)
        twin, twin_status = run_estimator("rd_density", {"x": x}, options, reference=True)
        assert (status == st.OK).all() and (twin_status == st.OK).all()
        assert_matches(out[:, 0, COLUMNS], twin[:, 0, COLUMNS], rtol, f"kernel vs twin {options}")
        expected = [oracle(x[r], case["p"], case["kernel"], case["vce"], case["bwselect"], options["h"]) for r in range(3)]
        assert_matches(out[:, 0, COLUMNS], np.array(expected), rtol, f"kernel vs rddensity {options}")


def test_reject_is_the_test_of_no_jump(rng):
    """reject = |T| > z_{1−α/2} whatever the truth; the interval is f̂₊ − f̂₋ ± z·se; T = estimate/se."""
    x = running(rng, 8, 400, heap=25)
    truth = np.full((8, 1), 0.3)
    out, _ = kernel_and_twin("rd_density", {"x": x}, {}, level=0.9, truth=truth)
    z = 1.6448536269514722
    est, se, t = out[:, 0, 0], out[:, 0, 1], out[:, 0, 5]
    np.testing.assert_array_equal(out[:, 0, 4], (np.abs(t) > z).astype(float))
    assert_close(t, est / se, what="T")
    assert_close(out[:, 0, 2:4], np.column_stack([est - z * se, est + z * se]), what="interval")


def test_an_empty_side_is_a_status_where_rddensity_refuses(rng):
    """Every unit above the cutoff: too_few_observations, NaN numbers, the side counts recorded; rddensity raises."""
    x = np.abs(running(rng, 2, 200)) + 0.01
    out, status = kernel_and_twin("rd_density", {"x": x}, {}, all_ok=False)
    assert (status == st.TOO_FEW_OBSERVATIONS).all() and np.isnan(out[:, 0, :5]).all()
    assert (out[:, 0, 11] == 0).all() and (out[:, 0, 12] == 200).all()
    with pytest.raises(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rddensity(x[0])


def reference_draw(rng, coefs, uniform, sigma, manipulation, width, n_reps, n):
    """Plain numpy twin of `rd._draw` with manipulation: x, then (for −δ ≤ x < 0 and π > 0) u, then ε."""
    x, y = np.empty((n_reps, n)), np.empty((n_reps, n))
    for r, i in itertools.product(range(n_reps), range(n)):
        x[r, i] = rng.uniform(-1.0, 1.0) if uniform else 2.0 * rng.beta(2.0, 4.0) - 1.0
        if manipulation > 0 and -width <= x[r, i] < 0 and rng.random() < manipulation:
            x[r, i] = -x[r, i]
        y[r, i] = np.polynomial.polynomial.polyval(x[r, i], coefs[int(x[r, i] >= 0)]) + sigma * rng.standard_normal()
    return x, y


@pytest.mark.parametrize("running_variable", rd_dgp.RUNNING)
def test_the_manipulated_draw_equals_its_twin_and_states_its_jump(running_variable):
    """Same draws as the twin; truth of density_jump 2π·f(0); π = 0 draws exactly what the DGP drew before the option
    (x, then ε, per unit)."""
    defaults = {s.name: s.default for s in rd_dgp.DGPS[0].params}  # the further designs at their defaults
    params = defaults | {"n": 60, "model": "lee", "running": running_variable, "sigma": 0.2, "manipulation_width": 0.3}
    for pi in (0.0, 0.6):
        batch = rd_dgp.generate(np.random.default_rng(3), 3, params | {"manipulation": pi})
        x, y = reference_draw(np.random.default_rng(3), rd_dgp.MODELS["lee"], running_variable == "uniform", 0.2, pi,
                              0.3, 3, 60)  # fmt: skip
        np.testing.assert_array_equal(batch["x"], x)
        np.testing.assert_allclose(batch["y"], y, rtol=1e-13, atol=1e-13)
        f0 = {"beta": 0.625, "uniform": 0.5}[running_variable]
        np.testing.assert_allclose(batch["truth:density_jump"], 2 * pi * f0, rtol=1e-15)
        np.testing.assert_allclose(batch["truth"], 0.04, rtol=1e-12)


def test_the_density_at_the_cutoff_is_the_running_variables():
    """f(0) of DENSITY_AT_CUTOFF is the running variable's density at 0 (scipy's Beta(2, 4) at ½, halved; U(−1, 1))."""
    from scipy import stats

    assert rd_dgp.DENSITY_AT_CUTOFF == {"beta": pytest.approx(stats.beta(2, 4).pdf(0.5) / 2), "uniform": 0.5}


# -- through the seam: scenario text → causalmc.sample / run / estimate --------------------------------------------

SEAM = """dgp = "rd"
estimators = ["rd_density", { name = "rd_density", vce = "plugin", bwselect = "each", label = "rd_density_plugin" }]
[params]
n = 5000
manipulation_width = 0.3
[grid]
manipulation = [0.0, 0.8]
"""


@pytest.fixture(scope="module")
def seam_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rd_density_seam")
    path = write_scenario(folder, "rd_density_seam", SEAM, reps=3)
    return path, causalmc.run(path, out=folder / "runs", jobs=1, progress=False, figures=False)


def test_sample_shows_the_heap_and_estimate_equals_rddensity_and_the_run(seam_run):
    """`sample` at π = 0.8: the units in [−δ, 0) are about 0.2/1.8 of those in [0, δ) (for this design without
    manipulation the two counts are near 0.71 : 1, 3,500 expected units in all: the check is far outside its noise);
    `estimate` on the frame equals rddensity and the run's record."""
    path, run = seam_run
    records = run.records()
    for pi in (0.0, 0.8):
        frame = causalmc.sample(path, cell={"manipulation": pi}, rep=1)
        x = frame["x"].to_numpy()
        below, above = ((x >= -0.3) & (x < 0)).sum(), ((x >= 0) & (x <= 0.3)).sum()
        if pi == 0.8:
            assert below < 0.25 * above
            assert frame.attrs["truths"]["density_jump"] == pytest.approx(1.0)
        else:
            assert below > 0.5 * above
        got = causalmc.estimate("rd_density", frame)
        assert list(got["term"]) == ["density_jump"] and (got["status"] == "ok").all()
        expected = oracle(x, 2, "triangular", "jackknife", "comb", None)
        columns = ["estimate", "se", "t_stat", "p_value", "f_left", "f_right", "h_left", "h_right", "n_h_left",
                   "n_h_right"]  # fmt: skip
        assert_matches(got[columns].to_numpy(float), expected, 1e-8, "estimate vs rddensity")
        mine = records[(records["manipulation"] == pi) & (records["rep"] == 1) & (records["estimator"] == "rd_density")]
        assert_close(got["estimate"].to_numpy(), mine["estimate"].to_numpy(), what="estimate vs run")


def test_the_run_rejects_under_manipulation(seam_run):
    """At π = 0.8 with δ = 0.3 the density drops to 0.2·f(0) just below the cutoff and rises to 1.8·f(0) above it
    (truth 1.0; at n = 5,000 the bandwidths shrink to about δ/3 and T is near 6 against the 1.96 it must pass): both variants reject in every
    replication, T > 0; the truths are recorded per cell."""
    _, run = seam_run
    records = run.records()
    assert (records["status"] == "ok").all() and set(records["term"]) == {"density_jump"}
    manipulated = records[records["manipulation"] == 0.8]
    assert manipulated["reject"].all() and (manipulated["t_stat"] > 0).all()
    np.testing.assert_allclose(manipulated["truth"], 1.0, rtol=1e-15) and (records[records["manipulation"] == 0.0]["truth"] == 0).all()


def test_the_infeasible_bandwidth_minimises_the_population_amse():
    """`infeasible_bandwidth` (rd_coverage's figure) is the minimiser of AMSE(h) = h⁴B² + V/(n h), B = B_K·(m₊''(0) −
    m₋''(0))/2, V = 2σ²κ_K/f(0), with the triangular kernel's B_K and κ_K integrated here by scipy's quad (to 1e-6: the bounded
    minimiser's precision)."""
    from scipy import integrate, optimize

    from causalmc.sims.figures.rd import infeasible_bandwidth

    def moment(k, square=False):
        return integrate.quad(lambda u: (1 - u) ** (2 if square else 1) * u**k, 0, 1)[0]

    s = np.array([[moment(a + b) for b in range(2)] for a in range(2)])
    psi = np.array([[moment(a + b, square=True) for b in range(2)] for a in range(2)])
    s_inv = np.linalg.inv(s)
    bias_k = (s_inv @ [moment(2), moment(3)])[0]
    kappa = (s_inv @ psi @ s_inv)[0, 0]
    for model, n, running in (("lee", 500, "beta"), ("ludwig_miller", 2000, "beta"), ("cct3", 500, "uniform")):
        c = rd_dgp.MODELS[model]
        b = bias_k * (c[1, 2] - c[0, 2])
        v = 2 * 0.1295**2 * kappa / rd_dgp.DENSITY_AT_CUTOFF[running]
        best = optimize.minimize_scalar(lambda h: h**4 * b**2 + v / (n * h), bounds=(1e-3, 2), method="bounded",
                                        options={"xatol": 1e-12})  # fmt: skip
        got = infeasible_bandwidth({"model": model, "n": n, "running": running, "sigma": 0.1295})
        assert got == pytest.approx(best.x, rel=1e-6)
