"""What a run tells people: text for terminals and scripts, report pages for browsers and pull requests.

- `sims.report.text`: summaries and expectation checks as text;
- `sims.report.terminal`: what a finished run prints;
- `sims.report.page`: ``report.html`` (self-contained) and ``report.md``
  per run, ``index.html`` per output folder, rendered with Jinja2 from the
  records, summary and manifest alone.
"""

from .text import (
    FORMATS,
    check_expectations,
    display_columns,
    expectation_table,
    format_headline,
    format_summary,
    has_several_terms,
    replications_text,
    scenario_measures,
    stock_yogo_note,
    target_lines,
    with_mcse,
)

__all__ = [
    "FORMATS",
    "check_expectations",
    "display_columns",
    "expectation_table",
    "format_headline",
    "format_summary",
    "has_several_terms",
    "replications_text",
    "scenario_measures",
    "stock_yogo_note",
    "target_lines",
    "with_mcse",
]
