"""``observables``: inverse probability weighting and AIPW on a logit score, against statsmodels'
TreatmentEffect; the floor is the DGP's own data draws."""

from __future__ import annotations

from functools import partial

import numpy as np

from .measure import Workload, dgp_batches, draws_only

OBSERVABLES_PARAMS = {"n": 1000, "p": 3}

# the observables DGP at n = 1000 with three covariates (a logit score in X1)
observables_data = partial(dgp_batches, "observables", OBSERVABLES_PARAMS)


def _observables_reference(rng: np.random.Generator, n_reps: int) -> None:
    """Per dataset, as a user would loop it: statsmodels' logit score, then TreatmentEffect's ipw and aipw with
    their GMM standard errors (the same numbers as the harness's ipw and aipw, tested)."""
    import warnings

    import statsmodels.api as sm
    from statsmodels.treatment.treatment_effects import TreatmentEffect

    for batch in observables_data(rng, n_reps, chunk=1):
        x = sm.add_constant(batch["controls"][0].T)
        d = batch["treatment"][0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            select = sm.Logit(d, x).fit(disp=0)
            effects = TreatmentEffect(sm.OLS(batch["y"][0], x), d.astype(int), results_select=select)
            for method in (effects.ipw, effects.aipw):
                result = method()
                result.effect, result.sd, result.conf_int()


OBSERVABLES = Workload(
    name="observables",
    description="observables DGP, n = 1000, 3 covariates: ipw + aipw (logit score, GMM sandwich SEs)",
    scenario={
        "name": "bench_observables",
        "dgp": "observables",
        "seed": 1,
        "estimators": ["ipw", "aipw"],
        "params": OBSERVABLES_PARAMS,
    },
    reps=20_000,
    reference_reps=20,
    reference_name="statsmodels TreatmentEffect loop",
    reference=_observables_reference,
    normals_per_rep=5 * 1000,
    reference_package="statsmodels",
    order=70,
    targets={"vs_reference": 1000.0, "vs_floor": 0.50},
    floor=draws_only("observables", OBSERVABLES_PARAMS, chunk=100),
    floor_name="data draws only",
)

WORKLOADS = (OBSERVABLES,)
