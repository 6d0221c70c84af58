"""Planning a run before paying for it: replications each MCSE target needs, and the wall time.

A short pilot (the first `pilot` replications of every cell, from the run's
own random streams, computed in this process as one worker would) gives,
per cell, the seconds one replication costs and every measure's MCSE.
Since an MCSE falls as 1/√R, a target t for a measure whose MCSE is m at
the pilot's P replications needs

    R = ⌈P · (m / t)²⌉

replications, the worst (cell, estimator, term) row deciding.  The wall
time on W workers is the makespan of the run's tasks (chunks of the
planned counts, each costing its replications × seconds per replication)
scheduled largest first onto W workers, as the runner does.  Compute only:
compilation (cached after a first run), the summary and figures come on top.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import replace

import pandas as pd

from . import summary as summary_module
from .run.plan import make_plan
from .run.pool import compute_in_worker
from .scenario import Scenario

DEFAULT_PILOT = 500


def pilot(scenario: Scenario, reps: int = DEFAULT_PILOT, targets: dict | None = None, workers=(1,)) -> pd.DataFrame:
    """Run a pilot of every cell and project what the scenario (or `targets`) costs.

    Parameters
    ----------
    scenario : Scenario
    reps : int
        Pilot replications per cell (at most the scenario's `reps` unless
        it has MCSE targets).
    targets : dict, optional
        measure -> largest MCSE wanted; default the scenario's `target_mcse`.
    workers : sequence of int
        Worker counts to estimate the wall time for.

    Returns
    -------
    DataFrame
        One row per cell: ``seconds_per_rep``; per target ``reps_for_<measure>``
        (what it needs) and ``<measure>_mcse`` (the worst row's at the pilot);
        ``planned_reps`` (with the scenario's own targets, the count its run
        would end with; with other targets, the `reps` they need; without
        targets, the scenario's `reps`); ``seconds_1_worker``
        (planned_reps × seconds_per_rep).  ``attrs["wall_seconds"]`` maps each
        worker count to the whole run's estimated compute time.
    """
    targets = dict(targets if targets is not None else scenario.target_mcse)
    plan = make_plan(scenario)  # compiles every kernel before timing
    plan = plan.with_reps({key: reps for key in plan.reps})
    rows = []
    first = plan.tasks[0]
    compute_in_worker(replace(first, n_reps=1, sub_batch=1))  # first-call costs are not a replication's
    for cp in plan.cell_plans:
        if not cp.estimators:
            continue
        tasks = [t for t in plan.tasks if t.cell_key == cp.cell.key]
        started = time.perf_counter()
        results = [compute_in_worker(t) for t in tasks]
        per_rep = (time.perf_counter() - started) / reps
        table = pd.concat(
            plan.layout.table(cp.cell.label, cp.cell.grid_values, r.task.rep_start, r.outputs).to_pandas()
            for r in results
        )
        summary = summary_module.summarize(table, list(scenario.grid))
        row = {"cell": cp.cell.label, "chunk_size": cp.chunk_size, "seconds_per_rep": per_rep}
        needs = []
        ratios = summary_module.mcse_ratios(summary, targets)
        for measure in targets:
            worst = float(ratios[measure].max())
            row[f"{measure}_mcse"] = float(summary[f"{measure}_mcse"].max())
            need = math.ceil(reps * worst**2) if math.isfinite(worst) else math.nan
            row[f"reps_for_{measure}"] = need
            needs.append(need)
        row["planned_reps"] = _planned(scenario, needs, cp.chunk_size)
        row["seconds_1_worker"] = row["planned_reps"] * per_rep
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["wall_seconds"] = {
        w: makespan(
            [n * r.seconds_per_rep for r in table.itertuples() for n in _chunks(r.planned_reps, r.chunk_size)], w
        )
        for w in workers
    }
    return table


def _planned(scenario: Scenario, needs: list, chunk_size: int) -> int:
    """The replications a run of the scenario would end with, given what each target needs."""
    finite = [n for n in needs if math.isfinite(n)]
    if not finite:
        return scenario.reps
    need = max(finite)
    if scenario.target_mcse:  # whole chunks from `reps` on, as the adaptive runner grows a cell
        grown = scenario.reps if need <= scenario.reps else math.ceil(need / chunk_size) * chunk_size
        return min(scenario.max_reps, grown)
    return need  # what `reps` should be for these targets


def _chunks(reps: int, chunk_size: int) -> list[int]:
    return [min(chunk_size, reps - start) for start in range(0, reps, chunk_size)]


def makespan(costs: list[float], workers: int) -> float:
    """Time to finish tasks of these costs, largest first, each on the worker that frees up first."""
    loads = [0.0] * max(1, workers)
    for cost in sorted(costs, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + cost)
    return max(loads)


def format_plan(table: pd.DataFrame, scenario: Scenario, targets: dict, pilot_reps: int) -> str:
    """The plan as the terminal shows it."""
    lines = [f"{scenario.name}: pilot of {pilot_reps} replications per cell"]
    if targets:
        lines.append("targets: " + ", ".join(f"{m} MCSE ≤ {t:g}" for m, t in targets.items()))
    shown = pd.DataFrame({"cell": table["cell"], "ms/rep": (1000 * table["seconds_per_rep"]).round(3)})
    for measure in targets:
        shown[f"{measure} MCSE@pilot"] = table[f"{measure}_mcse"].map(lambda v: f"{v:.3g}")
        shown[f"reps for {measure}"] = table[f"reps_for_{measure}"]
    shown["planned reps"] = table["planned_reps"]
    shown["seconds"] = table["seconds_1_worker"].round(2)
    lines.append(shown.to_string(index=False))
    total = int(table["planned_reps"].sum())
    for workers, seconds in table.attrs["wall_seconds"].items():
        lines.append(f"estimated compute time for {total:,} replications on {workers} worker(s): {_duration(seconds)}")
    if scenario.target_mcse:
        lines.append(f"(the run grows each cell from {scenario.reps} in whole chunks, at most to {scenario.max_reps})")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
