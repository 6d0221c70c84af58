"""Reading a scenario's raw TOML: typed values, each mistake a `ScenarioError` naming the key.

Every section of the parser (`parse` and the modules beside it) reads
through one `Reader`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from .model import ScenarioError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PLUGIN_HINT = (
    " (your own? load its plugin with --plugin FILE.py or MODULE, plugins=[...] in the Python API, "
    "or install a package with a 'causalmc.plugins' entry point)"
)


class Reader:
    """The raw scenario (a dict read from TOML) and the path its errors name."""

    def __init__(self, raw: Mapping, path, base_dir=None):
        self.raw, self.path = raw, path
        # where relative data paths are read from: the file's folder; for a TOML string or dict, the current
        # folder when first parsed (kept in the manifest, so a reopened run reads the same files)
        if base_dir is None:
            base_dir = Path(path).parent if path and not str(path).startswith("<") else Path.cwd()
        self.base_dir = Path(base_dir).resolve()

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(self.path, key, message)

    def string(self, key, default=None, required=False) -> str:
        if key not in self.raw:
            if required:
                raise self.error(key, "missing; allowed: a string")
            return default
        value = self.raw[key]
        if not isinstance(value, str) or not value:
            raise self.error(key, f"{value!r} has the wrong type; allowed: a non-empty string")
        return value

    def integer(self, key, minimum, default=None, required=False) -> int:
        if key not in self.raw:
            if required:
                raise self.error(key, f"missing; allowed: an integer ≥ {minimum}")
            return default
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"{value!r} has the wrong type; allowed: an integer ≥ {minimum}")
        if value < minimum:
            raise self.error(key, f"{value} is out of range; allowed: an integer ≥ {minimum}")
        return value

    def number(self, key, default) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"{value!r} has the wrong type; allowed: a number")
        return float(value)

    def table(self, key) -> Mapping:
        value = self.raw.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a table ([{key}]), not {type(value).__name__}")
        return value

    def setting(self, key, setting, value):
        if value is None:
            return None
        try:
            return setting.validate(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
