"""``matching``: nearest-neighbour matching with bias adjustment, against causalinference, on the
observables workload's data."""

from __future__ import annotations

import numpy as np

from .measure import Workload, draws_only
from .observables import OBSERVABLES_PARAMS, observables_data


def _matching_reference(rng: np.random.Generator, n_reps: int) -> None:
    """Per dataset: causalinference's nearest-neighbour matching with bias adjustment (its own standard error)."""
    from causalinference import CausalModel

    for batch in observables_data(rng, n_reps, chunk=1):
        model = CausalModel(batch["y"][0], batch["treatment"][0].astype(int), batch["controls"][0].T)
        model.est_via_matching(bias_adj=True)
        model.estimates["matching"]["ate"]


MATCHING = Workload(
    name="matching",
    description="observables DGP, n = 1000, 3 covariates: match (m = 1, bias-adjusted, Abadie-Imbens SE)",
    scenario={
        "name": "bench_matching",
        "dgp": "observables",
        "seed": 1,
        "estimators": [{"name": "match", "bias_adjust": "regression"}],
        "params": OBSERVABLES_PARAMS,
        "chunk_size": 100,  # ten tasks, so two workers share them
    },
    reps=1000,
    reference_reps=20,
    reference_name="causalinference loop",
    reference=_matching_reference,
    normals_per_rep=5 * 1000,
    reference_package="causalinference",
    order=80,
    targets={},
    floor=draws_only("observables", OBSERVABLES_PARAMS, chunk=100),
    floor_name="data draws only",
)

WORKLOADS = (MATCHING,)
