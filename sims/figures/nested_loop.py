"""Nested-loop plots: one measure over every cell of a grid of three or more factors.

Rücker & Schwarzer (2014), "Presenting simulation results in a nested
loop plot", BMC Medical Research Methodology 14:129.  Every cell is put on
one x axis, ordered lexicographically by the grid factors (the factor with
fewest values outermost, the one with most values innermost; ties in grid
order), and each estimator's measure is drawn as a step line with its
±1.96·MCSE band.  Beneath it, on the same x axis, each factor is drawn as a
step line scaled into its own band and labelled with its name and values,
so any cell's settings can be read off below it.  rsimsum's
``autoplot(type = "nlp")`` draws the same display.

Drawn as standard figures for bias (median bias for IV summaries, where
`mean_first_stage_f` has values) and coverage when three or more grid
factors vary; fewer factors are shown whole by the measure-against-parameter
figures (`generic`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import bands  # noqa: E402
from .generic import (  # noqa: E402
    DPI,
    apply_style,
    coinciding,
    failed_note,
    headline_rows,
    labels_of,
    reference_line,
    series_labels,
)
from .layout import format_value, lexicographic_factors, series_styles, wrap_lines  # noqa: E402

MIN_FACTORS = 3


def nested_order(grid, factors) -> pd.DataFrame:
    """Every cell of the full grid in nested-loop order: one row per cell, a column per factor, position 0…N−1.

    `factors` go from outermost to innermost; each factor's values keep
    their grid order.
    """
    index = pd.MultiIndex.from_product([list(grid[f]) for f in factors], names=factors)
    frame = index.to_frame(index=False)
    frame["position"] = np.arange(len(frame))
    return frame


def nested_loop_data(summary, grid, measure):
    """The summary rows of `measure` with each cell's nested-loop position, and the cell order.

    Returns ``(rows, order, factors)``: `rows` has columns series,
    position, value, mcse; `order` is `nested_order`'s table.  Grid
    parameters that do not vary are ignored (all rows share their value).
    """
    factors = lexicographic_factors(grid)
    order = nested_order(grid, factors)
    data = summary.assign(series=series_labels(summary))
    data = data.merge(order, on=factors, how="inner")
    rows = pd.DataFrame(
        {
            "series": data["series"].to_numpy(),
            "position": data["position"].to_numpy(),
            "value": data[measure].to_numpy(dtype=float),
            "mcse": data[f"{measure}_mcse"].to_numpy(dtype=float),
            "n_ok": data["n_ok"].to_numpy(dtype=float) if "n_ok" in data else np.nan,
        }
    )
    return rows, order, factors


def _steps(positions, values, n):
    """A full-length step series (NaN where a cell has no value), closed at the right edge."""
    y = np.full(n, np.nan)
    y[positions] = values
    return np.arange(n + 1), np.append(y, y[-1])


def nested_loop(context, measure, ylabel, reference=None, reference_label=None, question="", name=None):
    """Draw `measure` for every cell in nested-loop order (see the module docstring); [] under three factors."""
    scenario, summary = context.scenario, context.summary
    if measure not in summary or not summary[measure].notna().any():
        return []
    factors = lexicographic_factors(scenario.grid)
    if len(factors) < MIN_FACTORS:
        return []
    summary, series_note = headline_rows(summary)
    notes = [series_note, failed_note(summary)]
    rows, order, factors = nested_loop_data(summary, scenario.grid, measure)
    notes.append(coinciding(rows, "value", keys=("position",)))
    n = len(order)
    labels = list(dict.fromkeys(rows["series"]))
    styles = series_styles(labels, labels_of(scenario))
    apply_style()
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(12, 4.4 + 0.42 * len(factors)),
        gridspec_kw={"height_ratios": [3.2, 0.42 * len(factors)], "hspace": 0.05},
    )
    for label in labels:
        part = rows[rows["series"] == label]
        x, y = _steps(part["position"].to_numpy(), part["value"].to_numpy(), n)
        low, high = bands.limits(part, "value", "mcse", rate=measure in bands.RATES)
        _, low = _steps(part["position"].to_numpy(), low, n)
        _, high = _steps(part["position"].to_numpy(), high, n)
        style = styles[label]
        top.step(x, y, where="post", color=style["color"], linestyle=style["linestyle"], linewidth=1.3, label=label)
        top.fill_between(x, low, high, step="post", color=style["color"], alpha=0.18, lw=0)
    if reference is not None:
        reference_line(top, reference, reference_label)
    _separators(top, order, factors)
    top.set_ylabel(ylabel)
    top.legend(title="estimator", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _factor_panel(bottom, order, factors, scenario.grid)
    sizes = " × ".join(str(len(scenario.grid[f])) for f in factors)
    bottom.set_xlabel(f"cells in nested order, outermost factor first ({sizes} = {n} cells)")
    bottom.set_xlim(0, n)
    method = f"nested-loop plot (Rücker & Schwarzer 2014), {bands.caption(measure)}"
    details = "; ".join(d for d in (method, *notes) if d)
    fig.suptitle(wrap_lines(f"{scenario.name}: {question}\n({details})", 120), fontsize=11)
    path = context.folder / f"nested_loop_{name or measure}.png"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return [path]


def _separators(ax, order, factors):
    """Vertical lines where the outermost factor (dark) and the next (light) change value."""
    for level, (factor, shade, width) in enumerate(zip(factors[:2], ("0.35", "0.75"), (1.0, 0.6), strict=False)):
        changes = np.flatnonzero(order[factor].to_numpy()[1:] != order[factor].to_numpy()[:-1]) + 1
        for x in changes:
            ax.axvline(x, color=shade, linewidth=width, zorder=0 if level else 1)


def _factor_panel(ax, order, factors, grid):
    """Each factor as a step line in its own band (outermost at the top), labelled with its name and values."""
    n = len(order)
    k = len(factors)
    for i, factor in enumerate(factors):
        values = list(grid[factor])
        codes = order[factor].map({v: j for j, v in enumerate(values)}).to_numpy(dtype=float)
        base = k - 1 - i
        scaled = base + 0.6 * codes / max(len(values) - 1, 1)
        ax.step(np.arange(n + 1), np.append(scaled, scaled[-1]), where="post", color="0.2", linewidth=0.9)
        ax.text(
            0.003 * n,
            base + 0.66,
            f"{factor}: " + ", ".join(format_value(v) for v in values),
            fontsize=7.5,
            va="bottom",
            color="0.1",
            bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 0.5},
        )
    ax.set_ylim(-0.1, k + 0.05)
    ax.set_yticks([])
    ax.grid(False)


def nested_loop_bias(context):
    """Is each estimator unbiased across the whole grid?  Bias (median bias for IV summaries) per cell."""
    if context.summary["mean_first_stage_f"].notna().any():
        return nested_loop(
            context,
            "median_bias",
            "median bias",
            reference=0.0,
            question="Is each estimator median-unbiased across the whole grid?",
            name="bias",
        )
    return nested_loop(
        context,
        "bias",
        "bias (mean estimate − truth)",
        reference=0.0,
        question="Is each estimator unbiased across the whole grid?",
    )


def nested_loop_coverage(context):
    """Do the intervals cover the truth at the nominal rate in every cell?"""
    level = context.scenario.level
    return nested_loop(
        context,
        "coverage",
        "coverage of the true value",
        reference=level,
        reference_label=f"nominal {level:g}",
        question=f"Do {100 * level:g}% intervals cover the truth across the whole grid?",
    )


def nested_loop_rmse(context):
    """How far from the truth are the estimates (RMSE), cell by cell?"""
    return nested_loop(context, "rmse", "RMSE", question="How far from the truth are the estimates across the grid?")


def nested_loop_rejection(context):
    """Does the test of the true value keep its nominal size in every cell?"""
    alpha = 1 - context.scenario.level
    return nested_loop(
        context,
        "rejection",
        "rejection rate of the true null",
        reference=alpha,
        reference_label=f"nominal {alpha:.2g}",
        question=f"Does the test of the true value reject {100 * alpha:.2g}% of the time across the grid?",
    )
