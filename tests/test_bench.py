"""Every benchmark workload runs: its scenario, its reference loop and its floor (no timings here)."""

import numpy as np
import pytest

from causalmc.sims import plugins
from causalmc.sims.run import pipeline
from causalmc.sims.run.plan import make_plan
from causalmc.sims.bench import WORKLOADS, draw_normals
from causalmc.sims.scenario import parse


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_runs(name, tmp_path):
    workload = WORKLOADS[name]
    with plugins.isolated():
        plugins.load_all(workload.plugins)
        scenario = parse({**workload.scenario, "reps": 4}, f"<bench:{name}>")
        outcome = pipeline.run_scenario(make_plan(scenario), tmp_path, jobs=1, figures=False)
        assert (outcome.summary["n_ok"] == 4).all()
        workload.reference(np.random.default_rng(0), 2)
    buffer = np.empty(workload.normals_per_rep)
    draw_normals(np.random.default_rng(0), 2, workload.normals_per_rep, buffer, workload.integers_per_rep)


def test_memory_workload_writes_a_valid_scenario():
    import tomllib

    from causalmc.sims.bench import MEMORY_SCENARIO, _toml
    from causalmc.sims.scenario import parse

    scenario = parse(tomllib.loads(_toml({**MEMORY_SCENARIO, "reps": 10_000})))
    assert scenario.reps == 10_000 and dict(scenario.params)["n"] == 100
    assert [e.label for e in scenario.estimators] == ["ols", "ols_adjusted"]


def test_the_big_n_workload_spreads_one_cell_over_many_tasks():
    from causalmc.sims.bench import BIG_N_SCENARIO
    from causalmc.sims.scenario import parse

    plan = make_plan(parse(BIG_N_SCENARIO))
    assert len(plan.cells) == 1 and len(plan.tasks) == 120  # 5 replications per task: enough for 120 workers
