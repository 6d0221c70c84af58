"""Scenario files on disk: one file read and validated, and the files of a folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

from .model import Scenario, ScenarioError
from .parse import parse


def load(path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError on any mistake."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(path, "-", "file not found") from None
    except OSError as exc:
        raise ScenarioError(path, "-", f"cannot read the file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "-", f"not valid TOML: {exc}") from None
    return parse(raw, path)


def scenario_files(folder) -> list[Path]:
    """The scenario files shipped in a folder, sorted by name."""
    return sorted(Path(folder).glob("*.toml"))
