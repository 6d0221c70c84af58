"""``synthetic``: SDID and SC with synthdid's placebo standard errors on Arkhangelsky et al.'s design fitted to
the CPS, against a loop over synthdid-py (the port of R's synthdid 0.0.9) on the same panels.

The floor is the design's own draws (`factor_panel`'s compiled draw of the panels, 100 at a time): with
201 weight fits per estimator and replication, nearly all of the harness's time is Frank–Wolfe, and the floor
is orders of magnitude above it.
"""

from __future__ import annotations

from functools import cache, partial

import numpy as np

from .measure import Workload

PARAMS = {"data": "cps"}  # the paper's baseline: log wage, min_wage assignment, rank 4, N1 = 10, T1 = 10
DRAWS = 200


@cache
def _cell_params() -> dict:
    """The scenario's one cell, the shipped dataset's columns filled in as a run fills them."""
    from ..scenario import parse

    return dict(parse({**SYNTHETIC.scenario, "reps": 2}, "<bench:synthetic>").cells()[0].params)


def _panels(rng: np.random.Generator, n_reps: int, chunk: int = 100):
    """The design's batches, `chunk` replications at a time."""
    from ..dgps import registry

    dgp = registry()["factor_panel"]
    for start in range(0, n_reps, chunk):
        yield dgp.generate(rng, min(chunk, n_reps - start), _cell_params())


def _floor(rng: np.random.Generator, n_reps: int) -> None:
    for _ in _panels(rng, n_reps):
        pass


def _synthdid_reference(rng: np.random.Generator, n_reps: int, draws: int = DRAWS) -> None:
    """The same design's panels, each estimated as a synthdid-py user would: synthdid_estimate and sc_estimate
    on Y with the controls first, each with vcov(method="placebo", replications=200)."""
    from synthdid import sc_estimate, synthdid_estimate
    from synthdid.vcov import vcov

    for batch in _panels(rng, n_reps, chunk=min(n_reps, 100)):
        t0 = int(batch["start"][0]) - 1
        for y, treated in zip(batch["panel_y"], batch["treated"]):
            order = np.argsort(treated, kind="stable")  # controls first, as synthdid's setup wants
            n0 = int((treated == 0).sum())
            for estimator in (synthdid_estimate, sc_estimate):
                fit = estimator(y[order], n0, t0)
                vcov(fit, method="placebo", replications=draws, random_state=int(rng.integers(2**31)))


SYNTHETIC = Workload(
    name="synthetic",
    description="Arkhangelsky et al.'s CPS design (50 x 40, rank 4, AR(2), 10 treated states, 10 treated "
    "years): sdid and sc with synthdid's placebo standard errors, 200 draws each",
    scenario={
        "name": "bench_synthetic",
        "dgp": "factor_panel",
        "seed": 1,
        "chunk_size": 20,
        "estimators": [
            {"name": "sdid", "se": "placebo", "draws": DRAWS},
            {"name": "sc", "se": "placebo", "draws": DRAWS},
        ],
        "params": PARAMS,
    },
    reps=200,
    reference_reps=2,
    reference_name="synthdid-py loop",
    reference=_synthdid_reference,
    smoke_reference=partial(_synthdid_reference, draws=2),  # the tests: 200 draws cost a minute a panel
    normals_per_rep=50 * 40,
    reference_package="synthdid",
    order=65,
    targets={"vs_reference": 300.0},
    floor=_floor,
    floor_name="floor (panel draws)",
)

WORKLOADS = (SYNTHETIC,)
