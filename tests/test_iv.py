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

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, assert_close, kernel_and_twin, run_estimator, st
from linearmodels.iv import IV2SLS, IVLIML
from scipy import stats

from causalmc.estimators.iv import TF_MAX_F, reference_ar_statistic, tf_critical, tf_table


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
    c = np.array([tf_critical(f) for f in out[:, 5]])
    assert_close(out[:, 8], c)
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
