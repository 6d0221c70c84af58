"""Where tasks run: joblib's loky processes on this machine (in-process for one job) or a dask.distributed
cluster, each worker's BLAS and OpenMP pools held to one thread.

Workers that share the output folder's filesystem with the client (loky,
a local Dask cluster, or a remote one given ``workers_write``) write their
task's records file themselves, atomically; otherwise they return arrays
and the client writes.  Everything else (manifest, summary, figures,
report) is written by the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path

from .. import records
from .tasks import Task, TaskResult, compute

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


def execute(tasks: list[Task], jobs: int, backend: str = "loky", scheduler: str | None = None) -> Iterator[TaskResult]:
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


def workers_write(backend: str, scheduler: str | None, asked: bool | None) -> bool:
    """Whether workers write their own records files (see `run`)."""
    if asked is not None:
        return asked
    return backend == "loky" or scheduler is None
