"""The plan: a scenario resolved into cells, the estimators and terms of each, chunk sizes and tasks."""

from __future__ import annotations

import math
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from causalmc.estimators import status as st
from causalmc.estimators.spec import BUILT_IN

from .. import dgps, plugins
from ..records import RecordLayout
from ..scenario import Cell, EstimatorConfig, Scenario, ScenarioError
from . import tasks
from .tasks import Task

# Each sub-batch's arrays stay within about this many bytes so they are
# still in the core's L2 cache when the estimators read them.
SUB_BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class CellPlan:
    """How one cell runs: its estimators and terms, its chunk size and sub-batch."""

    cell: Cell
    estimators: tuple[EstimatorConfig, ...]  # those that apply to this cell
    terms: tuple  # per estimator: its term names in this cell, or None for one term
    bytes_per_rep: int  # size of one replication's data (from the probe)
    chunk_size: int
    sub_batch: int


@dataclass
class Plan:
    """A scenario resolved into cells and tasks, with the estimators each cell skips.

    `reps` gives each cell's replication count (cell key -> count); the
    tasks cover exactly those.  An adaptive run (`target_mcse`) replaces it
    round by round (`with_reps`).
    """

    scenario: Scenario
    cells: list[Cell]
    cell_plans: list[CellPlan]
    layout: RecordLayout
    reps: dict
    skipped: list[dict] = field(default_factory=list)
    plugins: tuple[tuple[str, str], ...] = ()  # (source, digest) of the plugins its code comes from
    inline: tuple = ()  # user estimators and DGPs defined outside any plugin

    @property
    def tasks(self) -> list[Task]:
        scenario = self.scenario
        tasks = []
        for cp in self.cell_plans:
            total = self.reps[cp.cell.key]
            for chunk in range(math.ceil(total / cp.chunk_size) if cp.estimators else 0):
                rep_start = chunk * cp.chunk_size
                n_reps = min(cp.chunk_size, total - rep_start)
                tasks.append(
                    Task(
                        scenario.seed,
                        scenario.dgp,
                        dict(cp.cell.params),
                        cp.cell.key,
                        chunk,
                        rep_start,
                        n_reps,
                        min(cp.sub_batch, n_reps),
                        scenario.level,
                        cp.estimators,
                        cp.bytes_per_rep,
                        cp.terms,
                        self.plugins,
                        self.inline,
                        sampler=scenario.sampler,
                    )
                )
        return tasks

    @property
    def total_reps(self) -> int:
        return sum(self.reps[cp.cell.key] for cp in self.cell_plans if cp.estimators)

    def with_reps(self, reps: Mapping) -> Plan:
        """The same plan with other replication counts per cell."""
        return replace(self, reps=dict(reps))


def make_plan(scenario: Scenario) -> Plan:
    """Resolve cells, estimator applicability and chunk sizes; compile every kernel.

    A one-replication probe batch per cell gives the array shapes that
    decide applicability (e.g. the tF procedure needs one instrument) and
    the bytes per replication that size the chunks and sub-batches.
    Running every kernel on it compiles them (or loads numba's cache) in
    this process before any worker starts, so workers load compiled code
    from the cache.
    """
    dgp = scenario.dgp_spec()
    registry = plugins.estimator_registry()
    used_code = [dgp, *(registry[c.name] for c in scenario.estimators)]
    worker_plugins = plugins.worker_sources(obj.origin for obj in used_code)
    inline = tuple({id(obj): obj for obj in used_code if plugins.is_inline(obj.origin)}.values())
    cells = scenario.cells()
    cell_plans, skipped, used = [], [], set()
    for cell in cells:
        probe = _probe(dgp, cell, scenario.sampler)
        drawn = dgps.pop_truths(probe, dgp.estimand)
        shapes = {name: array.shape[1:] for name, array in probe.items()}
        applicable, cell_terms = [], []
        for config in scenario.estimators:
            spec = registry[config.name]
            reason = spec.applies(shapes, config.options) if spec.applies else None
            if reason:
                skipped.append({"cell": cell.label, "estimator": config.label, "reason": reason})
                continue
            applicable.append(config)
            used.add(config.label)
            terms = tuple(spec.terms(shapes, config.options)) if spec.terms else None
            cell_terms.append(terms)
            names = terms or (dgp.estimand,)
            status = np.empty((1, len(names)), np.int8)
            message = tasks.run_estimator(
                spec, probe, drawn, names, terms is None, config.options, scenario.level,
                np.empty((1, len(names))), np.empty((1, len(names), spec.width)), status, scenario.sampler,
            )  # fmt: skip
            if (status == st.ERROR).any():
                raise plugins.PluginError(
                    f"{scenario.path}: estimator {config.label!r} ({spec.origin}) fails on the probe replication "
                    f"of cell {cell.label}, before any work started:\n{message}"
                )
        bytes_per_rep = data_bytes(probe)
        sub_batch = max(1, SUB_BATCH_BYTES // max(bytes_per_rep, 1))
        cell_plans.append(
            CellPlan(
                cell, tuple(applicable), tuple(cell_terms), bytes_per_rep, scenario.chunk_for(bytes_per_rep), sub_batch
            )
        )
    for index, config in enumerate(scenario.estimators):
        if config.label not in used:
            reasons = sorted({s["reason"] for s in skipped if s["estimator"] == config.label})
            raise ScenarioError(
                scenario.path,
                f"estimators[{index}]",
                f"{config.label!r} applies to no cell of this grid: {'; '.join(reasons)}",
            )
    diagnostics = []
    for config in scenario.estimators:
        diagnostics += [d for d in registry[config.name].diagnostics if d not in diagnostics]
    grid_params = tuple((name, scenario.grid_kind(name)) for name in scenario.grid)
    layout = RecordLayout(grid_params, tuple(diagnostics))
    reps = {cell.key: scenario.reps for cell in cells}
    return Plan(scenario, cells, cell_plans, layout, reps, skipped, worker_plugins, inline)


def data_bytes(batch: Mapping) -> int:
    """Bytes of a batch's data arrays (its truths popped): what sizes chunks and sub-batches."""
    return sum(a.nbytes for a in batch.values())


def _probe(dgp, cell: Cell, sampler: str = "data") -> dict:
    """One replication of a cell, for shapes and compilation; a user's DGP that fails is a PluginError."""
    try:
        return dgp.sampler(sampler)(np.random.default_rng(0), 1, cell.params)
    except Exception as exc:
        if dgp.origin == BUILT_IN:
            raise
        detail = "".join(traceback.format_exception(exc)).rstrip()
        raise plugins.PluginError(
            f"DGP {dgp.name!r} ({dgp.origin}) fails on the probe replication of cell {cell.label}, "
            f"before any work started:\n{detail}"
        ) from exc
