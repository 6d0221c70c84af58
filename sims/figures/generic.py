"""Measure-against-parameter figures for any scenario.

Each figure puts one grid parameter on the x axis and draws one line per
estimator with a ±1.96·MCSE band; other grid parameters with several values
become facet columns (and rows).  The x axis is logarithmic when the grid
is positive and spans at least a factor of 50.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

Z_BAND = 1.96


def numeric_grid_params(scenario) -> list[str]:
    """Grid parameters with at least two numeric values."""
    return [
        p for p, values in scenario.grid.items() if len(values) >= 2 and all(isinstance(v, int | float) for v in values)
    ]


def x_scale(values) -> str:
    """'log' for a positive grid spanning a factor of 50 or more, 'symlog' for such a grid
    that also has 0 (e.g. instrument strength 0, 1, 5, …, 100), else 'linear'."""
    values = np.asarray(values, dtype=float)
    positive = values[values > 0]
    if len(positive) < 2 or positive.max() / positive.min() < 50 or np.any(values < 0):
        return "linear"
    return "log" if len(positive) == len(values) else "symlog"


def line_with_band(data, x, y, err, color=None, label=None, linestyle="-", ax=None, **_):
    """One estimator's line with its ±1.96·MCSE band (a FacetGrid mapper; on `ax` or the current axes)."""
    data = data[np.isfinite(data[y])].sort_values(x)
    if data.empty:
        return
    ax = ax or plt.gca()
    ax.plot(data[x], data[y], marker="o", markersize=4, color=color, label=label, linestyle=linestyle)
    band = Z_BAND * data[err].fillna(0.0)
    ax.fill_between(data[x], data[y] - band, data[y] + band, color=color, alpha=0.2, linewidth=0)


def reference_line(ax, value, label=None):
    """A dashed horizontal line (truth, nominal level), labelled at the right edge."""
    ax.axhline(value, color="0.3", linestyle="--", linewidth=1, label=label)
    if label:
        ax.annotate(
            label, (1.0, value), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=8, color="0.3"
        )


def facet_grid(data, scenario, x_param, **kwargs) -> sns.FacetGrid:
    """A FacetGrid with the other varying grid parameters as columns/rows."""
    others = [p for p, v in scenario.grid.items() if p != x_param and len(v) >= 2]
    if len(others) > 2:  # fold the rest into one facet label
        data = data.assign(facet=data[others[1:]].astype(str).agg(", ".join, axis=1))
        others = [others[0], "facet"]
    col = others[0] if others else None
    row = others[1] if len(others) > 1 else None
    sns.set_theme(style="whitegrid", context="notebook")
    return sns.FacetGrid(
        data.assign(series=series_labels(data)),
        col=col,
        row=row,
        hue="series",
        height=3.4,
        aspect=1.25,
        sharey=False,
        margin_titles=True,
        **kwargs,
    )


def series_labels(summary):
    """One line per estimator, or per (estimator, term) for an estimator of several terms."""
    labels = summary["estimator"].astype(str)
    if "term" not in summary:
        return labels
    several = summary.groupby(["cell", "estimator"], observed=True)["term"].transform("nunique") > 1
    return labels.where(~several, labels + " " + summary["term"].astype(str))


def finish(
    grid: sns.FacetGrid,
    scenario,
    x_param,
    ylabel,
    path,
    reference=None,
    reference_label=None,
    title=None,
    xlabel=None,
    log_x=None,
):
    """Axis scales, reference line, legend, title; save and close.

    The x axis is logarithmic when `log_x`, or (when None) as `x_scale` says
    for the grid of `x_param`.
    """
    scale = x_scale(scenario.grid[x_param]) if log_x is None else ("log" if log_x else "linear")
    for ax in grid.axes.flat:
        if reference is not None:
            reference_line(ax, reference, reference_label)
        if scale == "symlog":
            positive = [v for v in scenario.grid[x_param] if v > 0]
            ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_xlim(-0.2 * min(positive), 1.3 * max(positive))
        elif scale == "log":
            ax.set_xscale("log")
    grid.set_axis_labels(xlabel or x_param, ylabel)
    grid.add_legend(title="estimator")
    title = title or f"{ylabel} (bands: ±1.96 MCSE)"
    grid.figure.suptitle(f"{scenario.name}: {title}", y=1.02, fontsize=11)
    grid.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(grid.figure)
    return path


def measure_vs_param(context, measure, ylabel, reference=None, reference_label=None, name=None):
    """`measure` against each numeric grid parameter; one file per parameter."""
    paths = []
    for param in numeric_grid_params(context.scenario):
        grid = facet_grid(context.summary, context.scenario, param)
        grid.map_dataframe(line_with_band, x=param, y=measure, err=f"{measure}_mcse")
        path = context.folder / f"{name or measure}_vs_{param}.png"
        paths.append(finish(grid, context.scenario, param, ylabel, path, reference, reference_label))
    return paths


def bias_vs_param(context):
    """Bias against each parameter; median bias for IV scenarios, where 2SLS may have no mean."""
    if context.summary["mean_first_stage_f"].notna().any():
        return measure_vs_param(context, "median_bias", "median bias", reference=0.0, name="bias")
    return measure_vs_param(context, "bias", "bias (mean estimate − truth)", reference=0.0)


def coverage_vs_param(context):
    level = context.scenario.level
    return measure_vs_param(
        context, "coverage", "coverage of the true value", reference=level, reference_label=f"nominal {level:g}"
    )


def rejection_vs_param(context):
    alpha = 1 - context.scenario.level
    return measure_vs_param(
        context, "rejection", "rejection rate of the true null", reference=alpha, reference_label=f"nominal {alpha:.2g}"
    )


def power_vs_param(context):
    return measure_vs_param(context, "power", "rejection rate of H0: effect = 0")


def median_bias_vs_param(context):
    return measure_vs_param(context, "median_bias", "median bias", reference=0.0)


def se_ratio_vs_param(context):
    return measure_vs_param(context, "se_ratio", "mean SE / empirical SE", reference=1.0)


def rmse_vs_param(context):
    return measure_vs_param(context, "rmse", "RMSE")


def _estimate_with_interval(data, x, color=None, label=None, **_):
    data = data.sort_values(x)
    ax = plt.gca()
    ax.plot(data[x], data["mean_estimate"], marker="o", markersize=4, color=color, label=label)
    ax.fill_between(data[x], data["mean_ci_low"], data["mean_ci_high"], color=color, alpha=0.15, linewidth=0)


def estimate_vs_param(context):
    """Mean estimate with the average confidence interval, against the truth.

    Shows what a larger sample does to a biased estimator: the interval
    shrinks around the wrong value.
    """
    records = context.records
    ok = records[records["status"] == "ok"]
    keys = ["cell", "estimator", "term"]
    intervals = ok.groupby(keys, sort=False, observed=True)[["ci_low", "ci_high"]].mean()
    intervals.columns = ["mean_ci_low", "mean_ci_high"]
    data = context.summary.join(intervals, on=keys)
    paths = []
    for param in numeric_grid_params(context.scenario):
        grid = facet_grid(data, context.scenario, param)
        grid.map_dataframe(_estimate_with_interval, x=param)
        truth = context.summary["truth"]
        reference = float(truth.iloc[0]) if truth.nunique() == 1 else None
        path = context.folder / f"estimate_vs_{param}.png"
        paths.append(
            finish(
                grid,
                context.scenario,
                param,
                "mean estimate",
                path,
                reference,
                "truth",
                title="mean estimate (band: average confidence interval)",
            )
        )
    return paths
