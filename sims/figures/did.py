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
