"""Running a plan's missing tasks: the run folder checked, tasks computed on the pool, each task's records
file written (by the worker or the client), the manifest kept up to date; with ``target_mcse``, in rounds.

The summary and figures are separate steps (`sims.run.pipeline`) so they
can be redone from the records alone.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .. import records
from . import folder, pool
from .adaptive import next_reps
from .plan import Plan


@dataclass
class RunResult:
    run_dir: Path
    plan: Plan
    computed_tasks: int
    reused_tasks: int
    seconds: float


def run(
    plan: Plan,
    out: Path,
    jobs: int = 1,
    fresh: bool = False,
    progress: bool = False,
    backend: str = "loky",
    scheduler: str | None = None,
    workers_write: bool | None = None,
    keep_records: bool = False,
) -> RunResult:
    """Compute a planned scenario's missing tasks and write its records.

    Records files are written by the workers themselves when they share the
    output folder's filesystem: always with loky and a local Dask cluster;
    with a remote Dask scheduler only if `workers_write` (the folder must
    then be on a filesystem every worker mounts at the same path).

    With `target_mcse` the run goes in rounds (`next_reps`): the first
    computes `reps` per cell, each next one adds whole chunks to the cells
    whose targets are not met, until all are met or at `max_reps`.  A
    round's counts follow from the records of the one before alone, so an
    adaptive run resumes like any other and equals a fixed-count run of the
    counts it ends with.  The returned plan has the final counts.

    With `keep_records` (a solve's evaluations, `sims.solve`) no records
    file is deleted: other cells' and later chunks are kept for the
    evaluations that follow.

    The summary and figures are separate steps (`sims.summary`,
    `sims.figures`) so they can be redone from the records alone.
    """
    started = time.perf_counter()
    scenario = plan.scenario
    adaptive = bool(scenario.target_mcse)
    run_dir = folder.run_dir_for(scenario, out)
    folder.check_run_dir(run_dir, scenario, fresh)
    if fresh:
        folder.clear(run_dir)
    records_dir = run_dir / "records"
    try:
        records_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise folder.WriteError(f"cannot create {records_dir}: {exc.strerror}") from exc
    for stale in [*records_dir.glob(".*.tmp"), *run_dir.glob(".*.tmp")]:  # left by a killed run
        stale.unlink()
    timings = {"started": datetime.now(UTC).isoformat(timespec="seconds")}
    errors = folder.previous_errors(run_dir) if not fresh else {}
    computed = 0
    compute_seconds = 0.0
    rounds = []
    while True:
        # A later round's chunks left by an earlier, longer run are kept until the last round.
        folder.prune(records_dir, plan, keep_later=adaptive or keep_records, keep_cells=keep_records)
        pending = [t for t in plan.tasks if not (records_dir / t.file_name).exists()]
        computed += len(pending)
        try:
            folder.write_manifest(run_dir, plan, "running", timings, jobs, errors, rounds)
            compute_seconds += _compute_tasks(
                plan,
                pending,
                records_dir,
                errors,
                jobs,
                backend,
                scheduler,
                progress,
                pool.workers_write(backend, scheduler, workers_write),
            )
        except KeyboardInterrupt:
            timings["interrupted"] = datetime.now(UTC).isoformat(timespec="seconds")
            folder.write_manifest(run_dir, plan, "interrupted", timings, jobs, errors, rounds)
            raise
        except OSError as exc:  # writing a records file failed; the finished ones are complete files
            timings["failed"] = datetime.now(UTC).isoformat(timespec="seconds")
            with contextlib.suppress(OSError):  # on a full disk the manifest may not fit either
                folder.write_manifest(run_dir, plan, "failed", timings, jobs, errors, rounds)
            raise folder.WriteError(
                f"cannot write in {records_dir}: {exc.strerror or exc} (errno {exc.errno}); "
                f"the {len(folder.completed_files(run_dir))} finished chunks are kept: free space or fix the "
                "permissions, then rerun the same command to resume"
            ) from exc
        if not adaptive:
            break
        reps, status = next_reps(run_dir, plan)
        rounds.append(status)
        if reps == plan.reps:
            break
        plan = plan.with_reps(reps)
    if adaptive:
        folder.prune(records_dir, plan, keep_later=False)
    reused = len(plan.tasks) - computed
    seconds = time.perf_counter() - started
    timings.update(
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        wall_seconds=round(seconds, 3),
        task_seconds=round(compute_seconds, 3),
        tasks_computed=computed,
        tasks_reused=reused,
    )
    folder.write_manifest(run_dir, plan, "complete", timings, jobs, errors, rounds)
    return RunResult(run_dir, plan, computed, reused, seconds)


def _compute_tasks(plan, pending, records_dir, errors, jobs, backend, scheduler, progress, workers_write) -> float:
    """Compute tasks and write each one's records file (or let workers write it); returns the workers' seconds."""
    # Largest tasks first, so no worker is left with a big one at the end.
    pending = sorted(pending, key=lambda t: -t.n_reps * t.bytes_per_rep)
    cells = {c.key: c for c in plan.cells}
    if workers_write and jobs > 1:
        pending = [
            replace(
                t,
                write_to=str(records_dir),
                layout=plan.layout,
                cell_label=cells[t.cell_key].label,
                grid_values=dict(cells[t.cell_key].grid_values),
            )
            for t in pending
        ]
    seconds = 0.0
    bar = _progress(plan, plan.total_reps - sum(t.n_reps for t in pending), enabled=progress)
    try:
        for result in pool.execute(pending, jobs, backend, scheduler):
            task = result.task
            cell = cells[task.cell_key]
            if not result.written:
                table = plan.layout.table(cell.label, cell.grid_values, task.rep_start, result.outputs)
                records.write_atomic(table, records_dir / task.file_name)
            _keep_first_errors(errors, cell.label, result.errors)
            seconds += result.seconds
            bar.update(task.n_reps)
    finally:
        bar.close()
    return seconds


def _keep_first_errors(errors: dict, cell_label: str, new: dict) -> None:
    """Per (cell, estimator), keep the error of the lowest replication, whatever order tasks finish in."""
    for label, error in new.items():
        kept = errors.setdefault(cell_label, {}).get(label)
        if kept is None or error["rep"] < kept["rep"]:
            errors[cell_label][label] = error


class _NoProgress:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(plan: Plan, done_reps: int, enabled: bool):
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    bar = tqdm(
        total=plan.total_reps,
        unit="rep",
        unit_scale=True,
        desc=plan.scenario.name,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )
    bar.update(done_reps)
    return bar
