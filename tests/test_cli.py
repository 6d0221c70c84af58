"""The command line: help, list, summary formats, check, figures."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from causalmc.sims.cli import COMMANDS, main
from conftest import write_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "small.toml"
    path.write_text(
        textwrap.dedent("""\
        name = "small"
        description = "a small run for CLI tests"
        dgp = "confounding"
        reps = 200
        seed = 3
        estimators = ["ols", "ols_adjusted"]
        figures = ["estimate_vs_param", "rejection_vs_param"]
        [grid]
        n = [50, 500]
        [[expect]]
        estimator = "ols_adjusted"
        measure = "bias"
        equals = 0.0
        [[expect]]
        estimator = "ols"
        measure = "bias"
        equals = 0.0
        """)
    )
    code = main(["run", str(path), "--out", str(folder / "out"), "--jobs", "1"])
    return folder / "out" / "small", code


@pytest.mark.parametrize("command", [c for c in COMMANDS])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "example" in capsys.readouterr().out


def test_top_level_help_runs_as_a_script():
    done = subprocess.run([sys.executable, str(ROOT / "run_bench.py"), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "default suite" in done.stdout


def test_list_shows_dgps_estimators_and_scenarios(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for text in ("confounding", "gamma_x", "diff_means", "needs: y, treatment", "rct.toml", "default suite"):
        assert text in out


def test_failed_expectation_sets_exit_code(finished_run, capsys):
    run_dir, code = finished_run
    assert code == 1  # the second expectation (ols unbiased) is false: OLS is confounded
    assert main(["check", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "small: 2/4 expectations hold" in out  # two cells per expectation
    assert out.count("FAIL ols bias equals 0") == 2


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_summary_formats(finished_run, fmt, capsys):
    run_dir, _ = finished_run
    assert main(["summary", str(run_dir), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "csv":
        assert "bias_mcse" in out.splitlines()[0]
    elif fmt == "json":
        assert {row["estimator"] for row in json.loads(out)} == {"ols", "ols_adjusted"}
    else:
        assert "ols_adjusted" in out and "±" in out


def test_run_writes_the_documented_layout(finished_run):
    run_dir, _ = finished_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["state"] == "complete" and manifest["chunks"]["complete"] == manifest["chunks"]["planned"]
    assert {"fingerprint", "scenario", "versions", "git_revision", "timings"} <= set(manifest)
    records = pd.read_parquet(run_dir / "records")
    expected = ["cell", "n", "rep", "estimator", "term", "truth", "estimate", "se", "ci_low", "ci_high", "reject"]
    expected += ["status", "dof"]
    assert list(records.columns) == expected
    assert len(records) == 2 * 200 * 2
    summary = pd.read_parquet(run_dir / "summary.parquet")
    for measure in (
        "mean_estimate",
        "bias",
        "median_bias",
        "emp_se",
        "rmse",
        "mean_se",
        "se_ratio",
        "coverage",
        "ci_width",
        "rejection",
        "power",
    ):
        assert measure in summary and f"{measure}_mcse" in summary
    assert {"cell", "n", "estimator", "truth", "reps", "n_ok", "n_failed"} <= set(summary.columns)
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "summary.csv")[["n", "bias"]], summary[["n", "bias"]])


def test_figures_are_drawn(finished_run):
    run_dir, _ = finished_run
    names = {p.name for p in (run_dir / "figures").glob("*.png")}
    assert {"bias_vs_n.png", "coverage_vs_n.png", "estimate_vs_n.png", "rejection_vs_n.png"} <= names
    assert all(p.stat().st_size > 10_000 for p in (run_dir / "figures").glob("*.png"))


def test_summary_of_a_non_run_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["summary", str(tmp_path)]) == 2
    assert "not a causalmc run folder" in capsys.readouterr().err


def test_compare_flags_significant_changes(finished_run, tmp_path, capsys):
    run_dir, _ = finished_run
    assert main(["compare", str(run_dir), str(run_dir)]) == 0
    assert "32 comparisons at 4 MCSE: 0 worse, 0 better, 0 changed" in capsys.readouterr().out  # 2 x 2 x 8
    other = tmp_path / "other.toml"
    source = json.loads((run_dir / "manifest.json").read_text())["scenario_source"]
    other.write_text(
        textwrap.dedent(f"""\
        name = "small"
        dgp = "confounding"
        reps = 200
        seed = 4
        estimators = ["ols", "ols_adjusted"]
        [params]
        gamma_y = 2.0
        [grid]
        n = {source["grid"]["n"]}
        """)
    )
    assert main(["run", str(other), "--out", str(tmp_path / "out"), "--quiet", "--no-figures"]) == 0
    worse = tmp_path / "out" / "small"
    assert main(["compare", str(run_dir), str(worse)]) == 1  # gamma_y = 2 doubles the omitted-variable bias
    out = capsys.readouterr().out
    assert "worse in" in out and "ols" in out and "bias" in out
    # The other way round the change is an improvement: listed, and not a failure unless --any-change.
    assert main(["compare", str(worse), str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "better in" in out and "worse in" not in out
    assert main(["compare", str(worse), str(run_dir), "--any-change"]) == 1


def test_the_terminal_shows_a_line_per_scenario_for_several_and_the_claims_measures_for_one(tmp_path, capsys):
    """Several scenarios (the suite): one line each (cells x reps, time, claims held, report) and a closing line
    with the totals and the output folder's index; a failed claim always in full.  One scenario: the headline table
    of the measures its claims use; --verbose: the standard headline columns as well."""
    body = 'dgp = "confounding"\nestimators = ["ols", "ols_adjusted"]\n[params]\nn = 50\n[grid]\nbeta = [0.0, 0.5]\n'
    claim = '[[expect]]\nestimator = "ols_adjusted"\nmeasure = "coverage"\nat_least = 0.5\n'
    good = write_scenario(tmp_path, "good", body + claim)
    bad = write_scenario(tmp_path, "bad", body + '[[expect]]\nestimator = "ols"\nmeasure = "bias"\nequals = 9\n')
    out = tmp_path / "out"
    assert main(["run", str(good), str(bad), "--out", str(out), "--no-figures", "--jobs", "1"]) == 1
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith("good: 2 cells x 3 reps, ")
    assert printed[0].endswith(f"claims 2/2 hold -> {out / 'good' / 'report.html'}")
    assert printed[1].startswith("bad: 2 cells x 3 reps, ") and "claims 0/2 hold" in printed[1]
    assert [line.strip().startswith("FAIL ols bias equals 9") for line in printed[2:4]] == [True, True]
    assert printed[4] == f"2 scenarios, {printed[4].split(' ')[2]} s; claims: 2 of 4 hold; reports: {out / 'index.html'}"
    assert len(printed) == 5
    assert main(["run", str(good), "--out", str(out), "--no-figures", "--jobs", "1"]) == 0
    one = capsys.readouterr().out.splitlines()
    assert one[3].split() == ["beta", "estimator", "coverage"] and "expectations: 2 of 2 hold" in one
    assert main(["run", str(good), "--out", str(out), "--no-figures", "--jobs", "1", "--verbose"]) == 0
    assert capsys.readouterr().out.splitlines()[3].split() == ["beta", "estimator", "bias", "rmse", "coverage",
                                                                "se_ratio"]  # fmt: skip
