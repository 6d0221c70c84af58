"""The figure of a solve (`sims.solve`): the measure against the solved parameter, one panel per estimator.

Each evaluated value is a point with its ±1.96·MCSE band (over every
replication drawn there), the fitted curve is drawn over the values it was
fitted on, the target is a dashed line, and the root a vertical line with
its confidence interval shaded.  Drawn from ``solve.json`` alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..run.folder import read_solve
from ..solve.search import Fit
from .generic import DPI, apply_style, reference_line
from .layout import MAX_COLUMNS, PALETTE

FILE = "solve.png"


def draw_solve(run_dir) -> list[Path]:
    """figures/solve.png of a run folder holding a solve; nothing when it holds none."""
    run_dir = Path(run_dir)
    result = read_solve(run_dir)
    if result is None:
        return []
    apply_style()
    labels = list(result["roots"])
    columns = min(len(labels), MAX_COLUMNS)
    rows = math.ceil(len(labels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False)
    param, measure = result["param"], result["measure"]
    points = result["evaluations"]
    for index, (ax, label) in enumerate(zip(axes.flat, labels)):
        colour = PALETTE[index % len(PALETTE)]
        mine = [p for p in points if p["estimator"] == label and p[measure] is not None and math.isfinite(p[measure])]
        x = np.array([p[param] for p in mine], float)
        y = np.array([p[measure] for p in mine], float)
        band = 1.96 * np.array([p["mcse"] for p in mine], float)
        ax.errorbar(x, y, yerr=band, fmt="o", color=colour, markersize=4, capsize=2, label="evaluations ±1.96 MCSE")
        root = result["roots"][label]
        fit = root["fit"]
        if fit is not None:
            grid = np.linspace(min(fit["used"]), max(fit["used"]), 200)
            ax.plot(grid, Fit(**fit).curve(grid), color="0.2", linewidth=1.2, label="fitted curve")
        if root["root"] is not None and math.isfinite(root["root"]):
            ax.axvline(root["root"], color=colour, linewidth=1)
            # an unbounded side of the interval is shaded to the edge of the evaluated values
            low = root["ci_low"] if math.isfinite(root["ci_low"]) else float(x.min())
            high = root["ci_high"] if math.isfinite(root["ci_high"]) else float(x.max())
            ax.axvspan(low, high, color=colour, alpha=0.15, label=f"root, {result['level']:.0%} CI")
        reference_line(ax, result["target"], f"target {result['target']:g}")
        title = f"{label}: {root['status']}"
        if root["root"] is not None and math.isfinite(root["root"]):
            title += f"\n{param} = {root['root']:.4g} [{root['ci_low']:.4g}, {root['ci_high']:.4g}]"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(param)
        ax.set_ylabel(measure)
    for ax in list(axes.flat)[len(labels) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = run_dir / "figures" / FILE
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]
