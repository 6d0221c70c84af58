"""Replications by precision.  With ``target_mcse`` a run goes in rounds, each decided by the records of
the one before alone (`next_reps`), so an adaptive run resumes like any other and equals a fixed-count
run of the counts it ends with."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import records
from .plan import Plan


def next_reps(run_dir: Path, plan: Plan) -> tuple[dict, dict]:
    """An adaptive run's next replication counts per cell, from the records so far.

    A cell whose every targeted MCSE (every estimator and term with that
    measure) is within its target, or that is at `max_reps`, keeps its
    count.  Another grows to the count its worst MCSE projects, as MCSE ∝
    1/√R gives it: R·max(MCSE/target)², rounded up to whole chunks, at
    least one chunk more and at most `max_reps`.  Returns the counts and,
    per cell label, {"reps", "met", "missed"} for the manifest.
    """
    from .. import summary as summary_module

    scenario = plan.scenario
    columns = summary_module.needed_columns(scenario.grid)
    counts, status = dict(plan.reps), {}
    for cp in plan.cell_plans:
        key, reps = cp.cell.key, plan.reps[cp.cell.key]
        if not cp.estimators:
            continue
        rows = summary_module.summarize(
            records.read_cells(run_dir / "records", [cp.cell], columns, max_rep=reps), list(scenario.grid)
        )
        ratios = summary_module.mcse_ratios(rows, scenario.target_mcse)
        missed = sorted(m for m in ratios if (ratios[m] > 1).any())
        status[cp.cell.label] = {"reps": reps, "met": not missed, "missed": missed}
        if missed and reps < scenario.max_reps:
            needed = reps * float(np.nanmax(ratios.to_numpy())) ** 2
            grown = math.ceil(needed / cp.chunk_size) * cp.chunk_size
            counts[key] = min(scenario.max_reps, max(reps + cp.chunk_size, grown))
    return counts, status
