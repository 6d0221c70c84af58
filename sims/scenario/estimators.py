"""A scenario's ``estimators`` list: each entry's name, options and label checked against the registry and
the DGP's data, and the identity of the user code (plugins) a scenario runs."""

from __future__ import annotations

from collections.abc import Mapping

from .. import plugins
from .model import EstimatorConfig
from .reader import NAME_PATTERN, PLUGIN_HINT, Reader


def estimator_configs(r: Reader, dgp, level) -> tuple[EstimatorConfig, ...]:
    entries = r.raw.get("estimators")
    if not isinstance(entries, list) or not entries:
        raise r.error("estimators", "missing or empty; allowed: a list of estimator names or tables")
    known = plugins.estimator_registry()
    configs, labels = [], set()
    for i, entry in enumerate(entries):
        key = f"estimators[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise r.error(key, f"{entry!r} must be a name or a table with 'name'")
        name = entry.get("name")
        if name not in known:
            raise r.error(f"{key}.name", f"unknown estimator {name!r}; allowed: {', '.join(known)}{PLUGIN_HINT}")
        spec = known[name]
        missing = [a for a in spec.needs if a not in dgp.provides]
        if missing:
            sibling = known.get(f"{name}_staggered")  # sdid on did_staggered: its staggered form
            hint = f"; for staggered adoption use {sibling.name!r}" if sibling and set(sibling.needs) <= set(
                dgp.provides
            ) else ""
            raise r.error(
                f"{key}.name",
                f"estimator {name!r} needs data {', '.join(missing)} that DGP {dgp.name!r} does not provide "
                f"(it provides {', '.join(dgp.provides)}){hint}",
            )
        options = spec.default_options()
        for opt, value in entry.items():
            if opt in ("name", "label"):
                continue
            if opt not in spec.option_map:
                allowed = ", ".join(["name", "label", *spec.option_map])
                raise r.error(f"{key}.{opt}", f"unknown option of {name!r}; allowed: {allowed}")
            options[opt] = r.setting(f"{key}.{opt}", spec.option_map[opt], value)
        if spec.check is not None and (reason := spec.check(options, level)):
            raise r.error(key, reason)
        missing = [a for a in spec.arrays(options) if a not in dgp.provides]
        if missing:
            chosen = ", ".join(f"{o} = {options[o]!r}" for o in options if o in entry)
            raise r.error(
                key,
                f"estimator {name!r} with {chosen} needs data {', '.join(missing)} that DGP {dgp.name!r} does not "
                f"provide (it provides {', '.join(dgp.provides)})",
            )
        label = entry.get("label", default_label(spec, options))
        if not isinstance(label, str) or not NAME_PATTERN.match(label):
            raise r.error(f"{key}.label", f"{label!r} is not a valid label; allowed: letters, digits, '_', '-', '.'")
        if label in labels:
            raise r.error(f"{key}.label", f"label {label!r} is used twice; give each entry its own label")
        labels.add(label)
        configs.append(EstimatorConfig(name, label, options))
    return tuple(configs)


def default_label(spec, options) -> str:
    changed = [
        "-".join(v) or "none" if isinstance(v, tuple) else _table_label(v) if isinstance(v, dict) else str(v)
        for k, v in options.items()
        if v != spec.option_map[k].default
    ]
    return "_".join([spec.name, *changed])


def _table_label(table: dict) -> str:
    """A table option in a default label: its keys and scalar values joined by '-' (a label's characters)."""
    return "-".join(f"{k}-{v}" if isinstance(v, str | int | float) else k for k, v in table.items()) or "none"


def user_code(dgp, configs) -> dict:
    """Origin and code identity of each plugin DGP and estimator the scenario runs."""
    registry = plugins.estimator_registry()
    used = [("dgp", dgp), *(("estimator", registry[c.name]) for c in configs)]
    return {
        f"{kind}:{obj.name}": {"origin": obj.origin, "identity": identity}
        for kind, obj in used
        if (identity := plugins.code_identity(obj)) is not None
    }
