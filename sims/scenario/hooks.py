"""What a DGP adds to a scenario: its name, the table that configures it (``[dag]`` for the DAG DGP) and
the data files its parameters name."""

from __future__ import annotations

from pathlib import Path

from .. import dgps, plugins
from .reader import PLUGIN_HINT, Reader


def read_dgp(r: Reader) -> dgps.Dgp:
    """The scenario's DGP, set up by its configuration table if it has `configure`."""
    name = r.string("dgp", required=True)
    known = plugins.dgp_registry()
    if name not in known:
        raise r.error("dgp", f"unknown DGP {name!r}; allowed: {', '.join(known)}{PLUGIN_HINT}")
    dgp = known[name]
    if dgp.configure is None:
        return dgp
    try:
        return dgp.configure(r.raw.get(name), r.raw.get("params", {}))
    except dgps.ConfigError as exc:
        raise r.error(exc.key, exc.message) from None


def configuration_key(r: Reader) -> list[str]:
    """The top-level table that configures the scenario's DGP (``[dag]``), if it has one."""
    name = r.raw.get("dgp")
    dgp = plugins.dgp_registry().get(name) if isinstance(name, str) else None
    return [name] if dgp is not None and dgp.configure is not None else []


def data_files(r: Reader, dgp, params, grid, cases=None) -> dict:
    """Each data file the parameters (and the ``[[cases]]``) name: resolved (shipped name, or relative to the
    scenario's folder), checked to exist, and hashed."""
    found = {}
    base = r.base_dir
    for name in dgp.data_files:
        keyed = [(f"grid.{name}", v) for v in grid[name]] if name in grid else [(f"params.{name}", params[name])]
        keyed += [(f"cases[{i}].{name}", c[name]) for i, c in enumerate((cases or {}).values()) if name in c]
        named_by = {}  # content hash -> the grid value that named it first
        for key, value in keyed:
            if value is None or value in found:
                continue
            path = dgps.resolve_data_file(value, base, dgp.shipped_data)
            if not path.is_file():
                shipped = f"; shipped: {', '.join(dgp.shipped_data)}" if dgp.shipped_data else ""
                raise r.error(key, f"data file not found: {path} (a relative path is read from {base}{shipped})")
            try:
                digest = dgps.file_digest(path)
            except OSError as exc:
                raise r.error(key, f"cannot read the data file {path} ({exc.strerror})") from None
            # A shipped dataset by content, however it is named: its definition then fills the parameters.
            shipped = {dgps.file_digest(d.path): name for name, d in dgp.shipped_data.items()}
            found[value] = {"path": str(path.resolve()), "sha256": digest, "dataset": shipped.get(digest)}
            # a cell's identity is the table's content: two grid values naming one table would be one cell twice
            if named_by.setdefault(digest, value) != value:
                raise r.error(key, f"{named_by[digest]!r} and {value!r} are one table (the same content); keep one")
    return found
