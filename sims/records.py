"""Records: one Parquet row per (cell, replication, estimator).

The records are the source of truth of a run; every summary is recomputed
from them.  Each task's rows go to their own file, written to a hidden
temporary name and renamed into place, so a file under ``records/`` is
always complete and a killed run loses at most the tasks in flight.
``pandas.read_parquet(run_dir / "records")`` reads them all (names starting
with '.' are ignored).

Columns, in order: ``cell``, every grid parameter, ``rep``, ``estimator``
(the label), ``truth``, ``estimate``, ``se``, ``ci_low``, ``ci_high``,
``reject`` (nullable boolean: the estimator's own level-α test of
H0: θ = truth; missing where status is not ``ok``, or where a plugin
estimator gives neither a test nor an interval), ``status``, then the
diagnostic columns of all the scenario's estimators (NaN where an
estimator has no such diagnostic).  Every file of a run has this schema.
``cell``, ``estimator`` and ``status`` are dictionary-encoded strings
(pandas reads them as categoricals).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from causalmc.estimators import status as st
from causalmc.estimators.spec import CORE_COLUMNS, REJECT

FLOAT_COLUMNS = ("truth", "estimate", "se", "ci_low", "ci_high")
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_GRID_TYPES = {int: pa.int64(), float: pa.float64(), str: _DICTIONARY}
_STATUS_NAMES = pa.array(st.NAMES, pa.string())
# Only the string columns profit from Parquet's dictionary pages; the float
# columns are unique values, and statistics are never used to skip pages.
_PARQUET_OPTIONS = {"use_dictionary": ["cell", "estimator", "status"], "write_statistics": False}


@dataclass(frozen=True)
class EstimatorOutput:
    """What one estimator computed for one task's replications."""

    label: str
    values: np.ndarray  # (R, 5 + n_diagnostics): CORE_COLUMNS then diagnostics
    status: np.ndarray  # (R,) int8
    diagnostics: tuple[str, ...]


@dataclass(frozen=True)
class RecordLayout:
    """The column layout shared by every records file of one run."""

    grid_params: tuple[tuple[str, type], ...]
    diagnostics: tuple[str, ...]

    @cached_property
    def schema(self) -> pa.Schema:
        fields = [pa.field("cell", _DICTIONARY)]
        fields += [pa.field(name, _GRID_TYPES.get(kind, pa.float64())) for name, kind in self.grid_params]
        fields += [pa.field("rep", pa.int64()), pa.field("estimator", _DICTIONARY)]
        fields += [pa.field(c, pa.float64()) for c in FLOAT_COLUMNS]
        fields += [pa.field("reject", pa.bool_()), pa.field("status", _DICTIONARY)]
        fields += [pa.field(d, pa.float64()) for d in self.diagnostics]
        schema = pa.schema(fields)
        # Pandas metadata makes read_parquet restore `reject` as the nullable
        # "boolean" dtype instead of an object column.
        template = pd.DataFrame({f.name: pd.Series([], dtype="float64") for f in fields})
        template["reject"] = template["reject"].astype("boolean")
        return schema.with_metadata(pa.Schema.from_pandas(template, preserve_index=False).metadata)

    def table(self, cell_label: str, grid_values, rep_start: int, truth, outputs) -> pa.Table:
        """Rows of one task, replication-major (each rep's estimators together)."""
        n_reps, n_est = len(truth), len(outputs)
        n_rows = n_reps * n_est
        core = np.empty((n_reps, n_est, len(CORE_COLUMNS)))
        diag = np.full((n_reps, n_est, len(self.diagnostics)), np.nan)
        codes = np.empty((n_reps, n_est), dtype=np.int8)
        for e, out in enumerate(outputs):
            core[:, e, :] = out.values[:, : len(CORE_COLUMNS)]
            codes[:, e] = out.status
            for j, name in enumerate(out.diagnostics):
                diag[:, e, self.diagnostics.index(name)] = out.values[:, len(CORE_COLUMNS) + j]
        core = core.reshape(n_rows, -1)
        diag = diag.reshape(n_rows, -1)
        codes = codes.reshape(n_rows)
        failed = codes != st.OK
        labels = pa.array([o.label for o in outputs], pa.string())
        columns = [pa.DictionaryArray.from_arrays(np.zeros(n_rows, np.int32), pa.array([cell_label], pa.string()))]
        columns += [_constant(grid_values[name], kind, n_rows) for name, kind in self.grid_params]
        columns += [np.repeat(np.arange(rep_start, rep_start + n_reps, dtype=np.int64), n_est)]
        columns += [pa.DictionaryArray.from_arrays(np.tile(np.arange(n_est, dtype=np.int32), n_reps), labels)]
        columns += [np.repeat(truth, n_est), *(core[:, j] for j in range(REJECT))]
        columns += [
            pa.array(core[:, REJECT] == 1.0, mask=failed | np.isnan(core[:, REJECT])),
            pa.DictionaryArray.from_arrays(codes.astype(np.int32), _STATUS_NAMES),
        ]
        columns += [diag[:, j] for j in range(len(self.diagnostics))]
        return pa.Table.from_arrays(columns, schema=self.schema)


def _constant(value, kind, n_rows):
    """A grid parameter's column: its one value on every row (dictionary-encoded for text)."""
    if kind is str:
        return pa.DictionaryArray.from_arrays(np.zeros(n_rows, np.int32), pa.array([value], pa.string()))
    return np.full(n_rows, value)


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a hidden temporary name, then rename it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, **_PARQUET_OPTIONS)
    os.replace(tmp, path)


def read(records_dir, in_memory: dict | None = None, columns=None) -> pd.DataFrame:
    """Records of a run as a DataFrame (as ``pandas.read_parquet(records_dir)`` gives them).

    `in_memory` maps file names to tables already in hand, read instead of
    their files; `columns` restricts the result to those of its columns the
    records have.
    """
    paths = sorted(Path(records_dir).glob("*.parquet"))
    if columns is not None and paths:
        names = (in_memory or {}).get(paths[0].name)
        names = set(names.schema.names if names is not None else pq.read_schema(paths[0]).names)
        columns = [c for c in columns if c in names]
    if not in_memory:
        return pd.read_parquet(records_dir, columns=columns)
    tables = [in_memory[p.name] if p.name in in_memory else pq.read_table(p, columns=columns) for p in paths]
    table = pa.concat_tables([t.select(columns) if columns else t for t in tables])
    return table.to_pandas()
