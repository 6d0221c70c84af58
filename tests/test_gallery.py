"""The scenario gallery (docs/scenarios/) covers every shipped scenario, each page from a run of the file as it
stands: a page whose run had another fingerprint (another DGP default, estimator option or seed: other numbers)
is stale and must be regenerated from a new full run (`run_bench.py run FILE --reps N`, then `pages`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from causalmc.sims.scenario.files import load

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "scenarios"
# The solve scenarios are the targets of `run_bench.py solve`, whose results (a root and its interval, not a
# grid of cells) are on docs/solve.md; they have no gallery page.
SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if not p.stem.startswith("solve_"))


def test_every_shipped_scenario_has_a_gallery_page_in_the_index():
    missing = [p.stem for p in SHIPPED if not (GALLERY / f"{p.stem}.md").is_file()]
    assert not missing, f"no gallery page (run it in full, then `run_bench.py pages`): {missing}"
    index = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert not [p.stem for p in SHIPPED if f"scenarios/{p.stem}.md" not in index]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_gallery_page_shows_a_run_of_the_scenario_file_as_it_stands(path):
    """The fingerprint (everything that decides a replication's numbers but the replications and grid values)
    of the page's run equals the file's under today's code, and each figure the page shows is committed."""
    page = (GALLERY / f"{path.stem}.md").read_text(encoding="utf-8")
    shown = re.search(r"\*\*fingerprint\*\*: ([0-9a-f]{16})", page)
    assert shown, "the page has no provenance"
    assert shown.group(1) == load(path).fingerprint(), "the page is from a run of another version of the scenario"
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page):
        assert (GALLERY / image).is_file(), image


NUMBER = r"(?<![\w.])-?\d+\.\d+"


def _numbers(text):
    return [float(x) for x in re.findall(NUMBER, text.replace("−", "-"))]


def test_the_readme_numbers_of_shipped_studies_are_their_pages_numbers_rounded():
    """Every number in the causalmc column of the README's 'What the shipped studies reproduce' table is, to
    the digits shown, a number on the gallery page its row links: typed from the run, and re-checked when a new
    run regenerates the page."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What the shipped studies reproduce", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "docs/scenarios/" in line]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        pages = re.findall(r"\(docs/scenarios/(\w+)\.md\)", cells[0])
        on_pages = [v for name in pages for v in _numbers((GALLERY / f"{name}.md").read_text(encoding="utf-8"))]
        for token in re.findall(NUMBER, cells[-1].replace("−", "-")):
            half_unit = 0.5 * 10.0 ** -len(token.split(".")[1])
            assert any(abs(v - float(token)) <= half_unit + 1e-12 for v in on_pages), (pages, token)
