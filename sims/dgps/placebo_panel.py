"""Your panel as the design: placebo laws and injected effects on a real balanced panel.

Bertrand, Duflo & Mullainathan (2004) assigned random placebo "laws" to
states of a real state-by-year panel and counted how often each method of
inference rejected the true null of no effect.  This DGP does the same to
any balanced long table (CSV or Parquet) with a unit, a period and an
outcome column (``data``, ``unit``, ``period``, ``outcome``), optionally
restricted to ``first_period`` … ``last_period``.  Micro data with several
rows per (unit, period) may be collapsed to their means first
(``aggregate = "mean"``); otherwise a repeated (unit, period) is an error.

With Y_it the panel's outcomes (G units, T periods of the slice), each
replication draws

1. the units: all G (``units = 0``), or ``units`` of them without
   replacement, or with replacement (``replace = "yes"``, as BDM's
   bootstrap of states), in a random order;
2. the treated: the first n_treated of them (``n_treated``, or
   round(``treated_share`` · units));
3. a common start t0 ~ Uniform{min_pre + 1, …, T − min_post + 1}
   (1-indexed periods of the slice): at least ``min_pre`` untreated and
   ``min_post`` treated periods;

and adds the effect: y_it = Y_i,t + tau · D_it, D_it = treated_i · 1(t ≥ t0).

Truth: tau (0: a placebo law, whose every rejection is a false one).
Batch arrays as `did_panel`: ``panel_y`` (R, G', T), ``treated`` (R, G') of
0/1, ``start`` (R,).  Draw order per replication: the units (a partial
Fisher–Yates shuffle of 0 … G − 1, or G' integers with replacement), then t0.

The data file enters the run's identity by its content (SHA-256): the same
table under another path gives the same numbers, an edited one is another
experiment.  Each worker reads it once.  Shipped datasets
(`sims.dgps.datasets`): ``data = "castle"``, the castle-doctrine panel
(state, year, outcome l_homicide, 2000–2010); ``data = "cps"``, the CPS
panel of BDM as rebuilt by Arkhangelsky et al. (2021) (state, year,
outcome log_wage), sliced to BDM's 1979–1999 (21 periods) unless the
scenario gives ``first_period`` / ``last_period``.  A shipped dataset is
known by its content, so a path to its file behaves the same.  For a file
of your own, ``unit``, ``period`` and ``outcome`` are required and the
whole panel is used unless sliced.  The scenario loader fills a shipped
dataset's columns and slice into the parameters, so the generator receives
explicit values (`sims/dgps/data/README.md`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp, datasets, resolve_data_file

SHIPPED = datasets.named(("castle", "cps"))
COLUMNS = ("unit", "period", "outcome")


class PanelError(ValueError):
    """A data file that is not a usable balanced panel (the message says why)."""


def load_panel(path, unit, period, outcome, first=None, last=None, aggregate="none"):
    """The outcome of a long table as a (G, T) matrix, units and periods sorted: (Y, units, periods).

    Raises PanelError naming the problem: unreadable file, missing column,
    non-numeric or missing outcome, repeated (unit, period) rows (without
    ``aggregate = "mean"``), an unbalanced panel, an empty slice.
    """
    stat = Path(path).stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size, unit, period, outcome, first, last, aggregate)


@cache
def _load(path, _mtime, _size, unit, period, outcome, first, last, aggregate):
    suffix = Path(path).suffix.lower()
    try:
        table = pd.read_parquet(path) if suffix in (".parquet", ".pq") else pd.read_csv(path)
    except Exception as exc:  # any reader failure is a bad data file
        raise PanelError(f"cannot be read as {'Parquet' if suffix in ('.parquet', '.pq') else 'CSV'}: {exc}") from None
    missing = [c for c in (unit, period, outcome) if c not in table.columns]
    if missing:
        raise PanelError(
            f"has no column {', '.join(map(repr, missing))}; its columns: {', '.join(map(str, table.columns))}"
        )
    values = pd.to_numeric(table[outcome], errors="coerce")
    bad = values.isna() & table[outcome].notna()
    if bad.any():
        raise PanelError(f"outcome {outcome!r} is not numeric (row {int(np.argmax(bad.to_numpy())) + 1}: "
                         f"{table[outcome][bad].iloc[0]!r})")  # fmt: skip
    if values.isna().any():
        raise PanelError(f"outcome {outcome!r} is missing in {int(values.isna().sum())} rows")
    frame = pd.DataFrame({"unit": table[unit], "period": table[period], "y": values})
    if first is not None:
        frame = frame[frame["period"] >= first]
    if last is not None:
        frame = frame[frame["period"] <= last]
    if frame.empty:
        raise PanelError(f"has no rows with {period} in [{first}, {last}]")
    repeated = frame.duplicated(["unit", "period"])
    if repeated.any():
        if aggregate != "mean":
            row = frame[repeated].iloc[0]
            raise PanelError(
                f"repeats ({unit}, {period}) = ({row['unit']}, {row['period']}) and others; a panel has one row per "
                'unit and period (micro data: set aggregate = "mean" to use unit-period means)'
            )
        frame = frame.groupby(["unit", "period"], as_index=False)["y"].mean()
    wide = frame.pivot(index="unit", columns="period", values="y").sort_index().sort_index(axis=1)
    if wide.isna().any(axis=None):
        lacking = wide.isna().sum(axis=1)
        example = lacking[lacking > 0].index[0]
        raise PanelError(
            f"is not balanced: {int((lacking > 0).sum())} of {len(wide)} units lack some of the "
            f"{wide.shape[1]} periods (e.g. {unit} {example!r} has {wide.shape[1] - int(lacking[example])})"
        )
    y = np.ascontiguousarray(wide.to_numpy(dtype=np.float64))
    y.setflags(write=False)
    return y, tuple(wide.index), tuple(wide.columns)


def _shape(p):
    """(Y, units drawn per replication, treated per replication, start window) of the parameters.

    The parameters are explicit: the scenario loader has filled a shipped
    dataset's columns and slice in (a shipped name is still mapped to its
    file, for direct calls).
    """
    y = load_panel(
        resolve_data_file(p["data"], Path.cwd(), SHIPPED),
        p["unit"],
        p["period"],
        p["outcome"],
        p["first_period"],
        p["last_period"],
        p["aggregate"],
    )[0]
    g, t = y.shape
    drawn = p["units"] or g
    n_treated = p["n_treated"] or round(p["treated_share"] * drawn)
    return y, drawn, n_treated, (p["min_pre"] + 1, t - p["min_post"] + 1)


@njit(cache=True)
def _draw(rng, panel, n_treated, with_replacement, start_min, start_max, tau, y, treated, start):
    n_reps, drawn, n_periods = y.shape
    n_units = panel.shape[0]
    order = np.empty(n_units, dtype=np.int64)
    chosen = np.empty(drawn, dtype=np.int64)
    for r in range(n_reps):
        if with_replacement:
            for i in range(drawn):
                chosen[i] = rng.integers(0, n_units)
        else:
            for i in range(n_units):
                order[i] = i
            for i in range(drawn):  # partial Fisher–Yates: a uniformly random ordered draw of `drawn` units
                j = rng.integers(i, n_units)
                order[i], order[j] = order[j], order[i]
                chosen[i] = order[i]
        t0 = rng.integers(start_min, start_max + 1)
        start[r] = t0
        for i in range(drawn):
            is_treated = i < n_treated
            treated[r, i] = 1.0 if is_treated else 0.0
            for t in range(n_periods):
                y[r, i, t] = panel[chosen[i], t] + (tau if is_treated and t + 1 >= t0 else 0.0)


def generate(rng, n_reps, p):
    panel, drawn, n_treated, (start_min, start_max) = _shape(p)
    y = np.empty((n_reps, drawn, panel.shape[1]))
    treated = np.empty((n_reps, drawn))
    start = np.empty(n_reps, dtype=np.int64)
    _draw(rng, panel, n_treated, p["replace"] == "yes", start_min, start_max, p["tau"], y, treated, start)
    return {"panel_y": y, "treated": treated, "start": start, "truth": np.full(n_reps, p["tau"])}


def _columns(p) -> str:
    """The allowed column names of a data file, for an error message."""
    parquet = Path(p["data"]).suffix.lower() in (".parquet", ".pq")
    try:
        header = pd.read_parquet(p["data"]) if parquet else pd.read_csv(p["data"], nrows=0)
    except Exception:  # an unreadable file: load_panel's check says why
        return "allowed: column names of the file"
    return f"allowed: its columns {', '.join(map(str, header.columns))}"


def check(p):
    unset = [name for name in COLUMNS if p[name] is None]
    if unset:
        return [((*unset,), f"{p['data']} is not a shipped dataset, so its columns must be given; {_columns(p)}")]
    try:
        panel, drawn, n_treated, (start_min, start_max) = _shape(p)
    except PanelError as exc:
        return [(("data",), f"{p['data']}: {exc}")]
    g, t = panel.shape
    problems = []
    if p["replace"] == "no" and drawn > g:
        problems.append((("units",), f"{drawn} units drawn without replacement from a panel of {g}; allowed: ≤ {g}"))
    if not 0 < n_treated < drawn:
        problems.append(
            (
                ("n_treated", "treated_share"),
                f"{n_treated} treated of {drawn} units; allowed: at least one treated and one untreated unit",
            )  # fmt: skip
        )
    if start_min > start_max:
        problems.append(
            (
                ("min_pre", "min_post"),
                f"{p['data']}: {t} periods leave no start with {p['min_pre']} periods before it and {p['min_post']} "
                f"from it on; allowed: min_pre + min_post ≤ {t}",
            )
        )
    return problems


DGPS = (
    Dgp(
        name="placebo_panel",
        summary="your balanced panel (CSV/Parquet) with random placebo laws (BDM 2004) and an optional injected effect",
        params=(
            Setting(
                "data", "castle", "the panel: a CSV or Parquet file (relative to the scenario), or 'castle' or 'cps'"
            ),
            Setting("unit", None, "column of the unit ids (shipped data: 'state'; your file: required)", kind=str),
            Setting(
                "period", None, "column of the periods, numbers (shipped data: 'year'; your file: required)", kind=str
            ),
            Setting(
                "outcome",
                None,
                "column of the outcome (castle: 'l_homicide', cps: 'log_wage'; your file: required)",
                kind=str,
            ),
            Setting("first_period", None, "first period used (default: the panel's first; cps: 1979)", kind=int),
            Setting("last_period", None, "last period used (default: the panel's last; cps: 1999)", kind=int),
            Setting(
                "aggregate",
                "none",
                "'mean': collapse repeated (unit, period) rows (micro data) to their means",
                choices=("none", "mean"),
            ),  # fmt: skip
            Setting("units", 0, "units drawn per replication (0: all of the panel's)", minimum=0),
            Setting(
                "replace",
                "no",
                "draw the units with replacement ('yes', BDM's bootstrap of states) or not",
                choices=("no", "yes"),
            ),  # fmt: skip
            Setting("n_treated", 0, "treated units per replication (0: round(treated_share × units))", minimum=0),
            Setting(
                "treated_share", 0.5, "share of the drawn units treated (when n_treated = 0)", minimum=0.0, maximum=1.0
            ),  # fmt: skip
            Setting("min_pre", 1, "untreated periods at least before the start", minimum=1),
            Setting("min_post", 1, "treated periods at least from the start on", minimum=1),
            Setting("tau", 0.0, "effect added to the treated unit-periods (the truth; 0 = a placebo law)"),
        ),
        provides=("panel_y", "treated", "start"),
        generate=generate,
        check=check,
        examples=({"units": 12, "n_treated": 3, "min_pre": 3, "min_post": 2}, {"replace": "yes", "tau": 0.1}),
        data_files=("data",),
        shipped_data=SHIPPED,
    ),
)
