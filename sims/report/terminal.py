"""What the terminal shows of a finished run (`run_bench.py run` and the suite).

Four modes: ``quiet`` (failed claims only, on stderr), ``line`` (one line
per scenario: the suite, or `run` of several), ``headline`` (`run` of one:
the headline of the measures its claims and figures use, MCSE targets and
claims) and ``verbose`` (the same with the full headline).  A failed claim is always
printed in full.
"""

from __future__ import annotations

import sys

from . import text


def show(run, mode: str) -> tuple[int, int]:
    """Print what the terminal shows of `run` (a `causalmc.Run`) in `mode`; returns (claims checked, failed), a
    claim counted once per cell."""
    scenario = run.scenario
    lines, failed = text.check_expectations(scenario, run.summary, run.run_dir)
    failures = [line.strip() for line in lines if "FAIL" in line]
    if mode == "quiet":
        for line in failures:
            print(f"{scenario.name}: {line}", file=sys.stderr)
        return len(lines), failed
    if mode == "line":
        claims = f"claims {len(lines) - failed}/{len(lines)} hold" if lines else "no claims"
        print(
            f"{scenario.name}: {len(scenario.cells())} cells x {text.replications_text(scenario)}, "
            f"{run.seconds:.1f} s, {claims} -> {run.report}"
        )
        for line in failures:
            print(f"   {line}")
        return len(lines), failed
    manifest = run.manifest
    print(f"\n== {scenario.name}: {scenario.description}")
    print(
        f"   {scenario.dgp}, {len(scenario.cells())} cells x {text.replications_text(scenario)}, seed {scenario.seed}; "
        f"{run.computed_tasks} tasks computed, {run.reused_tasks} reused, {run.seconds:.1f} s -> {run.run_dir}"
    )
    for note in manifest["skipped"]:
        print(f"   note: {note['estimator']} skipped in cell {note['cell']}: {note['reason']}")
    for cell, by_label in manifest.get("errors", {}).items():
        for label, error in by_label.items():
            last = error["message"].strip().splitlines()[-1]
            print(f"   error: {label} raised in cell {cell} (first at rep {error['rep']}): {last} (see manifest.json)")
    measures = None if mode == "verbose" else text.scenario_measures(scenario)
    print(text.format_headline(run.summary, list(scenario.grid), measures))
    print("\n".join(text.target_lines(scenario, run.summary)))
    if lines:
        print(f"expectations: {len(lines) - failed} of {len(lines)} hold")
        print("\n".join(failures))
    print(f"   full tables, figures and provenance: {run.report}")
    return len(lines), failed
