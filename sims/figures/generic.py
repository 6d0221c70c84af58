"""Measure-against-parameter figures for any scenario.

Each figure answers one question (its title): *is each estimator unbiased
as n grows?*, *do 95 % intervals cover the truth?*, and so on, with every
point's ±1.96·MCSE (Morris, White & Crowther 2019, Statistics in
Medicine 38:2074–2102, on presenting Monte Carlo error), or for a rate
(coverage, rejection, power) its Wilson 95 % interval (`bands`).

The layout follows `layout.plan_layout`: a numeric grid parameter with four
or more values is the x axis of one line per estimator with a ±1.96·MCSE
band; a parameter with two or three values is never joined by lines, it is
a facet or, when no parameter has four values, a categorical x axis with
points and ±1.96·MCSE error bars, estimators dodged.  One further varying
factor becomes wrapped facet columns (``gamma_x = 0.5``); any others are
held at one value named in the title (the nested-loop plot,
`nested_loop`, shows every cell at once).  The x axis is logarithmic when
the grid is positive and spans at least a factor of 50.  Style: seaborn's
"whitegrid", and each estimator has its own colour, marker and line style
(`layout.series_styles`: the same in every figure of a scenario) so the
figures read in grayscale.  The panels of one figure share their y axis;
reference lines (nominal level, truth, the test's level on power figures)
are named in the legend, which stands right of the panels; series with
identical values and series with no replication ok are named in the title
(`coinciding`, `failed_note`).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import bands  # noqa: E402
from .facets import Facets, legend_outside  # noqa: E402, F401 (legend_outside: the figures' one legend helper)
from .layout import (  # noqa: E402
    MAX_SERIES,
    format_value,
    headline_term,
    plan_layout,
    series_styles,
    x_params,
)

DPI = 100
PANEL_HEIGHT = 3.0
PANEL_ASPECT = 1.3
DODGE = 0.6  # share of a category's width the dodged estimators spread over
SLANT = 40  # degrees: category names too long to stand side by side
TICK_CHAR_INCHES = 0.075  # width of a tick label character at the style's font size
SLOT_INCHES = 0.32  # width per category when the names are slanted (a 15-case axis: 4.8 inches)
LOG_Y_SPAN = 100.0  # a positive scale measure (interval width, RMSE) spanning this factor is drawn on a log axis


STYLE = ("seaborn-v0_8-whitegrid", "seaborn-v0_8-notebook")


def apply_style():
    """The one style of every figure: seaborn's whitegrid at notebook scale.

    matplotlib ships seaborn's style sheets, so seaborn itself (and the
    scipy it imports, ~0.6 s) is never loaded.
    """
    plt.style.use(STYLE)


def spans_decades(values) -> bool:
    """Positive values spanning a factor of 100 or more (a measure drawn on a log axis then)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return len(values) >= 2 and bool((values > 0).all()) and values.max() >= LOG_Y_SPAN * values.min()


def tick_labels(values) -> list[str]:
    """Category labels: powers of ten from 10⁵ up as 10^k (1000000000 is hard to read), else as written."""
    numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool) and v > 0]
    powers = len(numeric) == len(values) and all(10 ** round(math.log10(v)) == v for v in numeric)
    if powers and max(numeric) >= 1e5:
        return [f"$10^{{{round(math.log10(v))}}}$" for v in numeric]
    return [format_value(v) for v in values]


def x_scale(values) -> str:
    """'log' for a positive grid spanning a factor of 50 or more, 'symlog' for such a grid
    that also has 0 (e.g. instrument strength 0, 1, 5, …, 100), else 'linear'."""
    values = np.asarray(values, dtype=float)
    positive = values[values > 0]
    if len(positive) < 2 or positive.max() / positive.min() < 50 or np.any(values < 0):
        return "linear"
    return "log" if len(positive) == len(values) else "symlog"


def line_with_band(data, x, y, err, color=None, label=None, linestyle="-", marker="o", ax=None, **_):
    """One estimator's line with its band (a `Facets` mapper; on `ax` or the current axes): ±1.96·MCSE, or
    the Wilson interval of a rate (`bands.limits`)."""
    data = data[np.isfinite(data[y])].sort_values(x)
    if data.empty:
        return
    ax = ax or plt.gca()
    ax.plot(data[x], data[y], marker=marker, markersize=4, color=color, label=label, linestyle=linestyle)
    low, high = bands.limits(data, y, err)
    ax.fill_between(data[x], low, high, color=color, alpha=0.2, linewidth=0)


def points_with_bars(
    data, x, y, err=None, color=None, label=None, marker="o", order=(), levels=(), low=None, high=None, **_
):
    """One estimator's points at categorical x positions, dodged by its place in `order`, with error bars.

    The bars are ±1.96·`err` (an MCSE column; a rate's Wilson interval,
    `bands.limits`), or run from column `low` to `high` when given.  `levels` are the x values in axis order.
    """
    data = data[np.isfinite(data[y])]
    if data.empty:
        return
    k = max(len(order), 1)
    offset = (order.index(label) - (k - 1) / 2) * DODGE / k if label in order else 0.0
    position = {v: i for i, v in enumerate(levels)}
    xs = data[x].map(position).to_numpy(dtype=float) + offset
    values = data[y].to_numpy(dtype=float)
    if low is not None:
        lower = values - data[low].to_numpy(dtype=float)
        upper = data[high].to_numpy(dtype=float) - values
        bars = np.where(np.isfinite([lower, upper]), [lower, upper], np.nan)
    else:
        lower, upper = bands.limits(data, y, err)
        bars = np.array([values - lower, upper - values])
    plt.gca().errorbar(
        xs, values, yerr=bars, color=color, label=label, marker=marker, markersize=5, linestyle="none", capsize=3
    )


def reference_line(ax, value, label=None):
    """A dashed horizontal line (truth, nominal level), named in the legend (a label on the line sat over data)."""
    ax.axhline(value, color="0.3", linestyle="--", linewidth=1, label=label)


def labels_of(scenario) -> list[str]:
    """The scenario's estimator labels, in its order."""
    return [e.label for e in scenario.estimators]


def series_labels(summary):
    """One line per estimator, or per (estimator, term) for an estimator of several terms."""
    labels = summary["estimator"].astype(str)
    if "term" not in summary:
        return labels
    several = summary.groupby(["cell", "estimator"], observed=True)["term"].transform("nunique") > 1
    return labels.where(~several, labels + " " + summary["term"].astype(str))


def headline_rows(frame):
    """`frame` restricted to each estimator's headline term when it has more than `MAX_SERIES` series.

    Returns the rows and a note for the title ('' when nothing was left out).
    """
    if "term" not in frame or frame.empty:
        return frame, ""
    pairs = list(dict.fromkeys(zip(frame["estimator"].astype(str), frame["term"].astype(str), strict=True)))
    if len(pairs) <= MAX_SERIES:
        return frame, ""
    term = headline_term(pairs)
    if all(t == term for _, t in pairs):  # nothing to leave out: many estimators of one term
        return frame, ""
    return frame[frame["term"].astype(str) == term], f"term {term} only (of {len(pairs)} series)"


def failed_note(rows, series="series") -> str:
    """The series of `rows` (summary rows) with no replication ok in some cells, and their statuses, e.g.
    ``no replication ok, not drawn: cs in 2 of 2 cells (no_comparison)``; '' when every series has some.

    A series fails in a cell when every row of it there (each term, for a series that stands for a whole
    estimator) has ``n_ok`` = 0.  Such a series has no value to draw there, and would otherwise vanish from
    the figure unexplained.
    """
    if "n_ok" not in rows or rows.empty or not (rows["n_ok"] == 0).any():
        return ""
    labels = (rows[series] if series in rows else series_labels(rows)).astype(str).to_numpy()
    frame = rows.assign(_series=labels)
    per_cell = frame.groupby(["_series", "cell"], sort=False, observed=True)["n_ok"].max()
    parts: dict[str, list[str]] = {}  # "in 2 of 2 cells (no_comparison)" -> the series it is said of
    for label in dict.fromkeys(labels):
        cells = per_cell.loc[label]
        failed = cells.index[cells.to_numpy() == 0]
        if len(failed) == 0:
            continue
        mine = (frame["_series"] == label) & frame["cell"].isin(failed)
        texts = frame.loc[mine, "failures"] if "failures" in frame else []
        statuses = sorted({f.split("=")[0] for text in texts for f in str(text).split(";") if f})
        status = f" ({', '.join(statuses)})" if statuses else ""
        parts.setdefault(f"in {len(failed)} of {len(cells)} cells{status}", []).append(label)
    said = [f"{', '.join(names)} {where}" for where, names in parts.items()]
    return "no replication ok, not drawn: " + "; ".join(said) if said else ""


def failed_beside(summary, shown) -> str:
    """`failed_note` for a figure that draws the summary rows `shown`: an estimator it does not draw at all is
    named as a whole; of the ones it draws, the terms it draws."""
    if "n_ok" not in summary or summary.empty:
        return ""
    estimator = summary["estimator"].astype(str)
    absent = ~estimator.isin(set(shown["estimator"].astype(str)))
    labels = estimator.where(absent, series_labels(summary).astype(str))
    relevant = absent | summary["term"].astype(str).isin(set(shown["term"].astype(str)))
    return failed_note(summary[relevant].assign(series=labels[relevant]))


def coinciding(rows, measure, series="series", keys=("cell",), plain=False) -> str:
    """Series of `rows` whose `measure` is the same number in every cell they share (so one line hides the
    other), as a note: ``ols_adjusted = ols_adjusted_hc1 (identical values, one line over the other)``; only
    ``ols_adjusted = ols_adjusted_hc1`` when `plain`."""
    if rows.empty or measure not in rows:
        return ""
    table = rows.pivot_table(index=list(keys), columns=series, values=measure, aggfunc="first", observed=True)
    columns = [c for c in table.columns if table[c].notna().any()]
    groups: list[list] = []
    for c in columns:
        for group in groups:
            a, b = table[group[0]].to_numpy(dtype=float), table[c].to_numpy(dtype=float)
            both = np.isfinite(a) & np.isfinite(b)
            if both.any() and (np.isfinite(a) == np.isfinite(b)).all() and np.array_equal(a[both], b[both]):
                group.append(c)
                break
        else:
            groups.append([c])
    same = "; ".join(" = ".join(map(str, g)) for g in groups if len(g) > 1)
    return same if plain or not same else f"{same} (identical values, one line over the other)"


def facet_grid(data, scenario, x_param, measure=None, **kwargs) -> Facets:
    """A `Facets` grid laid out by `layout.plan_layout` for `x_param`.

    The rows of `data` are restricted to the fixed values of the further
    factors, and to each estimator's headline term when there are too many
    series.  With a `measure`, rows without its value are dropped (they
    take no place in the dodge or legend), series that fail in every
    replication of a cell (`failed_note`) and series that coincide
    (`coinciding`) are named in the notes.  The grid carries ``layout`` (the
    `Layout`), ``notes`` (title fragments) and ``order`` (the series, for
    dodging).
    """
    layout = plan_layout(scenario.grid, x_param)
    for param, value in layout.fixed.items():
        data = data[data[param] == value]
    data, series_note = headline_rows(data)
    data = data.assign(series=series_labels(data))
    extra_notes = []
    if measure is not None:
        extra_notes.append(failed_note(data))
        data = data[data[measure].notna()]
        if not layout.categorical and layout.facet is None:  # dodged points never hide one another; lines do
            extra_notes.append(coinciding(data, measure))
        elif not layout.categorical:  # panel by panel: 2SLS is LIML with one instrument, not with five
            per_panel = {}
            for value in scenario.grid[layout.facet]:
                same = coinciding(data[data[layout.facet] == value], measure, plain=True)
                if same:
                    per_panel.setdefault(same, []).append(format_value(value))
            everywhere = len(scenario.grid[layout.facet])
            for same, values in per_panel.items():
                where = "" if len(values) == everywhere else f" at {layout.facet} = {', '.join(values)}"
                extra_notes.append(f"{same}{where} (identical values, one line over the other)")
    order = list(dict.fromkeys(data["series"]))
    styles = series_styles(order, labels_of(scenario))
    apply_style()
    grid = Facets(
        data,
        col=layout.facet,
        col_order=scenario.grid[layout.facet] if layout.facet else (),
        col_wrap=layout.col_wrap,
        hue="series",
        hue_order=order,
        styles=styles,
        height=kwargs.get("height", PANEL_HEIGHT),
        aspect=kwargs.get("aspect", PANEL_ASPECT),
    )
    grid.layout, grid.order = layout, order
    grid.notes = [n for n in (layout.note(), series_note, *extra_notes) if n]
    return grid


def finish(
    grid: Facets,
    scenario,
    x_param,
    ylabel,
    path,
    reference=None,
    reference_label=None,
    title=None,
    xlabel=None,
    log_x=None,
    categorical=None,
    details="bands ±1.96 MCSE",
):
    """Axis scales, reference line, legend, title (the question, then `details` and the grid's notes); save, close.

    The x axis is categorical (the grid values of `x_param` at 0, 1, …)
    when `categorical` (by default: when the layout says so), else
    logarithmic when `log_x`, or (when None) as `x_scale` says.
    """
    layout = getattr(grid, "layout", None)
    categorical = layout.categorical if categorical is None and layout is not None else bool(categorical)
    values = scenario.grid[x_param]
    if categorical:
        scale = "categorical"
    else:
        scale = x_scale(values) if log_x is None else ("log" if log_x else "linear")
    for ax in grid.axes.flat:
        if reference is not None:
            reference_line(ax, reference, reference_label)
        if categorical:
            labels = tick_labels(values)
            # many or long names (a scenario's [[cases]]) would overlap: slanted, anchored at their ends
            slanted = sum(len(label) + 1 for label in labels) > 40
            ax.set_xticks(range(len(values)), labels, rotation=SLANT if slanted else 0,
                          ha="right" if slanted else "center", rotation_mode="anchor" if slanted else "default")  # fmt: skip
            if slanted:  # room under the panel for the longest slanted name, and a panel wide enough for them all
                longest = max(len(label) for label in labels)
                grid.below = TICK_CHAR_INCHES * longest * math.sin(math.radians(SLANT)) + 0.2
                grid.panel = (max(grid.panel[0], SLOT_INCHES * len(values)), grid.panel[1])
            ax.set_xlim(-0.5, len(values) - 0.5)
        elif scale == "symlog":
            positive = [v for v in values if v > 0]
            ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_xlim(-0.2 * min(positive), 1.3 * max(positive))
        elif scale == "log":
            ax.set_xscale("log")
    grid.set_axis_labels(xlabel or x_param, ylabel)
    grid.add_legend(title="estimator")
    question = title or f"{ylabel} against {x_param}"
    details = "; ".join(d for d in (details, *getattr(grid, "notes", ())) if d)
    grid.set_title(f"{scenario.name}: {question}\n({details})")
    grid.savefig(path, dpi=DPI)
    plt.close(grid.figure)
    return path


def measure_vs_param(
    context, measure, ylabel, reference=None, reference_label=None, name=None, question="{ylabel} as {x} changes",
    scale=False,
):  # fmt: skip
    """`measure` against each x parameter of `layout.x_params`; one file per parameter.

    `question` is the title, formatted with ``x`` (the parameter) and
    ``ylabel``.  A `scale` measure (positive: a width, an error) whose drawn
    values span two decades or more (a width shrinking as 1/√n over n from
    10³ to 10⁹) is drawn on a log y axis, where a line at 0 (`reference`)
    has no place and values near 0 stay readable.
    """
    paths = []
    data = context.summary
    if measure not in data or not data[measure].notna().any():
        return paths
    for param in x_params(context.scenario.grid):
        grid = facet_grid(data, context.scenario, param, measure)
        if grid.layout.categorical:
            levels = list(context.scenario.grid[param])
            grid.map_dataframe(
                points_with_bars, x=param, y=measure, err=f"{measure}_mcse", order=grid.order, levels=levels
            )
            details = bands.caption(measure, "bars")
        else:
            grid.map_dataframe(line_with_band, x=param, y=measure, err=f"{measure}_mcse")
            details = bands.caption(measure)
        shown, ref = reference, reference_label
        if scale and spans_decades(grid.data[measure]):
            for ax in grid.axes.flat:
                ax.set_yscale("log")
            shown, ref, details = None, None, f"{details}; log scale"
        path = context.folder / f"{name or measure}_vs_{param}.png"
        title = question.format(x=param, ylabel=ylabel)
        paths.append(finish(grid, context.scenario, param, ylabel, path, shown, ref, title, details=details))
    return paths


def bias_vs_param(context):
    """Is each estimator unbiased as the parameter changes?  Bias against each x parameter.

    Median bias for IV summaries (where `mean_first_stage_f` has values):
    just-identified 2SLS has no mean.
    """
    if context.summary["mean_first_stage_f"].notna().any():
        return measure_vs_param(
            context,
            "median_bias",
            "median bias",
            reference=0.0,
            name="bias",
            question="Is each estimator median-unbiased as {x} changes?",
        )
    return measure_vs_param(
        context,
        "bias",
        "bias (mean estimate − truth)",
        reference=0.0,
        question="Is each estimator unbiased as {x} changes?",
    )


def coverage_vs_param(context):
    """Do the confidence intervals cover the truth at the nominal rate?  Coverage against each x parameter."""
    level = context.scenario.level
    return measure_vs_param(
        context,
        "coverage",
        "coverage of the true value",
        reference=level,
        reference_label=f"nominal {level:g}",
        question=f"Do {100 * level:g}% intervals cover the truth as {{x}} changes?",
    )


def rejection_vs_param(context):
    """Does the test of the true value reject at its nominal rate (size)?"""
    alpha = 1 - context.scenario.level
    return measure_vs_param(
        context,
        "rejection",
        "rejection rate of the true null",
        reference=alpha,
        reference_label=f"nominal {alpha:.2g}",
        question=f"Does the test of the true value reject {100 * alpha:.2g}% of the time as {{x}} changes?",
    )


def power_vs_param(context):
    """How often is H0: effect = 0 rejected (power, or size where the effect is 0)?  The test's level dashed:
    where the effect is 0 the rate should sit on it."""
    alpha = 1 - context.scenario.level
    return measure_vs_param(
        context,
        "power",
        "rejection rate of H0: effect = 0",
        reference=alpha,
        reference_label=f"test level {alpha:.2g}",
        question="How often is 'no effect' rejected as {x} changes?",
    )


def median_bias_vs_param(context):
    """Is each estimator median-unbiased?"""
    return measure_vs_param(
        context,
        "median_bias",
        "median bias",
        reference=0.0,
        question="Is each estimator median-unbiased as {x} changes?",
    )


def se_ratio_vs_param(context):
    """Do the standard errors match the estimates' spread (mean SE / empirical SE = 1)?"""
    return measure_vs_param(
        context,
        "se_ratio",
        "mean SE / empirical SE",
        reference=1.0,
        question="Do the standard errors match the estimates' spread as {x} changes?",
    )


def rmse_vs_param(context):
    """How far from the truth are the estimates (RMSE)?"""
    return measure_vs_param(
        context, "rmse", "RMSE", question="How far from the truth are the estimates (RMSE) as {x} changes?", scale=True
    )


def mad_vs_param(context):
    """How far off is a typical estimate (median absolute error)?  Beside the RMSE where tails are heavy."""
    return measure_vs_param(
        context,
        "mad",
        "median |estimate − truth|",
        question="How far off is a typical estimate (median absolute error) as {x} changes?",
        scale=True,
    )


def ci_width_vs_param(context):
    """How wide are the intervals (mean width)?  With n, a consistent estimator's shrinks around the truth,
    a biased one's around the wrong value."""
    return measure_vs_param(
        context,
        "ci_width",
        "mean interval width",
        reference=0.0,
        question="How wide are the intervals as {x} changes?",
        scale=True,
    )


def _estimate_with_interval(data, x, color=None, label=None, marker="o", linestyle="-", **_):
    data = data.sort_values(x)
    ax = plt.gca()
    ax.plot(data[x], data["mean_estimate"], marker=marker, markersize=4, color=color, label=label, linestyle=linestyle)
    low = data["mean_ci_low"].where(np.isfinite(data["mean_ci_low"]))
    high = data["mean_ci_high"].where(np.isfinite(data["mean_ci_high"]))
    ax.fill_between(data[x], low, high, color=color, alpha=0.15, linewidth=0)


def estimate_vs_param(context):
    """Where do the estimates centre, and do the intervals shrink around the truth?

    The mean estimate with the average confidence interval, against the
    truth.  Shows what a larger sample does to a biased estimator: the
    interval shrinks around the wrong value.
    """
    records = context.records_of(["cell", "estimator", "term", "ci_low", "ci_high", "status"])
    ok = records[records["status"] == "ok"]
    keys = ["cell", "estimator", "term"]
    intervals = ok.groupby(keys, sort=False, observed=True)[["ci_low", "ci_high"]].mean()
    intervals.columns = ["mean_ci_low", "mean_ci_high"]
    data = context.summary.join(intervals, on=keys)
    truth = context.summary["truth"]
    reference = float(truth.iloc[0]) if truth.nunique() == 1 else None
    paths = []
    for param in x_params(context.scenario.grid):
        grid = facet_grid(data, context.scenario, param, "mean_estimate")
        if grid.layout.categorical:
            levels = list(context.scenario.grid[param])
            grid.map_dataframe(
                points_with_bars,
                x=param,
                y="mean_estimate",
                low="mean_ci_low",
                high="mean_ci_high",
                order=grid.order,
                levels=levels,
            )
            details = "bars: average confidence interval"
        else:
            grid.map_dataframe(_estimate_with_interval, x=param)
            details = "bands: average confidence interval"
        path = context.folder / f"estimate_vs_{param}.png"
        title = f"Where do the estimates centre, and do the intervals shrink around the truth, as {param} changes?"
        paths.append(
            finish(grid, context.scenario, param, "mean estimate", path, reference, "truth", title, details=details)
        )
    return paths
