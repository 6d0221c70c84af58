"""Performance measures with Monte Carlo standard errors.

One summary row per (cell, estimator, term), computed from the records alone.
Following Morris, White & Crowther (2019, Statistics in Medicine 38,
Table 6), over the R replications with status ``ok`` (failures are counted
in ``n_failed``, never used): estimates θ̂ᵢ, standard errors sᵢ, truths θᵢ,
errors eᵢ = θ̂ᵢ − θᵢ.

==================  =========================================  ==========================================
measure             value                                      MCSE
==================  =========================================  ==========================================
mean_estimate       mean θ̂                                     sd(θ̂)/√R
bias                mean e                                     sd(e)/√R (= emp_se/√R for a fixed truth)
emp_se              sd(θ̂), divisor R − 1                      emp_se/√(2(R−1))
mse                 mean e²                                    √(Σ(eᵢ² − mse)²/(R(R−1)))
rmse                √mse                                       MCSE(mse)/(2·rmse)
mean_se             √mean(s²)                                  √(Var(s²)/(4R·mean_se²))
se_ratio            mean_se/emp_se                             ratio·√(Var(s²)/(4R·mean_se⁴) + 1/(2(R−1)))
coverage            share of confidence sets containing θᵢ     √(p(1−p)/R)
ci_width            mean(ci_high − ci_low)                     sd(width)/√R
rejection           share rejecting H0: θ = θᵢ (a test term:  √(p(1−p)/R)
                    its own null, e.g. no pre-trends)
power               share of sets excluding 0                  √(p(1−p)/R)
unbounded_ci        share of unbounded confidence sets         √(p(1−p)/R)
wrong_sign          share of estimates whose sign is not the   √(p(1−p)/R)
                    truth's (replications with θᵢ ≠ 0)
median_bias         median e                                   quantile MCSE (below)
iqr                 Q₀.₇₅(θ̂) − Q₀.₂₅(θ̂)                       quantile MCSE (below)
mad                 median |e|                                 quantile MCSE (below)
fail_rate           n_failed/(n_ok + n_failed)                 √(p(1−p)/(n_ok + n_failed))
mean_first_stage_f  mean first-stage F (every replication      sd(F)/√n_F
                    with a finite F, screened or not)
share_f_gt_10       share of those with F > 10                 √(p(1−p)/n_F)
mean_effective_f    mean effective first-stage F (Montiel      sd/√n
                    Olea & Pflueger), where recorded
share_effective_f_  share with the effective F at or below     √(p(1−p)/n)
weak                its 10 %-worst-case-bias critical value
==================  =========================================  ==========================================

Quantile MCSEs.  Just-identified 2SLS has no mean and LIML no moments, so
an MCSE built on emp_se is meaningless there.  The MCSE of a sample
p-quantile is ŝ(p)·√(p(1−p)/R), with the sparsity ŝ(p) = 1/f(Q(p))
estimated from order statistics as (Q̂(p+h) − Q̂(p−h))/(2h) with the
Hall–Sheather bandwidth h (Koenker 2005, *Quantile Regression*, §3.4.4).
It needs no moments.  For the IQR the two quartiles' asymptotic covariance
p₁(1−p₂)ŝ₁ŝ₂/R enters.  For near-normal estimates it reduces to
√(π/2)·emp_se/√R for the median.

``power`` is read from the confidence set (0 outside it), which is the
estimator's own test of H0: θ = 0 because every interval here is the
inversion of its test.
"""

from __future__ import annotations

import math
from functools import cache
from statistics import NormalDist

import numpy as np
import pandas as pd

from causalmc.estimators.iv.kclass import effective_critical_value
from causalmc.estimators.inference import covers, set_width

MEASURES = (
    "mean_estimate",
    "bias",
    "median_bias",
    "emp_se",
    "mse",
    "rmse",
    "mean_se",
    "se_ratio",
    "coverage",
    "ci_width",
    "rejection",
    "power",
    "unbounded_ci",
    "wrong_sign",
    "iqr",
    "mad",
    "fail_rate",
    "mean_first_stage_f",
    "share_f_gt_10",
    "mean_effective_f",
    "share_effective_f_weak",
)
ID_COLUMNS = ("cell", "estimator", "term")
# What each replication's measures are computed from.
MEASURED_COLUMNS = ("truth", "estimate", "se", "ci_low", "ci_high", "reject", "status")
# diagnostics with measures of their own
DIAGNOSTIC_COLUMNS = ("first_stage_f", "first_stage_f_effective", "effective_f_k_eff")
_NORMAL = NormalDist()


@cache
def _hall_sheather_factor(p: float) -> float:
    z = _NORMAL.inv_cdf(p)
    return _NORMAL.inv_cdf(0.975) ** (2 / 3) * (1.5 * _NORMAL.pdf(z) ** 2 / (2 * z**2 + 1)) ** (1 / 3)


def _hall_sheather(r: int, p: float) -> float:
    """Hall–Sheather bandwidth for the sparsity at p with R observations (α = 0.05)."""
    return r ** (-1 / 3) * _hall_sheather_factor(p)


def quantiles_with_sparsity(x: np.ndarray, probs) -> tuple[np.ndarray, np.ndarray]:
    """Sample quantiles Q̂(p) and sparsities ŝ(p) = (Q̂(p+h) − Q̂(p−h))/(2h), one selection pass."""
    r = len(x)
    probs = np.asarray(probs, dtype=float)
    h = np.array([_hall_sheather(r, p) for p in probs])
    lo, hi = np.maximum(probs - h, 0.0), np.minimum(probs + h, 1.0)
    q = np.quantile(x, np.concatenate([probs, lo, hi]))
    m = len(probs)
    return q[:m], (q[2 * m :] - q[m : 2 * m]) / (hi - lo)


def quantile_mcse(x: np.ndarray, p: float) -> tuple[float, float]:
    """The sample p-quantile and its MCSE ŝ(p)·√(p(1−p)/R)."""
    q, s = quantiles_with_sparsity(x, [p])
    return float(q[0]), float(s[0] * math.sqrt(p * (1 - p) / len(x)))


def iqr_mcse(x: np.ndarray) -> tuple[float, float]:
    """Inter-quartile range and its MCSE (the quartiles' covariance included)."""
    (q1, q3), (s1, s3) = quantiles_with_sparsity(x, [0.25, 0.75])
    var = (0.25 * 0.75 * s1**2 + 0.75 * 0.25 * s3**2 - 2 * 0.25 * 0.25 * s1 * s3) / len(x)
    return float(q3 - q1), math.sqrt(max(var, 0.0))


def _proportion(hits: np.ndarray) -> tuple[float, float]:
    r = len(hits)
    if r == 0:
        return math.nan, math.nan
    p = float(np.mean(hits))
    return p, math.sqrt(p * (1 - p) / r)


def _mean_and_mcse(x: np.ndarray) -> tuple[float, float]:
    r = len(x)
    if r == 0:
        return math.nan, math.nan
    mean = float(np.mean(x))
    if r < 2 or not math.isfinite(mean):
        return mean, math.nan
    return mean, float(np.std(x, ddof=1) / math.sqrt(r))


def measures(group: pd.DataFrame) -> dict:
    """Every measure and its MCSE for one (cell, estimator) group of records."""
    ok = (group["status"] == "ok").to_numpy()
    n_total = len(group)
    n_ok = int(ok.sum())
    everything = bool(ok.all())  # then no copies: memory stays one cell's columns

    def column(name, **kwargs):
        values = group[name].to_numpy(**kwargs)
        return values if everything else values[ok]

    est, truth, se = column("estimate"), column("truth"), column("se")
    lo, hi = column("ci_low"), column("ci_high")
    e = est - truth
    out: dict[str, float] = {}

    def put(name, value, mcse):
        out[name], out[f"{name}_mcse"] = value, mcse

    put("fail_rate", *_proportion(~ok))
    r = n_ok
    if r >= 2:
        emp_se = float(np.std(est, ddof=1))
        put("mean_estimate", *_mean_and_mcse(est))
        put("bias", *_mean_and_mcse(e))
        put("emp_se", emp_se, emp_se / math.sqrt(2 * (r - 1)))
        e2 = e**2
        mse = float(np.mean(e2))
        mse_mcse = math.sqrt(np.sum((e2 - mse) ** 2) / (r * (r - 1)))
        put("mse", mse, mse_mcse)
        rmse = math.sqrt(mse)
        put("rmse", rmse, mse_mcse / (2 * rmse) if rmse > 0 else math.nan)
        s2 = se**2
        mean_se = math.sqrt(np.mean(s2))
        var_s2 = float(np.var(s2, ddof=1))
        put("mean_se", mean_se, math.sqrt(var_s2 / (4 * r * mean_se**2)) if mean_se > 0 else math.nan)
        ratio = mean_se / emp_se if emp_se > 0 else math.nan
        put(
            "se_ratio",
            ratio,
            ratio * math.sqrt(var_s2 / (4 * r * mean_se**4) + 1 / (2 * (r - 1))) if mean_se > 0 else math.nan,
        )
        width = set_width(lo, hi)
        put("ci_width", *_mean_and_mcse(width))
        put("unbounded_ci", *_proportion(~np.isfinite(width)))
        signed = truth != 0
        put("wrong_sign", *_proportion(np.sign(est[signed]) != np.sign(truth[signed])))
        put("median_bias", *quantile_mcse(e, 0.5))
        put("iqr", *iqr_mcse(est))
        put("mad", *quantile_mcse(np.abs(e), 0.5))
    else:
        for name in (
            "mean_estimate",
            "bias",
            "emp_se",
            "mse",
            "rmse",
            "mean_se",
            "se_ratio",
            "ci_width",
            "unbounded_ci",
            "wrong_sign",
            "median_bias",
            "iqr",
            "mad",
        ):
            put(name, math.nan, math.nan)
    # Over the replications that have an interval (a test): a plugin
    # estimator may return only an estimate, and a term may have no truth
    # (a binned event time); then these are not measured.
    has_set = ~(np.isnan(lo) | np.isnan(hi))
    has_truth = has_set & np.isfinite(truth)
    put("coverage", *_proportion(covers(lo[has_truth], hi[has_truth], truth[has_truth])))
    tested = column("reject", dtype=float, na_value=np.nan)
    put("rejection", *_proportion(tested[~np.isnan(tested)] == 1.0))
    put("power", *_proportion(~covers(lo[has_set], hi[has_set], 0.0)))
    if "first_stage_f" in group:
        f = group["first_stage_f"].to_numpy()
        f = f[np.isfinite(f)]
        put("mean_first_stage_f", *_mean_and_mcse(f))
        put("share_f_gt_10", *_proportion(f > 10))
    else:
        put("mean_first_stage_f", math.nan, math.nan)
        put("share_f_gt_10", math.nan, math.nan)
    if "first_stage_f_effective" in group:
        f = group["first_stage_f_effective"].to_numpy()
        finite = np.isfinite(f)
        put("mean_effective_f", *_mean_and_mcse(f[finite]))
        k_eff = group["effective_f_k_eff"].to_numpy() if "effective_f_k_eff" in group else np.full(len(f), np.nan)
        critical = effective_critical_value(k_eff)
        judged = finite & np.isfinite(critical)
        put("share_effective_f_weak", *_proportion(~(f[judged] > critical[judged])))
    else:
        put("mean_effective_f", math.nan, math.nan)
        put("share_effective_f_weak", math.nan, math.nan)
    failures = group.loc[~ok, "status"].value_counts()
    failures = failures[failures > 0]  # a categorical status lists every category
    return {
        "truth": float(group["truth"].mean()),
        "reps": n_total,
        "n_ok": n_ok,
        "n_failed": n_total - n_ok,
        "failures": ";".join(f"{k}={v}" for k, v in failures.items()),
        **{k: out[k] for m in MEASURES for k in (m, f"{m}_mcse")},
    }


def needed_columns(grid_params) -> list[str]:
    """The record columns `summarize` reads (a run's diagnostics beyond these are skipped)."""
    return ["cell", *grid_params, "estimator", "term", *MEASURED_COLUMNS, *DIAGNOSTIC_COLUMNS]


def summarize(records: pd.DataFrame, grid_params=(), estimator_order=None, cell_order=None) -> pd.DataFrame:
    """One row per (cell, estimator) with every measure and its MCSE.

    Parameters
    ----------
    records : DataFrame
        Records of a run (see `sims.records`).
    grid_params : sequence of str
        Grid parameter columns to carry into the summary.
    estimator_order, cell_order : sequence of str, optional
        Row order (default: order of first appearance).
    """
    if "term" not in records:  # records written before terms existed: one term each
        records = records.assign(term="effect")
    rows = []
    for (cell, label, term), group in records.groupby(list(ID_COLUMNS), sort=False, observed=True):
        first = group.iloc[0]
        rows.append(
            {"cell": cell, **{p: first[p] for p in grid_params}, "estimator": label, "term": term, **measures(group)}
        )
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    term_rank = {t: i for i, t in enumerate(pd.unique(records["term"]))}  # as the estimators give them
    summary = summary.iloc[sorted(range(len(summary)), key=lambda i: term_rank[summary["term"][i]])]
    return order_rows(summary.reset_index(drop=True), estimator_order, cell_order)


def mcse_ratios(summary: pd.DataFrame, targets: dict) -> pd.DataFrame:
    """Per summary row and targeted measure, MCSE / target (> 1: not yet precise enough).

    NaN where a row has no MCSE of that measure (e.g. coverage of an
    estimator without intervals): such a row neither meets nor misses it.
    """
    return pd.DataFrame({m: summary[f"{m}_mcse"].astype(float) / t for m, t in targets.items()}, index=summary.index)


def with_targets(summary: pd.DataFrame, targets: dict) -> pd.DataFrame:
    """The summary with ``target_met`` and ``targets_missed`` (the measures whose MCSE is above its target)."""
    if summary.empty or not targets:
        return summary
    over = mcse_ratios(summary, targets) > 1
    missed = [",".join(m for m in over.columns if over.at[i, m]) for i in summary.index]
    return summary.assign(target_met=[not m for m in missed], targets_missed=missed)


def order_rows(summary: pd.DataFrame, estimator_order=None, cell_order=None) -> pd.DataFrame:
    """Summary rows by cell, then estimator (given orders, else first appearance); terms keep their order."""
    if summary.empty:
        return summary
    cell_rank = {c: i for i, c in enumerate(cell_order or dict.fromkeys(summary["cell"]))}
    est_rank = {e: i for i, e in enumerate(estimator_order or dict.fromkeys(summary["estimator"]))}
    order = sorted(
        range(len(summary)), key=lambda i: (cell_rank[summary["cell"][i]], est_rank[summary["estimator"][i]])
    )
    return summary.iloc[order].reset_index(drop=True)


def check(expectation, summary: pd.DataFrame) -> list[dict]:
    """Evaluate one `sims.scenario.Expectation` on every cell it selects.

    Returns one dict per selected (cell, estimator) row with the measure,
    its MCSE, the allowed band and whether the claim holds.
    """
    rows = summary[summary["estimator"] == expectation.estimator]
    for name, value in expectation.where.items():
        rows = rows[rows[name] == value]
    results = []
    for _, row in rows.iterrows():
        value, mcse = row[expectation.measure], row[f"{expectation.measure}_mcse"]
        margin = expectation.mcse_multiple * mcse
        if not (np.isfinite(value) and np.isfinite(mcse)):
            holds = False  # a claim that cannot be measured does not hold
        else:
            holds = {
                "equals": abs(value - expectation.value) <= margin,
                "above": value - margin > expectation.value,
                "below": value + margin < expectation.value,
                "at_most": value - margin <= expectation.value,
                "at_least": value + margin >= expectation.value,
            }[expectation.relation]
        results.append(
            {"cell": row["cell"], "term": row.get("term"), "value": value, "mcse": mcse, "holds": bool(holds)}
        )
    return results
