"""Comparing estimators and runs: which is better, with its Monte Carlo error.

Three questions an estimator author asks, each answered within the Monte
Carlo error of the answer:

- *Within one run, is estimator b better than a?*  `paired` contrasts two
  estimators on the same datasets.  The difference of a measure is the
  mean of a per-replication difference of influence values, so its MCSE
  comes from the paired replications and the correlation between the two
  estimators enters (Morris, White & Crowther 2019, Statistics in Medicine
  38, §5.3 and Table 6): for the bias, the MCSE of b − a is
  sd(e_b − e_a)/√R, far below √(MCSE_a² + MCSE_b²) when the estimators
  are correlated.
- *Which estimator wins in each cell?*  `leaderboard` ranks estimators by
  RMSE and by |coverage − nominal|, tying neighbours whose paired
  difference is within `TIE_MULTIPLE` MCSEs.
- *Did my change make a run worse?*  `between_runs` contrasts two runs of
  one design (independent draws, so MCSEs add in quadrature) with a
  direction per measure: a *worsening* is a significant increase of the
  measure's loss.

Losses (smaller is better), `LOSSES`:

==============  ======================  ==============
measure         loss                    worse when
==============  ======================  ==============
bias            |bias|                  |bias| up
median_bias     |median bias|           |median bias| up
emp_se          emp_se                  spread up
rmse            rmse                    RMSE up
mad             mad                     up
se_ratio        |se_ratio − 1|          SE accuracy down
coverage        |coverage − level|      away from nominal
rejection       |rejection − α|         size away from α
power           −power                  power down
==============  ======================  ==============

``mean_estimate``, ``mean_se`` and ``ci_width`` have no direction: a
narrower interval is better only at the same coverage.  They are compared
as "differs" or not.

Influence values.  Each measure is (to first order) the mean of a
per-replication value ψᵢ, so MCSE = sd(ψ)/√R and the paired difference
has MCSE sd(ψ_b − ψ_a)/√R.  With eᵢ = θ̂ᵢ − θᵢ and sᵢ the standard error:
bias eᵢ; mse eᵢ²; rmse eᵢ²/(2·rmse); emp_se (θ̂ᵢ − θ̄)²/(2·emp_se);
mean_se sᵢ²/(2·mean_se); se_ratio ratio·(sᵢ²/(2·mean_se²) −
(θ̂ᵢ − θ̄)²/(2·emp_se²)); coverage, rejection and power their 0/1
indicators; ci_width the width; a p-quantile q of xᵢ (median_bias of eᵢ,
mad of |eᵢ|) ŝ(p)·(p − 1{xᵢ ≤ q}) with the sparsity ŝ of `sims.summary`.
For one estimator these reproduce the summary's MCSEs.  A paired
comparison uses the replications where both estimators succeeded (and,
for coverage and rejection, both have an interval or a test).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from causalmc.estimators.inference import covers, set_width

from .summary import MEASURED_COLUMNS, quantiles_with_sparsity


@dataclass(frozen=True)
class Loss:
    """How "worse" reads for a measure: loss = sign·(value − target), or |value − target|."""

    absolute: bool
    target: Callable[[float], float] = lambda level: 0.0  # noqa: E731 (level → target value)
    sign: float = 1.0

    def __call__(self, value, level: float):
        shifted = value - self.target(level)
        return abs(shifted) if self.absolute else self.sign * shifted

    def slope(self, value, level: float) -> float:
        """d loss / d value at `value` (the sign that turns influence values into the loss's)."""
        return (1.0 if value >= self.target(level) else -1.0) if self.absolute else self.sign


LOSSES = {
    "bias": Loss(absolute=True),
    "median_bias": Loss(absolute=True),
    "emp_se": Loss(absolute=False),
    "rmse": Loss(absolute=False),
    "mad": Loss(absolute=False),
    "se_ratio": Loss(absolute=True, target=lambda level: 1.0),
    "coverage": Loss(absolute=True, target=lambda level: level),
    "rejection": Loss(absolute=True, target=lambda level: 1.0 - level),
    "power": Loss(absolute=False, sign=-1.0),
    "wrong_sign": Loss(absolute=False),
}
NEUTRAL = ("mean_estimate", "mean_se", "ci_width")
PAIRED_MEASURES = (*LOSSES, *NEUTRAL)
COMPARED = ("bias", "median_bias", "emp_se", "rmse", "se_ratio", "coverage", "rejection", "power")
TIE_MULTIPLE = 2.0
RECORD_COLUMNS = ["cell", "rep", "estimator", "term", *MEASURED_COLUMNS]


def verdict(loss_difference: float, mcse: float, multiple: float) -> str:
    """'better', 'worse' or 'not distinguishable' for a difference of losses (b − a)."""
    if not (math.isfinite(loss_difference) and math.isfinite(mcse)):
        return "not measured"
    if loss_difference > multiple * mcse:
        return "worse"
    if loss_difference < -multiple * mcse:
        return "better"
    return "not distinguishable"


# -- influence values ----------------------------------------------------------------


def _quantile_influence(x: np.ndarray, p: float) -> tuple[float, np.ndarray]:
    (q,), (s,) = quantiles_with_sparsity(x, [p])
    return float(q), s * (p - (x <= q))


def influence(measure: str, rows: dict) -> tuple[float, np.ndarray]:
    """A measure's value and per-replication influence values on the given replications.

    Parameters
    ----------
    measure : str
        One of `PAIRED_MEASURES`.
    rows : dict of ndarray, each (R,)
        ``estimate``, ``truth``, ``se``, ``ci_low``, ``ci_high``, ``reject``
        (float, NaN when untested) of the replications to use.

    Returns
    -------
    value : float
    psi : ndarray (R,)
        Influence values: the measure's MCSE is sd(ψ)/√R.
    """
    est, truth, se = rows["estimate"], rows["truth"], rows.get("se")
    e = est - truth
    if measure == "mean_estimate":
        return float(np.mean(est)), est
    if measure == "bias":
        return float(np.mean(e)), e
    if measure == "rmse":
        rmse = math.sqrt(np.mean(e**2))
        return rmse, e**2 / (2 * rmse) if rmse > 0 else np.zeros_like(e)
    if measure in ("emp_se", "se_ratio", "mean_se"):
        emp_se = float(np.std(est, ddof=1))
        spread = (est - est.mean()) ** 2 / (2 * emp_se) if emp_se > 0 else np.zeros_like(est)
        if measure == "emp_se":
            return emp_se, spread
        mean_se = math.sqrt(np.mean(se**2))
        psi_se = se**2 / (2 * mean_se) if mean_se > 0 else np.zeros_like(se)
        if measure == "mean_se":
            return mean_se, psi_se
        ratio = mean_se / emp_se if emp_se > 0 else math.nan
        return ratio, ratio * (psi_se / mean_se - spread / emp_se)
    if measure == "median_bias":
        return _quantile_influence(e, 0.5)
    if measure == "mad":
        return _quantile_influence(np.abs(e), 0.5)
    if measure == "ci_width":
        width = set_width(rows["ci_low"], rows["ci_high"])
        return float(np.mean(width)), width
    if measure == "coverage":
        hits = covers(rows["ci_low"], rows["ci_high"], truth).astype(float)
        return float(np.mean(hits)), hits
    if measure == "power":
        hits = (~covers(rows["ci_low"], rows["ci_high"], 0.0)).astype(float)
        return float(np.mean(hits)), hits
    if measure == "rejection":
        return float(np.mean(rows["reject"])), rows["reject"]
    if measure == "wrong_sign":
        hits = (np.sign(est) != np.sign(truth)).astype(float)
        return float(np.mean(hits)), hits
    raise ValueError(f"unknown measure {measure!r}; allowed: {', '.join(PAIRED_MEASURES)}")


def _usable(measure: str, rows: dict) -> np.ndarray:
    """The replications on which `measure` is defined (an interval and a truth, a test)."""
    has_set = ~(np.isnan(rows["ci_low"]) | np.isnan(rows["ci_high"]))
    if measure == "coverage":
        return has_set & np.isfinite(rows["truth"])
    if measure in ("power", "ci_width"):
        return has_set
    if measure == "rejection":
        return ~np.isnan(rows["reject"])
    if measure == "wrong_sign":  # a zero truth has no sign
        return np.isfinite(rows["estimate"]) & np.isfinite(rows["truth"]) & (rows["truth"] != 0)
    return np.isfinite(rows["estimate"]) & np.isfinite(rows["truth"])


# -- paired comparison within a run --------------------------------------------------------


VALUE_COLUMNS = ("truth", "estimate", "se", "ci_low", "ci_high", "reject")


def estimator_arrays(rows, reps: np.ndarray, columns=VALUE_COLUMNS) -> dict:
    """One estimator's records of one (cell, term) as arrays aligned on `reps` (NaN and ok = False where not ok).

    `rows` is a DataFrame or a pyarrow Table with ``rep``, ``status`` and
    the value `columns` (a Table skips pandas: less memory for a large cell).
    """
    if isinstance(rows, pd.DataFrame):
        ok = (rows["status"] == "ok").to_numpy()
        rep = rows["rep"].to_numpy()
        column = lambda c: rows[c].to_numpy(dtype=float, na_value=np.nan)  # noqa: E731
    else:
        ok = pc.equal(rows["status"].cast(pa.string()), "ok").to_numpy(zero_copy_only=False)
        rep = rows["rep"].to_numpy()
        column = lambda c: pc.fill_null(rows[c].cast(pa.float64()), np.nan).to_numpy()  # noqa: E731
    position = np.searchsorted(reps, rep[ok])
    arrays = {}
    for c in columns:
        full = np.full(len(reps), np.nan)
        full[position] = column(c)[ok]
        arrays[c] = full
    arrays["ok"] = np.zeros(len(reps), bool)
    arrays["ok"][position] = True
    return arrays


def _wide(records: pd.DataFrame) -> dict:
    """Records of one (cell, term) as arrays per estimator, aligned on replication (NaN where not ok)."""
    reps = np.sort(records["rep"].unique())
    return {
        str(label): estimator_arrays(group, reps)
        for label, group in records.groupby("estimator", observed=True, sort=False)
    }


def _pair_rows(a: dict, b: dict, measure: str) -> tuple[dict, dict]:
    keep = a["ok"] & b["ok"] & _usable(measure, a) & _usable(measure, b)
    if keep.all():  # no copies of a large cell's arrays
        return a, b
    return ({k: v[keep] for k, v in a.items()}, {k: v[keep] for k, v in b.items()})


def contrast(a: dict, b: dict, measure: str, level: float, multiple: float) -> dict:
    """Estimator b against a on one (cell, term): values, paired difference, loss difference, verdict."""
    ra, rb = _pair_rows(a, b, measure)
    r = len(ra["estimate"])
    out = {"measure": measure, "pairs": r}
    if r < 2:
        return out | {"a": math.nan, "b": math.nan, "difference": math.nan, "difference_mcse": math.nan,
                      "loss_difference": math.nan, "loss_mcse": math.nan, "verdict": "not measured"}  # fmt: skip
    value_a, psi_a = influence(measure, ra)
    value_b, psi_b = influence(measure, rb)
    difference_mcse = float(np.std(psi_b - psi_a, ddof=1) / math.sqrt(r))
    loss = LOSSES.get(measure)
    if loss is None:
        loss_difference, loss_mcse = value_b - value_a, difference_mcse
        judged = verdict(abs(loss_difference), loss_mcse, multiple)
        judged = {"worse": "differs", "better": "differs"}.get(judged, judged)
    else:
        loss_difference = loss(value_b, level) - loss(value_a, level)
        signed = loss.slope(value_b, level) * psi_b - loss.slope(value_a, level) * psi_a
        loss_mcse = float(np.std(signed, ddof=1) / math.sqrt(r))
        judged = verdict(loss_difference, loss_mcse, multiple)
    return out | {
        "a": value_a,
        "b": value_b,
        "difference": value_b - value_a,
        "difference_mcse": difference_mcse,
        "loss_difference": loss_difference,
        "loss_mcse": loss_mcse,
        "verdict": judged,
    }


def paired(
    records: pd.DataFrame,
    a: str,
    b: str,
    level: float,
    measures=PAIRED_MEASURES,
    multiple: float = 4.0,
) -> pd.DataFrame:
    """Estimator `b` against `a`, cell by cell and term by term, on the same datasets.

    Parameters
    ----------
    records : DataFrame
        A run's records (at least `RECORD_COLUMNS`).
    a, b : str
        Estimator labels; `b` is judged against `a`.
    level : float
        The scenario's confidence level (the nominal coverage).
    measures : sequence of str
        From `PAIRED_MEASURES`.
    multiple : float
        A verdict needs a loss difference beyond this many MCSEs.

    Returns
    -------
    DataFrame, one row per (cell, term, measure): ``a``, ``b`` (the measure
    on the paired replications), ``difference`` = b − a and its paired MCSE,
    ``loss_difference`` and its MCSE, ``pairs`` and ``verdict`` (for b:
    better, worse, not distinguishable; "differs" for measures without a
    direction).
    """
    rows = []
    chosen = records[records["estimator"].isin([a, b])]
    for (cell, term), group in chosen.groupby(["cell", "term"], observed=True, sort=False):
        wide = _wide(group)
        if a not in wide or b not in wide:
            continue
        for measure in measures:
            rows.append({"cell": cell, "term": term, **contrast(wide[a], wide[b], measure, level, multiple)})
    return pd.DataFrame(rows)


# What ranking by RMSE and coverage reads (nothing more is held per replication of a large cell).
RANKING_COLUMNS = ("truth", "estimate", "ci_low", "ci_high")


def leaderboard(run_dir, scenario, max_pairs: int | None = None) -> pd.DataFrame:
    """Per (cell, term) and measure, the estimators ranked by loss, tied when not distinguishable.

    Estimators are sorted by their loss (RMSE; |coverage − level|); each
    shares its predecessor's rank when their paired loss difference is
    within `TIE_MULTIPLE` MCSEs, else takes its position.  Reads one cell
    and one estimator at a time (memory: one cell's arrays), in grid order,
    the first `max_pairs` (cell, term) pairs when given.  Returns one row
    per (cell, term, measure, estimator) with ``value``, ``loss`` and ``rank``.
    """
    from . import records

    rows, pairs = [], 0
    columns = ["rep", "term", "status", *RANKING_COLUMNS]
    for cell in scenario.cells():
        by_term: dict = {}
        reps = None  # the cell's replications (with target_mcse, cells have their own counts)
        for estimator in scenario.estimators:
            data = records.read_cells(Path(run_dir) / "records", [cell], columns, [estimator.label], frame=False)
            if data is None:
                break
            if reps is None:
                reps = np.arange(pc.max(data["rep"]).as_py() + 1)
            terms = data["term"].cast(pa.string())
            names = pc.unique(terms).to_pylist()
            for term in names:
                subset = data if len(names) == 1 else data.filter(pc.equal(terms, term))
                by_term.setdefault(term, {})[estimator.label] = estimator_arrays(subset, reps, RANKING_COLUMNS)
            del data, terms
            pa.default_memory_pool().release_unused()
        for term, wide in by_term.items():
            if max_pairs is not None and pairs >= max_pairs:
                break
            rows += rank_estimators(cell.label, term, wide, scenario.level)
            pairs += 1
    return pd.DataFrame(rows, columns=["cell", "term", "measure", "estimator", "value", "loss", "rank"])


def rank_estimators(cell, term, wide: dict, level: float, measures=("rmse", "coverage")) -> list[dict]:
    """The leaderboard rows of one (cell, term) from its estimators' aligned arrays (`estimator_arrays`)."""
    rows = []
    for measure in measures:
        loss = LOSSES[measure]
        scored = []
        for label, arrays in wide.items():
            usable = arrays["ok"] & _usable(measure, arrays)
            if usable.sum() < 2:
                continue
            value, _ = influence(measure, arrays if usable.all() else {k: v[usable] for k, v in arrays.items()})
            scored.append((loss(value, level), label, value))
        scored.sort(key=lambda t: t[0])
        rank = 0
        for position, (score, label, value) in enumerate(scored):
            if position == 0:
                rank = 1
            elif (
                contrast(wide[scored[position - 1][1]], wide[label], measure, level, TIE_MULTIPLE)["verdict"] == "worse"
            ):
                rank = position + 1
            rows.append(
                {
                    "cell": cell,
                    "term": term,
                    "measure": measure,
                    "estimator": label,
                    "value": value,
                    "loss": score,
                    "rank": rank,
                }  # fmt: skip
            )
    return rows


# -- two runs of one design ------------------------------------------------------------------


def between_runs(
    base: pd.DataFrame,
    new: pd.DataFrame,
    measures=COMPARED,
    multiple: float = 4.0,
    level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure-by-measure contrasts between two summaries of one design, with directions.

    Runs with different seeds are independent, so a difference has MCSE
    √(MCSE_base² + MCSE_new²).  ``changed`` marks any difference beyond
    `multiple` MCSEs (runs with the same seed and design give identical
    numbers, so there any difference at all shows a changed computation);
    ``verdict`` reads the difference of the measure's loss (`LOSSES`):
    ``worse``, ``better`` or ``not distinguishable``.

    Returns
    -------
    table : DataFrame
        One row per (cell, estimator, term, measure) present in both.
    unmatched : DataFrame
        The (cell, estimator, term) rows present in one run only, with ``in``
        naming that run ("base" or "new").
    """
    keys = [k for k in ("cell", "estimator", "term") if k in base and k in new]
    joined = base.merge(new, on=keys, suffixes=("_base", "_new"))
    rows = []
    for _, row in joined.iterrows():
        for m in measures:
            b, n = row[f"{m}_base"], row[f"{m}_new"]
            error = math.hypot(row[f"{m}_mcse_base"], row[f"{m}_mcse_new"])
            difference = n - b
            changed = bool(math.isfinite(difference) and abs(difference) > multiple * error) or (
                math.isfinite(b) != math.isfinite(n)
            )
            loss = LOSSES.get(m)
            judged = verdict(loss(n, level) - loss(b, level), error, multiple) if loss else "no direction"
            if judged == "not measured" and math.isfinite(b) != math.isfinite(n):
                judged = "worse" if not math.isfinite(n) else "better"  # a measure lost or gained
            rows.append(
                {
                    **{k: row[k] for k in keys},
                    "measure": m,
                    "base": b,
                    "new": n,
                    "difference": difference,
                    "difference_mcse": error,
                    "changed": changed,
                    "verdict": judged,
                }
            )
    outer = base[keys].merge(new[keys], on=keys, how="outer", indicator=True)
    unmatched = outer[outer["_merge"] != "both"].rename(columns={"_merge": "in"})
    unmatched["in"] = unmatched["in"].map({"left_only": "base", "right_only": "new"})
    return pd.DataFrame(rows), unmatched.reset_index(drop=True)


def check_better_than(expectation, records: pd.DataFrame, level: float) -> list[dict]:
    """Evaluate a ``better_than`` expectation on the paired replications of every cell it selects.

    ``value`` is the paired loss difference (the estimator's loss minus the
    rival's; negative is better) and ``mcse`` its MCSE; the claim holds when
    value + m·MCSE < 0.
    """
    selected = records
    for name, wanted in expectation.where.items():
        if name != "term":
            selected = selected[selected[name] == wanted]
    table = paired(
        selected, expectation.value, expectation.estimator, level, [expectation.measure], expectation.mcse_multiple
    )
    if "term" in expectation.where and not table.empty:
        table = table[table["term"] == expectation.where["term"]]
    return [
        {
            "cell": row.cell,
            "term": row.term,
            "value": row.loss_difference,
            "mcse": row.loss_mcse,
            "holds": bool(row.verdict == "better"),
        }
        for row in table.itertuples()
    ]
