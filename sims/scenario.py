"""Scenario files: parsing, validation and expansion into cells.

A scenario is a TOML file (data, never code)::

    name = "confounding"              # output folder name
    description = "..."
    dgp = "confounding"
    reps = 2000                       # replications per grid cell
    seed = 20261127
    level = 0.95                      # confidence level (default 0.95)
    sampler = "data"                  # or "sufficient": exact sufficient statistics, any n at one cost
    chunk_size = 5000                 # replications per task (default: from a replication's cost)
    target_mcse = { coverage = 0.005 }  # optional: add replications until every MCSE is this small …
    max_reps = 20000                  # … or this many replications per cell (required with target_mcse)
    estimators = ["ols", { name = "ols", se = "hc1", label = "ols_hc1" }]
    figures = ["estimate_vs_param"]   # extra figures (the standard ones are always drawn)
    [params]                          # fixed DGP parameters
    beta = 0.0
    [grid]                            # full factorial sweep
    n = [100, 1000, 10000]
    [dag]                             # a DGP with `configure` reads the table of its name (dgp = "dag": the graph)
    [suite]                           # membership of the default suite
    reps = 500                        # replications there (default: reps)
    [[expect]]                        # checked claims, see `Expectation`
    where = { n = 10000 }
    estimator = "ols"
    measure = "bias"
    equals = 0.5

Everything is validated before any work starts; a mistake raises
`ScenarioError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import NUMBERS_VERSION, dgps, plugins

DEFAULT_LEVEL = 0.95
TOP_LEVEL_KEYS = (
    "name description dgp reps seed level sampler chunk_size target_mcse max_reps estimators params grid suite figures "
    "expect"
).split()
# Without `chunk_size`, a cell's chunk holds at most MAX_CHUNK replications
# and about TASK_BYTES of drawn data, rounded down to 1, 2 or 5 × 10^k: big-n
# cells with few replications still make enough tasks for every worker,
# small-n cells keep large ones.  Chosen from the scenario alone (never from
# --jobs), so the numbers do not depend on the machine.
MAX_CHUNK = 5000
TASK_BYTES = 256 << 20
CHUNK_POLICY = f"auto:{MAX_CHUNK}:{TASK_BYTES}"
SAMPLERS = ("data", "sufficient")
RELATIONS = ("equals", "above", "below", "at_most", "at_least", "better_than")
EXPECT_KEYS = ("where", "estimator", "measure", *RELATIONS, "mcse_multiple")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PLUGIN_HINT = (
    " (your own? load its plugin with --plugin FILE.py or MODULE, plugins=[...] in the Python API, "
    "or install a package with a 'causalmc.plugins' entry point)"
)


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
    relation: str  # one of RELATIONS
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
    chunk_size: int | None  # None: chosen per cell from a replication's cost (`runner.chunk_size_for`)
    estimators: tuple[EstimatorConfig, ...]
    params: Mapping  # fixed parameters, defaults filled in (grid parameters excluded)
    grid: Mapping  # parameter -> tuple of values, in file order
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

    def cells(self) -> list[Cell]:
        """The full factorial grid, in file order."""
        names = list(self.grid)
        cells = []
        for values in itertools.product(*(self.grid[n] for n in names)):
            grid_values = dict(zip(names, values))
            params = self.resolved_params({**self.params, **grid_values})
            label = ",".join(f"{k}={_fmt(v)}" for k, v in grid_values.items()) or "all"
            resolved = {k: self.data_files[v]["path"] if self._is_file(k, v) else v for k, v in params.items()}
            cells.append(Cell(label, resolved, grid_values, cell_key(self.dgp, self.identity_params(params))))
        return cells

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
            "chunk_size": self.chunk_size or CHUNK_POLICY,
            "estimators": [e.as_dict() for e in self.estimators],
        }
        if self.sampler != "data":  # kept out for the default, so existing runs keep their fingerprints
            identity["sampler"] = self.sampler
        if self.code:  # kept out when empty, so built-in runs keep their fingerprints
            identity["code"] = {name: c["identity"] for name, c in self.code.items()}
        return hashlib.sha256(_canonical(identity).encode()).hexdigest()[:16]

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
    return f"{v:g}" if isinstance(v, float) else str(v)


def load(path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError on any mistake."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(path, "-", "file not found") from None
    except OSError as exc:
        raise ScenarioError(path, "-", f"cannot read the file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "-", f"not valid TOML: {exc}") from None
    return parse(raw, path)


def parse(raw: Mapping, path="<scenario>") -> Scenario:
    """Validate a scenario already read into a dict (see `load`)."""
    p = _Parser(raw, path)
    return p.scenario()


class _Parser:
    def __init__(self, raw: Mapping, path):
        self.raw, self.path = raw, path

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(self.path, key, message)

    def scenario(self) -> Scenario:
        allowed = [*TOP_LEVEL_KEYS, *self.configuration_key()]
        for key in self.raw:
            if key not in allowed:
                raise self.error(key, f"unknown key; allowed: {', '.join(allowed)}")
        name = self.string("name", required=True)
        if not _NAME_PATTERN.match(name):
            raise self.error("name", f"{name!r} cannot be a folder name; allowed: letters, digits, '_', '-', '.'")
        dgp = self.dgp()
        reps = self.integer("reps", minimum=2, required=True)
        seed = self.integer("seed", minimum=0, required=True)
        level = self.number("level", DEFAULT_LEVEL)
        if not 0.0 < level < 1.0:
            raise self.error("level", f"{level!r} is out of range; allowed: a number in (0, 1)")
        chunk_size = self.integer("chunk_size", minimum=1, default=None)
        target_mcse, max_reps = self.targets(reps)
        params, grid = self.parameters(dgp)
        data_files = self.data_files(dgp, params, grid)
        configs = self.estimator_configs(dgp, level)
        scenario = Scenario(
            path=str(self.path),
            name=name,
            description=self.string("description", default=""),
            dgp=dgp.name,
            reps=reps,
            seed=seed,
            level=level,
            chunk_size=chunk_size,
            target_mcse=target_mcse,
            max_reps=max_reps,
            sampler=self.string("sampler", default="data"),
            data_files=data_files,
            estimators=configs,
            params=params,
            grid=grid,
            suite_reps=self.suite(),
            figures=self.figures(),
            expectations=(),
            source=dict(self.raw),
            code=self.user_code(dgp, configs),
        )
        self.check_cells(dgp, scenario)
        self.check_sampler(dgp, scenario)
        return replace(scenario, expectations=self.expectations(scenario))

    # -- scalar keys -----------------------------------------------------
    def string(self, key, default=None, required=False) -> str:
        if key not in self.raw:
            if required:
                raise self.error(key, "missing; allowed: a string")
            return default
        value = self.raw[key]
        if not isinstance(value, str) or not value:
            raise self.error(key, f"{value!r} has the wrong type; allowed: a non-empty string")
        return value

    def integer(self, key, minimum, default=None, required=False) -> int:
        if key not in self.raw:
            if required:
                raise self.error(key, f"missing; allowed: an integer ≥ {minimum}")
            return default
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"{value!r} has the wrong type; allowed: an integer ≥ {minimum}")
        if value < minimum:
            raise self.error(key, f"{value} is out of range; allowed: an integer ≥ {minimum}")
        return value

    def targets(self, reps: int) -> tuple[dict, int | None]:
        """``target_mcse`` (measure -> largest MCSE wanted) and ``max_reps``, which it needs."""
        if "target_mcse" not in self.raw:
            if "max_reps" in self.raw:
                raise self.error("max_reps", "given without target_mcse; allowed only with target_mcse = { ... }")
            return {}, None
        targets = check_targets(self.table("target_mcse"), self.path)
        if "max_reps" not in self.raw:
            raise self.error("max_reps", f"missing; required with target_mcse: an integer ≥ reps ({reps})")
        return targets, self.integer("max_reps", minimum=reps)

    def number(self, key, default) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"{value!r} has the wrong type; allowed: a number")
        return float(value)

    def dgp(self) -> dgps.Dgp:
        name = self.string("dgp", required=True)
        known = plugins.dgp_registry()
        if name not in known:
            raise self.error("dgp", f"unknown DGP {name!r}; allowed: {', '.join(known)}{PLUGIN_HINT}")
        dgp = known[name]
        if dgp.configure is None:
            return dgp
        try:
            return dgp.configure(self.raw.get(name), self.raw.get("params", {}))
        except dgps.ConfigError as exc:
            raise self.error(exc.key, exc.message) from None

    def configuration_key(self) -> list[str]:
        """The top-level table that configures the scenario's DGP (``[dag]``), if it has one."""
        name = self.raw.get("dgp")
        dgp = plugins.dgp_registry().get(name) if isinstance(name, str) else None
        return [name] if dgp is not None and dgp.configure is not None else []

    @staticmethod
    def user_code(dgp, configs) -> dict:
        """Origin and code identity of each plugin DGP and estimator the scenario runs."""
        registry = plugins.estimator_registry()
        used = [("dgp", dgp), *(("estimator", registry[c.name]) for c in configs)]
        return {
            f"{kind}:{obj.name}": {"origin": obj.origin, "identity": identity}
            for kind, obj in used
            if (identity := plugins.code_identity(obj)) is not None
        }

    # -- parameters and grid ---------------------------------------------
    def table(self, key) -> Mapping:
        value = self.raw.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a table ([{key}]), not {type(value).__name__}")
        return value

    def parameters(self, dgp) -> tuple[dict, dict]:
        declared = dgp.param_map
        fixed_raw, grid_raw = self.table("params"), self.table("grid")
        for section, entries in (("params", fixed_raw), ("grid", grid_raw)):
            for name in entries:
                if name not in declared:
                    raise self.error(
                        f"{section}.{name}",
                        f"unknown parameter of DGP {dgp.name!r}; allowed: {', '.join(declared)}",
                    )
        for name in grid_raw:
            if name in fixed_raw:
                raise self.error(f"grid.{name}", "set in both [params] and [grid]; keep one")
        params = {}
        for setting in dgp.params:
            if setting.name in grid_raw:
                continue
            value = fixed_raw.get(setting.name, setting.default)
            params[setting.name] = self.setting(f"params.{setting.name}", setting, value)
        grid = {}
        for name, values in grid_raw.items():
            key = f"grid.{name}"
            if not isinstance(values, list):
                raise self.error(key, f"{values!r} must be a list of values, e.g. {name} = [{values!r}]")
            if not values:
                raise self.error(key, "empty list; a grid parameter needs at least one value")
            cast = [self.setting(key, declared[name], v) for v in values]
            if len(set(cast)) != len(cast):
                raise self.error(key, f"{values!r} repeats a value")
            grid[name] = tuple(cast)
        return params, grid

    def data_files(self, dgp, params, grid) -> dict:
        """Each data file the parameters name: resolved (shipped name, or relative to the scenario's folder),
        checked to exist, and hashed."""
        found = {}
        base = Path(self.path).parent if self.path and not str(self.path).startswith("<") else Path.cwd()
        for name in dgp.data_files:
            keyed = [(f"grid.{name}", v) for v in grid[name]] if name in grid else [(f"params.{name}", params[name])]
            for key, value in keyed:
                if value is None or value in found:
                    continue
                path = dgps.resolve_data_file(value, base, dgp.shipped_data)
                if not path.is_file():
                    shipped = f"; shipped: {', '.join(dgp.shipped_data)}" if dgp.shipped_data else ""
                    raise self.error(key, f"data file not found: {path} (a relative path is read from {base}{shipped})")
                try:
                    digest = dgps.file_digest(path)
                except OSError as exc:
                    raise self.error(key, f"cannot read the data file {path} ({exc.strerror})") from None
                # A shipped dataset by content, however it is named: its definition then fills the parameters.
                shipped = {dgps.file_digest(d.path): name for name, d in dgp.shipped_data.items()}
                found[value] = {"path": str(path.resolve()), "sha256": digest, "dataset": shipped.get(digest)}
        return found

    def setting(self, key, setting, value):
        if value is None:
            return None
        try:
            return setting.validate(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def check_cells(self, dgp, scenario: Scenario):
        """Cross-parameter constraints of the DGP, on every cell."""
        if dgp.check is None:
            return
        for cell in scenario.cells():
            for names, message in dgp.check(cell.params):
                keys = " and ".join(self.param_key(n, scenario) for n in names)
                where = f" (cell {cell.label})" if scenario.grid else ""
                raise self.error(keys, message + where)

    def check_sampler(self, dgp, scenario: Scenario):
        """``sampler = "sufficient"`` only where it is exact: the DGP in every cell, every estimator and option."""
        if scenario.sampler == "data":
            return
        if scenario.sampler not in SAMPLERS:
            raise self.error("sampler", f"{scenario.sampler!r} is not allowed; allowed: {', '.join(SAMPLERS)}")
        if dgp.sufficient is None:
            offering = [d.name for d in plugins.dgp_registry().values() if d.sufficient is not None]
            raise self.error(
                "sampler", f"DGP {dgp.name!r} has no sufficient-statistic sampler; DGPs with one: {', '.join(offering)}"
            )
        for cell in scenario.cells():
            reason = dgp.sufficient_inexact(cell.params) if dgp.sufficient_inexact else None
            if reason:
                where = f" in cell {cell.label}" if scenario.grid else ""
                raise self.error("sampler", f"'sufficient' is not exact{where}: {reason}")
        registry = plugins.estimator_registry()
        for i, config in enumerate(scenario.estimators):
            spec = registry[config.name]
            if spec.sufficient is None:
                offering = [e.name for e in registry.values() if e.sufficient is not None]
                raise self.error(
                    f"estimators[{i}]",
                    f"{config.label!r} needs the raw data, not only its sufficient statistics; with "
                    f"sampler = 'sufficient' allowed: {', '.join(offering)}",
                )
            reason = spec.sufficient_check(config.options) if spec.sufficient_check else None
            if reason:
                raise self.error(f"estimators[{i}]", f"{config.label!r} with sampler = 'sufficient': {reason}")

    def param_key(self, name, scenario) -> str:
        return f"grid.{name}" if name in scenario.grid else f"params.{name}"

    # -- estimators --------------------------------------------------------
    def estimator_configs(self, dgp, level) -> tuple[EstimatorConfig, ...]:
        entries = self.raw.get("estimators")
        if not isinstance(entries, list) or not entries:
            raise self.error("estimators", "missing or empty; allowed: a list of estimator names or tables")
        known = plugins.estimator_registry()
        configs, labels = [], set()
        for i, entry in enumerate(entries):
            key = f"estimators[{i}]"
            if isinstance(entry, str):
                entry = {"name": entry}
            if not isinstance(entry, Mapping):
                raise self.error(key, f"{entry!r} must be a name or a table with 'name'")
            name = entry.get("name")
            if name not in known:
                raise self.error(f"{key}.name", f"unknown estimator {name!r}; allowed: {', '.join(known)}{PLUGIN_HINT}")
            spec = known[name]
            missing = [a for a in spec.needs if a not in dgp.provides]
            if missing:
                raise self.error(
                    f"{key}.name",
                    f"estimator {name!r} needs data {', '.join(missing)} that DGP {dgp.name!r} does not provide "
                    f"(it provides {', '.join(dgp.provides)})",
                )
            options = spec.default_options()
            for opt, value in entry.items():
                if opt in ("name", "label"):
                    continue
                if opt not in spec.option_map:
                    allowed = ", ".join(["name", "label", *spec.option_map])
                    raise self.error(f"{key}.{opt}", f"unknown option of {name!r}; allowed: {allowed}")
                options[opt] = self.setting(f"{key}.{opt}", spec.option_map[opt], value)
            if spec.check is not None and (reason := spec.check(options, level)):
                raise self.error(key, reason)
            missing = [a for a in spec.arrays(options) if a not in dgp.provides]
            if missing:
                chosen = ", ".join(f"{o} = {options[o]!r}" for o in options if o in entry)
                raise self.error(
                    key,
                    f"estimator {name!r} with {chosen} needs data {', '.join(missing)} that DGP {dgp.name!r} does not "
                    f"provide (it provides {', '.join(dgp.provides)})",
                )
            label = entry.get("label", _default_label(spec, options))
            if not isinstance(label, str) or not _NAME_PATTERN.match(label):
                raise self.error(
                    f"{key}.label", f"{label!r} is not a valid label; allowed: letters, digits, '_', '-', '.'"
                )
            if label in labels:
                raise self.error(f"{key}.label", f"label {label!r} is used twice; give each entry its own label")
            labels.add(label)
            configs.append(EstimatorConfig(name, label, options))
        return tuple(configs)

    # -- suite, figures, expectations ------------------------------------
    def suite(self) -> int | None:
        if "suite" not in self.raw:
            return None
        table = self.table("suite")
        for key in table:
            if key != "reps":
                raise self.error(f"suite.{key}", "unknown key; allowed: reps")
        reps = table.get("reps", self.raw["reps"])
        if isinstance(reps, bool) or not isinstance(reps, int) or reps < 2:
            raise self.error("suite.reps", f"{reps!r} is not allowed; allowed: an integer ≥ 2")
        return reps

    def figures(self) -> tuple[str, ...]:
        from .figures import EXTRA_FIGURES  # noqa: PLC0415 (plotting stack loads only when needed)

        names = self.raw.get("figures", [])
        if not isinstance(names, list):
            raise self.error("figures", "must be a list of figure names")
        for i, name in enumerate(names):
            if name not in EXTRA_FIGURES:
                raise self.error(f"figures[{i}]", f"unknown figure {name!r}; allowed: {', '.join(EXTRA_FIGURES)}")
        return tuple(names)

    def expectations(self, scenario: Scenario) -> tuple[Expectation, ...]:
        from .summary import MEASURES  # noqa: PLC0415

        entries = self.raw.get("expect", [])
        if not isinstance(entries, list):
            raise self.error("expect", "must be an array of tables ([[expect]])")
        labels = [e.label for e in scenario.estimators]
        out = []
        for i, entry in enumerate(entries):
            key = f"expect[{i}]"
            if not isinstance(entry, Mapping):
                raise self.error(key, "must be a table")
            for k in entry:
                if k not in EXPECT_KEYS:
                    raise self.error(f"{key}.{k}", f"unknown key; allowed: {', '.join(EXPECT_KEYS)}")
            if entry.get("estimator") not in labels:
                raise self.error(f"{key}.estimator", f"{entry.get('estimator')!r} is not one of {', '.join(labels)}")
            if entry.get("measure") not in MEASURES:
                raise self.error(
                    f"{key}.measure", f"{entry.get('measure')!r} is not a measure; allowed: {', '.join(MEASURES)}"
                )
            relations = [r for r in RELATIONS if r in entry]
            if len(relations) != 1:
                raise self.error(key, f"give exactly one of {', '.join(RELATIONS)}")
            value = entry[relations[0]]
            if relations[0] == "better_than":
                value = self._rival(key, entry, labels)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise self.error(f"{key}.{relations[0]}", f"{value!r} has the wrong type; allowed: a number")
            else:
                value = float(value)
            where = entry.get("where", {})
            if not isinstance(where, Mapping):
                raise self.error(f"{key}.where", "must be a table of grid values, e.g. { n = 1000 }")
            for name, v in where.items():
                if name == "term":  # an estimator's term, e.g. "e=0" (checked against the summary)
                    if not isinstance(v, str):
                        raise self.error(f"{key}.where.term", f'{v!r} is not a term name (a string, e.g. "e=0")')
                    continue
                if name not in scenario.grid or v not in scenario.grid[name]:
                    raise self.error(f"{key}.where.{name}", f"{name} = {v!r} is not a grid value of this scenario")
            multiple = entry.get("mcse_multiple", 4.0)
            if isinstance(multiple, bool) or not isinstance(multiple, int | float) or not multiple > 0:
                raise self.error(f"{key}.mcse_multiple", f"{multiple!r} is not allowed; allowed: a number > 0")
            out.append(
                Expectation(entry["estimator"], entry["measure"], relations[0], value, dict(where), float(multiple))
            )
        return tuple(out)

    def _rival(self, key: str, entry: Mapping, labels: list[str]) -> str:
        """The estimator a ``better_than`` claim compares with, on a measure with a direction."""
        from .comparison import LOSSES  # noqa: PLC0415

        rival = entry["better_than"]
        if rival not in labels or rival == entry["estimator"]:
            others = [label for label in labels if label != entry["estimator"]]
            raise self.error(f"{key}.better_than", f"{rival!r} is not allowed; allowed: one of {', '.join(others)}")
        if entry["measure"] not in LOSSES:
            raise self.error(
                f"{key}.measure",
                f"{entry['measure']!r} has no direction to be better in; with better_than allowed: {', '.join(LOSSES)}",
            )
        return rival


def check_targets(table: Mapping, path, key: str = "target_mcse") -> dict:
    """MCSE targets (measure -> largest MCSE wanted), validated: known measures, positive numbers."""
    from .summary import MEASURES  # noqa: PLC0415

    if not table:
        raise ScenarioError(
            path, key, "is empty; allowed: a table of measure = largest MCSE, e.g. { coverage = 0.005 }"
        )
    targets = {}
    for measure, value in table.items():
        if measure not in MEASURES:
            raise ScenarioError(path, f"{key}.{measure}", f"not a measure; allowed: {', '.join(MEASURES)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ScenarioError(path, f"{key}.{measure}", f"{value!r} is not allowed; allowed: a number > 0")
        targets[measure] = float(value)
    return targets


def _default_label(spec, options) -> str:
    changed = [
        "-".join(v) or "none" if isinstance(v, tuple) else str(v)
        for k, v in options.items()
        if v != spec.option_map[k].default
    ]
    return "_".join([spec.name, *changed])


def scenario_files(folder) -> list[Path]:
    """The scenario files shipped in a folder, sorted by name."""
    return sorted(Path(folder).glob("*.toml"))
