"""`run_bench.py pages`: documentation pages written from finished runs, through the command line."""

import json
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from causalmc.sims.cli import main
from causalmc.sims.report.page import value_and_mcse

SCENARIO = textwrap.dedent("""\
    name = "tiny"
    description = "Omitted confounder on a tiny grid: OLS without the control against OLS with it"
    dgp = "confounding"
    reps = 300
    seed = 5
    estimators = ["ols", { name = "ols_adjusted", se = "hc1", label = "adjusted_hc1" }]
    figures = ["rmse_vs_param"]

    [params]
    gamma_x = 1.0

    [grid]
    n = [40, 400]

    [[expect]]
    estimator = "adjusted_hc1"
    measure = "bias"
    equals = 0.0

    [[expect]]
    estimator = "ols"
    measure = "bias"
    equals = 0.0
    where = { n = 400 }
    """)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished run of `SCENARIO` (its file in the folder above the run's output)."""
    folder = tmp_path_factory.mktemp("pages")
    path = folder / "tiny.toml"
    path.write_text(SCENARIO)
    main(["run", str(path), "--out", str(folder / "runs"), "--jobs", "1", "--quiet"])
    return folder / "runs" / "tiny"


def _pages(run_dirs, out, capsys):
    code = main(["pages", *map(str, run_dirs), "--out", str(out)])
    return code, capsys.readouterr()


def test_a_page_has_the_design_the_claims_the_tables_with_mcses_the_figures_and_provenance(tiny_run, tmp_path, capsys):
    """The headline tables are the measures the claims (bias) and figures (rmse; the standard bias and
    coverage figures) use, and the intervals' width beside their coverage, each value rounded to its MCSE's precision with the MCSE beside it."""
    out = tmp_path / "docs" / "scenarios"
    code, printed = _pages([tiny_run], out, capsys)
    assert code == 0, printed.err
    page = (out / "tiny.md").read_text()
    assert page.count("\n# `tiny`\n") == 1 and "Omitted confounder on a tiny grid" in page
    # the design: DGP, parameters as written, grid, estimators with their options
    assert "`gamma_x = 1`" in page and "`n ∈ {40, 400}`" in page
    assert '| `adjusted_hc1` | `ols_adjusted` | se = "hc1" |' in page
    # the claims: one row per selected cell, the measured value ± MCSE, whether it holds
    summary = pd.read_parquet(tiny_run / "summary.parquet").set_index(["cell", "estimator"])
    ols = summary.loc[("n=400", "ols")]
    value, mcse = value_and_mcse(ols["bias"], ols["bias_mcse"])
    assert f"| ❌ fails | ols bias equals 0 (n=400; ±4 MCSE) | n=400 | {value} ± {mcse} |" in page
    assert page.count("| ✅ holds | adjusted_hc1 bias equals 0") == 2  # both cells
    assert "**2 of 3 hold**" in page
    # the tables: every value with its MCSE, one row per cell, one column per estimator
    for title in ("Bias (mean estimate − truth)", "Coverage of the confidence intervals", "Root mean squared error"):
        assert f"### {title}" in page
    assert page.index("### Coverage of the confidence intervals") < page.index("### Mean interval width")
    assert "### Rejection rate of the true null" not in page  # no claim or figure uses it
    for (cell, label), row in summary.iterrows():
        for measure in ("bias", "coverage", "ci_width", "rmse"):
            value, mcse = value_and_mcse(row[measure], row[f"{measure}_mcse"])
            shown = f"{value} ± {mcse}" if mcse else value  # an MCSE of 0 (coverage 0) is left out
            assert f" {shown} |" in page, (cell, label, measure)
    assert "| n | `ols` | `adjusted_hc1` |" in page
    # the figures, copied beside the page (re-encoded with a palette) and linked from it
    figures = sorted(p.name for p in (tiny_run / "figures").glob("*.png"))
    assert figures and sorted(p.name for p in (out / "tiny").glob("*.png")) == figures
    for name in figures:
        assert f"](tiny/{name})" in page
        assert Image.open(out / "tiny" / name).mode == "P"
    assert page.index("rmse_vs_n.png") < page.index("bias_vs_n.png")  # the scenario's own figure first
    # the provenance, from the manifest
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert f"- **git revision**: {manifest['git_revision']}" in page
    assert "- **seed**: 5" in page and "- **replications per cell**: 300" in page
    assert f"numpy {manifest['versions']['numpy']}" in page
    assert manifest["timings"]["finished"][:10] in page
    assert "&#" not in page and "&amp;" not in page  # Markdown, not HTML-escaped text
    # the index beside the folder
    index = (out.parent / "scenarios.md").read_text()
    assert "| [`tiny`](scenarios/tiny.md) | `confounding` | Omitted confounder on a tiny grid" in index
    assert "| 2 × 300 reps | 2 of 3 |" in index


def test_the_index_keeps_the_pages_already_in_the_folder(tiny_run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["scenario_source"]["name"] = "tiny_copy"
    (other / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "scenarios"
    assert _pages([tiny_run], out, capsys)[0] == 0
    assert _pages([other], out, capsys)[0] == 0
    index = (tmp_path / "scenarios.md").read_text()
    assert "[`tiny`](scenarios/tiny.md)" in index and "[`tiny_copy`](scenarios/tiny_copy.md)" in index


def test_a_page_of_a_changed_scenario_file_says_it_shows_the_scenario_as_run(tiny_run, tmp_path, capsys):
    scenario = tiny_run.parent.parent / "tiny.toml"
    original = scenario.read_text()
    try:
        scenario.write_text(original.replace("Omitted confounder", "Edited since"))
        code, printed = _pages([tiny_run], tmp_path / "scenarios", capsys)
    finally:
        scenario.write_text(original)
    assert code == 0
    assert "has changed since the run; the page shows the scenario as it was run" in printed.err
    assert "Omitted confounder" in (tmp_path / "scenarios" / "tiny.md").read_text()


def _unfinished(run_dir, tmp_path):
    copy = tmp_path / "unfinished" / "tiny"
    shutil.copytree(run_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest | {"state": "interrupted"}))
    return copy


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "not a causalmc run folder (no manifest.json)"),
        ("not_a_run", "not a causalmc run folder (no manifest.json)"),
        ("unfinished", "the run is interrupted, not complete"),
        ("twice", "runs of the same scenario 'tiny'"),
    ],
)
def test_a_bad_run_folder_exits_2_naming_it_and_nothing_is_written(tiny_run, tmp_path, capsys, case, message):
    bad = {
        "missing": lambda: tmp_path / "no_such_run",
        "not_a_run": lambda: tiny_run / "figures",
        "unfinished": lambda: _unfinished(tiny_run, tmp_path),
        "twice": lambda: shutil.copytree(tiny_run, tmp_path / "again" / "tiny"),
    }[case]()
    out = tmp_path / "docs" / "scenarios"
    code, printed = _pages([tiny_run, bad], out, capsys)
    assert code == 2
    assert printed.err.startswith("error: ") and message in printed.err and str(bad) in printed.err
    assert not (tmp_path / "docs").exists()


def test_a_run_to_mcse_targets_states_the_replications_it_reached(tmp_path, capsys):
    """With target_mcse the replications per cell come from the manifest, not the file's first round."""
    path = tmp_path / "adaptive.toml"
    path.write_text(
        'name = "adaptive"\ndgp = "confounding"\nreps = 100\nmax_reps = 800\nseed = 2\nestimators = ["ols"]\n'
        "target_mcse = { bias = 0.01 }\n[grid]\nn = [20, 2000]\n"
    )
    main(["run", str(path), "--out", str(tmp_path / "runs"), "--jobs", "1", "--quiet", "--no-figures"])
    reps = json.loads((tmp_path / "runs" / "adaptive" / "manifest.json").read_text())["reps"]
    low, high = min(reps.values()), max(reps.values())
    assert _pages([tmp_path / "runs" / "adaptive"], tmp_path / "scenarios", capsys)[0] == 0
    reached = f"{low if low == high else f'{low} to {high}'} reps (reached by its MCSE targets)"
    assert f"2 cells × {reached}, seed 2" in (tmp_path / "scenarios" / "adaptive.md").read_text()
    assert f"| 2 × {reached} |" in (tmp_path / "scenarios.md").read_text()


def test_a_run_made_from_a_clone_links_to_the_repository_s_scenario_file(tmp_path):
    """A full run made in a clone under /tmp records that absolute path; the page links the shipped file instead
    (a link into /tmp is broken in the repository), and shows it as scenarios/<file>."""
    from causalmc.sims.report.pages import REPO, _shipped

    elsewhere = tmp_path / "clone" / "scenarios" / "rct.toml"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text((REPO / "scenarios" / "rct.toml").read_text())
    assert _shipped(elsewhere) == (REPO / "scenarios" / "rct.toml", "scenarios/rct.toml")
    assert _shipped(Path("scenarios/rct.toml")) == (Path("scenarios/rct.toml"), None)  # as given: unchanged
    mine = tmp_path / "my_scenario.toml"  # not shipped: linked as it is
    assert _shipped(mine) == (mine, None)
