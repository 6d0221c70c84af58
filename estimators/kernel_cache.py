"""numba's on-disk cache, made to notice a change in any module a kernel's module imports.

numba keys a cached function by the content of its own source file only, so a kernel compiled with an old
version of a function it calls from another module (a solver, a shared variance) is loaded as it was after that
module changes: stale machine code and silently other numbers, until the cache is cleared by hand.  Here, for
the files of this package, the key is the content of the kernel's file and of every file of the package it
imports, directly or not (found by reading their import statements), so any change there compiles the kernel
afresh.  Functions outside the package (plugins, notebooks) keep numba's own key.

Installed once, when `causalmc.estimators` is imported, before any kernel is defined.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
from functools import cache
from pathlib import Path

from numba.core import caching

ESTIMATORS_DIR = Path(__file__).resolve().parent


def package_roots() -> dict[str, Path]:
    """Import names of this package's trees and their folders (``causalmc.sims`` once it is loaded)."""
    roots = {"causalmc.estimators": ESTIMATORS_DIR}
    sims = sys.modules.get("causalmc.sims")
    if sims is not None and getattr(sims, "__path__", None):
        roots["causalmc.sims"] = Path(list(sims.__path__)[0]).resolve()
    return roots


def dependency_stamp(path: str | os.PathLike, roots: dict[str, Path] | None = None) -> bytes:
    """SHA-256 over the contents of `path` and of every file of the package trees `roots` it imports,
    directly or not."""
    files = sorted(imported_files(Path(path).resolve(), tuple(sorted((roots or package_roots()).items()))))
    stats = tuple((file, file.stat().st_mtime_ns, file.stat().st_size) for file in files)
    return _digest(stats)


@cache
def _digest(stats: tuple) -> bytes:
    """Keyed by each file's modification time and size, so a file changed while the process runs is read again."""
    digest = hashlib.sha256()
    for file, _, _ in stats:
        digest.update(str(file).encode())
        digest.update(file.read_bytes())
    return digest.digest()


@cache
def imported_files(path: Path, roots: tuple[tuple[str, Path], ...]) -> frozenset[Path]:
    """`path` and the files of the trees `roots` it imports, transitively."""
    found, pending = set(), [path]
    while pending:
        file = pending.pop()
        if file in found:
            continue
        found.add(file)
        pending.extend(_imports_of(file, roots))
    return frozenset(found)


def _imports_of(file: Path, roots) -> list[Path]:
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    package_dir = file.parent
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_dir
                for _ in range(node.level - 1):
                    base = base.parent
                parts = node.module.split(".") if node.module else []
                module = _module_file(base, parts)
                names = [(base, [*parts, alias.name]) for alias in node.names]
            else:
                located = _locate(node.module or "", roots)
                module = _module_file(*located) if located is not None else None
                names = [(located[0], [*located[1], alias.name]) for alias in node.names] if located else []
            out.extend(m for m in [module, *(_module_file(b, p) for b, p in names)] if m is not None)
        elif isinstance(node, ast.Import):
            out.extend(m for m in (_absolute(alias.name, roots) for alias in node.names) if m is not None)
    return out


def _locate(name: str, roots) -> tuple[Path, list[str]] | None:
    """The root folder and the parts below it of a dotted module name inside one of the trees."""
    for prefix, folder in roots:
        if name == prefix or name.startswith(prefix + "."):
            rest = name[len(prefix) + 1 :]
            return folder, rest.split(".") if rest else []
    return None


def _absolute(name: str, roots) -> Path | None:
    located = _locate(name, roots)
    return _module_file(*located) if located is not None else None


def _module_file(base: Path, parts: list[str]) -> Path | None:
    target = base.joinpath(*parts) if parts else base
    if target.with_suffix(".py").is_file():
        return target.with_suffix(".py").resolve()
    if (target / "__init__.py").is_file():
        return (target / "__init__.py").resolve()
    return None


def _ours(py_file: str) -> bool:
    path = Path(py_file).resolve()
    return any(path.is_relative_to(folder) for folder in package_roots().values())


class _DependencyStamp:
    """A locator whose stamp covers the imported modules too (only for this package's files)."""

    def get_source_stamp(self):
        return dependency_stamp(self._py_file)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _ours(py_file):
            return None
        return super().from_function(py_func, py_file)


class UserProvidedLocator(_DependencyStamp, caching.UserProvidedCacheLocator):
    """``NUMBA_CACHE_DIR``'s locator, with the stamp of `dependency_stamp`."""


class InTreeLocator(_DependencyStamp, caching.InTreeCacheLocator):
    """The ``__pycache__`` locator, with the stamp of `dependency_stamp`."""


def install() -> None:
    """Put the two locators first in numba's list (once)."""
    locators = caching.CacheImpl._locator_classes
    if UserProvidedLocator not in locators:
        locators[:0] = [UserProvidedLocator, InTreeLocator]
