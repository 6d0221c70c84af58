"""The command line's parser: every command, its options and its help (the CLI reference is generated from it)."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

from .. import __version__, report
from ..run.pool import BACKENDS

DEFAULT_OUT = Path("results")


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


def _add_output_options(p: argparse.ArgumentParser) -> None:
    _add_plugin_option(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: results)")
    p.add_argument(
        "--jobs", type=_positive_int, default=os.cpu_count() or 1, help="worker processes (default: all cores)"
    )
    p.add_argument("--fresh", action="store_true", help="discard earlier results in the output folder")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    _add_output_options(p)
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
        "solve",
        help="solve for the parameter value at which a measure reaches a target",
        formatter_class=_Formatter,
        description="Find, per estimator, the value of a numeric DGP parameter at which a summary measure reaches "
        "a target (e.g. the n giving 80 %% power), with a confidence interval for it: evaluations at the "
        "interval's ends, a probabilistic bisection choosing where each next batch of replications goes, and a "
        "regression over the evaluations near the root (logistic for rates). Stops at --precision or --budget. "
        "Every evaluation is an ordinary cell of the scenario in OUT/<name>: the same command gives the same "
        "answer, an interrupted solve resumes, a later solve reuses the replications. Writes solve.json, the "
        "figure figures/solve.png and the report. See docs/solve.md.",
        epilog="examples:\n  python run_bench.py solve scenarios/solve_rct_power.toml --param n --target power=0.80\n"
        "  python run_bench.py solve scenarios/confounding.toml --param n --target ci_width=0.1 "
        "--estimator ols_adjusted --interval 200 5000 --precision 25",
    )
    p.add_argument("file", type=Path, metavar="FILE.toml")
    p.add_argument("--param", required=True, help="the DGP parameter to solve for (integer ones stay integer)")
    p.add_argument("--target", required=True, metavar="MEASURE=VALUE", help="e.g. power=0.80, coverage=0.93")
    p.add_argument("--estimator", action="append", default=[], metavar="LABEL", help="an estimator (repeatable; default all)")
    p.add_argument("--interval", nargs=2, type=float, metavar=("LO", "HI"), help="where to look (default: the file's grid)")
    p.add_argument("--budget", type=_positive_int, default=20000, help="most replications in all (default 20000)")
    p.add_argument("--precision", type=float, help="stop once the root's interval has at most this half-width")
    p.add_argument("--batch", type=_positive_int, help="replications of one evaluation (default: chunk_size, else 200)")
    p.add_argument("--points", action="store_true", help="also print every evaluated point")
    _add_output_options(p)
    p.add_argument("--no-figures", action="store_true", help="skip the figure and report")

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
        "figures",
        help="redraw the figures of finished runs",
        formatter_class=_Formatter,
        description="Draw every figure of each run folder again from its summary and records with the current "
        "code, and write its report again when it has one (the report embeds the figures). Nothing is "
        "recomputed: the manifest, records and summary (the run's identity and numbers) are left as they are; "
        "figure files the current code no longer draws are removed. Nothing is written if a folder is no "
        "finished run (exit 2).",
        epilog="example:\n  python run_bench.py figures full/bdm_cps full/weak_iv\n"
        "  python run_bench.py pages full/bdm_cps full/weak_iv --out docs/scenarios",
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
    from ..bench import workloads

    names = list(workloads())
    p.add_argument("--workloads", nargs="+", choices=names, default=names)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every replication count (default 1)")
    p.add_argument("--json", type=Path, help="also write the measurements to this file")
    return parser

