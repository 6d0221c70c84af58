"""Nothing lost: kills at any point, failing writes, Ctrl-C.

Each interrupted run, rerun with the same command, must end with records
identical to an uninterrupted run's, no replication missing or duplicated
and no temporary file left anywhere in the run folder.

Kills happen inside a child process that SIGKILLs itself at a chosen point
(a patched function of the runner), so every point is hit exactly, not by
luck of timing: while kernels compile (the planning probe), between two
chunks, halfway through writing a chunk file, and while the summary is
being replaced.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from causalmc.sims import records
from causalmc.sims.cli import main
from causalmc.sims.run.folder import completed_files

ROOT = Path(__file__).resolve().parents[1]
NAME = "durable"

# Runs `run_bench.py run …` with a SIGKILL at one point (argv[1]); the rest of argv is the command line.
KILLER = textwrap.dedent("""\
    import os, signal, sys
    from causalmc.sims import records
    from causalmc.sims.run import tasks
    from causalmc.sims.cli import main

    point, argv = sys.argv[1], sys.argv[2:]
    calls = []

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def on_call(owner, name, when):
        original = getattr(owner, name)

        def patched(*args, **kwargs):
            calls.append(name)
            if when(args, len(calls)) == "before":
                die()
            result = original(*args, **kwargs)
            if when(args, len(calls)) == "after":
                die()
            return result

        setattr(owner, name, patched)

    if point == "compile":  # the third kernel call of the planning probe
        on_call(tasks, "run_estimator", lambda args, n: "before" if n == 3 else None)
    elif point == "between_chunks":  # right after the third chunk file is in place
        on_call(records, "write_atomic", lambda args, n: "after" if n == 3 else None)
    elif point == "chunk_write":  # the third chunk file half written under its temporary name
        def half_written(table, where, **options):
            if len(calls) == 2:
                records_pq_write(table, where, **options)
                with open(where, "r+b") as f:
                    f.truncate(os.path.getsize(where) // 2)
                die()
            calls.append("write")
            records_pq_write(table, where, **options)

        records_pq_write = records.pq.write_table
        records.pq.write_table = half_written
    elif point == "summary":  # the summary's temporary file written, not yet renamed
        on_call(os, "replace", lambda args, n: "before" if str(args[1]).endswith("summary.parquet") else None)
    sys.exit(main(argv))
    """)


def write_scenario(tmp_path) -> Path:
    path = tmp_path / "durable.toml"
    path.write_text(
        textwrap.dedent(f"""\
        name = "{NAME}"
        dgp = "rct"
        reps = 1200
        seed = 8
        chunk_size = 100
        estimators = ["ols", "ols_adjusted", {{ name = "ols", se = "hc1" }}]
        [grid]
        n = [60, 400]
        """)
    )
    return path


def command(path, out, *extra):
    return ["run", str(path), "--out", str(out), "--quiet", "--no-figures", *extra]


def read(out):
    df = records.read(Path(out) / NAME / "records")
    return df.sort_values(["cell", "rep", "estimator"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The records of an uninterrupted run, the reference of every test here."""
    tmp = tmp_path_factory.mktemp("clean")
    path = write_scenario(tmp)
    assert main(command(path, tmp / "out", "--jobs", "2")) == 0
    return read(tmp / "out")


def assert_complete_and_identical(out, clean):
    resumed = read(out)
    assert resumed[["cell", "rep", "estimator"]].duplicated().sum() == 0
    assert_frame_equal(resumed, clean, check_exact=True)
    run_dir = Path(out) / NAME
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")], "temporary files left"
    assert json.loads((run_dir / "manifest.json").read_text())["state"] == "complete"
    assert (run_dir / "summary.parquet").exists()


@pytest.mark.parametrize("point", ["compile", "between_chunks", "chunk_write", "summary"])
def test_a_run_killed_at_any_point_resumes_to_identical_records(tmp_path, clean, point):
    path = write_scenario(tmp_path)
    out = tmp_path / "out"
    child = subprocess.run(
        [sys.executable, "-c", KILLER, point, *command(path, out, "--jobs", "1")], cwd=ROOT, capture_output=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    run_dir = out / NAME
    finished = completed_files(run_dir) if run_dir.exists() else []
    expected_files = {"compile": 0, "between_chunks": 3, "chunk_write": 2, "summary": 24}[point]
    assert len(finished) == expected_files
    if point == "chunk_write":
        assert len(list((run_dir / "records").glob(".*.tmp"))) == 1  # the half-written file, never renamed
    if point == "summary":
        assert (run_dir / ".summary.parquet.tmp").exists()
    assert main(command(path, out, "--jobs", "1")) == 0
    assert_complete_and_identical(out, clean)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES], ids=["disk_full", "permission_denied"])
def test_a_failing_write_stops_clearly_keeps_finished_chunks_and_resumes(tmp_path, clean, capsys, monkeypatch, code):
    path = write_scenario(tmp_path)
    out = tmp_path / "out"
    original, calls = records.pq.write_table, []

    def fails_on_the_fourth(table, where, **options):
        calls.append(where)
        if len(calls) == 4:
            with open(where, "wb") as f:
                f.write(b"PAR1 partial")  # what a full disk leaves behind
            raise OSError(code, os.strerror(code), str(where))
        original(table, where, **options)

    monkeypatch.setattr(records.pq, "write_table", fails_on_the_fourth)
    assert main(command(path, out, "--jobs", "1")) == 3
    err = capsys.readouterr().err
    assert os.strerror(code) in err and "3 finished chunks are kept" in err and "rerun the same command" in err
    run_dir = out / NAME
    finished = completed_files(run_dir)
    assert len(finished) == 3
    for name in finished:
        pq.read_table(run_dir / "records" / name)  # readable
    assert not list((run_dir / "records").glob(".*"))
    assert json.loads((run_dir / "manifest.json").read_text())["state"] == "failed"
    monkeypatch.setattr(records.pq, "write_table", original)
    assert main(command(path, out, "--jobs", "1")) == 0
    assert_complete_and_identical(out, clean)


def test_a_failing_summary_write_keeps_the_records(tmp_path, clean, capsys, monkeypatch):
    import pandas as pd

    path = write_scenario(tmp_path)
    out = tmp_path / "out"

    def disk_full(self, where, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_parquet", disk_full)
        assert main(command(path, out, "--jobs", "1")) == 3
    assert "summary.parquet: No space left on device" in capsys.readouterr().err
    assert len(completed_files(out / NAME)) == 24
    assert main(command(path, out, "--jobs", "1")) == 0
    assert_complete_and_identical(out, clean)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _default_sigint():
    """Run in the child between fork and exec: SIGINT back to its default disposition.

    A child inherits an ignored SIGINT (pytest started by `nohup`, or as a background job of a non-interactive
    shell), and Python installs its KeyboardInterrupt handler at start-up only when SIGINT is not ignored: the
    run would then ignore the Ctrl-C and finish, as it should. This test is of Ctrl-C at a terminal, so the
    disposition must be the default before the child's interpreter starts, whatever launched pytest.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_ctrl_c_stops_every_worker_and_leaves_the_run_resumable(tmp_path, clean, backend):
    path = write_scenario(tmp_path)
    out = tmp_path / "out"
    # A slower copy of the scenario (more, larger chunks) so Ctrl-C lands mid-run.
    slow = path.read_text().replace("reps = 1200", "reps = 40000").replace("n = [60, 400]", "n = [60, 4000]")
    slow_path = tmp_path / "slow.toml"
    slow_path.write_text(slow)
    argv = command(slow_path, out, "--jobs", "2", "--backend", backend)
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "run_bench.py"), *argv],
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=_default_sigint,
        stderr=subprocess.PIPE,
    )
    folder = out / NAME / "records"
    deadline = time.monotonic() + 180  # a hang guard, not a speed claim
    while time.monotonic() < deadline and child.poll() is None and len(list(folder.glob("*.parquet"))) < 3:
        time.sleep(0.01)
    assert child.poll() is None, "the run ended before Ctrl-C"
    os.killpg(child.pid, signal.SIGINT)  # what a terminal sends to the foreground group
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err.decode()
    assert "interrupted; rerun the same command to resume" in err.decode()
    deadline = time.monotonic() + 30
    while _group_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(child.pid), "worker processes outlived the interrupted run"
    manifest = json.loads((out / NAME / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    for name in completed_files(out / NAME):
        pq.read_table(folder / name)
    # The same folder finishes the original scenario: the slow run's finished chunks of the
    # shared cell are reused when they match, and the rest is computed.
    assert main(command(slow_path, out, "--jobs", "2", "--reps", "1200")) == 0

    def cell_60(frame):
        return frame[frame["n"] == 60].astype({"cell": str}).reset_index(drop=True)

    assert_frame_equal(cell_60(read(out)), cell_60(clean), check_exact=True)
    assert not [p for p in (out / NAME).rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def small_disk(tmp_path):
    """A 160 KiB tmpfs: a real full disk, hit by the worker processes themselves (needs root and mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_under_two_workers_stops_with_exit_3_and_resumes(tmp_path, clean, capsys, small_disk):
    path = write_scenario(tmp_path)
    out = small_disk / "out"
    assert main(command(path, out, "--jobs", "2")) == 3  # the workers write the records files
    err = capsys.readouterr().err
    assert "No space left on device" in err and "rerun the same command" in err
    run_dir = out / NAME
    finished = completed_files(run_dir)
    assert 0 < len(finished) < 24
    for name in finished:
        pq.read_table(run_dir / "records" / name)
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)  # space freed
    assert main(command(path, out, "--jobs", "2")) == 0
    assert_complete_and_identical(out, clean)
