"""``python run_bench.py bench``: speed against what users would otherwise run.

For each workload, in one run on the same cores, replications per second of

- the harness end to end (plan, draws, kernels, records written, summary),
  with one worker and with two;
- the reference loop: the same work as a user would write it, a Python loop
  over the usual library (statsmodels, linearmodels, pyfixest) on arrays
  drawn with numpy;
- the floor: drawing the same random numbers and nothing else, the fastest
  way this machine can (numba-compiled draws from a numpy Generator into a
  reused buffer).

Two workloads measure user code: ``plugin`` runs a plain-Python plugin
estimator (statsmodels OLS on one DataFrame per replication) against a bare
loop calling the same function on the same kind of data, and
``compiled_plugin`` runs the shipped ``ols`` kernel registered from a
plugin against the same kernel as a built-in, both through the harness.

It prints the ratios and checks them against the targets; exit code 1 when
one is missed.  Timings are medians of rounds that alternate every side
of every ratio, after a warm-up (numba compiled, worker processes started).

Each workload family is one module here that declares its workloads in
``WORKLOADS``: a `measure.Workload` (its scenario, reference loop, floor,
targets and reference package) or a `measure.Measurement` (measured its own
way: memory, sufficient statistics, big n).  `workloads` collects them by
discovery, as the DGP and estimator registries do, so a new workload is one
new file; the machinery that times them is `measure`.
"""

from __future__ import annotations

import json
import sys
from functools import cache

from causalmc.estimators.spec import discover


@cache
def workloads() -> dict:
    """Every workload by name, in their `order`: the default run, the command's choices, the JSON."""
    found = discover(__name__, __path__, "WORKLOADS")
    return dict(sorted(found.items(), key=lambda item: item[1].order))


def main(args) -> int:
    import importlib.util

    chosen = [workloads()[name] for name in args.workloads]
    missing = sorted(
        {
            w.reference_package
            for w in chosen
            if w.reference_package is not None and importlib.util.find_spec(w.reference_package) is None
        }
    )
    if missing:
        print(
            f"error: the benchmark's reference loops need {', '.join(missing)}: pip install -e '.[bench]'",
            file=sys.stderr,
        )
        return 2
    results = []
    for workload in chosen:
        result = workload.run(scale=args.scale)
        print(workload.format(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    missed = [f"{r['workload']}.{k}" for r in results for k, c in r["targets"].items() if not c["met"]]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 1 if missed else 0
