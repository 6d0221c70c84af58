"""What the staggered-adoption figures draw, read from the matplotlib objects of a tiny run (scenario TOML ->
`causalmc.run` -> figures): the event study's reference period e = -1 is not interpolated through, and the
weights figure's legend covers no data."""

import numpy as np
import pytest
from conftest import figures_of_runs
from matplotlib.backends.backend_agg import FigureCanvasAgg

from causalmc.sims.figures.did import REFERENCE

SCENARIO = """
name = "staggered_figures"
dgp = "did_staggered"
reps = 20
seed = 20261207
estimators = [
    { name = "twfe_staggered", label = "twfe" },
    { name = "event_study", leads = 4, lags = 3, label = "event_study" },
    { name = "sunab", leads = 4, lags = 3, label = "sunab" },
    { name = "cs", aggregation = "event", leads = 4, lags = 3, label = "cs" },
]
figures = ["event_study", "staggered_weights"]
[params]
tau_growth = 0.25
[grid]
never_share = [0.1, 0.5]
"""


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """{file name: the Figure saved to it} and the run, for the tiny run above."""
    saved, (run,) = figures_of_runs((SCENARIO,), tmp_path_factory.mktemp("figs"))
    return saved, run


def _terms(run, label):
    rows = run.summary[run.summary["estimator"].astype(str) == label]
    return set(rows["term"].astype(str))


def test_event_study_breaks_the_line_at_the_reference_period_and_marks_it_at_zero(drawn):
    """Estimators without an e = -1 term (TWFE's event study and sunab normalise it away) show it as an open
    marker at (-1, 0); no line of the top (estimates) or bottom (coverage) panels joins e = -2 and e = 0 across it."""
    saved, run = drawn
    assert "e=-1" not in _terms(run, "event_study") and "e=-1" not in _terms(run, "sunab")
    assert "e=-1" in _terms(run, "cs")  # cs reports the reference period: its line goes through its estimate
    fig = saved["event_study.png"]
    top, bottom = fig.axes[0], fig.axes[2]  # 2 x 2 panels: the first cell's estimates and coverages
    for ax in (top, bottom):
        for line in ax.get_lines():
            x = np.asarray(line.get_xdata(), dtype=float)
            straddles = (x < REFERENCE).any() and (x > REFERENCE).any()
            assert not (straddles and REFERENCE not in x), f"{line.get_label()} is drawn through e = -1: {x}"
    labels = {line.get_label() for line in top.get_lines()}
    assert {"event_study", "sunab", "cs"} <= labels  # each estimator is drawn (and named once in the legend)
    points = [tuple(p) for c in top.collections for p in np.asarray(c.get_offsets(), dtype=float)]
    assert points.count((REFERENCE, 0.0)) >= 2  # one marker per normalising estimator


def test_event_study_lines_of_normalising_estimators_skip_the_reference_period(drawn):
    """The event_study estimator's pieces: one before e = -1 and one after, neither containing -1."""
    saved, _ = drawn
    top = saved["event_study.png"].axes[0]
    colour = next(line.get_color() for line in top.get_lines() if line.get_label() == "event_study")
    pieces = [np.asarray(l.get_xdata(), dtype=float) for l in top.get_lines() if l.get_color() == colour]
    assert len(pieces) == 2
    assert all(REFERENCE not in x for x in pieces)
    assert max(pieces[0]) < REFERENCE < min(pieces[1])


def test_staggered_weights_legend_and_labels_cover_no_data(drawn):
    """The legend's box lies outside both panels' axes (so over no point) and names every estimator; each cell label
    stays inside its own panel (at the right edge it ran into the next one)."""
    saved, run = drawn
    fig = saved["staggered_weights.png"]
    renderer = FigureCanvasAgg(fig).get_renderer()  # the run closed the figure: a canvas of its own
    fig.draw(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer))
    for ax in fig.axes:  # the cell labels stay inside their own panel
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            assert ax.get_window_extent(renderer).x0 <= box.x0 and box.x1 <= ax.get_window_extent(renderer).x1
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {"twfe", "event_study", "sunab", "cs"} & set(
        run.summary.loc[run.summary["term"].astype(str) == "att", "estimator"].astype(str)
    )


def test_event_study_legend_lies_outside_every_panel_and_names_the_estimators_once(drawn):
    """Inside the last panel the legend covered its points; outside, one legend for both cells."""
    saved, _ = drawn
    fig = saved["event_study.png"]
    assert not [ax for ax in fig.axes if ax.get_legend() is not None]
    renderer = FigureCanvasAgg(fig).get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
    names = [t.get_text() for t in legend.get_texts()]
    assert len(names) == len(set(names)) and {"event_study", "sunab", "cs", "truth ATT(e)"} <= set(names)
