"""The shape of the package, read from the source (docs/architecture.md):

- no import circle among causalmc's modules (every import counts, also one
  inside a function or under ``TYPE_CHECKING``);
- ``estimators/`` imports nothing from ``sims/``;
- no module of ``sims/`` is longer than 600 lines;
- every package folder is in pyproject's explicit ``packages`` list, so a
  non-editable install (a wheel) carries it.

Imports are read with `ast`, never executed.  A module is named as it is
installed: ``sims/run/plan.py`` is ``causalmc.sims.run.plan``.
"""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"causalmc": "causalmc", "sims": "causalmc.sims", "estimators": "causalmc.estimators"}
MAX_SIMS_LINES = 600


def _modules() -> dict[str, Path]:
    """Installed module name -> source file, for every module of the three folders."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The causalmc modules a module imports, wherever the import statement stands."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else (node.module if not node.level else base)
            # `from a import b`: the module b when a/b is one, else the module a (b is a name in it)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _circles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return circles


def test_the_import_reader_sees_the_known_arrows():
    """The reader is not blind: a few imports it must find (relative, from-package and absolute forms)."""
    assert "causalmc.sims.run.folder" in GRAPH["causalmc.sims.report.page"]
    assert "causalmc.sims.plugins" in GRAPH["causalmc.sims.scenario.model"]
    assert "causalmc.estimators.spec" in GRAPH["causalmc.sims.dgps"]
    assert "causalmc.sims.figures" in GRAPH["causalmc.sims.run.pipeline"]  # an import inside a function


def test_no_import_circle():
    assert _circles() == []


def test_estimators_import_nothing_from_sims():
    crossing = {
        name: sorted(t for t in targets if t.startswith("causalmc.sims"))
        for name, targets in GRAPH.items()
        if name.startswith("causalmc.estimators")
    }
    assert {name: targets for name, targets in crossing.items() if targets} == {}


def test_no_module_of_sims_is_over_600_lines():
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {n: k for n, k in lengths.items() if n.startswith("causalmc.sims") and k > MAX_SIMS_LINES} == {}


def test_every_package_folder_is_installed():
    """setuptools installs only the packages pyproject lists: a folder missing there is missing from a wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name in MODULES if _is_package(name)}
    assert packages - listed == set()
