"""``confounding``: OLS with and without the confounder, against a statsmodels OLS loop."""

from __future__ import annotations

import numpy as np

from .measure import Workload


def _confounding_reference(rng: np.random.Generator, n_reps: int, n: int = 1000) -> None:
    import statsmodels.api as sm

    for _ in range(n_reps):
        z, e1, e2 = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        x = z + e1
        y = z + e2
        for design in (np.column_stack([np.ones(n), x]), np.column_stack([np.ones(n), x, z])):
            fit = sm.OLS(y, design).fit()
            fit.params[1], fit.bse[1], fit.conf_int(0.05)[1]


CONFOUNDING = Workload(
    name="confounding",
    description="confounding DGP, n = 1000, ols + ols_adjusted (classical SE)",
    scenario={
        "name": "bench_confounding",
        "dgp": "confounding",
        "seed": 1,
        "estimators": ["ols", "ols_adjusted"],
        "params": {"n": 1000},
    },
    reps=120_000,
    reference_reps=300,
    reference_name="statsmodels OLS loop",
    reference=_confounding_reference,
    normals_per_rep=3 * 1000,
    reference_package="statsmodels",
    order=10,
    targets={"vs_reference": 25.0, "vs_floor": 0.60, "jobs2_vs_jobs1": 1.7},
)

WORKLOADS = (CONFOUNDING,)
