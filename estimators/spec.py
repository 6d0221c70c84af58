"""Declarations shared by estimators and data-generating processes.

`Setting` declares one user-facing value (an estimator option such as
``se = "hc1"`` or a DGP parameter such as ``n = 1000``): its type, default,
allowed range and meaning.  `Estimator` ties a numba kernel to its plain
reference twin, the batch arrays it reads and the diagnostics it writes.

Kernels write one row per replication into a float64 ``out`` array whose
first five columns are fixed (`ESTIMATE` … `REJECT`), followed by the
estimator's diagnostic columns in declared order, and one status code per
replication into an int8 ``status`` array (see `estimators.status`).
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

ESTIMATE, SE, CI_LOW, CI_HIGH, REJECT = range(5)
CORE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "reject")


@dataclass(frozen=True)
class Setting:
    """A named, typed, range-checked value with a one-line meaning.

    The type is `kind`, or the type of `default` when `kind` is not given
    (int, float, str, tuple, bool or dict); an int is accepted where a float
    is declared, never the reverse.  A dict setting is a table of plain data
    (strings, numbers, booleans, lists and tables of them: a learner's
    options), checked by its estimator.  A str setting must be one of `choices` (any non-empty
    string when there are none: a column name, a data file).  A tuple setting
    is a list of distinct names (``adjust = ["z", "w"]``), possibly empty,
    each one of `choices` when there are any.  A setting whose default is
    None is optional: absent unless the scenario sets it.
    """

    def __post_init__(self):
        if self.kind is None:
            object.__setattr__(self, "kind", type(self.default))

    name: str
    default: int | float | str | tuple | None
    doc: str
    kind: type | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False

    def allowed(self) -> str:
        """Describe the allowed values, for error messages and listings."""
        if self.kind is bool:
            return "true or false"
        if self.kind is dict:
            return "a table of values"
        if self.kind is str:
            return "one of " + ", ".join(repr(c) for c in self.choices) if self.choices else "a non-empty string"
        if self.kind is tuple:
            each = "one of " + ", ".join(repr(c) for c in self.choices) if self.choices else "a name"
            return f"a list of distinct names, each {each}"
        noun = "an integer" if self.kind is int else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            return f"{noun} in {left}{_fmt(lo)}, {_fmt(hi)}{right}"
        if lo is not None:
            return f"{noun} {'>' if self.min_exclusive else '≥'} {_fmt(lo)}"
        if hi is not None:
            return f"{noun} {'<' if self.max_exclusive else '≤'} {_fmt(hi)}"
        return noun

    def validate(self, value):
        """Return `value` cast to this setting's type, or raise ValueError."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{value!r} has the wrong type; allowed: {self.allowed()}")
            return value
        if self.kind is dict:
            if not isinstance(value, Mapping) or not all(isinstance(k, str) and _plain(v) for k, v in value.items()):
                raise ValueError(f"{value!r} is not a table of values; allowed: {self.allowed()}")
            return dict(sorted(value.items()))
        if self.kind is str:
            if not isinstance(value, str) or not value or (self.choices and value not in self.choices):
                raise ValueError(f"{value!r} is not allowed; allowed: {self.allowed()}")
            return value
        if self.kind is tuple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{value!r} is not a list of names; allowed: {self.allowed()}")
            if len(set(value)) != len(value) or (self.choices and not set(value) <= set(self.choices)):
                raise ValueError(f"{list(value)!r} is not allowed; allowed: {self.allowed()}")
            return tuple(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} has the wrong type; allowed: {self.allowed()}")
        if self.kind is int and not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer; allowed: {self.allowed()}")
        value = self.kind(value)
        if not math.isfinite(value) or not self._in_range(value):
            raise ValueError(f"{_fmt(value)} is out of range; allowed: {self.allowed()}")
        return value

    def _in_range(self, value) -> bool:
        lo, hi = self.minimum, self.maximum
        if lo is not None and (value < lo or (self.min_exclusive and value == lo)):
            return False
        if hi is not None and (value > hi or (self.max_exclusive and value == hi)):
            return False
        return True


def discover(package: str, path, attribute: str) -> dict:
    """Collect the objects listed in `attribute` by every module of a package.

    Registries (estimators, DGPs) use this so that adding one is adding a
    file.  Objects are keyed by their ``name``; a name defined twice is an
    error.
    """
    found = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        for obj in getattr(module, attribute, ()):
            if obj.name in found:
                raise RuntimeError(f"{package}: {obj.name!r} is defined twice")
            found[obj.name] = obj
    return found


def _plain(value) -> bool:
    """Whether `value` is plain data: a string, number or boolean, or a list or table of them."""
    if isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


BUILT_IN = "causalmc"  # the origin of the estimators and DGPs that ship with causalmc

# run(batch, truth, options, level, out, status) -> None, or the first error
# message of the batch (plugin estimators that catch a user's exception)
KernelRunner = Callable[[Mapping[str, np.ndarray], np.ndarray, Mapping, float, np.ndarray, np.ndarray], str | None]


class Batch(dict):
    """A batch's arrays (name → array with the replications on its first axis), as the runner hands them to
    every estimator, with `memo`: what estimators derive from the data and share, keyed by what they derived
    it with (ipw, aipw and ipwra share one propensity fit).

    The runner makes one per sub-batch, so a memo entry lives and dies with the data it came from.  A plain
    dict (a test, `causalmc.estimate`) has no memo: each estimator derives its own, the same numbers.
    """

    def __init__(self, arrays=(), /):
        super().__init__(arrays)
        self.memo: dict = {}


@dataclass(frozen=True)
class Estimator:
    """One estimator: a batched numba kernel and its reference twin.

    Parameters
    ----------
    name : str
        Registry name used in scenario files.
    summary : str
        One line for ``run_bench.py list``.
    needs : tuple of str
        Batch arrays the estimator reads (a DGP must provide all of them).
    run : callable
        ``run(batch, truth, options, level, out, status)``: fills ``out``
        (shape ``(R, 5 + len(diagnostics))``) and ``status`` (shape ``(R,)``)
        for the ``R`` replications of ``batch``.  Calls the numba kernel.
        Returns None, or (plugin estimators) the message and traceback of
        the first replication that ended with status ``error``.
    reference : callable
        Same signature as `run`, written as plain per-replication numpy
        code; the tests hold `run` to it and both to an outside library.
    options : tuple of Setting
        Options a scenario may set (e.g. ``se``).
    diagnostics : tuple of str
        Extra record columns, in the order of ``out[:, 5:]``.
    applies : callable, optional
        ``applies(shapes, options) -> str | None``: given the shapes of one
        replication's arrays, the reason the estimator does not apply to a
        cell (it is then skipped with a note), or None.
    check : callable, optional
        ``check(options, level) -> str | None``: a reason the combination of
        options and confidence level is not supported (a scenario error).
    origin : str
        Where it comes from: ``causalmc`` for the shipped ones, else the
        plugin that registered it (set on registration).
    terms : callable, optional
        ``terms(shapes, options) -> tuple of str``: for an estimator of
        several quantities per dataset (event-time effects …), their names
        given one replication's array shapes.  Then `run` receives ``truth``
        of shape ``(R, m)`` (one column per term, in this order) and fills
        ``out`` of shape ``(R, m, width)`` and ``status`` of shape ``(R, m)``.
        None (the default): one term, the DGP's estimand, with the shapes
        above.
    option_needs : callable, optional
        ``option_needs(options) -> tuple of str``: arrays the chosen options
        read beyond `needs` (``se = "cluster"`` reads the DGP's
        ``cluster``); a scenario whose DGP lacks them is refused.
    sufficient, sufficient_reference : callable, optional
        `run` and `reference` for a sufficient-statistic batch (``n_obs``,
        ``mean``, ``scatter``; see `causalmc.sims.dgps.gaussian`), for
        estimators that depend on the data only through them.
    sufficient_check : callable, optional
        ``sufficient_check(options) -> str | None``: why these options need
        the raw data (a scenario error with ``sampler = "sufficient"``).
    resampling : bool
        The estimator draws random numbers of its own (bootstrap weights,
        permutations): `run` and `reference` then take a keyword ``rng``, a
        `numpy.random.Generator` of the estimator's own stream, keyed by
        cell, chunk and the estimator's label (never shared with the data's,
        so adding it shifts no other number).
    revision : int
        Raised by one whenever a change alters the numbers this estimator
        writes, even in the last bits (a faster solver that sums in another
        order).  It is part of the fingerprint of every scenario that runs
        the estimator, so a run is never resumed across such a change; left
        out of the fingerprint at 0, so runs made before revisions existed
        keep theirs.
    part_revisions : callable, optional
        ``part_revisions(options) -> {part: revision}``: the revisions of the
        parts these options select (the learners of a double-ML estimator),
        those above 0; they enter the fingerprint beside `revision`, so a
        change to one learner's numbers re-identifies only the runs that use
        that learner.
    """

    name: str
    summary: str
    needs: tuple[str, ...]
    run: KernelRunner
    reference: KernelRunner
    options: tuple[Setting, ...] = ()
    diagnostics: tuple[str, ...] = ()
    applies: Callable[[Mapping[str, tuple], Mapping], str | None] | None = None
    check: Callable[[Mapping, float], str | None] | None = None
    origin: str = BUILT_IN
    terms: Callable[[Mapping[str, tuple], Mapping], tuple[str, ...]] | None = None
    option_needs: Callable[[Mapping], tuple[str, ...]] | None = None
    sufficient: KernelRunner | None = None
    sufficient_reference: KernelRunner | None = None
    sufficient_check: Callable[[Mapping], str | None] | None = None
    resampling: bool = False
    revision: int = 0
    part_revisions: Callable[[Mapping], Mapping[str, int]] | None = None
    option_map: Mapping[str, Setting] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "option_map", {o.name: o for o in self.options})

    @property
    def width(self) -> int:
        """Number of float columns the kernel writes per replication."""
        return len(CORE_COLUMNS) + len(self.diagnostics)

    def default_options(self) -> dict:
        return {o.name: o.default for o in self.options}

    def arrays(self, options: Mapping) -> tuple[str, ...]:
        """Every array the estimator reads with these options: `needs`, then what the options add."""
        extra = self.option_needs(options) if self.option_needs else ()
        return (*self.needs, *(a for a in extra if a not in self.needs))
