"""The sufficient-statistic sampler: exact draws of (n, mean, scatter), and estimators computed from them.

- The Bartlett draw equals its plain twin, and its moments are the
  Wishart's: E[S] = (n − 1)Σ, E[w̄] = μ, Var(w̄) = Σ/n.
- OLS from the scatter (kernel and twin) equals statsmodels OLS on the
  data the scatter came from, and the data kernel, to 1e-8.  Convention:
  classical σ̂² = SSR/(n − k) with k counting the intercept, t(n − k)
  critical values (statsmodels ``conf_int()``).
- Exactness: at n = 8 (where the sampler's draws could differ most from
  real data) 100,000 replications of each sampler give the same
  distributions of estimate, standard error and t statistic (two-sample
  Kolmogorov–Smirnov) and the same means within 4 MCSE; and the exact
  finite-sample facts hold (95 % coverage of the adjusted regression's t
  interval, SE² unbiased for the variance).
- Where it is not exact the scenario is refused (exit 2).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from causalmc.estimators import status as st
from causalmc.sims import plugins
from causalmc.sims.run import execute
from causalmc.sims.run.plan import make_plan
from causalmc.sims.cli import main
from causalmc.sims.dgps.gaussian import draw_mean_and_scatter, reference_mean_and_scatter
from causalmc.sims.scenario import parse

LEVEL = 0.95


def test_bartlett_draw_equals_its_twin():
    root = np.linalg.cholesky(np.array([[2.0, 0.5, 0.3], [0.5, 1.0, -0.2], [0.3, -0.2, 1.5]]))
    mu = np.array([0.1, -1.0, 2.0])
    mean, scatter = np.empty((50, 3)), np.empty((50, 3, 3))
    draw_mean_and_scatter(np.random.default_rng(4), root, mu, 12, mean, scatter)
    twin_mean, twin_scatter = reference_mean_and_scatter(np.random.default_rng(4), 50, root, mu, 12)
    np.testing.assert_allclose(mean, twin_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scatter, twin_scatter, rtol=1e-12, atol=1e-12)


def test_bartlett_draw_has_the_wishart_moments():
    sigma = np.array([[2.0, 0.5, 0.3], [0.5, 1.0, -0.2], [0.3, -0.2, 1.5]])
    mu, n, reps = np.array([0.1, -1.0, 2.0]), 7, 200_000
    mean, scatter = np.empty((reps, 3)), np.empty((reps, 3, 3))
    draw_mean_and_scatter(np.random.default_rng(5), np.linalg.cholesky(sigma), mu, n, mean, scatter)
    for values, expected in (
        (scatter.reshape(reps, 9), ((n - 1) * sigma).ravel()),
        (mean, mu),
        (((mean - mu)[:, :, None] * (mean - mu)[:, None, :]).reshape(reps, 9), (sigma / n).ravel()),
    ):
        mcse = values.std(axis=0, ddof=1) / np.sqrt(reps)
        assert (np.abs(values.mean(axis=0) - expected) <= 4 * mcse).all()


def datasets(rng, count=40):
    """Random regressions: n from 6 to 300, 0 to 3 controls, correlated regressors, varied scales."""
    for _ in range(count):
        n, p = int(rng.integers(6, 300)), int(rng.integers(0, 4))
        w = rng.standard_normal((p, n)) * rng.uniform(0.5, 3.0, (p, 1))
        x = rng.standard_normal(n) + (w.sum(axis=0) * rng.uniform(-1, 1) if p else 0.0) + rng.uniform(-5, 5)
        y = 1.5 * x - (w.T @ rng.standard_normal(p) if p else 0.0) + rng.standard_normal(n) * rng.uniform(0.3, 3.0)
        yield y, x, w


def sufficient_of(y, x, w):
    """The batch the sampler would give for this dataset: n, mean and centred scatter of [x, w…, y]."""
    data = np.vstack([x, w, y])
    centred = data - data.mean(axis=1, keepdims=True)
    return {"n_obs": np.array([float(len(y))]), "mean": data.mean(axis=1)[None], "scatter": (centred @ centred.T)[None]}


@pytest.mark.parametrize("name", ["ols", "ols_adjusted"])
@pytest.mark.parametrize("df", ["residual", "normal"])
def test_ols_from_the_scatter_equals_statsmodels_and_the_data_kernel(name, df):
    spec = plugins.estimator_registry()[name]
    options = {**spec.default_options(), "df": df}
    rng = np.random.default_rng(11)
    for y, x, w in datasets(rng):
        truth = np.array([1.5])
        outputs = {}
        for label, runner_fn, batch in (
            ("kernel", spec.sufficient, sufficient_of(y, x, w)),
            ("twin", spec.sufficient_reference, sufficient_of(y, x, w)),
            ("data", spec.run, {"y": y[None], "x": x[None], "controls": w[None]}),
        ):
            out, status = np.empty((1, spec.width)), np.empty(1, np.int8)
            runner_fn(batch, truth, options, LEVEL, out, status)
            assert status[0] == st.OK
            outputs[label] = out[0]
        regressors = np.column_stack([np.ones_like(y), x, *(w if name == "ols_adjusted" else [])])
        fit = sm.OLS(y, regressors).fit()  # classical: SSR/(n − k), k with the intercept
        low, high = fit.conf_int(alpha=1 - LEVEL)[1] if df == "residual" else (np.nan, np.nan)
        if df == "normal":
            z = stats.norm.ppf(0.5 + LEVEL / 2)
            low, high = fit.params[1] - z * fit.bse[1], fit.params[1] + z * fit.bse[1]
        expected = np.array([fit.params[1], fit.bse[1], low, high])
        for label, out in outputs.items():
            np.testing.assert_allclose(out[:4], expected, rtol=1e-8, atol=1e-10, err_msg=label)
            assert out[5] == (fit.df_resid if df == "residual" else np.inf)


def test_a_singular_or_too_small_scatter_is_a_status():
    spec = plugins.estimator_registry()["ols_adjusted"]
    options = spec.default_options()
    x = np.arange(6.0)
    cases = {
        st.SINGULAR: sufficient_of(np.ones(6) + np.arange(6) ** 2, x, np.vstack([2 * x])),
        st.NO_VARIATION: sufficient_of(np.arange(6.0) ** 2, np.ones(6), np.vstack([x])),
        st.NO_RESIDUAL_DF: sufficient_of(np.arange(3.0) ** 2, np.array([0.0, 1.0, 3.0]), np.vstack([[1.0, 0.0, 2.0]])),
    }
    for code, batch in cases.items():
        for runner_fn in (spec.sufficient, spec.sufficient_reference):
            out, status = np.empty((1, spec.width)), np.empty(1, np.int8)
            runner_fn(batch, np.array([0.0]), options, LEVEL, out, status)
            assert status[0] == code and np.isnan(out[0, :4]).all()


SMALL_N = {"name": "exact", "dgp": "confounding", "seed": 9, "reps": 100_000, "estimators": ["ols", "ols_adjusted"]}


@pytest.fixture(scope="module")
def both_samplers(tmp_path_factory):
    """100,000 replications at n = 8 from each sampler (the records of both runs)."""
    out = tmp_path_factory.mktemp("samplers")
    records = {}
    for sampler in ("data", "sufficient"):
        scenario = parse({**SMALL_N, "name": sampler, "sampler": sampler, "params": {"n": 8, "beta": 0.3}})
        result = execute.run(make_plan(scenario), out)
        records[sampler] = pd.read_parquet(result.run_dir / "records")
    return records


@pytest.mark.parametrize("estimator", ["ols", "ols_adjusted"])
def test_the_sufficient_sampler_draws_what_the_data_would_give(both_samplers, estimator):
    data, suff = (both_samplers[s] for s in ("data", "sufficient"))
    data, suff = (r[(r["estimator"] == estimator) & (r["status"] == "ok")] for r in (data, suff))
    assert len(data) == len(suff) == 100_000
    for column in ("estimate", "se", "t"):
        a = data[column] if column != "t" else (data["estimate"] - data["truth"]) / data["se"]
        b = suff[column] if column != "t" else (suff["estimate"] - suff["truth"]) / suff["se"]
        # Six KS tests in all: at 1e-3 each, a chance failure is a 0.6 % event for exact samplers.
        assert stats.ks_2samp(a, b).pvalue > 1e-3, column
        mcse = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * mcse, column
    covered = (suff["ci_low"] <= suff["truth"]) & (suff["truth"] <= suff["ci_high"])
    data_covered = (data["ci_low"] <= data["truth"]) & (data["truth"] <= data["ci_high"])
    p, q = covered.mean(), data_covered.mean()
    assert abs(p - q) <= 4 * np.sqrt(p * (1 - p) / len(suff) + q * (1 - q) / len(data))


def test_exact_finite_sample_facts_hold_under_the_sufficient_sampler(both_samplers):
    suff = both_samplers["sufficient"]
    adjusted = suff[suff["estimator"] == "ols_adjusted"]
    covered = ((adjusted["ci_low"] <= adjusted["truth"]) & (adjusted["truth"] <= adjusted["ci_high"])).mean()
    assert abs(covered - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / len(adjusted))  # the t interval is exact
    se2 = adjusted["se"] ** 2  # E[se²] = Var(b̂) under normal homoskedastic errors
    e2 = (adjusted["estimate"] - adjusted["truth"]) ** 2
    diff = se2 - e2
    assert abs(diff.mean()) <= 4 * diff.std() / np.sqrt(len(diff))


IV = ("iv", "pi = 0.5\n")
CONFOUNDING = ("confounding", "")


@pytest.mark.parametrize(
    "design, old, new, key, says",
    [
        (CONFOUNDING, "[params]", "[params]\nhetero = 0.5", "'sampler'", "not exact: hetero = 0.5"),
        (CONFOUNDING, '["ols"]', '[{ name = "ols", se = "hc1" }]', "'estimators[0]'", "se = 'hc1' needs every obs"),
        (CONFOUNDING, '["ols"]', '["ols", "my_ols"]', "'estimators[1]'", "'my_ols' needs the raw data, not only"),
        (CONFOUNDING, '"sufficient"', '"exact"', "'sampler'", "allowed: data, sufficient"),
        (CONFOUNDING, 'dgp = "confounding"', 'dgp = "rct"', "'sampler'", "DGP 'rct' has no sufficient-statistic"),
        (IV, "[params]", "[params]\nhetero = 1.0", "'sampler'", "hetero = 1 makes the errors non-normal"),
        (IV, "[params]", "[params]\nn_clusters = 10", "'sampler'", "n_clusters = 10: clustered units are not"),
        (IV, "[params]", "[params]\nerror_df = 5", "'sampler'", "error_df = 5: t errors are not normal"),
        (IV, '["ols"]', '[{ name = "tsls", se = "hc1" }]', "'estimators[0]'", "se = 'hc1' needs every observation"),
        (IV, '["ols"]', '[{ name = "clr" }]', "'estimators[0]'", "'clr' needs the raw data"),
    ],
)
def test_where_the_sufficient_sampler_is_not_exact_the_scenario_is_refused(
    tmp_path, capsys, design, old, new, key, says
):
    dgp, params = design
    text = f'name = "s"\ndgp = "{dgp}"\nsampler = "sufficient"\nreps = 10\nseed = 1\nestimators = ["ols"]\n'
    path = tmp_path / "refused.toml"
    path.write_text((text + f"[params]\nn = 50\n{params}").replace(old, new, 1))
    plugin = tmp_path / "mine.py"  # a user's estimator: it reads the data, so it cannot run on sufficient statistics
    plugin.write_text(
        "import causalmc, numpy as np\n"
        "@causalmc.estimator(name='my_ols', needs=('y', 'x'))\n"
        "def my_ols(data, *, level):\n"
        "    return {'estimate': float(np.polyfit(data['x'], data['y'], 1)[0]), 'se': 1.0}\n"
    )
    extra = ["--plugin", str(plugin)] if "my_ols" in new else []
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert key in err and says in err and str(path) in err
    assert not (tmp_path / "out").exists()


def test_there_is_no_dataset_to_sample(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\ndgp = "confounding"\nsampler = "sufficient"\nreps = 10\nseed = 1\nestimators = ["ols"]\n'
    )
    assert main(["sample", str(path)]) == 2
    assert "no dataset to sample" in capsys.readouterr().err


# -- instrumental variables ---------------------------------------------------------------------------


def iv_datasets(rng, count=30):
    """Random IV data: n from 15 to 400, K from 1 to 4, shifted and scaled instruments, a confounder."""
    for _ in range(count):
        n, k = int(rng.integers(15, 400)), int(rng.integers(1, 5))
        z = rng.standard_normal((k, n)) * rng.uniform(0.5, 2.0, (k, 1)) + rng.uniform(-2, 2, (k, 1))
        u = rng.standard_normal(n)
        x = z.sum(axis=0) * rng.uniform(0.3, 1.0) + u + rng.standard_normal(n) + 5.0
        y = 1.0 + 2.0 * x + 3.0 * u + rng.standard_normal(n)
        yield y, x, z


def run_forms(name, options, y, x, z, truth):
    """The estimator's outputs from the scatter (kernel, twin) and from the data (kernel)."""
    spec = plugins.estimator_registry()[name]
    options = {**spec.default_options(), **options}
    outputs = {}
    for label, runner_fn, batch in (
        ("kernel", spec.sufficient, sufficient_of(y, x, z)),
        ("twin", spec.sufficient_reference, sufficient_of(y, x, z)),
        ("data", spec.run, {"y": y[None], "x": x[None], "z": z[None]}),
    ):
        out, status = np.empty((1, spec.width)), np.empty(1, np.int8)
        runner_fn(batch, np.array([truth]), options, LEVEL, out, status)
        outputs[label] = (out[0], status[0])
    return outputs


@pytest.mark.parametrize(
    "name, options, fuller",
    [("tsls", {}, None), ("liml", {}, 0.0), ("fuller", {"alpha": 1.0}, 1.0), ("tsls_pretest", {"f_min": 10.0}, None)],
)
def test_kclass_from_the_scatter_equals_linearmodels_and_the_data_kernel(name, options, fuller):
    """Convention: classical se² = û'û/(n − 2)/(Qxx − λExx), normal interval: linearmodels
    ``cov_type="unadjusted", debiased=True`` (its t(n − 2) interval is not used; ours is normal)."""
    from linearmodels.iv import IV2SLS, IVLIML

    z_crit = stats.norm.ppf(0.5 + LEVEL / 2)
    for y, x, z in iv_datasets(np.random.default_rng(12)):
        outputs = run_forms(name, options, y, x, z, 2.0)
        exog = np.ones((len(y), 1))
        model = IV2SLS(y, exog, x, z.T) if fuller is None else IVLIML(y, exog, x, z.T, fuller=fuller)
        fit = model.fit(cov_type="unadjusted", debiased=True)
        f = fit.first_stage.diagnostics.loc["endog"]["f.stat"]
        screened = name == "tsls_pretest" and not f > 10.0
        for label, (out, status) in outputs.items():
            assert status == (st.SCREENED_OUT if screened else st.OK), label
            if not screened:
                expected = [fit.params["endog"], fit.std_errors["endog"]]
                np.testing.assert_allclose(out[:2], expected, rtol=1e-8, err_msg=label)
                np.testing.assert_allclose(out[2:4], out[0] + np.array([-z_crit, z_crit]) * out[1], rtol=1e-12)
            np.testing.assert_allclose(out[5], f, rtol=1e-8, err_msg=f"{label} first-stage F")
            np.testing.assert_allclose(out[8], f, rtol=1e-8, err_msg=f"{label} effective F (classical: F)")
            if fuller is not None:
                np.testing.assert_allclose(out[7], fit.kappa, rtol=1e-8, err_msg=f"{label} kappa")


def test_anderson_rubin_from_the_scatter_equals_statsmodels_and_the_data_kernel():
    """Convention: AR(b0) = the classical F test of the instruments in the regression of y − b0·x on
    [1, z], F(K, n − K − 1) (statsmodels ``OLS(...).fit().f_test``); the set is where it equals the
    critical value (each bound checked by plugging it back in)."""
    for y, x, z in iv_datasets(np.random.default_rng(13)):
        outputs = run_forms("anderson_rubin", {}, y, x, z, 2.0)
        k, n = z.shape
        regressors = np.column_stack([np.ones_like(y), z.T])
        restriction = np.eye(k + 1)[1:]
        ar = float(sm.OLS(y - 2.0 * x, regressors).fit().f_test(restriction).fvalue)
        crit = stats.f.ppf(LEVEL, k, n - k - 1)
        for label, (out, status) in outputs.items():
            assert status == st.OK
            np.testing.assert_allclose(out[5], ar, rtol=1e-8, err_msg=label)
            assert out[4] == float(ar > crit)
            for bound in out[2:4]:
                if np.isfinite(bound):
                    at_bound = float(sm.OLS(y - bound * x, regressors).fit().f_test(restriction).fvalue)
                    np.testing.assert_allclose(at_bound, crit, rtol=1e-7, err_msg=f"{label} set bound")
        np.testing.assert_allclose(outputs["kernel"][0][:9], outputs["data"][0][:9], rtol=1e-8, equal_nan=True)
        np.testing.assert_allclose(outputs["twin"][0][:9], outputs["kernel"][0][:9], rtol=1e-7, equal_nan=True)


IV_SMALL_N = {
    "dgp": "iv", "seed": 10, "reps": 100_000,
    "estimators": ["tsls", "liml", "anderson_rubin"],
    "params": {"n": 12, "k_instruments": 2, "pi": 0.5},
}  # fmt: skip


@pytest.fixture(scope="module")
def iv_both_samplers(tmp_path_factory):
    """100,000 IV replications at n = 12, K = 2, from each sampler."""
    out = tmp_path_factory.mktemp("iv_samplers")
    found = {}
    for sampler in ("data", "sufficient"):
        scenario = parse({**IV_SMALL_N, "name": f"iv_{sampler}", "sampler": sampler})
        found[sampler] = pd.read_parquet(execute.run(make_plan(scenario), out).run_dir / "records")
    return found


@pytest.mark.parametrize(
    "estimator, columns",
    [("tsls", ["estimate", "se", "first_stage_f"]), ("liml", ["estimate", "se", "kappa"]),
     ("anderson_rubin", ["ar_stat"])],
)  # fmt: skip
def test_the_iv_sufficient_sampler_draws_what_the_data_would_give(iv_both_samplers, estimator, columns):
    data, suff = (r[(r["estimator"] == estimator) & (r["status"] == "ok")] for r in iv_both_samplers.values())
    assert len(data) == len(suff) == 100_000
    for column in columns:
        # Seven KS tests in all: at 1e-3 each, a chance failure is a 0.7 % event for exact samplers.
        assert stats.ks_2samp(data[column], suff[column]).pvalue > 1e-3, column
        if (estimator, column) in (("tsls", "estimate"), ("tsls", "first_stage_f"), ("anderson_rubin", "ar_stat")):
            # Moments that exist (2SLS with K = 2 has a mean; LIML has none).
            mcse = np.sqrt(data[column].var() / len(data) + suff[column].var() / len(suff))
            assert abs(data[column].mean() - suff[column].mean()) <= 4 * mcse, column


def test_exact_iv_facts_hold_under_the_sufficient_sampler(iv_both_samplers):
    suff = iv_both_samplers["sufficient"]
    ar = suff[suff["estimator"] == "anderson_rubin"]
    rejection = ar["reject"].mean()
    assert abs(rejection - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / len(ar))  # AR is exact under normal errors


def test_without_a_first_stage_the_f_statistic_is_exactly_central_f(tmp_path):
    """With pi = 0 the first-stage F is F(K, n − K − 1) whatever the instruments' values (with pi ≠ 0 it is
    noncentral only given Z, a mixture over Z unconditionally, so only the data sampler can check it there)."""
    scenario = parse({**IV_SMALL_N, "name": "null_first_stage", "sampler": "sufficient", "reps": 50_000,
                      "estimators": ["tsls"], "params": {**IV_SMALL_N["params"], "pi": 0.0}})  # fmt: skip
    records = pd.read_parquet(execute.run(make_plan(scenario), tmp_path).run_dir / "records")
    assert stats.kstest(records["first_stage_f"], stats.f(2, 9).cdf).pvalue > 1e-3
