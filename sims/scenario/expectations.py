"""A scenario's ``[[expect]]`` claims: each checked against the estimators, the measures and the grid."""

from __future__ import annotations

from collections.abc import Mapping

from .model import Expectation, Scenario
from .reader import Reader

RELATIONS = ("equals", "above", "below", "at_most", "at_least", "better_than")
EXPECT_KEYS = ("where", "estimator", "measure", *RELATIONS, "mcse_multiple")


def expectations(r: Reader, scenario: Scenario) -> tuple[Expectation, ...]:
    from ..summary import MEASURES  # noqa: PLC0415

    entries = r.raw.get("expect", [])
    if not isinstance(entries, list):
        raise r.error("expect", "must be an array of tables ([[expect]])")
    labels = [e.label for e in scenario.estimators]
    out = []
    for i, entry in enumerate(entries):
        key = f"expect[{i}]"
        if not isinstance(entry, Mapping):
            raise r.error(key, "must be a table")
        for k in entry:
            if k not in EXPECT_KEYS:
                raise r.error(f"{key}.{k}", f"unknown key; allowed: {', '.join(EXPECT_KEYS)}")
        if entry.get("estimator") not in labels:
            raise r.error(f"{key}.estimator", f"{entry.get('estimator')!r} is not one of {', '.join(labels)}")
        if entry.get("measure") not in MEASURES:
            raise r.error(
                f"{key}.measure", f"{entry.get('measure')!r} is not a measure; allowed: {', '.join(MEASURES)}"
            )
        relations = [r for r in RELATIONS if r in entry]
        if len(relations) != 1:
            raise r.error(key, f"give exactly one of {', '.join(RELATIONS)}")
        value = entry[relations[0]]
        if relations[0] == "better_than":
            value = _rival(r, key, entry, labels)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise r.error(f"{key}.{relations[0]}", f"{value!r} has the wrong type; allowed: a number")
        else:
            value = float(value)
        where = entry.get("where", {})
        if not isinstance(where, Mapping):
            raise r.error(f"{key}.where", "must be a table of grid values, e.g. { n = 1000 }")
        for name, v in where.items():
            if name == "term":  # an estimator's term, e.g. "e=0" (checked against the summary)
                if not isinstance(v, str):
                    raise r.error(f"{key}.where.term", f'{v!r} is not a term name (a string, e.g. "e=0")')
                continue
            if name not in scenario.grid or v not in scenario.grid[name]:
                raise r.error(f"{key}.where.{name}", f"{name} = {v!r} is not a grid value of this scenario")
        multiple = entry.get("mcse_multiple", 4.0)
        if isinstance(multiple, bool) or not isinstance(multiple, int | float) or not multiple > 0:
            raise r.error(f"{key}.mcse_multiple", f"{multiple!r} is not allowed; allowed: a number > 0")
        out.append(Expectation(entry["estimator"], entry["measure"], relations[0], value, dict(where), float(multiple)))
    return tuple(out)


def _rival(r: Reader, key: str, entry: Mapping, labels: list[str]) -> str:
    """The estimator a ``better_than`` claim compares with, on a measure with a direction."""
    from ..comparison import LOSSES  # noqa: PLC0415

    rival = entry["better_than"]
    if rival not in labels or rival == entry["estimator"]:
        others = [label for label in labels if label != entry["estimator"]]
        raise r.error(f"{key}.better_than", f"{rival!r} is not allowed; allowed: one of {', '.join(others)}")
    if entry["measure"] not in LOSSES:
        raise r.error(
            f"{key}.measure",
            f"{entry['measure']!r} has no direction to be better in; with better_than allowed: {', '.join(LOSSES)}",
        )
    return rival
