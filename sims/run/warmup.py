"""Filling numba's cache before a run of several scenarios: every kernel compiled once, the work spread over the
worker processes.

A fresh clone's cache is empty and compiling is most of the first run (minutes for the default suite).  The
scenarios are grouped by DGP, so the kernels a group shares are compiled in one process, and the groups are handed
out largest first to whichever worker is free.  Dealing them out in advance by their number of estimators gave
one of two workers more than twice the other's work in the default suite: the rd and synthetic groups have few
estimators over deep call trees, and numba compiles a function with every function it calls linked in and
optimised again, so a call tree costs about the sum, over its functions, of the code each one reaches
(`compile_weight`).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import textwrap
from functools import cache, partial

from .. import plugins
from ..scenario import Scenario
from .plan import make_plan

PACKAGE = "causalmc"


def compile_kernels(scenarios: list[Scenario], jobs: int) -> None:
    """Compile the kernels of `scenarios` into numba's cache from `jobs` processes at once.

    Planning runs each estimator on a probe replication of each cell, which
    compiles its kernel and the DGP's.  Nothing is written but the cache;
    any problem is left to the plans made afterwards, in the calling
    process, which then loads the kernels from the cache.
    """
    from joblib import Parallel, delayed

    groups: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        groups.setdefault(scenario.dgp, []).append(scenario)
    ordered = sorted(groups.values(), key=lambda group: -compile_weight(group))
    with contextlib.suppress(Exception):
        # pre_dispatch = jobs: a group goes to a worker only when one is free, the largest first
        Parallel(n_jobs=jobs, backend="loky", batch_size=1, pre_dispatch=str(jobs))(
            delayed(_plan_each)(group) for group in ordered
        )


def _plan_each(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        try:
            make_plan(scenario)
        except Exception:  # noqa: BLE001 (the calling process plans again and reports it)
            pass


def compile_weight(scenarios: list[Scenario]) -> int:
    """A rough cost of compiling the scenarios' kernels: Σ over the numba functions their DGP and estimators
    reach of the source lines of every numba function that one reaches (itself included)."""
    estimators = plugins.estimator_registry()
    dgps = plugins.dgp_registry()
    roots = {dgps[s.dgp].generate for s in scenarios if s.dgp in dgps}
    roots.update(estimators[e.name].run for s in scenarios for e in s.estimators if e.name in estimators)
    kernels = set().union(*(_reached(root) for root in roots)) if roots else set()
    return sum(_linked_lines(kernel) for kernel in kernels)


def _linked_lines(kernel) -> int:
    return sum(_lines(k) for k in _reached(kernel))


def _lines(function) -> int:
    return len(_source(_python(function)).splitlines())


@cache
def _reached(function) -> frozenset:
    """The numba functions of this package that `function` reaches through calls (itself if it is one)."""
    found, seen, pending = set(), set(), [function]
    while pending:
        f = pending.pop()
        if f in seen:
            continue
        seen.add(f)
        if hasattr(f, "py_func"):  # a numba dispatcher
            found.add(f)
        pending.extend(_callees(f))
    return frozenset(found)


@cache
def _callees(function) -> tuple:
    """The functions of this package `function` calls by a global name (``f(…)``, ``module.f(…)``), the
    function `functools.partial` wraps and the functions a closure holds."""
    if isinstance(function, partial):
        return (function.func,)
    python = _python(function)
    out = [c.cell_contents for c in (getattr(python, "__closure__", None) or ()) if _ours(_content(c))]
    try:
        tree = ast.parse(textwrap.dedent(_source(python)))
    except SyntaxError:
        return tuple(out)
    namespace = getattr(python, "__globals__", {})
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = _resolve(node.func, namespace)
            if _ours(target):
                out.append(target)
    return tuple(out)


def _resolve(expression, namespace):
    if isinstance(expression, ast.Name):
        return namespace.get(expression.id)
    if isinstance(expression, ast.Attribute):
        owner = _resolve(expression.value, namespace)
        return getattr(owner, expression.attr, None) if owner is not None else None
    return None


def _ours(obj) -> bool:
    """A function (plain or numba) or partial defined in this package."""
    if isinstance(obj, partial):
        return _ours(obj.func)
    module = getattr(_python(obj), "__module__", None) or ""
    return callable(obj) and module.startswith(PACKAGE + ".") and inspect.isfunction(_python(obj))


def _python(function):
    return getattr(function, "py_func", function)


def _content(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


@cache
def _source(function) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""
