"""The run folder: where a scenario's results live, whose they are, and what is complete.

One folder per scenario (``OUT/NAME``): ``manifest.json`` (`MANIFEST`, written by `write_manifest`: state,
fingerprint, scenario, versions, timings, chunks, skipped estimators, plugins, first errors, and an
adaptive run's rounds), ``records/`` (one file per task), the summary, figures and report.  The run
writes the manifest; the report and `causalmc.open` read it.

Resume.  Each task's file name encodes (cell key, chunk, replications), and
files are renamed into place only when complete.  A rerun skips the files
that exist, deletes those the plan no longer needs (`prune`), and computes
the rest.  A run directory written with another fingerprint is refused
unless ``fresh``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import NUMBERS_VERSION, __version__

if TYPE_CHECKING:
    from ..scenario import Scenario
    from .plan import Plan

RECORD_FILE = re.compile(r"^[0-9a-f]{16}-\d{5,}-\d+\.parquet$")
MANIFEST = "manifest.json"
SOLVE = "solve.json"  # a solve's answer (`sims.solve`), beside the manifest


class RunDirError(RuntimeError):
    """A run directory that cannot be resumed for this scenario."""


class WriteError(RuntimeError):
    """A results file could not be written (disk full, permission denied): what is finished is kept."""


def run_dir_for(scenario: Scenario, out: Path) -> Path:
    return Path(out) / scenario.name


def check_run_dir(run_dir: Path, scenario: Scenario, fresh: bool) -> None:
    """Refuse a run directory holding results of another fingerprint."""
    if fresh or not run_dir.exists():
        return
    manifest = run_dir / MANIFEST
    if manifest.exists():
        try:
            written = json.loads(manifest.read_text())
            previous = written["fingerprint"]
        except (json.JSONDecodeError, KeyError):
            raise RunDirError(f"{manifest}: unreadable manifest; rerun with --fresh to start over") from None
        if previous != scenario.fingerprint() and (changed := _changed_code(written, scenario)):
            raise RunDirError(
                f"{run_dir} holds results of scenario {scenario.name!r} computed with other code: "
                f"{'; '.join(changed)}; rerun with --fresh to discard them, or choose another --out"
            )
        if previous != scenario.fingerprint():
            raise RunDirError(
                f"{run_dir} holds results of another version of scenario {scenario.name!r} "
                f"(fingerprint {previous}, now {scenario.fingerprint()}: the seed, level, chunk size, fixed "
                "parameters, estimators or engine version differ); rerun with --fresh to discard them, "
                "or choose another --out"
            )
    elif any(RECORD_FILE.match(p.name) for p in (run_dir / "records").glob("*.parquet")):
        raise RunDirError(f"{run_dir} holds records but no manifest; rerun with --fresh to discard them")


def _changed_code(manifest: dict, scenario: Scenario) -> list[str]:
    """The user code (plugins) whose identity differs from the one a run was written with."""
    before = manifest.get("scenario", {}).get("code", {})
    now = scenario.code
    changed = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old is None or new is None or old["identity"] != new["identity"]:
            origin = (new or old)["origin"]
            kind, _, label = name.partition(":")
            changed.append(
                f"{kind} {label!r} from {origin} has changed since (code {old and old['identity']} → "
                f"{new and new['identity']})"
            )
    return changed


def clear(run_dir: Path) -> None:
    """Remove what a previous run wrote (only causalmc's own files)."""
    for name in (MANIFEST, "summary.parquet", "summary.csv", "report.html", "report.md"):
        (run_dir / name).unlink(missing_ok=True)
    for folder in ("records", "figures"):
        shutil.rmtree(run_dir / folder, ignore_errors=True)


@cache
def _git_revision() -> str | None:
    """The source checkout's commit (with "-dirty" for local changes), once per process."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


@cache
def _versions() -> dict:
    import joblib
    import numba
    import pandas
    import pyarrow
    import scipy

    return {
        "causalmc": __version__,
        "numbers_version": NUMBERS_VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "joblib": joblib.__version__,
    }


def _learner_versions() -> dict:
    """scikit-learn's version once a learner has imported it (the `sklearn` learner's fits depend on it)."""
    sklearn = sys.modules.get("sklearn")
    return {"scikit-learn": sklearn.__version__} if sklearn is not None else {}


def write_manifest(
    run_dir: Path, plan: Plan, state: str, timings: dict, jobs: int, errors: dict, rounds: list = ()
) -> None:
    complete = completed_files(run_dir)
    manifest = {
        "state": state,
        "fingerprint": plan.scenario.fingerprint(),
        "scenario": plan.scenario.as_dict(),
        "scenario_source": plan.scenario.source,
        "versions": {**_versions(), **_learner_versions()},
        "git_revision": _git_revision(),
        "platform": platform.platform(),
        "jobs": jobs,
        "timings": timings,
        "chunks": {"planned": len(plan.tasks), "complete": len(complete), "files": complete},
        "skipped": plan.skipped,
        "plugins": [source for source, _ in plan.plugins],
        "errors": errors,
    }
    if plan.scenario.target_mcse:  # per cell: the replications of each round and whether its targets were met
        manifest["rounds"] = list(rounds)
        manifest["reps"] = {cell.label: plan.reps[cell.key] for cell in plan.cells}
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, allow_nan=False))
    os.replace(tmp, run_dir / MANIFEST)


def prune(records_dir: Path, plan: Plan, keep_later: bool, keep_cells: bool = False) -> None:
    """Delete the records files the plan no longer has: other cells, or a chunk of another length.

    With `keep_later`, chunks past a cell's current count are kept (a later
    round of an adaptive run will use them); with `keep_cells`, the files of
    cells the plan does not have (a solve adds its cells to a run's).
    """
    planned = {t.file_name for t in plan.tasks}
    last = {}
    for t in plan.tasks:
        last[t.cell_key] = max(last.get(t.cell_key, -1), t.chunk)
    for path in records_dir.glob("*.parquet"):
        if not RECORD_FILE.match(path.name) or path.name in planned:
            continue
        key, chunk, _ = path.stem.split("-")
        key, chunk = int(key, 16), int(chunk)
        if keep_cells and key not in last:
            continue
        if not (keep_later and key in last and chunk > last[key]):
            path.unlink()


def previous_errors(run_dir: Path) -> dict:
    """The first errors a resumed run recorded before (its finished chunks are not recomputed)."""
    try:
        return json.loads((run_dir / MANIFEST).read_text()).get("errors", {})
    except (OSError, json.JSONDecodeError):
        return {}


def completed_files(run_dir: Path) -> list[str]:
    """Names of the complete records files of a run directory."""
    return sorted(p.name for p in (run_dir / "records").glob("*.parquet") if RECORD_FILE.match(p.name))


def add_timings(run_dir: Path, **seconds) -> None:
    """Record the time of a step after the records (figures, report) in the manifest."""
    path = run_dir / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["timings"].update(seconds)
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, allow_nan=False))
    os.replace(tmp, path)


def read_solve(run_dir) -> dict | None:
    """The solve a run folder holds (`sims.solve`: roots, fits, evaluated points), or None."""
    path = Path(run_dir) / SOLVE
    return json.loads(path.read_text()) if path.exists() else None
