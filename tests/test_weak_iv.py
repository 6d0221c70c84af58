"""The weak-IV picture, measured (beyond the claims in scenarios/weak_iv.toml).

Each claim is asserted within 4 MCSE on the suite run of weak_iv.
"""

import numpy as np
import pandas as pd


def test_mean_first_stage_f_is_one_plus_mu2_per_instrument(suite_outcome):
    """E[F] for F ~ F'(K, d, λ): d/(d − 2)·(1 + λ/K), with E[λ] = μ²·(n − 1)/n (Z is centred)."""
    scenario, outcome = suite_outcome("weak_iv")
    rows = outcome.summary[outcome.summary["estimator"] == "tsls"]
    n = scenario.params["n"]
    for _, row in rows.iterrows():
        k, mu2_k = row["k_instruments"], row["mu2_per_instrument"]
        d = n - k - 1
        expected = d / (d - 2) * (1 + mu2_k * (n - 1) / n)
        assert abs(row["mean_first_stage_f"] - expected) <= 4 * row["mean_first_stage_f_mcse"], row["cell"]


def test_tsls_median_bias_falls_with_instrument_strength(suite_outcome):
    _, outcome = suite_outcome("weak_iv")
    rows = outcome.summary[outcome.summary["estimator"] == "tsls"]
    for k, group in rows.groupby("k_instruments"):
        group = group.sort_values("mu2_per_instrument")
        bias, mcse = group["median_bias"].to_numpy(), group["median_bias_mcse"].to_numpy()
        steps = np.diff(bias)
        assert np.all(steps <= 4 * np.hypot(mcse[1:], mcse[:-1])), f"K={k}: median bias rose: {bias}"
        assert bias[0] - bias[-1] > 4 * np.hypot(mcse[0], mcse[-1]), f"K={k}: no fall"


def test_tsls_is_centred_near_ols_with_irrelevant_instruments(suite_outcome):
    """At μ² = 0 the 2SLS median bias lies between 0 and the OLS bias, much nearer the latter."""
    _, outcome = suite_outcome("weak_iv")
    s = outcome.summary[outcome.summary["mu2_per_instrument"] == 0].set_index(["k_instruments", "estimator"])
    for k in (1, 5):
        ols = s.loc[(k, "ols"), "bias"]
        tsls, mcse = s.loc[(k, "tsls"), ["median_bias", "median_bias_mcse"]]
        assert tsls + 4 * mcse > 0.9 * ols and tsls - 4 * mcse < 1.1 * ols


def test_conditioning_on_f_above_10_distorts_coverage(suite_outcome):
    """Pre-testing on F > 10 keeps bad draws: coverage of the screened 2SLS falls below nominal in weak cells."""
    _, outcome = suite_outcome("weak_iv")
    rows = outcome.summary[
        (outcome.summary["estimator"] == "tsls_pretest") & (outcome.summary["mu2_per_instrument"] == 5.0)
    ]
    assert (rows["fail_rate"] > 0).all()
    assert rows["failures"].str.fullmatch(r"screened_out=\d+").all(), rows["failures"]
    assert (rows["coverage"] + 4 * rows["coverage_mcse"] < 0.95).all()


def test_stock_yogo_table_is_shipped_and_printed(suite_outcome):
    from causalmc.estimators.iv import stock_yogo
    from causalmc.sims.report import stock_yogo_note

    scenario, outcome = suite_outcome("weak_iv")
    table = stock_yogo()
    assert table[("size", 1, 0.10)] == 16.38 and table[("relative_bias", 5, 0.10)] == 10.83
    note = "\n".join(stock_yogo_note(outcome.summary, scenario))
    assert "K = 1" in note and "16.38" in note and "26.87" in note
    assert isinstance(outcome.summary, pd.DataFrame)
