"""The design fitted to a panel (Arkhangelsky et al. 2021, Section 3.1.1; synthdid 0.0.9's placebo-simulations.R).

Conventions held here: the panel is normalised as R's `estimate_dgp` (Y − ȳ over ‖Y − ȳ‖_F/√NT); L is the rank-r
SVD truncation, F its two-way additive part, M = L − F; the AR(2) coefficients are pooled least squares without an
intercept, rounded to two decimals; the assignment probabilities are a logit's fitted values on [1, √N·U_r].
"""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import statsmodels.api as sm

from causalmc.sims import api
from causalmc.sims.cli import main
from causalmc.sims.dgps import factor_panel as fp
from causalmc.sims.dgps.placebo_panel import load_panel
from causalmc.sims.scenario import load

DGP = fp.DGPS[0]


def random_panel(seed, n=30, t=20, rank=3):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + rng.normal(size=(n, rank)) @ rng.normal(size=(rank, t))
    return y + 0.3 * rng.normal(size=(n, t)), (rng.random(n) < 0.4).astype(float)


@pytest.mark.parametrize("seed", range(8))
def test_the_fit_equals_outside_oracles(seed):
    """L = scipy's rank-r truncation; F additive, M doubly centred; (φ₁, φ₂) = statsmodels OLS (no intercept) of
    E_t on E_t−1, E_t−2 pooled, rounded; Σ = AR(2) correlations scaled to ‖E'E/N‖_F; π = statsmodels Logit."""
    y, exposure = random_panel(seed)
    rank = 1 + seed % 3
    design = fp.fit_design(y, exposure, rank, "ar2")
    n, t = y.shape
    centred = y - y.mean()
    scale = np.linalg.norm(centred) / np.sqrt(n * t)
    u, d, vt = scipy.linalg.svd(centred / scale)
    low_rank = u[:, :rank] @ np.diag(d[:rank]) @ vt[:rank]
    np.testing.assert_allclose(design.f + design.m, low_rank, atol=1e-10)
    np.testing.assert_allclose(design.m.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(design.m.mean(1), 0, atol=1e-12)
    e = centred / scale - low_rank
    ols = sm.OLS(e[:, 2:].ravel(), np.column_stack([e[:, 1:-1].ravel(), e[:, :-2].ravel()])).fit()
    assert design.ar_coef == tuple(np.round(ols.params, 2))
    phi1, phi2 = design.ar_coef
    rho = design.sigma[0] / design.sigma[0, 0]
    np.testing.assert_allclose(rho[1], phi1 / (1 - phi2), atol=1e-12)
    np.testing.assert_allclose(rho[2:], phi1 * rho[1:-1] + phi2 * rho[:-2], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(design.sigma), np.linalg.norm(e.T @ e / n), rtol=1e-12)
    logit = sm.Logit(exposure, sm.add_constant(u[:, :rank] * np.sqrt(n))).fit(disp=0, tol=1e-12, maxiter=100)
    np.testing.assert_allclose(design.pi, logit.predict(), atol=1e-8)


def test_iid_noise_keeps_the_frobenius_norm_and_random_assignment_is_one_half():
    y, exposure = random_panel(0)
    ar2, iid = fp.fit_design(y, exposure, 2, "ar2"), fp.fit_design(y, None, 2, "iid")
    np.testing.assert_allclose(iid.sigma, np.eye(20) * np.linalg.norm(ar2.sigma) / np.sqrt(20), rtol=1e-12)
    assert np.all(iid.pi == 0.5)


@pytest.mark.parametrize("components", list(fp.COMPONENTS))
def test_the_compiled_draw_equals_its_twin(components):
    y, exposure = random_panel(1)
    design = fp.fit_design(y, exposure, 2, "ar2")
    weight_f, weight_m, noise = fp.COMPONENTS[components]
    out, treated = np.empty((40, 30, 20)), np.empty((40, 30))
    fp._draw(np.random.default_rng(5), design.f, design.m, design.sigma_chol, design.pi, 4, 3, 0.7,
             weight_f, weight_m, noise, out, treated, np.empty(20))  # fmt: skip
    twin_y, twin_treated = fp.draw_reference(np.random.default_rng(5), design, 40, 4, 3, 0.7, components)
    np.testing.assert_array_equal(treated, twin_treated)
    np.testing.assert_allclose(out, twin_y, rtol=0, atol=1e-12)


def scenario(tmp_path, params="", grid="", reps=400, estimators='["twfe"]'):
    path = tmp_path / f"fp{len(list(tmp_path.glob('fp*.toml')))}.toml"
    path.write_text(f'name = "fp"\ndgp = "factor_panel"\nreps = {reps}\nseed = 7\nestimators = {estimators}\n'
                    f"[params]\n{params}\n[grid]\n{grid}\n")  # fmt: skip
    return path


def test_cps_through_the_scenario_all_forty_years_the_paper_design(tmp_path):
    """data = "cps" is the paper's panel (all 40 years, not placebo_panel's BDM slice), the default outcome
    log_wage, assignment min_wage, N1 = 10, T1 = 10."""
    parsed = load(scenario(tmp_path))
    (cell,) = parsed.cells()
    assert (cell.params["outcome"], cell.params["assignment"], cell.params["first_period"]) == (
        "log_wage", "min_wage", None
    )  # fmt: skip
    frame = api.sample(parsed, rep=3)
    assert len(frame) == 50 * 40 and frame["period"].max() == 40
    assert set(frame.loc[frame["D"] == 1, "period"]) == set(range(31, 41))
    assert 1 <= frame.groupby("unit")["treated"].first().sum() <= 10


# Arkhangelsky et al. (2021) Table 2's design columns (CPS) and Table 3's (Penn World Table):
# ||F||/sqrt(NT), ||M||/sqrt(NT), sqrt(tr Sigma / T), AR(2), as the replication vignette computes them from each
# simulator's parameters (synthdid's vignettes/paper-results.Rmd, `sim.info`), to the printed three and two digits.
TABLE_2 = {
    "baseline": ("", "0.992, 0.100, 0.098, (0.01, -0.06)"),
    "no_corr": ('noise = "iid"', "0.992, 0.100, 0.098, (0.00, 0.00)"),
    "no_m": ('components = "no_m"', "0.992, 0.000, 0.098, (0.01, -0.06)"),
    "no_f": ('components = "no_f"', "0.000, 0.100, 0.098, (0.01, -0.06)"),
    "noise_only": ('components = "noise_only"', "0.000, 0.000, 0.098, (0.01, -0.06)"),
    "no_noise": ('components = "no_noise"', "0.992, 0.100, 0.000, (0.00, 0.00)"),
    "gun_law": ('assignment = "open_carry"', "0.992, 0.100, 0.098, (0.01, -0.06)"),
    "hours": ('outcome = "hours"', "0.789, 0.402, 0.575, (0.06, 0.00)"),
    "urate": ('outcome = "urate"', "0.752, 0.441, 0.593, (-0.02, -0.01)"),
    "penn": ('data = "penn"', "0.972, 0.229, 0.070, (0.91, -0.22)"),
}


def test_the_papers_design_columns_are_what_sample_shows_for_each_case(tmp_path):
    """Each variant as a [[cases]] entry; `sample` of its cell shows the design columns of the variant drawn."""
    cases = "".join(f'[[cases]]\nname = "{name}"\n{line}\n' for name, (line, _) in TABLE_2.items())
    path = tmp_path / "table2.toml"
    path.write_text(f'name = "t2"\ndgp = "factor_panel"\nreps = 2\nseed = 7\nestimators = ["twfe"]\n{cases}')
    parsed = load(path)
    shown = {}
    for name in TABLE_2:
        text = api.sample(parsed, cell={"case": name}, rep=0).attrs["fitted"]
        numbers = [text.split(f"{label} = ")[1].split(",")[0] for label in ("||F||/sqrt(NT)", "||M||/sqrt(NT)")]
        numbers.append(text.split("sqrt(tr Sigma / T) = ")[1].split(",")[0])
        shown[name] = ", ".join(numbers) + ", " + text.split("AR(2) = ")[1].split(")")[0] + ")"
    assert shown == {name: columns for name, (_, columns) in TABLE_2.items()}


def test_penn_and_the_variants_through_the_scenario(tmp_path):
    frame = api.sample(load(scenario(tmp_path, 'data = "penn"\nt_post = 5\nn_treated = 1\n')), rep=0)
    assert len(frame) == 111 * 48 and frame.groupby("unit")["treated"].first().sum() == 1
    assert frame.attrs["fitted"].startswith("fitted to log_gdp of penn.csv (111 units x 48 periods")
    no_noise = load(scenario(tmp_path, 'components = "no_noise"\nassignment = "random"\ntau = 0.5\n'))
    a, b = api.sample(no_noise, rep=0), api.sample(no_noise, rep=1)
    design = fp.fitted(no_noise.cells()[0].params)
    expected = (design.f + design.m).ravel() + 0.5 * a["D"].to_numpy()
    np.testing.assert_allclose(a["y"].to_numpy(), expected, atol=1e-12)
    assert not a["treated"].equals(b["treated"])  # a new assignment each replication


def test_the_treated_count_follows_rs_rule_with_its_monte_carlo_error(tmp_path):
    """Random assignment (π = 1/2) with the cap above N: the count is Binomial(50, 1/2) but for the (negligible,
    2^-50) empty draw, so its mean is 25 within 4 MCSE; with the default cap of 10 it is always 10."""
    parsed = load(scenario(tmp_path, 'assignment = "random"\nn_treated = 49\ncomponents = "no_noise"\n'))
    batch = DGP.generate(np.random.default_rng(3), 2000, parsed.cells()[0].params)
    counts = batch["treated"].sum(1)
    assert abs(counts.mean() - 25) <= 4 * counts.std(ddof=1) / np.sqrt(len(counts))
    capped = DGP.generate(np.random.default_rng(3), 200, load(scenario(tmp_path)).cells()[0].params)["treated"]
    assert set(capped.sum(1)) <= set(range(1, 11))


def test_the_noise_has_the_fitted_covariance_within_its_monte_carlo_error(tmp_path):
    """noise_only: y = ε ~ N(0, Σ) per unit; the mean of ε_t ε_t+1 over units and replications estimates
    Σ[t, t+1] (its MCSE from the products' spread)."""
    params = load(scenario(tmp_path, 'components = "noise_only"\n')).cells()[0].params
    eps = DGP.generate(np.random.default_rng(11), 400, params)["panel_y"]
    sigma = fp.fitted(params).sigma
    for s in (0, 17):
        products = (eps[:, :, s] * eps[:, :, s + 1]).ravel()
        assert abs(products.mean() - sigma[s, s + 1]) <= 4 * products.std(ddof=1) / np.sqrt(products.size)
        squares = (eps[:, :, s] ** 2).ravel()
        assert abs(squares.mean() - sigma[s, s]) <= 4 * squares.std(ddof=1) / np.sqrt(squares.size)


def test_a_run_records_the_truth_and_the_panel_estimators_run_unchanged(tmp_path):
    run = api.run(scenario(tmp_path, "tau = 0.25\n", reps=20, estimators='["twfe", "twfe_collapsed"]'),
                  out=tmp_path / "out", progress=False, jobs=1, figures=False)  # fmt: skip
    records = run.records()
    assert len(records) == 40 and set(records["truth"]) == {0.25} and set(records["status"]) == {"ok"}


def test_a_file_of_ones_own_and_bad_assignments_are_refused_naming_the_key(tmp_path, capsys):
    y = load_panel(fp.SHIPPED["cps"].path, "state", "year", "log_wage")[0]
    rows = [(f"s{i}", 2000 + t, y[i, t], float(i % 3 == 0), 0.5) for i in range(50) for t in range(40)]
    pd.DataFrame(rows, columns=["id", "t", "y", "law", "half"]).to_csv(tmp_path / "mine.csv", index=False)
    cases = [
        ('data = "mine.csv"\n', "key 'params.unit and params.period and params.outcome and params.assignment'"),
        ('data = "mine.csv"\nunit = "id"\nperiod = "t"\noutcome = "y"\nassignment = "half"\n',
         "key 'params.assignment'"),
        ('assignment = "nothing"\n', "key 'params.assignment'"),
        ("rank = 60\n", "key 'params.data and params.rank'"),
        ("t_post = 40\n", "key 'params.t_post'"),
    ]  # fmt: skip
    for params, key in cases:
        out = tmp_path / "refused"
        assert main(["run", str(scenario(tmp_path, params)), "--out", str(out), "--quiet"]) == 2
        assert key in capsys.readouterr().err and not out.exists()
    ok = scenario(tmp_path, 'data = "mine.csv"\nunit = "id"\nperiod = "t"\noutcome = "y"\nassignment = "law"\n')
    assert len(api.sample(ok, rep=0)) == 50 * 40
