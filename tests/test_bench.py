"""Every benchmark workload runs: its scenario, its reference loop and its floor (no timings here)."""

import numpy as np
import pytest

from causalmc.sims import plugins
from causalmc.sims.bench import workloads
from causalmc.sims.bench.measure import Workload, draw_normals
from causalmc.sims.run import pipeline
from causalmc.sims.run.plan import make_plan
from causalmc.sims.scenario import parse


@pytest.mark.parametrize("name", [name for name, w in workloads().items() if isinstance(w, Workload)])
def test_workload_runs(name, tmp_path):
    workload = workloads()[name]
    with plugins.isolated():
        plugins.load_all(workload.plugins)
        scenario = parse({**workload.scenario, "reps": 2}, f"<bench:{name}>")
        outcome = pipeline.run_scenario(make_plan(scenario), tmp_path, jobs=1, figures=False)
        assert (outcome.summary["n_ok"] == 2).all()
        (workload.smoke_reference or workload.reference)(np.random.default_rng(0), 2)
    buffer = np.empty(workload.normals_per_rep)
    draw_normals(np.random.default_rng(0), 2, workload.normals_per_rep, buffer, workload.integers_per_rep)


def test_memory_workload_writes_a_valid_scenario():
    import tomllib

    from causalmc.sims.bench.memory import MEMORY_SCENARIO, _toml
    from causalmc.sims.scenario import parse

    scenario = parse(tomllib.loads(_toml({**MEMORY_SCENARIO, "reps": 10_000})))
    assert scenario.reps == 10_000 and dict(scenario.params)["n"] == 100
    assert [e.label for e in scenario.estimators] == ["ols", "ols_adjusted"]


def test_the_big_n_workload_spreads_one_cell_over_many_tasks():
    from causalmc.sims.bench.big_n import BIG_N_SCENARIO
    from causalmc.sims.scenario import parse

    plan = make_plan(parse(BIG_N_SCENARIO))
    assert len(plan.cells) == 1 and len(plan.tasks) == 120  # 5 replications per task: enough for 120 workers


def test_discovering_the_workloads_registers_no_estimator():
    """The plugin workloads' estimators enter the registry only when a workload loads them as a plugin."""
    import subprocess
    import sys

    code = (
        "from causalmc.sims import plugins\n"
        "from causalmc.sims.bench import workloads\n"
        "names = list(workloads())\n"
        "assert 'plugin' in names and 'compiled_plugin' in names, names\n"
        "assert not {'sm_ols_plugin', 'ols_as_plugin'} & set(plugins.estimator_registry())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
