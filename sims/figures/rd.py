"""Regression-discontinuity figures: coverage of the conventional and robust intervals against the bandwidth,
in multiples of the infeasible MSE-optimal bandwidth of the ``rd`` DGP."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from causalmc.estimators.rd.density_constants import moments

from .facets import fixed_layout
from .generic import DPI, apply_style, legend_outside, line_with_band, reference_line
from .layout import PALETTE


def infeasible_bandwidth(params) -> float:
    """The population MSE-optimal common bandwidth of the local-linear jump (triangular kernel, p = 1) for the
    ``rd`` DGP with these parameters, rdrobust's ``mserd`` target with the true constants:

        h_MSE = (V / (4 B² n))^{1/5},   B = B_K (m₊''(0) − m₋''(0))/2,   V = 2σ² κ_K / f(0)

    with, for the triangular kernel on [0, 1] (S_ab = ∫K u^{a+b}, C_a = ∫K u^{a+2}, Ψ_ab = ∫K² u^{a+b}),
    B_K = (S⁻¹C)_0 = −0.1 and κ_K = (S⁻¹ΨS⁻¹)_00 = 4.8; f(0) the running variable's density at the cutoff and
    σ the error's sd (homoskedastic, so σ₊ = σ₋).  CCT (2014, Section 5) use the same population constants for
    their infeasible bandwidths.
    """
    from ..dgps import rd as rd_dgp

    s, c, _ = moments("triangular", 1)
    k = np.add.outer(np.arange(2), np.arange(2))
    psi = 1 / (k + 1) - 2 / (k + 2) + 1 / (k + 3)  # ∫₀¹ (1 − u)² u^k du
    s_inv = np.linalg.inv(s)
    bias_k, kappa = (s_inv @ c)[0], (s_inv @ psi @ s_inv)[0, 0]
    coefs = rd_dgp.MODELS[params["model"]]
    curvature = coefs[1, 2] - coefs[0, 2]  # (m₊''(0) − m₋''(0))/2
    variance = 2 * params["sigma"] ** 2 * kappa / rd_dgp.DENSITY_AT_CUTOFF[params["running"]]
    return float((variance / (4 * (bias_k * curvature) ** 2 * params["n"])) ** 0.2)


def rd_coverage_vs_bandwidth(context):
    """Do the conventional and robust intervals cover as the bandwidth grows past the MSE-optimal one?

    One panel per cell; x: each fixed-bandwidth ``rd`` estimator's h over the cell's infeasible MSE-optimal
    bandwidth (`infeasible_bandwidth`); y: the coverage of its conventional and robust intervals with
    Wilson 95 % bands; the nominal level dashed, h = h_MSE dotted.  Estimators with a data-driven bandwidth or
    another kernel or order are left out.
    """
    scenario, summary = context.scenario, context.summary
    fixed = {
        e.label: float(e.options["h"])
        for e in scenario.estimators
        if e.name == "rd"
        and e.options.get("bwselect", "fixed") == "fixed"
        and e.options.get("kernel", "triangular") == "triangular"
        and e.options.get("p", 1) == 1
    }
    cells = [c for c in scenario.cells()]
    if len(fixed) < 2 or not cells:
        return []
    apply_style()
    ncols = min(3, len(cells))
    nrows = math.ceil(len(cells) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False)
    for ax, cell in zip(axes.flat, cells, strict=False):
        h_mse = infeasible_bandwidth(cell.params)
        rows = summary[(summary["cell"] == cell.label) & summary["estimator"].isin(list(fixed))].copy()
        rows["h_ratio"] = rows["estimator"].astype(str).map(fixed) / h_mse
        for term, color in (("conventional", PALETTE[5]), ("robust", PALETTE[0])):
            line_with_band(rows[rows["term"] == term], "h_ratio", "coverage", "coverage_mcse", color=color, label=term,
                           ax=ax)  # fmt: skip
        reference_line(ax, scenario.level, f"nominal {scenario.level:.2g}")
        ax.axvline(1.0, color="0.3", linestyle=":", linewidth=1)
        ax.set(xlabel=f"h / h_MSE (h_MSE = {h_mse:.3f})", ylabel="coverage", ylim=(0, 1.02), title=cell.label)
    for ax in axes.flat[len(cells) :]:
        ax.set_visible(False)
    right_margin = legend_outside(fig, axes.flat, title="interval")
    title = (
        f"{scenario.name}: coverage against the bandwidth, conventional vs robust bias-corrected "
        "(bands: Wilson 95% intervals; h = h_MSE dotted)"
    )
    fixed_layout(fig, title, ncols, nrows, (3.6, 3.0), left=0.8, right=right_margin, bottom=0.6, wspace=0.7,
                 hspace=0.9, top_extra=0.2)  # fmt: skip
    path = context.folder / "rd_coverage_vs_bandwidth.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]
