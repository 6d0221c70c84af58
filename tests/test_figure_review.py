"""What a methods referee checks in the measure figures, read from the matplotlib objects of one tiny run (scenario
TOML -> `causalmc.run` -> figures): an interval width spanning decades is drawn on a log axis (no line at 0 there),
sample sizes that are powers of ten read as 10^k, the legend lies inside the figure, and the names under the
violins of the estimate distributions do not overlap one another."""

import itertools

import pytest
from conftest import figures_of_runs
from matplotlib.backends.backend_agg import FigureCanvasAgg

# n over six decades with exact sufficient statistics (milliseconds per cell); a long label tests the legend's room.
SCENARIO = """
name = "figure_review"
dgp = "confounding"
sampler = "sufficient"
reps = 40
seed = 20261207
estimators = ["ols", { name = "ols_adjusted", label = "ols_adjusted_for_the_confounder" }]
figures = ["ci_width_vs_param", "estimate_vs_param"]
[grid]
n = [1000, 1000000, 1000000000]
"""
# a cell whose estimates have outliers (clipped, labelled "x % clipped" under their names) and five estimators
DISTRIBUTION = """
name = "figure_review_violins"
dgp = "observables"
reps = 100
seed = 20261208
estimators = [
    { name = "ipw", label = "ipw" }, { name = "ipw", se = "fixed_ps", label = "ipw_fixed_ps" },
    { name = "ipw", trim = 0.05, label = "ipw_trim05" }, { name = "aipw", label = "aipw" },
    { name = "aipw", trim = 0.05, label = "aipw_trim05" },
]
figures = []
[params]
n = 200
[grid]
gamma = [0.5, 5.0]
"""


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """{file name: the Figure saved to it} for the two tiny runs above."""
    return figures_of_runs((SCENARIO, DISTRIBUTION), tmp_path_factory.mktemp("figs"))[0]


def test_an_interval_width_spanning_decades_is_drawn_on_a_log_axis_without_a_line_at_zero(drawn):
    fig = drawn["ci_width_vs_n.png"]
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_yscale() == "log"
    assert not [line for line in ax.lines if list(line.get_ydata()) == [0, 0]]  # axhline(0) has no place on a log axis
    assert "log scale" in fig._suptitle.get_text()
    # the estimates' figure stays linear (its values do not span decades): the rule is about the values drawn
    (linear,) = [a for a in drawn["estimate_vs_n.png"].axes if a.get_visible()]
    assert linear.get_yscale() == "linear"


def test_sample_sizes_that_are_powers_of_ten_read_as_ten_to_the_k(drawn):
    (ax,) = [a for a in drawn["ci_width_vs_n.png"].axes if a.get_visible()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["$10^{3}$", "$10^{6}$", "$10^{9}$"]


@pytest.mark.parametrize("name", ["ci_width_vs_n.png", "estimate_vs_n.png"])
def test_the_legend_lies_inside_the_figure(drawn, name):
    fig = drawn[name]
    renderer = FigureCanvasAgg(fig).get_renderer()
    (legend,) = fig.legends
    box, page = legend.get_window_extent(renderer), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, (box, page)


def test_names_under_the_violins_do_not_overlap(drawn):
    fig = drawn["estimate_distribution.png"]
    renderer = FigureCanvasAgg(fig).get_renderer()
    checked = 0
    for ax in (a for a in fig.axes if a.get_visible()):
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        assert len(boxes) == 5
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), (a, b)
        checked += 1
    assert checked == 2
    assert any("clipped" in t.get_text() for ax in fig.axes for t in ax.get_xticklabels())
