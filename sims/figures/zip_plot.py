"""Zip plots: which confidence intervals miss the truth, and by how much?

Morris, White & Crowther (2019), "Using simulation studies to evaluate
statistical methods", Statistics in Medicine 38:2074–2102, Fig. 3; the
same display as rsimsum's ``autoplot(type = "zip")``.  For one cell and
estimator (and term), every replication's confidence interval is drawn as a
horizontal line, ranked by the fractional centile of |z|, z = (estimate −
truth)/se, so the intervals far from the truth rise to the top.  The
intervals that cover the truth are grey and faint, those that miss it dark
red and opaque (told apart in grayscale by their lightness); a vertical line
marks the truth, a dashed horizontal line the nominal coverage centile
(level·100), and a blue line with its band the observed coverage with its
Wilson 95 % interval.
Intervals that miss on one side only, or a coverage band that misses the
nominal line, show at a glance.

Conventions.  Only replications with status ``ok``, a finite truth and
both bounds are drawn; a series with none is skipped.  Coverage follows the
summary (`causalmc.estimators.inference.covers`: ``ci_low > ci_high`` is
the union of two rays, drawn as two segments to the axis edges).  Where an
estimator has no standard error (e.g. Anderson–Rubin sets) |z| is read from
the interval, (midpoint − truth)/(half-width/z₁₋α/₂), which orders Wald
intervals exactly as their z does; an unbounded set ranks at the bottom
when it covers the truth and at the top when it does not.  Bounds beyond
the axis range (infinite ones included) are clipped to it; the range spans
the 2.5th to 97.5th percentiles of the panel's finite bounds, and the truth
(each panel its own: under weak instruments OLS's intervals are a
hundredth as wide as 2SLS's).
When a cell's truth varies across replications, the intervals of every
panel are drawn minus their truth, around 0, and the axis says so.

Bounds beyond the range are cut at its edge, and the figure's title says
so; intervals drawn minus their truth are labelled "interval − truth".

Size.  Every cell while cells × series fit in `MAX_ZIP_PANELS` (30); with
more, as many cells as fit (at least `MIN_CELLS`, 2, at most `MAX_CELLS`,
6) evenly spread over the grid order, and an even selection of the series
if those still do not fit, all stated in the title (each panel's title names
its cell and series); past `layout.MAX_SERIES` series, only each
estimator's headline term.  One row per cell while its series fit in
`MAX_ZIP_COLUMNS` (6) columns.  At most `MAX_INTERVALS` (500) intervals per
panel are drawn: an evenly spaced subset by rank (the top and bottom
included), stated in the title; the coverage line uses them all.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from causalmc.estimators.inference import covers as covers_truth  # noqa: E402

from . import bands  # noqa: E402
from .generic import DPI, apply_style, failed_beside, headline_rows, series_labels  # noqa: E402
from . import replications_note  # noqa: E402
from .facets import fixed_layout  # noqa: E402
from .layout import pick_evenly, thin, wrap, wrap_label  # noqa: E402

MAX_CELLS = 6
MIN_CELLS = 2  # with many series, still two cells (the first and the last) rather than one
# A few more panels than other figures (24) allow: three cells of nine series, four of seven, still fit.
MAX_ZIP_PANELS = 30
MAX_ZIP_COLUMNS = 6  # one row per cell while the series fit in this many columns
MAX_INTERVALS = 500
PANEL = (2.9, 2.3)  # inches
TITLE_CHARS = 42  # characters of a panel title's line at font size 8
KEYS = ["cell", "estimator", "term"]
LEGEND_ENTRY_INCHES = 2.4  # room for one legend entry at font size 8 (the longest, "observed coverage …", ~2.3)
COVERING = {"color": "0.55", "alpha": 0.35, "linewidth": 0.7}
MISSING = {"color": "#b2182b", "alpha": 1.0, "linewidth": 1.1}
OBSERVED = "#2166ac"


def zip_data(records: pd.DataFrame, level: float) -> pd.DataFrame:
    """Each drawable interval with its |z|, its fractional centile of |z| and whether it covers the truth.

    Parameters
    ----------
    records : DataFrame
        Records with columns cell, estimator, term, truth, estimate, se,
        ci_low, ci_high, status.
    level : float
        The confidence level (for |z| read from an interval without a
        standard error).

    Returns
    -------
    DataFrame
        The rows with status ``ok``, a finite truth and both bounds, with
        columns cell, estimator, term, truth, estimate, ci_low, ci_high,
        ``abs_z``, ``centile`` (100·rank(|z|)/R within its (cell,
        estimator, term); ties, which only sets without a finite z have,
        in replication order) and ``covers``.
    """
    ok = (
        (records["status"] == "ok")
        & np.isfinite(records["truth"])
        & records["ci_low"].notna()
        & records["ci_high"].notna()
    )
    rows = records.loc[ok, [*KEYS, "truth", "estimate", "se", "ci_low", "ci_high"]].copy()
    low, high, truth = (rows[c].to_numpy(dtype=float) for c in ("ci_low", "ci_high", "truth"))
    estimate, se = rows["estimate"].to_numpy(dtype=float), rows["se"].to_numpy(dtype=float)
    inside = covers_truth(low, high, truth)
    crit = NormalDist().inv_cdf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(np.isfinite(se) & (se > 0), (estimate - truth) / se, np.nan)
        half = (high - low) / 2
        from_interval = ((low + high) / 2 - truth) / (half / crit)
        bounded = np.isfinite(low) & np.isfinite(high) & (half > 0)
    z = np.where(np.isnan(z) & bounded, from_interval, z)
    z = np.where(np.isnan(z), np.where(inside, 0.0, np.inf), z)
    rows["abs_z"] = np.abs(z)
    rows["covers"] = inside
    groups = rows.groupby(KEYS, observed=True, sort=False)["abs_z"]
    rows["centile"] = 100.0 * groups.rank(method="first") / groups.transform("size")
    return rows.drop(columns="se")


def choose_panels(summary: pd.DataFrame):
    """The (cell, series) panels of a zip plot, and notes on what was left out.

    A series is an (estimator, term) pair with coverage (so, intervals)
    and a truth.  Every cell is shown while cells × series fit in
    `MAX_ZIP_PANELS`; beyond, as many cells as fit (at least `MIN_CELLS`,
    at most `MAX_CELLS`) evenly spread over the grid order, and if even
    those do not fit, an even selection of the series; each panel's title
    names its cell and series, the figure's title what was left out.
    Returns ``(cells, pairs, notes)``.
    """
    rows = summary[summary["coverage"].notna() & np.isfinite(summary["truth"])]
    rows, series_note = headline_rows(rows)
    pairs = list(dict.fromkeys(zip(rows["estimator"].astype(str), rows["term"].astype(str), strict=True)))
    cells = list(dict.fromkeys(rows["cell"].astype(str)))
    notes = [n for n in (series_note, failed_beside(summary, rows)) if n]
    if len(cells) * len(pairs) > MAX_ZIP_PANELS:
        keep = min(len(cells), MAX_CELLS, max(MIN_CELLS, MAX_ZIP_PANELS // max(len(pairs), 1)))
        picked = pick_evenly(cells, keep)
        if len(picked) < len(cells):
            notes.append(f"{len(picked)} of {len(cells)} cells, evenly spread over the grid order")
        cells = picked
        if len(cells) * len(pairs) > MAX_ZIP_PANELS:
            fewer = pick_evenly(pairs, max(1, MAX_ZIP_PANELS // len(cells)))
            notes.append(f"{len(fewer)} of {len(pairs)} series, evenly spread")
            pairs = fewer
    return cells, pairs, notes


def zip_plot(context):
    """Which intervals miss the truth, and by how much?  One zip plot panel per (cell, estimator[, term])."""
    scenario, summary = context.scenario, context.summary
    if "coverage" not in summary or not summary["coverage"].notna().any():
        return []
    cells, pairs, notes = choose_panels(summary)
    if not cells or not pairs:
        return []
    notes += replications_note(scenario)
    columns = ["cell", "estimator", "term", "truth", "estimate", "se", "ci_low", "ci_high", "status"]
    every_cell = len(cells) == summary["cell"].nunique()
    records = context.records_of(columns, cells=None if every_cell else cells)
    records = records[records["cell"].isin(cells)]
    wanted = set(pairs)
    parts = [
        part
        for (estimator, term), part in records.groupby(["estimator", "term"], observed=True, sort=False)
        if (str(estimator), str(term)) in wanted
    ]
    if not parts:
        return []
    data = zip_data(pd.concat(parts), scenario.level)
    if data.empty:
        return []
    labels = dict(zip(pairs, _pair_labels(summary, pairs), strict=True))
    panels = [(c, p) for c in cells for p in pairs]
    groups = {(str(c), (str(e), str(t))): g for (c, e, t), g in data.groupby(KEYS, observed=True, sort=False)}
    panels = [key for key in panels if key in groups]
    slots = panel_slots(panels, cells, pairs)
    nrows = max(r for r, _ in slots) + 1
    ncols = max(c for _, c in slots) + 1
    apply_style()
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax in axes.flat:
        ax.set_visible(False)
    # One x convention for the whole figure: if any panel's truth varies by replication, every panel is drawn
    # minus its truth (one x label would otherwise say "− truth" under a panel drawn around a fixed truth).
    shifted = any(groups[key]["truth"].nunique() > 1 for key in panels)
    largest, clipped = 0, False
    lowest = {}  # column -> the lowest row drawn in it (which carries the x label)
    for (cell, pair), (r, c) in zip(panels, slots, strict=True):
        ax = axes[r, c]
        ax.set_visible(True)
        largest = max(largest, len(groups[cell, pair]))
        clipped |= _panel(ax, groups[cell, pair], scenario.level, shifted)
        ax.set_title(wrap_label(cell, TITLE_CHARS) + "\n" + labels[pair], fontsize=8, y=1.0)  # fixed y: no placement
        lowest[c] = max(lowest.get(c, 0), r)
        if c == 0:
            ax.set_ylabel("centile of |z|")
    xlabel = f"{100 * scenario.level:g}% confidence interval" + (" − truth" if shifted else "")
    for c, r in lowest.items():
        axes[r, c].set_xlabel(xlabel, fontsize=9)
    if largest > MAX_INTERVALS:
        notes.append(f"{MAX_INTERVALS} of each panel's intervals shown, evenly spaced by rank")
    if shifted:
        notes.append("the truth varies by replication: intervals drawn minus their truth")
    if clipped:
        notes.append(
            "x axis: each panel's 2.5th–97.5th percentile of the bounds; intervals beyond it cut at the edge"
        )
    width = 0.75 + ncols * PANEL[0] + (ncols - 1) * 0.12 + 0.15
    legend_columns = max(1, min(5, int(width / LEGEND_ENTRY_INCHES)))
    legend_rows = math.ceil(5 / legend_columns)
    fig.legend(handles=_legend_handles(scenario.level), loc="lower center", ncol=legend_columns, fontsize=8,
               frameon=False)  # fmt: skip
    details = "; ".join(["zip plot (Morris, White & Crowther 2019), intervals ranked by |z|", *notes])
    title = f"{scenario.name}: Which intervals miss the truth, and by how much?\n({details})"
    lines = max(wrap_label(c, TITLE_CHARS).count("\n") for c in cells) + 2  # panel title: the cell, then the series
    fixed_layout(fig, title, ncols, nrows, PANEL, left=0.75, right=0.15, bottom=0.7 + 0.22 * legend_rows,
                 wspace=0.12, hspace=0.45 + 0.15 * lines, top_extra=0.15 * lines)  # fmt: skip
    path = context.folder / "zip_plot.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]


def panel_slots(panels, cells, pairs) -> list[tuple[int, int]]:
    """(row, column) of each (cell, pair) panel: each cell starts a row and its series run across it in their
    order (a series has the same place in every cell's rows; one a cell lacks leaves its place empty), at most
    `MAX_ZIP_COLUMNS` to a row, rows balanced (7 series: 4 and 3); with at most half that many series, cells
    stand side by side, each a block of columns; with one series, the cells wrap (`layout.wrap`)."""
    if len(pairs) <= 1:
        ncols = wrap(len(panels))
        return [divmod(i, ncols) for i in range(len(panels))]
    if 2 * len(pairs) <= MAX_ZIP_COLUMNS:  # few series: several cells side by side, each its block of columns
        per_row = MAX_ZIP_COLUMNS // len(pairs)
        shown = [c for c in cells if any(c == cell for cell, _ in panels)]
        per_row = min(per_row, len(shown))
        return [
            (shown.index(c) // per_row, (shown.index(c) % per_row) * len(pairs) + pairs.index(p)) for c, p in panels
        ]
    ncols = math.ceil(len(pairs) / math.ceil(len(pairs) / MAX_ZIP_COLUMNS))
    first_row, row = {}, 0
    for cell in cells:
        present = [pairs.index(p) for c, p in panels if c == cell]
        if present:
            first_row[cell] = row
            row += max(present) // ncols + 1
    return [(first_row[c] + pairs.index(p) // ncols, pairs.index(p) % ncols) for c, p in panels]


def _panel(ax, rows, level, shift=False):
    """One zip plot: the intervals of `rows` ranked by |z| (minus their truth when `shift`), the truth, nominal
    and observed coverage.  Returns whether a bound lies beyond the x range."""
    rows = rows.sort_values("centile", kind="stable")
    low = rows["ci_low"].to_numpy(dtype=float) - (rows["truth"].to_numpy() if shift else 0.0)
    high = rows["ci_high"].to_numpy(dtype=float) - (rows["truth"].to_numpy() if shift else 0.0)
    truth = 0.0 if shift else float(rows["truth"].iloc[0])
    xmin, xmax = _x_range(low, high, truth)
    covered = rows["covers"].to_numpy()
    centile = rows["centile"].to_numpy()
    shown = np.asarray(thin(len(rows), MAX_INTERVALS))
    for mask, style in ((covered[shown], COVERING), (~covered[shown], MISSING)):
        index = shown[mask]
        if len(index):
            # One path of NaN-separated segments: far cheaper than a collection of 500 paths.
            segments = _segments(low[index], high[index], centile[index], xmin, xmax)
            xs = np.insert(segments[:, :, 0], 2, np.nan, axis=1).ravel()
            ys = np.insert(segments[:, :, 1], 2, np.nan, axis=1).ravel()
            ax.plot(xs, ys, solid_capstyle="butt", **style)
    p = float(covered.mean())
    (low_p,), (high_p,) = bands.wilson([p], [len(covered)])
    ax.axhspan(100 * low_p, 100 * high_p, color=OBSERVED, alpha=0.25, linewidth=0)
    ax.axhline(100 * p, color=OBSERVED, linewidth=1.2)
    ax.axhline(100 * level, color="black", linestyle="--", linewidth=1)
    ax.axvline(truth, color="black", linewidth=1)
    n = f", n={len(covered)}" if len(covered) < 1000 else ""  # few replications (screened, failing): say how few
    ax.text(0.02, 0.02, f"coverage {100 * p:.1f}% [{100 * low_p:.1f}, {100 * high_p:.1f}]{n}", transform=ax.transAxes,
            fontsize=7.5, va="bottom", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1})  # fmt: skip
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 50, 100])  # few ticks: each costs a millisecond or two, and there are 24 panels
    ax.xaxis.set_major_locator(MaxNLocator(3))
    ax.tick_params(labelsize=8)
    bounds = np.concatenate([low, high])
    return bool(((bounds < xmin) | (bounds > xmax)).any())


def _x_range(low, high, truth):
    """The 2.5th to 97.5th percentiles of the panel's finite bounds, widened to the truth, padded 4 %."""
    bounds = np.concatenate([low, high])
    finite = bounds[np.isfinite(bounds)]
    if finite.size == 0:
        return truth - 1.0, truth + 1.0
    lo, hi = np.percentile(finite, [2.5, 97.5])
    lo, hi = min(lo, truth), max(hi, truth)
    pad = 0.04 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


def _segments(low, high, y, xmin, xmax):
    """Line segments of confidence sets clipped to [xmin, xmax]: intervals, and two rays where low > high."""
    interval = low <= high
    lo, hi = np.clip(low, xmin, xmax), np.clip(high, xmin, xmax)
    segments = [np.stack([np.c_[lo[interval], y[interval]], np.c_[hi[interval], y[interval]]], axis=1)]
    rays = (low > high) & ~((low == np.inf) & (high == -np.inf))  # the empty set draws nothing
    if rays.any():
        yr = y[rays]
        segments.append(np.stack([np.c_[np.full(rays.sum(), xmin), yr], np.c_[hi[rays], yr]], axis=1))
        segments.append(np.stack([np.c_[lo[rays], yr], np.c_[np.full(rays.sum(), xmax), yr]], axis=1))
    return np.concatenate(segments)


def _legend_handles(level):
    return [
        Line2D([], [], **COVERING, label="covers the truth"),
        Line2D([], [], **MISSING, label="misses the truth"),
        Line2D([], [], color="black", linewidth=1, label="truth"),
        Line2D([], [], color="black", linestyle="--", linewidth=1, label=f"nominal {100 * level:g}%"),
        Patch(facecolor=OBSERVED, alpha=0.5, label="observed coverage, Wilson 95% CI"),
    ]


def _pair_labels(summary, pairs):
    """'estimator' or 'estimator term' (when the estimator has several terms), per pair."""
    table = summary[["cell", "estimator", "term"]].assign(label=series_labels(summary))
    table = table.assign(estimator=table["estimator"].astype(str), term=table["term"].astype(str))
    lookup = dict(zip(zip(table["estimator"], table["term"], strict=True), table["label"], strict=True))
    return [lookup.get(p, " ".join(p)) for p in pairs]
