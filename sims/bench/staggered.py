"""``staggered``: Callaway–Sant'Anna and the imputation estimator on staggered adoption, against csdid and
diff-diff; the floor is the DGP's own panel draws."""

from __future__ import annotations

from functools import partial

import numpy as np

from .measure import Workload, dgp_batches, draws_only

_STAGGERED_SCENARIO = {
    "name": "bench_staggered",
    "dgp": "did_staggered",
    "seed": 1,
    "estimators": [{"name": "cs", "aggregation": "event"}, "imputation"],
}

# did_staggered's default panels: 50 × 20, cohorts adopting in 6, 10, 14, a quarter never
_staggered_panels = partial(dgp_batches, "did_staggered", {})


def _staggered_reference(rng: np.random.Generator, n_reps: int) -> None:
    """Per panel: csdid (never treated, analytic SEs) with its dynamic aggregation, and diff-diff's imputation
    estimator with its event study, as a user would loop them."""
    import contextlib
    import io
    import warnings

    import pandas as pd
    from csdid.att_gt import ATTgt
    from diff_diff import ImputationDiD

    for batch in _staggered_panels(rng, n_reps, chunk=1):
        g, t = batch["panel_y"].shape[1:]
        frame = pd.DataFrame(
            {
                "unit": np.repeat(np.arange(g), t),
                "period": np.tile(np.arange(1, t + 1), g),
                "y": batch["panel_y"][0].reshape(-1),
                "cohort": np.repeat(batch["cohort"][0], t).astype(int),
            }
        )
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            fit = ATTgt(yname="y", tname="period", idname="unit", gname="cohort", data=frame.copy()).fit(
                est_method="reg", bstrap=False
            )
            fit.aggte(typec="dynamic")
            imputation = ImputationDiD().fit(frame, outcome="y", unit="unit", time="period", first_treat="cohort")
            imputation.aggregate("event_study")


STAGGERED = Workload(
    name="staggered",
    description="did_staggered 50 x 20, cohorts in 6/10/14 + never treated: cs (event study and dynamic) "
    "+ imputation (att and e = 0 ... 4)",
    scenario=_STAGGERED_SCENARIO,
    reps=60_000,
    reference_reps=20,
    reference_name="csdid + diff-diff loop",
    reference=_staggered_reference,
    normals_per_rep=20 + 50 * 22,
    reference_package="csdid",
    order=60,
    targets={"vs_reference": 1000.0, "vs_floor": 0.40},
    floor=draws_only("did_staggered", {}),
    floor_name="panel draws only",
)

WORKLOADS = (STAGGERED,)
