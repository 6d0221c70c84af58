"""``big_n``: one big cell with few replications spreads over every worker."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from ..run.execute import run
from ..run.plan import make_plan
from ..scenario import parse
from .measure import Measurement, timed

BIG_N = "big_n"
BIG_N_SCENARIO = {
    "name": "big_n", "dgp": "iv", "seed": 4, "reps": 600, "estimators": ["tsls"],
    "params": {"n": 1_000_000, "pi": 0.8},
}  # fmt: skip


def measure_big_n(scale: float = 1.0) -> dict:
    """Wall time of one n = 10⁶ cell (data sampler) on 1 and 2 started workers, medians of three alternating
    rounds: its default chunks (5 replications, from the cost of one) make enough tasks for both."""
    scenario = parse({**BIG_N_SCENARIO, "reps": max(40, int(BIG_N_SCENARIO["reps"] * scale))}, f"<bench:{BIG_N}>")
    plan = make_plan(scenario)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="causalmc-big-n-") as tmp:
        for jobs in (1, 2):
            run(plan.with_reps({k: 20 for k in plan.reps}), Path(tmp), jobs=jobs, fresh=True)  # warm workers
        for _ in range(3):  # alternating, so a slow spell of the shared machine hits both sides of a ratio
            rounds.append({j: timed(lambda j=j: run(plan, Path(tmp), jobs=j, fresh=True)) for j in (1, 2)})
    speedup = statistics.median(r[1] / r[2] for r in rounds)
    seconds = {j: statistics.median(r[j] for r in rounds) for j in (1, 2)}
    return {
        "workload": BIG_N,
        "reps": plan.total_reps,
        "tasks": len(plan.tasks),
        "seconds": seconds,
        "targets": {"jobs2_vs_jobs1": {"target": 1.7, "value": speedup, "met": speedup >= 1.7}},
    }


def format_big_n(result: dict) -> str:
    s, t = result["seconds"], result["targets"]["jobs2_vs_jobs1"]
    return (
        f"big_n: one iv cell, n = 10⁶, {result['reps']} replications of tsls in {result['tasks']} tasks (records only)\n"
        f"  1 worker {s[1]:.2f} s, 2 workers {s[2]:.2f} s (medians of 3 rounds): {t['value']:.2f}×   target ≥ 1.7: "
        f"{'met' if t['met'] else 'MISSED'}"
    )


WORKLOADS = (Measurement(BIG_N, order=130, run=measure_big_n, format=format_big_n),)
