"""``did``: a placebo law on an AR(1) panel, two-way fixed effects with cluster errors, against pyfixest."""

from __future__ import annotations

import numpy as np

from .measure import Workload


def _did_reference(rng: np.random.Generator, n_reps: int, g: int = 50, t: int = 20, rho: float = 0.8) -> None:
    """A placebo law as a user would run it: draw the panel, then pyfixest (statsmodels with dummies if absent)."""
    import pandas as pd

    unit, period = np.repeat(np.arange(g), t), np.tile(np.arange(1, t + 1), g)
    try:
        import pyfixest as pf
    except ImportError:
        pf = None
        import statsmodels.api as sm

        dummies = pd.get_dummies(pd.DataFrame({"u": unit, "p": period}).astype(str), drop_first=True, dtype=float)
    for _ in range(n_reps):
        t0 = rng.integers(6, 16)
        lam = rng.standard_normal(t)
        alpha = rng.standard_normal(g)
        eps = np.empty((g, t))
        eps[:, 0] = rng.standard_normal(g)
        for s in range(1, t):
            eps[:, s] = rho * eps[:, s - 1] + np.sqrt(1 - rho * rho) * rng.standard_normal(g)
        y = (alpha[:, None] + lam[None, :] + eps).reshape(-1)
        d = ((unit < g // 2) & (period >= t0)).astype(float)
        frame = pd.DataFrame({"y": y, "D": d, "unit": unit, "period": period})
        if pf is not None:
            fit = pf.feols("y ~ D | unit + period", data=frame, vcov={"CRV1": "unit"})
            fit.coef(), fit.se(), fit.confint()
        else:
            fit = sm.OLS(y, sm.add_constant(pd.concat([frame[["D"]], dummies], axis=1))).fit(
                cov_type="cluster", cov_kwds={"groups": unit}, use_t=True
            )
            fit.params["D"], fit.bse["D"], fit.conf_int()


DID = Workload(
    name="did",
    description="did_panel 50 x 20, rho = 0.8 (placebo law): twfe with cluster errors",
    scenario={
        "name": "bench_did",
        "dgp": "did_panel",
        "seed": 1,
        "estimators": [{"name": "twfe", "se": "cluster"}],
        "params": {"rho": 0.8},
    },
    reps=200_000,
    reference_reps=30,
    reference_name="pyfixest feols loop",
    reference=_did_reference,
    normals_per_rep=20 + 50 * 21,
    reference_package="pandas",
    order=40,
    integers_per_rep=1,
    targets={"vs_reference": 1000.0, "vs_floor": 0.50},
)

WORKLOADS = (DID,)
