"""Estimator kernels and their registry.

Every module in this package that defines ``ESTIMATORS`` (a tuple of
`estimators.spec.Estimator`) is registered under each estimator's name, so
adding an estimator is one new file.  This package sees arrays only: it
never imports from ``sims``.
"""

from __future__ import annotations

from functools import cache

from . import kernel_cache

kernel_cache.install()  # before any kernel is defined: cached kernels then notice changes in what they import

from .spec import Estimator, discover  # noqa: E402


@cache
def registry() -> dict[str, Estimator]:
    """The shipped estimators, by name (plugins add theirs through ``causalmc.sims.plugins``)."""
    return discover(__name__, __path__, "ESTIMATORS")
