"""Scenarios: TOML files read, validated and expanded into cells.

A scenario is a TOML file (data, never code)::

    name = "confounding"              # output folder name
    description = "..."
    dgp = "confounding"
    reps = 2000                       # replications per grid cell
    seed = 20261127
    level = 0.95                      # confidence level (default 0.95)
    sampler = "data"                  # or "sufficient": exact sufficient statistics, any n at one cost
    chunk_size = 5000                 # replications per task (default: from a replication's cost)
    target_mcse = { coverage = 0.005 }  # optional: add replications until every MCSE is this small …
    max_reps = 20000                  # … or this many replications per cell (required with target_mcse)
    estimators = ["ols", { name = "ols", se = "hc1", label = "ols_hc1" }]
    figures = ["estimate_vs_param"]   # extra figures (the standard ones are always drawn)
    [params]                          # fixed DGP parameters
    beta = 0.0
    [grid]                            # full factorial sweep
    n = [100, 1000, 10000]
    [[cases]]                         # named variants of [params], one at a time (see `params`)
    name = "heavy"
    beta = 1.0
    [dag]                             # a DGP with `configure` reads the table of its name (dgp = "dag": the graph)
    [suite]                           # membership of the default suite
    reps = 500                        # replications there (default: reps)
    [[expect]]                        # checked claims, see `Expectation`
    where = { n = 10000 }
    estimator = "ols"
    measure = "bias"
    equals = 0.5

Everything is validated before any work starts; a mistake raises
`ScenarioError` naming the file and the key.

The room: `model` (Scenario, Cell, EstimatorConfig, Expectation,
ScenarioError), `parse` (the top-level keys) with one module per section
(`params`: parameters, grid and sampler; `estimators`; `expectations`;
`targets`; `hooks`: the DGP's configuration table and data files) reading
through `reader`, and `files` (reading a file, a folder's files).
"""

from .files import load, scenario_files, suite_files
from .model import Cell, EstimatorConfig, Expectation, Scenario, ScenarioError, cell_key
from .parse import parse
from .targets import check_targets

__all__ = [
    "Cell",
    "EstimatorConfig",
    "Expectation",
    "Scenario",
    "ScenarioError",
    "cell_key",
    "check_targets",
    "load",
    "parse",
    "scenario_files",
    "suite_files",
]
