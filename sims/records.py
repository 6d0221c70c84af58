"""Records: one Parquet row per (cell, replication, estimator, term).

The records are the source of truth of a run; every summary is recomputed
from them.  Each task's rows go to their own file, written to a hidden
temporary name and renamed into place, so a file under ``records/`` is
always complete and a killed run loses at most the tasks in flight.
``pandas.read_parquet(run_dir / "records")`` reads them all (names starting
with '.' are ignored).

Columns, in order: ``cell``, every grid parameter, ``rep``, ``estimator``
(the label), ``term`` (what is estimated: the DGP's estimand for a
single-term estimator, e.g. ``e=0`` for an event-time effect), ``truth``
(that term's true value), ``estimate``, ``se``, ``ci_low``, ``ci_high``,
``reject`` (nullable boolean: the estimator's own level-α test of
H0: θ = truth; missing where status is not ``ok``, where a plugin
estimator gives neither a test nor an interval, or where the term has no
truth, unless the term is a test of its own: an event study's ``pretrend``
term records its joint test of the leads), ``status``, then the
diagnostic columns of all the scenario's estimators (NaN where an
estimator has no such diagnostic).  Every file of a run has this schema.
``cell``, ``estimator``, ``term`` and ``status`` are dictionary-encoded
strings (pandas reads them as categoricals).
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
_PARQUET_OPTIONS = {"use_dictionary": ["cell", "estimator", "term", "status"], "write_statistics": False}


@dataclass(frozen=True)
class EstimatorOutput:
    """What one estimator computed for one task's replications, term by term."""

    label: str
    terms: tuple[str, ...]  # m names
    truth: np.ndarray  # (R, m)
    values: np.ndarray  # (R, m, 5 + n_diagnostics): CORE_COLUMNS then diagnostics
    status: np.ndarray  # (R, m) int8
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
        fields += [pa.field("rep", pa.int64()), pa.field("estimator", _DICTIONARY), pa.field("term", _DICTIONARY)]
        fields += [pa.field(c, pa.float64()) for c in FLOAT_COLUMNS]
        fields += [pa.field("reject", pa.bool_()), pa.field("status", _DICTIONARY)]
        fields += [pa.field(d, pa.float64()) for d in self.diagnostics]
        schema = pa.schema(fields)
        # Pandas metadata makes read_parquet restore `reject` as the nullable
        # "boolean" dtype instead of an object column.
        template = pd.DataFrame({f.name: pd.Series([], dtype="float64") for f in fields})
        template["reject"] = template["reject"].astype("boolean")
        return schema.with_metadata(pa.Schema.from_pandas(template, preserve_index=False).metadata)

    def table(self, cell_label: str, grid_values, rep_start: int, outputs) -> pa.Table:
        """Rows of one task, replication-major (each rep's estimators and their terms together)."""
        n_reps = len(outputs[0].truth)
        n_series = sum(len(o.terms) for o in outputs)  # (estimator, term) pairs
        n_rows = n_reps * n_series
        core = np.empty((n_reps, n_series, len(CORE_COLUMNS)))
        diag = np.full((n_reps, n_series, len(self.diagnostics)), np.nan)
        truth = np.empty((n_reps, n_series))
        codes = np.empty((n_reps, n_series), dtype=np.int8)
        labels, terms, estimator_codes, term_codes = [], [], [], []
        j = 0
        for e, out in enumerate(outputs):
            m = len(out.terms)
            core[:, j : j + m, :] = out.values[:, :, : len(CORE_COLUMNS)]
            truth[:, j : j + m] = out.truth
            codes[:, j : j + m] = out.status
            for k, name in enumerate(out.diagnostics):
                diag[:, j : j + m, self.diagnostics.index(name)] = out.values[:, :, len(CORE_COLUMNS) + k]
            labels.append(out.label)
            for term in out.terms:
                if term not in terms:
                    terms.append(term)
                term_codes.append(terms.index(term))
            estimator_codes += [e] * m
            j += m
        core = core.reshape(n_rows, -1)
        diag = diag.reshape(n_rows, -1)
        codes = codes.reshape(n_rows)
        failed = codes != st.OK
        columns = [pa.DictionaryArray.from_arrays(np.zeros(n_rows, np.int32), pa.array([cell_label], pa.string()))]
        columns += [_constant(grid_values[name], kind, n_rows) for name, kind in self.grid_params]
        columns += [np.repeat(np.arange(rep_start, rep_start + n_reps, dtype=np.int64), n_series)]
        columns += [_tiled(estimator_codes, labels, n_reps), _tiled(term_codes, terms, n_reps)]
        columns += [truth.reshape(n_rows), *(core[:, j] for j in range(REJECT))]
        columns += [
            # Missing where the estimator failed or gave no test (no truth to test, unless the term is a test
            # of its own, as a pre-trend test is).
            pa.array(core[:, REJECT] == 1.0, mask=failed | np.isnan(core[:, REJECT])),
            pa.DictionaryArray.from_arrays(codes.astype(np.int32), _STATUS_NAMES),
        ]
        columns += [diag[:, j] for j in range(len(self.diagnostics))]
        return pa.Table.from_arrays(columns, schema=self.schema)


def _tiled(codes, names, n_reps):
    """A dictionary-encoded column repeating one replication's codes for every replication."""
    return pa.DictionaryArray.from_arrays(np.tile(np.asarray(codes, np.int32), n_reps), pa.array(names, pa.string()))


def _constant(value, kind, n_rows):
    """A grid parameter's column: its one value on every row (dictionary-encoded for text)."""
    if kind is str:
        return pa.DictionaryArray.from_arrays(np.zeros(n_rows, np.int32), pa.array([value], pa.string()))
    return np.full(n_rows, value)


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a hidden temporary name, then rename it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, **_PARQUET_OPTIONS)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or a kill mid-write leaves no half file under the real name
        raise


def read(records_dir, columns=None) -> pd.DataFrame:
    """Records of a run as a DataFrame (as ``pandas.read_parquet(records_dir)`` gives them).

    `columns` restricts the result to those of its columns the records have.
    Everything is read at once: for per-cell work on large runs use `read_cells`.
    """
    paths = sorted(Path(records_dir).glob("*.parquet"))
    if columns is not None and paths:
        names = set(pq.read_schema(paths[0]).names)
        columns = [c for c in columns if c in names]
    return pd.read_parquet(records_dir, columns=columns)


def read_cells(records_dir, cells, columns=None, estimators=None, max_rep=None, frame=True):
    """The records of some cells only, read from their own files (named by the cell's key).

    `cells` are `sims.scenario.Cell` objects; `estimators`, when given, the
    labels whose rows to read (the others are skipped while reading);
    `max_rep`, when given, reads only replications 0 … max_rep − 1.
    Returns a DataFrame (a pyarrow Table when not `frame`), or None when
    none of the cells has a file.  What keeps a per-cell
    computation over a large run (the summary, a figure of a few cells, a
    leaderboard) within one cell's memory.
    """
    import pyarrow.dataset as ds

    folder = Path(records_dir)
    paths = sorted(str(p) for cell in cells for p in folder.glob(f"{cell.key_hex}-*.parquet"))
    if not paths:
        return None
    if columns is not None:
        names = set(pq.read_schema(paths[0]).names)
        columns = [c for c in columns if c in names]
    wanted = None if estimators is None else ds.field("estimator").isin(list(estimators))
    if max_rep is not None:
        first = ds.field("rep") < max_rep
        wanted = first if wanted is None else wanted & first
    # One thread: the parallel scan's read-ahead buffers would cost more memory than a cell's rows.
    table = ds.dataset(paths, format="parquet").to_table(columns=columns, filter=wanted, use_threads=False)
    if not frame:
        return table
    data = table.to_pandas()
    del table
    pa.default_memory_pool().release_unused()  # hand the decoded pages back before the next cell
    return data
