"""MCSE targets: ``target_mcse`` (measure -> largest MCSE wanted) with ``max_reps``, and the same table
given on the command line (``--target``)."""

from __future__ import annotations

from collections.abc import Mapping

from .model import ScenarioError
from .reader import Reader


def check_targets(table: Mapping, path, key: str = "target_mcse") -> dict:
    """MCSE targets (measure -> largest MCSE wanted), validated: known measures, positive numbers."""
    from ..summary import MEASURES  # noqa: PLC0415

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


def targets(r: Reader, reps: int) -> tuple[dict, int | None]:
    """``target_mcse`` (measure -> largest MCSE wanted) and ``max_reps``, which it needs."""
    if "target_mcse" not in r.raw:
        if "max_reps" in r.raw:
            raise r.error("max_reps", "given without target_mcse; allowed only with target_mcse = { ... }")
        return {}, None
    targets = check_targets(r.table("target_mcse"), r.path)
    if "max_reps" not in r.raw:
        raise r.error("max_reps", f"missing; required with target_mcse: an integer ≥ reps ({reps})")
    return targets, r.integer("max_reps", minimum=reps)
