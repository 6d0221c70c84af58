"""The figures: zip plot, nested-loop plot, estimate distributions, and the layout of the measure figures.

Three small runs (each made once per module): a one-factor grid with two
values, a three-factor grid (40 cells, more than the panel cap), and a weak
instrument run with Anderson–Rubin sets (unbounded ones included).  Every
figure saved while they run is captured (its panels, lines and title) so
what is drawn is checked, not only that a file exists; the pure helpers
(`zip_data`, `clip_window`/`clipped_shares`, `plan_layout`, …) are checked
against hand computations.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import causalmc  # noqa: E402
from causalmc.sims import figures, records  # noqa: E402
from causalmc.sims.cli import scenarios_folder  # noqa: E402
from causalmc.sims.figures import distribution, layout, nested_loop, zip_plot  # noqa: E402
from causalmc.sims.scenario import load, scenario_files  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MISSING = zip_plot.MISSING["color"]

SMALL = {
    "name": "small",
    "description": "two sample sizes",
    "dgp": "confounding",
    "reps": 60,
    "seed": 5,
    "estimators": ["ols", "ols_adjusted"],
    "figures": ["estimate_vs_param"],
    "grid": {"n": [30, 60]},
}
GRID = {
    "name": "grid",
    "description": "three factors, 40 cells",
    "dgp": "confounding",
    "reps": 25,
    "seed": 6,
    "estimators": ["ols", "ols_adjusted"],
    "grid": {"n": [20, 30, 40, 50], "gamma_x": [0.0, 0.5, 1.0, 1.5, 2.0], "hetero": [0.0, 1.0]},
}
WEAK_IV = {
    "name": "weak",
    "description": "weak instruments: 2SLS and Anderson-Rubin sets",
    "dgp": "iv",
    "reps": 200,
    "seed": 7,
    "estimators": ["ols", "tsls", "anderson_rubin"],
    "figures": ["iv_estimate_distribution"],
    "params": {"n": 200, "beta": 1.0, "gamma": 3.0, "k_instruments": 1},
    "grid": {"mu2_per_instrument": [0.0, 10.0]},
}


def _describe(fig: Figure) -> dict:
    axes = [ax for ax in fig.axes if ax.get_visible()]
    return {
        "title": fig._suptitle.get_text() if fig._suptitle is not None else "",
        "panels": len(axes),
        "rows": len({round(ax.get_position().y0, 4) for ax in axes}),
        "panel_titles": [ax.get_title() for ax in axes],
        "ticklabels": [[t.get_text() for t in ax.get_xticklabels()] for ax in axes],
        "lines": [[_line(line) for line in ax.lines] for ax in axes],
    }


def _line(line) -> dict:
    return {
        "label": str(line.get_label()),
        "style": line.get_linestyle(),
        "color": str(line.get_color()),
        "marker": str(line.get_marker()),
        "x": np.asarray(line.get_xdata(), dtype=float),
    }


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Run the three scenarios (one drawing process each); return their runs and every saved figure, described."""
    seen = {}
    original = Figure.savefig

    def capture(fig, path, *args, **kwargs):
        seen[(str(path).split("/")[-3], str(path).split("/")[-1])] = _describe(fig)
        return original(fig, path, *args, **kwargs)

    folder = tmp_path_factory.mktemp("figures")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", capture)
        runs = {s["name"]: causalmc.run(s, out=folder, jobs=1, progress=False) for s in (SMALL, GRID, WEAK_IV)}
    return runs, seen


def _names(run):
    return {p.name for p in run.figures}


# -- every file ----------------------------------------------------------------------------------------------


def test_every_figure_is_a_small_non_blank_png(drawn):
    runs, _ = drawn
    for run in runs.values():
        assert run.figures
        for path in run.figures:
            assert path.read_bytes()[:8] == PNG_SIGNATURE, path
            assert path.stat().st_size < 400_000, path
            pixels = mpimg.imread(path)
            assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 200
            assert pixels[..., :3].std() > 0.01, f"{path.name} is blank"


def test_standard_figures_are_drawn_where_they_apply(drawn):
    runs, _ = drawn
    assert _names(runs["small"]) == {
        "bias_vs_n.png", "coverage_vs_n.png", "zip_plot.png", "estimate_distribution.png", "estimate_vs_n.png",
    }  # fmt: skip
    grid = _names(runs["grid"])
    assert {"nested_loop_bias.png", "nested_loop_coverage.png", "zip_plot.png", "estimate_distribution.png"} <= grid
    # Only parameters with four or more values are x axes of lines once another factor has them.
    assert {"bias_vs_n.png", "bias_vs_gamma_x.png", "coverage_vs_n.png", "coverage_vs_gamma_x.png"} <= grid
    assert "bias_vs_hetero.png" not in grid
    # The older name replaces the standard distribution; median bias for IV.
    weak = _names(runs["weak"])
    assert "iv_estimate_distribution.png" in weak and "estimate_distribution.png" not in weak
    assert {"bias_vs_mu2_per_instrument.png", "zip_plot.png"} <= weak


def test_every_title_asks_its_question_and_no_panel_is_labelled_facet(drawn):
    _, seen = drawn
    assert len(seen) >= 15
    for (run, name), figure in seen.items():
        assert "?" in figure["title"].split("(")[0], (run, name, figure["title"])  # the question, then details
        for title in figure["panel_titles"]:
            assert "facet =" not in title and "facet=" not in title, (run, name, title)


# -- layout ------------------------------------------------------------------------------------------------------


def test_plan_layout_rules():
    grid = {"n": [20, 30, 40, 50], "gamma_x": [0.0, 0.5, 1.0, 1.5, 2.0], "hetero": [0.0, 1.0], "beta": [0.0]}
    assert layout.x_params(grid) == ["n", "gamma_x"]  # hetero (two values) and beta (one) never are
    n = layout.plan_layout(grid, "n")
    assert (n.categorical, n.facet, n.col_wrap, n.fixed) == (False, "gamma_x", 3, {"hetero": 0.0})
    assert n.note() == "hetero = 0 fixed"
    gamma = layout.plan_layout(grid, "gamma_x")
    assert (gamma.facet, gamma.col_wrap, gamma.fixed) == ("hetero", None, {"n": 30})
    # No parameter with four values: every parameter is a categorical x axis, the other its facet.
    small = {"a": [1, 2], "b": [0.1, 0.2, 0.3]}
    assert layout.x_params(small) == ["a", "b"]
    assert layout.plan_layout(small, "a") == layout.Layout("a", True, "b", None, {})
    assert layout.plan_layout({"s": ["x", "y", "z", "w"]}, "s").categorical  # text values
    assert [layout.wrap(k) for k in (1, 3, 4, 5, 6, 8, 9, 24)] == [1, 3, 4, 3, 3, 4, 3, 4]
    assert layout.pick_evenly(range(400), 6) == [0, 80, 160, 239, 319, 399]
    assert layout.pick_evenly("abc", 6) == ["a", "b", "c"]
    assert layout.headline_term([("a", "e=0"), ("a", "e=1"), ("b", "att"), ("b", "e=0"), ("c", "e=1")]) == "e=0"


def test_facets_wrap_and_carry_parameter_names(drawn):
    _, seen = drawn
    figure = seen["grid", "bias_vs_n.png"]
    assert figure["panels"] == 5 and figure["rows"] == 2  # gamma_x's five values wrap at three per row
    assert figure["panel_titles"] == [f"gamma_x = {v:g}" for v in GRID["grid"]["gamma_x"]]
    assert "hetero = 0 fixed" in figure["title"]
    assert "n = 30 fixed" in seen["grid", "bias_vs_gamma_x.png"]["title"]  # the lower middle of 20, 30, 40, 50


def test_a_two_valued_parameter_is_never_joined_by_a_line(drawn):
    _, seen = drawn
    styles = layout.series_styles(SMALL["estimators"], SMALL["estimators"])
    for name in ("bias_vs_n.png", "coverage_vs_n.png", "estimate_vs_n.png"):
        (lines,) = seen["small", name]["lines"]
        # each estimator's points (its colour and marker; the error bars' caps are '_' markers)
        points = [
            line
            for line in lines
            if any(line["color"] == st["color"] and line["marker"] == st["marker"] for st in styles.values())
        ]
        assert len(points) == 2, name
        assert all(line["style"] == "None" and len(line["x"]) == 2 for line in points), (name, points)
        positions = sorted(x for line in points for x in line["x"])
        assert positions[0] < 0 < positions[1] < 1 < positions[3]  # categories 0 and 1, estimators dodged
    # A four-valued parameter is a line.
    lines = seen["grid", "bias_vs_n.png"]["lines"][0]
    assert any(line["label"] == "ols" and line["style"] == "-" and len(line["x"]) == 4 for line in lines)


def test_estimators_keep_their_style_in_every_figure(drawn):
    _, seen = drawn
    colours, figures_with = {}, {}
    for (run, name), figure in seen.items():
        for lines in figure["lines"]:
            for line in lines:
                if line["label"] in ("ols", "ols_adjusted"):
                    colours.setdefault(line["label"], set()).add(line["color"])
                    figures_with.setdefault(line["label"], set()).add((run, name))
    assert all(len(figures_with[label]) >= 6 for label in ("ols", "ols_adjusted")), figures_with
    assert all(len(c) == 1 for c in colours.values()), colours


# -- zip plot --------------------------------------------------------------------------------------------------


def test_zip_data_ranks_by_abs_z_and_flags_coverage():
    rows = pd.DataFrame(
        {
            "cell": "c",
            "estimator": "e",
            "term": "t",
            "truth": [0.0, 0.0, 0.0, 0.0, 0.0, np.nan, 0.0],
            "estimate": [0.5, -3.0, 1.0, 0.1, 2.5, 0.0, 9.0],
            "se": [1.0, 1.0, 2.0, np.nan, 1.0, 1.0, 1.0],
            "ci_low": [-1.5, -5.0, -3.0, 0.2, 0.5, -1.0, 7.0],
            "ci_high": [2.5, -1.0, 5.0, 1.0, 4.5, 1.0, 11.0],
            "status": ["ok", "ok", "ok", "ok", "ok", "ok", "failed"],
        }
    )
    out = zip_plot.zip_data(rows, 0.95)
    assert list(out.index) == [0, 1, 2, 3, 4]  # no truth, failed: left out
    # |z| = 0.5, 3, 0.5, (from the interval: (0.6 - 0)/(0.4/1.96)) = 2.94, 2.5; ties in replication order
    np.testing.assert_allclose(out["abs_z"], [0.5, 3.0, 0.5, 0.6 / (0.4 / 1.959963984540054), 2.5])
    np.testing.assert_allclose(out["centile"], [20.0, 100.0, 40.0, 80.0, 60.0])
    assert list(out["covers"]) == [True, False, True, False, False]


def test_zip_data_reads_unbounded_sets():
    rows = pd.DataFrame(
        {
            "cell": "c", "estimator": "ar", "term": "t", "truth": 1.0, "estimate": np.nan, "se": np.nan,
            "ci_low": [-np.inf, 3.0, 2.0, np.inf, 0.0],
            "ci_high": [np.inf, 2.0, 5.0, -np.inf, 2.0],  # whole line; rays outside (2, 3); off; empty; inside
            "status": "ok",
        }
    )  # fmt: skip
    out = zip_plot.zip_data(rows, 0.95)
    assert list(out["covers"]) == [True, True, False, False, True]
    assert list(out["abs_z"] == np.inf) == [False, False, False, True, False]
    segments = zip_plot._segments(out["ci_low"].to_numpy(), out["ci_high"].to_numpy(), np.arange(5.0), -10, 10)
    ends = {tuple(s[:, 0]) for s in segments}
    assert ends == {(-10, 10), (-10, 2), (3, 10), (2, 5), (0, 2)}  # the empty set draws nothing


def test_zip_plot_panels_and_colours(drawn):
    runs, seen = drawn
    small = seen["small", "zip_plot.png"]
    assert small["panels"] == 2 * 2  # cells × estimators
    # Every interval that misses the truth is drawn in the missing colour, and only those.
    recs = runs["small"].records()
    ok = zip_plot.zip_data(recs, 0.95)
    titles = small["panel_titles"]
    for title, lines in zip(titles, small["lines"], strict=True):
        cell, estimator = title.split("\n")
        misses = int((~ok.loc[(ok["cell"] == cell) & (ok["estimator"] == estimator), "covers"]).sum())
        drawn_misses = sum(len(line["x"]) // 3 for line in lines if line["color"] == MISSING)
        assert drawn_misses == misses, title
    assert (~ok["covers"]).sum() > 20  # OLS misses often here: the comparison above is not vacuous
    grid = seen["grid", "zip_plot.png"]
    assert grid["panels"] == 6 * 2 and "6 of 40 cells" in " ".join(grid["title"].split())
    assert figures.zip_plot.choose_panels(runs["grid"].summary)[0] == layout.pick_evenly(
        list(dict.fromkeys(runs["grid"].summary["cell"].astype(str))), 6
    )


def test_zip_plot_of_unbounded_sets_is_drawn(drawn):
    runs, seen = drawn
    recs = runs["weak"].records()
    ar = recs[recs["estimator"] == "anderson_rubin"]
    assert np.isinf(ar[["ci_low", "ci_high"]].to_numpy()).any()  # the case this test is about
    figure = seen["weak", "zip_plot.png"]
    assert figure["panels"] == 2 * 3
    for lines in figure["lines"]:
        for line in lines:
            assert np.isfinite(line["x"][~np.isnan(line["x"])]).all()


# -- nested loop ---------------------------------------------------------------------------------------------


def test_nested_order_puts_the_factor_with_most_values_innermost():
    grid = {"n": [20, 30, 40, 50], "gamma_x": [0.0, 0.5, 1.0, 1.5, 2.0], "hetero": [0.0, 1.0], "beta": [0.0]}
    factors = layout.lexicographic_factors(grid)
    assert factors == ["hetero", "n", "gamma_x"]
    order = nested_loop.nested_order(grid, factors)
    assert len(order) == 40 and list(order["position"]) == list(range(40))
    assert list(order.loc[:5, "gamma_x"]) == [0.0, 0.5, 1.0, 1.5, 2.0, 0.0]
    assert list(order.loc[4:5, "n"]) == [20, 30] and order.loc[19, "hetero"] == 0.0 and order.loc[20, "hetero"] == 1.0


def test_nested_loop_plot_is_drawn_for_three_factors_only(drawn):
    runs, seen = drawn
    assert not any(name.startswith("nested_loop") for name in _names(runs["small"]) | _names(runs["weak"]))
    figure = seen["grid", "nested_loop_bias.png"]
    assert figure["panels"] == 2  # measure above, factors below
    measure, factors = figure["lines"]
    for label in GRID["estimators"]:  # one step line per estimator over all 40 cells (+ the closing step)
        assert any(line["label"] == label and len(line["x"]) == 41 for line in measure)
    assert len([line for line in factors if len(line["x"]) == 41]) == 3  # one per factor
    rows, _, _ = nested_loop.nested_loop_data(runs["grid"].summary, GRID["grid"], "bias")
    assert sorted(rows.loc[rows["series"] == "ols", "position"]) == list(range(40))


# -- distribution --------------------------------------------------------------------------------------------


def test_clip_window_and_clipped_shares():
    normal = np.linspace(-0.2, 0.2, 101)  # quartiles -0.1, 0.1: fences -0.7, 0.7
    heavy = np.concatenate([np.linspace(0.0, 1.0, 96), [50.0, -80.0, np.inf, np.nan]])
    window = distribution.clip_window({"a": normal, "b": heavy}, truths=[0.5])
    q1, q3 = np.percentile(heavy[np.isfinite(heavy)], [25, 75])  # of the 98 finite estimates
    assert q1 - 3 * (q3 - q1) < -0.7 and q3 + 3 * (q3 - q1) > 0.7
    assert window == pytest.approx((q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1)))
    shares = distribution.clipped_shares({"a": normal, "b": heavy}, window)
    assert shares == {"a": 0.0, "b": pytest.approx(4 / 100)}  # 50, -80, inf and nan lie outside
    assert distribution.clip_window({"a": np.array([1.0, 1.0])}, truths=[3.0]) == (1.0, 3.0)  # truth included


def test_distribution_states_its_cells_and_clipping(drawn):
    _, seen = drawn
    grid = seen["grid", "estimate_distribution.png"]
    title = " ".join(grid["title"].split())
    assert grid["panels"] == distribution.MAX_CELLS and f"{distribution.MAX_CELLS} of 40 cells" in title
    weak = seen["weak", "iv_estimate_distribution.png"]
    assert weak["panels"] == 2
    for labels in weak["ticklabels"]:  # 2SLS's estimate is not drawn twice (Anderson-Rubin reports it)
        assert [label.split("\n")[0] for label in labels] == ["ols", "tsls"]
    # Irrelevant instruments: 2SLS has heavy tails, so some of it is clipped, and the share is printed.
    assert any("clipped" in label for label in weak["ticklabels"][0]) and "IQR" in weak["title"]


# -- records and drawing ---------------------------------------------------------------------------------------


def test_records_of_reads_columns_and_cells(drawn):
    runs, _ = drawn
    run = runs["grid"]
    context = figures.FigureContext(
        run.scenario, run.summary, run.run_dir, lambda: records.read(run.run_dir / "records")
    )
    cells = ["n=20,gamma_x=0,hetero=0", "n=50,gamma_x=2,hetero=1"]
    some = context.records_of(["cell", "estimate"], cells=cells)
    assert list(some.columns) == ["cell", "estimate"] and set(some["cell"].astype(str)) == set(cells)
    everything = run.records()
    expected = everything[everything["cell"].isin(cells)]["estimate"].sort_values().to_numpy()
    np.testing.assert_array_equal(np.sort(some["estimate"].to_numpy()), expected)
    assert len(context.records_of(["cell", "se"])) == len(everything)
    assert "records" not in context.__dict__  # the full records were never loaded


def test_drawing_in_two_processes_writes_the_same_files(drawn):
    runs, _ = drawn
    run = runs["small"]
    context = figures.FigureContext(
        run.scenario, run.summary, run.run_dir, lambda: records.read(run.run_dir / "records"), jobs=2
    )
    assert sorted(p.name for p in figures.draw(context)) == sorted(p.name for p in run.figures)


def test_shipped_scenarios_name_known_figures():
    for path in scenario_files(scenarios_folder()):
        scenario = load(path)
        names = figures.figure_names(scenario)
        assert set(scenario.figures) <= set(figures.EXTRA_FIGURES)
        assert len(names) == len(set(names))
        if "iv_estimate_distribution" in scenario.figures:
            assert "estimate_distribution" not in names


def test_thin_keeps_the_ends_and_spacing():
    assert list(layout.thin(5, 500)) == [0, 1, 2, 3, 4]
    picked = layout.thin(2000, 500)
    assert len(picked) == 500 and picked[0] == 0 and picked[-1] == 1999
    assert max(np.diff(picked)) - min(np.diff(picked)) <= 1
    assert math.isclose(np.mean(np.diff(picked)), 1999 / 499)


def test_the_shipped_sweep_draws_nested_loop_plots_and_slices(tmp_path):
    """confounding_sweep (4 varying factors, 400 cells) with few replications: the nested-loop plots of every
    cell, slices instead of every combination, and capped zip and distribution panels."""
    scenario = load(scenarios_folder() / "confounding_sweep.toml").with_overrides(reps=20)
    run = causalmc.run(scenario, out=tmp_path, jobs=2, progress=False)
    names = {p.name for p in run.figures}
    assert {"nested_loop_bias.png", "nested_loop_coverage.png", "zip_plot.png", "estimate_distribution.png"} <= names
    assert {"bias_vs_n.png", "coverage_vs_n.png"} <= names
    assert len(run.figures) <= 12  # slices and caps, not one file or panel per combination
    for path in run.figures:
        pixels = mpimg.imread(path)
        assert path.stat().st_size < 400_000 and pixels.std() > 0
