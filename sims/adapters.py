"""A user's plain functions adapted to the engine's estimator and DGP contracts.

Estimators, in the tiers of `causalmc.estimator`:

- plain: ``f(data, *, level, **options)`` on one replication as a tidy
  DataFrame (`causalmc.sims.frames`);
- batched: ``f(batch, *, level, **options)`` on the arrays of a batch
  (leading axis = replication).

Either returns the estimate alone, or a mapping with ``estimate`` and any
of ``se``, ``ci_low``, ``ci_high``, ``reject``, ``df`` and the declared
diagnostics (a batched function returns arrays of length R).  What it does
not return is derived:

- the interval: estimate ± c·se, with c the t critical value on ``df``
  degrees of freedom (returned, or declared with the estimator) or the
  normal one when there is none;
- ``reject`` (the level-α test of H0: θ = truth): truth outside the
  interval; missing when there is no interval or no truth.

An exception, or a result that cannot be read, is status ``error`` for that
replication (for that batch, in the batched tier), and a non-finite
estimate is status ``non_finite``: never a crash, never a redraw.  The
message and traceback of the first error go to the run's manifest.  A
user's function is its own reference twin: there is no kernel to hold to it.

DGPs: ``draw(rng, **params)`` returns one replication, as ``(arrays,
truth)`` or ``(frame, truth)`` (a tidy frame, read back with the frame
conventions) or a mapping of arrays that includes ``truth``; the adapter
stacks replications into a batch.  A batched DGP's ``generate(rng, n_reps,
**params)`` returns the batch itself and must draw replication after
replication.
"""

from __future__ import annotations

import math
import numbers
import traceback
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from scipy import stats

from causalmc.estimators import status as st
from causalmc.estimators.inference import covers, normal_critical
from causalmc.estimators.spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator, Setting

from . import frames
from .dgps import TRUTH_PREFIX, Dgp

RESULT_KEYS = ("estimate", "se", "ci_low", "ci_high", "reject", "df")


class ResultError(ValueError):
    """A user's function returned something the harness cannot read."""


# -- estimators -------------------------------------------------------------------------


def user_estimator(
    function: Callable,
    *,
    name: str,
    needs: Sequence[str],
    options: Sequence[Setting] = (),
    diagnostics: Sequence[str] = (),
    summary: str | None = None,
    df: float | None = None,
    batched: bool = False,
    terms: Sequence[str] | Callable | None = None,
) -> Estimator:
    """An `Estimator` that calls a user's plain (or batched) function.

    With `terms` (names, or ``terms(shapes, options) -> names``) the
    function returns a mapping from each term to its result.
    """
    needs, diagnostics = tuple(needs), tuple(diagnostics)
    clash = [d for d in diagnostics if d in RESULT_KEYS]
    if clash:
        raise ValueError(f"estimator {name!r}: diagnostics {clash} clash with result keys {RESULT_KEYS}")
    if terms is not None and not callable(terms):
        names = tuple(terms)
        terms = lambda shapes, options: names  # noqa: E731 (the same names in every cell)
    run = partial(
        _run_batched if batched else _run_plain,
        function=function,
        needs=needs,
        diagnostics=diagnostics,
        df=df,
        terms=terms,
    )
    return Estimator(
        name=name,
        summary=summary or _first_line(function) or f"user estimator {name}",
        needs=needs,
        run=run,
        reference=run,
        options=tuple(options),
        diagnostics=diagnostics,
        terms=terms,
    )


def _by_term(truth, out, status):
    """Views of one-term shapes ((R,), (R, w), (R,)) as (R, m, …) with m = 1; several-term ones as they are."""
    if truth.ndim == 1:
        return truth[:, None], out[:, None, :], status[:, None]
    return truth, out, status


def _term_results(result, batch, options, terms):
    """The results of each term: the mapping's values in term order, or the one result."""
    if terms is None:
        return [result]
    names = tuple(terms({k: v.shape[1:] for k, v in batch.items()}, options))
    if not isinstance(result, Mapping) or set(result) != set(names):
        got = sorted(result) if isinstance(result, Mapping) else type(result).__name__
        raise ResultError(f"returned {got}; an estimator of several terms returns a mapping with keys {list(names)}")
    return [result[term] for term in names]


def _run_plain(batch, truth, options, level, out, status, *, function, needs, diagnostics, df, terms):
    truth, out, status = _by_term(truth, out, status)
    n_reps, m = truth.shape
    values = [{k: np.full(n_reps, np.nan) for k in (*RESULT_KEYS, *diagnostics)} for _ in range(m)]
    failed = np.zeros(n_reps, bool)
    first_error = None
    for r in range(n_reps):
        data = frames.frame_of({name: batch[name][r] for name in needs})
        try:
            result = function(data, level=level, **options)
            results = [_read_one(x, diagnostics) for x in _term_results(result, batch, options, terms)]
        except Exception as exc:  # the user's code: any exception is a status
            failed[r] = True
            if first_error is None:
                first_error = _describe(exc, data)
            continue
        for j in range(m):
            for key, value in results[j].items():
                values[j][key][r] = value
    for j in range(m):
        _write(values[j], failed, truth[:, j], level, df, diagnostics, out[:, j], status[:, j])
    return first_error


def _run_batched(batch, truth, options, level, out, status, *, function, needs, diagnostics, df, terms):
    truth, out, status = _by_term(truth, out, status)
    n_reps, m = truth.shape
    failed = np.zeros(n_reps, bool)
    first_error = None
    try:
        result = function({n: batch[n] for n in needs}, level=level, **options)
        values = [_read_batch(x, n_reps, diagnostics) for x in _term_results(result, batch, options, terms)]
    except Exception as exc:  # the user's code: the whole batch fails, as a status
        values = [{k: np.full(n_reps, np.nan) for k in (*RESULT_KEYS, *diagnostics)} for _ in range(m)]
        failed[:] = True
        first_error = _describe(exc)
    for j in range(m):
        _write(values[j], failed, truth[:, j], level, df, diagnostics, out[:, j], status[:, j])
    return first_error


def _describe(exc: Exception, data: pd.DataFrame | None = None) -> str:
    text = "".join(traceback.format_exception(exc)).rstrip()
    if isinstance(exc, KeyError) and data is not None:
        text += f"\n(the data's columns: {', '.join(map(str, data.columns))})"
    return text


def _number(key, value) -> float:
    if isinstance(value, bool | np.bool_):
        if key != "reject":
            raise ResultError(f"{key!r} is a bool; it must be a number")
        return float(value)
    if isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.shape == ()):
        return float(value)
    raise ResultError(f"{key!r} is a {type(value).__name__}; it must be a number")


def _check_result_keys(result: Mapping, diagnostics) -> None:
    """A result mapping has an estimate, known keys only, and both interval bounds or neither."""
    unknown = [k for k in result if k not in RESULT_KEYS and k not in diagnostics]
    if unknown:
        allowed = ", ".join((*RESULT_KEYS, *diagnostics))
        raise ResultError(f"returned unknown key(s) {', '.join(map(repr, unknown))}; allowed: {allowed}")
    if "estimate" not in result:
        raise ResultError("returned a mapping without 'estimate'")
    if ("ci_low" in result) != ("ci_high" in result):
        raise ResultError("returned one interval bound; return both ci_low and ci_high, or neither")


def _read_one(result, diagnostics) -> dict[str, float]:
    """One replication's result as numbers, or ResultError saying what is wrong."""
    if isinstance(result, Mapping):
        _check_result_keys(result, diagnostics)
        return {k: _number(k, v) for k, v in result.items()}
    try:
        return {"estimate": _number("estimate", result)}
    except ResultError:
        raise ResultError(
            f"returned a {type(result).__name__}; return the estimate (a number) or a mapping with "
            f"'estimate' and any of {', '.join(RESULT_KEYS[1:])}"
        ) from None


def _read_batch(result, n_reps, diagnostics) -> dict[str, np.ndarray]:
    """A batched result as arrays of length R, or ResultError."""
    if not isinstance(result, Mapping):
        result = {"estimate": result}
    _check_result_keys(result, diagnostics)
    values = {k: np.full(n_reps, np.nan) for k in (*RESULT_KEYS, *diagnostics)}
    for key, value in result.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ResultError(f"{key!r} is not numeric") from None
        if array.shape != (n_reps,):
            raise ResultError(f"{key!r} has shape {array.shape}; a batched estimator returns shape ({n_reps},)")
        values[key] = array
    return values


def _write(values, failed, truth, level, df, diagnostics, out, status):
    """Fill `out` and `status` from the results, deriving what was not returned."""
    estimate, se = values["estimate"], values["se"]
    lo, hi = values["ci_low"].copy(), values["ci_high"].copy()
    derive = np.isnan(lo) & np.isnan(hi) & np.isfinite(se)
    if derive.any():
        dof = np.where(np.isnan(values["df"]), np.nan if df is None else df, values["df"])
        crit = np.full(len(dof), normal_critical(level))
        student = np.isfinite(dof) & (dof > 0)
        crit[student] = stats.t.ppf(0.5 + level / 2.0, dof[student])
        lo = np.where(derive, estimate - crit * se, lo)
        hi = np.where(derive, estimate + crit * se, hi)
    reject = values["reject"]
    has_set = ~(np.isnan(lo) | np.isnan(hi))
    reject = np.where(np.isnan(reject) & has_set & np.isfinite(truth), ~covers(lo, hi, truth), reject)
    out[:, ESTIMATE], out[:, SE], out[:, CI_LOW], out[:, CI_HIGH], out[:, REJECT] = estimate, se, lo, hi, reject
    for j, name in enumerate(diagnostics):
        out[:, REJECT + 1 + j] = values[name]
    status[:] = st.OK
    status[~np.isfinite(estimate)] = st.NON_FINITE
    status[failed] = st.ERROR
    out[status != st.OK] = np.nan


def _first_line(function) -> str:
    doc = (function.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


# -- DGPs ---------------------------------------------------------------------------------


class DgpOutputError(ValueError):
    """A user's DGP returned something the harness cannot stack into a batch."""


def user_dgp(
    function: Callable,
    *,
    name: str,
    params: Sequence[Setting],
    provides: Sequence[str],
    summary: str | None = None,
    roles: Mapping[str, str] | None = None,
    examples: Sequence[Mapping] = ({},),
    check: Callable | None = None,
    batched: bool = False,
    estimand: str = "effect",
) -> Dgp:
    """A `Dgp` that calls a user's ``draw`` (or batched ``generate``) function.

    A draw's truth is a number (the value of `estimand`) or a mapping from
    term names to values that includes `estimand`.
    """
    for array, level in (roles or {}).items():
        frames.declare(array, level)
    provides = tuple(provides)
    generate = partial(
        _generate_batched if batched else _generate_plain, function=function, provides=provides, estimand=estimand
    )
    return Dgp(
        name=name,
        summary=summary or _first_line(function) or f"user DGP {name}",
        params=tuple(params),
        provides=provides,
        generate=generate,
        check=check,
        examples=tuple(examples),
        estimand=estimand,
    )


def _generate_plain(rng, n_reps, params, *, function, provides, estimand):
    draws = [_read_draw(function(rng, **params), provides, estimand) for _ in range(n_reps)]
    batch = {}
    for array in provides:
        try:
            batch[array] = np.stack([d[array] for d in draws])
        except ValueError:
            shapes = sorted({np.shape(d[array]) for d in draws})
            raise DgpOutputError(f"array {array!r} changes shape between replications: {shapes}") from None
    terms = list(draws[0]["truth"])
    if any(list(d["truth"]) != terms for d in draws):
        raise DgpOutputError(f"the truth's terms change between replications (first {terms})")
    for term in terms:
        key = "truth" if term == estimand else f"{TRUTH_PREFIX}{term}"
        batch[key] = np.array([d["truth"][term] for d in draws])
    return batch


def _read_draw(result, provides, estimand) -> dict:
    """One replication's arrays and truths ({term: value}), from any of the accepted return forms."""
    if isinstance(result, tuple) and len(result) == 2:
        data, truth = result
        if isinstance(data, pd.DataFrame):
            data = {k: v[0] for k, v in frames.arrays_of(data, provides, "the DGP's frame").items()}
        data = dict(data, truth=truth)
    elif isinstance(result, Mapping):
        data = dict(result)
    else:
        raise DgpOutputError(
            f"returned a {type(result).__name__}; return (arrays, truth), (frame, truth) or a mapping with 'truth'"
        )
    _check_draw_keys(data, provides)
    truth = data["truth"] if isinstance(data["truth"], Mapping) else {estimand: data["truth"]}
    if estimand not in truth:
        raise DgpOutputError(f"the truth has terms {sorted(truth)}, not the estimand {estimand!r}")
    for term, value in truth.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise DgpOutputError(f"truth {value!r} of {term!r} is not a finite number")
    arrays = {k: np.asarray(v) for k, v in data.items() if k != "truth"}
    return arrays | {"truth": {estimand: float(truth[estimand])} | {t: float(v) for t, v in truth.items()}}


def _generate_batched(rng, n_reps, params, *, function, provides, estimand):
    batch = dict(function(rng, n_reps, **params))
    _check_draw_keys(batch, provides)
    for key, value in batch.items():
        batch[key] = np.asarray(value, dtype=float if key.startswith("truth") else None)
        if batch[key].ndim == 0 or batch[key].shape[0] != n_reps:
            raise DgpOutputError(f"array {key!r} has shape {batch[key].shape}; its leading axis must be {n_reps}")
    return batch


def _check_draw_keys(data, provides):
    truths = [k for k in data if k == "truth" or k.startswith(TRUTH_PREFIX)]
    missing = [k for k in (*provides, "truth") if k not in data]
    extra = [k for k in data if k not in provides and k not in truths]
    if missing or extra:
        raise DgpOutputError(
            f"returned arrays {sorted(k for k in data if k not in truths)}; declared provides={list(provides)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; undeclared {extra}" if extra else "")
        )
