"""Weak-instrument figures: robust measures against the first-stage F.

Just-identified 2SLS has no mean, so these plot median bias and rejection
rates (which always exist) against the cell's mean first-stage F, with the
Stock–Yogo (2005) threshold for 10 % maximal size marked.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from causalmc.estimators.iv import stock_yogo

from .generic import facet_grid, finish, line_with_band

STRENGTH = "mu2_per_instrument"


def _with_first_stage_f(summary):
    """Each row gets its cell's mean first-stage F (from the IV rows of that cell)."""
    cell_f = summary.groupby("cell", observed=True)["mean_first_stage_f"].max()
    return summary.assign(first_stage_f=summary["cell"].map(cell_f).astype(float))


# These report the 2SLS point estimate (their inference differs, their estimate does not).
SHARES_TSLS_ESTIMATE = ("anderson_rubin", "tsls_tf")


def _without_tsls_copies(summary, scenario):
    """Drop rows whose estimate is the 2SLS one when 2SLS itself is drawn."""
    if not any(e.name == "tsls" for e in scenario.estimators):
        return summary
    copies = {e.label for e in scenario.estimators if e.name in SHARES_TSLS_ESTIMATE}
    return summary[~summary["estimator"].isin(copies)]


def _x_param(scenario):
    return STRENGTH if STRENGTH in scenario.grid else next(iter(scenario.grid))


def _ols_labels(scenario):
    return {e.label for e in scenario.estimators if e.name == "ols"}


def _line_or_reference(data, x, y, err, color=None, label=None, ols=(), **kwargs):
    style = "--" if label in ols else "-"
    line_with_band(data, x, y, err, color="0.4" if label in ols else color, label=label, linestyle=style)


def iv_median_bias_vs_f(context):
    """Median bias against mean first-stage F (log axis); OLS dashed for reference."""
    scenario = context.scenario
    data = _without_tsls_copies(_with_first_stage_f(context.summary), scenario)
    grid = facet_grid(data, scenario, _x_param(scenario))
    grid.map_dataframe(
        _line_or_reference, x="first_stage_f", y="median_bias", err="median_bias_mcse", ols=_ols_labels(scenario)
    )
    path = context.folder / "iv_median_bias_vs_f.png"
    return [
        finish(
            grid,
            scenario,
            _x_param(scenario),
            "median bias",
            path,
            reference=0.0,
            xlabel="mean first-stage F",
            log_x=True,
            title="median bias against instrument strength (OLS dashed; bands ±1.96 MCSE)",
        )
    ]


def iv_rejection_vs_f(context):
    """Rejection rate of the true null against mean first-stage F; 5 % line and Stock–Yogo 10 % size mark."""
    scenario = context.scenario
    data = _with_first_stage_f(context.summary)
    data = data[~data["estimator"].isin(_ols_labels(scenario))]
    grid = facet_grid(data, scenario, _x_param(scenario))
    grid.map_dataframe(line_with_band, x="first_stage_f", y="rejection", err="rejection_mcse")
    table = stock_yogo()
    for key, ax in grid.axes_dict.items() if grid.axes_dict else [(None, grid.ax)]:
        k = _facet_k(key, scenario)
        threshold = table.get(("size", k, 0.1)) if k is not None else None
        if threshold is not None:
            ax.axvline(threshold, color="firebrick", linestyle=":", linewidth=1.2)
            ax.annotate(
                f"Stock–Yogo 10% size: F = {threshold:g}",
                (threshold, 0.98),
                xycoords=("data", "axes fraction"),
                rotation=90,
                ha="right",
                va="top",
                fontsize=8,
                color="firebrick",
            )
    alpha = 1 - scenario.level
    path = context.folder / "iv_rejection_vs_f.png"
    return [
        finish(
            grid,
            scenario,
            _x_param(scenario),
            "rejection rate of the true beta",
            path,
            reference=alpha,
            reference_label=f"nominal {alpha:.2g}",
            xlabel="mean first-stage F",
            log_x=True,
        )
    ]


def _facet_k(key, scenario):
    if "k_instruments" in scenario.grid:
        return int(key if not isinstance(key, tuple) else key[0]) if key is not None else None
    return scenario.params.get("k_instruments")


def iv_estimate_distribution(context):
    """Sampling distribution of 2SLS by instrument strength (violins), truth and OLS marked."""
    scenario = context.scenario
    labels = [e.label for e in scenario.estimators if e.name == "tsls"]
    if not labels or STRENGTH not in scenario.grid:
        return []
    records = context.records
    tsls = records[(records["estimator"] == labels[0]) & (records["status"] == "ok")]
    truth = float(tsls["truth"].iloc[0])
    ols = context.summary[context.summary["estimator"].isin(_ols_labels(scenario))]
    lo, hi = truth - 3.0, truth + 3.5
    shown = tsls[(tsls["estimate"] > lo) & (tsls["estimate"] < hi)]
    facet = "k_instruments" if "k_instruments" in scenario.grid else None
    sns.set_theme(style="whitegrid", context="notebook")
    grid = sns.catplot(
        data=shown,
        x=STRENGTH,
        y="estimate",
        col=facet,
        kind="violin",
        cut=0,
        inner="quartile",
        density_norm="width",
        color="steelblue",
        height=3.6,
        aspect=1.3,
        linewidth=0.8,
    )
    for key, ax in grid.axes_dict.items() if facet else [(None, grid.ax)]:
        ax.axhline(truth, color="black", linewidth=1, label="truth")
        rows = ols if key is None else ols[ols[facet] == key]
        if not rows.empty:
            weakest = rows.sort_values(STRENGTH).iloc[0]
            ax.axhline(
                weakest["mean_estimate"], color="firebrick", linestyle="--", linewidth=1, label="OLS, weakest cell"
            )
        ax.set_ylim(lo, hi)
        ax.legend(loc="lower right", fontsize=8)
    share = 1 - len(shown) / max(len(tsls), 1)
    grid.set_axis_labels("concentration parameter per instrument (μ²/K)", "2SLS estimate")
    grid.figure.suptitle(
        f"{scenario.name}: 2SLS sampling distribution ({share:.1%} of estimates lie outside the window shown)",
        y=1.03,
        fontsize=11,
    )
    path = context.folder / "iv_estimate_distribution.png"
    grid.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(grid.figure)
    return [path]
