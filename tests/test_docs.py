"""The documentation site: its reference is generated from the registries and cannot drift, and the built site
(``mkdocs build --strict`` into site/, run by .ci/run) loads in headless Chromium with no broken image or link."""

from __future__ import annotations

import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from causalmc.estimators.spec import BUILT_IN
from causalmc.sims import plugins
from causalmc.sims.cli import build_parser, main
from causalmc.sims.report import reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
SITE = ROOT / "site"
# Set by .ci/run, which builds the site first: there a missing site/ is a failure, not a skip.
REQUIRE_SITE = "CAUSALMC_REQUIRE_SITE"


def _builtin(registry):
    return {name: obj for name, obj in registry.items() if obj.origin == BUILT_IN}


def test_every_registered_dgp_and_estimator_has_a_committed_page():
    dgps, ests = _builtin(plugins.dgp_registry()), _builtin(plugins.estimator_registry())
    assert dgps and ests
    missing = [f"dgps/{n}.md" for n in dgps if not (REFERENCE / "dgps" / f"{n}.md").is_file()]
    missing += [f"estimators/{n}.md" for n in ests if not (REFERENCE / "estimators" / f"{n}.md").is_file()]
    assert not missing, f"no reference page (run `python run_bench.py docs`): {missing}"
    # and no page of something no longer registered
    pages = {p.stem for p in (REFERENCE / "dgps").glob("*.md")}, {p.stem for p in (REFERENCE / "estimators").glob("*.md")}
    assert pages == (set(dgps), set(ests))


def test_every_parameter_and_option_has_a_meaning():
    empty = [f"DGP {d.name}: {p.name}" for d in _builtin(plugins.dgp_registry()).values() for p in d.params
             if not p.doc.strip()]  # fmt: skip
    empty += [f"estimator {e.name}: {o.name}" for e in _builtin(plugins.estimator_registry()).values()
              for o in e.options if not o.doc.strip()]  # fmt: skip
    assert not empty, f"settings without a meaning: {empty}"


def test_a_page_lists_every_parameter_with_its_default_allowed_values_and_meaning():
    dgp = plugins.dgp_registry()["iv"]
    page = (REFERENCE / "dgps" / "iv.md").read_text(encoding="utf-8")
    for p in dgp.params:
        assert re.search(rf"^\| `{p.name}` \| .+ \| .+ \| .+ \|$", page, re.M), p.name
        assert p.allowed().replace("|", "\\|") in page and p.doc.replace("|", "\\|") in page
    assert "Z_ij" in page  # the equations of the module docstring
    est = (REFERENCE / "estimators" / "ols.md").read_text(encoding="utf-8")
    assert "`se`" in est and "'hc2'" in est and "needs: `y`, `x`" in est


def test_committed_pages_are_what_the_command_generates_now(tmp_path, capsys):
    """The `docs` command (through the CLI) writes exactly the committed docs/reference: regenerate and commit
    after changing a DGP, an estimator, a measure, the grammar or the CLI."""
    assert main(["docs", "--out", str(tmp_path)]) == 0
    assert "pages in" in capsys.readouterr().out
    generated = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.md")}
    committed = {p.relative_to(REFERENCE).as_posix(): p.read_text(encoding="utf-8") for p in REFERENCE.rglob("*.md")}
    assert sorted(generated) == sorted(committed)
    if reference.ARGPARSE_NOTE.format(version=reference.python_version()) not in committed["cli.md"]:
        # Written by another Python, whose argparse lays help out differently: the CLI page is compared where it
        # was written (the note names the version), every other page here.
        del generated["cli.md"]
    stale = [path for path in generated if generated[path] != committed[path]]
    assert not stale, f"run `python run_bench.py docs --out docs/reference`: these differ: {stale}"


def test_the_cli_page_and_list_read_one_registry(capsys):
    """`run_bench.py list` prints every DGP and estimator the reference has a page for."""
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    for path in (REFERENCE / "dgps").glob("*.md"):
        assert f"  {path.stem}: " in listed
    for path in (REFERENCE / "estimators").glob("*.md"):
        assert f"  {path.stem}: " in listed
    cli = reference.cli_page(build_parser())
    assert "## `docs`" in cli and "## `run`" in cli


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.images = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") != "canonical":
            self.hrefs.append(attrs["href"])


def _site_pages() -> list[Path]:
    if not (SITE / "index.html").is_file():
        reason = "site/ is not built: run `mkdocs build --strict` (pip install -e '.[docs]'); .ci/run builds it"
        if os.environ.get(REQUIRE_SITE, "") not in ("", "0"):
            pytest.fail(f"{reason}, and {REQUIRE_SITE} is set", pytrace=False)
        pytest.skip(reason)
    return sorted(SITE.rglob("*.html"))


def _missing_targets(page: Path, root: Path = SITE) -> list[str]:
    """The relative (and site-absolute, as in 404.html) links and image sources of `page` with no file under
    `root`."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    missing = []
    for url in [*parser.hrefs, *parser.images]:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path:  # external, or an anchor on this page
            continue
        path = unquote(parts.path)
        target = (root / path.lstrip("/") if path.startswith("/") else page.parent / path).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            missing.append(url)
    return missing


def test_no_internal_link_or_image_of_the_built_site_is_broken():
    pages = _site_pages()
    assert len(pages) > 20
    broken = {p.relative_to(SITE).as_posix(): m for p in pages if (m := _missing_targets(p))}
    assert not broken, broken


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<a href="gone.html">x</a><img src="figures/none.png"><a href="https://example.org">y</a>')
    (tmp_path / "there.html").write_text("")
    assert _missing_targets(page, tmp_path) == ["gone.html", "figures/none.png"]
    page.write_text('<a href="there.html#x">x</a><a href="/there.html">y</a><a href="#top">z</a>')
    assert _missing_targets(page, tmp_path) == []


# Loads every page of the site in iframes of one page (one browser start, not one per page) and writes, per page,
# whether it loaded, its title and the images that did not decode.
_HARNESS = """<!doctype html><html><body><div id="out" data-check="pending"></div>
<script>
const pages = %s;
let done = 0; const results = [];
for (const [i, src] of pages.entries()) {
  const frame = document.createElement("iframe");
  frame.onload = () => {
    const doc = frame.contentDocument;
    const imgs = doc ? [...doc.images] : [];
    const broken = imgs.filter(im => !(im.complete && im.naturalWidth > 0)).map(im => im.getAttribute("src"));
    results[i] = src + "|" + (doc && doc.title ? "titled" : "untitled") + "|" + imgs.length + "|" + broken.join(",");
    if (++done === pages.length) document.getElementById("out").setAttribute("data-check", results.join(";"));
  };
  frame.src = src;
  document.body.appendChild(frame);
}
</script></body></html>"""


def test_every_built_page_loads_in_headless_chromium_with_its_images(chromium, tmp_path):
    pages = [p for p in _site_pages() if p.name != "404.html"]
    harness = SITE / "_browser_check.html"
    harness.write_text(_HARNESS % [p.relative_to(SITE).as_posix() for p in pages], encoding="utf-8")
    try:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                   "--virtual-time-budget=30000", "--dump-dom", harness.as_uri()]  # fmt: skip
        dom = subprocess.run(command, capture_output=True, text=True, timeout=300).stdout
    finally:
        harness.unlink()
    found = re.search(r'data-check="([^"]*)"', dom)
    assert found and found.group(1) != "pending", dom[-2000:]
    rows = [row.split("|") for row in found.group(1).split(";")]
    assert len(rows) == len(pages)
    untitled = [src for src, titled, _, _ in rows if titled != "titled"]
    broken = {src: images for src, _, _, images in rows if images}
    assert not untitled, f"pages that did not load: {untitled}"
    assert not broken, f"images that did not load: {broken}"
    assert sum(int(n) for _, _, n, _ in rows) > 0  # the figures were looked at
