"""The Python API: what ``import causalmc`` offers, and what the command line calls.

- `run` runs a scenario (a file, a TOML string or a dict) and returns a `Run`;
- `open` reopens a finished run folder as a `Run`;
- `sample` gives one replication of a scenario's cell as a tidy DataFrame,
  drawn from the same random stream as the run;
- `estimate` runs any registered estimator on a tidy DataFrame (a sample,
  or a user's own data).

Every function takes ``plugins=``: plugin files or modules to load first
(`causalmc.sims.plugins`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from causalmc.estimators import status as st
from causalmc.estimators.spec import CORE_COLUMNS

from . import dgps, frames, records, report
from . import plugins as plugin_loader
from .run import folder
from .run.pipeline import run_scenario, write_summary
from .run.plan import SUB_BATCH_BYTES, data_bytes, make_plan
from .run.pool import BACKENDS
from .run.tasks import run_estimator, stream
from .scenario import Scenario, ScenarioError, load, parse


class UsageError(ValueError):
    """A call the API cannot carry out as asked (the command line exits with code 2)."""


# -- scenarios ------------------------------------------------------------------------


def as_scenario(scenario, *, reps: int | None = None, seed: int | None = None, plugins: Iterable[str] = ()) -> Scenario:
    """A validated `Scenario` from a path, a TOML string, a dict of the file's keys, or a Scenario.

    Plugins are loaded first, so the scenario may name their estimators and DGPs.
    """
    plugin_loader.load_all(plugins)
    if isinstance(scenario, Scenario):
        parsed = scenario
    elif isinstance(scenario, Mapping):
        parsed = parse(scenario, "<dict>")
    elif isinstance(scenario, Path) or (isinstance(scenario, str) and _names_a_file(scenario)):
        parsed = load(scenario)  # a missing file is a ScenarioError naming it
    elif isinstance(scenario, str):
        try:
            parsed = parse(tomllib.loads(scenario), "<string>")
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError("<string>", "-", f"not valid TOML: {exc}") from None
    else:
        raise UsageError(f"a scenario is a path, a TOML string or a dict, not {type(scenario).__name__}")
    return parsed.with_overrides(reps, seed)


def _names_a_file(text: str) -> bool:
    """A one-line string is a path (even one with '=' in a folder name); TOML has newlines or '='."""
    if "\n" in text:
        return False
    try:
        return Path(text).is_file() or "=" not in text
    except OSError:  # a name too long for the file system is no path
        return False


# -- runs ---------------------------------------------------------------------------------


@dataclass
class Run:
    """A finished run: its folder, scenario, summary, figures, report and expectation outcomes.

    ``records()`` reads the records (all replications) only when asked.
    """

    run_dir: Path
    scenario: Scenario
    summary: pd.DataFrame = field(repr=False)
    figures: list[Path] = field(default_factory=list, repr=False)
    computed_tasks: int = 0
    reused_tasks: int = 0
    seconds: float = 0.0

    def records(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The records: one row per (cell, replication, estimator)."""
        return records.read(self.run_dir / "records", columns=columns)

    @cached_property
    def expectations(self) -> pd.DataFrame:
        """One row per (expectation, selected cell): the measure, its MCSE and whether the claim holds."""
        return report.expectation_table(self.scenario, self.summary, self.run_dir)

    @property
    def passed(self) -> bool:
        """Whether every expectation of the scenario holds."""
        return bool(self.expectations["holds"].all()) if len(self.expectations) else True

    def compare(self, a: str, b: str, measures=None, mcse_multiple: float = 4.0) -> pd.DataFrame:
        """Estimator `b` against `a` on the same datasets: per cell, term and measure, the paired
        difference b − a with its MCSE and a verdict (`causalmc.sims.comparison.paired`)."""
        from . import comparison

        labels = [e.label for e in self.scenario.estimators]
        if a not in labels or b not in labels or a == b:
            raise UsageError(f"compare {a!r}, {b!r}: give A,B, two of {', '.join(labels)}")
        unknown = [m for m in measures or () if m not in comparison.PAIRED_MEASURES]
        if unknown:
            raise UsageError(
                f"measures: {', '.join(unknown)} cannot be paired; allowed: {', '.join(comparison.PAIRED_MEASURES)}"
            )
        data = self.records(columns=comparison.RECORD_COLUMNS)
        chosen = measures or comparison.PAIRED_MEASURES
        return comparison.paired(data, a, b, self.scenario.level, chosen, mcse_multiple)

    def leaderboard(self) -> pd.DataFrame:
        """Per cell and term, the estimators ranked by RMSE and by |coverage − nominal|, ties marked."""
        from . import comparison

        return comparison.leaderboard(self.run_dir, self.scenario)

    @property
    def report(self) -> Path:
        """The run's self-contained HTML report (``report.md`` beside it)."""
        return self.run_dir / "report.html"

    @property
    def manifest(self) -> dict:
        return json.loads((self.run_dir / folder.MANIFEST).read_text())

    @property
    def errors(self) -> dict:
        """First error message and traceback per (cell, estimator) of plugin estimators that raised."""
        return self.manifest.get("errors", {})


def run(
    scenario,
    *,
    out="results",
    jobs: int | None = None,
    reps: int | None = None,
    seed: int | None = None,
    fresh: bool = False,
    progress: bool = True,
    plugins: Iterable[str] = (),
    figures: bool = True,
    backend: str = "loky",
    scheduler: str | None = None,
    workers_write: bool | None = None,
) -> Run:
    """Run a scenario and write its records, summary and figures under ``out/<name>``.

    Parameters
    ----------
    scenario : path, TOML string, dict or Scenario
        The scenario (a dict has the file's keys).
    out : path
        Output folder; the run goes to ``out/<scenario name>``.  Finished
        chunks there are reused (resume) unless `fresh`.
    jobs : int, optional
        Worker processes (default: all cores).
    reps, seed : int, optional
        Override the scenario's.
    progress : bool
        A progress bar on stderr when it is a terminal.
    plugins : iterable of str
        Plugin files or modules with the scenario's own estimators and DGPs.
    figures : bool
        Draw the figures.
    backend, scheduler
        ``loky`` (processes on this machine) or ``dask`` (a dask.distributed
        cluster at `scheduler`, or a local one).
    workers_write : bool, optional
        Workers write their records files themselves (default with loky and
        a local cluster; with a remote scheduler, say True only when the
        output folder is on a filesystem every worker mounts at the same path).
    """
    parsed = as_scenario(scenario, reps=reps, seed=seed, plugins=plugins)
    return run_many(
        [parsed],
        out=out,
        jobs=jobs,
        fresh=fresh,
        progress=progress,
        figures=figures,
        backend=backend,
        scheduler=scheduler,
        workers_write=workers_write,
    )[0]


def _plan_each(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        try:
            make_plan(scenario)
        except Exception:  # noqa: BLE001 (the main process plans again and reports it)
            pass


def compile_kernels(scenarios: list[Scenario], jobs: int) -> None:
    """Fill numba's cache from `jobs` processes at once before planning (a cold cache costs minutes).

    Planning runs every estimator on a probe replication, compiling its
    kernel and the DGP's.  The scenarios are grouped by DGP and the groups
    dealt to the workers largest first (size: the distinct estimators a
    group runs), so each worker compiles a different share.  Nothing is
    written but the cache; any problem is left to the plans made
    afterwards, in this process, which then load the kernels.
    """
    from joblib import Parallel, delayed

    groups: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        groups.setdefault(scenario.dgp, []).append(scenario)
    sizes = {dgp: len({e.name for s in group for e in s.estimators}) for dgp, group in groups.items()}
    shares: list[list[Scenario]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for dgp in sorted(groups, key=lambda d: -sizes[d]):
        lightest = loads.index(min(loads))
        shares[lightest].extend(groups[dgp])
        loads[lightest] += sizes[dgp]
    shares = [share for share in shares if share]
    with contextlib.suppress(Exception):
        Parallel(n_jobs=jobs, backend="loky")(delayed(_plan_each)(share) for share in shares)


def run_many(
    scenarios: list[Scenario],
    *,
    out="results",
    jobs: int | None = None,
    fresh: bool = False,
    progress: bool = True,
    figures: bool = True,
    backend: str = "loky",
    scheduler: str | None = None,
    workers_write: bool | None = None,
) -> list[Run]:
    """Run several validated scenarios; everything that can be refused is checked before anything is written."""
    out = Path(out)
    jobs = jobs or os.cpu_count() or 1
    names = [s.name for s in scenarios]
    for s in scenarios:
        if names.count(s.name) > 1:
            raise ScenarioError(
                s.path,
                "name",
                f"{s.name!r} is the name of another scenario in this run; each needs its own output folder",
            )
    if backend not in BACKENDS:
        raise UsageError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise UsageError("backend 'dask' needs dask.distributed: pip install 'causalmc[dask]'") from None
    elif scheduler:
        raise UsageError("a scheduler goes with backend 'dask'")
    if backend == "loky" and jobs > 1 and len(scenarios) > 1:
        compile_kernels(scenarios, jobs)
    plans = [make_plan(s) for s in scenarios]
    for s in scenarios:
        folder.check_run_dir(folder.run_dir_for(s, out), s, fresh)
    show = progress and sys.stderr.isatty()
    runs = []
    for plan in plans:
        outcome = run_scenario(
            plan,
            out,
            jobs=jobs,
            fresh=fresh,
            progress=show,
            figures=figures,
            backend=backend,
            scheduler=scheduler,
            workers_write=workers_write,
        )
        done = outcome.run
        runs.append(
            Run(
                done.run_dir,
                plan.scenario,
                outcome.summary,
                outcome.figures,
                done.computed_tasks,
                done.reused_tasks,
                done.seconds,
            )
        )
    from .report import page

    page.write_index(out)
    return runs


def scenario_of(run_dir) -> Scenario:
    """The scenario a run folder was written with (its plugins loaded again)."""
    run_dir = Path(run_dir)
    path = run_dir / folder.MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a causalmc run folder (no {folder.MANIFEST})")
    manifest = json.loads(path.read_text())
    plugin_loader.load_all(manifest.get("plugins", []))
    parsed = manifest["scenario"]
    source = parse(manifest["scenario_source"], parsed["path"], parsed.get("base_dir"))
    return source.with_overrides(parsed["reps"], parsed["seed"])


def summary_of(run_dir, scenario: Scenario) -> pd.DataFrame:
    """A run's summary, recomputed from the records if it is missing."""
    path = Path(run_dir) / "summary.parquet"
    return pd.read_parquet(path) if path.exists() else write_summary(Path(run_dir), scenario)


def open(run_dir) -> Run:  # noqa: A001 (the API's name for reopening a run)
    """Reopen a finished run folder: its scenario, summary, figures and records."""
    run_dir = Path(run_dir)
    scenario = scenario_of(run_dir)
    figures = sorted((run_dir / "figures").glob("*.png"))
    return Run(run_dir, scenario, summary_of(run_dir, scenario), figures)


# -- one dataset ----------------------------------------------------------------------


def sample(scenario, *, cell: Mapping | None = None, rep: int = 0, plugins: Iterable[str] = ()) -> pd.DataFrame:
    """One replication of a scenario's cell as the estimators see it, as a tidy DataFrame.

    Drawn from the same random stream as the run, so `estimate` on it
    reproduces that replication's record.  ``cell`` gives the grid values
    (it may be left out when the grid has one cell).  The frame's ``attrs``
    hold the truth (of the DGP's estimand; ``truths`` has every term's), the
    cell and the replication, and for a DGP fitted to data what it fitted
    (``fitted``).
    """
    parsed = as_scenario(scenario, plugins=plugins)
    if parsed.sampler == "sufficient":
        raise UsageError(
            f"{parsed.path}: sampler = 'sufficient' draws each replication's mean and scatter matrix, not "
            "observations; there is no dataset to sample (use sampler = 'data' at a smaller n)"
        )
    chosen = _choose_cell(parsed, cell or {})
    most = parsed.max_reps or parsed.reps
    if not 0 <= rep < most:
        raise UsageError(f"rep {rep} is out of range; the scenario has replications 0 … {most - 1}")
    dgp = parsed.dgp_spec()  # its arrays (a dag's depend on the graph)
    bytes_per_rep = _bytes_per_rep(dgp, chosen)
    chunk, offset = divmod(rep, parsed.chunk_for(bytes_per_rep))
    rng = stream(parsed.seed, chosen.key, chunk)
    # DGPs draw replication after replication: drawing the chunk's first
    # `offset` replications in pieces, then this one, gives the run's numbers.
    step = max(1, SUB_BATCH_BYTES // max(1, bytes_per_rep))
    while offset > 0:
        dgp.generate(rng, min(step, offset), chosen.params)
        offset -= min(step, offset)
    batch = dgp.generate(rng, 1, chosen.params)
    truths = {term: float(values[0]) for term, values in dgps.pop_truths(batch, dgp.estimand).items()}
    frame = frames.frame_of({name: batch[name][0] for name in dgp.provides})
    frame.attrs.update(
        scenario=parsed.name, dgp=parsed.dgp, cell=chosen.label, rep=rep, truth=truths[dgp.estimand], truths=truths
    )
    if dgp.fitted is not None:  # a design fitted to data shows what it fitted
        frame.attrs["fitted"] = dgp.fitted(chosen.params)
    return frame


def _bytes_per_rep(dgp, cell) -> int:
    """As `make_plan` measures it: one replication's data, its truths left out."""
    probe = dgp.generate(np.random.default_rng(0), 1, cell.params)
    dgps.pop_truths(probe, dgp.estimand)
    return data_bytes(probe)


def _choose_cell(scenario: Scenario, wanted: Mapping):
    grid = scenario.grid
    unknown = [k for k in wanted if k not in grid]
    if unknown:
        raise UsageError(f"cell: {', '.join(unknown)} is not a grid parameter; grid: {', '.join(grid) or '(none)'}")
    matches = [c for c in scenario.cells() if all(_same(c.grid_values[k], v) for k, v in wanted.items())]
    if len(matches) != 1:
        labels = "; ".join(c.label for c in scenario.cells())
        which = "no cell" if not matches else f"{len(matches)} cells"
        raise UsageError(f"the grid values {dict(wanted)} select {which}; name one cell by its grid values: {labels}")
    return matches[0]


def _same(value, wanted) -> bool:
    if isinstance(value, str) or isinstance(wanted, str) and not _is_number(wanted):
        return str(value) == str(wanted)
    return float(value) == float(wanted)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def estimate(
    estimator,
    data: pd.DataFrame,
    *,
    level: float = 0.95,
    null: float = 0.0,
    plugins: Iterable[str] = (),
    source: str = "the data",
    seed: int | np.random.Generator = 0,
    **options,
) -> pd.Series:
    """Run a registered estimator on one tidy dataset (a `sample`, or your own data).

    Parameters
    ----------
    estimator : str or mapping
        A registry name, or a scenario entry such as ``{"name": "ols", "se": "hc1"}``.
    data : DataFrame
        One dataset with the frame conventions of `causalmc.sims.frames`.
    level : float
        Confidence level.
    null : float
        The value tested by ``reject`` (H0: θ = null).
    seed : int or numpy.random.Generator
        Seed (or generator) of a resampling estimator's draws (bootstrap
        weights, permutations).
    **options
        The estimator's options (as in a scenario file).

    Returns
    -------
    Series with ``estimator``, ``estimate``, ``se``, ``ci_low``, ``ci_high``,
    ``reject``, ``null``, ``level``, ``status``, the estimator's diagnostics
    and ``error`` (a plugin's message when status is ``error``); for an
    estimator of several terms, a DataFrame with one such row per ``term``
    (each tested against `null`).
    """
    plugin_loader.load_all(plugins)
    if isinstance(estimator, Mapping):
        options = {k: v for k, v in estimator.items() if k not in ("name", "label")} | options
        estimator = estimator.get("name")
    registry = plugin_loader.estimator_registry()
    if estimator not in registry:
        raise UsageError(f"unknown estimator {estimator!r}; allowed: {', '.join(registry)}")
    spec = registry[estimator]
    chosen = spec.default_options()
    for key, value in options.items():
        if key not in spec.option_map:
            raise UsageError(
                f"unknown option {key!r} of {estimator!r}; allowed: {', '.join(spec.option_map) or '(none)'}"
            )
        if value is None and spec.option_map[key].default is None:  # an optional option left unset (adjust)
            continue
        try:
            chosen[key] = spec.option_map[key].validate(value)
        except ValueError as exc:
            raise UsageError(f"option {key!r} of {estimator!r}: {exc}") from None
    if not 0.0 < level < 1.0:
        raise UsageError(f"level {level!r} is out of range; allowed: a number in (0, 1)")
    if spec.check is not None and (reason := spec.check(chosen, level)):
        raise UsageError(f"{estimator!r}: {reason}")
    batch = frames.arrays_of(data, spec.arrays(chosen), source)
    if spec.applies is not None and (reason := spec.applies({k: v.shape[1:] for k, v in batch.items()}, chosen)):
        raise UsageError(f"{estimator!r} does not apply to {source}: {reason}")
    shapes = {k: v.shape[1:] for k, v in batch.items()}
    terms = tuple(spec.terms(shapes, chosen)) if spec.terms else None
    names = terms or ("effect",)
    out = np.full((1, len(names), spec.width), np.nan)
    status = np.zeros((1, len(names)), np.int8)
    drawn = dict.fromkeys(names, np.array([float(null)]))
    truth = np.empty((1, len(names)))
    message = run_estimator(
        spec,
        batch,
        drawn,
        names,
        terms is None,
        chosen,
        level,
        truth,
        out,
        status,
        rng=seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed),
    )
    rows = []
    for j, term in enumerate(names):
        values = dict(zip((*CORE_COLUMNS, *spec.diagnostics), out[0, j], strict=True))
        ok = status[0, j] == st.OK and not np.isnan(values["reject"])
        values["reject"] = bool(values["reject"]) if ok else pd.NA
        rows.append(
            {
                "estimator": estimator,
                "term": term,
                **values,
                "null": float(null),
                "level": level,
                "status": st.NAMES[status[0, j]],
                "error": message,
            }
        )
    # One term: a Series, as a single estimate reads best; several: one row per term.
    return pd.Series(rows[0]).drop("term") if terms is None else pd.DataFrame(rows)


def parse_option(spec_name: str, text: str) -> tuple[str, object]:
    """``k=v`` from the command line, with v read as the option's type."""
    key, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"--option {text!r}: write KEY=VALUE")
    registry = plugin_loader.estimator_registry()
    setting = registry[spec_name].option_map.get(key) if spec_name in registry else None
    if setting is None or setting.kind is str:
        return key, value
    if setting.kind is tuple:  # --option adjust=z,w
        return key, tuple(v for v in value.split(",") if v)
    try:
        return key, setting.kind(value) if setting.kind is float else int(value)
    except ValueError:
        raise UsageError(f"--option {key}={value}: allowed: {setting.allowed()}") from None
