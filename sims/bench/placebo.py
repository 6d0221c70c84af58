"""``placebo``: BDM's placebo laws on the CPS panel with the wild cluster bootstrap, against pyfixest and its
wildboottest."""

from __future__ import annotations

import numpy as np

from .measure import Workload


def _placebo_reference(rng: np.random.Generator, n_reps: int, draws: int = 199) -> None:
    """BDM's placebo laws on the CPS panel as a user would run them: pyfixest feols (CRV1 by state) and its
    wildboottest (WCR11, Rademacher, the same B) per law."""
    import pandas as pd
    import pyfixest as pf

    from ..dgps.placebo_panel import SHIPPED, load_panel

    y, _, _ = load_panel(SHIPPED["cps"].path, "state", "year", "log_wage", 1979, 1999)
    g, t = y.shape
    unit, period = np.repeat(np.arange(g), t), np.tile(np.arange(1, t + 1), g)
    for _ in range(n_reps):
        treated = np.zeros(g)
        treated[rng.permutation(g)[: g // 2]] = 1.0
        t0 = rng.integers(7, 18)
        frame = pd.DataFrame({"y": y.reshape(-1), "D": np.repeat(treated, t) * (period >= t0), "unit": unit})
        frame["period"] = period
        fit = pf.feols("y ~ D | unit + period", data=frame, vcov={"CRV1": "unit"})
        fit.coef(), fit.se(), fit.confint()
        fit.wildboottest(reps=draws, param="D", seed=int(rng.integers(2**31)))


PLACEBO = Workload(
    name="placebo",
    description="BDM's placebo laws on the CPS panel (50 x 21, half the states treated): twfe with CR1 and "
    "the restricted wild cluster bootstrap, B = 199 (p-value and interval by inversion)",
    scenario={
        "name": "bench_placebo",
        "dgp": "placebo_panel",
        "seed": 1,
        "estimators": [
            {"name": "twfe", "se": "cluster"},
            {"name": "twfe", "se": "wild", "draws": 199, "label": "twfe_wild"},
        ],
        "params": {"data": "cps", "outcome": "log_wage", "min_pre": 6, "min_post": 5},
    },
    reps=20_000,
    reference_reps=10,
    reference_name="pyfixest feols + wildboottest loop",
    reference=_placebo_reference,
    normals_per_rep=50 + 1,
    reference_package="wildboottest",
    order=50,
    targets={"vs_reference": 500.0},
)

WORKLOADS = (PLACEBO,)
