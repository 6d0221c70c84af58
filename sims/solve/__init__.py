"""Solve for the design: the value of a parameter at which a measure reaches a target, with its Monte Carlo error.

``causalmc.solve("rct.toml", param="n", target="power=0.80")`` (or
``run_bench.py solve``) finds, per estimator, the root x* of f(x) = b where
f is a summary measure (`sims.summary`) as a function of one numeric DGP
parameter, within an interval.  The method (`sims.solve.search`):
evaluations at the interval's ends (which fix the direction and check the
target is bracketed), then a probabilistic bisection deciding where each
next batch of replications goes, and a regression over the evaluations
near the root (logistic for rates, weighted least squares otherwise)
whose crossing of the target is the root, with a delta-method interval.
It stops for an estimator when the interval's half-width is within
``precision`` (after at least `search.MIN_STEPS` bisection steps), and for all
when the next step would pass ``budget`` replications.

Every evaluation is an ordinary cell of the scenario in ``OUT/<name>``
(`sims.solve.evaluations`): the same command gives the same answer bit
for bit, whatever the number of workers; a killed solve resumes; a later
solve (another target, a larger budget) reuses the replications.

Integer parameters (``n``, ``n_clusters`` …) are evaluated at integers
only.  The root is then still the fitted curve's continuous crossing, and
the design value reported is the smallest integer at or above it
(``design_value``); the interval is the root's, rounded outward to
integers (``design_ci``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import api
from ..run import folder
from ..summary import MEASURES
from .evaluations import Evaluations
from .search import Root, find_roots

DEFAULT_BUDGET = 20_000
DEFAULT_BATCH = 200


@dataclass
class Solve:
    """A finished solve: the root of each estimator and every evaluated point (`evaluations`)."""

    run_dir: Path
    param: str
    measure: str
    target: float
    interval: tuple
    integer: bool
    level: float
    roots: dict
    evaluations: pd.DataFrame = field(repr=False)
    reps: int = 0
    seconds: float = 0.0
    figures: list = field(default_factory=list, repr=False)

    def table(self) -> pd.DataFrame:
        """One row per estimator: status, root, its interval and standard error, the design value, monotonicity."""
        rows = []
        for r in self.roots.values():
            rows.append({
                "estimator": r.estimator, "status": r.status, "root": r.root, "se": r.se, "ci_low": r.ci_low,
                "ci_high": r.ci_high, "design_value": r.design_value, "monotone": r.monotone, "steps": r.steps,
            })  # fmt: skip
        return pd.DataFrame(rows)

    def as_dict(self) -> dict:
        return {
            "param": self.param, "measure": self.measure, "target": self.target, "interval": list(self.interval),
            "integer": self.integer, "level": self.level, "reps": self.reps,
            "roots": {k: _plain({**asdict(v), "fit": asdict(v.fit) if v.fit else None}) for k, v in self.roots.items()},
            "evaluations": _plain(self.evaluations.to_dict(orient="records")),
        }  # fmt: skip


def parse_target(target) -> tuple[str, float]:
    """``"power=0.80"`` or ``("power", 0.8)`` as (measure, value), checked."""
    if isinstance(target, str):
        measure, sep, text = target.partition("=")
        try:
            value = float(text) if sep else math.nan
        except ValueError:
            value = math.nan
    else:
        measure, value = target
    if measure not in MEASURES or not math.isfinite(float(value)):
        raise api.UsageError(f"target {target!r}: allowed MEASURE=VALUE with MEASURE one of {', '.join(MEASURES)}")
    return measure, float(value)


def solve(
    scenario,
    *,
    param: str,
    target,
    estimators: Sequence[str] | None = None,
    interval: Sequence[float] | None = None,
    budget: int = DEFAULT_BUDGET,
    precision: float | None = None,
    batch: int | None = None,
    out="results",
    jobs: int | None = None,
    fresh: bool = False,
    plugins: Iterable[str] = (),
    figures: bool = True,
) -> Solve:
    """Solve for the value of `param` at which each estimator's measure reaches the target.

    Parameters
    ----------
    scenario : path, TOML string, dict or Scenario
    param : str
        A numeric DGP parameter (integer ones are evaluated at integers).
    target : str or (str, float)
        ``"power=0.80"``: a summary measure and the value it should reach.
    estimators : sequence of str, optional
        Labels of the scenario's estimators (default: all); each gets its own root.
    interval : (lo, hi), optional
        Where to look (default: the smallest and largest grid value of `param` in the file).
    budget : int
        Most replications drawn in all (the evaluations of every estimator share cells).
    precision : float, optional
        Stop an estimator once its root's interval has at most this half-width.
    batch : int, optional
        Replications of one evaluation (the file's ``chunk_size``, else 200).
    out, jobs, fresh, plugins
        As for `causalmc.run`; the evaluations go to ``out/<name>``.
    figures : bool
        Draw the figure of the measure against the parameter and write the report.
    """
    started = time.perf_counter()
    base = api.as_scenario(scenario, plugins=plugins)
    measure, goal = parse_target(target)
    labels = _labels(base, estimators)
    integer, lo, hi = _interval(base, param, interval)
    chunk = base.chunk_size or batch or DEFAULT_BATCH
    if base.chunk_size and batch and batch != base.chunk_size:
        raise api.UsageError(f"--batch {batch}: the file sets chunk_size = {base.chunk_size}, one evaluation's batch")
    if budget < 2 * chunk:
        raise api.UsageError(f"budget {budget} is below two evaluations of {chunk} replications")
    if precision is not None and not precision > 0:
        raise api.UsageError(f"precision {precision!r}: allowed a number > 0")
    evals = Evaluations(base, param, integer, labels, chunk, out, jobs or os.cpu_count() or 1, fresh)
    roots = find_roots(evals, labels, measure, goal, lo, hi, integer, budget, precision, base.level)
    rows = [
        {"estimator": label, param: x, "reps": evals.counts[x], measure: (p := evals.point(label, x, measure)).measure,
         "mcse": p.mcse}
        for label in labels for x in sorted(evals.counts)
    ]  # fmt: skip
    result = Solve(evals.run_dir, param, measure, goal, (lo, hi), integer, base.level, roots, pd.DataFrame(rows),
                   evals.total)  # fmt: skip
    _write(result, evals, figures)
    result.seconds = time.perf_counter() - started
    return result


def _labels(base, estimators) -> list[str]:
    labels = [e.label for e in base.estimators]
    chosen = list(estimators or labels)
    unknown = [e for e in chosen if e not in labels]
    if unknown:
        raise api.UsageError(f"estimator {', '.join(unknown)} is not in {base.path}; allowed: {', '.join(labels)}")
    return chosen


def _interval(base, param: str, interval) -> tuple[bool, float, float]:
    """Whether `param` is an integer parameter, and the interval (checked against the parameter's range)."""
    spec = base.dgp_spec().param_map.get(param)
    if spec is None or spec.kind not in (int, float) or spec.choices:
        numeric = [p.name for p in base.dgp_spec().params if p.kind in (int, float) and not p.choices]
        raise api.UsageError(f"--param {param!r} is not a numeric parameter of {base.dgp!r}; allowed: {', '.join(numeric)}")
    others = [k for k, v in base.grid.items() if k != param and len(v) > 1]
    if others:
        raise api.UsageError(
            f"{base.path}: the grid also varies {', '.join(others)}; a solve needs one value of each other parameter "
            "(write it in [params] or give the grid one value)"
        )
    if interval is None:
        values = [float(v) for v in base.grid.get(param, ())]
        if len(values) < 2:
            raise api.UsageError(f"--interval LO HI is needed: {base.path} has no grid of {param!r} to take it from")
        interval = (min(values), max(values))
    lo, hi = (float(v) for v in interval)
    integer = spec.kind is int
    for value in (lo, hi):
        try:
            spec.validate(int(value) if integer else value)
        except ValueError as exc:
            raise api.UsageError(f"--interval {lo:g} {hi:g}: {param} {exc}") from None
    if not lo < hi or (integer and math.floor(hi) - math.ceil(lo) < 2):
        raise api.UsageError(f"--interval {lo:g} {hi:g}: allowed LO < HI (for an integer parameter, 3 values apart)")
    return integer, lo, hi


def _write(result: Solve, evals: Evaluations, figures: bool) -> None:
    """solve.json, the summary of the evaluated cells, the figure and the report in the run folder."""
    from ..run.pipeline import write_summary

    run_dir = result.run_dir
    tmp = run_dir / f".{folder.SOLVE}.tmp"
    tmp.write_text(json.dumps(result.as_dict(), indent=1, allow_nan=True))
    tmp.replace(run_dir / folder.SOLVE)
    summary = write_summary(run_dir, evals.plan.scenario)
    if figures:
        from ..figures.solve import draw_solve
        from ..report import page

        result.figures = draw_solve(run_dir)
        page.write(run_dir, evals.plan.scenario, summary, result.figures)


def _plain(value):
    """JSON-ready: numpy numbers as Python's, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
