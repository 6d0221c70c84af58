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


def suite_files(folder) -> list[Path]:
    """The scenario files of a folder in the default suite: those with a ``[suite]`` table.

    Told apart by reading the TOML alone, before validation: a scenario
    outside the suite may need an optional extra (the ``sklearn`` learner's
    ``ml``) that a core install lacks, and must not stop the suite there.  A
    file that is not valid TOML is kept, so loading it reports the mistake.
    """
    chosen = []
    for path in scenario_files(folder):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            raw = {"suite": None}
        if "suite" in raw:
            chosen.append(path)
    return chosen
