"""Figures drawn from a run's summary (and, for distributions, its records).

Every scenario with a numeric grid parameter gets the standard figures:
bias and coverage against that parameter, one line per estimator, with
±1.96·MCSE bands and the nominal level on the coverage plot.  A scenario
asks for more by name in its ``figures`` list; `EXTRA_FIGURES` maps each
name to the function that draws it, imported only when drawing (so reading
a scenario never loads the plotting stack).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

EXTRA_FIGURES = {
    "estimate_vs_param": "generic",
    "rejection_vs_param": "generic",
    "power_vs_param": "generic",
    "median_bias_vs_param": "generic",
    "se_ratio_vs_param": "generic",
    "rmse_vs_param": "generic",
    "iv_median_bias_vs_f": "iv",
    "iv_rejection_vs_f": "iv",
    "iv_estimate_distribution": "iv",
    "did_bias_and_pretrend_power": "did",
    "event_study": "did",
    "staggered_weights": "did",
}
STANDARD_FIGURES = ("bias_vs_param", "coverage_vs_param")


@dataclass
class FigureContext:
    """What a figure function may read: the scenario, summary and records."""

    scenario: object  # sims.scenario.Scenario
    summary: pd.DataFrame
    run_dir: Path
    records_loader: Callable[[], pd.DataFrame] = field(repr=False)

    @cached_property
    def records(self) -> pd.DataFrame:
        return self.records_loader()

    @property
    def folder(self) -> Path:
        path = self.run_dir / "figures"
        path.mkdir(parents=True, exist_ok=True)
        return path


def draw(context: FigureContext) -> list[Path]:
    """Draw the standard figures and the scenario's extras; return the files."""
    paths = []
    for name in (*STANDARD_FIGURES, *context.scenario.figures):
        module = importlib.import_module(f"{__name__}.{EXTRA_FIGURES.get(name, 'generic')}")
        paths += getattr(module, name)(context)
    return paths
