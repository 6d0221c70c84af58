"""The numbers of a solve, free of files: where to evaluate next, the curve through the evaluations, the root.

A solve looks for the value x* of a design parameter at which a measure
f(x) (power, coverage, RMSE …) equals a target b, when f can only be
estimated, at any x, by replications with a Monte Carlo error.  Two stages,
after Chalmers (2024, "Solving variables with Monte Carlo simulation
experiments: a stochastic root-solving approach", *Psychological Methods*;
R SimDesign's ``SimSolve``, whose ProBABLI method is probabilistic bisection
followed by an interpolation of the evaluations with a confidence interval):

1. **Where to evaluate** (`Bisection`).  A probabilistic bisection (Horstein;
   Waeber, Frazier & Henderson 2013) keeps a posterior density of x* over
   the candidate values of the interval, uniform at first.  Each
   evaluation at x adds a batch of replications there; the sign of
   f̂(x) − b (every replication at x so far) says on which side of x the
   root lies, believed with probability p = Φ(|f̂(x) − b| / MCSE) held
   within [0.55, 0.95]; the density on that side is multiplied by p, on
   the other by 1 − p.  The next evaluation is at a quantile of the
   density, cycling through its median, first and third quartiles, so
   the evaluations close in on the root from both sides and spread
   enough to fit a slope.  This stage only decides where replications
   are spent: the answer comes from the second.
2. **The answer** (`fit_root`).  A regression over every evaluated value,
   each weighted by its replications: for a rate (power, coverage …) a
   binomial GLM with a logit link (successes out of the replications that
   measure it); for a positive measure (RMSE, interval width …) weighted
   least squares of log f̂ with variances (MCSE/f̂)²; for a signed one
   (bias, se_ratio …) weighted least squares of f̂ with variances MCSE².
   The predictor is t = log x for a positive parameter (sample sizes,
   strengths: power and widths are smooth in log n), else x; the linear
   predictor a quadratic in t from four distinct values on (a line
   before).  Lack of fit beyond the Monte Carlo error scales the
   covariance by the Pearson χ²/df when above 1 (quasi-likelihood).
   The root solves the fitted curve = b.  Its interval holds the x whose
   fitted η(x) is within z standard errors of the target, the real roots
   of (η(x) − b)² − z²·a(x)'Σa(x) nearest the root (Fieller's interval
   for a line, the inverted pointwise band for a quadratic); it is
   unbounded on a side with no such root within the evaluated range
   widened by half.  The delta method's standard error is reported
   beside it.  (A window of the values nearest the root, tried first,
   covered far below its rate once the bisection had closed in: the
   slope is then not identified locally; docs/solve.md.)

Monotonicity is checked over all evaluated values (`monotone_check`):
a reversal is a pair x_i < x_j whose measures move against the
direction by more than 3 combined MCSEs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from scipy import optimize

RATES = ("power", "coverage", "rejection", "unbounded_ci", "wrong_sign", "fail_rate", "share_f_gt_10",
         "share_effective_f_weak")  # fmt: skip
POSITIVE = ("rmse", "mse", "emp_se", "mean_se", "ci_width", "iqr", "mad")
QUANTILES = (0.5, 0.25, 0.75)  # the bisection's evaluation points, in turn
REVERSAL_MCSES = 3.0
MIN_STEPS = 6  # bisection steps per estimator before its precision is judged


def link_of(measure: str) -> str:
    """The scale the curve is fitted on: ``logit`` for rates, ``log`` for positive measures, else ``identity``."""
    return "logit" if measure in RATES else "log" if measure in POSITIVE else "identity"


def candidates(lo: float, hi: float, integer: bool, most: int = 2001) -> np.ndarray:
    """The values the bisection may evaluate: every integer of [lo, hi] (at most `most`, evenly), or `most` points."""
    if integer:
        values = np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=float)
        if len(values) > most:
            values = np.unique(np.round(np.linspace(values[0], values[-1], most)))
        return values
    return np.linspace(lo, hi, most)


@dataclass
class Bisection:
    """The probabilistic bisection's density over the candidate values (see the module docstring)."""

    values: np.ndarray
    direction: int  # +1: the measure increases in the parameter, −1: decreases
    log_density: np.ndarray = field(init=False)
    step: int = 0

    def __post_init__(self):
        self.log_density = np.zeros(len(self.values))

    def quantile(self, q: float) -> float:
        weights = np.exp(self.log_density - self.log_density.max())
        cdf = np.cumsum(weights) / weights.sum()
        return float(self.values[min(int(np.searchsorted(cdf, q)), len(self.values) - 1)])

    def next_value(self) -> float:
        value = self.quantile(QUANTILES[self.step % len(QUANTILES)])
        self.step += 1
        return value

    def update(self, x: float, measure: float, mcse: float, target: float) -> None:
        """Fold in the sign of f̂(x) − b at x (all its replications so far)."""
        if not np.isfinite(measure):
            return
        gap = measure - target
        z = abs(gap) / mcse if mcse > 0 else math.inf
        p = min(0.95, max(0.55, NormalDist().cdf(z)))
        root_below = gap * self.direction > 0  # past the target already at x
        below = self.values < x if root_below else self.values > x
        self.log_density += np.where(below, math.log(p), math.log(1 - p))


@dataclass
class Root:
    """One estimator's answer.

    ``status``: ``precision`` (the interval's half-width reached the
    precision asked), ``budget`` (the replications ran out first),
    ``not_bracketed`` (the target lies beyond the measure at both ends of
    the interval), ``flat`` (the measure does not move between the ends) or
    ``no_fit`` (the regression has no crossing of the target).
    """

    estimator: str
    status: str
    root: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    design_value: float = math.nan
    design_ci: tuple = (math.nan, math.nan)
    direction: int = 0
    monotone: bool = True
    reversals: list = field(default_factory=list)
    steps: int = 0
    fit: Fit | None = None


@dataclass(frozen=True)
class Point:
    """One evaluated value: the measure over all its replications, its MCSE, and for a rate its trials."""

    x: float
    measure: float
    mcse: float
    reps: int
    trials: float  # the replications the rate is a share of (n_ok for others)


@dataclass(frozen=True)
class Fit:
    """The curve through the evaluations near the root, and the root with its interval."""

    link: str
    center: float
    scale: float
    coef: tuple  # η = Σ coef_j · u^j, u = (x − center)/scale
    cov: tuple  # covariance of coef (rows)
    root: float  # NaN when the curve does not reach the target within the evaluated values widened by half
    se: float
    ci_low: float
    ci_high: float
    used: tuple  # the x values fitted
    log_x: bool = False  # u is (log x − center)/scale

    def curve(self, x: np.ndarray) -> np.ndarray:
        """The fitted measure at x (on the measure's own scale)."""
        t = np.log(np.asarray(x, float)) if self.log_x else np.asarray(x, float)
        u = (t - self.center) / self.scale
        eta = np.polyval(list(reversed(self.coef)), u)
        return _inverse(self.link, eta)


def _link(link: str, value):
    value = np.asarray(value, float)
    if link == "logit":
        return np.log(value / (1 - value))
    return np.log(value) if link == "log" else value


def _inverse(link: str, eta):
    if link == "logit":
        return 1 / (1 + np.exp(-eta))
    return np.exp(eta) if link == "log" else eta


def fit_root(points: list[Point], target: float, link: str, around: float, level: float = 0.95) -> Fit | None:
    """The regression over every evaluated value, centred at `around`: its root and interval (None without two values)."""
    used = sorted((p for p in points if np.isfinite(p.measure) and (link == "logit" or p.mcse > 0)), key=lambda p: p.x)
    if len({p.x for p in used}) < 2:
        return None
    x = np.array([p.x for p in used])
    log_x = bool(x.min() > 0 and around > 0)
    t = np.log(x) if log_x else x
    center = math.log(around) if log_x else around
    scale = max(float(np.max(np.abs(t - center))), 1e-12)
    degree = 2 if len(set(x)) >= 4 else 1
    design = np.vander((t - center) / scale, degree + 1, increasing=True)
    if link == "logit":
        trials = np.array([p.trials for p in used])
        hits = np.array([p.measure for p in used]) * trials
        coef, cov = _binomial_glm(design, hits, trials)
    else:
        values = np.array([p.measure for p in used])
        sd = np.array([p.mcse for p in used])
        if link == "log":
            if (values <= 0).any():
                return None
            values, sd = np.log(values), sd / values
        weights = 1 / sd**2
        info = design.T @ (design * weights[:, None])
        cov = np.linalg.inv(info)
        coef = cov @ (design.T @ (weights * values))
    if coef is None:
        return None
    # Lack of fit beyond the Monte Carlo error (the curve is only locally a polynomial) widens the interval:
    # the covariance is scaled by the Pearson χ²/df when above 1 (quasi-likelihood).
    if link == "logit":
        p = _inverse("logit", design @ coef)
        pearson = float(np.sum((hits - trials * p) ** 2 / np.maximum(trials * p * (1 - p), 1e-12)))
    else:
        pearson = float(np.sum(weights * (values - design @ coef) ** 2))
    df = len(x) - len(coef)
    cov = cov * max(1.0, pearson / df) if df > 0 else cov
    goal = float(_link(link, target))
    u_lo, u_hi = (t.min() - center) / scale, (t.max() - center) / scale
    root_u = _crossing(coef, goal, u_lo, u_hi)
    if root_u is None:
        return Fit(link, center, scale, tuple(coef), tuple(map(tuple, cov)), math.nan, math.nan, math.nan, math.nan,
                   tuple(sorted(set(x))), log_x)  # fmt: skip
    powers = root_u ** np.arange(len(coef))
    slope = sum(j * coef[j] * root_u ** (j - 1) for j in range(1, len(coef)))
    gradient = -powers / slope * scale  # ∂t*/∂β, t = x or log x
    se = float(math.sqrt(max(gradient @ cov @ gradient, 0.0)))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    low, high = _inverted(np.asarray(coef), np.asarray(cov), goal, root_u, u_lo, u_hi, z)

    def back(u):
        return math.exp(center + u * scale) if log_x else center + u * scale

    root = back(root_u)
    return Fit(link, center, scale, tuple(coef), tuple(map(tuple, cov)), root, se * root if log_x else se,
               back(low), back(high), tuple(sorted(set(x))), log_x)  # fmt: skip


def _inverted(coef, cov, goal, root_u, lo, hi, z) -> tuple[float, float]:
    """The values u around the root whose fitted η(u) is within z standard errors of the goal (Fieller's
    interval for a line, the inverted pointwise band for a quadratic): the real roots nearest the root on
    either side of (η(u) − goal)² − z²·a(u)'Σa(u), a(u) = (1, u, u², …); ±inf on a side with none within
    the window widened by half."""
    k = len(coef)
    gap = np.array(coef, float)
    gap[0] -= goal
    band = np.zeros(2 * k - 1)
    for i in range(k):
        for j in range(k):
            band[i + j] += cov[i][j]
    boundary = np.polynomial.polynomial.polysub(np.polynomial.polynomial.polymul(gap, gap), z**2 * band)
    roots = np.roots(boundary[::-1]) if np.any(boundary[1:] != 0) else np.array([])
    real = np.sort([r.real for r in roots if abs(r.imag) < 1e-9])
    span = hi - lo
    below = [r for r in real if lo - span / 2 <= r < root_u]
    above = [r for r in real if root_u < r <= hi + span / 2]
    return (max(below) if below else -math.inf), (min(above) if above else math.inf)


def _crossing(coef: np.ndarray, goal: float, lo: float, hi: float) -> float | None:
    """Where Σ coef_j u^j = goal, the crossing nearest 0 (the bisection's median), within the window widened by half."""
    poly = np.array(coef, float).copy()
    poly[0] -= goal
    roots = np.roots(list(reversed(poly))) if len(poly) > 1 and poly[-1] != 0 else np.array([])
    real = [float(r.real) for r in roots if abs(r.imag) < 1e-9]
    span = hi - lo
    inside = [r for r in real if lo - span / 2 <= r <= hi + span / 2]
    return min(inside, key=abs) if inside else None


def _binomial_glm(design: np.ndarray, hits: np.ndarray, trials: np.ndarray):
    """Maximum likelihood of a binomial logit model (scipy's trust-region Newton); the inverse information."""

    def negloglik(beta):
        eta = design @ beta
        return float(np.sum(trials * np.logaddexp(0, eta) - hits * eta))

    def gradient(beta):
        p = 1 / (1 + np.exp(-(design @ beta)))
        return design.T @ (trials * p - hits)

    def hessian(beta):
        p = 1 / (1 + np.exp(-(design @ beta)))
        return design.T @ (design * (trials * p * (1 - p))[:, None])

    start = np.zeros(design.shape[1])
    share = np.clip(hits.sum() / trials.sum(), 0.01, 0.99)
    start[0] = math.log(share / (1 - share))
    result = optimize.minimize(negloglik, start, jac=gradient, hess=hessian, method="trust-exact")
    if not result.success and result.status != 2:  # 2: the precision loss of an optimum already reached
        return None, None
    try:
        cov = np.linalg.inv(hessian(result.x))
    except np.linalg.LinAlgError:
        return None, None
    return result.x, cov


def monotone_check(points: list[Point], direction: int) -> list[tuple[float, float]]:
    """The pairs (x_i, x_j), x_i < x_j, whose measures move against `direction` by more than 3 combined MCSEs."""
    ordered = sorted((p for p in points if np.isfinite(p.measure)), key=lambda p: p.x)
    reversals = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if direction * (b.measure - a.measure) < -REVERSAL_MCSES * math.hypot(a.mcse, b.mcse):
                reversals.append((a.x, b.x))
    return reversals


def find_roots(evals, labels, measure: str, goal: float, lo: float, hi: float, integer: bool, budget: int,
               precision: float | None, level: float) -> dict:
    """Each estimator's `Root`: the two stages of the module docstring, over an evaluator's cells.

    `evals` evaluates and reads: ``value(x)`` (x as the parameter's type),
    ``evaluate(values)`` (one more batch at each), ``point(label, x,
    measure)`` (a `Point` over every replication at x), ``total``
    (replications so far), ``counts`` (value -> replications) and ``chunk``
    (one batch).  `sims.solve.evaluations.Evaluations` runs them as cells of
    a scenario; a test may evaluate a known curve.  Ends at `precision`
    (the interval's half-width, after `MIN_STEPS` steps) or when the next
    step would pass `budget` replications.
    """
    link = link_of(measure)
    chunk = evals.chunk
    ends = sorted({evals.value(lo), evals.value(hi)})
    evals.evaluate(ends)
    roots, searches = {}, {}
    for label in labels:
        first, last = (evals.point(label, x, measure) for x in ends)
        roots[label] = root = Root(label, "budget")
        change = last.measure - first.measure
        if all(abs(p.measure - goal) > 2 * p.mcse and p.measure > goal for p in (first, last)) or all(
            abs(p.measure - goal) > 2 * p.mcse and p.measure < goal for p in (first, last)
        ):
            root.status = "not_bracketed"
            continue
        if not abs(change) > 2 * math.hypot(first.mcse, last.mcse):
            root.status = "flat"
            continue
        root.direction = 1 if change > 0 else -1
        search = Bisection(candidates(lo, hi, integer), root.direction)
        for p in (first, last):
            search.update(p.x, p.measure, p.mcse, goal)
        searches[label] = search
    active = list(searches)
    while active:
        wanted = {label: evals.value(searches[label].next_value()) for label in active}
        distinct = sorted(set(wanted.values()))
        if evals.total + len(distinct) * chunk > budget:
            break
        evals.evaluate(distinct)
        for label, x in wanted.items():
            p = evals.point(label, x, measure)
            searches[label].update(x, p.measure, p.mcse, goal)
            roots[label].steps += 1
        for label in list(active):
            if precision is None or roots[label].steps < MIN_STEPS:
                continue
            fit = fit_root(_points(evals, label, measure), goal, link, searches[label].quantile(0.5), level)
            if fit is not None and math.isfinite(fit.root) and (fit.ci_high - fit.ci_low) / 2 <= precision:
                roots[label].status = "precision"
                active.remove(label)
    for label, search in searches.items():
        points = _points(evals, label, measure)
        root = roots[label]
        root.reversals = [list(pair) for pair in monotone_check(points, root.direction)]
        root.monotone = not root.reversals
        root.fit = fit_root(points, goal, link, search.quantile(0.5), level)
        if root.fit is None or not math.isfinite(root.fit.root):
            root.status = "no_fit"
            continue
        root.root, root.se, root.ci_low, root.ci_high = root.fit.root, root.fit.se, root.fit.ci_low, root.fit.ci_high
        if integer:
            root.design_value = float(math.ceil(root.root - 1e-9))
            root.design_ci = tuple(float(f(v)) if math.isfinite(v) else v for f, v in ((math.floor, root.ci_low), (math.ceil, root.ci_high)))
        else:
            root.design_value, root.design_ci = root.root, (root.ci_low, root.ci_high)
    return roots


def _points(evals, label: str, measure: str) -> list[Point]:
    return [evals.point(label, x, measure) for x in sorted(evals.counts)]

