"""Layout decisions for the figures: pure functions, no plotting stack.

What goes on the x axis, what becomes a facet, which grid factors are held
fixed, how facets wrap, which cells and series a capped figure shows, and
how each estimator is drawn.  Kept apart from the drawing code so the rules
can be tested without drawing.

Rules (the measure-against-parameter figures of `generic`):

- a numeric grid parameter with at least `MIN_LINE_VALUES` (4) values may
  be the x axis of a line;
- a parameter with two or three values never is: it becomes a facet or,
  when no parameter has four values, a categorical x axis with one point
  and ±1.96·MCSE error bar per estimator and value, estimators dodged;
- besides the x parameter, at most one varying factor is drawn, as wrapped
  facet columns (the next factor after x in grid order); every further
  factor is held at one stated value (`Layout.fixed`; for three or more
  factors the nested-loop plot shows the whole grid);
- facets wrap at `MAX_COLUMNS` (4) per row.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MIN_LINE_VALUES = 4
MAX_COLUMNS = 4
MAX_PANELS = 24
MAX_SERIES = 8  # (estimator, term) series per panel before only each estimator's headline term is drawn

# Okabe & Ito's colour-blind-safe colours (Wong 2011, Nature Methods 8:441), yellow (unreadable on white) and black
# (the truth's colour) left out, Paul Tol's indigo and olive added; ordered so the first five are far apart (the
# orange and the vermillion, the two nearest, are 2nd and 6th).  Markers are the second channel.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#332288", "#999933")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "h", "<", ">", "p")
# Dashes, dots and their mixtures: told apart without colour.
LINESTYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 3)), (0, (2, 3)))


@dataclass(frozen=True)
class Layout:
    """How one measure-against-parameter figure is laid out.

    Attributes
    ----------
    x : str
        The grid parameter on the x axis.
    categorical : bool
        Points with error bars at each value (two or three values, or text
        values) instead of a line.
    facet : str or None
        The grid parameter drawn as facet columns.
    col_wrap : int or None
        Facet columns per row when the facets wrap.
    fixed : dict
        Every other varying grid parameter and the one value it is held at.
    """

    x: str
    categorical: bool
    facet: str | None = None
    col_wrap: int | None = None
    fixed: dict = field(default_factory=dict)

    def note(self) -> str:
        """The held-fixed factors as a title fragment, e.g. ``gamma_y = 1, hetero = 0 fixed``; '' if none."""
        if not self.fixed:
            return ""
        return ", ".join(f"{k} = {format_value(v)}" for k, v in self.fixed.items()) + " fixed"


def format_value(value) -> str:
    """A grid value as written in a label: 0.5, 100, 'a'."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def is_numeric(values: Sequence) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def varying(grid: Mapping[str, Sequence]) -> list[str]:
    """Grid parameters with two or more values, in grid (file) order."""
    return [p for p, values in grid.items() if len(values) >= 2]


def x_params(grid: Mapping[str, Sequence]) -> list[str]:
    """The parameters a measure is drawn against, one figure each.

    Numeric parameters with at least four values (drawn as lines); when
    there are none, every varying parameter (drawn as categories).
    """
    lines = [p for p in varying(grid) if len(grid[p]) >= MIN_LINE_VALUES and is_numeric(grid[p])]
    return lines or varying(grid)


def wrap(n_panels: int, max_columns: int = MAX_COLUMNS) -> int:
    """Columns per row for `n_panels` facets: at most `max_columns`, rows as even as possible (5 → 3, 8 → 4)."""
    if n_panels <= max_columns:
        return max(n_panels, 1)
    rows = math.ceil(n_panels / max_columns)
    return math.ceil(n_panels / rows)


def fixed_value(values: Sequence):
    """The value a factor is held at in a slice: its middle value (the lower middle for an even count)."""
    return values[(len(values) - 1) // 2]


def plan_layout(grid: Mapping[str, Sequence], x: str) -> Layout:
    """The layout of a figure with `x` on the x axis (see the module docstring for the rules)."""
    values = grid[x]
    categorical = len(values) < MIN_LINE_VALUES or not is_numeric(values)
    names = varying(grid)
    others = [p for p in names if p != x]
    if not others:
        return Layout(x, categorical)
    # The next factor after x in grid order (wrapping around).
    start = names.index(x) + 1 if x in names else 0
    facet = next(p for p in names[start:] + names[:start] if p != x)
    fixed = {p: fixed_value(grid[p]) for p in others if p != facet}
    n = len(grid[facet])
    return Layout(x, categorical, facet, wrap(n) if n > MAX_COLUMNS else None, fixed)


def pick_evenly(items: Sequence, limit: int) -> list:
    """At most `limit` items, evenly spread over their order (first and last included); all when they fit."""
    items = list(items)
    if len(items) <= limit:
        return items
    if limit <= 1:
        return items[:1]
    positions = sorted({round(i * (len(items) - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in positions]


def thin(n: int, limit: int) -> list[int] | range:
    """Positions of an evenly spaced subset of `n` ordered items, first and last kept; all when n ≤ limit."""
    if n <= limit:
        return range(n)
    if limit < 2:
        return [0]
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def headline_term(pairs: Sequence[tuple[str, str]]) -> str:
    """The term most estimators report (the first such in order): e.g. ``att`` or ``e=0``."""
    counts: dict[str, set] = {}
    for estimator, term in pairs:
        counts.setdefault(term, set()).add(estimator)
    return max(counts, key=lambda t: len(counts[t]))  # max keeps the first of equals


def estimator_styles(labels: Sequence[str], palette: Sequence = PALETTE) -> dict[str, dict]:
    """Colour, marker and line style per label, by its place in `labels`, so series differ in grayscale too."""
    return {
        label: {
            "color": palette[i % len(palette)],
            "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)],
        }
        for i, label in enumerate(labels)
    }


def series_styles(series: Sequence[str], estimators: Sequence[str]) -> dict[str, dict]:
    """The style of each series, a function of the estimator it belongs to and never of the figure.

    `estimators` are the scenario's estimator labels in its order: an
    estimator's colour, marker and line style are those of its place there,
    in every figure of the scenario.  A series ``"<estimator> <term>"`` (an
    estimator drawn with several terms) has its estimator's colour; its
    terms are told apart by marker and line style, by the term's place
    among that estimator's series in `series`.  Any other series follows
    the estimators.
    """
    own = estimator_styles(estimators)
    by_estimator: dict[str, list[str]] = {}
    for s in series:
        if s not in own:
            owner = max((e for e in estimators if s.startswith(e + " ")), key=len, default=None)
            if owner is not None:
                by_estimator.setdefault(owner, []).append(s)
    styles, others = {}, [s for s in series if s not in own and not any(s in v for v in by_estimator.values())]
    extra = estimator_styles([*estimators, *others])
    for s in series:
        if s in own:
            styles[s] = own[s]
        elif s in extra:
            styles[s] = extra[s]
        else:
            owner = next(e for e, terms in by_estimator.items() if s in terms)
            k = by_estimator[owner].index(s)
            styles[s] = own[owner] | {"marker": MARKERS[k % len(MARKERS)], "linestyle": LINESTYLES[k % len(LINESTYLES)]}
    return styles


def lexicographic_factors(grid: Mapping[str, Sequence]) -> list[str]:
    """Varying factors from outermost to innermost for a nested-loop plot: fewest values outermost,
    so the factor with most values is innermost; ties keep grid order."""
    names = varying(grid)
    return sorted(names, key=lambda p: (len(grid[p]), names.index(p)))


def wrap_label(cell: str, width: int = 42) -> str:
    """A cell label (``n=50,gamma_x=0.5,...``) as a panel title, broken into lines of at most `width`."""
    if len(cell) <= width:
        return cell
    return "\n".join(textwrap.wrap(cell.replace(",", ", "), width))


def wrap_lines(text: str, width: int) -> str:
    """Each line of `text` broken into lines of at most `width` characters (a figure title to its width)."""
    return "\n".join("\n".join(textwrap.wrap(line, max(width, 20))) or line for line in text.split("\n"))
