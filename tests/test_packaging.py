"""Every Python package of the source tree is in pyproject's package list.

setuptools installs (non-editable) only the packages listed under
``[tool.setuptools] packages``; a subpackage missing there is absent from an
installed causalmc, and the estimator registry, which discovers modules on
disk, silently lacks its estimators (``causalmc.estimators.observables``
was missing so).  An editable install hides this, so it is checked here.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_directory_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for name, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    missing = found - listed
    assert not missing, f"packages missing from pyproject's [tool.setuptools] packages: {sorted(missing)}"
