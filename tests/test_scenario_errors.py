"""Bad scenario files: exit code 2, a message naming the file and the key, nothing written."""

import textwrap

import pytest

from causalmc.sims.cli import main

VALID = textwrap.dedent("""\
    name = "t"
    dgp = "confounding"
    reps = 10
    seed = 1
    estimators = ["ols", "ols_adjusted"]
    [params]
    beta = 0.0
    [grid]
    n = [50, 100]
    """)


def run_file(tmp_path, capsys, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--quiet", "--jobs", "1"])
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written for a bad scenario"
    return code, err, str(path)


def test_valid_file_runs(tmp_path, capsys):
    path = tmp_path / "ok.toml"
    path.write_text(VALID)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--jobs", "1", "--no-figures"]) == 0


@pytest.mark.parametrize(
    "kind, old, new, key, says",
    [
        ("unknown top-level key", "reps = 10", "reps = 10\nrepz = 3", "'repz'", "unknown key"),
        ("unknown DGP", '"confounding"', '"confounder"', "'dgp'", "unknown DGP 'confounder'; allowed: "),
        ("unknown estimator", '"ols_adjusted"]', '"olsx"]', "'estimators[1].name'", "unknown estimator 'olsx'"),
        ("unknown DGP parameter in params", "beta = 0.0", "betta = 0.0", "'params.betta'", "unknown parameter"),
        ("unknown DGP parameter in grid", "n = [50, 100]", "m = [50, 100]", "'grid.m'", "unknown parameter"),
        ("wrong type: string for integer", "n = [50, 100]", 'n = ["50"]', "'grid.n'", "wrong type"),
        ("wrong type: float for integer", "n = [50, 100]", "n = [50.5]", "'grid.n'", "not an integer"),
        ("wrong type: reps", "reps = 10", "reps = 10.0", "'reps'", "wrong type"),
        ("wrong type: scalar grid", "n = [50, 100]", "n = 50", "'grid.n'", "must be a list"),
        ("n too small for the regression", "n = [50, 100]", "n = [3, 100]", "'grid.n'", "allowed: an integer ≥ 4"),
        ("probability outside [0, 1]", 'dgp = "confounding"', 'dgp = "rct"', None, None),
        ("reps < 2", "reps = 10", "reps = 1", "'reps'", "allowed: an integer ≥ 2"),
        ("max_reps without target", "reps = 10", "reps = 10\nmax_reps = 100", "'max_reps'", "only with target_mcse"),
        ("target without max_reps", "reps = 10", "reps = 10\ntarget_mcse = { bias = 0.1 }", "'max_reps'", "required"),
        (
            "target of no measure",
            "reps = 10",
            "reps = 10\nmax_reps = 100\ntarget_mcse = { coverge = 0.1 }",
            "'target_mcse.coverge'",
            "not a measure; allowed: mean_estimate",
        ),
        (
            "target not positive",
            "reps = 10",
            "reps = 10\nmax_reps = 100\ntarget_mcse = { bias = 0 }",
            "'target_mcse.bias'",
            "allowed: a number > 0",
        ),
        (
            "max_reps below reps",
            "reps = 10",
            "reps = 10\nmax_reps = 5\ntarget_mcse = { bias = 0.1 }",
            "'max_reps'",
            "allowed: an integer ≥ 10",
        ),
        ("level outside (0, 1)", "reps = 10", "reps = 10\nlevel = 95", "'level'", "allowed: a number in (0, 1)"),
        ("empty grid list", "n = [50, 100]", "n = []", "'grid.n'", "empty list"),
        ("repeated grid value", "n = [50, 100]", "n = [50, 50]", "'grid.n'", "repeats a value"),
        (
            "unknown estimator option",
            '"ols_adjusted"]',
            '{ name = "ols", sd = "hc1" }]',
            "'estimators[1].sd'",
            "unknown option",
        ),
        (
            "bad option value",
            '"ols_adjusted"]',
            '{ name = "ols", se = "hc9" }]',
            "'estimators[1].se'",
            "allowed: one of 'classical', 'hc0', 'hc1', 'hc2', 'hc3'",
        ),
        (
            "estimator needs data the DGP lacks",
            '"ols_adjusted"]',
            '"diff_means"]',
            "'estimators[1].name'",
            "needs data treatment",
        ),
        (
            "adjust not a list",
            '"ols_adjusted"]',
            '{ name = "ols_adjusted", adjust = "controls" }]',
            "'estimators[1].adjust'",
            "is not a list of names; allowed: a list of distinct names",
        ),
        (
            "adjust repeats a name",
            '"ols_adjusted"]',
            '{ name = "ols_adjusted", adjust = ["z", "z"] }]',
            "'estimators[1].adjust'",
            "allowed: a list of distinct names",
        ),
        (
            "adjust names data the DGP lacks",
            '"ols_adjusted"]',
            '{ name = "ols_adjusted", adjust = ["age"] }]',
            "'estimators[1]'",
            "needs data age that DGP 'confounding' does not provide",
        ),
        ("duplicate label", '"ols_adjusted"]', '"ols"]', "'estimators[1].label'", "used twice"),
        ("missing seed", "seed = 1\n", "", "'seed'", "missing"),
        ("parameter in params and grid", "beta = 0.0", "beta = 0.0\nn = 100", "'grid.n'", "both"),
        ("not TOML", "reps = 10", "reps = = 10", "'-'", "not valid TOML"),
        ("bad name", 'name = "t"', 'name = "../t"', "'name'", "cannot be a folder name"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
def test_bad_scenario(tmp_path, capsys, kind, old, new, key, says):
    text = VALID.replace(old, new)
    if kind == "probability outside [0, 1]":
        text = text.replace('estimators = ["ols", "ols_adjusted"]', 'estimators = ["diff_means"]')
        text = text.replace("beta = 0.0", "p_treat = 1.5")
        key, says = "'params.p_treat'", "allowed: a number in [0, 1]"
    assert text != VALID
    code, err, path = run_file(tmp_path, capsys, text)
    assert code == 2
    assert path in err and f"key {key}" in err and says in err, err


def test_estimator_that_applies_to_no_cell(tmp_path, capsys):
    text = VALID.replace('dgp = "confounding"', 'dgp = "iv"').replace(
        'estimators = ["ols", "ols_adjusted"]', 'estimators = ["tsls", "tsls_tf"]'
    )
    text = text.replace("beta = 0.0", "mu2_per_instrument = 5.0\nk_instruments = 3")
    code, err, path = run_file(tmp_path, capsys, text)
    assert code == 2 and path in err and "key 'estimators[1]'" in err and "one instrument" in err, err


def test_missing_file(tmp_path, capsys):
    code = main(["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2 and "nope.toml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_one_bad_file_stops_all(tmp_path, capsys):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(VALID)
    bad.write_text(VALID.replace('name = "t"', 'name = "u"').replace("reps = 10", "reps = 0"))
    code = main(["run", str(good), str(bad), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2 and "bad.toml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_code_in_a_scenario_is_never_evaluated(tmp_path, capsys):
    marker = tmp_path / "pwned"
    text = VALID.replace("beta = 0.0", f"beta = \"__import__('pathlib').Path('{marker}').touch()\"")
    code, err, _ = run_file(tmp_path, capsys, text)
    assert code == 2 and "'params.beta'" in err and not marker.exists()


IV = (
    VALID.replace('dgp = "confounding"', 'dgp = "iv"')
    .replace('estimators = ["ols", "ols_adjusted"]', 'estimators = ["tsls"]')
    .replace("beta = 0.0", "beta = 2.0")
)


@pytest.mark.parametrize(
    "params, grid, key, says",
    [
        (
            "pi = 0.5\nmu2_per_instrument = 5.0",
            "n = [50, 100]",
            "'params.pi and params.mu2_per_instrument'",
            "set exactly one of pi and mu2_per_instrument",
        ),
        ("", "n = [50, 100]", "'params.pi and params.mu2_per_instrument'", "set exactly one"),
        (
            "pi = 0.5\nk_instruments = 5",
            "n = [6, 100]",
            "'grid.n and params.k_instruments'",
            "allowed: n ≥ k_instruments + 3 (cell n=6)",
        ),
        ("mu2_per_instrument = -1.0", "n = [50]", "'params.mu2_per_instrument'", "allowed: a number ≥ 0"),
    ],
)
def test_iv_parameter_constraints(tmp_path, capsys, params, grid, key, says):
    text = IV.replace("beta = 2.0", f"beta = 2.0\n{params}").replace("n = [50, 100]", grid)
    code, err, path = run_file(tmp_path, capsys, text)
    assert code == 2 and path in err and f"key {key}" in err and says in err, err


def test_panel_start_range(tmp_path, capsys):
    text = (
        VALID.replace('dgp = "confounding"', 'dgp = "did_panel"')
        .replace('estimators = ["ols", "ols_adjusted"]', 'estimators = ["twfe"]')
        .replace("beta = 0.0", "start_min = 9\nstart_max = 4")
        .replace("n = [50, 100]", "n_units = [50]")
    )
    code, err, path = run_file(tmp_path, capsys, text)
    assert code == 2 and "key 'params.start_min and params.start_max'" in err and "start_min ≤ start_max" in err, err
