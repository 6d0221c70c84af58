"""Replications chosen by precision (``target_mcse`` / ``max_reps``).

An adaptive run adds whole chunks per cell until every targeted MCSE is
within its target or the cell is at ``max_reps``; it must equal a
fixed-count run of the counts it ends with, stop exactly where a target is
met, say so when one never is, and resume after an interruption.
"""

import json
import math

import pandas as pd
import pytest

from causalmc.sims import records
from causalmc.sims.run import execute, folder, pipeline
from causalmc.sims.run.plan import make_plan
from causalmc.sims.cli import main
from causalmc.sims.scenario import parse

CHUNK = 200
BASE = {
    "name": "adaptive",
    "dgp": "confounding",
    "seed": 11,
    "estimators": ["ols", {"name": "ols_adjusted", "label": "adjusted"}],
    "grid": {"n": [30, 200]},
}


def adaptive(**changes):
    return parse({**BASE, "reps": CHUNK, "max_reps": 10 * CHUNK, "target_mcse": {"coverage": 0.01}, **changes})


def run(scenario, out):
    result = execute.run(make_plan(scenario), out)
    return result, pipeline.write_summary(result.run_dir, scenario)


def sorted_records(run_dir):
    table = records.read(run_dir / "records").drop(columns=["cell"])
    return table.sort_values(["n", "rep", "estimator"]).reset_index(drop=True)


def max_mcse(summary, measure):
    return summary.groupby("cell", sort=False)[f"{measure}_mcse"].max()


def test_adaptive_run_equals_the_fixed_run_of_its_final_counts(tmp_path):
    result, summary = run(adaptive(), tmp_path / "a")
    counts = summary.groupby("n")["reps"].max()
    assert counts.nunique() == 2, "the two cells need different counts (or the test shows nothing)"
    assert all(c % CHUNK == 0 and CHUNK < c < 10 * CHUNK for c in counts)
    assert summary["target_met"].all() and (max_mcse(summary, "coverage") <= 0.01).all()
    fixed = []
    for n, reps in counts.items():
        scenario = parse({**BASE, "name": f"fixed{n}", "grid": {"n": [n]}, "reps": int(reps), "chunk_size": CHUNK})
        fixed.append(sorted_records(run(scenario, tmp_path / "f")[0].run_dir))
    expected = pd.concat(fixed).sort_values(["n", "rep", "estimator"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(sorted_records(result.run_dir), expected)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["reps"] == {f"n={n}": int(c) for n, c in counts.items()}
    assert manifest["rounds"][0] == {
        label: {"reps": CHUNK, "met": False, "missed": ["coverage"]} for label in ("n=30", "n=200")
    }


def test_a_target_met_exactly_stops_there_and_a_hair_tighter_adds_exactly_one_chunk(tmp_path):
    _, pilot = run(parse({**BASE, "reps": CHUNK, "chunk_size": CHUNK}), tmp_path / "pilot")
    at_pilot = float(pilot["coverage_mcse"].max())
    _, summary = run(adaptive(target_mcse={"coverage": at_pilot}), tmp_path / "exact")
    assert (summary["reps"] == CHUNK).all() and summary["target_met"].all()
    # Tighter by a hair: the projection asks for a hair more than one chunk, so exactly one is added to the
    # cell that missed, whose MCSE then falls by about 1/√2 and meets it at the chunk boundary.
    hair = at_pilot * (1 - 1e-9)
    _, summary = run(adaptive(target_mcse={"coverage": hair}), tmp_path / "hair")
    reps = summary.groupby("cell")["reps"].max()
    assert summary["target_met"].all()
    for cell, mcse in max_mcse(pilot, "coverage").items():
        assert reps[cell] == (2 * CHUNK if mcse == at_pilot else CHUNK if mcse <= hair else reps[cell])
    assert (reps == 2 * CHUNK).any()


def test_a_target_never_met_stops_at_max_reps_and_says_so(tmp_path, capsys):
    path = tmp_path / "never.toml"
    path.write_text(
        'name = "never"\ndgp = "confounding"\nreps = 200\nseed = 2\nestimators = ["ols_adjusted"]\n'
        "max_reps = 700\ntarget_mcse = { bias = 1e-6, coverage = 0.5 }\n[grid]\nn = [30]\n"
    )
    code = main(["run", str(path), "--out", str(tmp_path / "out"), "--jobs", "1", "--no-figures"])
    printed = capsys.readouterr().out
    assert code == 0
    summary = pd.read_parquet(tmp_path / "out" / "never" / "summary.parquet")
    assert summary["reps"].tolist() == [700]  # 200, then straight to the cap: the last chunk partial
    assert summary["target_met"].tolist() == [False] and summary["targets_missed"].tolist() == ["bias"]
    assert "n=30: MCSE targets NOT met at max_reps = 700 (ols_adjusted bias MCSE" in printed
    names = folder.completed_files(tmp_path / "out" / "never")
    assert [name.rsplit("-", 2)[1:] for name in names] == [
        ["00000", "200.parquet"],
        ["00001", "200.parquet"],
        ["00002", "200.parquet"],
        ["00003", "100.parquet"],
    ]


def test_an_adaptive_run_resumes_in_its_second_round(tmp_path, monkeypatch):
    scenario = adaptive()
    complete, _ = run(scenario, tmp_path / "complete")
    expected = sorted_records(complete.run_dir)
    first_round = len(scenario.cells())  # one chunk per cell
    written = []
    original = records.write_atomic

    def dies_in_round_two(table, path):
        if len(written) == first_round + 1:
            raise KeyboardInterrupt
        original(table, path)
        written.append(path)

    monkeypatch.setattr(records, "write_atomic", dies_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        execute.run(make_plan(scenario), tmp_path / "resumed")
    monkeypatch.setattr(records, "write_atomic", original)
    run_dir = tmp_path / "resumed" / scenario.name
    assert json.loads((run_dir / "manifest.json").read_text())["state"] == "interrupted"
    resumed, _ = run(scenario, tmp_path / "resumed")
    assert resumed.reused_tasks == first_round + 1
    pd.testing.assert_frame_equal(sorted_records(run_dir), expected)
    assert not list((run_dir / "records").glob(".*"))


def test_a_tighter_target_extends_a_finished_run_and_a_looser_one_trims_it(tmp_path):
    loose, _ = run(adaptive(target_mcse={"coverage": 0.02}), tmp_path)
    tight, summary_tight = run(adaptive(target_mcse={"coverage": 0.01}), tmp_path)
    assert tight.reused_tasks >= len(loose.plan.tasks)
    again, summary_loose = run(adaptive(target_mcse={"coverage": 0.02}), tmp_path)
    assert again.computed_tasks == 0
    assert sorted(folder.completed_files(again.run_dir)) == sorted(t.file_name for t in loose.plan.tasks)
    assert (summary_loose["reps"] <= summary_tight["reps"]).all()


# -- plan -------------------------------------------------------------------------------------------


def test_plan_projects_what_the_adaptive_run_grows_each_cell_to(tmp_path):
    from causalmc.sims import planning

    scenario = adaptive()
    result, _ = run(scenario, tmp_path)
    second_round = json.loads((result.run_dir / "manifest.json").read_text())["rounds"][1]
    # A pilot of the first round's length sees the first round's records, so the projection is the runner's.
    table = planning.pilot(scenario, CHUNK, workers=(1, 2))
    assert dict(zip(table["cell"], table["planned_reps"])) == {c: s["reps"] for c, s in second_round.items()}
    for row in table.itertuples():
        assert row.reps_for_coverage == math.ceil(CHUNK * (row.coverage_mcse / 0.01) ** 2)
    wall = table.attrs["wall_seconds"]
    assert wall[2] <= wall[1] == pytest.approx((table["planned_reps"] * table["seconds_per_rep"]).sum())


def test_makespan_schedules_largest_first():
    from causalmc.sims.planning import makespan

    assert makespan([2, 3, 2, 3, 2], 2) == 7  # 3|3, then 2 to each, then the last 2 to either
    assert makespan([2, 3, 2, 3, 2], 1) == 12
    assert makespan([5, 1, 1], 4) == 5


def test_plan_command_prints_per_cell_needs_and_writes_nothing(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\ndgp = "confounding"\nreps = 1000\nseed = 2\nestimators = ["ols_adjusted"]\n[grid]\nn = [30, 60]\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(path), "--pilot", "100", "--workers", "2", "--target", "coverage=0.004"]) == 0
    printed = capsys.readouterr().out
    assert "reps for coverage" in printed and "n=30" in printed and "n=60" in printed
    assert "on 2 worker(s)" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]
    assert main(["plan", str(path), "--target", "coverag=0.004"]) == 2
    assert "'--target.coverag': not a measure" in capsys.readouterr().err


# -- chunk sizes ------------------------------------------------------------------------------------


def test_the_default_chunk_follows_a_replications_cost_and_an_explicit_one_wins():
    scenario = parse({**BASE, "reps": 200, "grid": {"n": [100, 1_000_000]}})
    assert [scenario.chunk_for(b) for b in (800, 240_000, 3_000_000, 40_000_000, 10**9)] == [5000, 1000, 50, 5, 1]
    plan = make_plan(scenario)
    per_cell = {cp.cell.label: (cp.chunk_size, cp.bytes_per_rep) for cp in plan.cell_plans}
    assert per_cell["n=100"][0] == 5000
    # n = 10⁶: 24 MB per replication, so 10 replications per task and 20 tasks, enough for 20 workers.
    assert per_cell["n=1000000"] == (10, 24_000_000)
    assert sum(t.cell_key == plan.cells[1].key for t in plan.tasks) == 20
    assert adaptive().chunk_for(800) == CHUNK  # with targets, rounds add chunks of the first round's size
    fixed = parse({**BASE, "reps": 200, "chunk_size": 7})
    assert {cp.chunk_size for cp in make_plan(fixed).cell_plans} == {7}
