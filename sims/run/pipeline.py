"""Running scenarios: plan → tasks on a worker pool → records → summary → figures → report.

Data flow, one direction::

    scenario → cells → tasks (cell, chunk) → [worker: stream → DGP batch (the
    data, or its sufficient statistics) → each estimator kernel → arrays] →
    one records file per task → summary → figures → report (report.html, report.md)

The steps have their modules: `plan` (cells, chunks, tasks), `tasks` (a
worker's computation and its random streams), `pool` (loky or Dask),
`execute` (the missing tasks computed, records and manifest written, in
rounds with `adaptive`), `folder` (the run folder: manifest, resume,
refusal); this one writes the summary and calls the figures and report.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import records
from ..scenario import Scenario
from . import folder
from .execute import RunResult, run
from .plan import Plan


@dataclass
class Outcome:
    """A finished scenario: where it is, what was computed, its summary and figures."""

    run: RunResult
    summary: pd.DataFrame
    figures: list[Path]


# Record rows read at once when summarising (more only for one estimator of a cell with more replications).
SUMMARY_BATCH_ROWS = 500_000


def write_summary(run_dir: Path, scenario: Scenario) -> pd.DataFrame:
    """Compute the summary from the records; write summary.parquet and .csv.

    Cells are read a batch at a time (each batch at most about
    `SUMMARY_BATCH_ROWS` record rows, a single cell when it alone has more),
    so memory does not grow with the number of replications or cells.
    """
    from .. import summary as summary_module

    cells = scenario.cells()
    labels = [e.label for e in scenario.estimators]
    rows_per_cell = max(1, (scenario.max_reps or scenario.reps) * len(labels))
    per_batch = max(1, SUMMARY_BATCH_ROWS // rows_per_cell)
    # A cell too big for one batch is read one estimator at a time.
    by_estimator = [[label] for label in labels] if rows_per_cell > SUMMARY_BATCH_ROWS else [None]
    columns = summary_module.needed_columns(scenario.grid)
    parts = []
    for start in range(0, len(cells), per_batch):
        for chosen in by_estimator:
            batch = records.read_cells(run_dir / "records", cells[start : start + per_batch], columns, chosen)
            if batch is not None and len(batch):
                parts.append(summary_module.summarize(batch, grid_params=list(scenario.grid)))
            del batch
    table = summary_module.order_rows(
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(),
        estimator_order=[e.label for e in scenario.estimators],
        cell_order=[c.label for c in cells],
    )
    table = summary_module.with_targets(table, scenario.target_mcse)
    for name, writer in (("summary.parquet", table.to_parquet), ("summary.csv", table.to_csv)):
        tmp = run_dir / f".{name}.tmp"
        try:
            writer(tmp, index=False)
            os.replace(tmp, run_dir / name)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise folder.WriteError(
                f"cannot write {run_dir / name}: {exc.strerror or exc} (errno {exc.errno}); the records are "
                "complete: free space or fix the permissions, then rerun the same command"
            ) from exc
    return table


def run_scenario(
    plan: Plan,
    out: Path,
    jobs: int = 1,
    fresh: bool = False,
    progress: bool = False,
    figures: bool = True,
    backend: str = "loky",
    scheduler: str | None = None,
    report: bool = True,
    workers_write: bool | None = None,
) -> Outcome:
    """Run a planned scenario, then write its summary, draw its figures and write its report."""
    result = run(
        plan, out, jobs=jobs, fresh=fresh, progress=progress, backend=backend, scheduler=scheduler,
        workers_write=workers_write,
    )  # fmt: skip
    table = write_summary(result.run_dir, plan.scenario)
    paths = []
    if figures:
        from ..figures import FigureContext, draw

        started = time.perf_counter()
        context = FigureContext(plan.scenario, table, result.run_dir, lambda: records.read(result.run_dir / "records"))
        paths = draw(context)
        folder.add_timings(result.run_dir, figure_seconds=round(time.perf_counter() - started, 3))
    if report:
        from ..report import page

        started = time.perf_counter()
        page.write(result.run_dir, plan.scenario, table, paths)
        folder.add_timings(result.run_dir, report_seconds=round(time.perf_counter() - started, 3))
    return Outcome(result, table, paths)
