"""Commands on finished run folders: ``summary``, ``check``, ``compare``, ``report``, ``figures``, ``pages``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from .. import api, report
from ..scenario import Scenario


def _scenario_of(run_dir: Path) -> Scenario:
    return api.scenario_of(run_dir)


def _summary_of(run_dir: Path, scenario: Scenario) -> pd.DataFrame:
    return api.summary_of(run_dir, scenario)


def summary(args) -> int:
    scenario = _scenario_of(args.run_dir)
    table = _summary_of(args.run_dir, scenario)
    print(report.format_summary(table, list(scenario.grid), args.format))
    if args.format in ("table", "markdown"):
        print("\n".join(report.stock_yogo_note(table, scenario)))
    return 0


def check(args) -> int:
    failed = 0
    for run_dir in args.run_dirs:
        scenario = _scenario_of(run_dir)
        lines, n = report.check_expectations(scenario, _summary_of(run_dir, scenario), run_dir)
        print(f"{scenario.name}: {len(lines) - n}/{len(lines)} expectations hold")
        print("\n".join(lines))
        failed += n
    return 1 if failed else 0


def compare(args) -> int:
    from ..comparison import COMPARED

    if args.estimators is not None:
        return _compare_estimators(args)
    if len(args.runs) != 2:
        raise api.UsageError("compare: give BASE_DIR NEW_DIR, or one RUN_DIR with --estimators A,B")
    from ..comparison import between_runs
    from ..summary import MEASURES

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


def rerender(args) -> int:
    from ..report import page

    for run_dir in args.run_dirs:
        scenario = _scenario_of(run_dir)
        figures = sorted((run_dir / "figures").glob("*.png"))
        html, markdown = page.write(run_dir, scenario, _summary_of(run_dir, scenario), figures)
        print(f"{scenario.name}: {html}, {markdown}")
    for out in {Path(d).resolve().parent for d in args.run_dirs}:
        print(f"index: {page.write_index(out)}")
    return 0


def figures(args) -> int:
    """Redraw each finished run's figures from its summary and records with the current code (nothing is
    recomputed; manifest, records and summary stay as they are), drop figure files no longer drawn, and write
    its report again when it has one (the report embeds the figures).  Every folder is checked first: one that
    is no finished run is refused before anything is written."""
    from .. import records
    from ..figures import FigureContext, draw
    from ..figures.solve import draw_solve
    from ..report import page
    from ..report.pages import finished_run

    runs = [finished_run(Path(run_dir))[0] for run_dir in args.run_dirs]
    for run in runs:
        run_dir = run.run_dir
        loader = lambda run_dir=run_dir: records.read(run_dir / "records")  # noqa: E731
        paths = draw(FigureContext(run.scenario, run.summary, run_dir, loader)) + draw_solve(run_dir)
        for old in (run_dir / "figures").glob("*.png"):
            if old not in paths:
                old.unlink()
        line = f"{run.scenario.name}: {len(paths)} figures in {run_dir / 'figures'}"
        if (run_dir / page.HTML).exists() or (run_dir / page.MARKDOWN).exists():
            page.write(run_dir, run.scenario, run.summary, paths)
            line += f"; {run_dir / page.HTML}, {run_dir / page.MARKDOWN}"
        print(line)
    return 0


def pages(args) -> int:
    from ..report import pages

    written, files, index = pages.write(args.run_dirs, args.out)
    for page, path in zip(written, files):
        print(f"{page.name}: {path}")
        if page.stale:
            print(f"   note: {page.stale}", file=sys.stderr)
    print(f"index: {index}")
    return 0


