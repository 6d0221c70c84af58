"""Two groups, two periods: the textbook difference-in-differences.

For units i = 1..G (the first ⌊G/2⌋ treated) and periods t ∈ {1, 2}:

    y_it = alpha_i + group_gap·treated_i + trend·post_t
           + (tau + trend_gap)·treated_i·post_t + eps_it
    alpha_i ~ N(0, sd_unit²),  eps_it ~ N(0, sd_eps²),  post_t = 1(t = 2)

Truth: tau.  The default effect is the one of the user's example table
(control 20 → 22, treated 18 → 25: (25 − 18) − (22 − 20) = 5).  DiD
recovers tau, while the before–after comparison also picks up the common
trend (2) and the treated–control gap the fixed group difference (2).
trend_gap ≠ 0 breaks parallel trends: DiD is then biased by exactly
trend_gap.

Batch arrays (the panel layout shared with did_panel): ``panel_y``
(R, G, 2), ``treated`` (R, G) of 0/1, ``start`` (R,) = 2, the first
treated period.  Draw order per unit: alpha, eps_1, eps_2.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp


@njit(cache=True)
def _draw(rng, n_treated, group_gap, trend, effect, sd_unit, sd_eps, y):
    n_reps, n_units, _ = y.shape
    for r in range(n_reps):
        for i in range(n_units):
            d = 1.0 if i < n_treated else 0.0
            alpha = sd_unit * rng.standard_normal() + group_gap * d
            y[r, i, 0] = alpha + sd_eps * rng.standard_normal()
            y[r, i, 1] = alpha + trend + effect * d + sd_eps * rng.standard_normal()


def generate(rng, n_reps, p):
    g = p["n_units"]
    y = np.empty((n_reps, g, 2))
    _draw(rng, g // 2, p["group_gap"], p["trend"], p["tau"] + p["trend_gap"], p["sd_unit"], p["sd_eps"], y)
    treated = np.zeros((n_reps, g))
    treated[:, : g // 2] = 1.0
    return {
        "panel_y": y,
        "treated": treated,
        "start": np.full(n_reps, 2, dtype=np.int64),
        "truth": np.full(n_reps, p["tau"]),
    }


DGPS = (
    Dgp(
        name="did_2x2",
        summary="two groups × two periods; trend_gap breaks parallel trends",
        params=(
            Setting("n_units", 200, "number of units (the first half treated)", minimum=4),
            Setting("group_gap", 2.0, "fixed difference between treated and control groups"),
            Setting("trend", 2.0, "common change from period 1 to period 2"),
            Setting("tau", 5.0, "treatment effect (the truth)"),
            Setting("trend_gap", 0.0, "extra change of the treated group: a parallel-trends violation"),
            Setting("sd_unit", 1.0, "sd of the unit effects", minimum=0.0),
            Setting("sd_eps", 1.0, "sd of the idiosyncratic errors", minimum=0.0, min_exclusive=True),
        ),
        provides=("panel_y", "treated", "start"),
        generate=generate,
        examples=({"n_units": 10}, {"n_units": 9, "trend_gap": 1.0, "sd_unit": 0.0}),
    ),
)
