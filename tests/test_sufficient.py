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
from causalmc.sims import plugins, runner
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
        result = runner.run(runner.make_plan(scenario), out)
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


@pytest.mark.parametrize(
    "old, new, key, says",
    [
        ("[params]", "[params]\nhetero = 0.5", "'sampler'", "not exact: hetero = 0.5"),
        ('["ols"]', '[{ name = "ols", se = "hc1" }]', "'estimators[0]'", "se = 'hc1' needs every observation"),
        ('["ols"]', '["ols", "my_ols"]', "'estimators[1]'", "'my_ols' needs the raw data, not only its sufficient"),
        ('"sufficient"', '"exact"', "'sampler'", "allowed: data, sufficient"),
        ('dgp = "confounding"', 'dgp = "rct"', "'sampler'", "DGP 'rct' has no sufficient-statistic sampler"),
    ],
)
def test_where_the_sufficient_sampler_is_not_exact_the_scenario_is_refused(tmp_path, capsys, old, new, key, says):
    text = 'name = "s"\ndgp = "confounding"\nsampler = "sufficient"\nreps = 10\nseed = 1\nestimators = ["ols"]\n'
    path = tmp_path / "refused.toml"
    path.write_text((text + "[params]\nn = 50\n").replace(old, new, 1))
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
