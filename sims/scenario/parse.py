"""Parsing a scenario: the top-level keys, then each section in its own module, all validated before
any work starts; a mistake raises `ScenarioError` naming the file and the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .estimators import estimator_configs, user_code
from .expectations import expectations
from .hooks import configuration_key, data_files, read_dgp
from .params import cases, check_cells, check_distinct_cases, check_sampler, parameters
from .targets import targets
from .model import Scenario
from .reader import NAME_PATTERN, Reader

DEFAULT_LEVEL = 0.95
TOP_LEVEL_KEYS = (
    "name description dgp reps seed level sampler chunk_size target_mcse max_reps estimators params grid cases suite "
    "figures expect"
).split()


def parse(raw: Mapping, path="<scenario>", base_dir=None) -> Scenario:
    """Validate a scenario already read into a dict (see `load`); relative data paths are read from `base_dir`
    (default: the file's folder, or the current one for a scenario given as text or a dict)."""
    r = Reader(raw, path, base_dir)
    allowed = [*TOP_LEVEL_KEYS, *configuration_key(r)]
    for key in r.raw:
        if key not in allowed:
            raise r.error(key, f"unknown key; allowed: {', '.join(allowed)}")
    name = r.string("name", required=True)
    if not NAME_PATTERN.match(name):
        raise r.error("name", f"{name!r} cannot be a folder name; allowed: letters, digits, '_', '-', '.'")
    dgp = read_dgp(r)
    reps = r.integer("reps", minimum=2, required=True)
    seed = r.integer("seed", minimum=0, required=True)
    level = r.number("level", DEFAULT_LEVEL)
    if not 0.0 < level < 1.0:
        raise r.error("level", f"{level!r} is out of range; allowed: a number in (0, 1)")
    chunk_size = r.integer("chunk_size", minimum=1, default=None)
    target_mcse, max_reps = targets(r, reps)
    params, grid = parameters(r, dgp)
    variants, grid = cases(r, dgp, grid)
    files = data_files(r, dgp, params, grid, variants)
    configs = estimator_configs(r, dgp, level)
    scenario = Scenario(
        path=str(r.path),
        base_dir=str(r.base_dir),
        name=name,
        description=r.string("description", default=""),
        dgp=dgp.name,
        reps=reps,
        seed=seed,
        level=level,
        chunk_size=chunk_size,
        target_mcse=target_mcse,
        max_reps=max_reps,
        sampler=r.string("sampler", default="data"),
        data_files=files,
        estimators=configs,
        params=params,
        grid=grid,
        cases=variants,
        suite_reps=suite(r),
        figures=figures(r),
        expectations=(),
        source=dict(r.raw),
        code=user_code(dgp, configs),
    )
    check_distinct_cases(r, scenario)
    check_cells(r, dgp, scenario)
    check_sampler(r, dgp, scenario)
    return replace(scenario, expectations=expectations(r, scenario))


def suite(r: Reader) -> int | None:
    if "suite" not in r.raw:
        return None
    table = r.table("suite")
    for key in table:
        if key != "reps":
            raise r.error(f"suite.{key}", "unknown key; allowed: reps")
    reps = table.get("reps", r.raw["reps"])
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 2:
        raise r.error("suite.reps", f"{reps!r} is not allowed; allowed: an integer ≥ 2")
    return reps


def figures(r: Reader) -> tuple[str, ...]:
    from ..figures import EXTRA_FIGURES  # noqa: PLC0415 (plotting stack loads only when needed)

    names = r.raw.get("figures", [])
    if not isinstance(names, list):
        raise r.error("figures", "must be a list of figure names")
    for i, name in enumerate(names):
        if name not in EXTRA_FIGURES:
            raise r.error(f"figures[{i}]", f"unknown figure {name!r}; allowed: {', '.join(EXTRA_FIGURES)}")
    return tuple(names)
