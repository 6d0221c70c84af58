"""A small facet grid with a fixed layout: the subset of seaborn's FacetGrid the figures use.

seaborn's FacetGrid lays itself out with ``tight_layout`` (a full draw)
when it is made, when a legend is added and, with ``bbox_inches="tight"``,
again when saved: three draws per figure, most of a figure's time.  Here
the margins are computed in inches from what the figure holds (title
lines, legend labels) and the figure is drawn once, when saved.

The interface follows FacetGrid where the figures use it: ``axes`` (2-D),
``axes_dict``, ``ax``, ``figure``, ``map_dataframe``, ``set_axis_labels``,
``add_legend``, ``savefig``.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .layout import format_value, wrap_lines  # noqa: E402

CHAR_INCHES = 0.085  # width of a legend character at font size 9
TITLE_CHAR_INCHES = 0.095  # ... of a title character at font size 11


class Facets:
    """Panels of `data`, one per value of `col` (wrapped at `col_wrap` per row), one series per `hue` value.

    Parameters
    ----------
    data : DataFrame
    col : str or None
        The column whose values make the panels (None: one panel).
    col_order : sequence
        Those values in panel order.
    col_wrap : int or None
        Panels per row (None: all in one row).
    hue : str
        The column naming each series.
    hue_order : sequence
        The series in drawing (and legend) order.
    styles : dict
        Per series: ``color``, ``marker``, ``linestyle`` (passed to the
        mapped function).
    height, aspect : float
        Panel height (inches) and width/height.
    """

    def __init__(self, data, col, col_order, col_wrap, hue, hue_order, styles, height=3.0, aspect=1.3):
        self.data, self.col, self.hue = data, col, hue
        self.col_names = list(col_order) if col else [None]
        self.hue_order, self.styles = list(hue_order), styles
        n = len(self.col_names)
        self.ncols = min(col_wrap or n, n)
        self.nrows = math.ceil(n / self.ncols)
        self.panel = (height * aspect, height)
        self.below = 0.0  # inches under each panel for tall (slanted) tick labels
        # One measure per figure: its panels share the y axis, so a difference between panels reads as one
        # (independent scales made a 0.02 spread in one panel look as large as a 0.9 one in the next).
        self.figure, self.axes = plt.subplots(
            self.nrows, self.ncols, figsize=(self.ncols * height * aspect, self.nrows * height), squeeze=False,
            sharey=True,
        )  # fmt: skip
        for ax in self.axes.flat[n:]:
            ax.set_visible(False)
        self.axes_dict = {}
        for name, ax in zip(self.col_names, self.axes.flat, strict=False):
            ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
            if col:
                self.axes_dict[name] = ax
                ax.set_title(f"{col} = {format_value(name)}", fontsize=10, y=1.0)  # fixed y: no placement pass
        self._legend_right = 0.2  # inches right of the panels: the legend's room once there is one
        self._title = None

    @property
    def ax(self):
        """The one axes of an unfaceted grid."""
        if len(self.col_names) != 1:
            raise AttributeError("several panels: use axes or axes_dict")
        return self.axes.flat[0]

    def facet_data(self):
        """(panel value, axes, rows) per panel."""
        for name, ax in zip(self.col_names, self.axes.flat, strict=False):
            rows = self.data if self.col is None else self.data[self.data[self.col] == name]
            yield name, ax, rows

    def map_dataframe(self, func, *args, **kwargs):
        """Call ``func(rows, *args, color=, label=, marker=, linestyle=, **kwargs)`` per panel and series."""
        for _, ax, rows in self.facet_data():
            plt.sca(ax)
            for label in self.hue_order:
                part = rows[rows[self.hue] == label]
                if part.empty:
                    continue
                style = self.styles[label]
                func(part, *args, label=label, **style, **kwargs)
        return self

    def set_axis_labels(self, x_label=None, y_label=None):
        """`x_label` under each column's lowest panel, `y_label` beside each row's first."""
        n = len(self.col_names)
        for i, ax in enumerate(self.axes.flat[:n]):
            if x_label and i + self.ncols >= n:
                ax.set_xlabel(x_label)
            if y_label and i % self.ncols == 0:
                ax.set_ylabel(y_label)

    def add_legend(self, title=None):
        """One legend for the figure, right of the panels, of every labelled artist (first of each label)."""
        self._legend_right = legend_outside(self.figure, self.axes.flat, title, fontsize=9, first=self.hue_order)

    def set_title(self, text: str):
        """The figure's title (placed when saving)."""
        self._title = text

    def savefig(self, path, dpi=100, **_):
        """Lay the figure out with fixed margins (inches) and save it (``bbox_inches`` is ignored)."""
        legend = self._legend_right
        fixed_layout(
            self.figure, self._title, self.ncols, self.nrows, self.panel, left=1.0, right=legend,
            bottom=0.65 + self.below, wspace=0.35, hspace=0.8 + self.below,
        )  # fmt: skip
        self.figure.savefig(path, dpi=dpi)


def legend_outside(fig, axes, title=None, fontsize=8, first=()) -> float:
    """One legend of every labelled artist of `axes` (first of each label; the labels in `first` before the
    others, e.g. the series before the reference lines), right of the panels, outside every axes so it covers
    no data; returns the right margin (inches) to leave for it in `fixed_layout`."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if not label.startswith("_"):
                handles.setdefault(label, handle)
    if not handles:
        return 0.2
    first = list(first)
    handles = {k: handles[k] for k in sorted(handles, key=lambda k: k not in first)}
    fig.legend(handles.values(), handles.keys(), title=title, loc="center right", fontsize=fontsize,
               title_fontsize=fontsize, frameon=False)  # fmt: skip
    longest = max(len(str(label)) for label in (*handles, title or ""))
    return CHAR_INCHES * fontsize / 9 * longest + 0.9


def fixed_layout(fig, title, ncols, nrows, panel, left, right, bottom, wspace, hspace, top_extra=0.0):
    """Size `fig` and place its panels with margins and gaps in inches, `title` wrapped to the width on top.

    `panel` is one panel's (width, height); `left`, `right`, `bottom`,
    `wspace`, `hspace` and `top_extra` (room under the title, e.g. for
    two-line panel titles) are inches.  No tight layout: the figure is drawn
    once, when saved.
    """
    width = left + ncols * panel[0] + (ncols - 1) * wspace + right
    title = wrap_lines(title, int(width / TITLE_CHAR_INCHES)) if title else ""
    top = 0.3 + top_extra + 0.22 * (title.count("\n") + 1 if title else 0)
    height = bottom + nrows * panel[1] + (nrows - 1) * hspace + top
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace / panel[0],
        hspace=hspace / panel[1],
    )
    if title:
        fig.suptitle(title, y=1 - 0.08 / height, va="top", fontsize=11)
    return width, height
