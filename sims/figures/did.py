"""Difference-in-differences figures: bias against the trend gap with the pre-trend tests' power,
event-study estimates and their coverage, and TWFE's bias against its weights."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .facets import fixed_layout
from .generic import (
    DPI,
    apply_style,
    coinciding,
    failed_note,
    labels_of,
    legend_outside,
    line_with_band,
    reference_line,
)
from .layout import series_styles


def did_bias_and_pretrend_power(context):
    """Does a trend gap bias DiD, and do the pre-trend tests see it?

    Left: bias of every DiD estimate against trend_gap.  Right: the
    pre-trend tests' rejection rate (power).

    One line per estimator with ±1.96·MCSE bands; the pre-trend tests are
    the ``pretrend`` estimators of the scenario (their rejection rate at
    trend_gap = 0 is their size).
    """
    scenario, summary = context.scenario, context.summary
    if "trend_gap" not in scenario.grid:
        return []
    pretrend = [e.label for e in scenario.estimators if e.name == "pretrend"]
    apply_style()
    styles = series_styles(list(dict.fromkeys(summary["estimator"].astype(str))), labels_of(scenario))
    fig, (left, right) = plt.subplots(1, 2)
    for label, rows in summary.groupby("estimator", sort=False, observed=True):
        line_with_band(rows, "trend_gap", "bias", "bias_mcse", label=label, ax=left, **styles[label])
        if label in pretrend:
            line_with_band(rows, "trend_gap", "rejection", "rejection_mcse", label=label, ax=right, **styles[label])
    reference_line(left, 0.0)
    left.set(
        xlabel="trend_gap (differential trend of the treated)",
        ylabel="bias of the effect estimate",
        title="DiD bias grows with the trend gap",
    )
    alpha = 1 - scenario.level
    reference_line(right, alpha, f"nominal {alpha:.2g}")
    right.set(
        xlabel="trend_gap",
        ylabel="rejection rate of 'no pre-trend'",
        ylim=(0, 1.02),
        title="pre-trend test: size at 0, power beyond",
    )
    # One legend right of both panels (inside, it covered the lines); each estimator once.
    right_margin = legend_outside(fig, (left, right))
    same = coinciding(summary.assign(series=summary["estimator"].astype(str)), "bias")
    details = "; ".join(d for d in ("bias bands ±1.96 MCSE; rejection bands: Wilson 95% intervals", same) if d)
    title = f"{scenario.name}: Does a trend gap bias DiD, and do the pre-trend tests see it?\n({details})"
    fixed_layout(fig, title, 2, 1, (4.6, 3.4), left=0.9, right=right_margin, bottom=0.65, wspace=0.9, hspace=0,
                 top_extra=0.2)  # fmt: skip
    path = context.folder / "did_bias_and_pretrend_power.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]


def event_time(term: str) -> float | None:
    """The event time of a term named ``e=k`` (binned ends ``e<=-4``/``e>=5`` at their bound), else None."""
    for prefix in ("e<=", "e>=", "e="):
        if term.startswith(prefix):
            try:
                return float(term[len(prefix) :])
            except ValueError:
                return None
    return None


REFERENCE = -1.0  # the event time an event study normalises to 0
LEGEND_COLUMNS = 4


def event_study(context):
    """Do the event-time estimates track the true ATT(e), and do their intervals cover it?

    Top: each event-study estimator's mean estimate per event time with a
    ±1.96·MCSE band, the truth (ATT(e)) as black crosses; the binned ends
    (no truth) are drawn with open markers.  An estimator without a term at
    the reference period e = −1 (normalised to 0) has its line broken there
    and an open marker at (−1, 0).  Bottom: coverage per event time
    with the nominal level.  One column per cell (grid point).
    """
    scenario, summary = context.scenario, context.summary
    data = summary.assign(event=summary["term"].astype(str).map(event_time)).dropna(subset=["event"])
    multi = data.groupby(["cell", "estimator"], observed=True)["term"].transform("nunique") > 1
    data = data[multi]
    if data.empty:
        return []
    cells = list(dict.fromkeys(data["cell"]))
    apply_style()
    fig, axes = plt.subplots(2, len(cells), squeeze=False, sharex=True, sharey="row")  # one scale per measure
    labels = list(dict.fromkeys(data["estimator"]))
    styles = series_styles(labels, labels_of(scenario))
    palette = {label: style["color"] for label, style in styles.items()}
    for col, cell in enumerate(cells):
        top, bottom = axes[0, col], axes[1, col]
        rows = data[data["cell"] == cell]
        for label, est in rows.groupby("estimator", sort=False, observed=True):
            est = est.sort_values("event")
            # An estimator that normalises the reference period away has no term at e = -1: its line is broken
            # there and the period drawn as a point at 0 (as event-study plots do), never interpolated through.
            normalised = REFERENCE not in set(est["event"]) and est["event"].min() < REFERENCE < est["event"].max()
            pieces = [est[est["event"] < REFERENCE], est[est["event"] > REFERENCE]] if normalised else [est]
            for i, piece in enumerate(pieces):
                name = label if i == 0 else None
                line_with_band(piece, "event", "mean_estimate", "mean_estimate_mcse", label=name, ax=top,
                               **styles[label])  # fmt: skip
                line_with_band(piece, "event", "coverage", "coverage_mcse", label=name, ax=bottom, **styles[label])
            if normalised:
                top.scatter([REFERENCE], [0.0], marker=styles[label].get("marker", "o"), s=40, facecolors="white",
                            edgecolors=palette[label], zorder=3)  # fmt: skip
            binned = est["truth"].isna()
            top.scatter(est.loc[binned, "event"], est.loc[binned, "mean_estimate"], s=40, facecolors="white",
                        edgecolors=palette[label], zorder=3)  # fmt: skip
        truths = rows.dropna(subset=["truth"]).drop_duplicates("event")
        top.scatter(truths["event"], truths["truth"], marker="x", color="black", zorder=4, label="truth ATT(e)")
        top.axvline(-1, color="0.6", linewidth=0.8, linestyle=":")
        top.set_title(cell, y=1.0)
        top.set(ylabel="mean estimate" if col == 0 else "")
        reference_line(bottom, scenario.level, f"nominal {scenario.level:g}")
        bottom.set(xlabel="event time e (−1: reference)", ylabel="coverage" if col == 0 else "", ylim=(0, 1.02))
    right_margin = legend_outside(fig, axes.flat)
    same = coinciding(data.assign(series=data["estimator"].astype(str)), "mean_estimate", keys=("cell", "event"))
    notes = "; ".join(n for n in ("estimate bands ±1.96 MCSE; coverage bands: Wilson 95% intervals",
                                  failed_note(summary), same and f"estimates: {same}") if n)  # fmt: skip
    title = (
        f"{scenario.name}: Do the event-time estimates track the true ATT(e), and do their intervals cover it?"
        f"\n({notes})"
    )
    fixed_layout(fig, title, len(cells), 2, (4.4, 2.7), left=0.9, right=right_margin, bottom=0.65, wspace=0.6,
                 hspace=0.35, top_extra=0.2)  # fmt: skip
    path = context.folder / "event_study.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]


def staggered_weights(context):
    """Is TWFE's bias explained by its negative and forbidden weights?

    Bias of every estimator's ``att`` against the static TWFE's weights, one point per cell.

    Left: against the mean share of negative weights (de Chaisemartin &
    D'Haultfœuille's ``neg_weight_share``); right: against the weight of
    Goodman-Bacon's forbidden later-vs-earlier comparisons
    (``forbidden_weight``), both read from the records of the scenario's
    first ``twfe_staggered`` estimator.  Bars ±1.96·MCSE; each TWFE point
    is labelled with its cell.
    """
    scenario, summary = context.scenario, context.summary
    twfe = [e.label for e in scenario.estimators if e.name == "twfe_staggered"]
    headline = summary[summary["term"].astype(str) == "att"]
    if not twfe or headline.empty:
        return []
    records = context.records[["cell", "estimator", "neg_weight_share", "forbidden_weight"]]
    weights = (
        records[records["estimator"].astype(str) == twfe[0]]
        .groupby("cell", observed=True)[["neg_weight_share", "forbidden_weight"]]
        .mean()
    )
    data = headline.join(weights, on="cell")
    apply_style()
    fig, axes = plt.subplots(1, 2, sharey=True)
    labels = list(dict.fromkeys(data["estimator"]))
    styles = series_styles(labels, labels_of(scenario))
    palette = {label: style["color"] for label, style in styles.items()}
    markers = {label: style["marker"] for label, style in styles.items()}
    for ax, x, xlabel in (
        (axes[0], "neg_weight_share", "share of negative TWFE weights (de Chaisemartin & D'Haultfœuille)"),
        (axes[1], "forbidden_weight", "weight of later-vs-earlier comparisons (Goodman-Bacon)"),
    ):
        for label, rows in data.groupby("estimator", sort=False, observed=True):
            ax.errorbar(rows[x], rows["bias"], yerr=1.96 * rows["bias_mcse"], color=palette[label], linestyle="none",
                        marker=markers.get(label, "o"), capsize=3, label=label)  # fmt: skip
        # Each TWFE point labelled with its cell, on the side facing the middle of the panel, so a label at the
        # right edge does not run into the next panel (and get cut there).
        middle = (data[x].min() + data[x].max()) / 2
        for _, row in data[data["estimator"].astype(str) == twfe[0]].iterrows():
            left = row[x] > middle
            ax.annotate(str(row["cell"]), (row[x], row["bias"]), fontsize=7, xytext=(-6 if left else 6, 0),
                        textcoords="offset points", va="center", ha="right" if left else "left",
                        color="0.3")  # fmt: skip
        reference_line(ax, 0.0)
        ax.set(xlabel=xlabel, ylabel="bias of the ATT estimate" if ax is axes[0] else "")
        ax.xaxis.label.set_fontsize(9)
    # The legend sits under the panels, outside both axes, so it covers no point (inside, it did).
    rows = -(-len(labels) // LEGEND_COLUMNS)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(labels), LEGEND_COLUMNS), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    title = f"{scenario.name}: Is TWFE's bias explained by its negative and forbidden weights?\n(bars ±1.96 MCSE)"
    fixed_layout(fig, title, 2, 1, (4.6, 3.6), left=0.9, right=1.1, bottom=0.75 + 0.22 * rows, wspace=0.3, hspace=0,
                 top_extra=0.2)  # fmt: skip
    path = context.folder / "staggered_weights.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]
