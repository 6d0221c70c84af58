"""IV kernels ≡ twins ≡ linearmodels on random datasets; AR, tF and failures.

Conventions held (linearmodels 6+/7):
- 2SLS/LIML/Fuller classical: σ̂² = û'û/(n − k), û = y − Xb the structural
  residuals, k = 2 (intercept and x): ``fit(cov_type="unadjusted", debiased=True)``.
- hc1: HC0 · n/(n − k), P_Z X in the middle for every k-class estimator:
  ``fit(cov_type="robust", debiased=True)``.
- intervals: normal critical values (linearmodels switches to t(n − k) when
  debiased, so intervals are checked against est ± z·se, not its conf_int).
- first-stage F: classical F of the excluded instruments on (K, n − K − 1)
  degrees of freedom = ``first_stage.diagnostics["f.stat"]`` (unadjusted,
  debiased); robust: our F is W/K, linearmodels' robust f.stat is W (HC0 ·
  n/(n − K − 1) with debiased=True).
- Fuller: κ = κ_LIML − α/(n − L), L = K + 1 instruments with the intercept.
"""

from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, assert_close, kernel_and_twin, run_estimator, st
from linearmodels.iv import IV2SLS, IVLIML
from scipy import stats

from causalmc.estimators.iv import TF_MAX_F, reference_ar_statistic, tf_critical, tf_table
from causalmc.estimators.iv.kclass import FIRST_F, effective_critical_value
from causalmc.estimators.iv.tf import TF_CRITICAL


def random_batch(rng, n_reps, n, k, strength=1.0, hetero=0.5):
    """Random IV data; the default strength keeps the first stage far from degenerate, so the
    estimates are well-conditioned and 1e-8 agreement is meaningful (weak instruments are
    the Monte Carlo tests' business)."""
    z = rng.normal(size=(n_reps, k, n)) * rng.uniform(0.5, 2.0, size=(n_reps, k, 1)) + 1.0
    u = rng.normal(size=(n_reps, n))
    s = 1 + hetero * np.abs(z[:, 0])
    x = strength * z.sum(axis=1) + s * (u + rng.normal(size=(n_reps, n))) + 5.0
    y = 1.0 + 2.0 * x + s * (3.0 * u + rng.standard_t(6, size=(n_reps, n)))
    return {"y": y, "x": x, "z": z}


def linearmodels_fit(batch, r, method, se, fuller=0.0):
    y, x, z = batch["y"][r], batch["x"][r], batch["z"][r].T
    exog = np.ones((len(y), 1))
    model = IV2SLS(y, exog, x, z) if method == "tsls" else IVLIML(y, exog, x, z, fuller=fuller)
    return model.fit(cov_type="unadjusted" if se == "classical" else "robust", debiased=True)


@pytest.mark.parametrize(
    "name, method, fuller", [("tsls", "tsls", 0.0), ("liml", "liml", 0.0), ("fuller", "liml", 1.0)]
)
@pytest.mark.parametrize("se", ["classical", "hc1"])
@pytest.mark.parametrize("n, k", [(25, 1), (200, 1), (60, 3), (500, 5)])
def test_kclass_matches_linearmodels(rng, name, method, fuller, se, n, k):
    batch = random_batch(rng, 12, n, k)
    truth = np.full(12, 2.0)
    out, _ = kernel_and_twin(name, batch, {"se": se}, level=0.9, truth=truth)
    z = stats.norm.ppf(0.95)
    for r in range(12):
        fit = linearmodels_fit(batch, r, method, se, fuller)
        assert_close(out[r, [ESTIMATE, SE]], [fit.params["endog"], fit.std_errors["endog"]], what=f"rep {r}")
        assert_close(out[r, [CI_LOW, CI_HIGH]], out[r, ESTIMATE] + np.array([-z, z]) * out[r, SE])
        assert out[r, REJECT] == float(abs(out[r, ESTIMATE] - 2.0) > z * out[r, SE])
        diagnostics = fit.first_stage.diagnostics.loc["endog"]
        if se == "classical":
            assert_close(out[r, 5], diagnostics["f.stat"], what="first-stage F")
            assert np.isnan(out[r, 6])
        else:
            assert_close(out[r, 6] * k, diagnostics["f.stat"], what="robust first-stage Wald")
        if method == "liml":
            assert_close(out[r, 7], fit.kappa, what="kappa")


def test_liml_equals_tsls_when_just_identified(rng):
    batch = random_batch(rng, 10, 80, 1)
    liml, _ = run_estimator("liml", batch)
    tsls, _ = run_estimator("tsls", batch)
    assert_close(liml[:, :5], tsls[:, :5], rtol=1e-10)
    assert_close(liml[:, 7], 1.0, rtol=1e-12)


def test_first_stage_f_is_the_classical_f_test(rng):
    """Independent check with statsmodels: F test of the instruments in x ~ 1 + z."""
    batch = random_batch(rng, 8, 120, 3)
    out, _ = run_estimator("tsls", batch)
    for r in range(8):
        fit = sm.OLS(batch["x"][r], sm.add_constant(batch["z"][r].T)).fit()
        assert_close(out[r, 5], fit.f_test(np.eye(4)[1:]).fvalue, what="F")


@pytest.mark.parametrize("n, k, strength", [(40, 1, 0.3), (200, 3, 0.05), (100, 5, 0.0), (500, 2, 1.0)])
def test_anderson_rubin_statistic_and_set(rng, n, k, strength):
    """Statistic, test and set against an outside F test and the twin.

    A bound of the set can be ill-conditioned (a nearly flat quadratic puts
    it far out), so bounds are compared where that is well posed: each
    finite bound must be a root of AR(β0) = c, and kernel and twin must
    agree on the set's shape.  The reported estimate is the 2SLS one, which
    with irrelevant instruments is ill-conditioned too: it must equal the
    tsls kernel's exactly (tsls is held to linearmodels above).  The test
    itself is compared to 1e-8.
    """
    batch = random_batch(rng, 25, n, k, strength=strength, hetero=0.0)
    truth = np.full(25, 2.0)
    out, status = run_estimator("anderson_rubin", batch, level=0.9, truth=truth)
    ref, ref_status = run_estimator("anderson_rubin", batch, level=0.9, truth=truth, reference=True)
    assert (status == st.OK).all() and (ref_status == st.OK).all()
    assert_close(out[:, [SE, REJECT, 5, 6]], ref[:, [SE, REJECT, 5, 6]], what="kernel vs twin")
    assert (shape_of(out) == shape_of(ref)).all()
    np.testing.assert_array_equal(out[:, ESTIMATE], run_estimator("tsls", batch)[0][:, ESTIMATE])
    crit = stats.f.ppf(0.9, k, n - k - 1)
    for r in range(25):
        y, x = batch["y"][r], batch["x"][r]
        Z = sm.add_constant(batch["z"][r].T)
        ols = sm.OLS(y - 2.0 * x, Z).fit()  # statsmodels' F test of the instruments, an outside oracle
        assert_close(out[r, 5], ols.f_test(np.eye(k + 1)[1:]).fvalue, what="AR statistic")
        assert out[r, REJECT] == float(out[r, 5] > crit)
        low, high = out[r, CI_LOW], out[r, CI_HIGH]
        for bound in (low, high):  # finite bounds are where AR crosses its critical value
            if np.isfinite(bound):
                assert_close(reference_ar_statistic(y, x, Z, bound), crit, what="AR at a bound")
        if np.isfinite(low) and np.isfinite(high):
            inside = (low + high) / 2 if low <= high else low + 1.0
            assert reference_ar_statistic(y, x, Z, inside) <= crit


def shape_of(out):
    """0 interval, 1 two rays, 2 whole line, 3 empty, 4 half line (encoding of estimators.inference)."""
    low, high = out[:, CI_LOW], out[:, CI_HIGH]
    finite = np.isfinite(low) & np.isfinite(high)
    return np.select(
        [
            finite & (low <= high),
            finite & (low > high),
            (low == -np.inf) & (high == np.inf),
            (low == np.inf) & (high == -np.inf),
        ],
        [0, 1, 2, 3],
        4,
    )


def test_anderson_rubin_set_shapes_all_occur(rng):
    """Weak instruments give unbounded sets; strong ones intervals (stored as documented)."""
    weak = random_batch(rng, 300, 50, 1, strength=0.0, hetero=0.0)
    out, _ = run_estimator("anderson_rubin", weak, truth=np.full(300, 2.0))
    low, high = out[:, CI_LOW], out[:, CI_HIGH]
    assert ((low == -np.inf) & (high == np.inf)).any(), "whole line"
    assert ((low > high) & np.isfinite(low)).any(), "two rays"
    strong = random_batch(rng, 20, 500, 1, strength=1.0, hetero=0.0)
    out, _ = run_estimator("anderson_rubin", strong, truth=np.full(20, 2.0))
    assert (np.isfinite(out[:, CI_LOW]) & (out[:, CI_LOW] < out[:, CI_HIGH])).all()


def test_tf_critical_values_are_the_published_table():
    grid, values = tf_table()
    for s, c in zip(grid, values):
        f = s * s
        expected = 1.96 if f >= TF_MAX_F else c
        assert tf_critical(f) == pytest.approx(expected, abs=1e-12)
    # The paper's example, to the table's precision: entries are rounded to 0.01, so an
    # interpolated value and the paper's rounded report each carry up to ±0.005.
    assert tf_critical(10.0) == pytest.approx(3.43, abs=0.01)
    assert tf_critical(3.99) == np.inf and tf_critical(104.7) == 1.96 and tf_critical(1e6) == 1.96
    fs = np.linspace(4, 110, 500)
    assert np.all(np.diff([tf_critical(f) for f in fs]) <= 0), "non-increasing in F"


def test_tf_uses_the_table_at_the_first_stage_f(rng):
    batch = random_batch(rng, 40, 200, 1, strength=0.15)
    out, status = run_estimator("tsls_tf", batch, truth=np.full(40, 2.0))
    tsls, _ = run_estimator("tsls", batch, truth=np.full(40, 2.0))
    ok = status == st.OK
    assert ok.all()
    c = np.array([tf_critical(f) for f in out[:, FIRST_F]])
    assert_close(out[:, TF_CRITICAL], c)
    assert_close(out[:, ESTIMATE], tsls[:, ESTIMATE])
    bounded = np.isfinite(c)
    assert_close(out[bounded, CI_HIGH], tsls[bounded, ESTIMATE] + c[bounded] * tsls[bounded, SE])
    assert (out[~bounded, REJECT] == 0).all()


def test_tf_applies_only_to_one_instrument_and_level_95():
    from causalmc import estimators

    spec = estimators.registry()["tsls_tf"]
    assert spec.applies({"z": (1, 100)}, {}) is None
    assert "K = 3" in spec.applies({"z": (3, 100)}, {})
    assert spec.check({}, 0.95) is None and "0.95" in spec.check({}, 0.9)


def test_pretest_screens_weak_first_stages(rng):
    batch = random_batch(rng, 200, 100, 1, strength=0.12, hetero=0.0)
    out, status = run_estimator("tsls_pretest", batch, {"f_min": 10.0})
    tsls, _ = run_estimator("tsls", batch)
    weak = tsls[:, 5] <= 10
    assert weak.any() and (~weak).any()
    assert (status[weak] == st.SCREENED_OUT).all() and (status[~weak] == st.OK).all()
    assert np.isnan(out[weak, ESTIMATE]).all()
    assert_close(out[:, 5], tsls[:, 5], what="F is recorded for screened replications too")
    assert_close(out[~weak, :5], tsls[~weak, :5])


@pytest.mark.parametrize("name", ["tsls", "liml", "fuller", "anderson_rubin", "tsls_tf"])
def test_degenerate_instruments_are_statuses(rng, name):
    batch = random_batch(rng, 4, 30, 1)
    batch["z"][0] = 1.0  # constant instrument: collinear with the intercept
    batch["x"][1] = 3.0  # constant treatment: no first-stage fit
    for reference in (False, True):
        out, status = run_estimator(name, batch, reference=reference)
        assert list(status[:2]) == [st.SINGULAR, st.NO_VARIATION]
        assert np.isnan(out[:2, :5]).all()
        assert (status[2:] == st.OK).all()
    two = random_batch(rng, 2, 30, 2)
    two["z"][:, 1] = 2 * two["z"][:, 0]  # collinear instruments
    if name != "tsls_tf":
        assert (run_estimator(name, two)[1] == st.SINGULAR).all()


# -- clustered standard errors and the effective first-stage F --------------------------------------


def clustered_batch(rng, n_reps, n, k, n_clusters):
    """random_batch with cluster ids (uneven sizes, every cluster used) and a cluster effect in the errors."""
    batch = random_batch(rng, n_reps, n, k)
    groups = np.sort(np.concatenate([np.arange(n_clusters), rng.integers(0, n_clusters, n - n_clusters)]))
    batch["cluster"] = np.tile(groups.astype(float), (n_reps, 1))
    shock = rng.normal(size=(n_reps, n_clusters))[:, groups]
    batch["x"] = batch["x"] + shock
    batch["y"] = batch["y"] + 2.0 * shock
    return batch


def statsmodels_first_stage(batch, r, se):
    """The first stage x ~ 1 + z with statsmodels' HC1 or cluster covariance (CR1: G/(G−1)·(n−1)/(n−K−1))."""
    Z = sm.add_constant(batch["z"][r].T)
    model = sm.OLS(batch["x"][r], Z)
    if se == "hc1":
        return model.fit(cov_type="HC1")
    return model.fit(cov_type="cluster", cov_kwds={"groups": batch["cluster"][r].astype(int)})


def mop_effective_f(batch, r, se):
    """Montiel Olea & Pflueger's effective F and the K_eff of its simplified critical value from statsmodels'
    covariance of π̂: F_eff = π̂'S_zz π̂ / tr(V̂_π S_zz) (z centred), K_eff from the eigenvalues of V̂_π S_zz
    (weakivtest's formulas, x = 1/τ = 10; the cluster covariance with its CR1 factor)."""
    fit = statsmodels_first_stage(batch, r, se)
    pi, cov = fit.params[1:], fit.cov_params()[1:, 1:]
    zc = batch["z"][r].T - batch["z"][r].T.mean(axis=0)
    szz = zc.T @ zc
    w = cov @ szz
    eig = np.linalg.eigvals(w).real
    k_eff = np.trace(w) ** 2 * 21 / (np.trace(w @ w) + 20 * np.trace(w) * eig.max())
    return pi @ szz @ pi / np.trace(w), k_eff


@pytest.mark.parametrize(
    "name, method, fuller", [("tsls", "tsls", 0.0), ("liml", "liml", 0.0), ("fuller", "liml", 1.0)]
)
@pytest.mark.parametrize("n, k, n_clusters", [(60, 1, 12), (300, 3, 30), (400, 5, 47)])
def test_kclass_cluster_matches_linearmodels(rng, name, method, fuller, n, k, n_clusters):
    """CR1 by cluster, G/(G−1)·(n−1)/(n−2) (linearmodels cov_type="clustered", debiased=True, whose interval uses
    t(n−2); ours t(G−1)); first stage: statsmodels' cluster Wald / K = linearmodels' f.stat / K; the effective F
    and its critical value as weakivtest computes them."""
    batch = clustered_batch(rng, 6, n, k, n_clusters)
    out, _ = kernel_and_twin(name, batch, {"se": "cluster"}, level=0.9, truth=np.full(6, 2.0))
    crit = stats.t.ppf(0.95, n_clusters - 1)
    for r in range(6):
        y, x, z = batch["y"][r], batch["x"][r], batch["z"][r].T
        model = (
            IV2SLS(y, np.ones((n, 1)), x, z) if method == "tsls" else IVLIML(y, np.ones((n, 1)), x, z, fuller=fuller)
        )
        fit = model.fit(cov_type="clustered", clusters=batch["cluster"][r].astype(int), debiased=True)
        assert_close(out[r, [ESTIMATE, SE]], [fit.params["endog"], fit.std_errors["endog"]], what=f"rep {r}")
        assert_close(out[r, [CI_LOW, CI_HIGH]], out[r, ESTIMATE] + np.array([-crit, crit]) * out[r, SE])
        assert_close(out[r, 6] * k, fit.first_stage.diagnostics.loc["endog", "f.stat"], what="cluster first-stage W")
        assert_close(out[r, [8, 9]], mop_effective_f(batch, r, "cluster"), what="effective F, K_eff")


@pytest.mark.parametrize("se", ["hc1", "cluster"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_effective_f(rng, se, k):
    """HC1 or CR1 effective F and K_eff against weakivtest's formulas; with one instrument the effective F is the
    robust first-stage F (linearmodels' f.stat) and K_eff = 1 (critical value 23.1085, MOP's); classical: the F
    itself, K_eff = K.  The critical value is ncx2.ppf(0.95, K_eff, K_eff/τ)/K_eff."""
    batch = clustered_batch(rng, 5, 200, k, 25)
    out, _ = kernel_and_twin("tsls", batch, {"se": se}, truth=np.full(5, 2.0))
    classical, _ = kernel_and_twin("tsls", batch, {"se": "classical"}, truth=np.full(5, 2.0))
    for r in range(5):
        assert_close(out[r, [8, 9]], mop_effective_f(batch, r, se), what=f"rep {r}")
        if k == 1:
            assert_close(out[r, 8], out[r, 6], what="K = 1: effective F = robust F")
            assert_close(effective_critical_value(out[r, 9]), 23.108511211606643, what="K = 1: the critical value")
    assert_close(classical[:, 8], classical[:, 5])
    assert_close(classical[:, 9], k)
    assert_close(effective_critical_value(out[:, 9]), stats.ncx2.ppf(0.95, out[:, 9], 10 * out[:, 9]) / out[:, 9])


@pytest.mark.parametrize("screen", ["effective", "mop"])
def test_pretest_screens_on_the_effective_f(rng, screen):
    batch = random_batch(rng, 300, 100, 2, strength=1.0, hetero=1.0)
    options = {"se": "hc1", "screen": screen, "f_min": 8.0}
    out, status = kernel_and_twin("tsls_pretest", batch, options, truth=np.full(300, 2.0), all_ok=False)
    tsls, _ = run_estimator("tsls", batch, {"se": "hc1"}, truth=np.full(300, 2.0))
    threshold = effective_critical_value(tsls[:, 9]) if screen == "mop" else 8.0
    weak = ~(tsls[:, 8] > threshold)
    assert weak.any() and (~weak).any()
    assert (status[weak] == st.SCREENED_OUT).all() and (status[~weak] == st.OK).all()
    assert_close(out[~weak, :5], tsls[~weak, :5])
    assert_close(out[:, 8], tsls[:, 8], what="the effective F is recorded for screened replications too")


# -- the heteroskedasticity- and cluster-robust Anderson–Rubin test -----------------------------------


def statsmodels_robust_ar(batch, r, beta0, se):
    """W/K and the p-value's F denominator: statsmodels' Wald test of z's coefficients in y − β0·x ~ 1 + z with
    HC1 (F(K, n−K−1)) or cluster covariance (CR1 G/(G−1)·(n−1)/(n−K−1), F(K, G−1))."""
    y, x, z = batch["y"][r], batch["x"][r], batch["z"][r].T
    Z = sm.add_constant(z)
    model = sm.OLS(y - beta0 * x, Z)
    if se == "hc1":
        fit = model.fit(cov_type="HC1")
    else:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": batch["cluster"][r].astype(int)})
    k = z.shape[1]
    test = fit.wald_test(np.eye(k + 1)[1:], use_f=True, scalar=True)
    return float(test.statistic), float(test.df_denom)


@pytest.mark.parametrize("se", ["hc1", "cluster"])
@pytest.mark.parametrize("n, k, n_clusters, strength", [(60, 1, 12, 0.3), (200, 2, 25, 0.1), (400, 4, 40, 1.0)])
def test_robust_anderson_rubin_matches_statsmodels(rng, se, n, k, n_clusters, strength):
    """The statistic at the truth and the test (statsmodels' wald_test with use_f) to 1e-8; each finite bound of
    the set is a point where statsmodels' statistic equals the critical value; kernel and twin (a grid scan with
    root-finding) agree on the set to 1e-8 and on its shape and number of pieces."""
    batch = clustered_batch(rng, 10, n, k, n_clusters)
    batch["x"] = batch["x"] * strength + (1 - strength) * rng.normal(size=batch["x"].shape)
    out, _ = kernel_and_twin("anderson_rubin", batch, {"se": se}, level=0.9, truth=np.full(10, 2.0))
    for r in range(10):
        statistic, df_denom = statsmodels_robust_ar(batch, r, 2.0, se)
        crit = stats.f.ppf(0.9, k, df_denom)
        assert df_denom == (n_clusters - 1 if se == "cluster" else n - k - 1)
        assert_close(out[r, 5], statistic, what=f"rep {r} W/K")
        assert out[r, REJECT] == float(statistic > crit)
        for bound in out[r, [CI_LOW, CI_HIGH]]:
            if np.isfinite(bound):
                assert_close(statsmodels_robust_ar(batch, r, bound, se)[0], crit, rtol=1e-7, what="W/K at a bound")
    assert set(out[:, 8]) <= {0.0, 1.0, 2.0}


def test_robust_anderson_rubin_set_with_one_instrument_is_the_quadratic(rng):
    """K = 1: the set from the quadratic and the polynomial route are the same object: check shapes occur."""
    weak = clustered_batch(rng, 300, 50, 1, 10)
    weak["x"] = rng.normal(size=weak["x"].shape)  # irrelevant instrument
    out, _ = run_estimator("anderson_rubin", weak, {"se": "hc1"}, truth=np.full(300, 2.0))
    shapes = set(shape_of(out))
    assert {1, 2} <= shapes, shapes  # two rays and the whole line with an irrelevant instrument


# -- the conditional likelihood-ratio test ---------------------------------------------------------------


def ivmodels_clr(batch, r, beta0):
    """ivmodels 0.10: Moreira's LR (χ² scale) and its conditional p-value by numerical integration (Ω̂ with
    divisor n − K − 1, intercept partialled out)."""
    from ivmodels.tests import conditional_likelihood_ratio_test

    z, x, y = batch["z"][r].T, batch["x"][r].reshape(-1, 1), batch["y"][r]
    return conditional_likelihood_ratio_test(z, x, y, beta=np.array([beta0]), fit_intercept=True)


@pytest.mark.parametrize("n, k, strength", [(50, 1, 0.5), (200, 2, 0.1), (300, 5, 0.05), (500, 5, 0.5)])
def test_clr_matches_ivmodels(rng, n, k, strength):
    """Statistic and conditional p-value at the truth against ivmodels (to 1e-8; the p-value is an integral: the
    kernel's 64-point Gauss–Legendre, the twin's and ivmodels' adaptive quadrature agree to 1e-8); the test
    rejects when p < 10 %; the confidence set's finite bounds are where ivmodels' p-value is 10 %."""
    batch = random_batch(rng, 4, n, k, strength=strength, hetero=0.0)
    out, _ = kernel_and_twin("clr", batch, level=0.9, truth=np.full(4, 2.0))
    for r in range(4):
        statistic, p = ivmodels_clr(batch, r, 2.0)
        assert_close(out[r, [5, 6]], [statistic, p], what=f"rep {r} LR, p")
        assert out[r, REJECT] == float(p < 0.1)
        for bound in out[r, [CI_LOW, CI_HIGH]]:
            if np.isfinite(bound):
                assert_close(ivmodels_clr(batch, r, bound)[1], 0.1, rtol=1e-7, what="p at a bound")


def test_clr_p_value_is_the_conditional_null_distribution(rng):
    """The quadrature p-value against a Monte Carlo draw of LR's conditional null distribution,
    LR = ½(Q1 + Q_{K−1} − t + √((Q1 + Q_{K−1} + t)² − 4t·Q_{K−1})), within 4 MCSE, for several K, t and lr."""
    from causalmc.estimators.iv.clr import _beta_norm, conditional_p_value, quadrature

    draws = 400_000
    for k in (2, 3, 5, 10):
        q1, qk = rng.chisquare(1, draws), rng.chisquare(k - 1, draws)
        for t in (0.5, 10.0, 80.0):
            simulated = 0.5 * (q1 + qk - t + np.sqrt((q1 + qk + t) ** 2 - 4 * t * qk))
            for lr in (1.0, 4.0, 9.0):
                p = conditional_p_value(lr, t, k, *quadrature(), _beta_norm(k))
                share = (simulated > lr).mean()
                assert abs(p - share) <= 4 * np.sqrt(share * (1 - share) / draws) + 1e-12, (k, t, lr, p, share)


@pytest.mark.parametrize("se", ["hc1", "cluster"])
def test_tf_reads_the_robust_f_with_robust_standard_errors(rng, se):
    """With hc1 or cluster standard errors the tF critical value is the table's at the robust first-stage F."""
    batch = clustered_batch(rng, 30, 200, 1, 25)
    out, _ = kernel_and_twin("tsls_tf", batch, {"se": se}, truth=np.full(30, 2.0))
    robust = out[:, 6]
    assert not np.allclose(robust, out[:, FIRST_F])
    assert_close(out[:, TF_CRITICAL], [tf_critical(f) for f in robust])


# -- CR2 with the HTZ small-sample test (clubSandwich fixtures) -----------------------------------------

CR2_FIXTURES = Path(__file__).parent / "fixtures" / "cr2_htz"


def test_cr2_htz_anderson_rubin_matches_clubsandwich():
    """se = "cr2": CR2 (A_g = (I − H_gg)^(−1/2), no other factor) Wald test of the instruments in y − β0·x ~ 1 + z,
    F = (ν − K + 1)/ν · Q/K against F(K, ν − K + 1) with ν the HTZ degrees of freedom: clubSandwich 0.5.8
    Wald_test(vcov = "CR2", test = "HTZ") in fixtures made by tests/fixtures/cr2_htz/make_fixtures.py.  The statistic
    at the truth equals clubSandwich's Fstat, and at each finite bound of our confidence set clubSandwich's p-value
    is α = 0.05: the set is exactly the inversion of its test."""
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("cr2_fixtures", CR2_FIXTURES / "make_fixtures.py")
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    TRUTH, batch_of = fixtures.TRUTH, fixtures.batch_of

    data = pd.read_csv(CR2_FIXTURES / "datasets.csv")
    sets = pd.read_csv(CR2_FIXTURES / "causalmc_sets.csv").set_index("dataset")
    oracle = pd.read_csv(CR2_FIXTURES / "clubsandwich.csv")
    for dataset, frame in data.groupby("dataset"):
        out, _ = kernel_and_twin("anderson_rubin", batch_of(frame), {"se": "cr2"}, truth=np.array([TRUTH]))
        rows = oracle[oracle.dataset == dataset].set_index("at")
        assert_close(out[0, 5], rows.loc["truth", "Fstat"], what="HTZ F at the truth")
        assert out[0, REJECT] == float(rows.loc["truth", "p_val"] < 0.05)
        assert_close(out[0, [CI_LOW, CI_HIGH]], sets.loc[dataset, ["ci_low", "ci_high"]], what="set bounds")
        for bound in ("ci_low", "ci_high"):
            if bound in rows.index:
                assert abs(rows.loc[bound, "p_val"] - 0.05) < 1e-8, (dataset, bound)


@pytest.mark.parametrize("n, k, n_clusters, strength", [(60, 1, 12, 0.3), (200, 3, 25, 0.1), (300, 2, 40, 1.0)])
def test_cr2_htz_kernel_equals_twin_and_the_literal_construction(rng, n, k, n_clusters, strength):
    """Kernel = twin (the twin's ν from clubSandwich's construction spelled out: P_array, Ω^(−1/2), B, Var sum) on
    random clustered designs; the kernel's ν (via the trace identities of estimators.iv.cr2) equals it."""
    from causalmc.estimators.iv.cr2 import cr2_batch, reference_cr2_htz

    batch = clustered_batch(rng, 4, n, k, n_clusters)
    batch["x"] = batch["x"] * strength + (1 - strength) * rng.normal(size=batch["x"].shape)
    kernel_and_twin("anderson_rubin", batch, {"se": "cr2"}, truth=np.full(4, 2.0))
    g_hat, nu = np.empty(batch["z"].shape), np.empty(4)
    cr2_batch(batch["z"], batch["cluster"], g_hat, nu)
    for r in range(4):
        Z = np.column_stack([np.ones(n), batch["z"][r].T])
        assert_close(nu[r], reference_cr2_htz(batch["y"][r], Z, batch["cluster"][r])[1], what="HTZ nu")


def test_cr2_htz_edge_cases_match_the_twin(rng):
    """A cluster whose I − H_gg is singular (its one unit is the only one with a nonzero instrument: leverage 1)
    gets the generalised inverse square root, as clubSandwich's matrix_power (eigenvalues ≤ 1e-12 dropped), in the
    kernel and the twin alike; with two clusters and four instruments ν − K + 1 ≤ 0 and both report no_residual_df."""
    batch = clustered_batch(rng, 3, 80, 2, 10)
    batch["z"][:, 1, :] = 0.0
    batch["z"][:, 1, 0] = 1.0  # observation 0 alone in cluster 0 (clustered_batch sorts ids: make it so)
    batch["cluster"][:, 0] = 0.0
    batch["cluster"][:, 1:] = np.maximum(batch["cluster"][:, 1:], 1.0)
    kernel_and_twin("anderson_rubin", batch, {"se": "cr2"}, truth=np.full(3, 2.0))
    few = clustered_batch(rng, 3, 60, 4, 2)
    _, status = kernel_and_twin("anderson_rubin", few, {"se": "cr2"}, truth=np.full(3, 2.0), all_ok=False)
    assert (status == st.NO_RESIDUAL_DF).all(), status
