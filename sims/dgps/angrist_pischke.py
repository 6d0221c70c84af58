"""Few treated units with unequal variances: the design of Angrist & Pischke (2009, §8.2).

For units i = 1..n, the first n_treated treated (D_i = 1), the rest controls:

    y_i = tau·D_i + sigma_{D_i}·e_i,   sigma_0 = 1,  sigma_1 = sigma_ratio
    e_i ~ N(0, 1), or t(tails_df)·√((tails_df − 2)/tails_df) (unit variance) when tails_df > 0

Truth: tau (0 by default: every rejection is a false one).  The regression
of y on 1 + D is the difference in means; its conventional standard error
pools the two groups' variances, HC0/HC1 are biased downward when the
treated group is small (each treated residual has leverage 1/n_treated),
HC2 is unbiased under homoskedasticity, and HC2 with the Bell–McCaffrey
degrees of freedom keeps the size of the test at or below its nominal level
(Imbens & Kolesár 2016, whose first simulation is n = 30 with 3 treated
units; Angrist & Pischke's Table 8.1.1 is n = 30 with 3 treated units and
sigma_ratio ∈ {0.5, 0.85, 1}).

Batch arrays: ``y`` (R, n); ``x`` and ``treatment`` (R, n), the same 0/1
array (the design is fixed across replications).  Draw order: one draw per
unit, in unit order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp


@njit(cache=True)
def _draw(rng, n_treated, tau, sigma_ratio, tails_df, y):
    n_reps, n = y.shape
    scale = math.sqrt((tails_df - 2.0) / tails_df) if tails_df > 0 else 1.0
    for r in range(n_reps):
        for i in range(n):
            e = rng.standard_t(tails_df) * scale if tails_df > 0 else rng.standard_normal()
            y[r, i] = tau + sigma_ratio * e if i < n_treated else e


def generate(rng, n_reps, p):
    n, n_treated = p["n"], p["n_treated"]
    y = np.empty((n_reps, n))
    _draw(rng, n_treated, p["tau"], p["sigma_ratio"], p["tails_df"], y)
    treatment = np.zeros((n_reps, n))
    treatment[:, :n_treated] = 1.0
    return {"y": y, "x": treatment, "treatment": treatment, "truth": np.full(n_reps, p["tau"])}


def check(p):
    problems = []
    if p["n_treated"] > p["n"] - 2:
        problems.append(
            (("n_treated", "n"), f"n_treated = {p['n_treated']} leaves fewer than two controls of n = {p['n']}")
        )
    if 0.0 < p["tails_df"] <= 2.0:
        problems.append((("tails_df",), f"tails_df = {p['tails_df']:g} has no variance; use 0 (normal) or a value > 2"))
    return problems


DGPS = (
    Dgp(
        name="angrist_pischke",
        summary="few treated units, treated-group sd sigma_ratio × the controls' (Angrist & Pischke 2009, §8.2)",
        params=(
            Setting("n", 30, "number of units", minimum=4),
            Setting("n_treated", 3, "number of treated units (the first ones)", minimum=2),
            Setting("tau", 0.0, "treatment effect (the truth)"),
            Setting(
                "sigma_ratio",
                1.0,
                "sd of the treated units' errors over the controls' (sigma_1/sigma_0)",
                minimum=0.0,
                min_exclusive=True,
            ),
            Setting(
                "tails_df",
                0.0,
                "0: normal errors; > 2: t errors with these degrees of freedom (unit variance)",
                minimum=0.0,
            ),
        ),
        provides=("y", "x", "treatment"),
        generate=generate,
        check=check,
        examples=({"n": 12, "n_treated": 3, "sigma_ratio": 2.0}, {"n": 20, "n_treated": 4, "tails_df": 4.0}),
    ),
)
