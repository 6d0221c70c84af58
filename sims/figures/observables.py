"""Selection-on-observables figures: what poor overlap does to weighting estimators."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .facets import fixed_layout
from .generic import DPI, apply_style, coinciding, labels_of, legend_outside, line_with_band, reference_line
from .layout import series_styles


def overlap_weights(context):
    """As overlap worsens, do the weighting estimators keep their coverage, and how few units carry the weights?

    For the scenario's first grid parameter (the overlap, e.g. ``gamma``):
    left, coverage; middle, RMSE (log scale); right, the effective sample
    size of the control arm's weights, Kish's (Σw)²/Σw² averaged over
    replications (``ess_control``), of every estimator that records it.
    Bands: Wilson 95 % intervals on coverage, ±1.96·MCSE on RMSE (none on
    the ESS, whose MCSE is below the line width).
    """
    scenario, summary = context.scenario, context.summary
    if not scenario.grid:
        return []
    x = next(iter(scenario.grid))
    records = context.records_of(["cell", "estimator", "ess_control"])
    if "ess_control" not in records:
        return []
    ess = records.groupby(["cell", "estimator"], observed=True)["ess_control"].mean().rename("ess").reset_index()
    data = summary.merge(ess, on=["cell", "estimator"], how="left")
    apply_style()
    labels = list(dict.fromkeys(data["estimator"].astype(str)))
    styles = series_styles(labels, labels_of(scenario))
    fig, (cover, rmse, weights) = plt.subplots(1, 3)
    for label, rows in data.groupby("estimator", sort=False, observed=True):
        rows = rows.sort_values(x)
        line_with_band(rows, x, "coverage", "coverage_mcse", label=label, ax=cover, **styles[label])
        line_with_band(rows, x, "rmse", "rmse_mcse", label=label, ax=rmse, **styles[label])
        if rows["ess"].notna().any():
            weights.plot(rows[x], rows["ess"], color=styles[label]["color"], marker=styles[label]["marker"],
                         linestyle=styles[label]["linestyle"], label=label)  # fmt: skip
    reference_line(cover, scenario.level, f"nominal {scenario.level:g}")
    cover.set(xlabel=x, ylabel="coverage", title="do the intervals cover?")
    rmse.set(xlabel=x, ylabel="RMSE (log scale)", yscale="log", title="how far off?")
    weights.set(xlabel=x, ylabel="effective sample size, controls", title="how many controls carry the weights?")
    weights.set_ylim(bottom=0)
    right_margin = legend_outside(fig, (cover, rmse, weights), title="estimator")
    series = data.assign(series=data["estimator"].astype(str))
    notes = (("RMSE", coinciding(series, "rmse")), ("ESS", coinciding(series, "ess")))
    same = [f"{name}: {note}" for name, note in notes if note]
    details = "; ".join(["coverage bands: Wilson 95% intervals; RMSE bands ±1.96 MCSE; ESS = (Σw)²/Σw², mean over "
                         "replications", *same])  # fmt: skip
    question = f"As overlap worsens ({x} grows), do weighting estimators keep their coverage?"
    title = f"{scenario.name}: {question}\n({details})"
    fixed_layout(fig, title, 3, 1, (3.8, 3.4), left=0.8, right=right_margin, bottom=0.65, wspace=0.75, hspace=0,
                 top_extra=0.2)  # fmt: skip
    path = context.folder / "overlap_weights.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]
