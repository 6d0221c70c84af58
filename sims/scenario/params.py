"""A scenario's parameters: ``[params]`` and ``[grid]`` against the DGP's declarations, the DGP's
cross-parameter checks on every cell, and the sampler (``"data"`` or ``"sufficient"``)."""

from __future__ import annotations

from .. import plugins
from .model import Scenario
from .reader import Reader

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


def check_cells(r: Reader, dgp, scenario: Scenario):
    """Cross-parameter constraints of the DGP, on every cell."""
    if dgp.check is None:
        return
    for cell in scenario.cells():
        for names, message in dgp.check(cell.params):
            keys = " and ".join(param_key(n, scenario) for n in names)
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


def param_key(name, scenario) -> str:
    return f"grid.{name}" if name in scenario.grid else f"params.{name}"
