"""The dag DGP: a causal graph written in the scenario, compiled to one numba interpreter.

- The truth is the effect of an intervention with each unit's noise held
  fixed: on linear graphs it equals the path sum exactly, and on nonlinear
  ones the per-replication value a hand computation from the drawn data gives.
- Each variable type draws the distribution its equation says (within 4 MCSE).
- Configured DGPs keep the generic contract (replication-major draws,
  determinism, exactly their declared arrays, the tidy frame round trip).
- The graph is part of the run's identity; workers, `sample` and `estimate`
  see the same graph; a grid over a coefficient is a grid like any other.
- Mistakes in the [dag] table are exit code 2 naming the key, nothing written.
"""

import json
import math
import textwrap
import tomllib
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import causalmc
from causalmc.sims import frames, records
from causalmc.sims.run import folder
from causalmc.sims.cli import main
from causalmc.sims.dgps import dag
from causalmc.sims.scenario import ScenarioError, load, parse

HEADER = """\
name = "g"
dgp = "dag"
reps = 10
seed = 1
estimators = ["ols"]
"""


def configured(table, **params):
    """A dag DGP from a [dag] table given as TOML text, and its example parameters with `params` over them."""
    dgp = dag.configure(tomllib.loads(textwrap.dedent(table))["dag"], {})
    return dgp, dgp.example_params()[0] | params


# -- the truth ---------------------------------------------------------------------------------


def random_linear_graph(rng, binary_treatment: bool) -> dict:
    """A random linear DAG on 6 variables (T third, Y last), every edge forward, some nonlinear confounding."""
    names = ["A", "B", "T", "M1", "M2", "Y"]
    variables = {}
    for j, name in enumerate(names):
        parents = {p: float(rng.normal()) for p in names[:j] if rng.random() < 0.7}
        spec = {"type": "uniform" if rng.random() < 0.3 else "normal", "parents": parents}
        spec["intercept"] = float(rng.normal())
        variables[name] = spec
    variables["T"] = {"type": "binary", "parents": {"A": 0.5}} if binary_treatment else variables["T"]
    variables["M1"]["parents"]["T"] = float(rng.normal())  # at least one mediator
    variables["M2"]["parents"]["M1"] = float(rng.normal())
    variables["Y"]["parents"] |= {"M2": float(rng.normal()), "T": float(rng.normal())}
    # A nonlinear term of a non-descendant of T: confounding, never part of the effect.
    variables["Y"]["terms"] = [{"square": "A", "coef": 0.3}, {"indicator": "B", "above": 0.2, "coef": 1.0}]
    order = rng.permutation(names)  # written in any order
    return {"treatment": "T", "outcome": "Y", "controls": ["A"], "variables": {n: variables[n] for n in order}}


def paths(variables, node, target) -> list[list[str]]:
    """Every directed path node → … → target (by brute force, independent of `dag.path_sum`)."""
    if node == target:
        return [[node]]
    children = [c for c, spec in variables.items() if node in spec.get("parents", {})]
    return [[node, *rest] for c in children for rest in paths(variables, c, target)]


@pytest.mark.parametrize("binary", [True, False], ids=["binary T", "continuous T"])
def test_linear_truth_is_the_path_sum(rng, binary):
    for _ in range(5):
        table = random_linear_graph(rng, binary)
        dgp = dag.configure(table, {})
        params = dgp.example_params()[0] | {"n": 50}
        batch = dgp.generate(rng, 20, params)
        variables = table["variables"]
        by_hand = sum(
            math.prod(variables[b]["parents"][a] for a, b in zip(p, p[1:])) for p in paths(variables, "T", "Y")
        )
        text = params["graph"]
        assert abs(dag.path_sum(text, params) - by_hand) <= 1e-12
        assert np.all(np.abs(batch["truth"] - by_hand) <= 1e-12), (batch["truth"], by_hand)
        if binary:
            assert np.all(np.abs(batch["truth:att"] - by_hand) <= 1e-12)
        else:
            assert "truth:att" not in batch and "treatment" not in batch


def test_path_sum_uses_parameter_values_and_refuses_nonlinear_paths():
    dgp, params = configured(
        """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = []
        parameters = { a = 2.0, b = 3.0 }
        variables.T = { type = "normal" }
        variables.M = { type = "normal", parents = { T = "a" } }
        variables.Y = { type = "normal", parents = { M = "b", T = 1.0 } }
        """
    )
    assert dag.path_sum(params["graph"], params | {"a": -1.5}) == -1.5 * 3.0 + 1.0
    batch = dgp.generate(np.random.default_rng(0), 3, params | {"a": -1.5})
    np.testing.assert_allclose(batch["truth"], -3.5, rtol=0, atol=1e-12)
    _, nonlinear = configured(
        """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = []
        variables.T = { type = "normal" }
        variables.Y = { type = "normal", terms = [{ square = "T", coef = 1.0 }] }
        """
    )
    with pytest.raises(ValueError, match="not linear"):
        dag.path_sum(nonlinear["graph"], nonlinear)


def test_heterogeneous_effect_is_the_replications_own_average(rng):
    """Y = tau·T + het·T·V + …: Y(1) − Y(0) = tau + het·V_i, so ate = tau + het·mean(V), att over T = 1."""
    dgp, params = configured(
        """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = ["V"]
        parameters = { tau = 1.0, het = 0.5 }
        variables.V = { type = "uniform", intercept = -1.0, noise = 2.0 }
        variables.T = { type = "binary", link = "probit", parents = { V = 1.0 } }
        variables.Y = { type = "normal", parents = { T = "tau", V = 1.0 }, terms = [
            { product = ["T", "V"], coef = "het" }, { exp = "V", coef = 0.3 } ] }
        """,
        n=30,
        tau=2.0,
        het=-1.5,
    )
    batch = dgp.generate(rng, 50, params)
    v, t = batch["V"], batch["treatment"]
    np.testing.assert_allclose(batch["truth"], 2.0 - 1.5 * v.mean(axis=1), rtol=0, atol=1e-12)
    with np.errstate(invalid="ignore"):
        att = 2.0 - 1.5 * (v * t).sum(axis=1) / t.sum(axis=1)
    np.testing.assert_allclose(batch["truth:att"], att, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(batch["x"], t)


def test_continuous_treatment_effect_is_a_unit_increase():
    """Y = 0.5 T + q·T² + e: Y(T_i + 1) − Y(T_i) = 0.5 + q(2 T_i + 1)."""
    dgp, params = configured(
        """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = []
        parameters = { q = 0.2 }
        variables.T = { type = "normal", intercept = 1.0 }
        variables.Y = { type = "normal", parents = { T = 0.5 }, terms = [{ square = "T", coef = "q" }] }
        """,
        n=25,
    )
    batch = dgp.generate(np.random.default_rng(3), 10, params)
    np.testing.assert_allclose(batch["truth"], 0.5 + 0.2 * (2 * batch["x"].mean(axis=1) + 1), rtol=0, atol=1e-12)


def test_mediator_is_recomputed_under_the_intervention(rng):
    """T → M (binary, logit) → Y: E[ate] = tau + d·(F(a + 1) − F(a)) with the same noise in both worlds."""
    dgp, params = configured(
        """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = []
        variables.T = { type = "binary" }
        variables.M = { type = "binary", intercept = -0.5, parents = { T = 1.0 } }
        variables.Y = { type = "normal", parents = { T = 1.0, M = 2.0 } }
        variables.K = { type = "normal", parents = { T = 1.0, Y = 1.0 } }
        """,
        n=50,
    )
    truth = dgp.generate(rng, 4000, params)["truth"]

    def logistic(x):
        return 1 / (1 + math.exp(-x))

    expected = 1.0 + 2.0 * (logistic(0.5) - logistic(-0.5))
    mcse = truth.std(ddof=1) / math.sqrt(truth.size)
    assert abs(truth.mean() - expected) <= 4 * mcse, (truth.mean(), expected, mcse)


# -- each type draws what its equation says ----------------------------------------------------


def test_variable_types_draw_their_distributions(rng):
    dgp, params = configured(
        """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = ["U"]
        variables.U = { type = "uniform", intercept = 2.0, noise = 3.0 }
        variables.G = { type = "categorical", probs = [0.2, 0.5, 0.3] }
        variables.P = { type = "categorical", link = "probit", probs = [0.6, 0.1, 0.3] }
        variables.T = { type = "binary", intercept = 0.7 }
        variables.Q = { type = "binary", link = "probit", intercept = -0.4 }
        variables.Y = { type = "normal", intercept = 1.0, noise = 2.0 }
        """,
        n=200,
    )
    batch = dgp.generate(rng, 100, params)
    claims = [
        (batch["U"], 3.5, math.sqrt(9 / 12)),  # U(2, 5)
        (batch["G"] == 0, 0.2, math.sqrt(0.2 * 0.8)),
        (batch["G"] == 2, 0.3, math.sqrt(0.3 * 0.7)),
        (batch["P"] == 1, 0.1, math.sqrt(0.1 * 0.9)),
        (batch["P"] == 2, 0.3, math.sqrt(0.3 * 0.7)),
        (batch["x"], 1 / (1 + math.exp(-0.7)), None),
        (batch["Q"], NormalDist().cdf(-0.4), None),
        (batch["y"], 1.0, 2.0),
        (batch["y"] ** 2, 1.0 + 4.0, None),
    ]
    for values, expected, sd in claims:
        values = np.asarray(values, dtype=float).ravel()
        sd = sd if sd is not None else values.std(ddof=1)
        assert abs(values.mean() - expected) <= 4 * sd / math.sqrt(values.size), (values.mean(), expected)
    assert set(np.unique(batch["G"])) <= {0.0, 1.0, 2.0}


# -- the generic contract, for graphs the registered examples cannot show ----------------------

GRAPHS = {
    "continuous T, categorical and uniform": """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = ["Z", "G"]
        parameters = { b = 0.5 }
        variables.Z = { type = "normal" }
        variables.G = { type = "categorical", probs = [0.25, 0.25, 0.5], parents = { Z = 1.0 } }
        variables.T = { type = "uniform", noise = 2.0, parents = { Z = "b", G = 0.3 } }
        variables.M = { type = "normal", parents = { T = 1.0 } }
        variables.Y = { type = "normal", parents = { M = 1.0, G = -1.0 }, terms = [
            { indicator = "G", above = 1.5, coef = 2.0 }, { product = ["T", "Z"], coef = 0.5 } ] }
        variables.K = { type = "binary", parents = { T = 1.0, Y = 1.0 } }
        """,
    "no controls, binary outcome": """
        [dag]
        treatment = "T"
        outcome = "Y"
        controls = []
        variables.T = { type = "binary" }
        variables.Y = { type = "binary", link = "probit", parents = { T = 1.0 } }
        """,
}


@pytest.mark.parametrize("name", GRAPHS)
def test_configured_dgps_keep_the_generic_contract(name):
    dgp, params = configured(GRAPHS[name], n=9)
    whole = dgp.generate(np.random.default_rng(7), 7, params)
    rng = np.random.default_rng(7)
    parts = [dgp.generate(rng, m, params) for m in (3, 1, 3)]
    assert set(whole) - {"truth", "truth:att"} == set(dgp.provides)
    for key, array in whole.items():
        assert array.shape[0] == 7 and array.dtype == np.float64, key
        np.testing.assert_array_equal(array, np.concatenate([p[key] for p in parts]), err_msg=key)
        assert key.startswith("truth") or array.flags.c_contiguous, key
    other = dgp.generate(np.random.default_rng(8), 7, params)
    assert not np.array_equal(other["y"], whole["y"])
    frame = frames.frame_of({k: whole[k][2] for k in dgp.provides})
    back = frames.arrays_of(frame, dgp.provides)
    for key in dgp.provides:
        np.testing.assert_array_equal(back[key][0], whole[key][2], err_msg=key)


def test_registered_examples_show_what_they_should():
    kinds = set()
    for params in dag.DAG.example_params():
        spec = json.loads(params["graph"])
        kinds |= {v["type"] for v in spec["variables"].values()}
        kinds |= {dag.term_kind(t) for v in spec["variables"].values() for t in v["terms"]}
    assert kinds >= {*dag.TYPES, *dag.TERMS}


def test_canonical_text_is_a_dag_table_and_ignores_the_writing_order():
    table = random_linear_graph(np.random.default_rng(1), True)
    text = dag.parse_graph(table).text
    assert dag.parse_graph(json.loads(text)).text == text
    reordered = table | {"variables": dict(reversed(list(table["variables"].items())))}
    assert dag.parse_graph(reordered).text == text


# -- identity, workers, sample and estimate ------------------------------------------------------

SCENARIO = HEADER.replace('estimators = ["ols"]', 'estimators = ["ols", { name = "ols_adjusted", adjust = ["M"] }]') + (
    """
[dag]
treatment = "T"
outcome = "Y"
controls = ["C"]
[dag.parameters]
gamma = 1.0
[dag.variables.C]
type = "normal"
[dag.variables.T]
type = "binary"
parents = { C = "gamma" }
[dag.variables.M]
type = "normal"
parents = { T = 0.5 }
[dag.variables.Y]
type = "normal"
parents = { T = 1.0, M = 1.0, C = 1.0 }
[params]
n = 30
[grid]
gamma = [0.0, 1.0]
"""
)


def test_graph_is_part_of_the_runs_identity():
    raw = tomllib.loads(SCENARIO)
    base = parse(raw)
    # Variables written in another order: the same graph, fingerprint and cells.
    reordered = raw | {"dag": raw["dag"] | {"variables": dict(reversed(list(raw["dag"]["variables"].items())))}}
    assert list(reordered["dag"]["variables"]) != list(raw["dag"]["variables"])
    assert parse(reordered).fingerprint() == base.fingerprint()
    assert [c.key for c in parse(reordered).cells()] == [c.key for c in base.cells()]
    # A changed coefficient, type or edge: another run, other cells (so other seeds).
    for old, new in (
        ("M = 1.0, C = 1.0", "M = 1.5, C = 1.0"),
        ('type = "normal"\nparents = { T = 0.5 }', 'type = "uniform"\nparents = { T = 0.5 }'),
        ("parents = { T = 0.5 }", "parents = { T = 0.5, C = 0.1 }"),
    ):
        assert old in SCENARIO
        changed = parse(tomllib.loads(SCENARIO.replace(old, new)))
        assert changed.fingerprint() != base.fingerprint(), new
        assert not {c.key for c in changed.cells()} & {c.key for c in base.cells()}, new
    # A grid over a coefficient: one graph, cells that differ by the parameter.
    cells = base.cells()
    assert [c.params["gamma"] for c in cells] == [0.0, 1.0] and cells[0].params["graph"] == cells[1].params["graph"]


def test_workers_sample_and_estimate_see_the_same_graph(tmp_path):
    one = causalmc.run(SCENARIO, out=tmp_path / "one", jobs=1, progress=False, figures=False)
    two = causalmc.run(SCENARIO, out=tmp_path / "two", jobs=2, progress=False, figures=False)
    a, b = (records.read(r.run_dir / "records").sort_values(["cell", "rep", "estimator"]) for r in (one, two))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    frame = causalmc.sample(SCENARIO, cell={"gamma": 1.0}, rep=4)
    assert list(frame.columns) == ["y", "x", "treatment", "w1", "C", "M"]
    assert set(frame.attrs["truths"]) == {"ate", "att"} and frame.attrs["truth"] == pytest.approx(1.5, abs=1e-12)
    np.testing.assert_array_equal(frame["w1"], frame["C"])
    row = a[(a["cell"] == "gamma=1") & (a["rep"] == 4) & (a["estimator"] == "ols_adjusted_M")].iloc[0]
    got = causalmc.estimate({"name": "ols_adjusted", "adjust": ["M"]}, frame, null=row["truth"])
    assert got["estimate"] == row["estimate"] and got["se"] == row["se"]
    assert row["term"] == "ate"


def test_changed_graph_is_refused_on_resume(tmp_path, capsys):
    path = tmp_path / "g.toml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-figures", "--jobs", "1"]) == 0
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-figures", "--jobs", "1"]) == 0
    path.write_text(SCENARIO.replace("parents = { T = 0.5 }", "parents = { T = 0.6 }"))
    capsys.readouterr()
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-figures", "--jobs", "1"]) == 2
    assert "holds results of another version" in capsys.readouterr().err


def test_a_runs_scenario_is_read_back_with_its_graph(tmp_path):
    run = causalmc.run(SCENARIO, out=tmp_path, jobs=1, progress=False, figures=False)
    again = causalmc.open(run.run_dir)
    assert again.scenario.fingerprint() == run.scenario.fingerprint()
    # The manifest's parameters alone (the graph as canonical JSON, no [dag] table) describe the same DGP.
    params = json.loads((run.run_dir / folder.MANIFEST).read_text())["scenario"]["params"]
    raw = tomllib.loads(SCENARIO)
    del raw["dag"]
    raw["params"] = params
    assert parse(raw).dgp_spec().provides == run.scenario.dgp_spec().provides


# -- mistakes: exit code 2, the key named, nothing written ---------------------------------------

BASE = HEADER + textwrap.dedent("""\
    [dag]
    treatment = "T"
    outcome = "Y"
    controls = ["C"]
    [dag.parameters]
    tau = 1.0
    [dag.variables.C]
    type = "normal"
    [dag.variables.T]
    type = "normal"
    parents = { C = 1.0 }
    [dag.variables.M]
    type = "normal"
    parents = { T = 1.0 }
    [dag.variables.Y]
    type = "normal"
    parents = { T = "tau", M = 1.0, C = 1.0 }
    """)


def run_file(tmp_path, capsys, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--quiet", "--jobs", "1", "--no-figures"])
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written for a bad scenario"
    return code, err


def test_the_base_file_runs(tmp_path, capsys):
    path = tmp_path / "ok.toml"
    path.write_text(BASE)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--jobs", "1", "--no-figures"]) == 0


@pytest.mark.parametrize(
    "kind, old, new, key, says",
    [
        (
            "cycle",
            "parents = { C = 1.0 }",
            "parents = { C = 1.0, M = 1.0 }",
            "dag.variables.M.parents",
            "cycle: M → T → M",
        ),
        ("self loop", "parents = { T = 1.0 }", "parents = { M = 1.0 }", "dag.variables.M.parents", "cycle: M → M"),
        (
            "unknown parent",
            "parents = { T = 1.0 }",
            "parents = { Q = 1.0 }",
            "dag.variables.M.parents",
            "unknown variable 'Q'; allowed: C, M, T, Y",
        ),
        (
            "unknown type",
            'type = "normal"\nparents = { T',
            'type = "gaussian"\nparents = { T',
            "dag.variables.M.type",
            "unknown type 'gaussian'; allowed: normal, binary, uniform, categorical",
        ),
        (
            "unknown term",
            "parents = { T = 1.0 }",
            'parents = { T = 1.0 }\nterms = [{ cube = "T", coef = 1.0 }]',
            "dag.variables.M.terms[0]",
            "unknown term ('cube'); allowed: exactly one of square, product, exp, indicator",
        ),
        (
            "unknown term variable",
            "parents = { T = 1.0 }",
            'parents = { T = 1.0 }\nterms = [{ product = ["T", "W"], coef = 1.0 }]',
            "dag.variables.M.terms[0].product",
            "unknown variable 'W'",
        ),
        (
            "undeclared parameter",
            'T = "tau"',
            'T = "beta"',
            "dag.variables.Y.parents.T",
            "'beta' is not a declared parameter; allowed: a number, or a name declared in [dag.parameters] (one of tau)",
        ),
        ("unused parameter", "tau = 1.0", "tau = 1.0\nrho = 0.0", "dag.parameters.rho", "declared but no number"),
        ("reserved name", "[dag.variables.M]", "[dag.variables.controls]", "dag.variables.controls", "is reserved"),
        ("reserved block column", "[dag.variables.M]", "[dag.variables.w1]", "dag.variables.w1", "is reserved"),
        (
            "unknown link",
            'type = "normal"\nparents = { C',
            'type = "binary"\nlink = "cauchit"\nparents = { C',
            "dag.variables.T.link",
            "unknown link 'cauchit'; allowed: logit, probit",
        ),
        (
            "noise of a binary",
            'type = "normal"\nparents = { C',
            'type = "binary"\nnoise = 2.0\nparents = { C',
            "dag.variables.T.noise",
            "a binary variable has no noise",
        ),
        (
            "negative noise",
            'type = "normal"\nparents = { T',
            'type = "normal"\nnoise = -1.0\nparents = { T',
            "dag.variables.M.noise",
            "allowed: a number ≥ 0",
        ),
        (
            "probs not summing to 1",
            '[dag.variables.C]\ntype = "normal"',
            '[dag.variables.C]\ntype = "categorical"\nprobs = [0.5, 0.6]',
            "dag.variables.C.probs",
            "summing to 1",
        ),
        (
            "categorical treatment",
            'type = "normal"\nparents = { C',
            'type = "categorical"\nprobs = [0.5, 0.5]\nparents = { C',
            "dag.treatment",
            "allowed: a variable of type binary, normal, uniform",
        ),
        ("unknown treatment", 'treatment = "T"', 'treatment = "D"', "dag.treatment", "not a variable"),
        ("outcome is the treatment", 'outcome = "Y"', 'outcome = "T"', "dag.outcome", "the treatment too"),
        ("control is the outcome", 'controls = ["C"]', 'controls = ["C", "Y"]', "dag.controls", "other than treatment"),
        ("controls missing", 'controls = ["C"]\n', "", "dag.controls", "a list of variable names"),
        (
            "unknown key of a variable",
            'type = "normal"\nparents = { T',
            'type = "normal"\nparent = { T = 1.0 }\nparents = { T',
            "dag.variables.M.parent",
            "unknown key; allowed: type, link",
        ),
        ("unknown key of [dag]", 'outcome = "Y"', 'outcome = "Y"\nmediator = "M"', "dag.mediator", "unknown key"),
        (
            "treatment not binary for an estimator that needs one",
            'estimators = ["ols"]',
            'estimators = ["diff_means"]',
            "estimators[0].name",
            "needs data treatment that DGP 'dag' does not provide",
        ),
        (
            "adjusting for a variable that is not in the graph",
            'estimators = ["ols"]',
            'estimators = [{ name = "ols_adjusted", adjust = ["M", "Q"] }]',
            "estimators[0]",
            "needs data Q",
        ),
        (
            "a coefficient parameter in [params] of the wrong type",
            "[dag]",
            '[params]\ntau = "big"\n[dag]',
            "params.tau",
            "wrong type",
        ),
        ("a [dag] table for another DGP", 'dgp = "dag"', 'dgp = "confounding"', "dag", "unknown key"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v and "=" not in v and "[" not in v else None,
)
def test_bad_graph(tmp_path, capsys, kind, old, new, key, says):
    text = BASE.replace(old, new, 1)
    assert text != BASE, kind
    code, err = run_file(tmp_path, capsys, text)
    assert code == 2 and f"key '{key}'" in err and says in err, err


def test_negative_noise_from_a_grid_is_refused(tmp_path, capsys):
    text = BASE.replace("tau = 1.0", "tau = 1.0\ns = 1.0").replace(
        'type = "normal"\nparents = { T', 'type = "normal"\nnoise = "s"\nparents = { T'
    )
    code, err = run_file(tmp_path, capsys, text + "[grid]\ns = [1.0, -0.5]\n")
    assert code == 2 and "key 'grid.s'" in err and "noise scale; allowed: a number ≥ 0 (cell s=-0.5)" in err, err


def test_a_dag_scenario_needs_its_table(tmp_path, capsys):
    code, err = run_file(tmp_path, capsys, HEADER)
    assert code == 2 and "key 'dag'" in err and "missing; the dag DGP is described by a [dag] table" in err, err


def test_load_raises_a_scenario_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BASE.replace("parents = { T = 1.0 }", "parents = { T = 1.0, Q = 2.0 }"))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert caught.value.key == "dag.variables.M.parents" and "'Q'" in caught.value.message


def test_report_shows_the_graphs_structural_equations():
    from causalmc.sims.report.page import dgp_equations

    scenario = parse(
        tomllib.loads(
            textwrap.dedent(
                """
                name = "eq"
                dgp = "dag"
                reps = 10
                seed = 1
                estimators = ["ols_adjusted"]
                [dag]
                treatment = "T"
                outcome = "Y"
                controls = ["C"]
                [dag.parameters]
                g = 0.5
                [dag.variables.C]
                type = "categorical"
                probs = [0.2, 0.8]
                link = "probit"
                [dag.variables.T]
                type = "binary"
                intercept = -1.0
                parents = { C = 2.0 }
                [dag.variables.Y]
                type = "uniform"
                noise = 3.0
                parents = { T = "g" }
                terms = [{ indicator = "C", above = 0.5, coef = 1.0 }, { square = "C", coef = -2.0 }]
                """
            )
        )
    )
    lines = dgp_equations(scenario).splitlines()
    assert lines[:3] == [
        "C ∈ {0 … 1}: ordered probit in η = 0, category probabilities (0.2, 0.8) at η = 0",
        "P(T = 1) = logit⁻¹(-1 + 2·C)",
        "Y = g·T + 1[C > 0.5] + -2·C² + 3·U_Y,  U_Y ~ U(0, 1)",
    ]
    assert "treatment T, outcome Y, controls: C" in lines and "parameters (defaults): g = 0.5" in lines
