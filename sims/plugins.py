"""User code: plugins that add estimators and DGPs to the registries.

A plugin is a Python file, an importable module, or an installed package
that declares an entry point in the group ``causalmc.plugins``.  Loading it
imports it once per process; it registers estimators and DGPs by the
decorators of `causalmc` (`causalmc.estimator`, `causalmc.dgp`), by
`register`, or by module-level ``ESTIMATORS`` / ``DGPS`` tuples as the
shipped modules do.  Entry points load automatically in every process that
looks up a registry; files and modules are named on the command line
(``--plugin``) or in the API (``plugins=``), and a run's tasks carry them to
the worker processes, which load them before computing.

Identity.  A plugin's source (every ``.py`` file of a package) is hashed;
the hash, or a version the module declares as ``CAUSALMC_PLUGIN_VERSION``,
enters the fingerprint of every scenario that uses its estimators or DGPs,
so a changed plugin is refused on resume unless ``--fresh``.  Code
registered outside any plugin (a notebook cell) is identified by its
function's source.

Every failure to load (a file that does not import, a name defined twice)
raises `PluginError`, which the command line turns into exit code 2.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from causalmc import estimators
from causalmc.estimators.spec import BUILT_IN, Estimator

from . import dgps, frames

ENTRY_POINT_GROUP = "causalmc.plugins"
VERSION_ATTRIBUTE = "CAUSALMC_PLUGIN_VERSION"


class PluginError(RuntimeError):
    """A plugin that cannot be loaded or used: names the plugin and the problem."""


@dataclass
class Plugin:
    """One loaded plugin."""

    source: str  # what workers load: an absolute file path or a module name ("" for entry points)
    origin: str  # for people: "plugin examples/x.py", "plugin module m", "entry point e (module m)"
    digest: str  # source hash or declared version
    estimators: list[str] = field(default_factory=list)
    dgps: list[str] = field(default_factory=list)


_plugins: dict[str, Plugin] = {}  # by source (or entry point origin)
_loading: list[Plugin] = []  # the plugin being imported (a stack: a plugin may load another)
_inline: set[str] = set()  # origins of code registered outside any plugin
_entry_points_loaded = False
_displacing = False  # worker side: a task's plugin replaces an earlier run's plugin of the same names


# -- registration ----------------------------------------------------------------


def register(obj):
    """Add an `Estimator` or a `Dgp` to its registry; return it with its origin set.

    The origin is the plugin being loaded, else the module of the object's
    code (e.g. ``__main__`` in a notebook).  A name that exists already
    raises `PluginError` naming both origins.
    """
    plugin = _loading[-1] if _loading else None
    if isinstance(obj, Estimator):
        registry, kind, code = estimators.registry(), "estimator", obj.run
    elif isinstance(obj, dgps.Dgp):
        registry, kind, code = dgps.registry(), "DGP", obj.generate
    else:
        raise PluginError(f"register() takes an Estimator or a Dgp, not {type(obj).__name__}")
    if plugin is not None:
        origin = plugin.origin
    else:
        origin = f"module {getattr(_user_function(code), '__module__', '?')}"
        _inline.add(origin)
    obj = replace(obj, origin=origin)
    existing = registry.get(obj.name)
    if existing is not None and existing.origin != origin:
        displaced = plugin_of(existing.origin)
        if not (_displacing and displaced is not None):
            raise PluginError(
                f"{origin}: {kind} {obj.name!r} is already defined by {existing.origin}; rename one of them"
            )
        _forget(displaced)
    registry[obj.name] = obj
    if plugin is not None:
        (plugin.estimators if kind == "estimator" else plugin.dgps).append(obj.name)
    return obj


def _user_function(code):
    """The user's function behind an adapter (a functools.partial keeps it in keywords)."""
    keywords = getattr(code, "keywords", None) or {}
    return keywords.get("function", getattr(code, "func", code))


def _source_of(code) -> str:
    try:
        return inspect.getsource(_user_function(code))
    except (OSError, TypeError):
        return repr(code)


# -- loading -------------------------------------------------------------------------


def load(source: str) -> Plugin:
    """Import a plugin file (a path ending in .py) or module (a dotted name), once per process.

    A file whose content changed since it was loaded is imported again (its
    estimators and DGPs are replaced), so an edited plugin is never run
    under its old identity.
    """
    source = str(source)
    path = Path(source)
    is_file = source.endswith(".py") or path.is_file()
    key = str(path.resolve()) if is_file else source
    if is_file:
        if not path.is_file():
            raise PluginError(f"plugin {source}: no such file")
        digest = _digest_files([path])
        known = _plugins.get(key)
        if known is not None and known.digest == digest:
            return known
        if known is not None:
            _unregister(known)
        plugin = Plugin(key, f"plugin {source}", digest)
        module_name = f"causalmc_plugin_{path.stem}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        _import(plugin, lambda: _exec_file(spec, module_name))
    else:
        if key in _plugins:
            return _plugins[key]
        plugin = Plugin(key, f"plugin module {source}", "")
        module = _import(plugin, lambda: importlib.import_module(source))
        plugin.digest = _module_digest(module)
    _plugins[key] = plugin
    return plugin


def load_all(sources: Iterable[str]) -> list[Plugin]:
    """Load several plugins; the ones already loaded are returned as they are."""
    return [load(s) for s in sources]


def load_entry_points() -> None:
    """Load every installed plugin of the group ``causalmc.plugins`` (once per process)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True  # before loading: a plugin that registers looks the registries up
    from importlib.metadata import entry_points

    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        plugin = Plugin("", f"entry point {point.name!r} ({point.value})", "")
        module = _import(plugin, point.load)
        plugin.digest = _module_digest(module)
        _plugins[plugin.origin] = plugin


def _exec_file(spec, module_name):
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _unregister(plugin: Plugin) -> None:
    """Remove what a plugin registered (before importing it again, or when its import fails)."""
    for registry, names in ((estimators.registry(), plugin.estimators), (dgps.registry(), plugin.dgps)):
        for name in names:
            if registry.get(name) is not None and registry[name].origin == plugin.origin:
                del registry[name]
    plugin.estimators.clear()
    plugin.dgps.clear()


def _forget(plugin: Plugin) -> None:
    """Unload a plugin: its names leave the registries; loading it again imports it again."""
    _unregister(plugin)
    _plugins.pop(next((k for k, p in _plugins.items() if p is plugin), None), None)


def _import(plugin: Plugin, importer):
    """Import a plugin's module with registrations attributed to it; all or nothing."""
    _loading.append(plugin)
    try:
        module = importer()
        if not inspect.ismodule(module):  # an entry point may name an object; its module is the plugin
            module = sys.modules[module.__module__]
        for attribute in ("DGPS", "ESTIMATORS"):
            for obj in getattr(module, attribute, ()):
                if obj.name not in plugin.estimators + plugin.dgps:
                    register(obj)
        return module
    except PluginError:
        _unregister(plugin)
        raise
    except Exception as exc:
        _unregister(plugin)
        detail = "".join(traceback.format_exception(exc)[-6:]).rstrip()
        raise PluginError(f"{plugin.origin} does not import: {type(exc).__name__}: {exc}\n{detail}") from exc
    finally:
        _loading.pop()


def _digest_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _digest_files(paths) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def _module_digest(module) -> str:
    """A module's declared version, else the hash of its source (all of a package's .py files)."""
    declared = getattr(module, VERSION_ATTRIBUTE, None)
    if declared is not None:
        return f"version {declared}"
    file = getattr(module, "__file__", None)
    if file is None:
        return "unknown"
    path = Path(file)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    return _digest_files(files)


@contextmanager
def isolated():
    """Registries and loaded plugins as they are now are restored on exit (tests, notebooks)."""
    global _entry_points_loaded
    saved = (dict(estimators.registry()), dict(dgps.registry()), dict(_plugins), set(_inline), dict(frames.ROLES))
    loaded = _entry_points_loaded
    try:
        yield
    finally:
        for current, before in zip((estimators.registry(), dgps.registry(), _plugins, _inline, frames.ROLES), saved):
            current.clear()
            current.update(before)
        _entry_points_loaded = loaded


# -- lookups ---------------------------------------------------------------------------


def estimator_registry() -> dict[str, Estimator]:
    """Every estimator: the shipped ones, installed entry points' and loaded plugins'."""
    load_entry_points()
    return estimators.registry()


def dgp_registry() -> dict[str, dgps.Dgp]:
    """Every DGP: the shipped ones, installed entry points' and loaded plugins'."""
    load_entry_points()
    return dgps.registry()


def plugin_of(origin: str) -> Plugin | None:
    """The loaded plugin with this origin (None for built-ins and inline code)."""
    return next((p for p in _plugins.values() if p.origin == origin), None)


def code_identity(obj) -> str | None:
    """What identifies an estimator's or DGP's code in a fingerprint (None for built-ins).

    A plugin's digest; for inline code, the hash of its function's source.
    """
    if obj.origin == BUILT_IN:
        return None
    plugin = plugin_of(obj.origin)
    if plugin is not None:
        return plugin.digest
    return _digest_text(_source_of(obj.run if isinstance(obj, Estimator) else obj.generate))


def worker_sources(origins: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(source, digest) of the plugin files and modules a worker must load to have these origins' code."""
    sources = []
    for origin in origins:
        plugin = plugin_of(origin)
        if plugin is not None and plugin.source and (plugin.source, plugin.digest) not in sources:
            sources.append((plugin.source, plugin.digest))
    return tuple(sources)


def ensure(sources: Iterable[tuple[str, str]], inline: Iterable = ()) -> None:
    """Worker side: load a task's plugins, check they are the code the run was planned with,
    and register the code it carries by value.

    A worker outlives a run (loky reuses its processes), so a plugin of an
    earlier run may hold a name this run's plugin defines: the client has
    checked this run's plugins against each other, so here the new one
    displaces the old.
    """
    global _displacing
    _displacing = True
    try:
        for source, digest in sources:
            if load(source).digest != digest:
                raise PluginError(f"plugin {source} changed while the run was under way; rerun to resume")
    finally:
        _displacing = False
    registries = {Estimator: estimator_registry(), dgps.Dgp: dgp_registry()}
    for obj in inline:
        registries[type(obj)].setdefault(obj.name, obj)


def is_inline(origin: str) -> bool:
    """Code registered outside any plugin (it travels to workers by value)."""
    return origin in _inline
