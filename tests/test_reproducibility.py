"""Reproducibility and resume contracts of the runner.

- records are bit-identical for --jobs 1 and --jobs 2;
- raising reps keeps the earlier replications; lowering drops the surplus;
- adding a grid value leaves the other cells unchanged;
- a run killed mid-way and rerun ends with the same records as an
  uninterrupted run;
- a run folder of another fingerprint is refused unless --fresh, and a
  revised estimator (one whose numbers changed) gives its scenarios another
  fingerprint.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from causalmc.sims import records
from causalmc.sims.cli import main

ROOT = Path(__file__).resolve().parents[1]


def scenario(tmp_path, reps=600, grid="n = [50, 100]", seed=5, chunk=250, name="rep"):
    path = tmp_path / f"{name}-{reps}-{len(grid)}-{seed}.toml"
    path.write_text(
        textwrap.dedent(f"""\
        name = "{name}"
        dgp = "rct"
        reps = {reps}
        seed = {seed}
        chunk_size = {chunk}
        estimators = ["ols", "ols_adjusted", "diff_means", {{ name = "ols", se = "hc1" }}]
        [params]
        selection = 0.5
        [grid]
        {grid}
        """)
    )
    return path


def run(path, out, *extra):
    return main(["run", str(path), "--out", str(out), "--quiet", "--no-figures", *extra])


def read(out, name="rep"):
    df = records.read(Path(out) / name / "records")
    df = df.astype({c: str for c in ("cell", "estimator", "status")})  # categories differ with the grid
    return df.sort_values(["cell", "rep", "estimator"]).reset_index(drop=True)


def test_jobs_1_and_2_are_bit_identical(tmp_path):
    path = scenario(tmp_path)
    assert run(path, tmp_path / "a", "--jobs", "1") == 0
    assert run(path, tmp_path / "b", "--jobs", "2") == 0
    a, b = read(tmp_path / "a"), read(tmp_path / "b")
    assert len(a) == 2 * 600 * 4
    assert_frame_equal(a, b, check_exact=True)
    sa = pd.read_parquet(tmp_path / "a" / "rep" / "summary.parquet")
    sb = pd.read_parquet(tmp_path / "b" / "rep" / "summary.parquet")
    assert_frame_equal(sa, sb, check_exact=True)


def test_dask_backend_gives_the_same_records(tmp_path):
    pytest.importorskip("dask.distributed")
    path = scenario(tmp_path)
    assert run(path, tmp_path / "a", "--jobs", "1") == 0
    assert run(path, tmp_path / "d", "--jobs", "2", "--backend", "dask") == 0
    assert_frame_equal(read(tmp_path / "a"), read(tmp_path / "d"), check_exact=True)


def test_more_reps_keep_earlier_ones_and_fewer_drop_the_rest(tmp_path):
    out = tmp_path / "out"
    assert run(scenario(tmp_path, reps=600), out, "--jobs", "1") == 0
    before = read(out)
    assert run(scenario(tmp_path, reps=900), out, "--jobs", "1") == 0
    after = read(out)
    assert after["rep"].max() == 899
    assert_frame_equal(after[after["rep"] < 600].reset_index(drop=True), before, check_exact=True)
    manifest = (out / "rep" / "manifest.json").read_text()
    assert '"tasks_reused": 4' in manifest  # two full chunks per cell were kept
    assert run(scenario(tmp_path, reps=600), out, "--jobs", "1") == 0
    assert_frame_equal(read(out), before, check_exact=True)


def test_adding_a_grid_value_leaves_other_cells_unchanged(tmp_path):
    assert run(scenario(tmp_path, grid="n = [50, 100]"), tmp_path / "a", "--jobs", "1") == 0
    assert run(scenario(tmp_path, grid="n = [200, 100, 50]"), tmp_path / "b", "--jobs", "1") == 0
    a, b = read(tmp_path / "a"), read(tmp_path / "b")
    assert_frame_equal(b[b["n"] != 200].reset_index(drop=True), a, check_exact=True)


def test_other_fingerprint_is_refused_unless_fresh(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(scenario(tmp_path, seed=5), out, "--jobs", "1") == 0
    before = read(out)
    assert run(scenario(tmp_path, seed=6), out, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "another version of scenario 'rep'" in err and "--fresh" in err
    assert_frame_equal(read(out), before, check_exact=True)  # untouched
    assert run(scenario(tmp_path, seed=6), out, "--jobs", "1", "--fresh") == 0
    assert not read(out).equals(before)


def test_estimator_revision_is_part_of_the_fingerprint(tmp_path, monkeypatch, capsys):
    """Raising an estimator's `revision` (its numbers changed, even in the last bits) refuses to resume
    a run of a scenario that runs it; a revision of an estimator the scenario does not run changes nothing."""
    from dataclasses import replace

    from causalmc.sims import plugins

    out = tmp_path / "out"
    path = scenario(tmp_path, reps=100, grid="n = [50]")
    assert run(path, out, "--jobs", "1", "--no-figures") == 0
    real = plugins.estimator_registry()
    monkeypatch.setattr(plugins, "estimator_registry", lambda: {**real, "tsls": replace(real["tsls"], revision=1)})
    assert run(path, out, "--jobs", "1", "--no-figures") == 0  # nothing of this scenario changed
    monkeypatch.setattr(plugins, "estimator_registry", lambda: {**real, "ols": replace(real["ols"], revision=1)})
    assert run(path, out, "--jobs", "1", "--no-figures") == 2
    assert "another version of scenario 'rep'" in capsys.readouterr().err


def test_learner_revision_is_part_of_the_fingerprint_of_runs_using_it(tmp_path, monkeypatch, capsys):
    """Raising a learner's `revision` refuses to resume a run whose double-ML estimator names that learner, and
    leaves alone a run of the same estimator with other learners (its numbers did not change)."""
    from dataclasses import replace

    from causalmc.estimators import learners

    out = tmp_path / "out"
    paths = {}
    for ml_l in ("lasso", "ols"):
        paths[ml_l] = tmp_path / f"dml_{ml_l}.toml"
        paths[ml_l].write_text(
            textwrap.dedent(f"""\
            name = "dml_{ml_l}"
            dgp = "plr_ccddhnr"
            reps = 2
            seed = 5
            estimators = [{{ name = "dml_plr", ml_l = "{ml_l}", ml_m = "ols" }}]
            [params]
            n = 60
            dim_x = 3
            """)
        )
        assert run(paths[ml_l], out, "--jobs", "1") == 0
    lasso = learners.LEARNERS["lasso"]
    revised = {**learners.LEARNERS, "lasso": replace(lasso, revision=lasso.revision + 1)}
    monkeypatch.setattr(learners, "LEARNERS", revised)
    monkeypatch.setattr("causalmc.estimators.dml.models.LEARNERS", revised)
    assert run(paths["ols"], out, "--jobs", "1") == 0
    capsys.readouterr()
    assert run(paths["lasso"], out, "--jobs", "1") == 2
    assert "another version of scenario 'dml_lasso'" in capsys.readouterr().err


def test_killed_run_resumes_to_identical_records(tmp_path):
    path = scenario(tmp_path, reps=4000, grid="n = [4000]", chunk=100, name="kill")
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        str(ROOT / "run_bench.py"),
        "run",
        str(path),
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    folder = out / "kill" / "records"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if folder.exists() and len(list(folder.glob("*.parquet"))) >= 5:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = len(list(folder.glob("*.parquet")))
    assert 5 <= done < 40
    assert subprocess.run(cmd, cwd=ROOT).returncode == 0
    assert run(path, tmp_path / "clean", "--jobs", "2") == 0
    resumed, clean = read(out, "kill"), read(tmp_path / "clean", "kill")
    assert len(resumed) == 4000 * 4 and resumed[["cell", "rep", "estimator"]].duplicated().sum() == 0
    assert_frame_equal(resumed, clean, check_exact=True)
    assert not list(folder.glob(".*"))  # no temporary files left
