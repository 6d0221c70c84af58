"""The measuring machinery of ``python run_bench.py bench``: a `Workload` (harness, reference loop and floor
timed in alternating rounds), a `Measurement` (a workload measured its own way), the floor's draws, and the
helpers that draw a DGP's batches for references and floors.

Timings are medians of rounds that alternate every side of every ratio,
after a warm-up (numba compiled, worker processes started).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from .. import plugins
from ..run.pipeline import run_scenario
from ..run.plan import make_plan
from ..scenario import parse


@njit(cache=True)
def draw_normals(rng, n_reps, per_rep, buffer, integers_per_rep=0):
    """The floor: per replication, `per_rep` standard normals into a reused
    buffer (and `integers_per_rep` bounded integers, e.g. a start period)."""
    total = 0
    for _ in range(n_reps):
        for _ in range(integers_per_rep):
            total += rng.integers(0, 10)
        for i in range(per_rep):
            buffer[i] = rng.standard_normal()
    return buffer[0] + total


@dataclass(frozen=True)
class Workload:
    """One benchmarked design: harness scenario, reference loop, floor."""

    name: str
    description: str
    scenario: dict  # a scenario file's content, minus reps
    reps: int  # harness replications per timed run
    reference_reps: int  # replications of the reference loop
    reference_name: str
    reference: Callable[[np.random.Generator, int], None]  # runs n replications
    normals_per_rep: int
    reference_package: str  # what the reference loop imports; missing, the command asks for the bench extra
    order: int  # its place in the default run, the command's help and the JSON (lower first)
    targets: dict = field(default_factory=dict)  # ratio name -> minimum
    integers_per_rep: int = 0
    plugins: tuple[str, ...] = ()  # plugin modules the scenario's estimators come from
    repeats: int = 3  # rounds; more where the two sides of a ratio are nearly equal
    # The fewest harness replications whatever --scale; lower where a replication takes seconds (dml_forest).
    min_reps: int = 100
    # The floor when it is more than a count of normals: (rng, n_reps) -> None, e.g. the DGP's own panel draw.
    floor: Callable[[np.random.Generator, int], None] | None = None
    floor_name: str = "floor (draws only)"
    # A cheaper run of the reference loop's code for the tests (e.g. fewer resampling draws); None: the loop itself.
    smoke_reference: Callable[[np.random.Generator, int], None] | None = None

    def run(self, scale: float = 1.0) -> dict:
        return measure(self, scale)

    def format(self, result: dict) -> str:
        return format_result(result)


@dataclass(frozen=True)
class Measurement:
    """A workload measured its own way, with no reference loop or floor (memory, sufficient statistics, big n)."""

    name: str
    order: int  # as `Workload.order`
    run: Callable[[float], dict]  # scale -> the result: "workload", "targets" ({name: {"met", ...}}) and numbers
    format: Callable[[dict], str]  # the result for people
    reference_package: str | None = None


def dgp_batches(name: str, params: dict, rng: np.random.Generator, n_reps: int, chunk: int = 1000):
    """Batches of the DGP `name` at its defaults overridden by `params`, `chunk` replications at a time."""
    from ..dgps import registry

    dgp = registry()[name]
    chosen = {p.name: p.default for p in dgp.params} | params
    for start in range(0, n_reps, chunk):
        yield dgp.generate(rng, min(chunk, n_reps - start), chosen)


def draws_only(name: str, params: dict, chunk: int = 1000):
    """A floor: drawing the DGP's batches of `chunk` replications and nothing else, with the fastest chunk:
    1,000 where Python's work per batch dominates (did_staggered's truths); 100 for 40 kB datasets, which
    then stay in cache (observables: 7 % faster than 1,000 alone, 20–30 % between the harness's runs)."""

    def floor(rng: np.random.Generator, n_reps: int) -> None:
        for _ in dgp_batches(name, params, rng, n_reps, chunk):
            pass

    return floor


def timed(fn) -> float:
    """Seconds a call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(workload: Workload, scale: float = 1.0) -> dict:
    """Rates of the harness (1 and 2 workers), the reference loop and the floor.

    The harness, the reference and the floor are timed in alternation, in
    `workload.repeats` rounds, and
    each ratio is the median of the rounds' ratios, so a slow spell of the
    shared machine hits both sides of a ratio alike.
    """
    reps = max(workload.min_reps, int(workload.reps * scale))
    plugins.load_all(workload.plugins)
    scenario = parse({**workload.scenario, "reps": reps}, f"<bench:{workload.name}>")
    # Two chunks at least, so both workers start, load the plugins and import what they use.
    warm_reps = max(2 * scenario.chunk_for(1), reps // 20)
    warm = parse({**workload.scenario, "reps": warm_reps}, f"<bench:{workload.name}>")
    buffer = np.empty(workload.normals_per_rep)
    rng = np.random.default_rng(1)
    draw_normals(rng, 1, workload.normals_per_rep, buffer, workload.integers_per_rep)  # compile
    reference_reps = max(10, int(workload.reference_reps * scale))
    ref_rng = np.random.default_rng(2)
    workload.reference(ref_rng, 2)  # imports and first-call costs are not the loop's
    rounds = []
    with tempfile.TemporaryDirectory(prefix="causalmc-bench-") as tmp:
        for jobs in (1, 2):  # warm-up: compile, start the worker processes
            run_scenario(make_plan(warm), Path(tmp), jobs=jobs, fresh=True, figures=False, report=False)
        for _ in range(workload.repeats):
            seconds = {
                "floor": timed(
                    (lambda: workload.floor(rng, reps))
                    if workload.floor
                    else (lambda: draw_normals(rng, reps, workload.normals_per_rep, buffer, workload.integers_per_rep))
                ),
                "normals": timed(
                    lambda: draw_normals(rng, reps, workload.normals_per_rep, buffer, workload.integers_per_rep)
                ),
                "reference": timed(lambda: workload.reference(ref_rng, reference_reps)) * reps / reference_reps,
            }
            for jobs in (1, 2):
                seconds[f"harness_jobs{jobs}"] = timed(
                    lambda jobs=jobs: run_scenario(
                        make_plan(scenario), Path(tmp), jobs=jobs, fresh=True, figures=False, report=False
                    )
                )
            rounds.append({k: reps / v for k, v in seconds.items()})
    rates = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratios = {
        name: statistics.median(r["harness_jobs1"] / r[base] for r in rounds)
        for name, base in (("vs_reference", "reference"), ("vs_floor", "floor"))
    }
    ratios["jobs2_vs_jobs1"] = statistics.median(r["harness_jobs2"] / r["harness_jobs1"] for r in rounds)
    checks = {k: {"ratio": ratios[k], "target": t, "met": ratios[k] >= t} for k, t in workload.targets.items()}
    return {
        "workload": workload.name,
        "description": workload.description,
        "reference": workload.reference_name,
        "floor": workload.floor_name,
        "reps": reps,
        "rates_per_second": rates,
        "ratios": ratios,
        "targets": checks,
    }


def format_result(result: dict) -> str:
    r, q = result["rates_per_second"], result["ratios"]
    lines = [
        f"{result['workload']}: {result['description']} ({result['reps']} harness replications)",
        f"  harness, 1 worker   {r['harness_jobs1']:>12,.0f} reps/s",
        f"  harness, 2 workers  {r['harness_jobs2']:>12,.0f} reps/s",
        f"  {result['reference']:<19} {r['reference']:>12,.0f} reps/s",
        f"  {result['floor']:<19} {r['floor']:>12,.0f} reps/s",
    ]
    if result["floor"] != "floor (draws only)":
        lines.append(f"  {'normals only':<19} {r['normals']:>12,.0f} reps/s")
    labels = {
        "vs_reference": f"harness / {result['reference']}",
        "vs_floor": f"harness / {result['floor']}",
        "jobs2_vs_jobs1": "2 workers / 1 worker",
    }
    for key, value in q.items():
        target = result["targets"].get(key)
        verdict = "" if target is None else f"   target ≥ {target['target']:g}: {'met' if target['met'] else 'MISSED'}"
        lines.append(f"  {labels[key]:<36} {value:>9.2f}×{verdict}")
    return "\n".join(lines)
