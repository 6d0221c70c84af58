"""A solve's evaluations as ordinary cells of its scenario, in a run folder of the usual format.

The scenario of a solve is the file's with the solved parameter as its
grid parameter, holding the values evaluated so far (the file's other
grid parameters keep their one value), ``chunk_size`` the batch of one
evaluation (the file's own when it sets one), the named estimators only,
and no MCSE targets, claims or suite table.  An evaluation at x adds one
chunk to the cell x: replications [k·batch, (k+1)·batch) of its k-th
evaluation, drawn from the cell's own seeded streams (`sims.run.tasks`),
so they are the same numbers whoever computes them and in whatever order,
and a later run or solve of the same design reuses them.  The folder is
``OUT/<name>``; records files are never pruned by a solve (other cells, a
longer earlier solve's chunks), and a killed solve, replayed from the
start, finds its finished chunks and computes only the rest.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pandas as pd

from .. import records
from .. import summary as summary_module
from ..run import execute, folder
from ..run.plan import Plan, make_plan
from ..scenario import Scenario, parse
from .search import Point

DROPPED_KEYS = ("expect", "suite", "target_mcse", "max_reps", "figures")


class Evaluations:
    """The cells evaluated so far (value -> replications), run and read through the usual engine."""

    def __init__(self, base: Scenario, param: str, integer: bool, labels: list[str], chunk: int, out, jobs: int,
                 fresh: bool) -> None:  # fmt: skip
        self.base, self.param, self.integer, self.labels, self.chunk = base, param, integer, labels, chunk
        self.out, self.jobs, self.fresh = Path(out), jobs, fresh
        source = copy.deepcopy(dict(base.source))
        for key in DROPPED_KEYS:
            source.pop(key, None)
        source.get("params", {}).pop(param, None)
        source["grid"] = {k: list(v) for k, v in base.grid.items() if k != param} | {param: []}
        source["chunk_size"] = chunk
        source["seed"], source["reps"] = base.seed, base.reps  # a --seed/--reps given over the file's
        kept = [e for e in base.estimators if e.label in labels]
        source["estimators"] = [{"name": e.name, "label": e.label, **_plain(e.options)} for e in kept]
        self.source = source
        self.counts: dict[float, int] = {}
        self.cell_plans: dict[float, object] = {}
        self.plan: Plan | None = None
        self.estimand = base.dgp_spec().estimand
        self._points: dict[tuple, pd.DataFrame] = {}

    @property
    def total(self) -> int:
        """Replications drawn over every evaluated value."""
        return sum(self.counts.values())

    def value(self, x: float):
        return int(round(x)) if self.integer else float(x)

    def scenario(self, values) -> Scenario:
        source = copy.deepcopy(self.source)
        source["grid"][self.param] = [self.value(v) for v in sorted(values)]
        return parse(source, self.base.path, self.base.base_dir or None)

    def evaluate(self, values) -> None:
        """One more batch at each of `values` (distinct), computed where its records are missing."""
        for x in values:
            self.counts[x] = self.counts.get(x, 0) + self.chunk
            if x not in self.cell_plans:
                single = make_plan(self.scenario([x]))
                self.cell_plans[x] = single.cell_plans[0]
                self._single = single
        scenario = self.scenario(self.counts)
        by_key = {cp.cell.key: cp for cp in self.cell_plans.values()}
        cells = scenario.cells()
        keyed = {cp.cell.key: x for x, cp in self.cell_plans.items()}
        single = self._single
        self.plan = Plan(
            scenario, cells, [by_key[c.key] for c in cells], single.layout,
            {c.key: self.counts[keyed[c.key]] for c in cells}, [], single.plugins, single.inline,
        )  # fmt: skip
        execute.run(self.plan, self.out, jobs=self.jobs, fresh=self.fresh, keep_records=True)
        self.fresh = False

    @property
    def run_dir(self) -> Path:
        return folder.run_dir_for(self.plan.scenario if self.plan else self.base, self.out)

    def rows(self, x: float) -> pd.DataFrame:
        """The summary rows of the cell x over its replications so far."""
        key = (x, self.counts[x])
        if key not in self._points:
            cell = self.cell_plans[x].cell
            data = records.read_cells(
                self.run_dir / "records", [cell], summary_module.needed_columns([self.param]), max_rep=self.counts[x]
            )
            self._points[key] = summary_module.summarize(data, [self.param])
        return self._points[key]

    def point(self, label: str, x: float, measure: str) -> Point:
        """The measure of estimator `label` at x, over every replication there (the DGP's estimand term)."""
        rows = self.rows(x)
        rows = rows[rows["estimator"] == label]
        if rows.empty:
            return Point(x, math.nan, math.nan, self.counts[x], 0.0)
        chosen = rows[rows["term"] == self.estimand]
        row = (chosen if len(chosen) else rows).iloc[0]
        value, mcse = float(row[measure]), float(row[f"{measure}_mcse"])
        trials = value * (1 - value) / mcse**2 if 0 < value < 1 and mcse > 0 else float(row["n_ok"])
        return Point(x, value, mcse, int(row["reps"]), trials)


def _plain(options) -> dict:
    """Estimator options as a scenario file writes them (lists, not tuples)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
