"""The DiD picture, measured on the suite runs (each claim within 4 MCSE)."""

import numpy as np


def _rises(values, mcse):
    """No step falls significantly, and the last value is significantly above the first."""
    steps_ok = np.all(np.diff(values) > -4 * np.hypot(mcse[1:], mcse[:-1]))
    return steps_ok and values[-1] - values[0] > 4 * np.hypot(mcse[-1], mcse[0])


def _series(summary, estimator, param, measure):
    rows = summary[summary["estimator"] == estimator].sort_values(param)
    return rows[param].to_numpy(), rows[measure].to_numpy(), rows[f"{measure}_mcse"].to_numpy()


def test_classical_errors_over_reject_more_as_rho_grows(suite_outcome):
    _, outcome = suite_outcome("did_placebo_laws")
    rho, rejection, mcse = _series(outcome.summary, "twfe_classical", "rho", "rejection")
    assert rho[0] == 0 and _rises(rejection, mcse), rejection
    assert rejection[-1] - 4 * mcse[-1] > 0.2  # strongly: BDM's placebo laws


def test_clustered_and_collapsed_tests_stay_near_five_percent(suite_outcome):
    _, outcome = suite_outcome("did_placebo_laws")
    for label in ("twfe_cluster_nested", "twfe_collapsed"):
        _, rejection, mcse = _series(outcome.summary, label, "rho", "rejection")
        assert np.all(np.abs(rejection - 0.05) <= 4 * mcse), (label, rejection)


def test_naive_comparisons_are_biased_at_every_gap(suite_outcome):
    """before-after = tau + trend + gap − tau; treated-control = group_gap + gap (both 2 + gap at the defaults)."""
    _, outcome = suite_outcome("did_parallel_trends")
    for label in ("before_after", "post_gap"):
        gap, bias, mcse = _series(outcome.summary, label, "trend_gap", "bias")
        assert np.all(np.abs(bias - (2.0 + gap)) <= 4 * mcse), (label, bias)
    gap, bias, mcse = _series(outcome.summary, "did", "trend_gap", "bias")
    assert np.all(np.abs(bias - gap) <= 4 * mcse), bias


def test_twfe_bias_is_the_accumulated_gap_and_pretrend_power_grows(suite_outcome):
    scenario, outcome = suite_outcome("did_parallel_trends_panel")
    half_t = scenario.params["n_periods"] / 2
    gap, bias, mcse = _series(outcome.summary, "twfe_cluster", "trend_gap", "bias")
    assert np.all(np.abs(bias - gap * half_t) <= 4 * mcse), bias
    for label in ("pretrend", "pretrend_nested"):
        _, power, mcse = _series(outcome.summary, label, "trend_gap", "rejection")
        assert _rises(power, mcse), (label, power)
