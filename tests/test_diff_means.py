"""Difference in means ≡ twin ≡ statsmodels.

Convention: Neyman/Welch standard error √(s₁²/n₁ + s₀²/n₀) with sample
variances on n − 1; normal intervals.  statsmodels gives the same standard
error two ways: ``CompareMeans(...).std_meandiff_separatevar`` and the HC2
standard error of the regression y ~ 1 + treatment.
"""

import numpy as np
import statsmodels.api as sm
from conftest import CI_HIGH, CI_LOW, ESTIMATE, SE, assert_close, kernel_and_twin, run_estimator, st
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW


def test_kernel_twin_statsmodels(rng):
    n_reps, n = 40, 60
    d = (rng.random((n_reps, n)) < rng.uniform(0.2, 0.8, size=(n_reps, 1))).astype(float)
    y = 50 + 4 * d + rng.normal(size=(n_reps, n)) * (5 + 5 * d)
    batch = {"y": y, "treatment": d}
    out, _ = kernel_and_twin("diff_means", batch, level=0.9)
    z = stats.norm.ppf(0.95)
    for r in range(n_reps):
        t = d[r] == 1
        cm = CompareMeans(DescrStatsW(y[r, t]), DescrStatsW(y[r, ~t]))
        hc2 = sm.OLS(y[r], sm.add_constant(d[r])).fit(cov_type="HC2")
        assert_close(out[r, [ESTIMATE, SE]], [y[r, t].mean() - y[r, ~t].mean(), cm.std_meandiff_separatevar])
        assert_close(out[r, SE], hc2.bse[1])
        assert_close(out[r, [CI_LOW, CI_HIGH]], out[r, ESTIMATE] + np.array([-z, z]) * out[r, SE])


def test_group_too_small_is_a_status(rng):
    y = rng.normal(size=(3, 10))
    d = np.zeros((3, 10))
    d[1, 0] = 1  # one treated unit: no variance
    d[2, :5] = 1
    for reference in (False, True):
        out, status = run_estimator("diff_means", {"y": y, "treatment": d}, reference=reference)
        assert list(status) == [st.NO_VARIATION, st.NO_VARIATION, st.OK]
        assert np.isnan(out[:2]).all()


def test_welch_degrees_of_freedom_match_scipy(rng):
    """df = welch: t(ν), ν the Welch–Satterthwaite degrees of freedom, as scipy ttest_ind(equal_var=False)."""
    n_reps, n = 40, 24
    d = (rng.random((n_reps, n)) < 0.3).astype(float)
    d[:, :2], d[:, 2:4] = 1.0, 0.0
    y = rng.normal(size=(n_reps, n)) * (1 + 3 * d)
    truth = rng.normal(size=n_reps) * 0.5
    out, _ = kernel_and_twin("diff_means", {"y": y, "treatment": d}, {"df": "welch"}, level=0.9, truth=truth)
    for r in range(n_reps):
        t = d[r] == 1
        test = stats.ttest_ind(y[r, t], y[r, ~t], equal_var=False)
        ci = test.confidence_interval(0.9)
        assert_close(out[r, [CI_LOW, CI_HIGH, 5]], [ci.low, ci.high, test.df])
        assert out[r, 4] == float(not ci.low <= truth[r] <= ci.high)
