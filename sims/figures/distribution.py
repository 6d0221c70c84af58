"""Estimate distributions: what does each estimator's sampling distribution look like, cell by cell?

One panel per cell, the estimators side by side: a violin (kernel density,
quartiles marked) of the estimates of the replications with status
``ok``, or a box with every estimate as a point when an estimator has
fewer than `FEW` of them; the truth is a black line.  Bias shows as a
shifted body, spread as its height, heavy tails as long necks: the
distributional view that Morris, White & Crowther (2019, Statistics in
Medicine 38:2074–2102, §5.2) recommend beside the performance measures.

Readable range.  Weak-instrument estimators have no mean (2SLS just
identified) or no moments at all (LIML), so a few estimates lie orders of
magnitude away.  Each panel therefore shows the window from the lowest
estimator's first quartile − 3·IQR to the highest estimator's third
quartile + 3·IQR (Tukey's far-out fences, per estimator; widened to the
truth).  For normal estimates the fences sit 4.7 standard deviations from
the median, so nearly nothing is cut; where something is (always for heavy
tails, as in the IV scenarios), the share of each estimator's estimates
outside the window is printed under its name (`clipped_shares`).  For IV
scenarios, estimators that report 2SLS's own estimate (Anderson–Rubin,
tF) are not drawn again beside 2SLS.

Size.  At most `MAX_PANELS` (24) cells; with more, `MAX_CELLS` (12) cells
evenly spread over the grid order, named in the title; past
`layout.MAX_SERIES` series, each estimator's headline term only.

``iv_estimate_distribution`` is the same figure under the name scenarios
have used (it writes ``iv_estimate_distribution.png``).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .facets import fixed_layout  # noqa: E402
from . import replications_note  # noqa: E402
from .generic import DPI, apply_style, failed_beside, headline_rows, labels_of, series_labels  # noqa: E402
from .iv import tsls_copies  # noqa: E402
from .layout import MAX_PANELS, pick_evenly, series_styles, thin, wrap, wrap_label  # noqa: E402

FEW = 50  # fewer estimates than this: box and points instead of a violin
FENCE = 3.0  # window: quartiles ± FENCE·IQR
MAX_CELLS = 12
KDE_POINTS = 2000
TICK_CHAR_INCHES = 0.068  # width of a character at font size 8


def clip_window(values: dict, truths=()) -> tuple[float, float]:
    """The readable range of one panel: min over series of Q1 − 3·IQR to max of Q3 + 3·IQR, widened to `truths`.

    `values` maps each series to its estimates (non-finite ones ignored).
    """
    lows, highs = [], []
    for x in values.values():
        x = np.asarray(x, dtype=float)
        x = x[np.isfinite(x)]
        if x.size == 0:
            continue
        q1, q3 = np.percentile(x, [25, 75])
        lows.append(q1 - FENCE * (q3 - q1))
        highs.append(q3 + FENCE * (q3 - q1))
    truths = [t for t in truths if np.isfinite(t)]
    if not lows:
        return (min(truths) - 1.0, max(truths) + 1.0) if truths else (-1.0, 1.0)
    return min(lows + truths), max(highs + truths)


def clipped_shares(values: dict, window: tuple[float, float]) -> dict:
    """The share of each series' estimates outside `window` (a non-finite estimate counts as outside)."""
    lo, hi = window
    shares = {}
    for key, x in values.items():
        x = np.asarray(x, dtype=float)
        shares[key] = float(np.mean(~((x >= lo) & (x <= hi)))) if x.size else 0.0
    return shares


def share_text(share: float) -> str:
    """A clipped share as printed: '2.3%', or '<0.1%' for a few far-out estimates."""
    return f"{100 * share:.1f}%" if share >= 0.0005 else "<0.1%"


def estimate_distribution(context, name="estimate_distribution"):
    """What does each estimator's sampling distribution look like, cell by cell, against the truth?"""
    scenario, summary = context.scenario, context.summary
    every = summary[~summary["estimator"].astype(str).isin(tsls_copies(scenario))]
    rows = every[every["mean_estimate"].notna()] if "mean_estimate" in every else every
    rows, series_note = headline_rows(rows)
    failed = failed_beside(every, rows)
    if rows.empty:
        return []
    rows = rows.assign(series=series_labels(rows))
    series = list(dict.fromkeys(rows["series"]))
    pairs = {(str(e), str(t)): s for e, t, s in zip(rows["estimator"], rows["term"], rows["series"], strict=True)}
    cells = list(dict.fromkeys(rows["cell"].astype(str)))
    notes = [n for n in (series_note, failed) if n] + replications_note(scenario)
    capped = len(cells) > MAX_PANELS
    if capped:
        notes.append(f"{MAX_CELLS} of {len(cells)} cells, evenly spread over the grid order")
        cells = pick_evenly(cells, MAX_CELLS)
    columns = ["cell", "estimator", "term", "truth", "estimate", "status"]
    records = context.records_of(columns, cells=cells if capped else None)
    records = records[records["cell"].isin(cells) & (records["status"] == "ok")]
    # {cell: {series: (estimates, truths)}}, grouped once (a Python loop over rows would dominate)
    by_cell: dict = {}
    for (estimator, term), part in records.groupby(["estimator", "term"], observed=True, sort=False):
        label = pairs.get((str(estimator), str(term)))
        if label is None:
            continue
        for cell, rows in part.groupby("cell", observed=True, sort=False):
            values = (rows["estimate"].to_numpy(dtype=float), rows["truth"].to_numpy(dtype=float))
            by_cell.setdefault(str(cell), {})[label] = values
    if not by_cell:
        return []
    styles = series_styles(series, labels_of(scenario))
    ncols = wrap(len(cells))
    nrows = math.ceil(len(cells) / ncols)
    panel = (max(2.2, 0.5 * len(series) + 0.5), 2.6)
    # Names side by side when they fit under their violins, else slanted.
    slant = max(len(s) for s in series) * TICK_CHAR_INCHES > panel[0] / len(series)
    title_chars = int(panel[0] / TICK_CHAR_INCHES)
    apply_style()
    fig, axes = plt.subplots(nrows, ncols, squeeze=False)
    any_clipped, few = False, False
    for ax, cell in zip(axes.flat, cells, strict=False):
        if cell in by_cell:
            any_clipped |= _panel(ax, by_cell[cell], series, styles, slant)
            few |= any(len(v) < FEW for v, _ in by_cell[cell].values())
        ax.set_title(wrap_label(cell, title_chars), fontsize=8, y=1.0)  # a fixed y: no title placement pass
    for ax in axes.flat[len(cells) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("estimate")
    window = f"window: quartiles ± {FENCE:g}·IQR, share outside it under each name" if any_clipped else ""
    kind = "violins, or boxes and points" if few else "violins with quartiles"
    details = "; ".join(d for d in (f"{kind}; truth black", window, *notes) if d)
    title = f"{scenario.name}: What does each estimator's sampling distribution look like?\n({details})"
    # upright names take their longest line ("x % clipped": at most 14 characters) below the panel
    longest = max(max(len(s) for s in series), 14 * any_clipped)
    below = 0.3 + (TICK_CHAR_INCHES * longest if slant else 0.17 * any_clipped)
    lines = max(wrap_label(c, title_chars).count("\n") + 1 for c in cells)
    fixed_layout(fig, title, ncols, nrows, panel, left=0.8, right=0.2, bottom=below + 0.1, wspace=0.7,
                 hspace=below + 0.2 + 0.14 * lines, top_extra=0.14 * lines)  # fmt: skip
    path = context.folder / f"{name}.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]


def iv_estimate_distribution(context):
    """The estimate distribution under its older name (weak-instrument scenarios name it)."""
    return estimate_distribution(context, name="iv_estimate_distribution")


def _panel(ax, cell, series, styles, slant) -> bool:
    """One cell (`cell`: series → (estimates, truths)) within its window; returns whether anything was clipped."""
    present = [s for s in series if s in cell]
    values = {s: cell[s][0] for s in present}
    truths = {s: cell[s][1][np.isfinite(cell[s][1])] for s in present}
    window = clip_window(values, [float(t.mean()) for t in truths.values() if len(t)])
    shares = clipped_shares(values, window)
    lo, hi = window
    for i, s in enumerate(present):
        x = values[s]
        shown = x[(x >= lo) & (x <= hi)]
        color = styles[s]["color"]
        if len(shown) >= FEW:
            # The density from at most KDE_POINTS evenly spaced order statistics: the same shape, bounded time.
            sample = np.sort(shown)[thin(len(shown), KDE_POINTS)]
            body = ax.violinplot(sample, [i], widths=0.8, showextrema=False, points=80)["bodies"][0]
            body.set(facecolor=color, edgecolor="0.25", alpha=0.55, linewidth=0.6)
            q1, q2, q3 = np.percentile(shown, [25, 50, 75])
            ax.vlines(i, q1, q3, color="0.15", linewidth=3)
            ax.scatter([i], [q2], color="white", edgecolors="0.15", s=16, zorder=3)
        elif len(shown):
            ax.boxplot(shown, positions=[i], widths=0.5, showfliers=False, medianprops={"color": "0.1"},
                       boxprops={"color": "0.25"}, whiskerprops={"color": "0.25"}, capprops={"color": "0.25"})  # fmt: skip
            jitter = (np.arange(len(shown)) % 7 - 3) * 0.04
            ax.scatter(i + jitter, shown, color=color, marker=styles[s]["marker"], s=10, alpha=0.7, zorder=3)
        if len(truths[s]):
            ax.hlines(float(truths[s].mean()), i - 0.45, i + 0.45, color="black", linewidth=1.4, zorder=4)
    names = [s + (f"\n{share_text(shares[s])} clipped" if shares[s] > 0 else "") for s in present]
    # Names that do not fit side by side stand upright, hanging from their tick: slanted, a long name with its
    # second line ("x % clipped") ran into its neighbour's.
    ax.set_xticks(range(len(present)), names, rotation=90 if slant else 0, ha="right" if slant else "center",
                  va="center" if slant else "top", rotation_mode="anchor", fontsize=8)  # fmt: skip
    ax.set_xlim(-0.6, len(present) - 0.4)
    clipped = any(v > 0 for v in shares.values())
    if clipped:
        pad = 0.02 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
    ax.tick_params(axis="y", labelsize=8)
    return clipped
