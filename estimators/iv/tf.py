"""Critical-value tables (Stock–Yogo, tF) and 2SLS with the tF critical value of Lee, McCrary, Moreira & Porter.

``tsls_tf`` (one instrument): the 2SLS t-ratio judged against the 5 % tF
critical value of Lee, McCrary, Moreira & Porter (2022, AER 112(10)) at
the replication's first-stage F instead of 1.96: linear in √F between the
rows of their published table (``estimators/data/lmmp_tf_table.csv``),
3.43 at F = 10, 1.96 from F = 104.7 on, and no rejection below F = 4
(an infinite critical value; the interval is then the whole line).  It
reads the F its standard errors go with: the classical first-stage F with
``se = "classical"``, the robust one with ``hc1`` or ``cluster``.  The
critical value is recorded as ``tf_critical_value``; the rest is
``tsls``'s (`estimators.iv.kclass`).
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

import numpy as np
from numba import njit

from .. import status as st
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator
from .common import NEEDS, SE_OPTION, TSLS, cluster_needs
from .kclass import FIRST_F, K_EFF, KCLASS_DIAGNOSTICS, ROBUST_F, _reference_kclass, _run_kclass

TF_MAX_F = 104.7  # above this first-stage F the tF critical value is 1.96 (LMMP 2022)
TF_MIN_F = 4.0  # below it the tF procedure never rejects
DATA = "causalmc.estimators"  # the package holding data/*.csv
TF_CRITICAL = K_EFF + 1  # the column after the k-class diagnostics


@cache
def tf_table() -> tuple[np.ndarray, np.ndarray]:
    """The published 5 % tF critical values: (√F grid, critical value).

    Lee, McCrary, Moreira & Porter (2022), "Valid t-Ratio Inference for
    IV", American Economic Review 112(10): 3260–3290 (package data
    ``estimators/data/lmmp_tf_table.csv``).
    """
    text = resources.files(DATA).joinpath("data/lmmp_tf_table.csv").read_text()
    rows = np.array([[float(v) for v in line.split(",")] for line in text.strip().splitlines()[1:]])
    return rows[:, 0].copy(), rows[:, 2].copy()


@njit(cache=True)
def tf_critical_value(f, sqrt_f_grid, values):
    """5 % tF critical value at first-stage F: linear in √F between table rows.

    +inf below F = 4 (the procedure never rejects there), 1.96 from F = 104.7.
    """
    if not (f >= TF_MIN_F):
        return np.inf
    if f >= TF_MAX_F:
        return 1.96
    s = math.sqrt(f)
    j = np.searchsorted(sqrt_f_grid, s, side="right") - 1
    j = min(max(j, 0), len(sqrt_f_grid) - 2)
    w = (s - sqrt_f_grid[j]) / (sqrt_f_grid[j + 1] - sqrt_f_grid[j])
    return values[j] + w * (values[j + 1] - values[j])


@cache
def stock_yogo() -> dict[tuple[str, int, float], float]:
    """Stock–Yogo (2005) critical values of the Cragg–Donald first-stage F.

    One endogenous regressor; keys ``(table, K, threshold)`` with table
    ``"size"`` (maximal size of a nominal 5 % 2SLS Wald test: 0.10, 0.15,
    0.20, 0.25; K = 1..10) or ``"relative_bias"`` (maximal 2SLS bias
    relative to OLS: 0.05, 0.10, 0.20, 0.30; K = 3..10).  Stock & Yogo,
    "Testing for Weak Instruments in Linear IV Regression" (2005), Tables
    5.1 and 5.2 (package data ``estimators/data/stock_yogo.csv``).
    """
    text = resources.files(DATA).joinpath("data/stock_yogo.csv").read_text()
    table = {}
    for line in text.strip().splitlines()[1:]:
        name, k, threshold, value = line.split(",")
        table[(name, int(k), float(threshold))] = float(value)
    return table


def tf_critical(f: float) -> float:
    """tF critical value at first-stage F (Python entry point to the table)."""
    return float(tf_critical_value(float(f), *tf_table()))


@njit(cache=True)
def apply_tf(out, status, truth, sqrt_f_grid, values, use_robust):
    """Replace the normal critical value of 2SLS rows by the tF one.

    Reads the first-stage F the t-ratio goes with (the robust one with
    hc1 and cluster standard errors) and writes the critical value to
    ``out[:, TF_CRITICAL]``.
    """
    for r in range(out.shape[0]):
        if status[r] != st.OK:
            continue
        f = out[r, ROBUST_F] if use_robust else out[r, FIRST_F]
        c = tf_critical_value(f, sqrt_f_grid, values)
        est, se = out[r, ESTIMATE], out[r, SE]
        out[r, TF_CRITICAL] = c
        if c == np.inf:
            out[r, CI_LOW], out[r, CI_HIGH], out[r, REJECT] = -np.inf, np.inf, 0.0
        else:
            out[r, CI_LOW], out[r, CI_HIGH] = est - c * se, est + c * se
            out[r, REJECT] = 1.0 if abs(est - truth[r]) > c * se else 0.0


def _run_tf(batch, truth, options, level, out, status):
    _run_kclass(batch, truth, options, level, out, status, method=TSLS)
    out[:, TF_CRITICAL] = np.nan
    apply_tf(out, status, truth, *tf_table(), options["se"] != "classical")


def _reference_tf(batch, truth, options, level, out, status):
    """2SLS twin, then the table read with np.interp in √F."""
    _reference_kclass(batch, truth, options, level, out, status, method=TSLS)
    grid, values = tf_table()
    out[:, TF_CRITICAL] = np.nan
    for r in np.flatnonzero(status == st.OK):
        f = out[r, ROBUST_F] if options["se"] != "classical" else out[r, FIRST_F]
        c = np.inf if f < TF_MIN_F else 1.96 if f >= TF_MAX_F else np.interp(np.sqrt(f), grid, values)
        est, se = out[r, ESTIMATE], out[r, SE]
        out[r, CI_LOW], out[r, CI_HIGH] = (-np.inf, np.inf) if c == np.inf else (est - c * se, est + c * se)
        out[r, REJECT], out[r, TF_CRITICAL] = float(abs(est - truth[r]) > c * se), c


def _one_instrument(shapes, options):
    k = shapes["z"][0]
    return None if k == 1 else f"the tF procedure is tabulated for one instrument (this cell has K = {k})"


def _level_95(options, level):
    return None if level == 0.95 else f"the tF table is for 5 % tests; set level = 0.95 (not {level:g})"


ESTIMATORS = (
    Estimator(
        name="tsls_tf",
        summary="2SLS t-ratio with the tF critical value of Lee et al. (2022), one instrument",
        needs=NEEDS,
        run=_run_tf,
        reference=_reference_tf,
        options=(SE_OPTION,),
        diagnostics=(*KCLASS_DIAGNOSTICS, "tf_critical_value"),
        applies=_one_instrument,
        option_needs=cluster_needs,
        check=_level_95,
    ),
)
