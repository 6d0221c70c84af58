"""``iv`` and ``iv_robust``: 2SLS with the Anderson–Rubin test, classical and heteroskedasticity-robust,
against linearmodels (and statsmodels for the robust AR test) loops."""

from __future__ import annotations

import numpy as np

from .measure import Workload


def _iv_reference(rng: np.random.Generator, n_reps: int, n: int = 1000, pi: float = 0.1414) -> None:
    from linearmodels.iv import IV2SLS

    exog = np.ones((n, 1))
    for _ in range(n_reps):
        z, u, v, e = (rng.standard_normal(n) for _ in range(4))
        x = pi * z + u + v
        y = 2.0 * x + 3.0 * u + e
        fit = IV2SLS(y, exog, x, z).fit(cov_type="unadjusted", debiased=True)
        fit.params["endog"], fit.std_errors["endog"], fit.first_stage.diagnostics


def _iv_robust_reference(rng: np.random.Generator, n_reps: int, n: int = 1000, k: int = 3, pi: float = 0.1) -> None:
    """Robust IV as a user would run it: linearmodels IV2SLS with robust covariance (and its first stage), and
    the robust Anderson–Rubin test as a statsmodels HC1 regression of y − β0·x on the instruments."""
    import statsmodels.api as sm
    from linearmodels.iv import IV2SLS

    exog = np.ones((n, 1))
    restriction = np.eye(k + 1)[1:]
    for _ in range(n_reps):
        z = rng.standard_normal((n, k))
        u, v, e = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        s = 1.0 + np.abs(z[:, 0])
        x = pi * z.sum(axis=1) + s * (u + v)
        y = 2.0 * x + s * (3.0 * u + e)
        fit = IV2SLS(y, exog, x, z).fit(cov_type="robust", debiased=True)
        fit.params["endog"], fit.std_errors["endog"], fit.first_stage.diagnostics
        ar = sm.OLS(y - 2.0 * x, sm.add_constant(z)).fit(cov_type="HC1")
        ar.wald_test(restriction, use_f=True, scalar=True)


IV = Workload(
    name="iv",
    description="iv DGP, n = 1000, K = 1, mu2 = 10: tsls (with first-stage F) + anderson_rubin",
    scenario={
        "name": "bench_iv",
        "dgp": "iv",
        "seed": 1,
        "estimators": ["tsls", "anderson_rubin"],
        "params": {"n": 1000, "k_instruments": 1, "mu2_per_instrument": 10.0},
    },
    reps=120_000,
    reference_reps=30,
    reference_name="linearmodels IV2SLS loop",
    reference=_iv_reference,
    normals_per_rep=4 * 1000,
    reference_package="linearmodels",
    order=20,
    targets={"vs_reference": 1000.0, "vs_floor": 0.60},
)


IV_ROBUST = Workload(
    name="iv_robust",
    description="iv DGP, n = 1000, K = 3, hetero = 1: tsls (hc1, with the effective F) + robust anderson_rubin",
    scenario={
        "name": "bench_iv_robust",
        "dgp": "iv",
        "seed": 1,
        "estimators": [{"name": "tsls", "se": "hc1"}, {"name": "anderson_rubin", "se": "hc1"}],
        "params": {"n": 1000, "k_instruments": 3, "pi": 0.1, "hetero": 1.0},
    },
    reps=30_000,
    reference_reps=20,
    reference_name="linearmodels + statsmodels loop",
    reference=_iv_robust_reference,
    normals_per_rep=6 * 1000,
    reference_package="linearmodels",
    order=30,
    targets={"vs_reference": 1000.0},
)

WORKLOADS = (IV, IV_ROBUST)
