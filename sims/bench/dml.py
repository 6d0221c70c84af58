"""``dml`` and ``dml_forest``: double ML (partially linear, Chernozhukov et al. 2018's design at n = 500, p = 20,
five folds) against a loop over DoubleML with the same scikit-learn learners."""

from __future__ import annotations

from functools import partial

import numpy as np

from .measure import Workload, dgp_batches, draws_only

DML_PARAMS = {"n": 500, "dim_x": 20}
FOREST = {"n_estimators": 100, "max_features": 0.5, "min_samples_leaf": 5}

dml_data = partial(dgp_batches, "plr_ccddhnr", DML_PARAMS)


def _doubleml_reference(learner: str, rng: np.random.Generator, n_reps: int) -> None:
    """Per dataset, as a user would loop it: DoubleMLData from the arrays, DoubleMLPLR with scikit-learn's LassoCV
    (its defaults: 5-fold CV over 100 α) or a random forest for ml_l and ml_m, five folds, fit, summary numbers."""
    import warnings

    from doubleml import DoubleMLData, DoubleMLPLR
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LassoCV

    for batch in dml_data(rng, n_reps, chunk=1):
        x, y, d = batch["controls"][0].T, batch["y"][0], batch["d"][0]
        if learner == "lasso_cv":
            ml_l, ml_m = LassoCV(), LassoCV()
        else:
            seed = int(rng.integers(2**31))
            ml_l = RandomForestRegressor(random_state=seed, **FOREST)
            ml_m = RandomForestRegressor(random_state=seed + 1, **FOREST)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = DoubleMLPLR(DoubleMLData.from_arrays(x, y, d), ml_l, ml_m, n_folds=5).fit()
            fit.coef, fit.se, fit.confint()


def _scenario(name: str, estimator: dict) -> dict:
    return {"name": name, "dgp": "plr_ccddhnr", "seed": 1, "estimators": [estimator], "params": DML_PARAMS}


FOREST_LEARNER = {"estimator": "sklearn.ensemble.RandomForestRegressor", "params": FOREST}

DML = Workload(
    name="dml",
    description="plr_ccddhnr, n = 500, p = 20: dml_plr (partialling out, 5 folds) with lasso_cv nuisances "
    "(5-fold CV over 100 α, as LassoCV)",
    scenario=_scenario("bench_dml", {"name": "dml_plr", "ml_l": "lasso_cv", "ml_m": "lasso_cv"}),
    reps=400,
    reference_reps=4,
    reference_name="DoubleMLPLR + LassoCV loop",
    reference=partial(_doubleml_reference, "lasso_cv"),
    normals_per_rep=500 * 22,
    floor=draws_only("plr_ccddhnr", DML_PARAMS),
    reference_package="doubleml",
    order=80,
    targets={"vs_reference": 100.0},
)

DML_FOREST = Workload(
    name="dml_forest",
    description="plr_ccddhnr, n = 500, p = 20: dml_plr with random-forest nuisances through the sklearn bridge "
    "(100 trees, max_features 0.5, min_samples_leaf 5)",
    # Two replications a task: the warm-up runs two chunks, and two workers share the tasks (by default a chunk
    # holds thousands: the warm-up alone would be hours of forests).
    scenario={
        **_scenario(
            "bench_dml_forest",
            {"name": "dml_plr", "ml_l": "sklearn", "ml_m": "sklearn", "ml_l_options": FOREST_LEARNER,
             "ml_m_options": FOREST_LEARNER},
        ),
        "chunk_size": 2,
    },
    reps=40,
    reference_reps=20,
    min_reps=10,  # seconds a replication: --scale 0.25 is 10 harness and 10 reference replications a round
    reference_name="DoubleMLPLR + RandomForestRegressor loop",
    reference=partial(_doubleml_reference, "forest"),
    normals_per_rep=500 * 22,
    floor=draws_only("plr_ccddhnr", DML_PARAMS),
    reference_package="doubleml",
    order=81,
    targets={"vs_reference": 0.90},
    repeats=5,  # the two sides are nearly equal, so the ratio's round-to-round noise matters
)

WORKLOADS = (DML, DML_FOREST)
