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
H0: θ = truth; missing where status is not ``ok``), ``status``, then the
diagnostic columns of all the scenario's estimators (NaN where an
estimator has no such diagnostic).  Every file of a run has this schema.
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

from estimators import status as st
from estimators.spec import CORE_COLUMNS, REJECT

FLOAT_COLUMNS = ("truth", "estimate", "se", "ci_low", "ci_high")
_STATUS_NAMES = np.array(st.NAMES, dtype=object)


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
        fields = [pa.field("cell", pa.string())]
        fields += [pa.field(name, pa.int64() if kind is int else pa.float64()) for name, kind in self.grid_params]
        fields += [pa.field("rep", pa.int64()), pa.field("estimator", pa.string())]
        fields += [pa.field(c, pa.float64()) for c in FLOAT_COLUMNS]
        fields += [pa.field("reject", pa.bool_()), pa.field("status", pa.string())]
        fields += [pa.field(d, pa.float64()) for d in self.diagnostics]
        # Pandas metadata makes read_parquet restore `reject` as the nullable
        # "boolean" dtype instead of an object column.
        template = pa.schema(fields).empty_table().to_pandas().astype({"reject": "boolean"})
        return pa.Schema.from_pandas(template, preserve_index=False)

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
        columns = [pa.array(np.full(n_rows, cell_label, dtype=object), pa.string())]
        columns += [np.full(n_rows, grid_values[name]) for name, _ in self.grid_params]
        columns += [np.repeat(np.arange(rep_start, rep_start + n_reps, dtype=np.int64), n_est)]
        columns += [pa.array(np.tile(np.array([o.label for o in outputs], dtype=object), n_reps), pa.string())]
        columns += [np.repeat(truth, n_est), *(core[:, j] for j in range(REJECT))]
        columns += [pa.array(core[:, REJECT] == 1.0, mask=failed), pa.array(_STATUS_NAMES[codes], pa.string())]
        columns += [diag[:, j] for j in range(len(self.diagnostics))]
        return pa.Table.from_arrays(columns, schema=self.schema)


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a hidden temporary name, then rename it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read(records_dir) -> pd.DataFrame:
    """All records of a run as a DataFrame."""
    return pd.read_parquet(records_dir)
