"""The clustered, heteroskedastic and heavy-tailed iv designs: their draws are what the DGP docstring says.

Each claim is a Monte Carlo statement held within 4 MCSE.
"""

import numpy as np
import pytest

from causalmc.sims import dgps
from causalmc.sims.dgps.iv import first_stage_coefficient, first_stage_variance_trace

DGP = dgps.registry()["iv"]


def params(**values):
    return {p.name: p.default for p in DGP.params} | values


def test_independent_normal_design_draws_as_before():
    """Without clusters and with normal errors the draws are the independent design's (a unit's Z, U, v, e in order)."""
    p = params(n=5, k_instruments=2, pi=0.5, hetero=0.3)
    batch = DGP.generate(np.random.default_rng(3), 1, p)
    rng = np.random.default_rng(3)
    for i in range(5):
        z1, z2, u, v, e = rng.standard_normal(5)
        s = 1 + 0.3 * abs(z1)
        x = 0.5 * (z1 + z2) + s * (u + v)
        assert np.allclose([batch["z"][0, 0, i], batch["z"][0, 1, i], batch["x"][0, i]], [z1, z2, x], rtol=1e-14)
        assert np.isclose(batch["y"][0, i], 2.0 * x + s * (3.0 * u + e), rtol=1e-14)
    assert batch["cluster"][0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("icc, icc_z", [(0.3, 0.6), (0.7, 1.0)])
def test_intra_cluster_correlations(icc, icc_z):
    """Pairs of units in the same cluster: corr(Z) = icc_z and corr(v + U) = icc (the first-stage error, pi = 0)."""
    p = params(n=40, n_clusters=20, pi=0.0, icc=icc, icc_z=icc_z, gamma=0.0, beta=0.0)
    batch = DGP.generate(np.random.default_rng(11), 4000, p)
    assert batch["cluster"][0].tolist() == [float(i // 2) for i in range(40)]
    z_pairs = batch["z"][:, 0, 0::2] * batch["z"][:, 0, 1::2]  # E = icc_z (unit variances)
    w = batch["x"]  # U + v, variance 2, within-pair covariance 2·icc
    w_pairs = w[:, 0::2] * w[:, 1::2] / 2
    for values, expected in ((z_pairs, icc_z), (w_pairs, icc)):
        per_rep = values.mean(axis=1)
        mean, mcse = per_rep.mean(), per_rep.std(ddof=1) / np.sqrt(len(per_rep))
        assert abs(mean - expected) <= 4 * mcse, (mean, expected, mcse)


def test_t_errors_have_unit_variance_and_heavy_tails():
    """error_df = 5: Var(U + v) = 2, and kurtosis above the normal's 3."""
    p = params(n=2000, pi=0.0, error_df=5.0, gamma=0.0, beta=0.0)
    w = DGP.generate(np.random.default_rng(2), 200, p)["x"]
    var = (w**2).mean(axis=1)
    assert abs(var.mean() - 2.0) <= 4 * var.std(ddof=1) / np.sqrt(len(var))
    # U + v is a sum of two t(5)/√(5/3): kurtosis 3 + 6/2 = 6 (each t(5) has excess kurtosis 6); normal: 3.
    kurtosis = (w**4).mean(axis=1) / var**2
    assert kurtosis.mean() - 4 * kurtosis.std(ddof=1) / np.sqrt(len(kurtosis)) > 3.0


@pytest.mark.parametrize(
    "design",
    [
        {"k_instruments": 3, "hetero": 1.0},
        {"k_instruments": 2, "n_clusters": 25, "icc": 0.5, "icc_z": 0.8},
    ],
)
def test_effective_strength_uses_the_long_run_variance_of_the_first_stage_score(design):
    """tr Ω of the docstring against Monte Carlo: Var(n^{-1/2} Σ_i Z_ij w_i) summed over j, w = s(U + v)."""
    p = params(n=200, mu2_per_instrument=4.0, strength="effective", **design)
    pi = first_stage_coefficient(p)
    batch = DGP.generate(np.random.default_rng(8), 4000, p)
    w = batch["x"] - pi * batch["z"].sum(axis=1)  # the first-stage error
    score = (batch["z"] * w[:, None, :]).sum(axis=2) / np.sqrt(p["n"])  # (R, K)
    trace = (score**2).sum(axis=1)  # its expectation is tr Ω (mean zero)
    mcse = trace.std(ddof=1) / np.sqrt(len(trace))
    assert abs(trace.mean() - first_stage_variance_trace(p)) <= 4 * mcse
    assert np.isclose(pi, np.sqrt(4.0 * first_stage_variance_trace(p) / (design["k_instruments"] * 200)))


def test_effective_strength_with_heteroskedastic_clusters_is_a_scenario_error():
    problems = DGP.check(params(n=40, n_clusters=4, hetero=1.0, mu2_per_instrument=2.0, strength="effective"))
    assert any("no closed form" in message for _, message in problems)
    problems = DGP.check(params(icc=0.3, pi=1.0))
    assert any("need n_clusters > 0" in message for _, message in problems)
