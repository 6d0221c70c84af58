"""User code through plugins: the three estimator tiers, user DGPs, the API.

- The example plugin runs through the CLI (--plugin) and the API with
  records bit-identical for --jobs 1, --jobs 2 and Dask.
- A changed plugin is refused on resume, naming it; --fresh accepts it.
- An exception inside a plugin estimator is status ``error`` (counted in the
  summary, first message and traceback in the manifest), a NaN estimate is
  ``non_finite``; neither crashes nor redraws.
- A plugin that fails on the probe replication, does not import, or
  defines a name that exists is exit 2 naming it, with nothing written.
- What the harness derives from a partial result (interval from se with a
  normal or t(df) critical value, reject from the interval) is right.
- The compiled example equals its twin and scipy's Welch test to 1e-8.
"""

import json
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_close, kernel_and_twin, seed_for
from pandas.testing import assert_frame_equal
from scipy import stats

import causalmc
from causalmc.sims import plugins, records
from causalmc.sims.cli import main

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "my_estimators.py"
COMPILED = ROOT / "examples" / "compiled_estimator.py"
EXAMPLE = ROOT / "examples" / "heavy_tails.toml"


@pytest.fixture(autouse=True)
def isolated_registries():
    """Each test loads its own plugins; none leaks into the next."""
    with plugins.isolated():
        yield


def example_scenario(reps=30) -> dict:
    """The example scenario, without its claims (they need its full replications)."""
    scenario = tomllib.loads(EXAMPLE.read_text())
    scenario.pop("expect")
    return scenario | {"reps": reps}


def read(run_dir) -> pd.DataFrame:
    df = records.read(Path(run_dir) / "records")
    df = df.astype({c: str for c in ("cell", "estimator", "status", "errors") if c in df})
    return df.sort_values(["cell", "rep", "estimator"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory):
    """The example plugin's scenario through the CLI with 1 and 2 workers and Dask, and through the API."""
    folder = tmp_path_factory.mktemp("plugin")
    path = folder / "heavy_tails.toml"
    path.write_text(EXAMPLE.read_text().split("[[expect]]")[0])  # its claims need the full replications
    runs = {}
    dask = ["--jobs", "2", "--backend", "dask"]
    with plugins.isolated():  # the example plugin stays loaded for this module's tests only
        for name, extra in {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"], "dask": dask}.items():
            argv = ["run", str(path), "--plugin", str(PLUGIN), "--reps", "30", "--out", str(folder / name), "--quiet"]
            runs[name] = (main([*argv, "--no-figures", *extra]), folder / name / "heavy_tails")
        api = causalmc.run(example_scenario(), plugins=[str(PLUGIN)], out=folder / "api", jobs=2, progress=False)
        runs["api"] = (0, api)
        yield runs


def test_example_plugin_is_bit_identical_across_workers_backends_and_api(example_runs):
    codes = {name: code for name, (code, _) in example_runs.items()}
    assert set(codes.values()) == {0}, codes
    base = read(example_runs["jobs1"][1])
    assert len(base) == 6 * 30 * 5 and (base["status"] == "ok").all()
    for name in ("jobs2", "dask"):
        assert_frame_equal(read(example_runs[name][1]), base, check_exact=True)
    assert_frame_equal(read(example_runs["api"][1].run_dir), base, check_exact=True)


def test_api_run_result_and_reopen(example_runs):
    run = example_runs["api"][1]
    assert isinstance(run, causalmc.Run)
    assert len(run.summary) == 6 * 5 and set(run.summary["estimator"]) == {
        "ols_adjusted", "ols_adjusted_hc1", "sm_ols_hc3", "median_regression", "numpy_ols"
    }  # fmt: skip
    assert len(run.records()) == 6 * 30 * 5
    assert run.figures and all(p.exists() and p.stat().st_size > 0 for p in run.figures)
    assert run.passed and run.expectations.empty
    assert run.manifest["plugins"] == [str(PLUGIN)]
    assert run.scenario.code["dgp:confounding_skewed"]["origin"] == f"plugin {PLUGIN}"
    assert main(["check", str(run.run_dir)]) == 0  # reloads the plugin named in the manifest
    again = causalmc.open(run.run_dir)
    assert_frame_equal(again.summary, run.summary, check_exact=True)
    assert [p.name for p in again.figures] == sorted(p.name for p in run.figures)
    # An estimate-only estimator has bias and spread but no coverage or rejection.
    lad = run.summary[run.summary["estimator"] == "median_regression"]
    assert lad["rmse"].notna().all() and lad["coverage"].isna().all() and lad["rejection"].isna().all()


def test_scenario_as_toml_string_and_dict_give_the_same_records(tmp_path):
    text = textwrap.dedent("""\
        name = "small"
        dgp = "rct"
        reps = 40
        seed = 3
        estimators = ["diff_means", "welch", { name = "diff_means", df = "welch", label = "built_in_welch" }]
        """)
    a = causalmc.run(text, out=tmp_path / "a", jobs=1, progress=False, figures=False, plugins=[str(COMPILED)])
    b = causalmc.run(tomllib.loads(text), out=tmp_path / "b", jobs=1, progress=False, figures=False)
    assert_frame_equal(a.records(), b.records(), check_exact=True)
    # The compiled plugin's estimate is the difference in means, as the built-in's.
    r = a.records()
    assert_close(r[r.estimator == "welch"].estimate.to_numpy(), r[r.estimator == "diff_means"].estimate.to_numpy())
    plugin, built_in = (r[r.estimator == e][["ci_low", "ci_high"]].to_numpy() for e in ("welch", "built_in_welch"))
    assert_close(plugin, built_in, what="compiled plugin vs diff_means(df = welch)")


def test_compiled_plugin_equals_its_twin_and_scipy(rng):
    """Welch SE √(s₁²/n₁ + s₀²/n₀) (divisor n − 1), Welch–Satterthwaite ν, t(ν) intervals: scipy ttest_ind(equal_var=False)."""
    plugins.load(str(COMPILED))
    n_reps, n = 40, 25
    y = rng.standard_normal((n_reps, n)) * rng.uniform(0.5, 3, (n_reps, 1))
    treatment = (rng.uniform(size=(n_reps, n)) < 0.4).astype(float)
    treatment[:, :2], treatment[:, 2:4] = 1.0, 0.0
    truth = rng.standard_normal(n_reps) * 0.1
    out, _ = kernel_and_twin("welch", {"y": y, "treatment": treatment}, truth=truth, level=0.9)
    for r in range(n_reps):
        d = treatment[r] == 1
        test = stats.ttest_ind(y[r, d], y[r, ~d], equal_var=False)
        ci = test.confidence_interval(0.9)
        assert_close(out[r, [2, 3, 5]], [ci.low, ci.high, test.df], what="welch vs scipy")


FLAKY = """
import math
import causalmc

@causalmc.estimator(name="flaky", needs=("y", "x"))
def flaky(data, *, level):
    if data["y"].iloc[0] > 1.0:
        raise RuntimeError("boom on a large first y")
    return {"estimate": float(data["x"].cov(data["y"]) / data["x"].var()), "se": 0.1}

@causalmc.estimator(name="nan_when_negative", needs=("y",))
def nan_when_negative(data, *, level):
    return math.nan if data["y"].iloc[0] < -1.0 else 0.0
"""


def write_plugin(folder, text, name="user_plugin.py") -> Path:
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


def write_scenario(folder, estimators, dgp="confounding", reps=120, extra="") -> Path:
    path = Path(folder) / "s.toml"
    path.write_text(
        f'name = "s"\ndgp = "{dgp}"\nreps = {reps}\nseed = 4\nchunk_size = 40\nestimators = {json.dumps(estimators)}\n'
        f"[params]\nn = 30\n{extra}"
    )
    return path


def test_exceptions_and_nan_estimates_are_statuses(tmp_path, capsys):
    plugin = write_plugin(tmp_path, FLAKY)
    scenario = write_scenario(tmp_path, ["ols", "flaky", "nan_when_negative"])
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--plugin", str(plugin), "--out", str(out), "--jobs", "2", "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "error: flaky raised in cell all" in printed and "boom on a large first y" in printed
    df = records.read(out / "s" / "records")
    flaky = df[df.estimator == "flaky"]
    errors = flaky[flaky.status == "error"]
    assert 0 < len(errors) < len(flaky) and errors[["estimate", "se", "ci_low"]].isna().all().all()
    assert errors["reject"].isna().all()
    nan_rows = df[df.estimator == "nan_when_negative"]
    assert 0 < (nan_rows.status == "non_finite").sum() < len(nan_rows)
    summary = pd.read_parquet(out / "s" / "summary.parquet").set_index("estimator")
    assert summary.loc["flaky", "failures"] == f"error={len(errors)}"
    assert summary.loc["flaky", "n_ok"] == len(flaky) - len(errors)
    manifest = json.loads((out / "s" / "manifest.json").read_text())
    first = manifest["errors"]["all"]["flaky"]
    assert first["rep"] == errors["rep"].min()
    assert "Traceback" in first["message"] and "RuntimeError: boom on a large first y" in first["message"]
    assert "nan_when_negative" not in manifest["errors"]["all"]  # a NaN is not an exception
    # The ok replications are exactly those where the plugin did not raise: same datasets as ols.
    assert (df[df.estimator == "ols"].status == "ok").all()


@pytest.mark.parametrize(
    "body, says",
    [
        ('raise ValueError("always fails")', "ValueError: always fails"),
        ('return "a string"', "returned a str"),
        ('return data["w9"].mean()', "the data's columns: y, x"),
        ('return {"estimate": 1.0, "pvalue": 0.2}', "unknown key(s) 'pvalue'"),
        ('return {"se": 1.0}', "without 'estimate'"),
        ('return {"estimate": 1.0, "ci_low": 0.0}', "one interval bound"),
    ],
)
def test_plugin_failing_on_the_probe_stops_the_run(body, says, tmp_path, capsys):
    plugin = write_plugin(
        tmp_path,
        f"""
        import causalmc

        @causalmc.estimator(name="broken", needs=("y", "x"))
        def broken(data, *, level):
            {body}
        """,
    )
    scenario = write_scenario(tmp_path, ["ols", "broken"])
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--plugin", str(plugin), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "estimator 'broken' (plugin" in err and "fails on the probe replication" in err and says in err, err
    assert not out.exists()


def test_batched_plugin_of_the_wrong_shape_stops_the_run(tmp_path, capsys):
    plugin = write_plugin(
        tmp_path,
        """
        import numpy as np
        import causalmc

        @causalmc.estimator(name="wrong_shape", needs=("y",), batched=True)
        def wrong_shape(batch, *, level):
            return np.zeros(3)
        """,
    )
    scenario = write_scenario(tmp_path, ["wrong_shape"])
    assert main(["run", str(scenario), "--plugin", str(plugin), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "'estimate' has shape (3,); a batched estimator returns shape (1,)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "body, says",
    [
        ('return {"y": rng.standard_normal(n)}, 0.0', "missing ['x']"),
        ('return {"y": rng.standard_normal(n), "x": rng.standard_normal(n), "w": 1.0}, 0.0', "undeclared ['w']"),
        ("return rng.standard_normal(n)", "returned a ndarray"),
        (
            'return {"y": rng.standard_normal(n), "x": rng.standard_normal(n)}, "zero"',
            "truth 'zero' of 'effect' is not a finite number",
        ),
    ],
)
def test_user_dgp_failing_on_the_probe_stops_the_run(body, says, tmp_path, capsys):
    plugin = write_plugin(
        tmp_path,
        f"""
        import causalmc

        @causalmc.dgp(name="bad_dgp", params=(causalmc.Setting("n", 30, "units", minimum=2),), provides=("y", "x"))
        def bad_dgp(rng, *, n):
            {body}
        """,
    )
    scenario = write_scenario(tmp_path, ["ols"], dgp="bad_dgp")
    assert main(["run", str(scenario), "--plugin", str(plugin), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "DGP 'bad_dgp' (plugin" in err and says in err, err
    assert not (tmp_path / "out").exists()


def test_user_dgp_forms_give_the_same_data(tmp_path):
    """(arrays, truth), (frame, truth) and the batched form draw the same numbers from the stream."""
    plugin = write_plugin(
        tmp_path,
        """
        import numpy as np
        import pandas as pd
        import causalmc
        from causalmc import Setting

        PARAMS = (Setting("n", 20, "units", minimum=2), Setting("beta", 0.5, "slope"))

        def draw(rng, n, beta):
            x = rng.standard_normal(n)
            return x, beta * x + rng.standard_normal(n)

        @causalmc.dgp(name="form_arrays", params=PARAMS, provides=("y", "x"))
        def form_arrays(rng, *, n, beta):
            x, y = draw(rng, n, beta)
            return {"y": y, "x": x}, beta

        @causalmc.dgp(name="form_frame", params=PARAMS, provides=("y", "x"))
        def form_frame(rng, *, n, beta):
            x, y = draw(rng, n, beta)
            return pd.DataFrame({"x": x, "y": y}), beta

        @causalmc.dgp(name="form_batched", params=PARAMS, provides=("y", "x"), batched=True)
        def form_batched(rng, n_reps, *, n, beta):
            draws = [draw(rng, n, beta) for _ in range(n_reps)]
            return {"x": np.array([d[0] for d in draws]), "y": np.array([d[1] for d in draws]),
                    "truth": np.full(n_reps, beta)}
        """,
    )
    plugins.load(str(plugin))
    registry = plugins.dgp_registry()
    batches = [
        registry[form].generate(np.random.default_rng(9), 6, {"n": 20, "beta": 0.5})
        for form in ("form_arrays", "form_frame", "form_batched")
    ]
    for batch in batches[1:]:
        for name in ("y", "x", "truth"):
            np.testing.assert_array_equal(batch[name], batches[0][name], err_msg=name)
    assert batches[0]["y"].shape == (6, 20) and (batches[0]["truth"] == 0.5).all()
    scenario = {"name": "forms", "dgp": "form_frame", "reps": 50, "seed": 9, "estimators": ["ols"], "chunk_size": 20}
    run = causalmc.run(scenario, plugins=[str(plugin)], out=tmp_path, jobs=2, progress=False, figures=False)
    assert (run.records()["status"] == "ok").all()


def test_changed_plugin_is_refused_on_resume(tmp_path, capsys):
    plugin = write_plugin(tmp_path, FLAKY)
    scenario = write_scenario(tmp_path, ["ols", "flaky"])
    argv = ["run", str(scenario), "--plugin", str(plugin), "--out", str(tmp_path / "out"), "--quiet", "--no-figures"]
    assert main(argv) == 0
    before = read(tmp_path / "out" / "s")
    plugin.write_text(plugin.read_text().replace("boom on a large first y", "boom, edited"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "estimator 'flaky' from plugin" in err and "has changed" in err and "--fresh" in err, err
    assert_frame_equal(read(tmp_path / "out" / "s"), before, check_exact=True)
    assert main([*argv, "--fresh"]) == 0
    manifest = json.loads((tmp_path / "out" / "s" / "manifest.json").read_text())
    assert "boom, edited" in manifest["errors"]["all"]["flaky"]["message"]


def test_plugins_that_do_not_load_are_exit_2(tmp_path, capsys):
    scenario = write_scenario(tmp_path, ["ols"])
    out = str(tmp_path / "out")
    cases = {
        "syntax.py": ("def broken(:\n", "does not import: SyntaxError"),
        "shadow.py": (
            "import causalmc\n@causalmc.estimator(name='ols', needs=('y',))\ndef f(data, *, level):\n    return 0.0\n",
            "estimator 'ols' is already defined by causalmc",
        ),
        "missing.py": (None, "no such file"),
    }
    for name, (text, says) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        assert main(["run", str(scenario), "--plugin", str(path), "--out", out, "--quiet"]) == 2, name
        err = capsys.readouterr().err
        assert says in err and name in err, (name, err)
    assert not (tmp_path / "out").exists()


def test_a_name_defined_by_two_plugins_names_both_and_is_rolled_back(tmp_path, capsys):
    text = """
        import causalmc

        @causalmc.estimator(name="only_in_{0}", needs=("y",))
        def own(data, *, level):
            return 0.0

        @causalmc.estimator(name="shared_name", needs=("y",))
        def shared(data, *, level):
            return 1.0
        """
    first = write_plugin(tmp_path, text.format("first"), "first.py")
    second = write_plugin(tmp_path, text.format("second"), "second.py")
    scenario = write_scenario(tmp_path, ["shared_name"])
    argv = ["run", str(scenario), "--plugin", str(first), "--plugin", str(second), "--out", str(tmp_path / "o")]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"plugin {second}: estimator 'shared_name' is already defined by plugin {first}" in err, err
    registry = plugins.estimator_registry()
    assert "only_in_first" in registry and "only_in_second" not in registry  # the failed import left nothing


def test_unknown_estimator_says_how_to_load_a_plugin(tmp_path, capsys):
    scenario = write_scenario(tmp_path, ["ols", "not_loaded_here"])
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown estimator 'not_loaded_here'" in err and "--plugin FILE.py" in err and "'ols'" not in err


def test_list_shows_plugin_estimators_and_dgps_with_their_origin(capsys):
    assert main(["list", "--plugin", str(PLUGIN)]) == 0
    out = capsys.readouterr().out
    assert f"sm_ols_hc3: OLS of y on x and the controls by statsmodels, HC3 standard errors   [plugin {PLUGIN}]" in out
    assert "confounding_skewed:" in out and "errors               't3'" in out


def test_harness_derives_intervals_and_tests_from_partial_results(tmp_path):
    """se only: normal interval; se and df: t(df); declared df; reject = truth outside the interval."""
    plugin = write_plugin(
        tmp_path,
        """
        import causalmc

        def slope(data):
            return float(data["x"].cov(data["y"]) / data["x"].var())

        @causalmc.estimator(name="se_only", needs=("y", "x"))
        def se_only(data, *, level):
            return {"estimate": slope(data), "se": 0.2}

        @causalmc.estimator(name="se_df", needs=("y", "x"))
        def se_df(data, *, level):
            return {"estimate": slope(data), "se": 0.2, "df": len(data) - 2}

        @causalmc.estimator(name="declared_df", needs=("y", "x"), df=7)
        def declared_df(data, *, level):
            return {"estimate": slope(data), "se": 0.2}

        @causalmc.estimator(name="own_test", needs=("y", "x"))
        def own_test(data, *, level):
            return {"estimate": slope(data), "se": 0.2, "ci_low": -1.0, "ci_high": 1.0, "reject": True}
        """,
    )
    scenario = {
        "name": "derive", "dgp": "confounding", "reps": 60, "seed": 2, "level": 0.9,
        "estimators": ["se_only", "se_df", "declared_df", "own_test"], "params": {"n": 30},
    }  # fmt: skip
    df = causalmc.run(scenario, plugins=[str(plugin)], out=tmp_path, jobs=1, progress=False, figures=False).records()
    for label, crit in (
        ("se_only", stats.norm.ppf(0.95)),
        ("se_df", stats.t.ppf(0.95, 28)),
        ("declared_df", stats.t.ppf(0.95, 7)),
    ):
        rows = df[df.estimator == label]
        assert_close(rows.ci_high - rows.estimate, np.full(len(rows), crit * 0.2), what=label)
        assert_close(rows.estimate - rows.ci_low, np.full(len(rows), crit * 0.2), what=label)
        outside = (rows.truth < rows.ci_low) | (rows.truth > rows.ci_high)
        assert (rows.reject.astype(bool) == outside).all() and 0 < outside.sum() < len(rows)
    own = df[df.estimator == "own_test"]
    assert (own.ci_low == -1.0).all() and own.reject.astype(bool).all()


def test_inline_estimator_runs_in_worker_processes(tmp_path):
    """Code registered outside any plugin (as in a notebook) travels to loky workers by value."""

    def inline_slope(data, *, level):
        return float(data["x"].cov(data["y"]) / data["x"].var())

    causalmc.estimator(name=f"inline_slope_{seed_for('inline')}", needs=("y", "x"))(inline_slope)
    name = f"inline_slope_{seed_for('inline')}"
    scenario = {"name": "inline", "dgp": "confounding", "reps": 60, "chunk_size": 20, "seed": 1,
                "estimators": ["ols", name], "params": {"n": 40}}  # fmt: skip
    one = causalmc.run(scenario, out=tmp_path / "1", jobs=1, progress=False, figures=False).records()
    two = causalmc.run(scenario, out=tmp_path / "2", jobs=2, progress=False, figures=False).records()
    assert_frame_equal(one, two, check_exact=True)
    rows = one[one.estimator == name]
    assert (rows.status == "ok").all()
    assert_close(rows.estimate.to_numpy(), one[one.estimator == "ols"].estimate.to_numpy(), rtol=1e-10)
