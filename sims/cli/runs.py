"""Commands that run or look at scenarios: ``suite``, ``run``, ``plan``, ``sample``, ``estimate``, ``list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from .. import api, plugins, report
from ..report import terminal
from ..scenario import Scenario, ScenarioError, check_targets, load, scenario_files, suite_files

REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def scenarios_folder() -> Path:
    """The shipped scenarios: beside the package in a checkout, else ./scenarios."""
    return REPO_SCENARIOS if REPO_SCENARIOS.is_dir() else Path("scenarios")



def suite(args) -> int:
    plugins.load_all(args.plugin)
    scenarios = [load(f) for f in suite_files(scenarios_folder())]
    if not scenarios:
        raise ScenarioError(scenarios_folder(), "suite", "no scenario is marked for the default suite")
    return _run([s.with_overrides(reps=s.suite_reps) for s in scenarios], args, one_line=True)


def run_files(args) -> int:
    scenarios = [api.as_scenario(f, reps=args.reps, seed=args.seed, plugins=args.plugin) for f in args.files]
    return _run(scenarios, args, one_line=len(scenarios) > 1)


def _run(scenarios: list[Scenario], args, one_line: bool = False) -> int:
    runs = api.run_many(
        scenarios,
        out=args.out,
        jobs=args.jobs,
        fresh=args.fresh,
        progress=not args.quiet,
        figures=not args.no_figures,
        backend=args.backend,
        scheduler=args.scheduler,
        workers_write=args.workers_write,
    )
    mode = "quiet" if args.quiet else "verbose" if args.verbose else "line" if one_line else "headline"
    checks = [terminal.show(run, mode) for run in runs]
    checked, failed = (sum(column) for column in zip(*checks))
    if mode == "line":
        print(
            f"{len(runs)} scenarios, {sum(r.seconds for r in runs):.0f} s; claims: {checked - failed} of {checked} "
            f"hold; reports: {Path(args.out) / 'index.html'}"
        )
    return 1 if failed else 0


def plan(args) -> int:
    from .. import planning

    scenario = api.as_scenario(args.file, plugins=args.plugin)
    targets = dict(scenario.target_mcse)
    if args.target:
        targets = check_targets(_target_table(args.target), args.file, "--target")
    if args.pilot < 2:
        raise api.UsageError(f"--pilot {args.pilot} is out of range; allowed: an integer ≥ 2")
    if args.workers < 1:
        raise api.UsageError(f"--workers {args.workers} is out of range; allowed: an integer ≥ 1")
    table = planning.pilot(scenario, args.pilot, targets, workers=sorted({1, args.workers}))
    print(planning.format_plan(table, scenario, targets, args.pilot))
    return 0


def _target_table(items: list[str]) -> dict:
    """--target coverage=0.005 … as a target_mcse table (validated with `check_targets`)."""
    table = {}
    for item in items:
        measure, _, value = item.partition("=")
        try:
            table[measure] = float(value)
        except ValueError:
            raise api.UsageError(f"--target {item!r}: allowed MEASURE=MCSE, e.g. coverage=0.005") from None
    return table



def sample(args) -> int:
    cell = {}
    for item in args.cell:
        key, sep, value = item.partition("=")
        if not sep:
            raise api.UsageError(f"--cell {item!r}: write PARAM=VALUE")
        cell[key] = value
    frame = api.sample(args.file, cell=cell, rep=args.rep, plugins=args.plugin)
    info = frame.attrs
    header = f"# {info['scenario']} ({info['dgp']}), cell {info['cell']}, rep {info['rep']}, truth {info['truth']!r}"
    if "fitted" in info:
        header += f"\n# {info['fitted']}"
    if args.out is None:
        print(header)
        print(frame.to_string(index=False))
        return 0
    if args.out.suffix not in (".csv", ".parquet"):
        raise api.UsageError(f"--out {args.out}: allowed: a .csv or .parquet file name")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".csv":
        frame.to_csv(args.out, index=False)
    else:
        frame.to_parquet(args.out, index=False)
    print(f"{header} -> {args.out}")
    return 0


def estimate(args) -> int:
    plugins.load_all(args.plugin)
    options = dict(api.parse_option(args.estimator, text) for text in args.option)
    data = read_dataset(args.data)
    result = api.estimate(args.estimator, data, level=args.level, null=args.null, source=str(args.data), **options)
    if args.format == "json":
        plain = {k: (None if v is pd.NA else v.item() if hasattr(v, "item") else v) for k, v in result.items()}
        print(json.dumps(plain, indent=1))  # floats in full (shortest round-trip) precision
    else:
        shown = result.drop("error") if result["error"] is None else result
        print(shown.to_string())
    return 0


def read_dataset(path: Path) -> pd.DataFrame:
    """A dataset file (CSV or Parquet) as written by ``sample``; CSV floats read back exactly."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        # pandas 3 reads floats back exactly by default and deprecates the option
        exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
        return pd.read_csv(path, **exact)
    raise api.UsageError(f"{path}: allowed: a .csv or .parquet file")


def list_all(args) -> int:
    plugins.load_all(args.plugin)
    print("DGPs (parameters: default, allowed values, meaning)")
    for dgp in plugins.dgp_registry().values():
        origin = "" if dgp.origin == "causalmc" else f"   [{dgp.origin}]"
        print(f"\n  {dgp.name}: {dgp.summary}{origin}")
        if dgp.configure is not None:  # its arrays and parameters come from the scenario's table
            print(f"    set up by the scenario's [{dgp.name}] table (the grammar: {dgp.name}'s module docstring);")
            print(f"    provides, for an example: {', '.join(dgp.provides)}")
        else:
            print(f"    provides: {', '.join(dgp.provides)}")
        for p in dgp.params:
            if dgp.configure is not None and len(p.choices) == 1:
                continue  # fixed by the example's configuration (a dag's graph as JSON)
            default = "(unset)" if p.default is None else repr(p.default)
            print(f"    {p.name:<20} {default:<10} {p.allowed():<28} {p.doc}")
    print("\nEstimators (data needed; options)")
    for est in plugins.estimator_registry().values():
        origin = "" if est.origin == "causalmc" else f"   [{est.origin}]"
        print(f"\n  {est.name}: {est.summary}{origin}")
        print(f"    needs: {', '.join(est.needs)}")
        for o in est.options:
            print(f"    option {o.name} = {o.default!r} ({o.allowed()}): {o.doc}")
        if est.diagnostics:
            print(f"    diagnostics: {', '.join(est.diagnostics)}")
    print(f"\nScenarios ({scenarios_folder()})")
    for path in scenario_files(scenarios_folder()):
        try:
            s = load(path)
        except ScenarioError as exc:
            print(f"  {path.name}: INVALID: {exc}")
            continue
        suite = f"in the default suite with {s.suite_reps} reps" if s.suite_reps else "not in the default suite"
        print(
            f"  {path.name}: {s.dgp}, {len(s.cells())} cells x {report.replications_text(s)}; {suite}\n      {s.description}"
        )
    return 0
