"""Weak-instrument figures: robust measures against the first-stage F.

Just-identified 2SLS has no mean, so these plot median bias and rejection
rates (which always exist) against the cell's mean first-stage F, with the
Stock–Yogo (2005) threshold for 10 % maximal size marked.  The sampling
distributions (``iv_estimate_distribution``) are drawn by the general
`distribution.estimate_distribution`.
"""

from __future__ import annotations

from causalmc.estimators.iv import stock_yogo

from .generic import facet_grid, finish, line_with_band

STRENGTH = "mu2_per_instrument"


def _with_first_stage_f(summary):
    """Each row gets its cell's mean first-stage F (from the IV rows of that cell)."""
    cell_f = summary.groupby("cell", observed=True)["mean_first_stage_f"].max()
    return summary.assign(first_stage_f=summary["cell"].map(cell_f).astype(float))


# These report the 2SLS point estimate (their inference differs, their estimate does not).
SHARES_TSLS_ESTIMATE = ("anderson_rubin", "tsls_tf")


def tsls_copies(scenario) -> set:
    """Labels of the estimators whose estimate is 2SLS's, when 2SLS itself is in the scenario."""
    if not any(e.name == "tsls" for e in scenario.estimators):
        return set()
    return {e.label for e in scenario.estimators if e.name in SHARES_TSLS_ESTIMATE}


def _without_tsls_copies(summary, scenario):
    """Drop rows whose estimate is the 2SLS one when 2SLS itself is drawn."""
    return summary[~summary["estimator"].isin(tsls_copies(scenario))]


def _x_param(scenario):
    return STRENGTH if STRENGTH in scenario.grid else next(iter(scenario.grid))


def _ols_labels(scenario):
    return {e.label for e in scenario.estimators if e.name == "ols"}


def iv_median_bias_vs_f(context):
    """Does each estimator stay median-unbiased as the instruments weaken?

    Median bias against the cell's mean first-stage F (log axis); OLS, for
    reference, in its own style as in every figure of the scenario.
    """
    scenario = context.scenario
    data = _without_tsls_copies(_with_first_stage_f(context.summary), scenario)
    grid = facet_grid(data, scenario, _x_param(scenario), "median_bias")
    grid.map_dataframe(line_with_band, x="first_stage_f", y="median_bias", err="median_bias_mcse")
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
            categorical=False,
            title="Does each estimator stay median-unbiased as the instruments weaken?",
            details="bands ±1.96 MCSE",
        )
    ]


def iv_rejection_vs_f(context):
    """Does the test of the true value keep its size as the instruments weaken?

    Rejection rate of the true null against the cell's mean first-stage F;
    the nominal line and the Stock–Yogo 10 % maximal-size threshold marked.
    """
    scenario = context.scenario
    data = _with_first_stage_f(context.summary)
    data = data[~data["estimator"].isin(_ols_labels(scenario))]
    grid = facet_grid(data, scenario, _x_param(scenario), "rejection")
    grid.map_dataframe(line_with_band, x="first_stage_f", y="rejection", err="rejection_mcse")
    table = stock_yogo()
    for key, ax in grid.axes_dict.items() if grid.axes_dict else [(None, grid.ax)]:
        k = _facet_k(key, scenario, grid.layout)
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
            categorical=False,
            title=f"Does the test of the true value keep its {100 * alpha:.2g}% size as the instruments weaken?",
            details="bands: Wilson 95% intervals",
        )
    ]


def _facet_k(key, scenario, layout):
    """The number of instruments of a panel: its facet value, the value held fixed, or the scenario's."""
    if layout.facet == "k_instruments":
        return int(key)
    if "k_instruments" in layout.fixed:
        return int(layout.fixed["k_instruments"])
    if "k_instruments" in scenario.grid:
        values = scenario.grid["k_instruments"]
        return int(values[0]) if len(values) == 1 else None
    return scenario.params.get("k_instruments")
