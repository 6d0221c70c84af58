"""Performance measures and their Monte Carlo standard errors.

Formulas from Morris, White & Crowther (2019), Table 6 (shared MEASURES.md),
checked against direct numpy computations; the quantile MCSEs are checked
for calibration against their known asymptotic values (normal and Cauchy
estimates, the latter having no moments), within 4 MCSE.
"""

import math
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import assert_close

from causalmc.estimators.inference import covers, set_width
from causalmc.sims import summary
from causalmc.sims.scenario import Expectation


def make_records(rng, n_ok=500, n_failed=7, truth=1.0):
    est = truth + 0.3 + rng.normal(size=n_ok) * 0.5
    se = 0.5 * np.sqrt(rng.chisquare(30, size=n_ok) / 30)
    lo, hi = est - 1.96 * se, est + 1.96 * se
    frame = pd.DataFrame(
        {
            "cell": "c",
            "estimator": "e",
            "truth": truth,
            "estimate": est,
            "se": se,
            "ci_low": lo,
            "ci_high": hi,
            "reject": pd.array(~((lo <= truth) & (truth <= hi)), dtype="boolean"),
            "status": "ok",
        }
    )
    failed = pd.DataFrame(
        {
            "cell": "c",
            "estimator": "e",
            "truth": [truth] * n_failed,
            "estimate": np.nan,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "reject": pd.array([None] * n_failed, dtype="boolean"),
            "status": "singular",
        }
    )
    return pd.concat([frame, failed], ignore_index=True)


def test_measures_match_direct_formulas(rng):
    recs = make_records(rng)
    row = summary.summarize(recs).iloc[0]
    ok = recs[recs["status"] == "ok"]
    est, se, truth = ok["estimate"].to_numpy(), ok["se"].to_numpy(), 1.0
    r = len(est)
    e = est - truth
    emp = est.std(ddof=1)
    assert (row["reps"], row["n_ok"], row["n_failed"], row["failures"]) == (r + 7, r, 7, "singular=7")
    assert_close(
        [row["fail_rate"], row["fail_rate_mcse"]], [7 / (r + 7), math.sqrt(7 / (r + 7) * r / (r + 7) / (r + 7))]
    )
    assert_close([row["bias"], row["bias_mcse"]], [e.mean(), emp / math.sqrt(r)])
    assert_close([row["emp_se"], row["emp_se_mcse"]], [emp, emp / math.sqrt(2 * (r - 1))])
    mse = np.mean(e**2)
    mse_mcse = math.sqrt(np.sum((e**2 - mse) ** 2) / (r * (r - 1)))
    assert_close([row["mse"], row["mse_mcse"]], [mse, mse_mcse])
    assert_close([row["rmse"], row["rmse_mcse"]], [math.sqrt(mse), mse_mcse / (2 * math.sqrt(mse))])
    mean_se = math.sqrt(np.mean(se**2))
    var_s2 = np.var(se**2, ddof=1)
    assert_close([row["mean_se"], row["mean_se_mcse"]], [mean_se, math.sqrt(var_s2 / (4 * r * mean_se**2))])
    ratio = mean_se / emp
    assert_close(
        [row["se_ratio"], row["se_ratio_mcse"]],
        [ratio, ratio * math.sqrt(var_s2 / (4 * r * mean_se**4) + 1 / (2 * (r - 1)))],
    )
    cover = np.mean((ok["ci_low"] <= truth) & (truth <= ok["ci_high"]))
    assert_close([row["coverage"], row["coverage_mcse"]], [cover, math.sqrt(cover * (1 - cover) / r)])
    assert_close(row["rejection"], 1 - cover)
    power = np.mean((ok["ci_low"] > 0) | (ok["ci_high"] < 0))
    assert_close(row["power"], power)
    width = ok["ci_high"] - ok["ci_low"]
    assert_close([row["ci_width"], row["ci_width_mcse"]], [width.mean(), width.std(ddof=1) / math.sqrt(r)])
    assert_close([row["median_bias"], row["mad"]], [np.median(e), np.median(np.abs(e))])
    assert_close(row["iqr"], np.subtract(*np.quantile(est, [0.75, 0.25])))
    wrong = np.mean(np.sign(est) != np.sign(truth))  # the truth is 1.0: the share of estimates ≤ 0
    assert_close([row["wrong_sign"], row["wrong_sign_mcse"]], [wrong, math.sqrt(wrong * (1 - wrong) / r)])
    assert math.isnan(row["mean_first_stage_f"])


def test_wrong_sign_counts_replications_against_their_own_truth(rng):
    records = make_records(rng, n_ok=6, n_failed=0)
    records["truth"] = [1.0, 1.0, -2.0, -2.0, 0.0, 0.0]  # a zero truth has no sign: not counted
    records["estimate"] = [0.5, -0.1, -1.0, 3.0, 1.0, -1.0]
    row = summary.summarize(records).iloc[0]
    assert_close([row["wrong_sign"], row["wrong_sign_mcse"]], [0.5, math.sqrt(0.25 / 4)])


def test_too_few_successes_give_nan_not_errors(rng):
    row = summary.summarize(make_records(rng, n_ok=1, n_failed=3)).iloc[0]
    assert row["n_ok"] == 1 and math.isnan(row["bias"]) and math.isnan(row["bias_mcse"])
    exp = Expectation("e", "bias", "equals", 0.3)
    assert summary.check(exp, summary.summarize(make_records(rng, n_ok=1))) == [
        {
            "cell": "c",
            "term": "effect",
            "value": pytest.approx(np.nan, nan_ok=True),
            "mcse": pytest.approx(np.nan, nan_ok=True),
            "holds": False,
        }
    ]


@pytest.mark.parametrize(
    "dist, p, sparsity",
    [
        ("normal", 0.5, math.sqrt(2 * math.pi)),  # 1/φ(0)
        ("cauchy", 0.5, math.pi),  # 1/f(0) for the standard Cauchy
        ("normal", 0.25, 1 / 0.31777657),  # 1/φ(Φ⁻¹(0.25))
    ],
)
def test_quantile_mcse_is_calibrated(rng, dist, p, sparsity):
    """The MCSE of a sample quantile matches that quantile's actual spread over M samples.

    The actual spread (sd over M = 400 samples) is known to ±1/√(2(M−1)) relative;
    the estimator's own O(h²) bias (about 1 %) is far below that.
    """
    r, m = 2000, 400
    draws = rng.standard_normal((m, r)) if dist == "normal" else rng.standard_cauchy((m, r))
    mcse = np.array([summary.quantile_mcse(x, p)[1] for x in draws])
    spread = np.quantile(draws, p, axis=1).std(ddof=1)
    spread_error = spread / math.sqrt(2 * (m - 1))
    assert abs(mcse.mean() - spread) <= 4 * math.hypot(spread_error, mcse.std(ddof=1) / math.sqrt(m))
    assert abs(spread - sparsity * math.sqrt(p * (1 - p) / r)) <= 4 * spread_error


def test_iqr_mcse_is_calibrated(rng):
    r, m = 2000, 400
    draws = rng.standard_normal((m, r))
    mcse = np.array([summary.iqr_mcse(x)[1] for x in draws])
    spread = np.subtract(*np.quantile(draws, [0.75, 0.25], axis=1)).std(ddof=1)
    spread_error = spread / math.sqrt(2 * (m - 1))
    assert abs(mcse.mean() - spread) <= 4 * math.hypot(spread_error, mcse.std(ddof=1) / math.sqrt(m))
    assert abs(spread - 0.5 / (0.31777657 * math.sqrt(r))) <= 4 * spread_error  # √(0.25/(R f²)), f = φ(Φ⁻¹(0.75))


def test_confidence_set_encoding():
    lo = np.array([-1.0, 2.0, np.inf, -np.inf, 0.5])
    hi = np.array([1.0, -2.0, -np.inf, np.inf, np.inf])
    # interval, two rays (-inf,-2] ∪ [2,inf), empty, whole line, half line
    np.testing.assert_array_equal(covers(lo, hi, 0.0), [True, False, False, True, False])
    np.testing.assert_array_equal(covers(lo, hi, 3.0), [False, True, False, True, True])
    np.testing.assert_array_equal(covers(lo, hi, -3.0), [False, True, False, True, False])
    np.testing.assert_array_equal(set_width(lo, hi), [2.0, np.inf, 0.0, np.inf, np.inf])
    assert not covers(np.nan, np.nan, 0.0)


@pytest.mark.parametrize(
    "relation, value, holds",
    [
        ("equals", 0.30, True),
        ("equals", 0.40, False),
        ("above", 0.25, True),
        ("above", 0.30, False),
        ("below", 0.35, True),
        ("below", 0.30, False),
        ("at_most", 0.27, True),
        ("at_most", 0.25, False),
        ("at_least", 0.33, True),
        ("at_least", 0.35, False),
    ],
)
def test_expectation_relations(relation, value, holds):
    table = pd.DataFrame({"cell": ["c"], "estimator": ["e"], "bias": [0.30], "bias_mcse": [0.01]})
    assert summary.check(Expectation("e", "bias", relation, value), table)[0]["holds"] is holds


def test_summary_read_in_batches_equals_the_summary_of_all_records(tmp_path, monkeypatch):
    """write_summary reads cells in batches (and a big cell one estimator at a time) so memory does not grow with the
    replications; the table is the same as summarising every record at once, row for row."""
    import pandas as pd

    import causalmc
    from causalmc.sims import records
    from causalmc.sims.run import pipeline
    from causalmc.sims import summary as summary_module

    text = """
    name = "batches"
    dgp = "confounding"
    reps = 300
    seed = 5
    estimators = ["ols", "ols_adjusted", { name = "ols", se = "hc1", label = "ols_hc1" }]
    [grid]
    n = [20, 50, 80]
    """
    run = causalmc.run(textwrap.dedent(text), out=tmp_path, jobs=1, progress=False, figures=False)
    everything = summary_module.summarize(
        records.read(run.run_dir / "records"),
        grid_params=["n"],
        estimator_order=["ols", "ols_adjusted", "ols_hc1"],
        cell_order=[c.label for c in run.scenario.cells()],
    )
    for batch_rows in (100, 1000, 10**7):  # per estimator of a cell; one cell; every cell at once
        monkeypatch.setattr(pipeline, "SUMMARY_BATCH_ROWS", batch_rows)
        pd.testing.assert_frame_equal(
            pipeline.write_summary(run.run_dir, run.scenario).astype({"cell": str, "estimator": str, "term": str}),
            everything.astype({"cell": str, "estimator": str, "term": str}),
        )
    first = records.read_cells(run.run_dir / "records", run.scenario.cells()[:1], ["rep", "estimator"], ["ols"], 7)
    assert sorted(first["rep"]) == list(range(7)) and set(first["estimator"]) == {"ols"}
