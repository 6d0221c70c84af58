"""Figures drawn from a run's summary (and, for intervals and distributions, its records).

Standard figures, drawn for every scenario where they apply
(`STANDARD_FIGURES`):

- ``bias_vs_param`` / ``coverage_vs_param`` (`generic`): is each estimator
  unbiased, do its intervals cover, as a grid parameter changes?  One line
  (or, for two or three values, points) per estimator with ±1.96·MCSE;
  median bias for IV summaries.
- ``nested_loop_bias`` / ``nested_loop_coverage`` (`nested_loop`): the
  same questions over every cell of a grid of three or more varying
  factors at once (Rücker & Schwarzer 2014, BMC Medical Research
  Methodology 14:129).
- ``zip_plot`` (`zip_plot`): which intervals miss the truth, and how far?
  Every interval of a cell ranked by |z| (Morris, White & Crowther 2019,
  Statistics in Medicine 38:2074–2102, Fig. 3).
- ``estimate_distribution`` (`distribution`): what does each estimator's
  sampling distribution look like, cell by cell, against the truth?

A scenario asks for more by name in its ``figures`` list; `EXTRA_FIGURES`
maps each name to the module that draws it, imported only when drawing (so
reading a scenario never loads the plotting stack).  ``iv_estimate_distribution``
is the estimate distribution under its older name (`ALIASES`): listing it
draws ``iv_estimate_distribution.png`` instead of the standard
``estimate_distribution.png``, not both.

Speed.  A figure never draws more than about 24 panels (large grids are
sliced or sampled, as each figure's title says), is laid out once with
fixed margins (no tight layout), reads only the records columns (and, for
capped figures, the cells) it needs, and never imports seaborn; with more
than one job the figures are drawn in parallel (`draw`).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Sequence
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
    "mad_vs_param": "generic",
    "ci_width_vs_param": "generic",
    "iv_median_bias_vs_f": "iv",
    "iv_rejection_vs_f": "iv",
    "iv_estimate_distribution": "distribution",
    "estimate_distribution": "distribution",
    "zip_plot": "zip_plot",
    "nested_loop_bias": "nested_loop",
    "nested_loop_coverage": "nested_loop",
    "nested_loop_rmse": "nested_loop",
    "nested_loop_rejection": "nested_loop",
    "did_bias_and_pretrend_power": "did",
    "event_study": "did",
    "staggered_weights": "did",
    "overlap_weights": "observables",
    "rd_coverage_vs_bandwidth": "rd",
}
STANDARD_FIGURES = (
    "bias_vs_param",
    "coverage_vs_param",
    "nested_loop_bias",
    "nested_loop_coverage",
    "zip_plot",
    "estimate_distribution",
)
# An older name listed in a scenario replaces the standard figure it names.
ALIASES = {"iv_estimate_distribution": "estimate_distribution"}
# Replications per cell that records-based figures read at most: they draw at most a few hundred
# intervals or a density per panel, and memory must not grow with the replications.
FIGURE_MAX_REPS = 20_000


def replications_note(scenario) -> list[str]:
    """What a records-based figure says when it read only the first `FIGURE_MAX_REPS` replications."""
    most = scenario.max_reps or scenario.reps
    return [f"first {FIGURE_MAX_REPS:,} of up to {most:,} replications"] if most > FIGURE_MAX_REPS else []


# The records columns every records-based figure reads (read once, together).
RECORD_COLUMNS = ("cell", "estimator", "term", "truth", "estimate", "se", "ci_low", "ci_high", "status")


@dataclass
class FigureContext:
    """What a figure function may read: the scenario, summary and records.

    ``records`` is every column of the records (loaded when first used);
    ``records_of(columns, cells=None)`` reads only the columns asked for
    (with `RECORD_COLUMNS`, in one read shared by the figures), or only
    some cells' files.  ``jobs`` is the number of processes `draw` uses.
    """

    scenario: object  # sims.scenario.Scenario
    summary: pd.DataFrame
    run_dir: Path
    records_loader: Callable[[], pd.DataFrame] = field(repr=False)
    # Processes drawing the figures; None: as many as the run used (its manifest's jobs), at most the cores.
    jobs: int | None = None
    _partial: pd.DataFrame | None = field(default=None, init=False, repr=False)

    @cached_property
    def records(self) -> pd.DataFrame:
        return self.records_loader()

    def records_of(self, columns: Sequence[str], cells: Sequence[str] | None = None) -> pd.DataFrame:
        """The records' `columns` (those the records have), of every cell or of the `cells` named (labels).

        At most the first `FIGURE_MAX_REPS` replications of each cell are
        read (figures drawn from records say so).  Every cell's records are
        read once, with `RECORD_COLUMNS`, and kept; a few cells are read from their own files only (the file
        names start with the cell's key), which is what keeps a capped
        figure of a large grid fast.
        """
        loaded = self.__dict__.get("records", self._partial)
        if loaded is None or not set(columns) <= set(loaded.columns):
            if cells is not None:
                some = self._read_cells(columns, cells)
                if some is not None:
                    return some
            from .. import records

            wanted = list(dict.fromkeys([*RECORD_COLUMNS, *columns, *(loaded.columns if loaded is not None else ())]))
            folder = self.run_dir / "records"
            loaded = records.read_cells(folder, self.scenario.cells(), wanted, max_rep=FIGURE_MAX_REPS)
            if loaded is None:
                # No file carries a cell's key: records written when the cells' keys were computed otherwise
                # (a DGP's parameters have changed since the run).  Read them all; the cell labels still tell.
                loaded = records.read(folder, [*wanted, "rep"])
                loaded = loaded[loaded["rep"] < FIGURE_MAX_REPS][[c for c in wanted if c in loaded]]
            self._partial = loaded
        rows = loaded if cells is None else loaded[loaded["cell"].isin(list(cells))]
        return rows[[c for c in columns if c in rows]]

    def _read_cells(self, columns, cells) -> pd.DataFrame | None:
        """The records of `cells` from their own files; None when a cell's files cannot be told."""
        from .. import records

        by_label = {c.label: c for c in self.scenario.cells()}
        if not all(cell in by_label for cell in cells):
            return None
        return records.read_cells(  # None when no file carries these cells' keys
            self.run_dir / "records", [by_label[c] for c in cells], columns, max_rep=FIGURE_MAX_REPS
        )

    @property
    def folder(self) -> Path:
        path = self.run_dir / "figures"
        path.mkdir(parents=True, exist_ok=True)
        return path


def figure_names(scenario) -> list[str]:
    """The figures drawn for `scenario`: the standard ones, then its extras; each once, aliases replacing."""
    replaced = {ALIASES[n] for n in scenario.figures if n in ALIASES}
    names = [n for n in STANDARD_FIGURES if n not in replaced] + list(scenario.figures)
    return list(dict.fromkeys(names))


# Drawn first when drawing in parallel: the figures that read the records take longest.
_SLOW = ("zip_plot", "estimate_distribution", "iv_estimate_distribution", "estimate_vs_param", "event_study")


def draw(context: FigureContext) -> list[Path]:
    """Draw the standard figures and the scenario's extras; return the files (in `figure_names` order).

    With more than one job (`FigureContext.jobs`, by default the run's own
    number of workers) the figures are drawn by that many worker processes
    (joblib's loky pool, which a run's workers are reused from), each figure
    a task; the files are the same.
    """
    names = figure_names(context.scenario)
    jobs = min(_jobs(context), len(names))
    if jobs <= 1:
        return [path for name in names for path in draw_one(context, name)]
    from joblib import Parallel, delayed

    order = sorted(names, key=lambda n: n not in _SLOW)  # stable: slow ones first, each group in name order
    done = Parallel(n_jobs=jobs, batch_size=1)(
        delayed(_draw_in_worker)(context.scenario, context.summary, context.run_dir, name) for name in order
    )
    paths = dict(zip(order, done, strict=True))
    return [path for name in names for path in paths[name]]


def draw_one(context: FigureContext, name: str) -> list[Path]:
    """Draw the figure `name` (a key of `EXTRA_FIGURES` or a standard figure); return its files."""
    module = importlib.import_module(f"{__name__}.{EXTRA_FIGURES.get(name, 'generic')}")
    return getattr(module, name)(context)


def _draw_in_worker(scenario, summary, run_dir, name) -> list[Path]:
    from .. import records

    context = FigureContext(scenario, summary, run_dir, lambda: records.read(run_dir / "records"), jobs=1)
    return draw_one(context, name)


def _jobs(context: FigureContext) -> int:
    """Processes to draw with: `context.jobs`, else the run's (from its manifest), never more than the cores."""
    jobs = context.jobs
    if jobs is None:
        try:
            jobs = int(json.loads((context.run_dir / "manifest.json").read_text()).get("jobs", 1))
        except (OSError, ValueError, TypeError):
            jobs = 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(jobs, cores))
