"""Running scenarios: plan → tasks on a worker pool → records → summary.

Data flow, one direction::

    scenario → cells → tasks (cell, chunk) → [worker: stream → DGP batch (the
    data, or its sufficient statistics) → each estimator kernel → arrays] →
    one records file per task → summary → figures → report (report.html, report.md)

Randomness.  Task (cell, chunk) draws from
``SeedSequence(seed, spawn_key=(cell.key, chunk))``: addressed by what is
computed, never by which worker computes it, so any number of workers, any
task order, more replications or another grid value leave existing numbers
unchanged.  Chunk c of a cell holds replications [c·chunk_size, (c+1)·chunk_size),
the cell's chunk size following from the scenario alone (`Scenario.chunk_for`).

Resume.  Each task's file name encodes (cell key, chunk, replications), and
files are renamed into place only when complete.  A rerun skips the files
that exist, deletes those the plan no longer needs, and computes the rest.
A run directory written with another fingerprint is refused unless
``fresh``.

Workers that share the output folder's filesystem with the client (loky,
a local Dask cluster, or a remote one given ``workers_write``) write their
task's records file themselves, atomically; otherwise they return arrays
and the client writes.  Everything else (manifest, summary, figures,
report) is written by the client.

Replications by precision.  With ``target_mcse`` the run goes in rounds
(`next_reps`), each decided by the records of the one before alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from causalmc.estimators import status as st
from causalmc.estimators.spec import BUILT_IN, Batch

from . import NUMBERS_VERSION, __version__, dgps, plugins, records
from .records import EstimatorOutput, RecordLayout
from .scenario import Cell, EstimatorConfig, Scenario, ScenarioError

# Each sub-batch's arrays stay within about this many bytes so they are
# still in the core's L2 cache when the estimators read them.
SUB_BATCH_BYTES = 1 << 20
RECORD_FILE = re.compile(r"^[0-9a-f]{16}-\d{5,}-\d+\.parquet$")
MANIFEST = "manifest.json"


class RunDirError(RuntimeError):
    """A run directory that cannot be resumed for this scenario."""


class WriteError(RuntimeError):
    """A results file could not be written (disk full, permission denied): what is finished is kept."""


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
            message = run_estimator(
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
    grid_params = tuple((name, dgp.param_map[name].kind) for name in scenario.grid)
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


# -- run directory -------------------------------------------------------------


def run_dir_for(scenario: Scenario, out: Path) -> Path:
    return Path(out) / scenario.name


def check_run_dir(run_dir: Path, scenario: Scenario, fresh: bool) -> None:
    """Refuse a run directory holding results of another fingerprint."""
    if fresh or not run_dir.exists():
        return
    manifest = run_dir / MANIFEST
    if manifest.exists():
        try:
            written = json.loads(manifest.read_text())
            previous = written["fingerprint"]
        except (json.JSONDecodeError, KeyError):
            raise RunDirError(f"{manifest}: unreadable manifest; rerun with --fresh to start over") from None
        if previous != scenario.fingerprint() and (changed := _changed_code(written, scenario)):
            raise RunDirError(
                f"{run_dir} holds results of scenario {scenario.name!r} computed with other code: "
                f"{'; '.join(changed)}; rerun with --fresh to discard them, or choose another --out"
            )
        if previous != scenario.fingerprint():
            raise RunDirError(
                f"{run_dir} holds results of another version of scenario {scenario.name!r} "
                f"(fingerprint {previous}, now {scenario.fingerprint()}: the seed, level, chunk size, fixed "
                "parameters, estimators or engine version differ); rerun with --fresh to discard them, "
                "or choose another --out"
            )
    elif any(RECORD_FILE.match(p.name) for p in (run_dir / "records").glob("*.parquet")):
        raise RunDirError(f"{run_dir} holds records but no manifest; rerun with --fresh to discard them")


def _changed_code(manifest: dict, scenario: Scenario) -> list[str]:
    """The user code (plugins) whose identity differs from the one a run was written with."""
    before = manifest.get("scenario", {}).get("code", {})
    now = scenario.code
    changed = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old is None or new is None or old["identity"] != new["identity"]:
            origin = (new or old)["origin"]
            kind, _, label = name.partition(":")
            changed.append(
                f"{kind} {label!r} from {origin} has changed since (code {old and old['identity']} → "
                f"{new and new['identity']})"
            )
    return changed


def _clear(run_dir: Path) -> None:
    """Remove what a previous run wrote (only causalmc's own files)."""
    for name in (MANIFEST, "summary.parquet", "summary.csv", "report.html", "report.md"):
        (run_dir / name).unlink(missing_ok=True)
    for folder in ("records", "figures"):
        shutil.rmtree(run_dir / folder, ignore_errors=True)


@cache
def _git_revision() -> str | None:
    """The source checkout's commit (with "-dirty" for local changes), once per process."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


@cache
def _versions() -> dict:
    import joblib
    import numba
    import pandas
    import pyarrow
    import scipy

    return {
        "causalmc": __version__,
        "numbers_version": NUMBERS_VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "joblib": joblib.__version__,
    }


def _write_manifest(
    run_dir: Path, plan: Plan, state: str, timings: dict, jobs: int, errors: dict, rounds: list = ()
) -> None:
    complete = completed_files(run_dir)
    manifest = {
        "state": state,
        "fingerprint": plan.scenario.fingerprint(),
        "scenario": plan.scenario.as_dict(),
        "scenario_source": plan.scenario.source,
        "versions": _versions(),
        "git_revision": _git_revision(),
        "platform": platform.platform(),
        "jobs": jobs,
        "timings": timings,
        "chunks": {"planned": len(plan.tasks), "complete": len(complete), "files": complete},
        "skipped": plan.skipped,
        "plugins": [source for source, _ in plan.plugins],
        "errors": errors,
    }
    if plan.scenario.target_mcse:  # per cell: the replications of each round and whether its targets were met
        manifest["rounds"] = list(rounds)
        manifest["reps"] = {cell.label: plan.reps[cell.key] for cell in plan.cells}
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, allow_nan=False))
    os.replace(tmp, run_dir / MANIFEST)


# -- execution -----------------------------------------------------------------


BACKENDS = ("loky", "dask")


@cache
def _dask_client(jobs: int, scheduler: str | None):
    """A dask.distributed client: the given scheduler, or a local cluster of `jobs` processes.

    One per process (a local cluster takes seconds to start); closed at exit.
    """
    import atexit

    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
    else:
        client = Client(LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None))
    atexit.register(client.close)
    return client


def _execute(tasks: list[Task], jobs: int, backend: str = "loky", scheduler: str | None = None) -> Iterator[TaskResult]:
    """Compute tasks, yielding results as they finish (in any order: each has its own file).

    ``loky`` (joblib's process pool on this machine; in-process for one job)
    or ``dask`` (a dask.distributed cluster, for many machines).  Results do
    not depend on the backend or the number of workers.
    """
    if backend == "dask":
        from dask.distributed import as_completed

        futures = _dask_client(jobs, scheduler).map(compute_in_worker, tasks, pure=False)
        for future in as_completed(futures):
            yield future.result()
        return
    if jobs == 1 or len(tasks) <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # as in a worker; restored for the caller afterwards
            for task in tasks:
                yield compute(task)
        return
    from joblib import Parallel, delayed

    yield from Parallel(n_jobs=jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs")(
        delayed(compute_in_worker)(task) for task in tasks
    )


def compute_in_worker(task: Task) -> TaskResult:
    """`compute` in a worker process, its BLAS and OpenMP pools held to one thread.

    With `task.write_to` the worker writes the task's records file itself
    (atomically, as the client would) and returns only its timing and
    errors, so the client does not become the bottleneck of many workers.
    """
    _one_thread_per_worker()
    result = compute(task)
    if task.write_to is None:
        return result
    table = task.layout.table(task.cell_label, task.grid_values, task.rep_start, result.outputs)
    records.write_atomic(table, Path(task.write_to) / task.file_name)
    return replace(result, outputs=(), written=True)


@cache
def _one_thread_per_worker() -> None:
    # One worker per core: a user's numpy or statsmodels code must not start
    # threads of its own (they would oversubscribe the cores), and a BLAS
    # summing with another number of threads could round differently, so the
    # records would depend on the number of workers.  Set once per process.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


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

    The summary and figures are separate steps (`sims.summary`,
    `sims.figures`) so they can be redone from the records alone.
    """
    started = time.perf_counter()
    scenario = plan.scenario
    adaptive = bool(scenario.target_mcse)
    run_dir = run_dir_for(scenario, out)
    check_run_dir(run_dir, scenario, fresh)
    if fresh:
        _clear(run_dir)
    records_dir = run_dir / "records"
    try:
        records_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create {records_dir}: {exc.strerror}") from exc
    for stale in [*records_dir.glob(".*.tmp"), *run_dir.glob(".*.tmp")]:  # left by a killed run
        stale.unlink()
    timings = {"started": datetime.now(UTC).isoformat(timespec="seconds")}
    errors = _previous_errors(run_dir) if not fresh else {}
    computed = 0
    compute_seconds = 0.0
    rounds = []
    while True:
        # A later round's chunks left by an earlier, longer run are kept until the last round.
        _prune(records_dir, plan, keep_later=adaptive)
        pending = [t for t in plan.tasks if not (records_dir / t.file_name).exists()]
        computed += len(pending)
        try:
            _write_manifest(run_dir, plan, "running", timings, jobs, errors, rounds)
            compute_seconds += _compute_tasks(
                plan,
                pending,
                records_dir,
                errors,
                jobs,
                backend,
                scheduler,
                progress,
                _workers_write(backend, scheduler, workers_write),
            )
        except KeyboardInterrupt:
            timings["interrupted"] = datetime.now(UTC).isoformat(timespec="seconds")
            _write_manifest(run_dir, plan, "interrupted", timings, jobs, errors, rounds)
            raise
        except OSError as exc:  # writing a records file failed; the finished ones are complete files
            timings["failed"] = datetime.now(UTC).isoformat(timespec="seconds")
            with contextlib.suppress(OSError):  # on a full disk the manifest may not fit either
                _write_manifest(run_dir, plan, "failed", timings, jobs, errors, rounds)
            raise WriteError(
                f"cannot write in {records_dir}: {exc.strerror or exc} (errno {exc.errno}); "
                f"the {len(completed_files(run_dir))} finished chunks are kept: free space or fix the "
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
        _prune(records_dir, plan, keep_later=False)
    reused = len(plan.tasks) - computed
    seconds = time.perf_counter() - started
    timings.update(
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        wall_seconds=round(seconds, 3),
        task_seconds=round(compute_seconds, 3),
        tasks_computed=computed,
        tasks_reused=reused,
    )
    _write_manifest(run_dir, plan, "complete", timings, jobs, errors, rounds)
    return RunResult(run_dir, plan, computed, reused, seconds)


def _workers_write(backend: str, scheduler: str | None, asked: bool | None) -> bool:
    """Whether workers write their own records files (see `run`)."""
    if asked is not None:
        return asked
    return backend == "loky" or scheduler is None


def _prune(records_dir: Path, plan: Plan, keep_later: bool) -> None:
    """Delete the records files the plan no longer has: other cells, or a chunk of another length.

    With `keep_later`, chunks past a cell's current count are kept (a later
    round of an adaptive run will use them).
    """
    planned = {t.file_name for t in plan.tasks}
    last = {}
    for t in plan.tasks:
        last[t.cell_key] = max(last.get(t.cell_key, -1), t.chunk)
    for path in records_dir.glob("*.parquet"):
        if not RECORD_FILE.match(path.name) or path.name in planned:
            continue
        key, chunk, _ = path.stem.split("-")
        key, chunk = int(key, 16), int(chunk)
        if not (keep_later and key in last and chunk > last[key]):
            path.unlink()


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
        for result in _execute(pending, jobs, backend, scheduler):
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


def next_reps(run_dir: Path, plan: Plan) -> tuple[dict, dict]:
    """An adaptive run's next replication counts per cell, from the records so far.

    A cell whose every targeted MCSE (every estimator and term with that
    measure) is within its target, or that is at `max_reps`, keeps its
    count.  Another grows to the count its worst MCSE projects, as MCSE ∝
    1/√R gives it: R·max(MCSE/target)², rounded up to whole chunks, at
    least one chunk more and at most `max_reps`.  Returns the counts and,
    per cell label, {"reps", "met", "missed"} for the manifest.
    """
    from . import summary as summary_module

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


def _previous_errors(run_dir: Path) -> dict:
    """The first errors a resumed run recorded before (its finished chunks are not recomputed)."""
    try:
        return json.loads((run_dir / MANIFEST).read_text()).get("errors", {})
    except (OSError, json.JSONDecodeError):
        return {}


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


def completed_files(run_dir: Path) -> list[str]:
    """Names of the complete records files of a run directory."""
    return sorted(p.name for p in (run_dir / "records").glob("*.parquet") if RECORD_FILE.match(p.name))


# -- the whole pipeline ----------------------------------------------------------


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
    from . import summary as summary_module

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
            raise WriteError(
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
        from .figures import FigureContext, draw

        started = time.perf_counter()
        context = FigureContext(plan.scenario, table, result.run_dir, lambda: records.read(result.run_dir / "records"))
        paths = draw(context)
        _add_timings(result.run_dir, figure_seconds=round(time.perf_counter() - started, 3))
    if report:
        from .report import page

        started = time.perf_counter()
        page.write(result.run_dir, plan.scenario, table, paths)
        _add_timings(result.run_dir, report_seconds=round(time.perf_counter() - started, 3))
    return Outcome(result, table, paths)


def _add_timings(run_dir: Path, **seconds) -> None:
    """Record the time of a step after the records (figures, report) in the manifest."""
    path = run_dir / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["timings"].update(seconds)
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, allow_nan=False))
    os.replace(tmp, path)
