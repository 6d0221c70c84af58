"""What a scenario is, once read: the Scenario, its cells, estimator entries and claims.

Parsing and validation live beside it (`sims.scenario.parse` and the
section modules); everything here is already valid.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .. import NUMBERS_VERSION, dgps, plugins

# Without `chunk_size`, a cell's chunk holds at most MAX_CHUNK replications
# and about TASK_BYTES of drawn data, rounded down to 1, 2 or 5 × 10^k: big-n
# cells with few replications still make enough tasks for every worker,
# small-n cells keep large ones.  Chosen from the scenario alone (never from
# --jobs), so the numbers do not depend on the machine.
MAX_CHUNK = 5000
TASK_BYTES = 256 << 20
# The grid factor ``[[cases]]`` add: one value per case, its name (`Scenario.cases`).
CASE = "case"
CHUNK_POLICY = f"auto:{MAX_CHUNK}:{TASK_BYTES}"


class ScenarioError(ValueError):
    """A mistake in a scenario file: which file, which key, what is allowed."""

    def __init__(self, path, key: str, message: str):
        self.path, self.key, self.message = str(path), key, message
        super().__init__(f"{self.path}: key '{key}': {message}")


@dataclass(frozen=True)
class EstimatorConfig:
    """One estimator entry of a scenario: registry name, label, options."""

    name: str
    label: str
    options: Mapping

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "options": dict(self.options)}


@dataclass(frozen=True)
class Expectation:
    """A claim about the summary, checked within its Monte Carlo error.

    With m = `mcse_multiple` (default 4):

    - ``equals = v``: |measure − v| ≤ m·MCSE (indistinguishable from v);
    - ``above = v`` / ``below = v``: measure − m·MCSE > v / measure + m·MCSE < v
      (significantly above / below v);
    - ``at_most = v`` / ``at_least = v``: measure − m·MCSE ≤ v / measure + m·MCSE ≥ v
      (not significantly above / below v, e.g. a test's size at most 5 %);
    - ``better_than = "label"``: the estimator's loss on the measure (e.g.
      |median bias|, RMSE, |coverage − level|; `sims.comparison.LOSSES`) is
      significantly below the other estimator's, judged on the paired
      difference over the same datasets: loss − loss_other + m·MCSE < 0.

    ``where`` selects cells by grid values (all cells when empty), and
    may name a ``term`` of an estimator of several (all its terms otherwise).
    """

    estimator: str
    measure: str
    relation: str  # one of `expectations.RELATIONS`
    value: float | str  # a number, or for better_than the other estimator's label
    where: Mapping = field(default_factory=dict)
    mcse_multiple: float = 4.0

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.where.items()) or "every cell"
        target = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.estimator} {self.measure} {self.relation} {target} ({where}; ±{self.mcse_multiple:g} MCSE)"


@dataclass(frozen=True)
class Cell:
    """One grid point: every DGP parameter's value, and a stable identity.

    `key` hashes the DGP name and the parameters after defaults and type
    casting, so a cell keeps its random stream when grid values are added
    or reordered.
    """

    label: str
    params: Mapping
    grid_values: Mapping
    key: int

    @property
    def key_hex(self) -> str:
        return f"{self.key:016x}"


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    description: str
    dgp: str
    reps: int
    seed: int
    level: float
    chunk_size: int | None  # None: chosen per cell from a replication's cost (`Scenario.chunk_for`)
    estimators: tuple[EstimatorConfig, ...]
    params: Mapping  # fixed parameters, defaults filled in (grid parameters excluded)
    grid: Mapping  # parameter -> tuple of values, in file order; with [[cases]], CASE -> case names, first
    suite_reps: int | None  # None: not in the default suite
    figures: tuple[str, ...]
    expectations: tuple[Expectation, ...]
    # measure -> largest MCSE wanted: `reps` is then the first round, `max_reps` the most per cell
    target_mcse: Mapping = field(default_factory=dict)
    max_reps: int | None = None
    sampler: str = "data"  # "sufficient": the DGP draws its sufficient statistics, not the data
    # data-file parameter value as written -> {"path": resolved, "sha256": content hash,
    # "dataset": the shipped dataset it is (by content), or None}
    data_files: Mapping = field(default_factory=dict)
    source: Mapping = field(default_factory=dict, repr=False, compare=False)  # the TOML as read
    # "dgp:NAME" / "estimator:NAME" -> {"origin", "identity"} for the user code (plugins) it runs
    code: Mapping = field(default_factory=dict)
    # where relative data paths were read from (not identity: the files' contents are)
    base_dir: str = ""
    # [[cases]]: case name -> the parameters it sets over [params] (already cast), in file order
    cases: Mapping = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """The full factorial grid, in file order; a case is one grid value whose parameters override [params]."""
        names = list(self.grid)
        cells = []
        for values in itertools.product(*(self.grid[n] for n in names)):
            grid_values = dict(zip(names, values))
            overrides = {k: v for k, v in grid_values.items() if k != CASE}
            if CASE in grid_values:
                overrides = {**self.cases[grid_values[CASE]], **overrides}
            params = self.resolved_params({**self.params, **overrides})
            label = ",".join(f"{k}={_fmt(v)}" for k, v in grid_values.items()) or "all"
            resolved = {k: self.data_files[v]["path"] if self._is_file(k, v) else v for k, v in params.items()}
            cells.append(Cell(label, resolved, grid_values, cell_key(self.dgp, self.identity_params(params))))
        return cells

    def grid_kind(self, name: str) -> type:
        """The type of a grid factor's values: the DGP parameter's, or str for the case names."""
        return str if name == CASE else self.dgp_spec().param_map[name].kind

    def _is_file(self, name, value) -> bool:
        return isinstance(value, str) and value in self.data_files and name in self.data_file_params

    def resolved_params(self, params: Mapping) -> dict:
        """`params` with what a shipped dataset they name defines and leave unset filled in (its columns, slice).

        Done here, per cell and before the identity, so that the DGP and
        the seeds see the same explicit values (`sims.dgps.datasets`).
        """
        dgp = plugins.dgp_registry().get(self.dgp)
        if dgp is None or not dgp.data_files:
            return dict(params)

        def dataset_of(value):
            entry = self.data_files.get(value)
            return dgp.shipped_data.get(entry.get("dataset")) if entry else None

        return dgp.with_dataset_defaults(params, dataset_of)

    def dgp_spec(self) -> dgps.Dgp:
        """The scenario's DGP: the registry's, set up by the scenario's table named after it if it has `configure`."""
        dgp = plugins.dgp_registry()[self.dgp]
        if dgp.configure is None:
            return dgp
        return dgp.configure(self.source.get(self.dgp), self.source.get("params", {}))

    @property
    def data_file_params(self) -> tuple[str, ...]:
        """The DGP's parameters that name data files."""
        dgp = plugins.dgp_registry().get(self.dgp)
        return dgp.data_files if dgp else ()

    def identity_params(self, params: Mapping) -> dict:
        """Parameters as the run's identity sees them: a data file by its content hash, not its path."""
        return {k: f"sha256:{self.data_files[v]['sha256']}" if self._is_file(k, v) else v for k, v in params.items()}

    def fingerprint(self) -> str:
        """Hash of everything that decides the numbers of a replication.

        Excludes the number of replications, the MCSE targets and the grid
        values: raising `reps`, tightening a target or adding a grid value
        extends a run without changing what is already there.
        """
        identity = {
            "numbers_version": NUMBERS_VERSION,
            "dgp": self.dgp,
            "params": self.identity_params(self.resolved_params(self.params)),
            "grid_parameters": list(self.grid),
            "seed": self.seed,
            "level": self.level,
            # with target_mcse the chunk is at most `reps` (`chunk_for`), so reps decides the draws then
            "chunk_size": self.chunk_size or (f"{CHUNK_POLICY}:{self.reps}" if self.target_mcse else CHUNK_POLICY),
            "estimators": [self._estimator_identity(e) for e in self.estimators],
        }
        if self.sampler != "data":  # kept out for the default, so existing runs keep their fingerprints
            identity["sampler"] = self.sampler
        if self.cases:  # a case's name labels its records, so renaming or redefining one is another run
            identity["cases"] = {name: dict(overrides) for name, overrides in self.cases.items()}
        if self.code:  # kept out when empty, so built-in runs keep their fingerprints
            identity["code"] = {name: c["identity"] for name, c in self.code.items()}
        return hashlib.sha256(_canonical(identity).encode()).hexdigest()[:16]

    @staticmethod
    def _estimator_identity(entry: EstimatorConfig) -> dict:
        """An estimator entry as the fingerprint sees it: with its implementation's revision once it has one, and
        those of the parts its options select (learners) once they have one."""
        identity = entry.as_dict()
        spec = plugins.estimator_registry().get(entry.name)
        if spec is not None and spec.revision:
            identity["revision"] = spec.revision
        if spec is not None and spec.part_revisions is not None and (parts := spec.part_revisions(entry.options)):
            identity["part_revisions"] = dict(sorted(parts.items()))
        return identity

    def chunk_for(self, bytes_per_rep: int) -> int:
        """Replications per task of a cell whose one replication draws `bytes_per_rep` bytes.

        `chunk_size` when given; else the largest 1, 2 or 5 × 10^k within
        MAX_CHUNK and TASK_BYTES, and, with `target_mcse`, within `reps`, so
        each round adds whole chunks.
        """
        if self.chunk_size:
            return self.chunk_size
        limit = min(MAX_CHUNK, max(1, TASK_BYTES // max(1, bytes_per_rep)))
        if self.target_mcse:
            limit = min(limit, self.reps)
        magnitude = 10 ** (len(str(limit)) - 1)
        return max(m * magnitude for m in (1, 2, 5) if m * magnitude <= limit)

    def with_overrides(self, reps: int | None = None, seed: int | None = None) -> Scenario:
        """A copy with the command line's --reps/--seed applied (validated)."""
        if reps is not None:
            if reps < 2:
                raise ScenarioError(self.path, "reps", f"--reps {reps} is out of range; allowed: an integer ≥ 2")
            if self.max_reps is not None and reps > self.max_reps:
                raise ScenarioError(
                    self.path, "reps", f"--reps {reps} exceeds max_reps ({self.max_reps}); allowed: ≤ it"
                )
            self = replace(self, reps=reps)
        if seed is not None:
            if seed < 0:
                raise ScenarioError(self.path, "seed", f"--seed {seed} is out of range; allowed: an integer ≥ 0")
            self = replace(self, seed=seed)
        return self

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "base_dir": self.base_dir,
            "name": self.name,
            "description": self.description,
            "dgp": self.dgp,
            "reps": self.reps,
            "seed": self.seed,
            "level": self.level,
            "chunk_size": self.chunk_size,
            "target_mcse": dict(self.target_mcse),
            "max_reps": self.max_reps,
            "sampler": self.sampler,
            "data_files": {k: dict(v) for k, v in self.data_files.items()},
            "estimators": [e.as_dict() for e in self.estimators],
            "params": dict(self.params),
            "grid": {k: list(v) for k, v in self.grid.items()},
            "cases": {k: dict(v) for k, v in self.cases.items()},
            "suite_reps": self.suite_reps,
            "figures": list(self.figures),
            "expectations": [e.__dict__ | {"where": dict(e.where)} for e in self.expectations],
            "code": {k: dict(v) for k, v in self.code.items()},
        }


def cell_key(dgp: str, params: Mapping) -> int:
    """Stable 64-bit identity of (DGP, parameters after defaults and casting)."""
    digest = hashlib.sha256(_canonical({"dgp": dgp, "params": dict(params)}).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _fmt(v) -> str:
    """A grid value in a cell label: short (:g) where that is exact, else in full (labels must stay distinct)."""
    if not isinstance(v, float):
        return str(v)
    short = f"{v:g}"
    return short if float(short) == v else repr(v)
