"""``[[cases]]``: named one-at-a-time variants of ``[params]`` (sims/scenario/params.py).

A case is one value of the grid factor ``case``: its cells are labelled by the case's name, its identity (random
stream) is its resolved parameters, and it combines with a ``[grid]`` as one more factor.
"""

import textwrap

import pytest

from causalmc.sims import api
from causalmc.sims.cli import main
from causalmc.sims.scenario import load, parse

HEAD = textwrap.dedent("""\
    name = "cases"
    dgp = "confounding"
    reps = 200
    seed = 5
    estimators = ["ols", "ols_adjusted"]
    [params]
    n = 200
    beta = 0.0
    """)
CASES = textwrap.dedent("""\
    [[cases]]
    name = "baseline"
    [[cases]]
    name = "big"
    n = 800
    [[cases]]
    name = "effect"
    beta = 1.0
    """)


def test_cases_are_cells_labelled_by_name_with_the_identity_of_their_parameters(tmp_path):
    """A case's cell is the cell a [params] table with its values would give (same key, same stream); the
    other parameters keep [params]'s values; `case` is the first grid factor and its values are the names."""
    (tmp_path / "s.toml").write_text(HEAD + CASES)
    parsed = load(tmp_path / "s.toml")
    cells = parsed.cells()
    assert [c.label for c in cells] == ["case=baseline", "case=big", "case=effect"]
    assert parsed.grid == {"case": ("baseline", "big", "effect")}
    assert [(c.params["n"], c.params["beta"]) for c in cells] == [(200, 0.0), (800, 0.0), (200, 1.0)]
    alone = {n: parse({**_toml(HEAD), "params": {"n": n, "beta": b}}).cells()[0] for n, b in ((200, 0.0), (800, 0.0))}
    assert cells[0].key == alone[200].key and cells[1].key == alone[800].key
    with_grid = parse({**_toml(HEAD + CASES), "grid": {"gamma_x": [0.5, 1.0]}}).cells()
    assert [c.label for c in with_grid][:2] == ["case=baseline,gamma_x=0.5", "case=baseline,gamma_x=1"]
    assert len(with_grid) == 6 and {c.params["gamma_x"] for c in with_grid} == {0.5, 1.0}
    renamed = parse({**_toml(HEAD + CASES.replace('"big"', '"large"'))})
    assert renamed.cells()[1].key == cells[1].key and renamed.fingerprint() != parsed.fingerprint()


def _toml(text):
    import tomllib

    return tomllib.loads(text)


@pytest.mark.parametrize(
    "cases, key, says",
    [
        ('[[cases]]\nname = "a"\nbogus = 1\n', "cases[0].bogus", "unknown parameter of DGP 'confounding'"),
        ('[[cases]]\nname = "a"\n[[cases]]\nname = "a"\nn = 50\n', "cases[1].name", "names two cases"),
        ('[[cases]]\nname = "a"\n[[cases]]\nname = "b"\nn = 200\n', "cases[1]", "resolves to the parameters of 'a'"),
        ('[[cases]]\nn = 50\n', "cases[0].name", "None is not allowed"),
        ('[[cases]]\nname = "a b"\n', "cases[0].name", "not allowed"),
        ('[cases]\nname = "a"\n', "key 'cases'", "array of tables"),
        ('[[cases]]\nname = "a"\nn = "many"\n', "cases[0].n", "n"),
        ('[grid]\ngamma_x = [0.5, 1.0]\n[[cases]]\nname = "a"\ngamma_x = 2.0\n', "cases[0].gamma_x", "also swept by [grid]"),
    ],
)
def test_bad_cases_are_refused_with_exit_2_naming_the_key(tmp_path, capsys, cases, key, says):
    path = tmp_path / "bad.toml"
    path.write_text(HEAD + cases)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and key in err and says in err and not out.exists()


def test_through_the_seam_records_summaries_and_claims_by_case(tmp_path):
    """TOML text -> causalmc.run: records and summary have a `case` column; a claim selects its case with
    `where = { case = ... }` and is judged there alone (OLS unbiased when beta = 0 is the truth the
    confounding DGP records, so ols_adjusted's bias is 0 within 4 MCSE in every case)."""
    claim = '[[expect]]\nwhere = { case = "effect" }\nestimator = "ols_adjusted"\nmeasure = "bias"\nequals = 0.0\n'
    (tmp_path / "s.toml").write_text(HEAD + CASES + claim)
    run = api.run(tmp_path / "s.toml", out=tmp_path / "out", progress=False, jobs=1, figures=False)
    records = run.records()
    assert list(records.columns[:2]) == ["cell", "case"]
    assert records.groupby("case", observed=True).size().to_dict() == {"baseline": 400, "big": 400, "effect": 400}
    summary = run.summary
    assert set(summary["case"]) == {"baseline", "big", "effect"} and len(summary) == 6
    claims = run.expectations
    assert len(claims) == 1 and claims["cell"].tolist() == ["case=effect"] and run.passed
    frame = api.sample(tmp_path / "s.toml", cell={"case": "big"}, rep=1)
    assert len(frame) == 800
