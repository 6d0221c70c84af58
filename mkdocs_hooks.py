"""MkDocs hooks of the documentation site (mkdocs.yml `hooks`).

The gallery's pages (docs/scenarios/NAME.md, by `run_bench.py pages`) link to their scenario file as
``../../scenarios/NAME.toml``, which works on GitHub but lies outside docs/. The site gets a copy of each shipped
scenario file beside its page (site/scenarios/NAME.toml) and the links point there, so `mkdocs build --strict`
finds every target and the site's links work offline.

The nav lists generated pages by a glob (``- Scenarios: scenarios/*.md`` in mkdocs.yml): `on_config` replaces such
an entry by one entry per matching page (sorted, titled by the file's name), so a scenario page written by
`run_bench.py pages`, or a DGP's or estimator's reference page written by `run_bench.py docs`, enters the nav
without a hand-kept list.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent
SCENARIOS = ROOT / "scenarios"
_LINK = re.compile(r"\]\(\.\./\.\./scenarios/([A-Za-z0-9_.-]+\.toml)\)")


def _matches(pattern: str, docs: Path) -> list[dict]:
    return [{path.stem: path.relative_to(docs).as_posix()} for path in sorted(docs.glob(pattern))]


def _expand(entry, docs: Path):
    """A nav entry with each glob path replaced by the pages it matches (recursively through sections)."""
    if isinstance(entry, list):
        out = []
        for item in entry:
            out.extend(_matches(item, docs) if isinstance(item, str) and "*" in item else [_expand(item, docs)])
        return out
    if isinstance(entry, dict):
        return {title: _expand(value, docs) for title, value in entry.items()}
    if isinstance(entry, str) and "*" in entry:
        return _matches(entry, docs)
    return entry


def on_config(config):
    config["nav"] = _expand(config["nav"], Path(config["docs_dir"]))
    return config


def on_files(files, config):
    for path in sorted(SCENARIOS.glob("*.toml")):
        files.append(File.generated(config, f"scenarios/{path.name}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri.startswith("scenarios/"):
        return _LINK.sub(r"](\1)", markdown)
    return markdown
