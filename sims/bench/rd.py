"""``rd``: the sharp RD estimator with rdrobust's ``mserd`` bandwidth and robust bias-corrected inference on CCT
(2014)'s Lee design, against an rdrobust loop."""

from __future__ import annotations

import warnings

import numpy as np

from .measure import Workload, dgp_batches, draws_only

PARAMS = {"n": 1000, "model": "lee"}


def _rdrobust_reference(rng: np.random.Generator, n_reps: int) -> None:
    """rdrobust as a user would run it on each replication of the same DGP (its defaults: p = 1, triangular,
    mserd, nn variance), reading the three rows, the bandwidths and N_h."""
    from rdrobust import rdrobust

    for batch in dgp_batches("rd", PARAMS, rng, n_reps, chunk=min(n_reps, 100)):
        for x, y in zip(batch["x"], batch["y"], strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = rdrobust(y, x, c=0)
            fit.coef, fit.se, fit.ci, fit.bws, fit.N_h


RD = Workload(
    name="rd",
    description="rd DGP (CCT's Lee design), n = 1000: rd with the mserd bandwidth, nn variance, the conventional, "
    "bias-corrected and robust rows",
    scenario={
        "name": "bench_rd",
        "dgp": "rd",
        "seed": 1,
        "estimators": [{"name": "rd", "bwselect": "mserd"}],
        "params": PARAMS,
    },
    reps=20_000,
    reference_reps=20,
    reference_name="rdrobust loop",
    reference=_rdrobust_reference,
    normals_per_rep=2 * 1000,
    reference_package="rdrobust",
    order=65,
    targets={"vs_reference": 300.0},
    floor=draws_only("rd", PARAMS),
    floor_name="rd draws only",
)

WORKLOADS = (RD,)
