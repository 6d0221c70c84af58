"""Reports and comparisons: report.html / report.md / index.html, paired estimator contrasts,
direction-aware run comparisons, better_than expectations, and the report in a real browser."""

import math
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import causalmc
from causalmc.sims import comparison, plugins
from causalmc.sims.cli import main

# A batched plugin: the regression of y on x and the control, classical SEs, t(n − 3); with `noise` > 0 it
# adds a deterministic function of the dataset (a pseudo-random shift of sd ≈ noise/√2) to the estimate and
# to the interval, so it is a noisier copy of the same estimator on the same datasets.
PLUGIN = '''
import numpy as np
import causalmc
from causalmc import Setting

@causalmc.estimator(name="adjusted_copy", needs=("y", "x", "controls"), batched=True,
                    options=(Setting("noise", 0.0, "added pseudo-random error", minimum=0.0),))
def adjusted_copy(batch, *, level, noise):
    """OLS of y on 1, x, w1 (classical SE), plus `noise` · sin(1000 · Σy)"""
    y, x, w = batch["y"], batch["x"], batch["controls"][:, 0, :]
    n = y.shape[1]
    design = np.stack([np.ones_like(x), x, w], axis=2)
    xtx = np.einsum("rni,rnj->rij", design, design)
    coef = np.linalg.solve(xtx, np.einsum("rni,rn->ri", design, y)[..., None])[..., 0]
    resid = y - np.einsum("rni,ri->rn", design, coef)
    sigma2 = (resid**2).sum(axis=1) / (n - 3)
    se = np.sqrt(sigma2 * np.linalg.inv(xtx)[:, 1, 1])
    shift = noise * np.sin(1000.0 * y.sum(axis=1))
    return {"estimate": coef[:, 1] + shift, "se": se, "df": np.full(len(se), n - 3.0)}
'''

SCENARIO = """
name = "paired"
description = "a noisier copy of an estimator, and an exact copy"
dgp = "confounding"
reps = 600
seed = 11
estimators = [
    "ols",
    { name = "adjusted_copy", label = "a" },
    { name = "adjusted_copy", label = "a_again" },
    { name = "adjusted_copy", noise = 0.3, label = "a_noisy" },
]
[grid]
n = [40, 160]
[[expect]]
estimator = "a"
measure = "rmse"
better_than = "a_noisy"
[[expect]]
estimator = "a"
measure = "coverage"
better_than = "ols"
"""


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    plugin = folder / "copies.py"
    plugin.write_text(PLUGIN)
    with plugins.isolated():
        run = causalmc.run(SCENARIO, out=folder / "out", jobs=1, progress=False, plugins=[str(plugin)])
        yield run, plugin


# -- the paired formula ------------------------------------------------------------------------------


def _rows(estimate, truth=0.0, se=1.0):
    n = len(estimate)
    return {
        "estimate": np.asarray(estimate, float),
        "truth": np.full(n, truth),
        "se": np.full(n, se),
        "ci_low": estimate - 1.96 * se,
        "ci_high": estimate + 1.96 * se,
        "reject": (np.abs(estimate - truth) > 1.96 * se).astype(float),
        "ok": np.ones(n, bool),
    }


def test_paired_bias_mcse_is_the_sd_of_the_paired_errors_over_root_r():
    rng = np.random.default_rng(1)
    a = rng.normal(0.1, 1.0, 400)
    b = a + rng.normal(0.0, 0.2, 400)  # correlated with a
    out = comparison.contrast(_rows(a), _rows(b), "bias", 0.95, 4.0)
    assert out["difference"] == pytest.approx(np.mean(b) - np.mean(a), abs=1e-14)
    assert out["difference_mcse"] == pytest.approx(np.std(b - a, ddof=1) / math.sqrt(400), rel=1e-12)
    unpaired = math.hypot(np.std(a, ddof=1), np.std(b, ddof=1)) / math.sqrt(400)
    assert out["difference_mcse"] < unpaired / 5  # the correlation enters


@pytest.mark.parametrize("measure", ["bias", "emp_se", "rmse", "coverage", "median_bias", "se_ratio"])
def test_single_estimator_influence_values_reproduce_the_summary_mcse(measure):
    """sd(ψ)/√R is the summary's MCSE of the measure (to first order; within 3 % at R = 2000)."""
    from causalmc.sims.summary import measures

    rng = np.random.default_rng(7)
    est = rng.normal(0.2, 1.0, 2000)
    se = np.abs(rng.normal(1.0, 0.1, 2000))
    rows = _rows(est, se=se)
    value, psi = comparison.influence(measure, rows)
    group = pd.DataFrame({k: rows[k] for k in ("estimate", "truth", "se", "ci_low", "ci_high")})
    group["reject"] = rows["reject"].astype(bool)
    group["status"] = "ok"
    summary = measures(group)
    assert value == pytest.approx(summary[measure], rel=1e-12, abs=1e-12)
    assert np.std(psi, ddof=1) / math.sqrt(2000) == pytest.approx(summary[f"{measure}_mcse"], rel=0.03)


def test_paired_rmse_mcse_matches_the_spread_of_the_difference_across_experiments():
    """Over 1,500 independent experiments of R = 200, the mean paired MCSE of RMSE_b − RMSE_a equals
    the standard deviation of that difference (within 4 of its own Monte Carlo errors)."""
    rng = np.random.default_rng(2026)
    experiments, r = 1500, 200
    differences, mcses = np.empty(experiments), np.empty(experiments)
    for k in range(experiments):
        a = rng.normal(0.0, 1.0, r)
        b = a + rng.normal(0.0, 0.5, r)
        out = comparison.contrast(_rows(a), _rows(b), "rmse", 0.95, 4.0)
        differences[k], mcses[k] = out["difference"], out["difference_mcse"]
    sd = np.std(differences, ddof=1)
    sd_error = sd / math.sqrt(2 * (experiments - 1))
    mean_error = np.std(mcses, ddof=1) / math.sqrt(experiments)
    assert abs(sd - mcses.mean()) <= 4 * math.hypot(sd_error, mean_error)


def test_noisier_copy_is_worse_and_an_exact_copy_is_not_distinguishable(paired_run):
    run, _ = paired_run
    records = run.records(columns=comparison.RECORD_COLUMNS)
    noisy = comparison.paired(records, "a", "a_noisy", 0.95, ["bias", "emp_se", "rmse"], 4.0)
    by = noisy.set_index(["cell", "measure"])
    for cell in ("n=40", "n=160"):
        assert by.loc[(cell, "rmse"), "verdict"] == "worse"
        assert by.loc[(cell, "emp_se"), "verdict"] == "worse"
        assert by.loc[(cell, "bias"), "verdict"] == "not distinguishable"  # the noise has mean ≈ 0
        # the MCSE is the paired one: sd of the per-replication differences over √R
        rows = records[(records.cell == cell) & records.estimator.isin(["a", "a_noisy"])]
        wide = rows.pivot(index="rep", columns="estimator", values="estimate")
        expected = np.std(wide["a_noisy"] - wide["a"], ddof=1) / math.sqrt(len(wide))
        assert by.loc[(cell, "bias"), "difference_mcse"] == pytest.approx(expected, rel=1e-10)
    same = run.compare("a", "a_again")
    # the truth is 0 here, which has no sign: wrong_sign alone is not measured
    unsigned = same["measure"] == "wrong_sign"
    assert set(same.loc[unsigned, "verdict"]) == {"not measured"}
    same = same[~unsigned]
    assert set(same["verdict"]) == {"not distinguishable"} and (same["difference"] == 0).all()


def test_leaderboard_ties_exact_copies_and_ranks_the_noisy_copy_after_them(paired_run):
    run, _ = paired_run
    board = run.leaderboard()
    rmse = board[(board.measure == "rmse") & (board.cell == "n=160")].set_index("estimator")["rank"]
    assert rmse["a"] == rmse["a_again"] == 1 and rmse["a_noisy"] == 3 and rmse["ols"] == 4


def test_compare_estimators_on_the_command_line(paired_run, capsys):
    run, plugin = paired_run
    assert main(["compare", str(run.run_dir), "--estimators", "a,a_noisy"]) == 1  # b worse somewhere
    out = capsys.readouterr().out
    assert "a_noisy against a on the same datasets" in out and "worse" in out
    assert main(["compare", str(run.run_dir), "--estimators", "a,a_again"]) == 0
    assert "0 better, 0 worse" in capsys.readouterr().out
    assert main(["compare", str(run.run_dir), "--estimators", "a,nope"]) == 2
    assert "two of ols, a, a_again, a_noisy" in capsys.readouterr().err


# -- better_than expectations --------------------------------------------------------------------------


def test_better_than_expectations_are_judged_on_paired_replications(paired_run):
    run, _ = paired_run
    table = run.expectations
    assert run.passed and len(table) == 4  # two claims × two cells
    rmse = table[table.measure == "rmse"]
    assert (rmse["value"] < 0).all() and (rmse["value"] + 4 * rmse["mcse"] < 0).all()


def test_a_false_better_than_claim_fails(paired_run, tmp_path, capsys):
    run, plugin = paired_run
    text = SCENARIO.replace(
        'estimator = "a"\nmeasure = "rmse"\nbetter_than = "a_noisy"',
        'estimator = "a"\nmeasure = "rmse"\nbetter_than = "a_again"',
    )
    path = tmp_path / "claim.toml"
    path.write_text(text)
    argv = ["run", str(path), "--plugin", str(plugin), "--out", str(tmp_path / "out"), "--quiet", "--no-figures"]
    assert main(argv) == 1  # an exact copy is not better
    assert "FAIL a rmse better_than a_again" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ('better_than = "nope"', "key 'expect[0].better_than': 'nope' is not allowed; allowed: one of ols_adjusted"),
        ('better_than = "ols"', "key 'expect[0].better_than': 'ols' is not allowed"),  # itself
        ('better_than = "ols_adjusted"\nmeasure = "mean_se"', "key 'expect[0].measure': 'mean_se' has no direction"),
    ],
)
def test_bad_better_than_claims_exit_2_naming_the_key(tmp_path, capsys, claim, message):
    measure = "" if "measure" in claim else 'measure = "rmse"\n'
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "bad"\ndgp = "confounding"\nreps = 10\nseed = 1\nestimators = ["ols", "ols_adjusted"]\n'
        f'[[expect]]\nestimator = "ols"\n{measure}{claim}\n'
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err
    assert not (tmp_path / "out").exists()


# -- between runs -----------------------------------------------------------------------------------------


def test_between_runs_lists_rows_present_in_one_run_only(paired_run):
    run, _ = paired_run
    summary = run.summary
    fewer = summary[summary.estimator != "ols"]
    table, unmatched = comparison.between_runs(summary, fewer)
    assert set(unmatched["estimator"]) == {"ols"} and set(unmatched["in"]) == {"base"}
    assert "ols" not in set(table["estimator"])


def test_between_runs_verdicts_follow_each_measures_direction():
    base = pd.DataFrame({"cell": ["c"], "estimator": ["e"], "term": ["t"]})
    values = {"bias": (0.10, -0.30), "coverage": (0.95, 0.90), "power": (0.80, 0.90), "rmse": (0.5, 0.4)}
    old, new = base.copy(), base.copy()
    for m, (b, n) in values.items():
        old[m], new[m], old[f"{m}_mcse"], new[f"{m}_mcse"] = b, n, 0.005, 0.005
    table, _ = comparison.between_runs(old, new, list(values), 4.0, 0.95)
    verdicts = dict(zip(table["measure"], table["verdict"]))
    # |bias| 0.1 → 0.3 worse (the sign flip does not hide it); coverage away from 0.95 worse; power up and RMSE
    # down better
    assert verdicts == {"bias": "worse", "coverage": "worse", "power": "better", "rmse": "better"}


# -- the report ----------------------------------------------------------------------------------------------


def test_a_run_writes_a_self_contained_report_and_markdown(paired_run):
    run, _ = paired_run
    page = run.report.read_text()
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)  # nothing to fetch
    figures = sorted((run.run_dir / "figures").glob("*.png"))
    assert figures and page.count('src="data:image/png;base64,') == len(figures)
    for measure in ("bias", "rmse", "coverage", "se_ratio"):
        assert f'data-measure="{measure}"' in page
    summary = run.summary.set_index(["cell", "estimator"])
    bias = summary.loc[("n=160", "a_noisy")]
    value = causalmc.sims.report.page.value_and_mcse(bias["bias"], bias["bias_mcse"])
    assert f'{value[0]}<span class="mcse">±{value[1]}</span>' in page  # rounded to its MCSE's precision
    assert "4 of 4 hold" in page and "✓ holds" in page
    assert "adjusted_copy" in page and "Z_i ~ N(0, 1)" in page  # the scenario TOML and the DGP's equations
    assert "git revision" in page and "seed" in page
    markdown = (run.run_dir / "report.md").read_text()
    assert "**Expectations: 4 of 4 hold.**" in markdown and "| n | ols | a | a_again | a_noisy |" in markdown
    index = (run.run_dir.parent / "index.html").read_text()
    assert 'href="paired/report.html"' in index and "4 / 4" in index


def test_the_report_command_rerenders_the_same_pages(paired_run, tmp_path):
    run, _ = paired_run
    copy = tmp_path / "paired"
    shutil.copytree(run.run_dir, copy)
    (copy / "report.html").unlink()
    (copy / "report.md").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").read_text() == run.report.read_text()
    assert (copy / "report.md").read_text() == (run.run_dir / "report.md").read_text()
    assert (tmp_path / "index.html").exists()


FRAGILE = """
import causalmc

@causalmc.estimator(name="fragile", needs=("y", "x"))
def fragile(data, *, level):
    \"\"\"The short regression's slope, raising on datasets whose first outcome is above 1\"\"\"
    if data["y"].iloc[0] > 1.0:
        raise ValueError("first outcome above 1")
    x, y = data["x"] - data["x"].mean(), data["y"] - data["y"].mean()
    return float((x * y).sum() / (x * x).sum())
"""


def test_failures_are_listed_by_status_with_the_first_error(tmp_path):
    plugin = tmp_path / "fragile.py"
    plugin.write_text(FRAGILE)
    text = 'name = "failing"\ndgp = "confounding"\nreps = 60\nseed = 3\nestimators = ["ols", "fragile"]\n'
    with plugins.isolated():
        run = causalmc.run(text, out=tmp_path, jobs=1, progress=False, figures=False, plugins=[str(plugin)])
    failed = run.summary.set_index("estimator").loc["fragile", "n_failed"]
    assert 0 < failed < 60
    page = run.report.read_text()
    assert "No replication failed" not in page and 'class="failures"' in page
    assert f"error={failed}" in page and "ValueError: first outcome above 1" in page


# -- in a real browser ------------------------------------------------------------------------------------------

CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter((i) => !(i.complete && i.naturalWidth > 0)).length;
  const rows = document.querySelectorAll("table.measure tbody tr").length;
  document.body.setAttribute("data-check", `images=${images.length} broken=${broken} rows=${rows}`);
});
</script></body>"""


def _in_browser(chromium, page, *flags):
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *flags, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_report_renders_in_headless_chromium(chromium, paired_run, tmp_path):
    run, _ = paired_run
    checked = tmp_path / "checked.html"
    checked.write_text(run.report.read_text().replace("</body>", CHECK))
    dom = _in_browser(chromium, checked, "--virtual-time-budget=10000", "--dump-dom").stdout
    found = re.search(r'data-check="images=(\d+) broken=(\d+) rows=(\d+)"', dom)
    assert found, dom[-2000:]
    images, broken, rows = map(int, found.groups())
    assert images == len(run.figures) > 0 and broken == 0 and rows > 0
    # The check can fail: a corrupted figure is reported broken.
    corrupt = tmp_path / "corrupt.html"
    corrupt.write_text(checked.read_text().replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1))
    dom = _in_browser(chromium, corrupt, "--virtual-time-budget=10000", "--dump-dom").stdout
    assert re.search(r'data-check="images=\d+ broken=1 ', dom)
    # A screenshot shows the page: not blank, mostly light with dark text and figures.
    shot = tmp_path / "shot.png"
    _in_browser(chromium, run.report, "--window-size=1200,2400", f"--screenshot={shot}")
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3].mean(axis=2)
    assert pixels.shape == (2400, 1200) and pixels.std() > 0.05 and (pixels < 0.3).mean() > 0.002
