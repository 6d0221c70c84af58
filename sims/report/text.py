"""Summaries and expectation checks as text, for terminals and scripts."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .. import records
from .. import summary as summary_module
from ..comparison import RECORD_COLUMNS, check_better_than

BASE_COLUMNS = ("bias", "emp_se", "rmse", "se_ratio", "coverage", "rejection", "power")
ROBUST_COLUMNS = ("median_bias", "iqr", "mean_first_stage_f")
FORMATS = ("table", "markdown", "csv", "json")


def with_mcse(value: float, mcse: float) -> str:
    """'0.5002 ± 0.0002': the value rounded to the precision its MCSE supports."""
    if not math.isfinite(value):
        return str(value)
    if not math.isfinite(mcse) or mcse <= 0:
        return f"{value:.4g}"
    decimals = min(max(0, 1 - math.floor(math.log10(mcse))), 8)
    return f"{value:.{decimals}f} ± {mcse:.{decimals}f}"


def has_several_terms(summary: pd.DataFrame) -> bool:
    """Whether an estimator of the summary reports more than one term."""
    return "term" in summary and bool(
        (summary.groupby(["cell", "estimator"], observed=True)["term"].nunique() > 1).any()
    )


def display_columns(summary: pd.DataFrame) -> list[str]:
    """The measures worth a glance: IV summaries add the robust ones."""
    columns = list(BASE_COLUMNS)
    if summary["mean_first_stage_f"].notna().any():
        columns += ROBUST_COLUMNS
    return columns


def format_summary(summary: pd.DataFrame, grid_params, fmt: str = "table") -> str:
    """Render a summary: a readable table (``table``/``markdown``) or the full data (``csv``/``json``)."""
    if fmt == "csv":
        return summary.to_csv(index=False)
    if fmt == "json":
        return summary.to_json(orient="records", indent=1)
    shown = pd.DataFrame({p: summary[p] for p in grid_params} if grid_params else {"cell": summary["cell"]})
    shown["estimator"] = summary["estimator"]
    if has_several_terms(summary):
        shown["term"] = summary["term"]
    shown["ok/reps"] = [f"{a}/{b}" for a, b in zip(summary["n_ok"], summary["reps"])]
    for m in display_columns(summary):
        shown[m] = [with_mcse(v, e) for v, e in zip(summary[m], summary[f"{m}_mcse"])]
    if fmt == "markdown":
        return shown.to_markdown(index=False)
    return shown.to_string(index=False)


def headline_columns(summary: pd.DataFrame) -> list[str]:
    """The measures of the terminal's one line per cell and estimator."""
    if summary["mean_first_stage_f"].notna().any():  # IV: 2SLS may have no mean
        return ["median_bias", "iqr", "coverage", "rejection"]
    return ["bias", "rmse", "coverage", "se_ratio"]


def scenario_measures(scenario) -> list[str] | None:
    """The measures a scenario's claims and extra figures (``<measure>_vs_param``) use, in that order; None when
    it has neither (then the standard headline columns)."""
    used = [e.measure for e in scenario.expectations]
    used += [name.removesuffix("_vs_param") for name in scenario.figures if name.endswith("_vs_param")]
    return [m for m in dict.fromkeys(used) if m in summary_module.MEASURES] or None


def format_headline(summary: pd.DataFrame, grid_params, measures: list[str] | None = None) -> str:
    """One short line per cell and estimator (and term): the headline measures (`measures`, by default
    `headline_columns`) with their MCSEs."""
    shown = pd.DataFrame({p: summary[p] for p in grid_params} if grid_params else {"cell": summary["cell"]})
    shown["estimator"] = summary["estimator"]
    if has_several_terms(summary):
        shown["term"] = summary["term"]
    failed = summary["n_failed"] > 0
    if failed.any():
        shown["failed"] = [f"{a}/{b}" if a else "" for a, b in zip(summary["n_failed"], summary["reps"])]
    for m in measures or headline_columns(summary):
        if m in summary and summary[m].notna().any():
            shown[m] = [with_mcse(v, e) if math.isfinite(v) else "" for v, e in zip(summary[m], summary[f"{m}_mcse"])]
    return shown.to_string(index=False)


def replications_text(scenario) -> str:
    """Replications per cell as a sentence fragment: fixed, or a range reached by MCSE targets."""
    if scenario.target_mcse:
        return f"{scenario.reps} to {scenario.max_reps} reps (to MCSE targets)"
    return f"{scenario.reps} reps"


def target_lines(scenario, summary: pd.DataFrame) -> list[str]:
    """With ``target_mcse``: per cell, the replications used and whether every target was met."""
    if not scenario.target_mcse or summary.empty or "target_met" not in summary:
        return []
    wanted = ", ".join(f"{m} ≤ {t:g}" for m, t in scenario.target_mcse.items())
    lines = []
    for cell, rows in summary.groupby("cell", sort=False):
        reps = int(rows["reps"].max())
        if rows["target_met"].all():
            lines.append(f"   {cell}: MCSE targets ({wanted}) met with {reps} reps")
            continue
        missed = rows.loc[~rows["target_met"]]
        detail = "; ".join(
            f"{r.estimator} {m} MCSE {r[f'{m}_mcse']:.2g}"
            for _, r in missed.iterrows()
            for m in r["targets_missed"].split(",")
        )
        lines.append(f"   {cell}: MCSE targets NOT met at max_reps = {reps} ({detail})")
    return lines


def stock_yogo_note(summary: pd.DataFrame, scenario) -> list[str]:
    """Stock–Yogo (2005) thresholds for the instrument counts of an IV summary."""
    if not summary["mean_first_stage_f"].notna().any():
        return []
    from causalmc.estimators.iv import stock_yogo

    if "k_instruments" in summary:
        counts = sorted(set(summary["k_instruments"]))
    else:
        counts = [scenario.params.get("k_instruments", 1)]
    table = stock_yogo()
    lines = ["Stock-Yogo (2005) critical values of the first-stage F (one endogenous regressor):"]
    for k in counts:
        size = ", ".join(
            f"{t:.0%}: {table[('size', k, t)]:g}" for t in (0.10, 0.15, 0.20, 0.25) if ("size", k, t) in table
        )
        bias = ", ".join(
            f"{t:.0%}: {table[('relative_bias', k, t)]:g}"
            for t in (0.05, 0.10, 0.20, 0.30)
            if ("relative_bias", k, t) in table
        )
        lines.append(
            f"  K = {k}: maximal Wald size {size or 'not tabulated'}; "
            f"maximal relative bias {bias or 'not tabulated (needs K ≥ 3)'}"
        )
    return lines


def expectation_table(scenario, summary: pd.DataFrame, run_dir=None) -> pd.DataFrame:
    """One row per (expectation, selected cell): the claim, the measure, its MCSE and whether it holds.

    An expectation that selects no summary row gets one row with no cell,
    and does not hold.  ``better_than`` claims are judged on the paired
    replications, read from the records under `run_dir` (only then).
    """
    rows = []
    paired_records = None
    for expectation in scenario.expectations:
        claim = {
            "expectation": expectation.describe(),
            "estimator": expectation.estimator,
            "measure": expectation.measure,
            "relation": expectation.relation,
            "target": expectation.value,
        }
        if expectation.relation == "better_than":
            if paired_records is None:
                if run_dir is None:
                    raise ValueError("a better_than expectation needs the run's records: pass run_dir")
                paired_records = records.read(Path(run_dir) / "records", columns=[*RECORD_COLUMNS, *scenario.grid])
            order = {c: i for i, c in enumerate(summary["cell"].astype(str).unique())}
            results = sorted(
                check_better_than(expectation, paired_records, scenario.level), key=lambda r: order.get(str(r["cell"]))
            )
        else:
            results = summary_module.check(expectation, summary)
        if not results:
            rows.append(claim | {"cell": None, "term": None, "value": math.nan, "mcse": math.nan, "holds": False})
        rows += [claim | r for r in results]
    columns = ["expectation", "estimator", "measure", "relation", "target", "cell", "term", "value", "mcse", "holds"]
    return pd.DataFrame(rows, columns=columns)


def check_expectations(scenario, summary: pd.DataFrame, run_dir=None) -> tuple[list[str], int]:
    """Lines describing each expectation's outcome, and the number that failed."""
    lines, table = [], expectation_table(scenario, summary, run_dir)
    several_terms = has_several_terms(summary)
    for r in table.itertuples():
        if r.cell is None:
            lines.append(f"  FAIL {r.expectation}: selects no summary row")
        else:
            mark = "ok  " if r.holds else "FAIL"
            where = f"{r.cell}; {r.term}" if several_terms and r.term is not None else r.cell
            what = "paired loss difference " if r.relation == "better_than" else ""
            lines.append(f"  {mark} {r.expectation} [{where}]: {what}{with_mcse(r.value, r.mcse)}")
    return lines, int((~table["holds"].astype(bool)).sum())
