"""Data-generating processes and their registry.

A DGP is one module here defining ``DGPS = (Dgp(...),)``.  Its generator
fills a *batch*: a dict of arrays whose leading axis is the replication,
plus ``"truth"`` (shape ``(R,)``), the value of its estimand (the term
named `Dgp.estimand`) in each replication, and, for DGPs that define
several estimands (event-time effects …), ``"truth:<term>"`` arrays of
shape ``(R,)`` for each further term.
Blocks of several variables (``controls``, instruments ``z``) are stored
variable-major, shape ``(R, p, n)``, so each variable is one contiguous
row for the kernels.

Every generator draws replication after replication from the one
``numpy.random.Generator`` it is given, all of a replication's draws before
the next one's, so generating R replications at once or in several
sub-batches from the same generator gives identical arrays.  The runner
relies on this to split a chunk into cache-sized pieces.

A DGP with `Dgp.configure` (``dag``) is set up by a table of the scenario
named after it: the scenario parser calls ``configure(table, params)`` for
the DGP of that scenario (its parameters, arrays and checks).  Whatever the
configuration decides about the numbers must reach the generator through
the parameters (e.g. a str parameter), because workers look a DGP up by
name and call its registered `generate` with the cell's parameters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from causalmc.estimators.spec import BUILT_IN, Setting, discover

from .datasets import Dataset, with_defaults

Batch = dict[str, np.ndarray]
TRUTH_PREFIX = "truth:"  # batch keys of the truths of further terms


class ConfigError(ValueError):
    """A mistake in a DGP's configuration (`Dgp.configure`): the scenario key and what is allowed."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}" if key else message)


def pop_truths(batch: Batch, estimand: str) -> dict[str, np.ndarray]:
    """Remove the truths from a batch: {term: (R,) array}, the estimand's first."""
    truths = {estimand: batch.pop("truth")}
    for key in [k for k in batch if k.startswith(TRUTH_PREFIX)]:
        truths[key[len(TRUTH_PREFIX) :]] = batch.pop(key)
    return truths


@dataclass(frozen=True)
class Dgp:
    """A data-generating process.

    Parameters
    ----------
    name : str
        Registry name used in scenario files.
    summary : str
        One line for ``run_bench.py list``; the module docstring has the
        equations.
    params : tuple of Setting
        Declared parameters with defaults, ranges and meanings.
    provides : tuple of str
        Names of the batch arrays (besides ``truth``) the generator fills.
    generate : callable
        ``generate(rng, n_reps, params) -> Batch``.
    check : callable, optional
        ``check(params) -> list of (param names, message)``: constraints
        that involve several parameters (each range is checked already).
    examples : tuple of mapping
        Parameter values (over the defaults) for small valid instances that
        exercise different code paths; the generic tests run every one.
    origin : str
        ``causalmc`` for the shipped ones, else the plugin that registered it.
    estimand : str
        The name of the term ``truth`` is the value of: the term of every
        single-term estimator's records.
    sufficient : callable, optional
        ``sufficient(rng, n_reps, params) -> Batch``: exact draws of the
        sufficient statistics instead of the data (``sampler =
        "sufficient"``): ``n_obs`` (R,), ``mean`` (R, q) and ``scatter``
        (R, q, q) of the variables [x, controls…, y] (`sims.dgps.gaussian`),
        and the truths.
    sufficient_inexact : callable, optional
        ``sufficient_inexact(params) -> str | None``: why `sufficient` is not
        exact for these parameters (a scenario error), or None.
    data_files : tuple of str
        Parameters naming a data file (CSV or Parquet): a path relative to
        the scenario's folder, an absolute one, or a name in `shipped_data`.
        The generator and `check` see the resolved absolute path; the run's
        identity (fingerprint, cell keys, so the seeds) sees the file's
        content hash, never its path.
    shipped_data : mapping
        The shipped datasets it accepts, name -> `datasets.Dataset`.  When
        a data file is one of them (by name, path or content), the
        parameters its definition sets (columns, default slice) that the
        scenario leaves unset take the definition's values in every cell
        (`datasets.with_defaults`): the DGP sees explicit values.
    describe : callable, optional
        ``describe(params) -> str``: the model of these parameters as text
        for the report (a ``dag`` scenario's structural equations); by
        default the report shows the module docstring.
    fitted : callable, optional
        ``fitted(params) -> str``: for a DGP fitted to data (once per
        scenario and data file, outside the replication loop), what it
        fitted, one paragraph; `sample` shows it with the dataset.
    configure : callable, optional
        ``configure(table, params) -> Dgp``: the DGP set up by the scenario's
        table named after it (``[dag]``; None when absent) and its raw
        ``[params]``; raises `ConfigError`.  The returned DGP declares that
        scenario's parameters and arrays; its `generate` must be the
        registered one's, reading everything it needs from the parameters
        (workers use the registry's).
    """

    name: str
    summary: str
    params: tuple[Setting, ...]
    provides: tuple[str, ...]
    generate: Callable[[np.random.Generator, int, Mapping], Batch]
    check: Callable[[Mapping], list[tuple[tuple[str, ...], str]]] | None = None
    examples: tuple[Mapping, ...] = ({},)
    origin: str = BUILT_IN
    estimand: str = "effect"
    sufficient: Callable[[np.random.Generator, int, Mapping], Batch] | None = None
    sufficient_inexact: Callable[[Mapping], str | None] | None = None
    data_files: tuple[str, ...] = ()
    shipped_data: Mapping[str, Dataset] = field(default_factory=dict)
    configure: Callable[[Mapping | None, Mapping], Dgp] | None = None
    describe: Callable[[Mapping], str] | None = None
    fitted: Callable[[Mapping], str] | None = None

    @property
    def param_map(self) -> dict[str, Setting]:
        return {p.name: p for p in self.params}

    def sampler(self, name: str) -> Callable[[np.random.Generator, int, Mapping], Batch]:
        """The batch generator of a scenario's ``sampler``: the data, or the sufficient statistics."""
        return self.sufficient if name == "sufficient" else self.generate

    def example_params(self) -> list[dict]:
        """Each example: the defaults overridden by its values, a shipped dataset's definition filling the rest."""
        defaults = {p.name: p.default for p in self.params}
        return [self.with_dataset_defaults(defaults | dict(example)) for example in self.examples]

    def with_dataset_defaults(self, params: Mapping, dataset_of: Callable[[str], Dataset | None] = None) -> dict:
        """`params` with what a shipped dataset they name defines and they leave unset (`datasets.with_defaults`).

        `dataset_of(value)` finds the dataset a data parameter's value is
        (the scenario's: by content); by default, a shipped name.
        """
        dataset_of = dataset_of or self.shipped_data.get
        for name in self.data_files:
            value = params.get(name)
            if isinstance(value, str):
                params = with_defaults(params, dataset_of(value))
        return dict(params)


def resolve_data_file(value: str, base_dir, shipped: Mapping[str, Dataset]) -> Path:
    """The file a data parameter names: a shipped dataset's name, else a path (relative: to the scenario's folder)."""
    if value in shipped:
        return shipped[value].path
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def file_digest(path) -> str:
    """SHA-256 of a file's bytes (what identifies a data file in a run)."""
    return _digest(str(Path(path).resolve()), *_stamp(path))


def _stamp(path) -> tuple[int, int]:
    stat = Path(path).stat()
    return stat.st_mtime_ns, stat.st_size


@cache
def _digest(path: str, mtime_ns: int, size: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


@cache
def registry() -> dict[str, Dgp]:
    """The shipped DGPs, by name (plugins add theirs: `causalmc.sims.plugins`)."""
    return discover(__name__, __path__, "DGPS")
