"""Command line: ``python run_bench.py [suite|run|summary|check|list|bench] ...``.

Exit codes: 0 success; 1 an expectation of a scenario does not hold (or a
benchmark target is missed); 2 bad input (a scenario file, a run directory,
an argument), with nothing written; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

import pandas as pd

from . import __version__, report, runner
from .scenario import Scenario, ScenarioError, load, parse, scenario_files

REPO_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_OUT = Path("results")


def scenarios_folder() -> Path:
    """The shipped scenarios: beside the package in a checkout, else ./scenarios."""
    return REPO_SCENARIOS if REPO_SCENARIOS.is_dir() else Path("scenarios")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: results)")
    p.add_argument(
        "--jobs", type=_positive_int, default=os.cpu_count() or 1, help="worker processes (default: all cores)"
    )
    p.add_argument("--fresh", action="store_true", help="discard earlier results in the output folder")
    p.add_argument("--quiet", action="store_true", help="print no progress bar and no tables")
    p.add_argument("--no-figures", action="store_true", help="skip drawing figures")
    p.add_argument(
        "--backend",
        choices=runner.BACKENDS,
        default="loky",
        help="loky: processes on this machine (default); dask: a dask.distributed cluster",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --backend dask: the scheduler (e.g. tcp://10.0.0.5:8786); default a local cluster",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_bench.py",
        formatter_class=_Formatter,
        description="causalmc: Monte Carlo benchmarks for causal-inference estimators.",
        epilog=textwrap.dedent("""\
            With no command, runs the default suite (scenarios with a [suite] table).

            examples:
              python run_bench.py
              python run_bench.py run scenarios/confounding.toml --reps 500 --jobs 2
              python run_bench.py summary results/confounding --format markdown
              python run_bench.py list
            """),
    )
    parser.add_argument("--version", action="version", version=f"causalmc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")

    p = sub.add_parser(
        "suite",
        help="run the default suite",
        formatter_class=_Formatter,
        description="Run every shipped scenario marked with a [suite] table, with its suite replications.",
        epilog="example:\n  python run_bench.py suite --out results --jobs 2",
    )
    _add_run_options(p)

    p = sub.add_parser(
        "run",
        help="run scenario files",
        formatter_class=_Formatter,
        description="Run one or more scenario files. Finished tasks in the output folder are "
        "reused, so an interrupted run resumes where it stopped.",
        epilog="example:\n  python run_bench.py run scenarios/confounding.toml --reps 500 --jobs 2",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.toml")
    _add_run_options(p)
    p.add_argument("--reps", type=int, help="replications per cell (overrides the file)")
    p.add_argument("--seed", type=int, help="seed (overrides the file)")

    p = sub.add_parser(
        "summary",
        help="reprint the summary of a finished run",
        formatter_class=_Formatter,
        description="Print the summary of a run folder (recomputed from the records if missing).",
        epilog="example:\n  python run_bench.py summary results/confounding --format markdown",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--format", choices=report.FORMATS, default="table")

    p = sub.add_parser(
        "check",
        help="check a finished run's expectations",
        formatter_class=_Formatter,
        description="Evaluate the [[expect]] claims of a run's scenario on its summary; exit 1 if any does not hold.",
        epilog="example:\n  python run_bench.py check results/confounding",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")

    p = sub.add_parser(
        "compare",
        help="compare two runs of a scenario, measure by measure",
        formatter_class=_Formatter,
        description="Differences of every measure between two run folders of the same design, each "
        "with its Monte Carlo error; exit 1 when one differs by more than --mcse-multiple "
        "MCSEs (a regression guard for CI: rerun a scenario with another seed after a "
        "change and compare it with a baseline).",
        epilog="example:\n  python run_bench.py compare baseline/weak_iv results/weak_iv",
    )
    p.add_argument("base", type=Path, metavar="BASE_RUN_DIR")
    p.add_argument("new", type=Path, metavar="NEW_RUN_DIR")
    p.add_argument("--measures", nargs="+", default=list(report.COMPARED), metavar="MEASURE")
    p.add_argument("--mcse-multiple", type=float, default=4.0)
    p.add_argument("--all", action="store_true", help="list every comparison, not only the changed ones")

    p = sub.add_parser(
        "list",
        help="list DGPs, estimators and scenarios",
        formatter_class=_Formatter,
        description="Show the DGPs with their parameters, the estimators with the data they "
        "need, and the shipped scenarios.",
        epilog="example:\n  python run_bench.py list",
    )

    p = sub.add_parser(
        "bench",
        help="measure speed against the tools users would otherwise use",
        formatter_class=_Formatter,
        description="Replications per second of the harness end to end, of a loop over the "
        "reference library, and of drawing the same random numbers (the floor), "
        "measured in one run; prints the ratios and checks the targets.",
        epilog="example:\n  python run_bench.py bench --workloads confounding --json bench.json",
    )
    from .bench import WORKLOADS

    p.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    p.add_argument("--scale", type=float, default=1.0, help="multiply every replication count (default 1)")
    p.add_argument("--json", type=Path, help="also write the measurements to this file")
    return parser


COMMANDS = ("suite", "run", "summary", "check", "compare", "list", "bench")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["suite", *argv]  # no command: the default suite
    args = build_parser().parse_args(argv)
    command = args.command
    try:
        if command == "suite":
            return _suite(args)
        if command == "run":
            scenarios = [load(f).with_overrides(args.reps, args.seed) for f in args.files]
            return _run(scenarios, args)
        if command == "summary":
            return _summary(args)
        if command == "check":
            return _check(args)
        if command == "compare":
            return _compare(args)
        if command == "list":
            return _list()
        if command == "bench":
            from .bench import main as bench_main

            return bench_main(args)
    except (ScenarioError, runner.RunDirError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    raise AssertionError(command)


def _suite(args) -> int:
    files = scenario_files(scenarios_folder())
    scenarios = [s for s in (load(f) for f in files) if s.suite_reps is not None]
    if not scenarios:
        raise ScenarioError(scenarios_folder(), "suite", "no scenario is marked for the default suite")
    return _run([s.with_overrides(reps=s.suite_reps) for s in scenarios], args)


def _run(scenarios: list[Scenario], args) -> int:
    names = [s.name for s in scenarios]
    for s in scenarios:
        if names.count(s.name) > 1:
            raise ScenarioError(
                s.path,
                "name",
                f"{s.name!r} is the name of another scenario in this run; each needs its own output folder",
            )
    if args.backend == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            print("error: --backend dask needs dask.distributed: pip install -e '.[dask]'", file=sys.stderr)
            return 2
    elif args.scheduler:
        print("error: --scheduler goes with --backend dask", file=sys.stderr)
        return 2
    # Everything that can be refused is checked before anything is written.
    plans = [runner.make_plan(s) for s in scenarios]
    for s in scenarios:
        runner.check_run_dir(runner.run_dir_for(s, args.out), s, args.fresh)
    progress = not args.quiet and sys.stderr.isatty()
    failed = 0
    for plan in plans:
        outcome = runner.run_scenario(
            plan,
            args.out,
            jobs=args.jobs,
            fresh=args.fresh,
            progress=progress,
            figures=not args.no_figures,
            backend=args.backend,
            scheduler=args.scheduler,
        )
        failed += _report(plan.scenario, outcome, quiet=args.quiet)
    return 1 if failed else 0


def _report(scenario: Scenario, outcome: runner.Outcome, quiet: bool) -> int:
    lines, failed = report.check_expectations(scenario, outcome.summary)
    if quiet:
        for line in lines:
            if "FAIL" in line:
                print(f"{scenario.name}: {line.strip()}", file=sys.stderr)
        return failed
    run = outcome.run
    print(f"\n== {scenario.name}: {scenario.description}")
    print(
        f"   {scenario.dgp}, {len(run.plan.cells)} cells x {scenario.reps} reps, seed {scenario.seed}; "
        f"{run.computed_tasks} tasks computed, {run.reused_tasks} reused, {run.seconds:.1f} s -> {run.run_dir}"
    )
    for note in run.plan.skipped:
        print(f"   note: {note['estimator']} skipped in cell {note['cell']}: {note['reason']}")
    print(report.format_summary(outcome.summary, list(scenario.grid)))
    for line in report.stock_yogo_note(outcome.summary, scenario):
        print(line)
    if lines:
        print(f"expectations ({failed} failed):")
        print("\n".join(lines))
    return failed


def _manifest(run_dir: Path) -> dict:
    path = run_dir / runner.MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a causalmc run folder (no {runner.MANIFEST})")
    return json.loads(path.read_text())


def _scenario_of(run_dir: Path) -> Scenario:
    manifest = _manifest(run_dir)
    parsed = manifest["scenario"]
    return parse(manifest["scenario_source"], parsed["path"]).with_overrides(parsed["reps"], parsed["seed"])


def _summary_of(run_dir: Path, scenario: Scenario) -> pd.DataFrame:
    path = run_dir / "summary.parquet"
    return pd.read_parquet(path) if path.exists() else runner.write_summary(run_dir, scenario)


def _summary(args) -> int:
    scenario = _scenario_of(args.run_dir)
    table = _summary_of(args.run_dir, scenario)
    print(report.format_summary(table, list(scenario.grid), args.format))
    if args.format in ("table", "markdown"):
        print("\n".join(report.stock_yogo_note(table, scenario)))
    return 0


def _check(args) -> int:
    failed = 0
    for run_dir in args.run_dirs:
        scenario = _scenario_of(run_dir)
        lines, n = report.check_expectations(scenario, _summary_of(run_dir, scenario))
        print(f"{scenario.name}: {len(lines) - n}/{len(lines)} expectations hold")
        print("\n".join(lines))
        failed += n
    return 1 if failed else 0


def _compare(args) -> int:
    from .summary import MEASURES

    unknown = [m for m in args.measures if m not in MEASURES]
    if unknown:
        print(f"error: unknown measures {', '.join(unknown)}; allowed: {', '.join(MEASURES)}", file=sys.stderr)
        return 2
    base, new = (_summary_of(d, _scenario_of(d)) for d in (args.base, args.new))
    table = report.compare(base, new, args.measures, args.mcse_multiple)
    if table.empty:
        print("error: the two runs share no (cell, estimator)", file=sys.stderr)
        return 2
    changed = table[table["changed"]]
    shown = table if args.all else changed
    if not shown.empty:
        print(shown.to_string(index=False))
    print(f"{len(changed)} of {len(table)} comparisons differ by more than {args.mcse_multiple:g} MCSE")
    return 1 if len(changed) else 0


def _list() -> int:
    from causalmc import estimators

    from . import dgps

    print("DGPs (parameters: default, allowed values, meaning)")
    for dgp in dgps.registry().values():
        print(f"\n  {dgp.name}: {dgp.summary}")
        print(f"    provides: {', '.join(dgp.provides)}")
        for p in dgp.params:
            default = "(unset)" if p.default is None else repr(p.default)
            print(f"    {p.name:<20} {default:<10} {p.allowed():<28} {p.doc}")
    print("\nEstimators (data needed; options)")
    for est in estimators.registry().values():
        print(f"\n  {est.name}: {est.summary}")
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
        print(f"  {path.name}: {s.dgp}, {len(s.cells())} cells x {s.reps} reps; {suite}\n      {s.description}")
    return 0
