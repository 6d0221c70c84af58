"""``sufficient``: replications per second against n, with the sufficient-statistic sampler and the data."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..run.pipeline import run_scenario
from ..run.plan import make_plan
from ..scenario import parse
from .measure import Measurement, timed
from .memory import MEMORY_SCENARIO

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
                seconds = timed(lambda p=plan: run_scenario(p, Path(tmp), fresh=True, figures=False, report=False))
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


WORKLOADS = (Measurement(SUFFICIENT, order=120, run=measure_sufficient, format=format_sufficient),)
