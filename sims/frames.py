"""One replication as a tidy DataFrame, and back.

The one convention shared by everything that shows or reads a single
dataset: what `causalmc.sample` writes, what plain-Python plugin
estimators receive, and what `causalmc.estimate` reads.

- Cross-sectional data: one row per observation.  A per-observation array
  (``y``, ``x``, ``treatment``) is one column of its name; a block of p
  variables (instruments ``z``, controls) is p numbered columns
  (``z1`` … ``zp``; the controls are ``w1`` … ``wp``).
- Panels: long format, one row per (unit, period), units 1..G and periods
  1..T in unit-major order; ``panel_y`` is the column ``y``, per-unit
  arrays (``treated``) and per-replication scalars (``start``) are repeated
  on every row; ``cohort`` (a unit's adoption period, 0 for never) is
  per unit.  Derived columns help a user's regression, and are never read
  back: ``post`` = 1(period ≥ start) and ``D`` = treated·post, or with
  cohorts ``D`` = 1(0 < cohort ≤ period).  Read back, a panel's periods
  may be any sorted numbers (years): ``start`` and ``cohort`` are read in
  the same units and become the 1-indexed positions the kernels use.

Each batch array name has a `Role` (its level and column name).  The
shipped names are declared here; a plugin DGP declares the roles of new
names (`declare`), or lets them be inferred from their shapes: a scalar per
replication, a vector per observation, or a (p, n) block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVELS = ("observation", "block", "unit_period", "unit", "replication")
PANEL_LEVELS = ("unit_period", "unit")


class FrameError(ValueError):
    """A frame that does not hold what an estimator needs."""


@dataclass(frozen=True)
class Role:
    """Where one batch array lives in the tidy frame."""

    level: str  # one of LEVELS
    column: str  # the column name (the prefix of numbered columns for a block)


ROLES: dict[str, Role] = {
    "y": Role("observation", "y"),
    "x": Role("observation", "x"),
    "treatment": Role("observation", "treatment"),
    "z": Role("block", "z"),
    "cluster": Role("observation", "cluster"),
    "controls": Role("block", "w"),
    "panel_y": Role("unit_period", "y"),
    "treated": Role("unit", "treated"),
    "cohort": Role("unit", "cohort"),
    "start": Role("replication", "start"),
}
# Arrays whose values are periods: the kernels read them as positions 1..T, a frame holds them in the units of
# its `period` column (the same when the periods are 1..T, as `frame_of` writes them).
IN_PERIODS = ("start", "cohort")


def declare(name: str, level: str, column: str | None = None) -> None:
    """Declare the role of a batch array name (a plugin DGP's new arrays)."""
    if level not in LEVELS:
        raise ValueError(f"level {level!r} of array {name!r} is not one of {', '.join(LEVELS)}")
    role = Role(level, column or name)
    if ROLES.get(name, role) != role:
        raise ValueError(f"array {name!r} is already declared as {ROLES[name]}, not {role}")
    ROLES[name] = role


def role_of(name: str, shape: tuple | None = None) -> Role:
    """The declared role of an array, or the one its per-replication shape implies."""
    if name in ROLES:
        return ROLES[name]
    if shape is None or len(shape) > 2:
        raise FrameError(f"array {name!r} has no declared role; declare it with causalmc.sims.frames.declare")
    return Role(("replication", "observation", "block")[len(shape)], name)


def frame_of(arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One replication's arrays (no leading replication axis) as a tidy frame."""
    roles = {name: role_of(name, np.shape(a)) for name, a in arrays.items()}
    panel = any(r.level in PANEL_LEVELS for r in roles.values())
    columns: dict[str, np.ndarray] = {}
    if panel:
        g, t = next(np.shape(arrays[n]) for n, r in roles.items() if r.level == "unit_period")
        columns["unit"] = np.repeat(np.arange(1, g + 1), t)
        columns["period"] = np.tile(np.arange(1, t + 1), g)
        n_rows = g * t
    else:
        n_rows = next(np.shape(arrays[n])[-1] for n, r in roles.items() if r.level in ("observation", "block"))
    for name, role in roles.items():
        a = np.asarray(arrays[name])
        if role.level == "block":
            for j in range(a.shape[0]):
                columns[f"{role.column}{j + 1}"] = a[j]
        elif role.level == "unit_period":
            columns[role.column] = a.reshape(-1)
        elif role.level == "unit":
            columns[role.column] = np.repeat(a, n_rows // a.size)
        elif role.level == "replication":
            columns[role.column] = np.full(n_rows, a[()])
        else:
            columns[role.column] = a
    frame = pd.DataFrame(columns, copy=False)
    if panel and {"treated", "start"} <= set(frame):
        frame["post"] = (frame["period"] >= frame["start"]).astype(np.int64)
        frame["D"] = frame["treated"] * frame["post"]
    elif panel and "cohort" in frame:
        frame["D"] = ((frame["cohort"] > 0) & (frame["period"] >= frame["cohort"])).astype(np.float64)
    return frame


def arrays_of(frame: pd.DataFrame, names: Iterable[str], source: str = "the data") -> dict[str, np.ndarray]:
    """The arrays `names` of one replication, read back from a tidy frame.

    Each array gets a leading replication axis of length 1, so the result
    is a one-replication batch any estimator can run on.  Raises
    `FrameError` naming the missing columns, or a panel that is not a
    balanced, complete (unit, period) grid.
    """
    names = list(names)
    roles = {name: role_of(name, _shape_hint(frame, name)) for name in names}
    out = {}
    panel = any(r.level in PANEL_LEVELS for r in roles.values())
    if panel:
        frame = _balanced_panel(frame, source)
        units = frame["unit"].nunique()
    if any(name in IN_PERIODS for name in names) and "period" in frame:
        periods = np.unique(_column(frame, "period", source, "period"))
    for name, role in roles.items():
        if role.level == "block":
            block = _numbered(frame, role.column, source)
            out[name] = block.to_numpy(float).T[None]
            continue
        column = _column(frame, role.column, source, name)
        if name in IN_PERIODS and "period" in frame:
            column = _positions(column, periods, never=name == "cohort")
        if role.level == "unit_period":
            out[name] = column.reshape(units, -1)[None]
        elif role.level == "unit":
            per_unit = column.reshape(units, -1)
            if (per_unit != per_unit[:, :1]).any():
                raise FrameError(f"{source}: column {role.column!r} must be constant within each unit")
            out[name] = per_unit[:, 0][None]
        elif role.level == "replication":
            if (column != column[0]).any():
                raise FrameError(f"{source}: column {role.column!r} must be the same on every row")
            integer = frame[role.column].dtype.kind in "iu"
            out[name] = np.array([column[0]], dtype=np.int64 if integer else float)
        else:
            out[name] = column[None]
    # Fresh, writable, C-ordered arrays, as the DGPs give them: a kernel
    # compiled for another layout (or for read-only memory, as Parquet
    # columns are) may sum in another order and differ in the last bits.
    return {name: np.array(a, order="C", copy=True) for name, a in out.items()}


def _positions(values: np.ndarray, periods: np.ndarray, never: bool) -> np.ndarray:
    """Values in the units of the sorted `periods` as 1-indexed positions: 1 + the periods before each, so
    period ≥ value exactly where position ≥ its position (a start after the last period is T + 1).  With
    `never`, 0 stays 0 (a cohort that never adopts, csdid's convention)."""
    positions = np.searchsorted(periods, values, side="left") + 1.0
    return np.where(values == 0, 0.0, positions) if never else positions


def _shape_hint(frame: pd.DataFrame, name: str) -> tuple | None:
    """Shape an undeclared array would have, judged from the frame's columns."""
    if name in frame:
        return (len(frame),)
    if f"{name}1" in frame:
        return (0, len(frame))
    return None


def _column(frame, column, source, name) -> np.ndarray:
    if column not in frame:
        raise FrameError(f"{source}: no column {column!r} (array {name!r}); columns: {', '.join(map(str, frame))}")
    try:
        values = frame[column].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise FrameError(f"{source}: column {column!r} is not numeric") from None
    if np.isnan(values).any():
        raise FrameError(f"{source}: column {column!r} has missing values")
    return values


def _numbered(frame, prefix, source) -> pd.DataFrame:
    names = []
    while f"{prefix}{len(names) + 1}" in frame:
        names.append(f"{prefix}{len(names) + 1}")
    if not names:
        raise FrameError(f"{source}: no columns {prefix}1, {prefix}2, … ; columns: {', '.join(map(str, frame))}")
    for name in names:
        _column(frame, name, source, prefix)
    return frame[names]


def _balanced_panel(frame, source) -> pd.DataFrame:
    for key in ("unit", "period"):
        if key not in frame:
            raise FrameError(
                f"{source}: a panel needs columns 'unit' and 'period'; columns: {', '.join(map(str, frame))}"
            )
    if frame.duplicated(["unit", "period"]).any():
        raise FrameError(f"{source}: (unit, period) pairs repeat")
    units, periods = frame["unit"].nunique(), frame["period"].nunique()
    if units * periods != len(frame):
        raise FrameError(f"{source}: the panel is not balanced ({units} units × {periods} periods ≠ {len(frame)} rows)")
    return frame.sort_values(["unit", "period"], kind="stable")
