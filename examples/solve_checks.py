"""The closed-form checks of `causalmc.solve` (docs/solve.md): the root's interval coverage and the cost of a grid.

Two designs whose answer is known exactly:

- ``scenarios/solve_rct_power.toml``: the classical t test (OLS on the
  treatment, t(n − 2)) in a randomised experiment with normal outcomes of
  sd 10 and effect 4.  Given n₁ treated of n, the t statistic is noncentral
  t(n − 2, τ/(σ√(1/n₁ + 1/n₀))); n₁ ~ Binomial(n, ½) (replications with no
  treated or no control unit fail and are not counted), so the power is a
  binomial mixture of noncentral t tail probabilities.  Between integers the
  exact curve is interpolated linearly.
- ``scenarios/solve_confounding_width.toml``: OLS of Y on (1, X, Z) with unit
  error variance and Var(X | Z) = 1.  σ̂² = SSR/(n − 3) ~ χ²(n−3)/(n − 3)
  independent of X, and the residual sum of squares of X on (1, Z) is
  χ²(n − 2), so E[width] = 2 t(n−3) E[σ̂] E[1/√SSX] = 2·t₀.₉₇₅(n − 3)/√(n − 3)
  exactly (the Gamma-function factors cancel).

Usage::

    python examples/solve_checks.py coverage rct 100 OUT      # 100 seeded solves
    python examples/solve_checks.py grid confounding OUT       # a grid sweep's precision at its cost

A grid sweep reads the root off K evenly spaced values with R replications
each, by the same regression and interval as a solve on the three values
nearest its crossing.
"""

from __future__ import annotations

import json
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
from scipy import optimize, stats

import causalmc
from causalmc.sims import api, records, summary
from causalmc.sims.solve.search import Point, fit_root, link_of

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
DESIGNS = {
    "rct": {"file": ROOT / "solve_rct_power.toml", "param": "n", "target": "power=0.80", "estimator": "ols"},
    "confounding": {
        "file": ROOT / "solve_confounding_width.toml", "param": "n", "target": "ci_width=0.1", "estimator": "ols_adjusted",
    },
}  # fmt: skip
BUDGET = 4000


def rct_power(n: int, tau: float = 4.0, sd: float = 10.0, level: float = 0.95) -> float:
    """Exact power of the classical t test of the difference in means, n₁ ~ Binomial(n, ½), given n₁ ∈ [1, n − 1]."""
    n1 = np.arange(1, n)
    weights = stats.binom.pmf(n1, n, 0.5)
    ncp = tau / (sd * np.sqrt(1 / n1 + 1 / (n - n1)))
    crit = stats.t.ppf(0.5 + level / 2, n - 2)
    reject = stats.nct.sf(crit, n - 2, ncp) + stats.nct.cdf(-crit, n - 2, ncp)
    return float(np.sum(weights * reject) / np.sum(weights))


def confounding_width(n: float, level: float = 0.95) -> float:
    """Exact mean width of ols_adjusted's t interval in the confounding design (module docstring)."""
    return 2 * stats.t.ppf(0.5 + level / 2, n - 3) / math.sqrt(n - 3)


def exact_root(design: str) -> float:
    if design == "confounding":
        return optimize.brentq(lambda n: confounding_width(n) - 0.1, 10, 100_000, xtol=1e-9)
    n = next(n for n in range(4, 2000) if rct_power(n) >= 0.8)
    below, above = rct_power(n - 1), rct_power(n)
    return n - 1 + (0.8 - below) / (above - below)


def coverage(design: str, count: int, out: Path) -> dict:
    spec = DESIGNS[design]
    truth = exact_root(design)
    rows = []
    for seed in range(1, count + 1):
        scenario = api.as_scenario(spec["file"], seed=seed)
        result = causalmc.solve(
            scenario, param=spec["param"], target=spec["target"], budget=BUDGET, jobs=1, out=out / str(seed),
            figures=False,
        )  # fmt: skip
        root = result.roots[spec["estimator"]]
        rows.append({"seed": seed, "status": root.status, "root": root.root, "low": root.ci_low, "high": root.ci_high,
                     "covered": bool(root.ci_low <= truth <= root.ci_high), "reps": result.reps})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    covered = np.array([r["covered"] for r in rows])
    rate = float(covered.mean())
    half = float(np.mean([(r["high"] - r["low"]) / 2 for r in rows]))
    return {"design": design, "exact_root": truth, "solves": len(rows), "coverage": rate,
            "coverage_mcse": math.sqrt(rate * (1 - rate) / len(rows)), "mean_half_width": half,
            "mean_reps": float(np.mean([r["reps"] for r in rows]))}  # fmt: skip


def grid_half_width(design: str, reps: int, seed: int, out: Path, values: int = 10) -> float:
    """The root's interval half-width from a sweep of `values` evenly spaced grid values × `reps`, fitted like a solve."""
    spec = DESIGNS[design]
    source = tomllib.loads(spec["file"].read_text())
    lo, hi = source["grid"][spec["param"]]
    grid = sorted({int(round(v)) for v in np.linspace(lo, hi, values)})
    source["grid"][spec["param"]] = grid
    source.update(reps=reps, seed=seed)
    run = causalmc.run(source, out=out, jobs=1, progress=False, figures=False, fresh=True)
    measure, goal = spec["target"].split("=")
    goal = float(goal)
    table = summary.summarize(records.read(run.run_dir / "records"), [spec["param"]])
    points = []
    for row in table[table["estimator"] == spec["estimator"]].itertuples():
        value, mcse = getattr(row, measure), getattr(row, f"{measure}_mcse")
        trials = value * (1 - value) / mcse**2 if 0 < value < 1 and mcse > 0 else row.n_ok
        points.append(Point(float(getattr(row, spec["param"])), value, mcse, row.reps, trials))
    ordered = sorted(points, key=lambda p: p.x)
    crossing = next((a.x + (goal - a.measure) * (b.x - a.x) / (b.measure - a.measure))
                    for a, b in zip(ordered, ordered[1:]) if (a.measure - goal) * (b.measure - goal) <= 0)  # fmt: skip
    nearest = sorted(points, key=lambda p: abs(p.x - crossing))[:3]  # a line through the 3 values nearest the crossing
    fit = fit_root(nearest, goal, link_of(measure), crossing)
    return (fit.ci_high - fit.ci_low) / 2


if __name__ == "__main__":
    what, design = sys.argv[1], sys.argv[2]
    if what == "coverage":
        print(json.dumps(coverage(design, int(sys.argv[3]), Path(sys.argv[4]))))
    else:
        for values in (10, 20, 40):
            for reps in (200, 800, 3200):
                widths = [grid_half_width(design, reps, seed, Path(sys.argv[3]), values) for seed in (1, 2, 3)]
                print(json.dumps({"design": design, "grid_values": values, "reps_per_value": reps,
                                  "total": values * reps, "mean_half_width": float(np.mean(widths))}), flush=True)
