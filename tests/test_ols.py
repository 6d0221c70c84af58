"""OLS kernels ≡ their reference twins ≡ statsmodels, on many random datasets.

Degrees-of-freedom conventions, as in statsmodels:
- classical: σ̂² = SSR/(n − k), k counting the intercept (``OLS(y, X).fit()``).
- hc0 … hc3: statsmodels ``fit(cov_type="HC0" … "HC3")``: HC1 = HC0·n/(n − k),
  HC2 divides each squared residual by 1 − hᵢ, HC3 by (1 − hᵢ)².
- df = residual: t(n − k) intervals, statsmodels' ``use_t=True``; df = normal:
  normal intervals, ``use_t=False``.
"""

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, assert_close, kernel_and_twin, run_estimator, st


def random_batch(rng, n_reps, n, p):
    """Regressors with varied scales, correlation and heteroskedastic errors."""
    w = rng.normal(size=(n_reps, p, n)) * rng.uniform(0.5, 3, size=(n_reps, p, 1)) + rng.normal(size=(n_reps, p, 1))
    x = rng.normal(size=(n_reps, n)) * rng.uniform(0.5, 2, size=(n_reps, 1)) + 0.5 * w.sum(axis=1) + 3.0
    e = rng.standard_t(5, size=(n_reps, n)) * (1 + np.abs(x - 3))
    y = 2.0 + 0.7 * x + np.einsum("j,rjn->rn", np.linspace(-1, 1, p), w)
    return {"y": y + e, "x": x, "controls": w}


COV_TYPES = {"classical": "nonrobust", "hc0": "HC0", "hc1": "HC1", "hc2": "HC2", "hc3": "HC3"}


@pytest.mark.parametrize("name", ["ols", "ols_adjusted"])
@pytest.mark.parametrize("se", list(COV_TYPES))
@pytest.mark.parametrize("df", ["residual", "normal"])
@pytest.mark.parametrize("n, p", [(8, 1), (50, 2), (400, 3), (1000, 1)])
def test_kernel_twin_statsmodels(rng, name, se, df, n, p):
    batch = random_batch(rng, 25, n, p)
    level = 0.9
    truth = rng.normal(0.7, 0.2, size=25)
    out, _ = kernel_and_twin(name, batch, {"se": se, "df": df}, level, truth)
    for r in range(25):
        X = np.column_stack([np.ones(n), batch["x"][r]] + ([batch["controls"][r].T] if name == "ols_adjusted" else []))
        fit = sm.OLS(batch["y"][r], X).fit(cov_type=COV_TYPES[se], use_t=df == "residual")
        ci = fit.conf_int(alpha=1 - level)
        assert_close(
            out[r, [ESTIMATE, SE, CI_LOW, CI_HIGH]],
            [fit.params[1], fit.bse[1], ci[1, 0], ci[1, 1]],
            what=f"rep {r} vs statsmodels",
        )
        assert out[r, REJECT] == float(not ci[1, 0] <= truth[r] <= ci[1, 1])
        assert out[r, 5] == (n - X.shape[1] if df == "residual" else np.inf)


def test_failures_are_statuses(rng):
    batch = random_batch(rng, 4, 30, 1)
    batch["x"][0] = 1.5  # constant regressor
    batch["controls"][1, 0] = 2 * batch["x"][1] - 1  # control collinear with x
    for reference in (False, True):
        out, status = run_estimator("ols_adjusted", batch, reference=reference)
        assert list(status) == [st.NO_VARIATION, st.SINGULAR, st.OK, st.OK]
        assert np.isnan(out[:2]).all() and np.isfinite(out[2:]).all()


def test_no_residual_degrees_of_freedom(rng):
    batch = random_batch(rng, 2, 3, 1)  # n = k = 3
    for reference in (False, True):
        out, status = run_estimator("ols_adjusted", batch, reference=reference)
        assert (status == st.NO_RESIDUAL_DF).all() and np.isnan(out).all()
