"""Topic pages quote the runs their gallery pages show: every ``value ± mcse`` in docs/rd.md's sections on
`rd_coverage`, `rd_coverage_large_n` and `rd_manipulation` equals, to the digits it shows, a ``value ± mcse`` of
that scenario's gallery page (docs/scenarios/<name>.md, regenerated from the scenario's full run).

RMSE is not on the gallery pages (the scenario's claims and figures do not use it), so the RMSE column is the one
quote not checked here: docs/tools/rd_tables.py prints every quoted number from the run folders.  Text only, well
under a second.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOPIC = ROOT / "docs" / "rd.md"
# the "## " sections of docs/rd.md whose numbers come from a scenario's full run, and that scenario
SECTIONS = {"## Scenario `rd_manipulation`": "rd_manipulation", "## `rd_coverage`": "rd_coverage",
            "## `rd_global`": "rd_coverage", "## `rd_coverage_large_n`": "rd_coverage_large_n"}
PAIR = re.compile(r"(?<![\w.])([−-]?\d[\d,]*(?:\.\d+)?) ± (\d[\d,]*(?:\.\d+)?)")
MEASURE_WORDS = ("bias", "rmse", "coverage", "length")


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", ""))


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _same(shown: str, value: float) -> bool:
    """`shown` is `value` rounded to the digits shown (ties either way: the page itself was rounded once)."""
    d = _decimals(shown)
    return abs(_number(shown) - value) <= 0.5 * 10 ** -d + 1e-12


def _sections(text: str) -> dict[str, list[str]]:
    """The lines of each section of SECTIONS (a "## " section with its "### " subsections)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = next((h for h in SECTIONS if line.startswith(h)), None)
            if current:
                out[current] = []
        elif current:
            out[current].append(line)
    return out


def _quoted(lines: list[str]) -> list[tuple[str, str, str]]:
    """Every ``a ± b`` in the lines as (measure, a, b): measure ``rmse`` where the table's column says RMSE
    (a column listing several measures, "bias, RMSE, coverage, length", names its pairs in that order),
    else ``""``."""
    out, header = [], None
    for line in lines:
        if not line.startswith("|"):
            header = None
            out += [("", a, b) for a, b in PAIR.findall(line)]
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [[w for w in MEASURE_WORDS if w in c.lower()] for c in cells]
            header = [sorted(ws, key=lambda w, c=c.lower(): c.index(w)) for ws, c in zip(header, cells)]
            continue
        for col, cell in enumerate(cells):
            words = header[col] if col < len(header) else []
            for i, (a, b) in enumerate(PAIR.findall(cell)):
                measure = words[i] if i < len(words) and len(words) > 1 else (words[0] if words else "")
                out.append(("rmse" if measure == "rmse" else "", a, b))
    return out


def _page_pairs(name: str) -> list[tuple[float, float]]:
    text = (ROOT / "docs" / "scenarios" / f"{name}.md").read_text()
    return [(_number(a), _number(b)) for a, b in PAIR.findall(text)]


@pytest.fixture(scope="module")
def quoted() -> dict[str, list[tuple[str, str, str]]]:
    sections = _sections(TOPIC.read_text())
    assert set(sections) == set(SECTIONS), f"docs/rd.md lost a section: {set(SECTIONS) - set(sections)}"
    out: dict[str, list[tuple[str, str, str]]] = {}
    for heading, lines in sections.items():
        out.setdefault(SECTIONS[heading], []).extend(_quoted(lines))
    return out


def test_rd_topic_numbers_are_on_the_gallery_pages(quoted):
    """Each non-RMSE ``a ± b`` equals a pair of the scenario's page rounded to a's and b's digits."""
    for name, pairs in quoted.items():
        checked = [(a, b) for measure, a, b in pairs if measure != "rmse"]
        assert len(checked) >= 30, f"{name}: only {len(checked)} value ± MCSE in docs/rd.md"
        page = _page_pairs(name)
        missing = [f"{a} ± {b}" for a, b in checked
                   if not any(_same(a, v) and _same(b, m) for v, m in page)]
        assert not missing, f"docs/rd.md quotes numbers not on docs/scenarios/{name}.md: {missing}"
