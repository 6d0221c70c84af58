"""An installed causalmc, next to the PyPI packages named ``sims`` and ``estimators``.

In a fresh virtual environment (it sees this environment's numpy, numba …
through a path file, so nothing large is reinstalled) we install, from
package indexes and from source, not in editable mode:

- the unrelated PyPI packages ``sims`` (Cameca SIMS files) and
  ``estimators`` (without their dependencies: only their import names
  matter here);
- causalmc itself;
- a tiny plugin package that declares an entry point in ``causalmc.plugins``.

Then, from a folder outside the checkout: ``import sims`` and ``import
estimators`` resolve to those packages' own code, causalmc runs a scenario
whose estimator comes from the entry point alone (no --plugin), bit-identical
with one and two workers, and ``list`` names the entry point.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]

PLUGIN_PACKAGE = {
    "pyproject.toml": """\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "causalmc-demo-plugin"
        version = "0.1"

        [project.entry-points."causalmc.plugins"]
        demo = "causalmc_demo_plugin"

        [tool.setuptools]
        py-modules = ["causalmc_demo_plugin"]
        """,
    "causalmc_demo_plugin.py": """\
        import causalmc

        @causalmc.estimator(name="demo_slope", needs=("y", "x"))
        def demo_slope(data, *, level):
            \"\"\"Slope of y on x, from an installed entry point\"\"\"
            return {"estimate": float(data["x"].cov(data["y"]) / data["x"].var()), "se": 0.1}
        """,
}

SCENARIO = """\
    name = "installed"
    dgp = "confounding"
    reps = 300
    seed = 8
    chunk_size = 100
    estimators = ["ols", "demo_slope"]
    [params]
    n = 50
    """


def _run(args, cwd, check=True):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("install")
    venv = folder / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], folder)
    python = venv / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder).stdout.strip()
    Path(site, "parent_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    plugin = folder / "plugin"
    plugin.mkdir()
    for name, text in PLUGIN_PACKAGE.items():
        (plugin / name).write_text(textwrap.dedent(text))
    pip = [python, "-m", "pip", "install", "--quiet", "--no-deps"]
    _run([*pip, "sims", "estimators"], folder)
    # Build from a copy: setuptools builds in the source tree, and a build/
    # folder left there by an earlier build would carry stale modules along.
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "results", "*.egg-info", "__pycache__"))
    _run([*pip, str(source)], folder)
    _run([*pip, str(plugin)], folder)
    work = folder / "work"
    work.mkdir()
    (work / "installed.toml").write_text(textwrap.dedent(SCENARIO))
    return venv, work, Path(site)


def test_namesakes_keep_their_own_code(installed):
    venv, work, site = installed
    probe = "import importlib.util as u, json; print(json.dumps({m: u.find_spec(m).origin for m in ('sims', 'estimators', 'causalmc')}))"
    origins = json.loads(_run([venv / "bin" / "python", "-c", probe], work).stdout)
    assert origins["sims"] == str(site / "sims" / "__init__.py")
    assert origins["estimators"] == str(site / "estimators" / "__init__.py")
    assert (site / "sims" / "sims.py").exists() and (site / "estimators" / "database.py").exists()  # their code
    assert origins["causalmc"] == str(site / "causalmc" / "__init__.py")
    assert (site / "causalmc" / "sims" / "run" / "pipeline.py").exists() and (site / "causalmc" / "estimators" / "data").is_dir()


def test_installed_causalmc_runs_an_entry_point_plugin(installed):
    venv, work, _ = installed
    cli = venv / "bin" / "causalmc"
    for jobs in ("1", "2"):
        _run([cli, "run", "installed.toml", "--out", f"out{jobs}", "--jobs", jobs, "--quiet", "--no-figures"], work)
    one, two = (pd.read_parquet(work / f"out{j}" / "installed" / "records") for j in "12")
    key = ["rep", "estimator"]
    one = one.astype({"estimator": str, "cell": str, "status": str}).sort_values(key).reset_index(drop=True)
    two = two.astype({"estimator": str, "cell": str, "status": str}).sort_values(key).reset_index(drop=True)
    assert_frame_equal(one, two, check_exact=True)
    slope = one[one.estimator == "demo_slope"]
    assert len(slope) == 300 and (slope.status == "ok").all()
    listing = _run([cli, "list"], work).stdout
    assert "demo_slope: Slope of y on x, from an installed entry point   [entry point 'demo'" in listing
    manifest = json.loads((work / "out1" / "installed" / "manifest.json").read_text())
    assert manifest["scenario"]["code"]["estimator:demo_slope"]["origin"].startswith("entry point 'demo'")
