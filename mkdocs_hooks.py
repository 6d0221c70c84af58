"""MkDocs hooks of the documentation site (mkdocs.yml `hooks`).

The gallery's pages (docs/scenarios/NAME.md, by `run_bench.py pages`) link to their scenario file as
``../../scenarios/NAME.toml``, which works on GitHub but lies outside docs/. The site gets a copy of each shipped
scenario file beside its page (site/scenarios/NAME.toml) and the links point there, so `mkdocs build --strict`
finds every target and the site's links work offline.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
_LINK = re.compile(r"\]\(\.\./\.\./scenarios/([A-Za-z0-9_.-]+\.toml)\)")


def on_files(files, config):
    for path in sorted(SCENARIOS.glob("*.toml")):
        files.append(File.generated(config, f"scenarios/{path.name}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri.startswith("scenarios/"):
        return _LINK.sub(r"](\1)", markdown)
    return markdown
