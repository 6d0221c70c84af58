"""Report pages: ``report.html`` and ``report.md`` per run, ``index.html`` per output folder.

Rendered with Jinja2 from what a run folder holds (manifest, summary,
records, figures), so ``run_bench.py report RUN_DIR`` redraws them at any
time.  ``report.html`` is one self-contained file (figures embedded as
data URIs, styles inline, no script); ``report.md`` is GitHub-flavoured
Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

Contents: the scenario's description and TOML, the DGP's equations (its
module docstring), one compact table per measure (cells × estimators, each
value rounded to its MCSE's precision with the MCSE beside it), the
expectations with pass/fail, a solve's roots (`sims.solve`), a leaderboard per cell (estimators ranked by
RMSE and by |coverage − nominal|, tied when the paired difference is not
distinguishable), the figures, failures by status and the provenance
(seed, versions, git revision, timings, workers, skipped estimators).
"""

from __future__ import annotations

import base64
import html
import inspect
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from ..comparison import leaderboard
from ..run.folder import MANIFEST, read_solve
from .text import expectation_table, has_several_terms, replications_text, stock_yogo_note, target_lines

HTML, MARKDOWN, INDEX = "report.html", "report.md", "index.html"
# Measures shown, in order, with their headings; a measure with
# no finite value in the run is left out.
MEASURE_TABLES = (
    ("bias", "Bias (mean estimate − truth)"),
    ("median_bias", "Median bias"),
    ("emp_se", "Empirical standard error"),
    ("rmse", "Root mean squared error"),
    ("se_ratio", "Mean standard error / empirical standard error"),
    ("coverage", "Coverage of the confidence intervals"),
    ("ci_width", "Mean interval width"),
    ("rejection", "Rejection rate of the true null"),
    ("power", "Rejection rate of H0: effect = 0"),
    ("mean_first_stage_f", "Mean first-stage F"),
    ("mean_effective_f", "Mean effective first-stage F"),
    ("fail_rate", "Share of replications that failed"),
)
# Headings of the measures no report table shows by default (a scenario page shows any its claims use).
MEASURE_TITLES = dict(MEASURE_TABLES) | {
    "mean_estimate": "Mean estimate",
    "mse": "Mean squared error",
    "mean_se": "Root mean squared standard error",
    "unbounded_ci": "Share of unbounded confidence sets",
    "wrong_sign": "Share of estimates of the wrong sign",
    "iqr": "Interquartile range of the estimates",
    "mad": "Median absolute error",
    "share_f_gt_10": "Share with a first-stage F above 10",
    "share_effective_f_weak": "Share with the effective F at or below its critical value",
}
MARKDOWN_MEASURES = ("bias", "median_bias", "rmse", "coverage", "rejection")
MARKDOWN_ROW_LIMIT = 40  # report.md stays short enough for a pull-request comment
IV_ONLY = ("median_bias", "mean_first_stage_f", "mean_effective_f")
LEADERBOARD_CELL_LIMIT = 60  # beyond this many (cell, term) pairs the leaderboard lists the first ones
RANKED = ("rmse", "coverage")


def value_and_mcse(value: float, mcse: float) -> tuple[str, str]:
    """The value rounded to the precision its MCSE supports, and the MCSE (two significant digits)."""
    if value is None or not math.isfinite(value):
        return ("" if value is None or math.isnan(value) else str(value)), ""
    if mcse is None or not math.isfinite(mcse) or mcse <= 0:
        return f"{value:.4g}", ""
    decimals = min(max(0, 1 - math.floor(math.log10(mcse))), 8)
    return f"{value:.{decimals}f}", f"{mcse:.{decimals}f}"


@dataclass
class Table:
    """A measure as a compact table: one row per cell (and term), one column per estimator."""

    measure: str
    title: str
    index_names: list[str]
    estimators: list[str]
    rows: list[tuple[list[str], list[tuple[str, str]]]]  # (index values, [(value, mcse) per estimator])


def measure_tables(summary: pd.DataFrame, grid_params: list[str], measures=None) -> list[Table]:
    """One `Table` per measure with a finite value somewhere in the summary.

    `measures`: these, in this order (any of `MEASURE_TITLES`); by default
    the report's (`MEASURE_TABLES`), IV-only ones only for IV summaries and
    ``fail_rate`` only when something failed.
    """
    index = list(grid_params) or ["cell"]
    if has_several_terms(summary):
        index.append("term")
    estimators = list(dict.fromkeys(summary["estimator"].astype(str)))
    is_iv = summary["mean_first_stage_f"].notna().any()
    chosen = MEASURE_TABLES if measures is None else [(m, MEASURE_TITLES[m]) for m in measures]
    tables = []
    for measure, title in chosen:
        if not summary[measure].notna().any():
            continue
        if measures is None and (
            measure in IV_ONLY and not is_iv or measure == "fail_rate" and not (summary[measure] > 0).any()
        ):
            continue
        rows = []
        for key, group in summary.groupby(index, sort=False, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            by_estimator = {str(r.estimator): (r[measure], r[f"{measure}_mcse"]) for _, r in group.iterrows()}
            cells = [value_and_mcse(*by_estimator[e]) if e in by_estimator else ("", "") for e in estimators]
            rows.append(([_plain(k) for k in key], cells))
        tables.append(Table(measure, title, index, estimators, rows))
    return tables


def _plain(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def dgp_equations(scenario) -> str:
    """The DGP's equations: what its `describe` says of the scenario's parameters (a dag's graph), else its
    module docstring (the one-line summary for a DGP without one)."""
    from .. import plugins

    if scenario.dgp not in plugins.dgp_registry():
        return ""
    dgp = scenario.dgp_spec()
    if dgp.describe is not None:
        # each cell's parameters as the DGP sees them (a shipped dataset's definition filled in, files by path)
        texts = {cell.label: dgp.describe(dict(cell.params)) for cell in scenario.cells()}
        if len(set(texts.values())) == 1:
            return next(iter(texts.values()))
        return "\n\n".join(f"{label}: {text}" for label, text in texts.items())
    module = inspect.getmodule(dgp.generate)
    return inspect.cleandoc(module.__doc__) if module is not None and module.__doc__ else dgp.summary


def failures(summary: pd.DataFrame, manifest: dict) -> list[dict]:
    """Failed replications by cell, estimator, term and status, with a plugin's first error message."""
    rows = []
    errors = manifest.get("errors", {})
    for r in summary[summary["n_failed"] > 0].itertuples():
        error = errors.get(str(r.cell), {}).get(str(r.estimator))
        message = error["message"].strip().splitlines()[-1] if error else ""
        rows.append(
            {
                "cell": r.cell,
                "estimator": r.estimator,
                "term": r.term,
                "reps": r.reps,
                "statuses": r.failures,
                "message": message,
            }  # fmt: skip
        )
    return rows


def provenance(manifest: dict) -> list[tuple[str, str]]:
    """What produced the run: seed, design identity, versions, revision, machine, timings, workers."""
    scenario = manifest["scenario"]
    timings = manifest.get("timings", {})
    items = [
        ("seed", str(scenario["seed"])),
        ("replications per cell", _replications(manifest)),
        ("fingerprint", manifest["fingerprint"]),
        ("git revision", manifest.get("git_revision") or "unknown"),
        ("versions", ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())),
        ("platform", manifest.get("platform", "")),
        ("workers", str(manifest.get("jobs", ""))),
        ("started", timings.get("started", "")),
        ("finished", timings.get("finished", "")),
        (
            "time",
            f"{timings.get('wall_seconds', math.nan):.1f} s wall, {timings.get('task_seconds', math.nan):.1f} s in "
            f"tasks; {timings.get('tasks_computed', '?')} tasks computed, {timings.get('tasks_reused', '?')} reused",
        ),
        ("figures", f"{timings['figure_seconds']:.1f} s" if "figure_seconds" in timings else "not drawn"),
        ("plugins", ", ".join(manifest.get("plugins", [])) or "none"),
    ]
    for note in manifest.get("skipped", []):
        items.append(("skipped", f"{note['estimator']} in cell {note['cell']}: {note['reason']}"))
    return items


def leaderboard_rows(run_dir: Path, scenario) -> list[dict]:
    """Per (cell, term): estimators by rank of RMSE and of |coverage − nominal| ("=" marks a tie), the first
    `LEADERBOARD_CELL_LIMIT` (cell, term) pairs in grid order."""
    table = leaderboard(run_dir, scenario, LEADERBOARD_CELL_LIMIT)
    return [
        {"cell": cell, "term": term, **{m: _ranking(group[group["measure"] == m]) for m in RANKED}}
        for (cell, term), group in table.groupby(["cell", "term"], sort=False)
    ]


def _ranking(ranked: pd.DataFrame) -> str:
    """'1 liml, =1 fuller, 3 tsls': the rank of each estimator, '=' where tied with the one before."""
    parts, previous = [], None
    for r in ranked.itertuples():
        mark = "=" if r.rank == previous else ""
        parts.append(f"{mark}{r.rank} {r.estimator}")
        previous = r.rank
    return ", ".join(parts)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@cache
def _environment(escape: bool = True):
    """Jinja2 over the report templates; `escape` False for pages that are Markdown only (the scenario pages),
    where an HTML entity is noise to the reader of the file."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("causalmc.sims.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=False) if escape else False,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _replications(manifest: dict) -> str:
    """The scenario's count, or with MCSE targets each cell's (from the manifest)."""
    if "reps" not in manifest:
        return str(manifest["scenario"]["reps"])
    return ", ".join(f"{cell}: {reps}" for cell, reps in manifest["reps"].items())


def context(run_dir: Path, scenario, summary: pd.DataFrame, figures: list[Path]) -> dict:
    """Everything the templates show, from a run folder's contents."""
    manifest = json.loads((run_dir / MANIFEST).read_text())
    expectations = expectation_table(scenario, summary, run_dir)
    several_terms = has_several_terms(summary)
    claims = [
        {
            "claim": r.expectation,
            "cell": r.cell if r.cell is not None else "(selects no cell)",
            "term": r.term if several_terms else None,
            "value": value_and_mcse(r.value, r.mcse),
            "holds": bool(r.holds),
        }
        for r in expectations.itertuples()
    ]
    return {
        "scenario": scenario,
        "cells": len(scenario.cells()),
        "estimators": [e.label for e in scenario.estimators],
        "toml": scenario.source,
        "equations": dgp_equations(scenario),
        "tables": measure_tables(summary, list(scenario.grid)),
        "notes": [line.strip() for line in target_lines(scenario, summary)] + stock_yogo_note(summary, scenario),
        "replications": replications_text(scenario),
        "claims": claims,
        "n_failed_claims": sum(not c["holds"] for c in claims),
        "leaderboard": leaderboard_rows(run_dir, scenario),
        "figures": [{"name": p.stem.replace("_", " "), "file": p} for p in figures],
        "failures": failures(summary, manifest),
        "provenance": provenance(manifest),
        "several_terms": several_terms,
        "markdown_measures": MARKDOWN_MEASURES,
        "row_limit": MARKDOWN_ROW_LIMIT,
        "solve": solve_section(run_dir),
    }


def solve_section(run_dir: Path) -> dict | None:
    """A solve's answer per estimator (`sims.solve`), as the report shows it; None for a plain run."""
    result = read_solve(run_dir)
    if result is None:
        return None

    def number(value):
        return "" if value is None or not math.isfinite(value) else f"{value:.5g}"

    rows = []
    for label, root in result["roots"].items():
        design = number(root["design_value"])
        if result["integer"] and design:
            design += f" [{number(root['design_ci'][0])}, {number(root['design_ci'][1])}]"
        rows.append({
            "estimator": label, "status": root["status"], "root": number(root["root"]), "se": number(root["se"]),
            "ci": f"[{number(root['ci_low'])}, {number(root['ci_high'])}]" if number(root["root"]) else "",
            "design": design, "monotone": "yes" if root["monotone"] else f"no ({len(root['reversals'])} reversals)",
        })  # fmt: skip
    low, high = result["interval"]
    return {
        "question": f"{result['param']} at which {result['measure']} = {result['target']:g}, "
        f"within [{low:g}, {high:g}]; {result['reps']} replications; {result['level']:.0%} intervals",
        "rows": rows,
        "integer": result["integer"],
    }


def write(run_dir, scenario, summary: pd.DataFrame, figures: list[Path]) -> tuple[Path, Path]:
    """Render ``report.html`` and ``report.md`` into the run folder; return their paths."""
    run_dir = Path(run_dir)
    values = context(run_dir, scenario, summary, sorted(figures))
    env = _environment()
    page = env.get_template("report.html.j2").render(**values, data_uri=_data_uri)
    markdown = env.get_template("report.md.j2").render(**values, relative=lambda p: p.relative_to(run_dir).as_posix())
    paths = run_dir / HTML, run_dir / MARKDOWN
    for path, text in zip(paths, (page, markdown)):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return paths


def write_index(out) -> Path:
    """``index.html`` in an output folder: every run's report with its expectations' pass/fail count."""
    out = Path(out)
    runs = []
    for manifest_path in sorted(out.glob(f"*/{MANIFEST}")):
        run_dir = manifest_path.parent
        if not (run_dir / HTML).exists():
            continue
        manifest = json.loads(manifest_path.read_text())
        counts = _claim_counts(run_dir / MARKDOWN)
        runs.append(
            {
                "name": run_dir.name,
                "link": f"{html.escape(run_dir.name)}/{HTML}",
                "description": manifest["scenario"].get("description", ""),
                "dgp": manifest["scenario"]["dgp"],
                "reps": max(manifest.get("reps", {}).values(), default=manifest["scenario"]["reps"]),
                "held": counts[0],
                "claims": counts[1],
                "failed": counts[0] < counts[1],
                "seconds": manifest.get("timings", {}).get("wall_seconds"),
            }
        )
    path = out / INDEX
    text = _environment().get_template("index.html.j2").render(runs=runs)
    tmp = path.with_name(f".{INDEX}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


CLAIM_COUNT_MARK = "<!-- causalmc expectations: "


def _claim_counts(markdown: Path) -> tuple[int, int]:
    """(held, total) from the machine-readable line report.md carries."""
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith(CLAIM_COUNT_MARK):
            held, total = line.removeprefix(CLAIM_COUNT_MARK).removesuffix(" -->").split("/")
            return int(held), int(total)
    return 0, 0
