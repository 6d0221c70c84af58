"""Difference-in-differences figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from .generic import line_with_band, reference_line


def did_bias_and_pretrend_power(context):
    """Left: bias of every DiD estimate against trend_gap. Right: the pre-trend tests' rejection rate (power).

    One line per estimator with ±1.96·MCSE bands; the pre-trend tests are
    the ``pretrend`` estimators of the scenario (their rejection rate at
    trend_gap = 0 is their size).
    """
    scenario, summary = context.scenario, context.summary
    if "trend_gap" not in scenario.grid:
        return []
    pretrend = [e.label for e in scenario.estimators if e.name == "pretrend"]
    sns.set_theme(style="whitegrid", context="notebook")
    palette = dict(zip(summary["estimator"].unique(), sns.color_palette(n_colors=summary["estimator"].nunique())))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, rows in summary.groupby("estimator", sort=False, observed=True):
        line_with_band(rows, "trend_gap", "bias", "bias_mcse", palette[label], label, ax=left)
        if label in pretrend:
            line_with_band(rows, "trend_gap", "rejection", "rejection_mcse", palette[label], label, ax=right)
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
    left.legend(fontsize=8)
    if pretrend:
        right.legend(fontsize=8)
    fig.suptitle(f"{scenario.name} (bands ±1.96 MCSE)", fontsize=11)
    fig.tight_layout()
    path = context.folder / "did_bias_and_pretrend_power.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
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


def event_study(context):
    """Event-time estimates against their truths, and their coverage, per cell.

    Top: each event-study estimator's mean estimate per event time with a
    ±1.96·MCSE band, the truth (ATT(e)) as black crosses; the binned ends
    (no truth) are drawn with open markers.  Bottom: coverage per event time
    with the nominal level.  One column per cell (grid point).
    """
    scenario, summary = context.scenario, context.summary
    data = summary.assign(event=summary["term"].astype(str).map(event_time)).dropna(subset=["event"])
    multi = data.groupby(["cell", "estimator"], observed=True)["term"].transform("nunique") > 1
    data = data[multi]
    if data.empty:
        return []
    cells = list(dict.fromkeys(data["cell"]))
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(2, len(cells), figsize=(4.6 * len(cells), 6.4), squeeze=False, sharex=True)
    labels = list(dict.fromkeys(data["estimator"]))
    palette = dict(zip(labels, sns.color_palette(n_colors=len(labels)), strict=True))
    for col, cell in enumerate(cells):
        top, bottom = axes[0, col], axes[1, col]
        rows = data[data["cell"] == cell]
        for label, est in rows.groupby("estimator", sort=False, observed=True):
            est = est.sort_values("event")
            line_with_band(est, "event", "mean_estimate", "mean_estimate_mcse", palette[label], label, ax=top)
            binned = est["truth"].isna()
            top.scatter(est.loc[binned, "event"], est.loc[binned, "mean_estimate"], s=40, facecolors="white",
                        edgecolors=palette[label], zorder=3)  # fmt: skip
            line_with_band(est, "event", "coverage", "coverage_mcse", palette[label], label, ax=bottom)
        truths = rows.dropna(subset=["truth"]).drop_duplicates("event")
        top.scatter(truths["event"], truths["truth"], marker="x", color="black", zorder=4, label="truth ATT(e)")
        top.axvline(-1, color="0.6", linewidth=0.8, linestyle=":")
        top.set(title=cell, ylabel="mean estimate" if col == 0 else "")
        reference_line(bottom, scenario.level, f"nominal {scenario.level:g}" if col == len(cells) - 1 else None)
        bottom.set(xlabel="event time e (−1: reference)", ylabel="coverage" if col == 0 else "", ylim=(0, 1.02))
    axes[0, -1].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{scenario.name}: event-time estimates and their coverage (bands ±1.96 MCSE)", fontsize=11)
    fig.tight_layout()
    path = context.folder / "event_study.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [path]


def staggered_weights(context):
    """Bias of every estimator's ``att`` against the static TWFE's weights, one point per cell.

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
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    labels = list(dict.fromkeys(data["estimator"]))
    palette = dict(zip(labels, sns.color_palette(n_colors=len(labels)), strict=True))
    markers = dict(zip(labels, "osD^vP*Xh<>", strict=False))
    for ax, x, xlabel in (
        (axes[0], "neg_weight_share", "share of negative TWFE weights (de Chaisemartin & D'Haultfœuille)"),
        (axes[1], "forbidden_weight", "weight of later-vs-earlier comparisons (Goodman-Bacon)"),
    ):
        for label, rows in data.groupby("estimator", sort=False, observed=True):
            ax.errorbar(rows[x], rows["bias"], yerr=1.96 * rows["bias_mcse"], color=palette[label], linestyle="none",
                        marker=markers.get(label, "o"), capsize=3, label=label)  # fmt: skip
        for _, row in data[data["estimator"].astype(str) == twfe[0]].iterrows():
            ax.annotate(str(row["cell"]), (row[x], row["bias"]), fontsize=7, xytext=(6, 0),
                        textcoords="offset points", va="center", color="0.3")  # fmt: skip
        reference_line(ax, 0.0)
        ax.set(xlabel=xlabel, ylabel="bias of the ATT estimate" if ax is axes[0] else "")
        ax.xaxis.label.set_fontsize(9)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"{scenario.name}: TWFE's bias and its weights (bars ±1.96 MCSE)", fontsize=11)
    fig.tight_layout()
    path = context.folder / "staggered_weights.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [path]
