"""A task, one (cell, chunk), and what a worker does with it: draw the replications, run every estimator.

Randomness.  Task (cell, chunk) draws from
``SeedSequence(seed, spawn_key=(cell.key, chunk))``: addressed by what is
computed, never by which worker computes it, so any number of workers, any
task order, more replications or another grid value leave existing numbers
unchanged.  Chunk c of a cell holds replications [c·chunk_size, (c+1)·chunk_size),
the cell's chunk size following from the scenario alone (`Scenario.chunk_for`).
A resampling estimator draws from its own stream, keyed by its label as well.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from causalmc.estimators import status as st
from causalmc.estimators.spec import Batch

from .. import dgps, plugins
from ..records import EstimatorOutput, RecordLayout
from ..scenario import EstimatorConfig


@dataclass(frozen=True)
class Task:
    """One (cell, chunk): everything a worker needs, and nothing else."""

    seed: int
    dgp: str
    params: Mapping
    cell_key: int
    chunk: int
    rep_start: int
    n_reps: int
    sub_batch: int
    level: float
    estimators: tuple[EstimatorConfig, ...]
    bytes_per_rep: int  # size of one replication's data: a cost hint for scheduling
    terms: tuple = ()  # per estimator: its term names in this cell, or None for one term (the estimand)
    plugins: tuple[tuple[str, str], ...] = ()  # (source, digest) of the plugins the worker loads first
    inline: tuple = ()  # user estimators and DGPs defined outside any plugin, carried by value
    sampler: str = "data"  # "sufficient": the DGP's sufficient statistics and the estimators' forms for them
    # Set when the worker writes the records file itself (a filesystem it shares with the client):
    # the records folder, the layout and the cell's label and grid values.
    write_to: str | None = None
    layout: RecordLayout | None = None
    cell_label: str = ""
    grid_values: Mapping = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.cell_key:016x}-{self.chunk:05d}-{self.n_reps}.parquet"


@dataclass(frozen=True)
class TaskResult:
    task: Task
    outputs: tuple[EstimatorOutput, ...]  # empty when the worker wrote the records file itself
    seconds: float
    errors: dict = field(default_factory=dict)  # label -> {"rep", "message"}: first error of the task
    written: bool = False


def stream(seed: int, cell_key: int, chunk: int, label: str | None = None) -> np.random.Generator:
    """The random stream of one (cell, chunk): the data's, or (with `label`) a resampling estimator's own."""
    key = (cell_key, chunk) if label is None else (cell_key, chunk, label_key(label))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def label_key(label: str) -> int:
    """A stable 64-bit integer of an estimator label (its stream's key)."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "little")


def compute(task: Task) -> TaskResult:
    """Draw a task's replications and run every estimator on them (worker side).

    A single-term estimator gets ``truth`` of shape (R,) and fills ``out``
    (R, width); an estimator of several terms gets (R, m) truths, one
    column per term (NaN for a term the DGP gives no truth of), and fills
    (R, m, width).  Both come back as (R, m, width) outputs.
    """
    start = time.perf_counter()
    if task.plugins or task.inline:
        plugins.ensure(task.plugins, task.inline)
    dgp = plugins.dgp_registry()[task.dgp]
    generate = dgp.sampler(task.sampler)
    registry = plugins.estimator_registry()
    specs = [registry[e.name] for e in task.estimators]
    terms = [t or (dgp.estimand,) for t in task.terms]
    rng = stream(task.seed, task.cell_key, task.chunk)
    own_streams = [
        stream(task.seed, task.cell_key, task.chunk, config.label) if spec.resampling else None
        for spec, config in zip(specs, task.estimators, strict=True)
    ]
    truths = [np.empty((task.n_reps, len(t))) for t in terms]
    values = [np.empty((task.n_reps, len(t), spec.width)) for spec, t in zip(specs, terms, strict=True)]
    codes = [np.empty((task.n_reps, len(t)), dtype=np.int8) for t in terms]
    errors = {}
    for lo in range(0, task.n_reps, task.sub_batch):
        hi = min(lo + task.sub_batch, task.n_reps)
        batch = Batch(generate(rng, hi - lo, task.params))  # its memo dies with it
        drawn = dgps.pop_truths(batch, dgp.estimand)
        for spec, config, single, names, truth, out, status, own in zip(
            specs, task.estimators, task.terms, terms, truths, values, codes, own_streams, strict=True
        ):
            message = run_estimator(
                spec, batch, drawn, names, single is None, config.options, task.level,
                truth[lo:hi], out[lo:hi], status[lo:hi], task.sampler, own,
            )  # fmt: skip
            if message and config.label not in errors:
                first = lo + int(np.argmax((status[lo:hi] == st.ERROR).any(axis=1)))
                errors[config.label] = {"rep": task.rep_start + first, "message": message}
        # Free the sub-batch before drawing the next, so the allocator hands
        # back the same, still-cached memory instead of fresh lines.
        del batch
    outputs = tuple(
        EstimatorOutput(config.label, names, truth, out, status, spec.diagnostics)
        for spec, config, names, truth, out, status in zip(
            specs, task.estimators, terms, truths, values, codes, strict=True
        )
    )
    return TaskResult(task, outputs, time.perf_counter() - start, errors)


def run_estimator(spec, batch, drawn, names, single, options, level, truth, out, status, sampler="data", rng=None):
    """Run one estimator on a batch: truths (R, m) filled from `drawn`, outputs (R, m, width).

    A single-term estimator's kernel sees its documented one-term shapes,
    as views of the same arrays (no copies).  With the sufficient sampler
    the estimator's form for sufficient statistics runs.  A resampling
    estimator gets `rng`, its own stream (a fixed one when None: the probe,
    a single dataset).  Returns its error message.
    """
    for j, term in enumerate(names):
        truth[:, j] = drawn[term] if term in drawn else np.nan
    kernel = spec.sufficient if sampler == "sufficient" else spec.run
    if spec.resampling:
        kernel = partial(kernel, rng=rng if rng is not None else np.random.default_rng(0))
    if single:
        return kernel(batch, truth[:, 0], options, level, out[:, 0], status[:, 0])
    return kernel(batch, truth, options, level, out, status)
