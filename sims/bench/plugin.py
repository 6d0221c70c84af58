"""``plugin`` and ``compiled_plugin``: what coming from a plugin costs, and the plugin both load: this module.

``sm_ols_plugin``: plain Python on one tidy dataset at a time: the
statsmodels OLS of y on 1 + x + w1 that the confounding workload's
reference loop runs (estimate, standard error, interval).

``ols_as_plugin``: the shipped ``ols`` kernel registered again from this
plugin, to measure what coming from a plugin costs a compiled estimator.

Both are declared in ``ESTIMATORS``, which registers them only when the
workloads load this module as a plugin (`BENCH_PLUGIN`): discovering the
workloads registers nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from causalmc.estimators import ols

from ..adapters import user_estimator
from ..run.pipeline import run_scenario
from ..run.plan import make_plan
from ..scenario import parse
from .measure import Workload


def sm_ols(data, *, level):
    """OLS of y on 1 + x + w1 by statsmodels: the coefficient on x, its classical SE and t interval."""
    import statsmodels.api as sm

    design = np.column_stack([np.ones(len(data)), data["x"].to_numpy(), data["w1"].to_numpy()])
    fit = sm.OLS(data["y"].to_numpy(), design).fit()
    low, high = fit.conf_int(1 - level)[1]
    return {"estimate": fit.params[1], "se": fit.bse[1], "ci_low": low, "ci_high": high}


ESTIMATORS = (
    user_estimator(sm_ols, name="sm_ols_plugin", needs=("y", "x", "controls")),
    replace(
        next(e for e in ols.ESTIMATORS if e.name == "ols"),
        name="ols_as_plugin",
        summary="the shipped ols kernel, from a plugin",
    ),
)
BENCH_PLUGIN = __name__  # what the workloads load as a plugin (in the client and in every worker)
_OLS_SCENARIO = {"name": "bench_ols", "dgp": "confounding", "seed": 1, "params": {"n": 1000}}


def _plugin_reference(rng: np.random.Generator, n_reps: int, n: int = 1000) -> None:
    """The bare loop: draw a dataset, make it a DataFrame, call the plugin's function on it."""
    import pandas as pd

    for _ in range(n_reps):
        z, e1, e2 = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        x = z + e1
        sm_ols(pd.DataFrame({"y": z + e2, "x": x, "w1": z}), level=0.95)


def _builtin_ols_reference(rng: np.random.Generator, n_reps: int) -> None:
    """The shipped ols kernel through the harness (one worker): what the compiled plugin is held to."""
    scenario = parse({**_OLS_SCENARIO, "estimators": ["ols"], "reps": n_reps}, "<bench:compiled_plugin>")
    with tempfile.TemporaryDirectory(prefix="causalmc-bench-") as tmp:
        run_scenario(make_plan(scenario), Path(tmp), jobs=1, fresh=True, figures=False, report=False)


PLUGIN = Workload(
    name="plugin",
    description="confounding, n = 1000: statsmodels OLS of y on 1 + x + z as a plain-Python plugin",
    scenario={**_OLS_SCENARIO, "name": "bench_plugin", "estimators": ["sm_ols_plugin"], "chunk_size": 100},
    reps=3000,
    reference_reps=3000,
    reference_name="bare loop, same function",
    reference=_plugin_reference,
    normals_per_rep=3 * 1000,
    reference_package="statsmodels",
    order=90,
    targets={"vs_reference": 0.90, "jobs2_vs_jobs1": 1.8},
    plugins=(BENCH_PLUGIN,),
    repeats=5,
)


COMPILED_PLUGIN = Workload(
    name="compiled_plugin",
    description="confounding, n = 1000: the shipped ols kernel registered from a plugin",
    scenario={**_OLS_SCENARIO, "name": "bench_compiled_plugin", "estimators": ["ols_as_plugin"]},
    reps=120_000,
    reference_reps=120_000,
    reference_name="same kernel, built-in",
    reference=_builtin_ols_reference,
    normals_per_rep=3 * 1000,
    reference_package="numba",
    order=100,
    targets={"vs_reference": 0.95},
    plugins=(BENCH_PLUGIN,),
    repeats=5,
)

WORKLOADS = (PLUGIN, COMPILED_PLUGIN)
