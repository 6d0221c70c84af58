"""Scenario pages: one Markdown page per finished run, and an index of them, for the documentation.

``run_bench.py pages RUN_DIR [RUN_DIR ...] --out docs/scenarios`` writes,
for each run folder,

- ``docs/scenarios/<name>.md``: the scenario's question (its
  description), its design (DGP, fixed parameters, grid, estimators,
  replications), the headline tables (every measure its claims and its
  figures use: one table per measure, cells × estimators, value ± MCSE),
  its ``[[expect]]`` claims with whether each holds on the run and the
  measured value ± MCSE, its figures, and the run's provenance (date, git
  commit, replications, seed, versions, from the run's manifest);
- ``docs/scenarios/<name>/*.png``: the run's figures (re-encoded with a
  palette of `FIGURE_COLOURS` colours to keep the repository small);

and then ``docs/scenarios.md`` (the folder's name with ``.md``, beside it):
one row per page in the folder, linking to it.  The index is read from the
pages themselves (a comment line each page carries), so regenerating one
scenario's page keeps the others' rows.

Every number on a page comes from the run folder: the summary, the claims
checked on it, the manifest.  Nothing is typed by hand, so a page is only
as current as its run; when the scenario file has changed since the run,
`ScenarioPage.stale` says so (the command line prints it).

Every run folder is read and checked before anything is written: a folder
that is no finished causalmc run, or two runs of one scenario name, is
refused (`UsageError`, exit code 2 on the command line) with nothing
written.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import api
from ..summary import MEASURES
from .page import MEASURE_TITLES, _environment, measure_tables, provenance, value_and_mcse
from .text import expectation_table, has_several_terms, replications_text

REPO = Path(__file__).resolve().parents[2]  # the checkout: its scenarios/ folder holds the shipped scenarios

PAGE_MARK = "<!-- causalmc scenario page: "
PAGE_ROW_LIMIT = 100  # rows per measure table; a larger grid (confounding_sweep's 400 cells) is cut with a note
FIGURE_COLOURS = 64
CLAIM_CELLS_LISTED = 12  # a claim over more cells is one row for the cells where it holds (with its range)
STANDARD_FIGURE_MEASURES = ("bias", "coverage")  # the always-drawn bias and coverage figures (median bias for IV)


@dataclass
class ScenarioPage:
    """A finished run, read and checked, ready to be written as a page."""

    run: api.Run
    manifest: dict
    stale: str | None  # why the scenario file differs from the scenario as run, or None

    @property
    def name(self) -> str:
        return self.run.scenario.name


def read_runs(run_dirs) -> list[ScenarioPage]:
    """Each run folder as a `ScenarioPage`; refuses (`UsageError`) a folder that is no finished run, or two
    runs of one scenario name."""
    pages = []
    for run_dir in map(Path, run_dirs):
        run, manifest = finished_run(run_dir)
        pages.append(ScenarioPage(run, manifest, _stale(run.scenario, manifest)))
    names = [p.name for p in pages]
    for name in names:
        if names.count(name) > 1:
            folders = ", ".join(str(p.run.run_dir) for p in pages if p.name == name)
            raise api.UsageError(f"{folders}: runs of the same scenario {name!r}; give one run per scenario")
    return pages


def finished_run(run_dir: Path):
    """The finished run in `run_dir` (`api.Run`) and its manifest; `UsageError` when it is no finished run."""
    if not (run_dir / "manifest.json").is_file():
        raise api.UsageError(f"{run_dir}: not a causalmc run folder (no manifest.json); give the folder a run wrote")
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
        state = manifest["state"]
    except (json.JSONDecodeError, KeyError):
        raise api.UsageError(f"{run_dir}/manifest.json: unreadable; rerun the scenario into a fresh folder") from None
    if state != "complete":
        raise api.UsageError(f"{run_dir}: the run is {state}, not complete; rerun the same command to finish it")
    return api.open(run_dir), manifest


def _stale(scenario, manifest: dict) -> str | None:
    """Whether the scenario file the run was made from now says something else than the run's copy."""
    path = Path(scenario.path)
    if not path.is_file():
        return None
    try:
        now = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return f"{path} can no longer be read"
    if now != manifest.get("scenario_source"):
        return f"{path} has changed since the run; the page shows the scenario as it was run"
    return None


def headline_measures(scenario, summary: pd.DataFrame) -> list[str]:
    """The measures a page tabulates: those its claims use and those its figures draw, in the summary's order.

    The figures: the standard bias (median bias for IV summaries, as its
    figure draws) and coverage figures, and each extra figure named after a
    measure (``rejection_vs_param``, ``iv_median_bias_vs_f``,
    ``nested_loop_rmse`` …); the interval's width wherever its coverage is
    shown (a coverage is read beside the length it costs); ``fail_rate`` too
    when a replication failed.
    """
    is_iv = summary["mean_first_stage_f"].notna().any()
    wanted = {e.measure for e in scenario.expectations}
    wanted |= {"median_bias" if m == "bias" and is_iv else m for m in STANDARD_FIGURE_MEASURES}
    for figure in scenario.figures:
        core = figure.removeprefix("iv_").removeprefix("nested_loop_").removesuffix("_vs_param").removesuffix("_vs_f")
        if core in MEASURE_TITLES:
            wanted.add(core)
    if "coverage" in wanted:
        wanted.add("ci_width")
    if (summary["fail_rate"] > 0).any():
        wanted.add("fail_rate")
    return [m for m in MEASURES if m in wanted]


def _toml(value) -> str:
    """A parameter value as the scenario file writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def design(scenario) -> dict:
    """The design as the page states it: parameters the file sets, those a shipped dataset fills, the grid,
    the estimators with the options the file gives them."""
    written = scenario.source.get("params", {})
    resolved = scenario.resolved_params(scenario.params)
    filled = {k: v for k, v in resolved.items() if scenario.params.get(k) is None and v is not None}
    entries = scenario.source.get("estimators", [])
    if len(entries) != len(scenario.estimators):  # not as written (a dict scenario): every option
        entries = [e.as_dict()["options"] for e in scenario.estimators]
    estimators = []
    for config, entry in zip(scenario.estimators, entries):
        options = {k: v for k, v in entry.items() if k not in ("name", "label")} if isinstance(entry, dict) else {}
        estimators.append(
            {"label": config.label, "name": config.name, "options": ", ".join(f"{k} = {_toml(v)}" for k, v in options.items())}
        )
    return {
        "dgp_summary": scenario.dgp_spec().summary,
        "written": [f"{k} = {_toml(v)}" for k, v in written.items() if k not in scenario.grid],
        "filled": [f"{k} = {_toml(v)}" for k, v in filled.items()],
        "grid": [f"{k} ∈ {{{', '.join(_toml(v) for v in values)}}}" for k, values in scenario.grid.items()],
        "cases": [
            f"{name}: {', '.join(f'{k} = {_toml(v)}' for k, v in overrides.items()) or 'as above'}"
            for name, overrides in scenario.cases.items()
        ],
        "estimators": estimators,
        "data_files": [f"{name}: sha256 {entry['sha256']}" for name, entry in scenario.data_files.items()],
    }


def claims(run: api.Run) -> tuple[list[dict], int, int]:
    """Each claim per cell it selects: the claim, the cell, the measured value ± MCSE and whether it holds;
    and how many of the (claim, cell) pairs hold, of how many.

    A claim over more than `CLAIM_CELLS_LISTED` cells takes one row for the
    cells where it holds (their number, the smallest and largest value
    measured, each ± its MCSE) and one row for each cell where it fails.
    """
    table = expectation_table(run.scenario, run.summary, run.run_dir)
    several_terms = has_several_terms(run.summary)
    rows = []
    for _, group in table.groupby("expectation", sort=False):
        first = group.iloc[0]
        what = "paired loss difference " if first.relation == "better_than" else ""
        held = group[group["holds"].astype(bool)]
        if len(group) > CLAIM_CELLS_LISTED and len(held):
            low, high = held.loc[held["value"].idxmin()], held.loc[held["value"].idxmax()]
            rows.append(
                {
                    "claim": _cell(first.expectation),
                    "cell": f"{len(held)} of {len(group)} cells",
                    "value": f"{what}{_shown(low.value, low.mcse)} to {_shown(high.value, high.mcse)}",
                    "holds": True,
                }
            )
            group = group[~group["holds"].astype(bool)]
        for r in group.itertuples():
            cell = "(selects no cell)" if r.cell is None else str(r.cell)
            if several_terms and r.term is not None:
                cell += f"; {r.term}"
            rows.append(
                {
                    "claim": _cell(r.expectation),
                    "cell": _cell(cell),
                    "value": what + _shown(r.value, r.mcse),
                    "holds": bool(r.holds),
                }
            )
    return rows, int(table["holds"].astype(bool).sum()), len(table)


def _shown(value: float, mcse: float) -> str:
    text, error = value_and_mcse(value, mcse)
    return f"{text} ± {error}" if error else text


def _figures(scenario, files: list[Path]) -> list[Path]:
    """The run's figures, the scenario's own extras first (they draw its point), then the standard ones."""
    extras = [n.removesuffix("_vs_param") for n in scenario.figures]

    def rank(path: Path):
        first = [i for i, n in enumerate(extras) if path.stem.startswith(n)]
        return (0, first[0], path.stem) if first else (1, 0, path.stem)

    return sorted(files, key=rank)


def _replications_used(scenario, manifest: dict) -> str:
    """The replications the run made: the scenario's count, or the range its MCSE targets reached."""
    per_cell = manifest.get("reps")
    if not per_cell:
        return replications_text(scenario)
    low, high = min(per_cell.values()), max(per_cell.values())
    return f"{low if low == high else f'{low} to {high}'} reps (reached by its MCSE targets)"


def _revision(manifest: dict) -> str:
    full = manifest.get("git_revision") or "unknown"
    commit, _, dirty = full.partition("-")
    return commit[:7] + (f"-{dirty}" if dirty else "") if commit != "unknown" else full


def context(page: ScenarioPage) -> dict:
    """Everything the page template shows."""
    run, manifest = page.run, page.manifest
    scenario, summary = run.scenario, run.summary
    tables = measure_tables(summary, list(scenario.grid), headline_measures(scenario, summary))
    checked, held, total = claims(run)
    finished = manifest.get("timings", {}).get("finished", "")
    return {
        "scenario": scenario,
        "design": design(scenario),
        "cells": len(scenario.cells()),
        "replications": replications_text(scenario),
        "used": _replications_used(scenario, manifest),
        "tables": tables,
        "row_limit": PAGE_ROW_LIMIT,
        "claims": checked,
        "held": held,
        "total": total,
        "figures": _figures(scenario, run.figures),
        "provenance": provenance(manifest),
        "finished": finished,
        "date": finished[:10],
        "revision": _revision(manifest),
        "cell_text": _cell,
    }


def render(page: ScenarioPage, scenario_link: str | None, figure_folder: str, scenario_shown: str | None = None) -> str:
    """The page's Markdown; figures are linked under `figure_folder`, the scenario file at `scenario_link` (named
    `scenario_shown`, by default the path the run was given)."""
    values = context(page)
    meta = {
        "name": page.name,
        "dgp": page.run.scenario.dgp,
        "description": page.run.scenario.description,
        "cells": values["cells"],
        "replications": values["used"],
        "held": values["held"],
        "claims": values["total"],
        "date": values["date"],
        "revision": values["revision"],
    }
    text = (
        _environment(escape=False)
        .get_template("scenario_page.md.j2")
        .render(**values, scenario_link=scenario_link, figure_folder=figure_folder,
                scenario_shown=scenario_shown or page.run.scenario.path)  # fmt: skip
    )
    return f"{PAGE_MARK}{json.dumps(meta, ensure_ascii=False)} -->\n{text}"


def write(run_dirs, out) -> tuple[list[ScenarioPage], list[Path], Path]:
    """Write the pages of `run_dirs` into `out` and the index beside it; return the pages, their files and the
    index.  Every run is read and checked first; nothing is written when one is refused."""
    pages = read_runs(run_dirs)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise api.UsageError(f"--out {out}: a file, not a folder")
    index = out.with_name(f"{out.name}.md")
    written = []
    for page in pages:
        folder = out / page.name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        for figure in page.run.figures:
            _write_figure(figure, folder / figure.name)
        scenario_file, shown = _shipped(Path(page.run.scenario.path))
        link = Path(os.path.relpath(scenario_file.resolve(), out.resolve())).as_posix() if scenario_file.is_file() else None
        written.append(_replace(out / f"{page.name}.md", render(page, link, page.name, shown)))
    _replace(index, render_index(out))
    return pages, written, index


def _shipped(path: Path) -> tuple[Path, str | None]:
    """The scenario file a page links to, and its name on the page: the repository's own copy
    (``scenarios/<file>``) when the run was made from a file of that name elsewhere (a clone under /tmp: a
    link there is broken in the repository), else the file as given (None: shown as given)."""
    shipped = REPO / "scenarios" / path.name
    if path.is_absolute() and shipped.is_file() and REPO not in path.resolve().parents:
        return shipped, f"scenarios/{path.name}"
    return path, None


def _write_figure(source: Path, target: Path) -> None:
    """The figure on white, with a palette of `FIGURE_COLOURS` colours (about a third of the size, the
    lines and text unchanged to the eye)."""
    from PIL import Image

    with Image.open(source) as image:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        flat.quantize(colors=FIGURE_COLOURS, method=Image.Quantize.MEDIANCUT).save(target, "PNG", optimize=True)


def render_index(out: Path) -> str:
    """The index of every page in `out`, read from the comment line each page starts with."""
    rows = []
    for path in sorted(Path(out).glob("*.md")):
        first = path.read_text(encoding="utf-8").partition("\n")[0]
        if first.startswith(PAGE_MARK):
            meta = json.loads(first.removeprefix(PAGE_MARK).removesuffix(" -->"))
            rows.append(meta | {"link": f"{Path(out).name}/{path.name}"})
    return _environment(escape=False).get_template("scenario_index.md.j2").render(rows=rows, cell_text=_cell)


def _replace(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


