"""``rd_global``: the global polynomial RD estimate held to statsmodels OLS, and through the seam.

Convention (statsmodels 0.14 ``OLS(y, X).fit(cov_type=...)``): X = [1, D, x, …, x^P, D·x, …, D·x^P] with
D = 1(x ≥ 0), the estimate is the coefficient on D; ``HC0`` … ``HC3`` as statsmodels computes them (HC1 = HC0·n/(n−k),
k = 2(P + 1) columns), and with ``cluster`` statsmodels' ``cov_type = "cluster"`` with its default small-sample
correction G/(G − 1)·(n − 1)/(n − k).  The interval is the normal one, statsmodels' default for these covariances
(``use_t = False``): ``conf_int()`` equals τ̂ ± z·se.  Compared at 1e-8 relative.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import CI_HIGH, CI_LOW, ESTIMATE, SE, kernel_and_twin, write_scenario

import causalmc
from causalmc.estimators import status as st
from causalmc.estimators.rd.global_polynomial import N_LEFT, N_RIGHT, SE_TYPES

NAME = "rd_global"


def statsmodels_fit(x, y, order, cov_type, groups=None):
    d = (x >= 0).astype(float)
    powers = x[:, None] ** np.arange(1, order + 1)
    design = np.column_stack([np.ones_like(x), d, powers, d[:, None] * powers])
    kwargs = {"groups": groups} if cov_type == "cluster" else {}
    fit = sm.OLS(y, design).fit(cov_type=cov_type, cov_kwds=kwargs or None)
    return fit.params[1], fit.bse[1], fit.conf_int(0.05)[1]


def random_batch(rng, n_reps, n, clusters):
    """Running variables of several shapes (uniform, skewed, unequal sides), curved means, heteroskedastic
    errors, cluster ids 0 … G − 1 with a shared shock."""
    x = np.where(rng.random((n_reps, 1)) < 0.5, rng.uniform(-1, 1, (n_reps, n)), 2 * rng.beta(2, 4, (n_reps, n)) - 1)
    x = x * rng.uniform(0.2, 3.0, (n_reps, 1))
    g = rng.integers(0, clusters, (n_reps, n)).astype(float)
    shock = rng.normal(size=(n_reps, clusters))
    noise = rng.normal(size=(n_reps, n)) * (0.2 + np.abs(x))
    y = 0.5 + np.sin(2 * x) + 0.3 * (x >= 0) + noise + np.take_along_axis(shock, g.astype(int), axis=1)
    return {"x": x, "y": y, "cluster": g}


def test_kernel_twin_and_statsmodels_agree_on_many_datasets():
    """Orders 0, 1, 2, 4 × hc0 … hc3 and CR1, 6 datasets each (n from 60 to 400): estimate, se and interval of the
    kernel equal the twin's and statsmodels' to 1e-8; the diagnostics count each side's units."""
    rng = np.random.default_rng(25)
    compared = 0
    for order in (0, 1, 2, 4):
        for se in (*SE_TYPES, "cluster"):
            n = int(rng.integers(60, 400))
            batch = random_batch(rng, 6, n, clusters=int(rng.integers(5, 30)))
            options = {"order": order} | ({"cluster": "cluster"} if se == "cluster" else {"se": se})
            out, status = kernel_and_twin(NAME, batch, options)
            for r in range(6):
                x, y = batch["x"][r], batch["y"][r]
                expected = statsmodels_fit(x, y, order, se.upper() if se != "cluster" else se, batch["cluster"][r])
                np.testing.assert_allclose(out[r, [ESTIMATE, SE]], expected[:2], rtol=1e-8)
                np.testing.assert_allclose(out[r, [CI_LOW, CI_HIGH]], expected[2], rtol=1e-8)
                assert out[r, N_LEFT] == (x < 0).sum() and out[r, N_RIGHT] == (x >= 0).sum()
                compared += 1
    assert compared == 4 * 5 * 6


def test_failures_are_statuses():
    """Too few distinct x on a side for the order: singular; n ≤ k: no_residual_df; one cluster: too_few_clusters;
    a point of leverage one under hc2: leverage_one.  NaN numbers, no exception."""
    x = np.array([[-0.5, -0.5, -0.2, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9]])
    batch = {"x": x, "y": x**2 + np.arange(10) * 0.01, "cluster": np.zeros_like(x)}
    cases = [
        ({"order": 2}, st.SINGULAR),  # two distinct x left of the cutoff for three coefficients
        ({"order": 4}, st.NO_RESIDUAL_DF),  # n = 10 = k
        ({"order": 1, "cluster": "cluster"}, st.TOO_FEW_CLUSTERS),
        ({"order": 1, "se": "hc2"}, st.LEVERAGE_ONE),  # the left side's line passes through its lone x = −0.2
    ]
    for options, code in cases:
        out, status = kernel_and_twin(NAME, batch, options, all_ok=False)
        assert status[0] == code and np.isnan(out[0, :5]).all(), options


SEAM = """dgp = "rd"
estimators = [
    { name = "rd_global", label = "global4" },
    { name = "rd_global", order = 2, cluster = "cluster", label = "global2_cr1" },
]
[params]
n = 400
clusters = 25
"""


def test_through_the_seam(tmp_path):
    """Scenario text → run → records; `sample` and `estimate` give the record's numbers, equal to statsmodels' on the
    sampled frame (order 4 with HC1 by default; order 2 with CR1 by the DGP's clusters); the truth is the jump."""
    path = write_scenario(tmp_path, "rd_global_seam", SEAM, reps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = causalmc.run(path, out=tmp_path / "runs", jobs=1, progress=False, figures=False)
    records = run.records()
    assert (records["status"] == "ok").all() and set(records["estimator"]) == {"global4", "global2_cr1"}
    np.testing.assert_allclose(records["truth"], 0.52 - 0.48, rtol=1e-12)
    frame = causalmc.sample(path, rep=1)
    x, y, g = (frame[c].to_numpy() for c in ("x", "y", "cluster"))
    for label, options, expected in (
        ("global4", {}, statsmodels_fit(x, y, 4, "HC1")),
        ("global2_cr1", {"order": 2, "cluster": "cluster"}, statsmodels_fit(x, y, 2, "cluster", g)),
    ):
        got = causalmc.estimate({"name": NAME, **options}, frame)
        np.testing.assert_allclose([got["estimate"], got["se"]], expected[:2], rtol=1e-8)
        mine = records[(records["rep"] == 1) & (records["estimator"] == label)].iloc[0]
        np.testing.assert_allclose([mine["estimate"], mine["se"]], [got["estimate"], got["se"]], rtol=1e-12)


def test_cluster_with_hc2_is_refused_naming_the_key(tmp_path):
    body = 'dgp = "rd"\nestimators = [{ name = "rd_global", cluster = "cluster", se = "hc2" }]\n[params]\nn = 100\n'
    path = write_scenario(tmp_path, "rd_global_bad", body)
    with pytest.raises(Exception, match=r"rd_global_bad.*estimators\[0\]") as info:
        causalmc.run(path, out=tmp_path / "runs", jobs=1, progress=False, figures=False)
    assert "hc1" in str(info.value)
