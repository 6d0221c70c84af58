"""``python run_bench.py bench``: speed against what users would otherwise run.

For each workload, in one run on the same cores, replications per second of

- the harness end to end (plan, draws, kernels, records written, summary),
  with one worker and with two;
- the reference loop: the same work as a user would write it, a Python loop
  over the usual library (statsmodels, linearmodels, pyfixest) on arrays
  drawn with numpy;
- the floor: drawing the same random numbers and nothing else, the fastest
  way this machine can (numba-compiled draws from a numpy Generator into a
  reused buffer).

Two workloads measure user code: ``plugin`` runs a plain-Python plugin
estimator (statsmodels OLS on one DataFrame per replication) against a bare
loop calling the same function on the same kind of data, and
``compiled_plugin`` runs the shipped ``ols`` kernel registered from a
plugin against the same kernel as a built-in, both through the harness.

It prints the ratios and checks them against the targets; exit code 1 when
one is missed.  Timings are medians of rounds that alternate every side
of every ratio, after a warm-up (numba compiled, worker processes started).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from numba import njit

from . import plugins
from .run.execute import run
from .run.pipeline import run_scenario
from .run.plan import make_plan
from .scenario import parse


@njit(cache=True)
def draw_normals(rng, n_reps, per_rep, buffer, integers_per_rep=0):
    """The floor: per replication, `per_rep` standard normals into a reused
    buffer (and `integers_per_rep` bounded integers, e.g. a start period)."""
    total = 0
    for _ in range(n_reps):
        for _ in range(integers_per_rep):
            total += rng.integers(0, 10)
        for i in range(per_rep):
            buffer[i] = rng.standard_normal()
    return buffer[0] + total


@dataclass(frozen=True)
class Workload:
    """One benchmarked design: harness scenario, reference loop, floor."""

    name: str
    description: str
    scenario: dict  # a scenario file's content, minus reps
    reps: int  # harness replications per timed run
    reference_reps: int  # replications of the reference loop
    reference_name: str
    reference: Callable[[np.random.Generator, int], None]  # runs n replications
    normals_per_rep: int
    targets: dict = field(default_factory=dict)  # ratio name -> minimum
    integers_per_rep: int = 0
    plugins: tuple[str, ...] = ()  # plugin modules the scenario's estimators come from
    repeats: int = 3  # rounds; more where the two sides of a ratio are nearly equal
    # The floor when it is more than a count of normals: (rng, n_reps) -> None, e.g. the DGP's own panel draw.
    floor: Callable[[np.random.Generator, int], None] | None = None
    floor_name: str = "floor (draws only)"


def _confounding_reference(rng: np.random.Generator, n_reps: int, n: int = 1000) -> None:
    import statsmodels.api as sm

    for _ in range(n_reps):
        z, e1, e2 = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        x = z + e1
        y = z + e2
        for design in (np.column_stack([np.ones(n), x]), np.column_stack([np.ones(n), x, z])):
            fit = sm.OLS(y, design).fit()
            fit.params[1], fit.bse[1], fit.conf_int(0.05)[1]


def _iv_reference(rng: np.random.Generator, n_reps: int, n: int = 1000, pi: float = 0.1414) -> None:
    from linearmodels.iv import IV2SLS

    exog = np.ones((n, 1))
    for _ in range(n_reps):
        z, u, v, e = (rng.standard_normal(n) for _ in range(4))
        x = pi * z + u + v
        y = 2.0 * x + 3.0 * u + e
        fit = IV2SLS(y, exog, x, z).fit(cov_type="unadjusted", debiased=True)
        fit.params["endog"], fit.std_errors["endog"], fit.first_stage.diagnostics


def _iv_robust_reference(rng: np.random.Generator, n_reps: int, n: int = 1000, k: int = 3, pi: float = 0.1) -> None:
    """Robust IV as a user would run it: linearmodels IV2SLS with robust covariance (and its first stage), and
    the robust Anderson–Rubin test as a statsmodels HC1 regression of y − β0·x on the instruments."""
    import statsmodels.api as sm
    from linearmodels.iv import IV2SLS

    exog = np.ones((n, 1))
    restriction = np.eye(k + 1)[1:]
    for _ in range(n_reps):
        z = rng.standard_normal((n, k))
        u, v, e = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        s = 1.0 + np.abs(z[:, 0])
        x = pi * z.sum(axis=1) + s * (u + v)
        y = 2.0 * x + s * (3.0 * u + e)
        fit = IV2SLS(y, exog, x, z).fit(cov_type="robust", debiased=True)
        fit.params["endog"], fit.std_errors["endog"], fit.first_stage.diagnostics
        ar = sm.OLS(y - 2.0 * x, sm.add_constant(z)).fit(cov_type="HC1")
        ar.wald_test(restriction, use_f=True, scalar=True)


def _did_reference(rng: np.random.Generator, n_reps: int, g: int = 50, t: int = 20, rho: float = 0.8) -> None:
    """A placebo law as a user would run it: draw the panel, then pyfixest (statsmodels with dummies if absent)."""
    import pandas as pd

    unit, period = np.repeat(np.arange(g), t), np.tile(np.arange(1, t + 1), g)
    try:
        import pyfixest as pf
    except ImportError:
        pf = None
        import statsmodels.api as sm

        dummies = pd.get_dummies(pd.DataFrame({"u": unit, "p": period}).astype(str), drop_first=True, dtype=float)
    for _ in range(n_reps):
        t0 = rng.integers(6, 16)
        lam = rng.standard_normal(t)
        alpha = rng.standard_normal(g)
        eps = np.empty((g, t))
        eps[:, 0] = rng.standard_normal(g)
        for s in range(1, t):
            eps[:, s] = rho * eps[:, s - 1] + np.sqrt(1 - rho * rho) * rng.standard_normal(g)
        y = (alpha[:, None] + lam[None, :] + eps).reshape(-1)
        d = ((unit < g // 2) & (period >= t0)).astype(float)
        frame = pd.DataFrame({"y": y, "D": d, "unit": unit, "period": period})
        if pf is not None:
            fit = pf.feols("y ~ D | unit + period", data=frame, vcov={"CRV1": "unit"})
            fit.coef(), fit.se(), fit.confint()
        else:
            fit = sm.OLS(y, sm.add_constant(pd.concat([frame[["D"]], dummies], axis=1))).fit(
                cov_type="cluster", cov_kwds={"groups": unit}, use_t=True
            )
            fit.params["D"], fit.bse["D"], fit.conf_int()


_STAGGERED_SCENARIO = {
    "name": "bench_staggered",
    "dgp": "did_staggered",
    "seed": 1,
    "estimators": [{"name": "cs", "aggregation": "event"}, "imputation"],
}


def _dgp_batches(name: str, params: dict, rng: np.random.Generator, n_reps: int, chunk: int = 1000):
    """Batches of the DGP `name` at its defaults overridden by `params`, `chunk` replications at a time."""
    from .dgps import registry

    dgp = registry()[name]
    chosen = {p.name: p.default for p in dgp.params} | params
    for start in range(0, n_reps, chunk):
        yield dgp.generate(rng, min(chunk, n_reps - start), chosen)


def _draws_only(name: str, params: dict, chunk: int = 1000):
    """A floor: drawing the DGP's batches of `chunk` replications and nothing else, with the fastest chunk:
    1,000 where Python's work per batch dominates (did_staggered's truths); 100 for 40 kB datasets, which
    then stay in cache (observables: 7 % faster than 1,000 alone, 20–30 % between the harness's runs)."""

    def floor(rng: np.random.Generator, n_reps: int) -> None:
        for _ in _dgp_batches(name, params, rng, n_reps, chunk):
            pass

    return floor


# did_staggered's default panels: 50 × 20, cohorts adopting in 6, 10, 14, a quarter never
_staggered_panels = partial(_dgp_batches, "did_staggered", {})


def _placebo_reference(rng: np.random.Generator, n_reps: int, draws: int = 199) -> None:
    """BDM's placebo laws on the CPS panel as a user would run them: pyfixest feols (CRV1 by state) and its
    wildboottest (WCR11, Rademacher, the same B) per law."""
    import pandas as pd
    import pyfixest as pf

    from .dgps.placebo_panel import SHIPPED, load_panel

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


_OBSERVABLES_PARAMS = {"n": 1000, "p": 3}


# the observables DGP at n = 1000 with three covariates (a logit score in X1)
_observables_data = partial(_dgp_batches, "observables", _OBSERVABLES_PARAMS)


def _observables_reference(rng: np.random.Generator, n_reps: int) -> None:
    """Per dataset, as a user would loop it: statsmodels' logit score, then TreatmentEffect's ipw and aipw with
    their GMM standard errors (the same numbers as the harness's ipw and aipw, tested)."""
    import warnings

    import statsmodels.api as sm
    from statsmodels.treatment.treatment_effects import TreatmentEffect

    for batch in _observables_data(rng, n_reps, chunk=1):
        x = sm.add_constant(batch["controls"][0].T)
        d = batch["treatment"][0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            select = sm.Logit(d, x).fit(disp=0)
            effects = TreatmentEffect(sm.OLS(batch["y"][0], x), d.astype(int), results_select=select)
            for method in (effects.ipw, effects.aipw):
                result = method()
                result.effect, result.sd, result.conf_int()


def _matching_reference(rng: np.random.Generator, n_reps: int) -> None:
    """Per dataset: causalinference's nearest-neighbour matching with bias adjustment (its own standard error)."""
    from causalinference import CausalModel

    for batch in _observables_data(rng, n_reps, chunk=1):
        model = CausalModel(batch["y"][0], batch["treatment"][0].astype(int), batch["controls"][0].T)
        model.est_via_matching(bias_adj=True)
        model.estimates["matching"]["ate"]


def _plugin_reference(rng: np.random.Generator, n_reps: int, n: int = 1000) -> None:
    """The bare loop: draw a dataset, make it a DataFrame, call the plugin's function on it."""
    import pandas as pd

    from .bench_plugin import sm_ols

    for _ in range(n_reps):
        z, e1, e2 = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        x = z + e1
        sm_ols(pd.DataFrame({"y": z + e2, "x": x, "w1": z}), level=0.95)


def _builtin_ols_reference(rng: np.random.Generator, n_reps: int) -> None:
    """The shipped ols kernel through the harness (one worker): what the compiled plugin is held to."""
    scenario = parse({**_OLS_SCENARIO, "estimators": ["ols"], "reps": n_reps}, "<bench:compiled_plugin>")
    with tempfile.TemporaryDirectory(prefix="causalmc-bench-") as tmp:
        run_scenario(make_plan(scenario), Path(tmp), jobs=1, fresh=True, figures=False, report=False)


_OLS_SCENARIO = {"name": "bench_ols", "dgp": "confounding", "seed": 1, "params": {"n": 1000}}
BENCH_PLUGIN = "causalmc.sims.bench_plugin"

WORKLOADS: dict[str, Workload] = {
    "confounding": Workload(
        name="confounding",
        description="confounding DGP, n = 1000, ols + ols_adjusted (classical SE)",
        scenario={
            "name": "bench_confounding",
            "dgp": "confounding",
            "seed": 1,
            "estimators": ["ols", "ols_adjusted"],
            "params": {"n": 1000},
        },
        reps=120_000,
        reference_reps=300,
        reference_name="statsmodels OLS loop",
        reference=_confounding_reference,
        normals_per_rep=3 * 1000,
        targets={"vs_reference": 25.0, "vs_floor": 0.60, "jobs2_vs_jobs1": 1.7},
    ),
    "iv": Workload(
        name="iv",
        description="iv DGP, n = 1000, K = 1, mu2 = 10: tsls (with first-stage F) + anderson_rubin",
        scenario={
            "name": "bench_iv",
            "dgp": "iv",
            "seed": 1,
            "estimators": ["tsls", "anderson_rubin"],
            "params": {"n": 1000, "k_instruments": 1, "mu2_per_instrument": 10.0},
        },
        reps=120_000,
        reference_reps=30,
        reference_name="linearmodels IV2SLS loop",
        reference=_iv_reference,
        normals_per_rep=4 * 1000,
        targets={"vs_reference": 1000.0, "vs_floor": 0.60},
    ),
    "iv_robust": Workload(
        name="iv_robust",
        description="iv DGP, n = 1000, K = 3, hetero = 1: tsls (hc1, with the effective F) + robust anderson_rubin",
        scenario={
            "name": "bench_iv_robust",
            "dgp": "iv",
            "seed": 1,
            "estimators": [{"name": "tsls", "se": "hc1"}, {"name": "anderson_rubin", "se": "hc1"}],
            "params": {"n": 1000, "k_instruments": 3, "pi": 0.1, "hetero": 1.0},
        },
        reps=30_000,
        reference_reps=20,
        reference_name="linearmodels + statsmodels loop",
        reference=_iv_robust_reference,
        normals_per_rep=6 * 1000,
        targets={"vs_reference": 1000.0},
    ),
    "did": Workload(
        name="did",
        description="did_panel 50 x 20, rho = 0.8 (placebo law): twfe with cluster errors",
        scenario={
            "name": "bench_did",
            "dgp": "did_panel",
            "seed": 1,
            "estimators": [{"name": "twfe", "se": "cluster"}],
            "params": {"rho": 0.8},
        },
        reps=200_000,
        reference_reps=30,
        reference_name="pyfixest feols loop",
        reference=_did_reference,
        normals_per_rep=20 + 50 * 21,
        integers_per_rep=1,
        targets={"vs_reference": 1000.0, "vs_floor": 0.50},
    ),
    "placebo": Workload(
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
        targets={"vs_reference": 500.0},
    ),
    "staggered": Workload(
        name="staggered",
        description="did_staggered 50 x 20, cohorts in 6/10/14 + never treated: cs (event study and dynamic) "
        "+ imputation (att and e = 0 ... 4)",
        scenario=_STAGGERED_SCENARIO,
        reps=60_000,
        reference_reps=20,
        reference_name="csdid + diff-diff loop",
        reference=_staggered_reference,
        normals_per_rep=20 + 50 * 22,
        targets={"vs_reference": 1000.0, "vs_floor": 0.40},
        floor=_draws_only("did_staggered", {}),
        floor_name="panel draws only",
    ),
    "observables": Workload(
        name="observables",
        description="observables DGP, n = 1000, 3 covariates: ipw + aipw (logit score, GMM sandwich SEs)",
        scenario={
            "name": "bench_observables",
            "dgp": "observables",
            "seed": 1,
            "estimators": ["ipw", "aipw"],
            "params": _OBSERVABLES_PARAMS,
        },
        reps=20_000,
        reference_reps=20,
        reference_name="statsmodels TreatmentEffect loop",
        reference=_observables_reference,
        normals_per_rep=5 * 1000,
        targets={"vs_reference": 1000.0, "vs_floor": 0.50},
        floor=_draws_only("observables", _OBSERVABLES_PARAMS, chunk=100),
        floor_name="data draws only",
    ),
    "matching": Workload(
        name="matching",
        description="observables DGP, n = 1000, 3 covariates: match (m = 1, bias-adjusted, Abadie-Imbens SE)",
        scenario={
            "name": "bench_matching",
            "dgp": "observables",
            "seed": 1,
            "estimators": [{"name": "match", "bias_adjust": "regression"}],
            "params": _OBSERVABLES_PARAMS,
            "chunk_size": 100,  # ten tasks, so two workers share them
        },
        reps=1000,
        reference_reps=20,
        reference_name="causalinference loop",
        reference=_matching_reference,
        normals_per_rep=5 * 1000,
        targets={},
        floor=_draws_only("observables", _OBSERVABLES_PARAMS, chunk=100),
        floor_name="data draws only",
    ),
    "plugin": Workload(
        name="plugin",
        description="confounding, n = 1000: statsmodels OLS of y on 1 + x + z as a plain-Python plugin",
        scenario={**_OLS_SCENARIO, "name": "bench_plugin", "estimators": ["sm_ols_plugin"], "chunk_size": 100},
        reps=3000,
        reference_reps=3000,
        reference_name="bare loop, same function",
        reference=_plugin_reference,
        normals_per_rep=3 * 1000,
        targets={"vs_reference": 0.90, "jobs2_vs_jobs1": 1.8},
        plugins=(BENCH_PLUGIN,),
        repeats=5,
    ),
    "compiled_plugin": Workload(
        name="compiled_plugin",
        description="confounding, n = 1000: the shipped ols kernel registered from a plugin",
        scenario={**_OLS_SCENARIO, "name": "bench_compiled_plugin", "estimators": ["ols_as_plugin"]},
        reps=120_000,
        reference_reps=120_000,
        reference_name="same kernel, built-in",
        reference=_builtin_ols_reference,
        normals_per_rep=3 * 1000,
        targets={"vs_reference": 0.95},
        plugins=(BENCH_PLUGIN,),
        repeats=5,
    ),
}


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(workload: Workload, scale: float = 1.0) -> dict:
    """Rates of the harness (1 and 2 workers), the reference loop and the floor.

    The harness, the reference and the floor are timed in alternation, in
    `workload.repeats` rounds, and
    each ratio is the median of the rounds' ratios, so a slow spell of the
    shared machine hits both sides of a ratio alike.
    """
    reps = max(100, int(workload.reps * scale))
    plugins.load_all(workload.plugins)
    scenario = parse({**workload.scenario, "reps": reps}, f"<bench:{workload.name}>")
    # Two chunks at least, so both workers start, load the plugins and import what they use.
    warm_reps = max(2 * scenario.chunk_for(1), reps // 20)
    warm = parse({**workload.scenario, "reps": warm_reps}, f"<bench:{workload.name}>")
    buffer = np.empty(workload.normals_per_rep)
    rng = np.random.default_rng(1)
    draw_normals(rng, 1, workload.normals_per_rep, buffer, workload.integers_per_rep)  # compile
    reference_reps = max(10, int(workload.reference_reps * scale))
    ref_rng = np.random.default_rng(2)
    workload.reference(ref_rng, 2)  # imports and first-call costs are not the loop's
    rounds = []
    with tempfile.TemporaryDirectory(prefix="causalmc-bench-") as tmp:
        for jobs in (1, 2):  # warm-up: compile, start the worker processes
            run_scenario(make_plan(warm), Path(tmp), jobs=jobs, fresh=True, figures=False, report=False)
        for _ in range(workload.repeats):
            seconds = {
                "floor": _seconds(
                    (lambda: workload.floor(rng, reps))
                    if workload.floor
                    else (lambda: draw_normals(rng, reps, workload.normals_per_rep, buffer, workload.integers_per_rep))
                ),
                "normals": _seconds(
                    lambda: draw_normals(rng, reps, workload.normals_per_rep, buffer, workload.integers_per_rep)
                ),
                "reference": _seconds(lambda: workload.reference(ref_rng, reference_reps)) * reps / reference_reps,
            }
            for jobs in (1, 2):
                seconds[f"harness_jobs{jobs}"] = _seconds(
                    lambda jobs=jobs: run_scenario(
                        make_plan(scenario), Path(tmp), jobs=jobs, fresh=True, figures=False, report=False
                    )
                )
            rounds.append({k: reps / v for k, v in seconds.items()})
    rates = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratios = {
        name: statistics.median(r["harness_jobs1"] / r[base] for r in rounds)
        for name, base in (("vs_reference", "reference"), ("vs_floor", "floor"))
    }
    ratios["jobs2_vs_jobs1"] = statistics.median(r["harness_jobs2"] / r["harness_jobs1"] for r in rounds)
    checks = {k: {"ratio": ratios[k], "target": t, "met": ratios[k] >= t} for k, t in workload.targets.items()}
    return {
        "workload": workload.name,
        "description": workload.description,
        "reference": workload.reference_name,
        "floor": workload.floor_name,
        "reps": reps,
        "rates_per_second": rates,
        "ratios": ratios,
        "targets": checks,
    }


def format_result(result: dict) -> str:
    r, q = result["rates_per_second"], result["ratios"]
    lines = [
        f"{result['workload']}: {result['description']} ({result['reps']} harness replications)",
        f"  harness, 1 worker   {r['harness_jobs1']:>12,.0f} reps/s",
        f"  harness, 2 workers  {r['harness_jobs2']:>12,.0f} reps/s",
        f"  {result['reference']:<19} {r['reference']:>12,.0f} reps/s",
        f"  {result['floor']:<19} {r['floor']:>12,.0f} reps/s",
    ]
    if result["floor"] != "floor (draws only)":
        lines.append(f"  {'normals only':<19} {r['normals']:>12,.0f} reps/s")
    labels = {
        "vs_reference": f"harness / {result['reference']}",
        "vs_floor": f"harness / {result['floor']}",
        "jobs2_vs_jobs1": "2 workers / 1 worker",
    }
    for key, value in q.items():
        target = result["targets"].get(key)
        verdict = "" if target is None else f"   target ≥ {target['target']:g}: {'met' if target['met'] else 'MISSED'}"
        lines.append(f"  {labels[key]:<36} {value:>9.2f}×{verdict}")
    return "\n".join(lines)


REFERENCE_PACKAGES = {
    "confounding": "statsmodels",
    "iv": "linearmodels",
    "iv_robust": "linearmodels",
    "did": "pandas",
    "staggered": "csdid",
    "placebo": "wildboottest",
    "observables": "statsmodels",
    "matching": "causalinference",
    "plugin": "statsmodels",
    "compiled_plugin": "numba",
}


# -- memory: peak resident memory of the client against the replications --------------------------

MEMORY = "memory"
MEMORY_SCENARIO = {**WORKLOADS["confounding"].scenario, "name": "memory", "params": {"n": 100}}
# Run in a fresh interpreter: the whole command (records, summary, figures, report) on 2 workers, then
# the client's own peak resident memory (the workers' is one chunk's and does not grow with a run): Linux's
# VmHWM, which starts afresh with the interpreter (ru_maxrss would keep the forking parent's peak).
_PEAK = """\
import re, resource, sys
from causalmc.sims.cli import main
code = main(["run", sys.argv[1], "--out", sys.argv[2], "--jobs", "2", "--quiet", "--fresh"])
try:
    with open("/proc/self/status") as status:
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) * 1024)
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
sys.exit(code)
"""


def measure_memory(scale: float = 1.0) -> dict:
    """Peak client memory for 10,000 and 1,000,000 (× scale) replications of one confounding cell."""
    import subprocess

    counts = (10_000, max(20_000, int(1_000_000 * scale)))
    make_plan(parse({**MEMORY_SCENARIO, "reps": 10}))  # numba's cache filled: no compilation in the runs
    peaks = {}
    with tempfile.TemporaryDirectory(prefix="causalmc-memory-") as tmp:
        for reps in counts:
            path = Path(tmp) / f"memory_{reps}.toml"
            path.write_text(_toml({**MEMORY_SCENARIO, "reps": reps}))
            done = subprocess.run(
                [sys.executable, "-c", _PEAK, str(path), str(Path(tmp) / "out")],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[reps] = int(done.stdout.strip().splitlines()[-1])
    small, big = peaks[counts[0]], peaks[counts[1]]
    return {
        "workload": MEMORY,
        "peak_bytes": {str(k): v for k, v in peaks.items()},
        "targets": {
            "under_1_gib": {"target": 2**30, "value": big, "met": big < 2**30},
            "under_2x_small": {"target": 2.0, "value": big / small, "met": big < 2 * small},
        },
    }


def _toml(scenario: dict) -> str:
    lines = []
    for key, value in scenario.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    for key, value in scenario.items():
        if isinstance(value, dict):
            lines += [f"[{key}]", *(f"{k} = {json.dumps(v)}" for k, v in value.items())]
    return "\n".join(lines) + "\n"


def format_memory(result: dict) -> str:
    (small, a), (big, b) = ((int(k), v) for k, v in result["peak_bytes"].items())
    met = {k: "met" if t["met"] else "MISSED" for k, t in result["targets"].items()}
    return (
        "memory: peak resident memory of the client, confounding n = 100, ols + ols_adjusted, 2 workers, "
        "records + summary + figures + report\n"
        f"  {small:>9,} replications  {a / 2**20:8.0f} MiB\n"
        f"  {big:>9,} replications  {b / 2**20:8.0f} MiB   target < 1024 MiB: {met['under_1_gib']}; "
        f"{b / a:.2f}× the small run, target < 2×: {met['under_2x_small']}"
    )


# -- sufficient: replications per second against n, with the sufficient-statistic sampler and the data ------

SUFFICIENT = "sufficient"
SUFFICIENT_SIZES = (1_000, 1_000_000, 1_000_000_000)
SUFFICIENT_DESIGNS = {
    "confounding": ({**MEMORY_SCENARIO}, "ols + ols_adjusted"),
    "iv": (
        {"dgp": "iv", "seed": 1, "estimators": ["tsls", "anderson_rubin"], "params": {"pi": 0.5}},
        "tsls + anderson_rubin, K = 1",
    ),
}
# Replications per timed run: the data sampler at n = 10⁹ would draw 24 GB or more per replication: not run.
SUFFICIENT_REPS = {("sufficient", n): 100_000 for n in SUFFICIENT_SIZES} | {
    ("data", 1_000): 50_000,
    ("data", 1_000_000): 60,
}


def measure_sufficient(scale: float = 1.0) -> dict:
    """Replications/s on one worker, end to end (records and summary), per design, sampler and n."""
    rates, targets = {}, {}
    with tempfile.TemporaryDirectory(prefix="causalmc-sufficient-") as tmp:
        for design, (scenario_keys, _) in SUFFICIENT_DESIGNS.items():
            for (sampler, n), reps in SUFFICIENT_REPS.items():
                scenario = parse(
                    {**scenario_keys, "name": f"{design}_{sampler}_{n}", "sampler": sampler,
                     "params": {**scenario_keys["params"], "n": n}, "reps": max(20, int(reps * scale))},
                    f"<bench:{SUFFICIENT}>",
                )  # fmt: skip
                plan = make_plan(scenario)  # compiled before timing
                run_scenario(plan.with_reps({k: 2 for k in plan.reps}), Path(tmp) / "warm", fresh=True,
                                    figures=False, report=False)  # fmt: skip
                seconds = _seconds(
                    lambda p=plan: run_scenario(p, Path(tmp), fresh=True, figures=False, report=False)
                )
                rates[f"{design}_{sampler}_{n}"] = plan.total_reps / seconds
            suff = [rates[f"{design}_sufficient_{n}"] for n in SUFFICIENT_SIZES]
            spread = max(suff) / min(suff)
            versus = rates[f"{design}_sufficient_1000000"] / rates[f"{design}_data_1000000"]
            targets[f"{design}_rate_spread_over_n"] = {"target": 2.0, "value": spread, "met": spread <= 2.0}
            targets[f"{design}_vs_data_at_1e6"] = {"target": 1000.0, "value": versus, "met": versus >= 1000.0}
    return {"workload": SUFFICIENT, "rates_per_second": rates, "targets": targets}


def format_sufficient(result: dict) -> str:
    r, t = result["rates_per_second"], result["targets"]
    lines = ["sufficient: replications/s on 1 worker, end to end (records and summary), classical standard errors"]
    for design, (_, estimators) in SUFFICIENT_DESIGNS.items():
        lines.append(f"  {design} ({estimators})")
        for n in SUFFICIENT_SIZES:
            data = r.get(f"{design}_data_{n}")
            shown = f"{data:>12,.1f}/s" if data else "     not run (gigabytes per replication)"
            lines.append(f"    n = {n:>13,}   sufficient {r[f'{design}_sufficient_{n}']:>10,.0f}/s   data {shown}")
        spread, versus = t[f"{design}_rate_spread_over_n"], t[f"{design}_vs_data_at_1e6"]
        lines.append(
            f"    fastest / slowest n (sufficient) {spread['value']:.2f}×   target ≤ 2: "
            f"{'met' if spread['met'] else 'MISSED'}"
        )
        lines.append(
            f"    sufficient / data at n = 10⁶ {versus['value']:,.0f}×   target ≥ 1000: "
            f"{'met' if versus['met'] else 'MISSED'}"
        )
    return "\n".join(lines)


# -- big_n: one big cell with few replications spreads over every worker ---------------------------------

BIG_N = "big_n"
BIG_N_SCENARIO = {
    "name": "big_n", "dgp": "iv", "seed": 4, "reps": 600, "estimators": ["tsls"],
    "params": {"n": 1_000_000, "pi": 0.8},
}  # fmt: skip


def measure_big_n(scale: float = 1.0) -> dict:
    """Wall time of one n = 10⁶ cell (data sampler) on 1 and 2 started workers, medians of three alternating
    rounds: its default chunks (5 replications, from the cost of one) make enough tasks for both."""
    scenario = parse({**BIG_N_SCENARIO, "reps": max(40, int(BIG_N_SCENARIO["reps"] * scale))}, f"<bench:{BIG_N}>")
    plan = make_plan(scenario)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="causalmc-big-n-") as tmp:
        for jobs in (1, 2):
            run(plan.with_reps({k: 20 for k in plan.reps}), Path(tmp), jobs=jobs, fresh=True)  # warm workers
        for _ in range(3):  # alternating, so a slow spell of the shared machine hits both sides of a ratio
            rounds.append({j: _seconds(lambda j=j: run(plan, Path(tmp), jobs=j, fresh=True)) for j in (1, 2)})
    speedup = statistics.median(r[1] / r[2] for r in rounds)
    seconds = {j: statistics.median(r[j] for r in rounds) for j in (1, 2)}
    return {
        "workload": BIG_N,
        "reps": plan.total_reps,
        "tasks": len(plan.tasks),
        "seconds": seconds,
        "targets": {"jobs2_vs_jobs1": {"target": 1.7, "value": speedup, "met": speedup >= 1.7}},
    }


def format_big_n(result: dict) -> str:
    s, t = result["seconds"], result["targets"]["jobs2_vs_jobs1"]
    return (
        f"big_n: one iv cell, n = 10⁶, {result['reps']} replications of tsls in {result['tasks']} tasks (records only)\n"
        f"  1 worker {s[1]:.2f} s, 2 workers {s[2]:.2f} s (medians of 3 rounds): {t['value']:.2f}×   target ≥ 1.7: "
        f"{'met' if t['met'] else 'MISSED'}"
    )


def main(args) -> int:
    import importlib.util

    missing = sorted(
        {
            REFERENCE_PACKAGES[w]
            for w in args.workloads
            if w not in (MEMORY, SUFFICIENT, BIG_N) and importlib.util.find_spec(REFERENCE_PACKAGES[w]) is None
        }
    )
    if missing:
        print(
            f"error: the benchmark's reference loops need {', '.join(missing)}: pip install -e '.[bench]'",
            file=sys.stderr,
        )
        return 2
    results = []
    for name in args.workloads:
        if name == MEMORY:
            result = measure_memory(scale=args.scale)
            print(format_memory(result), flush=True)
        elif name == SUFFICIENT:
            result = measure_sufficient(scale=args.scale)
            print(format_sufficient(result), flush=True)
        elif name == BIG_N:
            result = measure_big_n(scale=args.scale)
            print(format_big_n(result), flush=True)
        else:
            result = measure(WORKLOADS[name], scale=args.scale)
            print(format_result(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    missed = [f"{r['workload']}.{k}" for r in results for k, c in r["targets"].items() if not c["met"]]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 1 if missed else 0


__all__ = ["BIG_N", "MEMORY", "SUFFICIENT", "WORKLOADS", "main", "measure", "measure_memory", "measure_sufficient"]
