"""Sharp regression discontinuity: the ``rd`` DGP and the ``rd`` estimator ≡ its twin ≡ rdrobust 2.x.

Conventions held to rdrobust (Python, ``rdrobust(y, x, c=0, p=p, q=p+1, h=h, b=b, kernel=..., vce=...)``):
cutoff 0 with x ≥ 0 treated; the conventional row (τ̂, conventional se), the bias-corrected row (τ̂_bc with the
conventional se) and the robust row (τ̂_bc with the robust se); normal intervals τ̂ ± z·se at the level;
``nn`` with 3 matches (ties in x taken as one group), ``hc1`` scaled by √(N/(N − d)) with N the side's window
and d = p+1 or q+1, ``hc2``/``hc3`` with 1 − h_ii floored at 1e-8; N_h the units with positive h-weight on each
side.
"""

import warnings

import numpy as np
import pytest
from conftest import assert_close, kernel_and_twin, st, write_scenario
from rdrobust import rdrobust

import causalmc

from causalmc.estimators.rd import TERMS
from causalmc.estimators.rd.conventions import KERNELS, UNCLUSTERED_VCE
from causalmc.sims.dgps import rd as rd_dgp

N_DATASETS = 6
DEFAULTS = {s.name: s.default for s in rd_dgp.DESIGN_PARAMS}


def datasets(rng, n_reps, n, ties=False):
    """x = 2·Beta(2, 4) − 1 (rounded to a grid of 0.01 with `ties`, so the nn residuals meet mass points), y a
    smooth function with a jump and heteroskedastic noise."""
    x = 2 * rng.beta(2, 4, (n_reps, n)) - 1
    if ties:
        x = np.round(x, 2)
    y = 0.4 + 0.8 * x - 1.5 * x**2 + 0.3 * (x >= 0) + (0.1 + 0.2 * np.abs(x)) * rng.standard_normal((n_reps, n))
    return {"x": x, "y": y}


def oracle(x, y, p, h, b, kernel, vce, level):
    """rdrobust's three rows: coef, se, ci (3, 4), and N_h."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = rdrobust(y, x, c=0, p=p, q=p + 1, h=h, b=b, kernel=kernel, vce=vce, level=100 * level)
    rows = np.column_stack([fit.coef.values[:, 0], fit.se.values[:, 0], fit.ci.values])
    return rows, np.asarray(fit.N_h, float)


@pytest.mark.parametrize("vce", UNCLUSTERED_VCE)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("p, h, b", [(1, 0.3, 0.3), (1, 0.25, 0.45), (1, 0.5, 0.2), (2, 0.4, 0.6)])
def test_rd_equals_rdrobust(rng, vce, kernel, p, h, b):
    """Kernel ≡ twin ≡ rdrobust to 1e-8 (coef, se, ci of the three rows; N_h), h = b, h < b and h > b, p = 1, 2."""
    batch = datasets(rng, N_DATASETS, 400)
    options = {"p": p, "h": h, "b": b, "kernel": kernel, "vce": vce}
    out, _ = kernel_and_twin("rd", batch, options, level=0.9)
    for r in range(N_DATASETS):
        rows, n_h = oracle(batch["x"][r], batch["y"][r], p, h, b, kernel, vce, 0.9)
        assert_close(out[r, :, :4], rows, what=f"rd {options} vs rdrobust")
        assert_close(out[r, 0, 7:9], n_h, what="N_h")
        assert (out[r, :, 5] == h).all() and (out[r, :, 6] == b).all()


@pytest.mark.parametrize("vce", UNCLUSTERED_VCE)
def test_rd_equals_rdrobust_with_mass_points(rng, vce):
    """x on a grid of 0.01: the nn residuals take tied x together, as rdrobust's dups/dupsid; b defaults to h."""
    batch = datasets(rng, N_DATASETS, 300, ties=True)
    out, _ = kernel_and_twin("rd", batch, {"h": 0.35, "vce": vce}, level=0.95)
    for r in range(N_DATASETS):
        rows, _ = oracle(batch["x"][r], batch["y"][r], 1, 0.35, 0.35, "triangular", vce, 0.95)
        assert_close(out[r, :, :4], rows, what=f"rd {vce} with ties vs rdrobust")


@pytest.mark.parametrize("vce", UNCLUSTERED_VCE)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_mserd_equals_rdrobust(rng, capsys, vce, kernel, p, ties):
    """``bwselect = "mserd"``: h and b equal rdrobust's (rdbwselect mserd with its defaults: stdvars, masspoints =
    "adjust" with bwcheck 10 when a side has ≥ 20 % repeated x, bwrestrict, scaleregul 1) and so do the three rows,
    to 1e-8 (relative), on continuous x and on x rounded to 0.01 (mass points)."""
    batch = datasets(rng, 4, 400, ties=ties)
    options = {"p": p, "kernel": kernel, "vce": vce, "bwselect": "mserd"}
    out, _ = kernel_and_twin("rd", batch, options, level=0.95)
    for r in range(4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = rdrobust(batch["y"][r], batch["x"][r], c=0, p=p, kernel=kernel, vce=vce)
        rows = np.column_stack([fit.coef.values[:, 0], fit.se.values[:, 0], fit.ci.values])
        assert_close(out[r, 0, 5:7], fit.bws.values[:, 0], what=f"mserd {options} h, b vs rdrobust")
        assert_close(out[r, :, :4], rows, what=f"mserd {options} rows vs rdrobust")
        assert_close(out[r, 0, 7:9], np.asarray(fit.N_h, float), what="N_h")
    capsys.readouterr()  # rdrobust prints its mass-point notice


def test_mserd_on_fewer_than_20_units_uses_the_farther_range(rng):
    """rdrobust's rule below N = 20: h = b = max(|min x|, |max x|)."""
    batch = datasets(rng, 3, 19)
    out, status = kernel_and_twin("rd", batch, {"bwselect": "mserd", "vce": "hc0"}, all_ok=False)
    far = np.maximum(np.abs(batch["x"].min(axis=1)), np.abs(batch["x"].max(axis=1)))
    np.testing.assert_array_equal(out[:, 0, 5], far)
    np.testing.assert_array_equal(out[:, 0, 6], far)


def test_reject_tests_each_row_against_its_truth(rng):
    """reject = |τ̂ − truth| > z·se per row, with the row's own truth."""
    batch = datasets(rng, 5, 300)
    truth = np.tile([0.3, 0.2, 0.1], (5, 1))
    out, _ = kernel_and_twin("rd", batch, {"h": 0.4}, truth=truth)
    z = 1.959963984540054
    np.testing.assert_array_equal(out[:, :, 4], (np.abs(out[:, :, 0] - truth) > z * out[:, :, 1]).astype(float))


def test_too_few_observations_is_a_status_where_rdrobust_refuses(rng):
    """A bandwidth holding fewer than q + 1 distinct x on a side: status too_few_observations, NaN numbers, N_h
    still recorded; rdrobust raises on the same data.  hc1 with a window of q + 1 units: no_residual_df."""
    batch = datasets(rng, 1, 200)
    x = batch["x"][0]
    h = np.sort(np.abs(x[x < 0]))[1] * 1.0001  # two units inside on the left, q + 1 = 3 needed
    out, status = kernel_and_twin("rd", batch, {"h": h, "kernel": "uniform"}, all_ok=False)
    assert (status == st.TOO_FEW_OBSERVATIONS).all() and np.isnan(out[:, :, :5]).all()
    assert out[0, 0, 7] == 2
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rdrobust(batch["y"][0], x, c=0, h=h, kernel="uniform")
    one_side = {"x": np.abs(batch["x"]), "y": batch["y"]}
    _, status = kernel_and_twin("rd", one_side, {"h": 0.5}, all_ok=False)
    assert (status == st.TOO_FEW_OBSERVATIONS).all()
    h3 = np.sort(np.abs(x[x < 0]))[2] * 1.0001  # three units: a quadratic fits, hc1 has N − (q+1) = 0
    _, status = kernel_and_twin("rd", batch, {"h": h3, "kernel": "uniform", "vce": "hc1"}, all_ok=False)
    assert (status == st.NO_RESIDUAL_DF).all()


def reference_draw(rng, coefs, uniform, sigma, n_reps, n):
    """Plain numpy twin of `rd._draw` (same draws in the same order: x, then ε, unit after unit)."""
    x, y = np.empty((n_reps, n)), np.empty((n_reps, n))
    for r in range(n_reps):
        for i in range(n):
            x[r, i] = rng.uniform(-1.0, 1.0) if uniform else 2.0 * rng.beta(2.0, 4.0) - 1.0
            m = np.polynomial.polynomial.polyval(x[r, i], coefs[int(x[r, i] >= 0)])
            y[r, i] = m + sigma * rng.standard_normal()
    return x, y


@pytest.mark.parametrize("model", list(rd_dgp.MODELS))
@pytest.mark.parametrize("running", rd_dgp.RUNNING)
def test_the_draw_equals_its_twin(model, running):
    batch = rd_dgp.generate(
        np.random.default_rng(5), 4, DEFAULTS | {"n": 50, "model": model, "running": running, "sigma": 0.2}
    )
    x, y = reference_draw(np.random.default_rng(5), rd_dgp.MODELS[model], running == "uniform", 0.2, 4, 50)
    np.testing.assert_array_equal(batch["x"], x)
    np.testing.assert_allclose(batch["y"], y, rtol=1e-13, atol=1e-13)  # Horner vs polyval's order of operations
    assert (np.abs(batch["x"]) <= 1).all()
    coefs = rd_dgp.MODELS[model]
    for term in ("truth", *(f"truth:{t}" for t in TERMS)):
        np.testing.assert_array_equal(batch[term], coefs[1, 0] - coefs[0, 0])


def test_the_models_are_cct_2014s():
    """τ of each model as CCT (2014) Table 1 states it: 0.04, −3.45, 0.04; the running variable's mean is
    2·E[Beta(2, 4)] − 1 = −1/3 (within 4 standard errors)."""
    assert [round(rd_dgp.truth(m), 12) for m in ("lee", "ludwig_miller", "cct3")] == [0.04, -3.45, 0.04]
    x = rd_dgp.generate(
        np.random.default_rng(9), 1, DEFAULTS | {"n": 20000, "model": "lee", "running": "beta", "sigma": 0.1}
    )["x"]
    sd = np.sqrt(4 * 2 * 4 / (36 * 7) / x.size)  # Var(2B) = 4·αβ/((α+β)²(α+β+1))
    assert abs(x.mean() + 1 / 3) <= 4 * sd


# -- through the seam: scenario text → causalmc.run / sample / estimate --------------------------------------------

SEAM = """dgp = "rd"
estimators = [
    { name = "rd", h = 0.3, label = "rd_nn" },
    { name = "rd", h = 0.25, b = 0.4, kernel = "epanechnikov", vce = "hc3", label = "rd_hc3" },
    { name = "rd", bwselect = "mserd", label = "rd_mserd" },
]
[params]
n = 400
[grid]
model = ["lee", "cct3"]
"""


@pytest.fixture(scope="module")
def seam_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rd_seam")
    path = write_scenario(folder, "rd_seam", SEAM, reps=3)
    return path, causalmc.run(path, out=folder / "runs", jobs=1, progress=False, figures=False)


def test_a_run_records_the_three_rows_with_their_diagnostics(seam_run):
    """Each (cell, rep, estimator) has the terms conventional, bias_corrected, robust with truth τ = 0.04, status,
    h and b as configured, and the effective numbers of units on each side."""
    _, run = seam_run
    records = run.records()
    assert len(records) == 2 * 3 * 3 * 3
    assert set(records["term"]) == set(TERMS) and (records["truth"].round(12) == 0.04).all()
    assert (records["status"] == "ok").all()
    for label, h, b in (("rd_nn", 0.3, 0.3), ("rd_hc3", 0.25, 0.4)):
        rows = records[records["estimator"] == label]
        assert (rows["h"] == h).all() and (rows["b"] == b).all()
        assert (rows["n_h_left"] > 0).all() and (rows["n_h_right"] > 0).all()
    # the bias-corrected row shares the conventional se and the robust row's estimate
    wide = records.pivot_table(index=["cell", "rep", "estimator"], columns="term", values=["estimate", "se"])
    np.testing.assert_array_equal(wide["se"]["bias_corrected"], wide["se"]["conventional"])
    np.testing.assert_array_equal(wide["estimate"]["bias_corrected"], wide["estimate"]["robust"])


def test_sample_and_estimate_equal_rdrobust_and_the_run(seam_run):
    """`sample` gives n rows of x and y; `estimate` on it equals rdrobust on the same frame (1e-8) and the run's
    record of that replication."""
    path, run = seam_run
    records = run.records()
    for model, rep in (("lee", 0), ("cct3", 2)):
        frame = causalmc.sample(path, cell={"model": model}, rep=rep)
        assert list(frame.columns) == ["x", "y", "takeup", "cluster", "covariate"] and len(frame) == 400
        assert frame.attrs["truths"]["robust"] == pytest.approx(0.04, abs=1e-12)
        got = causalmc.estimate({"name": "rd", "h": 0.25, "b": 0.4, "kernel": "epanechnikov", "vce": "hc3"}, frame)
        assert list(got["term"]) == list(TERMS) and (got["status"] == "ok").all()
        rows, n_h = oracle(frame["x"].to_numpy(), frame["y"].to_numpy(), 1, 0.25, 0.4, "epanechnikov", "hc3", 0.95)
        assert_close(got[["estimate", "se", "ci_low", "ci_high"]].to_numpy(), rows, what="estimate vs rdrobust")
        assert_close(got.loc[0, ["n_h_left", "n_h_right"]].to_numpy(float), n_h, what="N_h")
        mine = records[(records["model"] == model) & (records["rep"] == rep) & (records["estimator"] == "rd_hc3")]
        mine = mine.set_index("term").loc[list(TERMS)]
        assert_close(got["estimate"].to_numpy(), mine["estimate"].to_numpy(), what="estimate vs run")
        assert_close(got["se"].to_numpy(), mine["se"].to_numpy(), what="se vs run")
        chosen = causalmc.estimate({"name": "rd", "bwselect": "mserd"}, frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = rdrobust(frame["y"].to_numpy(), frame["x"].to_numpy(), c=0)
        assert_close(chosen.loc[0, ["h", "b"]].to_numpy(float), fit.bws.values[:, 0], what="mserd h, b vs rdrobust")
        assert_close(chosen["estimate"].to_numpy(), fit.coef.values[:, 0], what="mserd estimate vs rdrobust")
        assert_close(chosen["ci_high"].to_numpy(), fit.ci.values[:, 1], what="mserd ci vs rdrobust")


def test_a_bad_option_is_refused_naming_the_key(tmp_path):
    """A vce outside rdrobust's, and a cluster-robust one (cr1, cr2, cr3) without ``cluster``, are scenario errors
    naming the key."""
    for i, (vce, message) in enumerate((("hc4", "vce"), ("cr2", "vce = 'cr2' is cluster-robust: it needs cluster"))):
        body = f'dgp = "rd"\nestimators = [{{ name = "rd", vce = "{vce}" }}]\n'
        path = write_scenario(tmp_path, f"rd_bad_{i}", body)
        with pytest.raises(Exception, match=message):
            causalmc.run(path, out=tmp_path / "runs", jobs=1, progress=False, figures=False)
