"""``memory``: peak resident memory of the client against the replications."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ..run.plan import make_plan
from ..scenario import parse
from .confounding import CONFOUNDING
from .measure import Measurement

MEMORY = "memory"
MEMORY_SCENARIO = {**CONFOUNDING.scenario, "name": "memory", "params": {"n": 100}}
# Run in a fresh interpreter: the whole command (records, summary, figures, report) on 2 workers, then
# the client's own peak resident memory (the workers' is one chunk's and does not grow with a run): Linux's
# VmHWM, which starts afresh with the interpreter (ru_maxrss would keep the forking parent's peak).
_PEAK = """\
import re, resource, sys
from causalmc.sims.cli import main
code = main(["run", sys.argv[1], "--out", sys.argv[2], "--jobs", "2", "--quiet", "--fresh"])
try:
    with open("/proc/self/status") as status:
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) * 1024)
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
sys.exit(code)
"""


def measure_memory(scale: float = 1.0) -> dict:
    """Peak client memory for 10,000 and 1,000,000 (× scale) replications of one confounding cell."""
    import subprocess

    counts = (10_000, max(20_000, int(1_000_000 * scale)))
    make_plan(parse({**MEMORY_SCENARIO, "reps": 10}))  # numba's cache filled: no compilation in the runs
    peaks = {}
    with tempfile.TemporaryDirectory(prefix="causalmc-memory-") as tmp:
        for reps in counts:
            path = Path(tmp) / f"memory_{reps}.toml"
            path.write_text(_toml({**MEMORY_SCENARIO, "reps": reps}))
            done = subprocess.run(
                [sys.executable, "-c", _PEAK, str(path), str(Path(tmp) / "out")],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[reps] = int(done.stdout.strip().splitlines()[-1])
    small, big = peaks[counts[0]], peaks[counts[1]]
    return {
        "workload": MEMORY,
        "peak_bytes": {str(k): v for k, v in peaks.items()},
        "targets": {
            "under_1_gib": {"target": 2**30, "value": big, "met": big < 2**30},
            "under_2x_small": {"target": 2.0, "value": big / small, "met": big < 2 * small},
        },
    }


def _toml(scenario: dict) -> str:
    lines = []
    for key, value in scenario.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    for key, value in scenario.items():
        if isinstance(value, dict):
            lines += [f"[{key}]", *(f"{k} = {json.dumps(v)}" for k, v in value.items())]
    return "\n".join(lines) + "\n"


def format_memory(result: dict) -> str:
    (small, a), (big, b) = ((int(k), v) for k, v in result["peak_bytes"].items())
    met = {k: "met" if t["met"] else "MISSED" for k, t in result["targets"].items()}
    return (
        "memory: peak resident memory of the client, confounding n = 100, ols + ols_adjusted, 2 workers, "
        "records + summary + figures + report\n"
        f"  {small:>9,} replications  {a / 2**20:8.0f} MiB\n"
        f"  {big:>9,} replications  {b / 2**20:8.0f} MiB   target < 1024 MiB: {met['under_1_gib']}; "
        f"{b / a:.2f}× the small run, target < 2×: {met['under_2x_small']}"
    )


WORKLOADS = (Measurement(MEMORY, order=110, run=measure_memory, format=format_memory),)
