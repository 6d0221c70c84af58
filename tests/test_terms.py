"""Records with several terms: one row per (cell, rep, estimator, term), each held to its own truth.

A plugin DGP defines two estimands (the slope `beta`, its headline, and the
intercept `alpha`); a plugin estimator of two terms estimates both; the
shipped single-term `ols` estimates the headline.  Records, summary,
expectations (`where = { term = ... }`), compare, figures, `estimate` and
`sample` all work per term; the terms are held to their truths within
4 MCSE (coverage 0.95 of exact t intervals under normal errors).
"""

import textwrap

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import causalmc
from causalmc.sims import plugins, report
from causalmc.sims.cli import main

PLUGIN = """
    import numpy as np
    import causalmc
    from causalmc import Setting

    @causalmc.dgp(name="line", estimand="beta", provides=("y", "x"),
                  params=(Setting("n", 40, "units", minimum=4), Setting("alpha", 1.0, "intercept"),
                          Setting("beta", 0.5, "slope")))
    def line(rng, *, n, alpha, beta):
        x = rng.standard_normal(n)
        return {"y": alpha + beta * x + rng.standard_normal(n), "x": x}, {"beta": beta, "alpha": alpha}

    @causalmc.estimator(name="both", needs=("y", "x"), terms=("beta", "alpha"))
    def both(data, *, level):
        X = np.column_stack([np.ones(len(data)), data["x"]])
        coef, *_ = np.linalg.lstsq(X, data["y"], rcond=None)
        resid = data["y"] - X @ coef
        cov = resid @ resid / (len(data) - 2) * np.linalg.inv(X.T @ X)
        df = len(data) - 2
        return {"beta": {"estimate": coef[1], "se": np.sqrt(cov[1, 1]), "df": df},
                "alpha": {"estimate": coef[0], "se": np.sqrt(cov[0, 0]), "df": df}}
    """

SCENARIO = """
    name = "terms"
    dgp = "line"
    reps = 2000
    seed = 12
    chunk_size = 500
    estimators = ["ols", "both"]
    [grid]
    n = [10, 40]
    [[expect]]
    estimator = "both"
    measure = "coverage"
    equals = 0.95
    [[expect]]
    where = { term = "alpha" }
    estimator = "both"
    measure = "bias"
    equals = 0.0
    """


@pytest.fixture(scope="module")
def terms_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("terms")
    plugin = folder / "line.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    with plugins.isolated():
        run = causalmc.run(textwrap.dedent(SCENARIO), plugins=[str(plugin)], out=folder, jobs=2, progress=False)
        yield run, plugin


def test_records_have_one_row_per_term_with_its_truth(terms_run):
    run, _ = terms_run
    records = run.records()
    assert len(records) == 2 * 2000 * (1 + 2)
    counts = records.groupby(["estimator", "term"], observed=True).size().to_dict()
    assert counts == {("ols", "beta"): 4000, ("both", "beta"): 4000, ("both", "alpha"): 4000}
    assert (records.loc[records.term == "alpha", "truth"] == 1.0).all()
    assert (records.loc[records.term == "beta", "truth"] == 0.5).all()
    both = records[records.estimator == "both"].pivot_table(index=["cell", "rep"], columns="term", values="estimate")
    ols = records[records.estimator == "ols"].set_index(["cell", "rep"])["estimate"]
    np.testing.assert_allclose(both["beta"].to_numpy(), ols.loc[both.index].to_numpy(), rtol=1e-10)


def test_summary_and_expectations_per_term(terms_run):
    run, _ = terms_run
    summary = run.summary
    assert list(summary[["estimator", "term"]].drop_duplicates().itertuples(index=False, name=None)) == [
        ("ols", "beta"), ("both", "beta"), ("both", "alpha"),
    ]  # fmt: skip
    for row in summary.itertuples():  # exact t intervals: coverage 0.95 within 4 MCSE for every term
        assert abs(row.coverage - 0.95) <= 4 * row.coverage_mcse and abs(row.bias) <= 4 * row.bias_mcse
    table = run.expectations
    assert run.passed and len(table) == 2 * 2 + 2  # coverage: every term of both cells; bias: alpha only
    assert set(table.loc[table.measure == "bias", "term"]) == {"alpha"}
    lines, failed = report.check_expectations(run.scenario, summary)
    assert failed == 0 and any("; alpha]" in line for line in lines)
    assert "term" in report.format_summary(summary, ["n"])


def test_compare_figures_estimate_and_sample_per_term(terms_run, tmp_path, capsys):
    run, plugin = terms_run
    assert main(["compare", str(run.run_dir), str(run.run_dir)]) == 0
    assert "48 comparisons at 4 MCSE: 0 worse" in capsys.readouterr().out  # 3 (estimator, term) × 2 cells × 8
    assert any(p.name == "coverage_vs_n.png" for p in run.figures)
    with plugins.isolated():
        plugins.load(str(plugin))
        frame = causalmc.sample(textwrap.dedent(SCENARIO), cell={"n": 10}, rep=7)
        assert frame.attrs["truths"] == {"beta": 0.5, "alpha": 1.0} and frame.attrs["truth"] == 0.5
        result = causalmc.estimate("both", frame, null=0.0)
    assert isinstance(result, pd.DataFrame) and list(result["term"]) == ["beta", "alpha"]
    records = run.records()
    rows = records[(records.cell == "n=10") & (records.rep == 7) & (records.estimator == "both")]
    rows = rows.astype({"term": str}).set_index("term").loc[["beta", "alpha"], ["estimate", "se"]]
    assert_frame_equal(result.set_index("term")[["estimate", "se"]], rows)  # the same numbers, exactly


def test_several_terms_are_bit_identical_across_workers_and_backends(tmp_path):
    """The shipped event study (nine event-time terms and its pre-trend test per replication) with 1 and 2 loky
    workers and with Dask."""
    scenario = {
        "name": "es", "dgp": "did_staggered", "reps": 300, "seed": 4, "chunk_size": 100,
        "estimators": ["event_study", "twfe_staggered"], "grid": {"tau_growth": [0.0, 0.5]},
    }  # fmt: skip
    frames = []
    for name, options in {"one": {"jobs": 1}, "two": {"jobs": 2}, "dask": {"jobs": 2, "backend": "dask"}}.items():
        run = causalmc.run(scenario, out=tmp_path / name, progress=False, figures=False, **options)
        records = run.records().astype({"cell": str, "estimator": str, "term": str, "status": str})
        frames.append(records.sort_values(["cell", "rep", "estimator", "term"]).reset_index(drop=True))
    assert len(frames[0]) == 2 * 300 * (10 + 1)
    for other in frames[1:]:
        assert_frame_equal(other, frames[0], check_exact=True)
