"""Difference-in-differences figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from .generic import Z_BAND


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
        rows = rows.sort_values("trend_gap")
        _band(left, rows, "bias", palette[label], label)
        if label in pretrend:
            _band(right, rows, "rejection", palette[label], label)
    left.axhline(0, color="0.3", linestyle="--", linewidth=1)
    left.set(
        xlabel="trend_gap (differential trend of the treated)",
        ylabel="bias of the effect estimate",
        title="DiD bias grows with the trend gap",
    )
    alpha = 1 - scenario.level
    right.axhline(alpha, color="0.3", linestyle="--", linewidth=1)
    right.annotate(
        f"nominal {alpha:.2g}",
        (1.0, alpha),
        xycoords=("axes fraction", "data"),
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.3",
    )
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


def _band(ax, rows, measure, color, label):
    x, y, err = rows["trend_gap"], rows[measure], Z_BAND * rows[f"{measure}_mcse"].fillna(0.0)
    ax.plot(x, y, marker="o", markersize=4, color=color, label=label)
    ax.fill_between(x, y - err, y + err, color=color, alpha=0.2, linewidth=0)
