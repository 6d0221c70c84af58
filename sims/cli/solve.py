"""``run_bench.py solve``: the value of a design parameter at which a measure reaches a target (`sims.solve`)."""

from __future__ import annotations

import math

from .. import solve as solve_module


def command(args) -> int:
    result = solve_module.solve(
        args.file,
        param=args.param,
        target=args.target,
        estimators=args.estimator or None,
        interval=args.interval,
        budget=args.budget,
        precision=args.precision,
        batch=args.batch,
        out=args.out,
        jobs=args.jobs,
        fresh=args.fresh,
        plugins=args.plugin,
        figures=not args.no_figures,
    )
    print(
        f"{result.measure} = {result.target:g} in {result.param} ∈ [{result.interval[0]:g}, {result.interval[1]:g}]: "
        f"{result.reps} replications at {len(set(result.evaluations[result.param]))} values, {result.seconds:.1f} s"
    )
    level = f"{result.level:.0%}"
    for root in result.roots.values():
        line = f"  {root.estimator}: {root.status}"
        if math.isfinite(root.root):
            line += f", root {root.root:.6g} (se {root.se:.3g}), {level} CI [{root.ci_low:.6g}, {root.ci_high:.6g}]"
            if result.integer:
                line += f"; design value {root.design_value:g}, CI [{root.design_ci[0]:g}, {root.design_ci[1]:g}]"
        line += "; monotone" if root.monotone else f"; NOT monotone ({len(root.reversals)} reversals)"
        print(line)
    if args.points:
        print(result.evaluations.to_string(index=False))
    print(f"run folder: {result.run_dir}")
    return 0
