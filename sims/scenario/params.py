"""A scenario's parameters: ``[params]``, ``[grid]`` and ``[[cases]]`` against the DGP's declarations, the
DGP's cross-parameter checks on every cell, and the sampler (``"data"`` or ``"sufficient"``).

``[[cases]]`` is a list of named variants of ``[params]``, for a study that
changes one thing at a time (a baseline and its variants) instead of a full
factorial::

    [params]                          # the baseline
    outcome = "log_wage"
    [[cases]]
    name = "baseline"                 # no overrides: [params] as they are
    [[cases]]
    name = "no_corr"                  # each other key a DGP parameter set over [params]
    noise = "iid"
    [[cases]]
    name = "hours"
    outcome = "hours"

Each case is one value of a grid factor named ``case`` (listed first):
cells are labelled ``case=NAME``, records and summaries have a ``case``
column, and claims select cells with ``where = { case = "no_corr" }``.  A
cell's identity (its random stream) is its resolved parameters, as for any
grid cell: a case draws what a ``[params]`` table with its values would,
and two cases whose parameters resolve alike are refused.  Cases combine
with a ``[grid]`` as one more factor (every case at every grid value), but
a parameter is either swept by the grid or set by cases, never both.  The
case names and their parameters are part of the run's identity (its
fingerprint), so renaming or redefining a case writes a new run.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import plugins
from .model import CASE, Scenario
from .reader import NAME_PATTERN, Reader

SAMPLERS = ("data", "sufficient")


def parameters(r: Reader, dgp) -> tuple[dict, dict]:
    declared = dgp.param_map
    fixed_raw, grid_raw = r.table("params"), r.table("grid")
    for section, entries in (("params", fixed_raw), ("grid", grid_raw)):
        for name in entries:
            if name not in declared:
                raise r.error(
                    f"{section}.{name}",
                    f"unknown parameter of DGP {dgp.name!r}; allowed: {', '.join(declared)}",
                )
    for name in grid_raw:
        if name in fixed_raw:
            raise r.error(f"grid.{name}", "set in both [params] and [grid]; keep one")
    params = {}
    for setting in dgp.params:
        if setting.name in grid_raw:
            continue
        value = fixed_raw.get(setting.name, setting.default)
        params[setting.name] = r.setting(f"params.{setting.name}", setting, value)
    grid = {}
    for name, values in grid_raw.items():
        key = f"grid.{name}"
        if not isinstance(values, list):
            raise r.error(key, f"{values!r} must be a list of values, e.g. {name} = [{values!r}]")
        if not values:
            raise r.error(key, "empty list; a grid parameter needs at least one value")
        cast = [r.setting(key, declared[name], v) for v in values]
        if len(set(cast)) != len(cast):
            raise r.error(key, f"{values!r} repeats a value")
        grid[name] = tuple(cast)
    return params, grid


def cases(r: Reader, dgp, grid: dict) -> tuple[dict, dict]:
    """``[[cases]]``: case name -> the parameters it sets (cast), and the grid with the ``case`` factor first."""
    if "cases" not in r.raw:
        return {}, grid
    entries = r.raw["cases"]
    if not isinstance(entries, list) or not entries or not all(isinstance(e, Mapping) for e in entries):
        raise r.error("cases", "must be a non-empty array of tables ([[cases]], each with a name)")
    declared = dgp.param_map
    if CASE in declared:
        raise r.error("cases", f"DGP {dgp.name!r} has a parameter named {CASE!r}; its cases cannot be labelled")
    found = {}
    for i, entry in enumerate(entries):
        key = f"cases[{i}]"
        name = entry.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise r.error(f"{key}.name", f"{name!r} is not allowed; allowed: a name of letters, digits, '_', '-', '.'")
        if name in found:
            raise r.error(f"{key}.name", f"{name!r} names two cases; allowed: a name used once")
        overrides = {}
        for param, value in entry.items():
            if param == "name":
                continue
            if param not in declared:
                raise r.error(
                    f"{key}.{param}", f"unknown parameter of DGP {dgp.name!r}; allowed: name, {', '.join(declared)}"
                )
            if param in grid:
                raise r.error(f"{key}.{param}", f"also swept by [grid]; a parameter is set by cases or the grid")
            overrides[param] = r.setting(f"{key}.{param}", declared[param], value)
        found[name] = overrides
    return found, {CASE: tuple(found), **grid}


def check_distinct_cases(r: Reader, scenario: Scenario):
    """Two cases whose parameters resolve alike would be one cell (one random stream) twice."""
    if not scenario.cases:
        return
    names = list(scenario.cases)
    seen = {}
    for cell in scenario.cells():
        others = tuple((k, v) for k, v in cell.grid_values.items() if k != CASE)
        first = seen.setdefault((cell.key, others), cell.grid_values[CASE])
        if first != cell.grid_values[CASE]:
            i = names.index(cell.grid_values[CASE])
            raise r.error(f"cases[{i}]", f"{cell.grid_values[CASE]!r} resolves to the parameters of {first!r}; "
                          "keep one")  # fmt: skip


def check_cells(r: Reader, dgp, scenario: Scenario):
    """Cross-parameter constraints of the DGP, on every cell."""
    if dgp.check is None:
        return
    for cell in scenario.cells():
        for names, message in dgp.check(cell.params):
            keys = " and ".join(param_key(n, scenario, cell) for n in names)
            where = f" (cell {cell.label})" if scenario.grid else ""
            raise r.error(keys, message + where)


def check_sampler(r: Reader, dgp, scenario: Scenario):
    """``sampler = "sufficient"`` only where it is exact: the DGP in every cell, every estimator and option."""
    if scenario.sampler == "data":
        return
    if scenario.sampler not in SAMPLERS:
        raise r.error("sampler", f"{scenario.sampler!r} is not allowed; allowed: {', '.join(SAMPLERS)}")
    if dgp.sufficient is None:
        offering = [d.name for d in plugins.dgp_registry().values() if d.sufficient is not None]
        raise r.error(
            "sampler", f"DGP {dgp.name!r} has no sufficient-statistic sampler; DGPs with one: {', '.join(offering)}"
        )
    for cell in scenario.cells():
        reason = dgp.sufficient_inexact(cell.params) if dgp.sufficient_inexact else None
        if reason:
            where = f" in cell {cell.label}" if scenario.grid else ""
            raise r.error("sampler", f"'sufficient' is not exact{where}: {reason}")
    registry = plugins.estimator_registry()
    for i, config in enumerate(scenario.estimators):
        spec = registry[config.name]
        if spec.sufficient is None:
            offering = [e.name for e in registry.values() if e.sufficient is not None]
            raise r.error(
                f"estimators[{i}]",
                f"{config.label!r} needs the raw data, not only its sufficient statistics; with "
                f"sampler = 'sufficient' allowed: {', '.join(offering)}",
            )
        reason = spec.sufficient_check(config.options) if spec.sufficient_check else None
        if reason:
            raise r.error(f"estimators[{i}]", f"{config.label!r} with sampler = 'sufficient': {reason}")


def param_key(name, scenario, cell=None) -> str:
    """Where the file sets parameter `name` (for `cell`: its case's table when the case sets it)."""
    if name in scenario.grid:
        return f"grid.{name}"
    case = cell.grid_values.get(CASE) if cell is not None else None
    if case is not None and name in scenario.cases[case]:
        return f"cases[{list(scenario.cases).index(case)}].{name}"
    return f"params.{name}"
