"""Printing summaries and expectation checks for people and for scripts."""

from __future__ import annotations

import math

import pandas as pd

from . import summary as summary_module

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


COMPARED = ("bias", "median_bias", "emp_se", "rmse", "se_ratio", "coverage", "rejection", "power")


def compare(base: pd.DataFrame, new: pd.DataFrame, measures=COMPARED, mcse_multiple: float = 4.0) -> pd.DataFrame:
    """Measure-by-measure differences between two summaries of the same design.

    One row per (cell, estimator, term, measure) present in both: ``base``,
    ``new``, ``difference`` and its MCSE √(MCSE_base² + MCSE_new²) (runs with
    different seeds are independent), and ``changed`` when the difference
    exceeds `mcse_multiple` MCSEs.  Runs with the same seed and design give
    identical numbers, so there any difference at all shows a changed
    computation.
    """
    keys = [k for k in ("cell", "estimator", "term") if k in base and k in new]
    joined = base.merge(new, on=keys, suffixes=("_base", "_new"))
    rows = []
    for _, row in joined.iterrows():
        for m in measures:
            b, n = row[f"{m}_base"], row[f"{m}_new"]
            error = math.hypot(row[f"{m}_mcse_base"], row[f"{m}_mcse_new"])
            difference = n - b
            changed = bool(math.isfinite(difference) and abs(difference) > mcse_multiple * error) or (
                math.isfinite(b) != math.isfinite(n)
            )
            rows.append(
                {
                    **{k: row[k] for k in keys},
                    "measure": m,
                    "base": b,
                    "new": n,
                    "difference": difference,
                    "difference_mcse": error,
                    "changed": changed,
                }
            )
    return pd.DataFrame(rows)


def expectation_table(scenario, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (expectation, selected cell): the claim, the measure, its MCSE and whether it holds.

    An expectation that selects no summary row gets one row with no cell,
    and does not hold.
    """
    rows = []
    for expectation in scenario.expectations:
        claim = {
            "expectation": expectation.describe(),
            "estimator": expectation.estimator,
            "measure": expectation.measure,
            "relation": expectation.relation,
            "target": expectation.value,
        }
        results = summary_module.check(expectation, summary)
        if not results:
            rows.append(claim | {"cell": None, "term": None, "value": math.nan, "mcse": math.nan, "holds": False})
        rows += [claim | r for r in results]
    columns = ["expectation", "estimator", "measure", "relation", "target", "cell", "term", "value", "mcse", "holds"]
    return pd.DataFrame(rows, columns=columns)


def check_expectations(scenario, summary: pd.DataFrame) -> tuple[list[str], int]:
    """Lines describing each expectation's outcome, and the number that failed."""
    lines, table = [], expectation_table(scenario, summary)
    several_terms = has_several_terms(summary)
    for r in table.itertuples():
        if r.cell is None:
            lines.append(f"  FAIL {r.expectation}: selects no summary row")
        else:
            mark = "ok  " if r.holds else "FAIL"
            where = f"{r.cell}; {r.term}" if several_terms and r.term is not None else r.cell
            lines.append(f"  {mark} {r.expectation} [{where}]: {with_mcse(r.value, r.mcse)}")
    return lines, int((~table["holds"].astype(bool)).sum())
