"""What a methods referee checks in every figure, read from the matplotlib objects drawn from small synthetic
records (no run: the records are built by hand, so each case is exact) and, for the ``figures`` command, one
tiny run through the command line.

The synthetic records: a 4 × 2 grid (n, g), 100 replications per cell, truth varying by replication, and
four estimators — ``a`` (normal errors), ``a_copy`` (a's estimates with wider intervals: the same bias, other
coverage), ``wide`` (intervals so wide that exactly 99 of 100 cover: a Wald band would pass 1) and ``fails``
(status ``singular`` in every replication).  Bias is shifted by 5 in the g = 1 cells, so panels with their own
y scales would look alike.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

from causalmc.sims.cli import main  # noqa: E402
from causalmc.sims.figures import FigureContext, bands, generic, layout, zip_plot  # noqa: E402
from causalmc.sims.summary import summarize  # noqa: E402

R = 100
GRID = {"n": [10, 20, 30, 40], "g": [0, 1]}
LABELS = ["a", "a_copy", "wide", "fails"]


def _records() -> pd.DataFrame:
    rng = np.random.default_rng(20261207)
    parts = []
    for n, g in itertools.product(*GRID.values()):
        truth = 0.01 * np.arange(R)  # varies by replication: the zip plot draws intervals minus their truth
        estimate = truth + 5.0 * g + rng.normal(size=R)
        misses = np.arange(R) == 0  # `wide` misses in replication 0 only
        wide_low = np.where(misses, truth + 1.0, truth - 50.0)
        for label, low, high, status in (
            ("a", estimate - 1.96, estimate + 1.96, "ok"),
            ("a_copy", estimate - 3.0, estimate + 3.0, "ok"),
            ("wide", wide_low, wide_low + 100.0, "ok"),
            ("fails", np.full(R, np.nan), np.full(R, np.nan), "singular"),
        ):
            ok = status == "ok"
            parts.append(pd.DataFrame({
                "cell": f"n={n},g={g}", "n": n, "g": g, "estimator": label, "term": "effect", "rep": np.arange(R),
                "truth": truth, "estimate": (estimate if label != "wide" else (low + high) / 2) if ok else np.nan,
                "se": 1.0 if ok else np.nan, "ci_low": low, "ci_high": high, "reject": np.nan, "status": status,
            }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """{figure file name: Figure} of the coverage, bias, power and zip figures of the synthetic records (not
    saved: rendering the files would cost most of the time)."""
    records = _records()
    summary = summarize(records, list(GRID))
    scenario = SimpleNamespace(
        name="synthetic", level=0.95, reps=R, max_reps=None, grid=GRID, figures=[],
        estimators=[SimpleNamespace(label=label, name="ols", options={}) for label in LABELS], cells=lambda: [],
    )  # fmt: skip
    context = FigureContext(scenario, summary, tmp_path_factory.mktemp("synthetic"), lambda: records, jobs=1)
    context.records  # loaded once: records_of reads from it
    saved = {}

    def record(fig, path, *args, **kwargs):  # kept, not rendered to a file: the tests read the objects
        saved[str(path).rsplit("/", 1)[-1]] = fig

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", record)
        for draw in (generic.coverage_vs_param, generic.bias_vs_param, generic.power_vs_param, zip_plot.zip_plot):
            draw(context)
    return saved, summary


def _title(fig) -> str:
    return " ".join(fig._suptitle.get_text().split())


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


# -- 1. one style per estimator, a palette of distinct colours ------------------------------------------------


def test_an_estimator_keeps_its_colour_whatever_else_the_figure_draws():
    estimators = ["a", "b", "c"]
    alone = layout.series_styles(["c"], estimators)["c"]
    assert layout.series_styles(["b", "c"], estimators)["c"] == alone
    assert layout.series_styles(["c", "a"], estimators)["c"] == alone
    # an estimator drawn with several terms keeps its colour; its terms differ by marker and line style
    terms = layout.series_styles(["a", "b e=0", "b e=1"], estimators)
    own = layout.series_styles(["b"], estimators)["b"]
    assert terms["b e=0"]["color"] == terms["b e=1"]["color"] == own["color"]
    assert terms["b e=0"]["marker"] != terms["b e=1"]["marker"]
    assert terms["b e=0"]["linestyle"] != terms["b e=1"]["linestyle"]
    assert layout.series_styles(["b e=1", "c"], estimators)["b e=1"]["color"] == own["color"]


def test_the_palette_has_no_near_duplicate_colours():
    """RGB distance (0-255 scale): the old palette's two oranges (#de8f05, #d55e00) were 50 apart."""
    rgb = [np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)], dtype=float) for c in layout.PALETTE]
    nearest = min(np.linalg.norm(x - y) for x, y in itertools.combinations(rgb, 2))
    assert nearest > 60, nearest
    assert len(set(layout.MARKERS)) == len(layout.MARKERS) >= len(layout.PALETTE)


# -- 2. zip plots: every cell, named; clipping and shifting said --------------------------------------------


def test_a_zip_plot_of_many_series_keeps_more_than_the_first_cell():
    cells = [f"c{i}" for i in range(4)]
    summary = pd.DataFrame(
        [
            {"cell": c, "estimator": f"e{k}", "term": "t", "coverage": 0.9, "truth": 0.0}
            for c in cells
            for k in range(12)
        ]
    )
    chosen, pairs, notes = zip_plot.choose_panels(summary)
    assert chosen == ["c0", "c3"] and len(pairs) == 12 and "2 of 4 cells" in notes[0]
    # every cell while they fit: 4 cells x 5 series
    chosen, _, notes = zip_plot.choose_panels(summary[summary["estimator"].isin([f"e{k}" for k in range(5)])])
    assert chosen == cells and notes == []
    # each cell starts its own row; a series keeps its column
    panels = [(c, p) for c in chosen for p in pairs[:7]]
    slots = zip_plot.panel_slots(panels, chosen, pairs[:7])
    assert {slots[i][0] for i in range(7)} == {0, 1} and {slots[i][0] for i in range(7, 14)} == {2, 3}
    assert [slots[i][1] for i in range(7)] == [slots[i][1] for i in range(7, 14)] == [0, 1, 2, 3, 0, 1, 2]


def test_the_zip_plot_names_every_cell_and_says_what_its_axis_shows(drawn):
    saved, _ = drawn
    fig = saved["zip_plot.png"]
    titles = [ax.get_title() for ax in _panels(fig)]
    assert {t.split("\n")[0] for t in titles} == {f"n={n},g={g}" for n, g in itertools.product(*GRID.values())}
    assert all(ax.get_xlabel() in ("", "95% confidence interval − truth") for ax in _panels(fig))
    assert any(ax.get_xlabel() for ax in _panels(fig))
    title = _title(fig)
    assert "drawn minus their truth" in title and "2.5th–97.5th percentile" in title and "cut at the edge" in title
    assert "fails in 8 of 8 cells (singular)" in title
    renderer = FigureCanvasAgg(fig).get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1  # not cut off at the sides


# -- 3. rates: Wilson intervals ---------------------------------------------------------------------------------


def test_wilson_intervals_match_statsmodels():
    """Wilson score interval at 95 %; the oracle is statsmodels' proportion_confint(method="wilson")."""
    rng = np.random.default_rng(1)
    n = rng.integers(1, 5000, size=300)
    k = np.minimum(rng.integers(0, 5000, size=300), n)
    k[:20], k[20:40] = 0, n[20:40]  # the ends
    low, high = bands.wilson(k / n, n)
    want_low, want_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, want_low, rtol=0, atol=1e-10)
    np.testing.assert_allclose(high, want_high, rtol=0, atol=1e-10)


def test_a_rate_band_holds_its_rate_at_the_ends():
    """At p = 0 and 1 a Wilson end equals p only up to rounding (1e-16 off for n = 1,000 or 4,000, as in the
    shipped runs): the band must still hold p, or the error bars have negative length and matplotlib refuses."""
    n = np.array([1000, 2000, 4000, 5000, 10000], dtype=float)
    for p in (0.0, 1.0):
        frame = pd.DataFrame({"power": np.full(5, p), "power_mcse": np.zeros(5), "n_ok": n})
        low, high = bands.limits(frame, "power")
        assert (low <= p).all() and (p <= high).all()


def test_a_coverage_band_stays_in_the_unit_interval_and_has_width_at_the_ends(drawn):
    saved, summary = drawn
    wide = summary[summary["estimator"] == "wide"]
    assert (wide["coverage"] == 0.99).all()
    assert (wide["coverage"] + 1.96 * wide["coverage_mcse"] > 1).all()  # the Wald band would leave [0, 1]
    fig = saved["coverage_vs_n.png"]
    ys = np.concatenate([p.vertices[:, 1] for ax in _panels(fig) for c in ax.collections
                         if isinstance(c, PolyCollection) for p in c.get_paths()])  # fmt: skip
    assert len(ys) and ys.max() <= 1.0 + 1e-12 and ys.min() >= -1e-12
    assert "Wilson" in _title(fig)
    low, high = bands.limits(pd.DataFrame({"coverage": [1.0], "coverage_mcse": [0.0], "n_ok": [100]}), "coverage")
    assert high[0] == pytest.approx(1.0) and low[0] < 0.97  # p = 1: a band of its own width, not none


# -- 4. to 8. shared scales, coinciding series, failed estimators, reference lines ------------------------------


def test_facets_of_one_measure_share_their_y_axis(drawn):
    saved, _ = drawn
    for name in ("bias_vs_n.png", "coverage_vs_n.png"):
        first, *others = _panels(saved[name])
        assert others and all(first.get_shared_y_axes().joined(first, ax) for ax in others), name
        assert len({ax.get_ylim() for ax in _panels(saved[name])}) == 1


def test_series_with_identical_values_are_named_together(drawn):
    saved, _ = drawn
    assert "a = a_copy (identical values" in _title(saved["bias_vs_n.png"])
    assert "a = a_copy" not in _title(saved["coverage_vs_n.png"])  # their coverage differs
    frame = pd.DataFrame({"cell": [1, 2, 1, 2], "series": ["x", "x", "y", "y"], "v": [0.1, 0.2, 0.1, 0.2000001]})
    assert generic.coinciding(frame, "v") == ""


def test_an_estimator_that_fails_everywhere_is_named_with_its_status(drawn):
    saved, _ = drawn
    for name in ("bias_vs_n.png", "coverage_vs_n.png", "power_vs_n.png"):
        assert "no replication ok, not drawn: fails in 8 of 8 cells (singular)" in _title(saved[name]), name


def test_reference_lines_are_named_in_the_legend_not_over_the_data(drawn):
    saved, _ = drawn
    fig = saved["coverage_vs_n.png"]
    assert all(not ax.texts for ax in _panels(fig))
    (legend,) = fig.legends
    assert "nominal 0.95" in [t.get_text() for t in legend.get_texts()]
    renderer = FigureCanvasAgg(fig).get_renderer()
    box = legend.get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in _panels(fig))  # outside every panel


def test_the_power_figure_marks_the_level_of_the_test(drawn):
    saved, _ = drawn
    fig = saved["power_vs_n.png"]
    for ax in _panels(fig):
        assert any(np.allclose(line.get_ydata(), 0.05) and len(line.get_ydata()) == 2 for line in ax.lines)
    assert "test level 0.05" in [t.get_text() for t in fig.legends[0].get_texts()]


# -- 10. the figures command --------------------------------------------------------------------------------

TINY = """
name = "tiny_figures"
dgp = "confounding"
sampler = "sufficient"
reps = 30
seed = 20261207
estimators = ["ols", "ols_adjusted"]
[grid]
n = [100, 200]
"""


def _fingerprint(folder) -> dict:
    """Hash of every file of a run folder but its figures and report."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "figures" not in p.parts and not p.name.startswith("report.")
    }


def test_the_figures_command_redraws_a_finished_run_and_changes_nothing_else(tmp_path, capsys):
    import causalmc

    run = causalmc.run(TINY, out=tmp_path, jobs=1, progress=False, figures=False)  # drawn by the command only
    folder = run.run_dir
    before = _fingerprint(folder)
    (folder / "figures").mkdir(exist_ok=True)
    (folder / "figures" / "old_figure.png").write_bytes(b"stale")  # a figure the code no longer draws
    (folder / "report.html").unlink()
    (folder / "report.md").write_text("old")
    assert main(["figures", str(folder)]) == 0
    drawn = {"bias_vs_n.png", "coverage_vs_n.png", "estimate_distribution.png", "zip_plot.png"}
    assert {p.name for p in (folder / "figures").iterdir()} == drawn
    assert (folder / "report.html").is_file() and "zip_plot.png" in (folder / "report.md").read_text()
    assert _fingerprint(folder) == before  # manifest, records, summary: as they were
    # a folder that is no finished run: exit 2, nothing written (the good folder given with it untouched)
    not_a_run = tmp_path / "not_a_run"
    not_a_run.mkdir()
    stamp = {p: p.stat().st_mtime_ns for p in (folder / "figures").iterdir()}
    capsys.readouterr()
    assert main(["figures", str(folder), str(not_a_run)]) == 2
    assert "not_a_run" in capsys.readouterr().err
    assert list(not_a_run.iterdir()) == []
    assert {p: p.stat().st_mtime_ns for p in (folder / "figures").iterdir()} == stamp


def test_long_category_names_stand_slanted_inside_the_figure_without_overlapping(tmp_path):
    """A 15-case axis (sdid_cps): its names were cut off at the bottom and ran into one another."""
    cases = [f"case_number_{i}" for i in range(15)]
    rows = [{"cell": f"case={c}", "case": c, "estimator": "a", "term": "effect", "coverage": 0.9,
             "coverage_mcse": 0.01, "n_ok": 900, "failures": "", "mean_first_stage_f": np.nan} for c in cases]  # fmt: skip
    scenario = SimpleNamespace(
        name="cases", level=0.95, reps=900, max_reps=None, grid={"case": cases}, figures=[],
        estimators=[SimpleNamespace(label="a", name="ols", options={})], cells=lambda: [],
    )  # fmt: skip
    saved = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", lambda fig, path, *a, **k: saved.setdefault("fig", fig))
        generic.coverage_vs_param(FigureContext(scenario, pd.DataFrame(rows), tmp_path, lambda: None, jobs=1))
    fig = saved["fig"]
    renderer = FigureCanvasAgg(fig).get_renderer()
    (ax,) = _panels(fig)
    boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    assert len(boxes) == 15 and all(b.y0 >= fig.bbox.y0 and b.x0 >= fig.bbox.x0 for b in boxes)
    # neighbours, slanted at angle a and d pixels apart, are d·sin(a) apart across their lines: at least a line
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    xs = ax.transData.transform([(i, 0) for i in range(15)])[:, 0]
    line = labels[0].get_fontsize() * fig.dpi / 72
    assert labels[0].get_rotation() > 0
    assert np.diff(xs).min() * math.sin(math.radians(labels[0].get_rotation())) >= line
