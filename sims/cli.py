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

from . import __version__, api, plugins, report
from .report import reference, terminal
from .frames import FrameError
from .plugins import PluginError
from .run.folder import RunDirError, WriteError
from .run.pool import BACKENDS
from .scenario import Scenario, ScenarioError, check_targets, load, scenario_files

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


def _add_plugin_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="load your own estimators and DGPs from a plugin file or module (repeatable)",
    )


def _add_run_options(p: argparse.ArgumentParser) -> None:
    _add_plugin_option(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: results)")
    p.add_argument(
        "--jobs", type=_positive_int, default=os.cpu_count() or 1, help="worker processes (default: all cores)"
    )
    p.add_argument("--fresh", action="store_true", help="discard earlier results in the output folder")
    p.add_argument("--quiet", action="store_true", help="print no progress bar and no tables, only failed claims")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="print each scenario's full headline table, MCSE targets and claims (the suite prints one line each)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip drawing figures")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="loky",
        help="loky: processes on this machine (default); dask: a dask.distributed cluster",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --backend dask: the scheduler (e.g. tcp://10.0.0.5:8786); default a local cluster",
    )
    p.add_argument(
        "--workers-write",
        action="store_true",
        default=None,
        help="with --scheduler: workers write their records files themselves (--out must be on a filesystem "
        "every worker mounts at the same path, e.g. NFS or Lustre); always so with loky and a local cluster",
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
        "plan",
        help="estimate the replications and time a scenario needs",
        formatter_class=_Formatter,
        description="Run a short pilot of every cell (the run's own first replications, on one core) and "
        "print per cell the seconds per replication, the replications each MCSE target needs "
        "(target_mcse of the file, or --target), and the estimated compute time on 1 and --workers "
        "workers. Writes nothing.",
        epilog="examples:\n  python run_bench.py plan scenarios/small_sample_robust.toml --workers 8\n"
        "  python run_bench.py plan scenarios/confounding.toml --target coverage=0.005 bias=0.01",
    )
    p.add_argument("file", type=Path, metavar="FILE.toml")
    p.add_argument("--pilot", type=int, default=500, help="pilot replications per cell (default 500)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers to estimate for (default: cores)")
    p.add_argument("--target", nargs="+", default=[], metavar="MEASURE=MCSE", help="targets instead of the file's")
    _add_plugin_option(p)

    p = sub.add_parser(
        "sample",
        help="write one simulated dataset of a scenario",
        formatter_class=_Formatter,
        description="Write the dataset of one replication of a scenario's cell, as the estimators see it "
        "(a tidy table: one row per observation, panels long with unit and period), drawn from the "
        "same random stream as the run. Without --out, prints it.",
        epilog="example:\n  python run_bench.py sample scenarios/confounding.toml --cell n=100 --rep 3 --out data.csv",
    )
    p.add_argument("file", type=Path, metavar="FILE.toml")
    p.add_argument("--cell", nargs="+", default=[], metavar="PARAM=VALUE", help="grid values of the cell")
    p.add_argument("--rep", type=int, default=0, help="replication number (default 0)")
    p.add_argument("--out", type=Path, metavar="DATA.csv|DATA.parquet", help="write here instead of printing")
    _add_plugin_option(p)

    p = sub.add_parser(
        "estimate",
        help="run an estimator on a dataset",
        formatter_class=_Formatter,
        description="Run any registered estimator (shipped or plugin) on one dataset in the sample "
        "format (CSV or Parquet) and print estimate, standard error, interval, the test of "
        "H0: theta = --null and diagnostics.",
        epilog="example:\n  python run_bench.py estimate ols_adjusted data.csv --option se=hc1 --null 0",
    )
    p.add_argument("estimator", metavar="NAME")
    p.add_argument("data", type=Path, metavar="DATA.csv|DATA.parquet")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="an estimator option")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--null", type=float, default=0.0, help="the value tested by reject (default 0)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    _add_plugin_option(p)

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
        help="compare two runs, or two estimators within a run",
        formatter_class=_Formatter,
        description="Two run folders of one design (BASE_DIR NEW_DIR): every measure's difference with its "
        "Monte Carlo error and a direction-aware verdict (worse: |bias| up, RMSE up, |coverage - nominal| up, "
        "|rejection - alpha| up, power down); exit 1 only when NEW is significantly worse somewhere "
        "(--any-change: when anything differs). Improvements and cells or estimators present in one run "
        "only are listed too.\n\nOne run folder with --estimators A,B: B against A on the same datasets, "
        "each difference with its MCSE from the paired replications and a verdict (better, worse, not "
        "distinguishable); exit 1 when B is significantly worse than A somewhere.",
        epilog="examples:\n  python run_bench.py compare baseline/weak_iv results/weak_iv\n"
        "  python run_bench.py compare results/weak_iv --estimators tsls,liml",
    )
    p.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN_DIR", help="BASE_DIR NEW_DIR, or RUN_DIR with --estimators"
    )
    p.add_argument("--estimators", metavar="A,B", help="compare estimator B with A within one run, paired")
    p.add_argument("--measures", nargs="+", metavar="MEASURE", help="measures to compare (default: the main ones)")
    p.add_argument("--mcse-multiple", type=float, default=4.0, help="a verdict needs this many MCSEs (default 4)")
    p.add_argument("--all", action="store_true", help="list every comparison, not only the significant ones")
    p.add_argument("--any-change", action="store_true", help="exit 1 on any significant difference, better or worse")

    p = sub.add_parser(
        "report",
        help="re-render the report of finished runs",
        formatter_class=_Formatter,
        description="Write report.html and report.md of each run folder again from its records, summary, "
        "manifest and figures, and index.html in the folder above.",
        epilog="example:\n  python run_bench.py report results/confounding results/weak_iv",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")

    p = sub.add_parser(
        "pages",
        help="write documentation pages of finished runs",
        formatter_class=_Formatter,
        description="Write OUT/<name>.md per run folder (its figures in OUT/<name>/): the scenario's question and "
        "design, its claims (holds or not, the value ± MCSE), a table per measure they and its figures use, the "
        "figures, the provenance; then the index OUT.md, a row per page in OUT. Nothing is written if a folder "
        "is no finished run.",
        epilog="example:\n  python run_bench.py pages full/bdm_cps full/weak_iv --out docs/scenarios",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--out", type=Path, required=True, help="folder of the pages (the index goes beside it)")

    p = sub.add_parser(
        "list",
        help="list DGPs, estimators and scenarios",
        formatter_class=_Formatter,
        description="Show the DGPs with their parameters, the estimators with the data they "
        "need, and the shipped scenarios.",
        epilog="example:\n  python run_bench.py list --plugin examples/my_estimators.py",
    )
    _add_plugin_option(p)

    p = sub.add_parser("docs", help="write the site's reference pages", formatter_class=_Formatter,
                       description="Write the reference pages (DGPs, estimators, measures, scenario grammar, CLI, "
                       "API) from the code.", epilog="example:\n  python run_bench.py docs --out docs/reference")
    p.add_argument("--out", type=Path, default=Path("docs/reference"), help="folder (default docs/reference)")

    p = sub.add_parser(
        "bench",
        help="measure speed against the tools users would otherwise use",
        formatter_class=_Formatter,
        description="Replications per second of the harness end to end, of a loop over the "
        "reference library, and of drawing the same random numbers (the floor), "
        "measured in one run; prints the ratios and checks the targets.",
        epilog="example:\n  python run_bench.py bench --workloads confounding --json bench.json",
    )
    from .bench import workloads

    names = list(workloads())
    p.add_argument("--workloads", nargs="+", choices=names, default=names)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every replication count (default 1)")
    p.add_argument("--json", type=Path, help="also write the measurements to this file")
    return parser


COMMANDS = tuple("suite run plan sample estimate summary check compare report pages list docs bench".split())


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
            scenarios = [api.as_scenario(f, reps=args.reps, seed=args.seed, plugins=args.plugin) for f in args.files]
            return _run(scenarios, args, one_line=len(scenarios) > 1)
        if command == "plan":
            return _plan(args)
        if command == "sample":
            return _sample(args)
        if command == "estimate":
            return _estimate(args)
        if command == "summary":
            return _summary(args)
        if command == "check":
            return _check(args)
        if command == "compare":
            return _compare(args)
        if command == "report":
            return _rerender(args)
        if command == "pages":
            return _pages(args)
        if command == "list":
            return _list(args)
        if command == "docs":
            return reference.command(args.out, build_parser())
        if command == "bench":
            from .bench import main as bench_main

            return bench_main(args)
    except (ScenarioError, RunDirError, FileNotFoundError, PluginError, api.UsageError, FrameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    raise AssertionError(command)


def _suite(args) -> int:
    plugins.load_all(args.plugin)
    files = scenario_files(scenarios_folder())
    scenarios = [s for s in (load(f) for f in files) if s.suite_reps is not None]
    if not scenarios:
        raise ScenarioError(scenarios_folder(), "suite", "no scenario is marked for the default suite")
    return _run([s.with_overrides(reps=s.suite_reps) for s in scenarios], args, one_line=True)


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


def _plan(args) -> int:
    from . import planning

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


def _scenario_of(run_dir: Path) -> Scenario:
    return api.scenario_of(run_dir)


def _summary_of(run_dir: Path, scenario: Scenario) -> pd.DataFrame:
    return api.summary_of(run_dir, scenario)


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
        lines, n = report.check_expectations(scenario, _summary_of(run_dir, scenario), run_dir)
        print(f"{scenario.name}: {len(lines) - n}/{len(lines)} expectations hold")
        print("\n".join(lines))
        failed += n
    return 1 if failed else 0


def _compare(args) -> int:
    from .comparison import COMPARED

    if args.estimators is not None:
        return _compare_estimators(args)
    if len(args.runs) != 2:
        raise api.UsageError("compare: give BASE_DIR NEW_DIR, or one RUN_DIR with --estimators A,B")
    from .comparison import between_runs
    from .summary import MEASURES

    measures = args.measures or list(COMPARED)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise api.UsageError(f"--measures: unknown {', '.join(unknown)}; allowed: {', '.join(MEASURES)}")
    base_dir, new_dir = args.runs
    base_scenario = _scenario_of(base_dir)
    base, new = _summary_of(base_dir, base_scenario), _summary_of(new_dir, _scenario_of(new_dir))
    table, unmatched = between_runs(base, new, measures, args.mcse_multiple, base_scenario.level)
    if table.empty:
        raise api.UsageError(f"{base_dir} and {new_dir} share no (cell, estimator)")
    changed = table[table["changed"]]
    worse, better = table[table["verdict"] == "worse"], table[table["verdict"] == "better"]
    if args.all:
        print(table.to_string(index=False))
    for title, part in (("worse", worse), ("better", better)):
        if not part.empty:
            print(f"\n{title} in {new_dir} ({len(part)}):")
            print(part.drop(columns=["changed", "verdict"]).to_string(index=False))
    if not unmatched.empty:
        print(f"\nin one run only ({len(unmatched)}):")
        print(unmatched.to_string(index=False))
    print(
        f"\n{len(table)} comparisons at {args.mcse_multiple:g} MCSE: {len(worse)} worse, {len(better)} better, "
        f"{len(changed)} changed at all"
    )
    failing = changed if args.any_change else worse
    return 1 if len(failing) else 0


def _compare_estimators(args) -> int:
    if len(args.runs) != 1:
        raise api.UsageError("compare --estimators A,B takes one RUN_DIR")
    a, sep, b = args.estimators.partition(",")
    if not sep:
        raise api.UsageError(f"--estimators {args.estimators!r}: give A,B")
    measures = args.measures or ["bias", "median_bias", "emp_se", "rmse", "se_ratio", "coverage", "rejection"]
    table = api.open(args.runs[0]).compare(a, b, measures, args.mcse_multiple)
    table = table.dropna(subset=["difference"])
    shown = table if args.all else table[table["verdict"].isin(["better", "worse", "differs"])]
    if not shown.empty:
        print(shown.rename(columns={"a": a, "b": b}).to_string(index=False))
    counts = table["verdict"].value_counts()
    print(
        f"{b} against {a} on the same datasets, {len(table)} comparisons at {args.mcse_multiple:g} paired MCSE: "
        + ", ".join(f"{counts.get(v, 0)} {v}" for v in ("better", "worse", "not distinguishable"))
    )
    return 1 if counts.get("worse", 0) else 0


def _rerender(args) -> int:
    from .report import page

    for run_dir in args.run_dirs:
        scenario = _scenario_of(run_dir)
        figures = sorted((run_dir / "figures").glob("*.png"))
        html, markdown = page.write(run_dir, scenario, _summary_of(run_dir, scenario), figures)
        print(f"{scenario.name}: {html}, {markdown}")
    for out in {Path(d).resolve().parent for d in args.run_dirs}:
        print(f"index: {page.write_index(out)}")
    return 0


def _pages(args) -> int:
    from .report import pages

    written, files, index = pages.write(args.run_dirs, args.out)
    for page, path in zip(written, files):
        print(f"{page.name}: {path}")
        if page.stale:
            print(f"   note: {page.stale}", file=sys.stderr)
    print(f"index: {index}")
    return 0


def _sample(args) -> int:
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


def _estimate(args) -> int:
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


def _list(args) -> int:
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
