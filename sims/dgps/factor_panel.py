"""A simulation design fitted to your panel: Arkhangelsky et al.'s (2021) factor model with AR(2) errors.

Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021, AER, Section 3.1.1)
compared DID, SC, SDID, MC and DIFP on designs fitted to a real panel, so
that the simulated outcomes look like the data.  This DGP fits that design
once per data file and parameters (never per replication), following the
R package synthdid 0.0.9, ``R/placebo-simulations.R`` (`estimate_dgp`,
`decompose_Y`, `fit_ar2`, `ar2_correlation_matrix`, `randomize_treatment`,
`simulate_dgp`), and draws from it.

**The fit.**  Y (N × T) is the panel's outcome (``data``, ``unit``,
``period``, ``outcome``, optionally sliced), normalised as R does:
Y ← (Y − ȳ) / s with s = ‖Y − ȳ‖_F / √(NT).  With Y = U D V' its singular
value decomposition, L = U_r D_r V_r' (r = ``rank``) is the signal and
E = Y − L the residual;

- F_it = L̄_i· + L̄_·t − L̄ (the additive part: unit and period effects),
- M = L − F (the interactive part);
- the AR(2) coefficients (φ₁, φ₂) from pooled least squares of E_it on
  E_i,t−1 and E_i,t−2, rounded to two decimals as R does; the AR(2)
  autocorrelations ρ₀ = 1, ρ₁ = φ₁/(1 − φ₂), ρ_k = φ₁ρ_k−1 + φ₂ρ_k−2
  give the correlation matrix C_st = ρ_|s−t|, scaled so that
  Σ = C · ‖E'E/N‖_F / ‖C‖_F (``noise = "ar2"``); ``noise = "iid"`` (the
  paper's "No Corr") takes Σ = I · ‖Σ‖_F / √T instead;
- the assignment probabilities π_i: the fitted values of a logit of the
  exposure (the unit's value of the column ``assignment`` in the last
  period, 0/1) on the r unit factors √N·U_r (with an intercept);
  ``assignment = "random"`` sets π_i = 1/2.

**A replication** (the draw order): treated_i ~ Bernoulli(π_i) for each
unit; if more than ``n_treated`` (N₁) are treated, N₁ of them chosen
uniformly stay treated; if none, N₁ units chosen uniformly are treated
(R's `randomize_treatment`); then the noise, ε_i ~ N(0, Σ) independently
over units; and the outcome

    y_it = a·F_it + b·M_it + ε_it + τ · treated_i · 1(t > T − T₁),

with (a, b, noise) from ``components``: "all" (1, 1, yes), "no_m"
(1, 0, yes), "no_f" (0, 1, yes), "noise_only" (0, 0, yes), "no_noise"
(1, 1, none) — the rows "Baseline", "No M", "No F", "Only noise", "No noise"
of the paper's Table 2.  T₁ = ``t_post`` periods are treated; τ = ``tau``,
in units of the panel's normalised scale s (the truth; 0 in the paper).
Units keep the panel's order (the estimators read ``treated``), where R
sorts the treated last.

Batch arrays as `did_panel` and `placebo_panel`: ``panel_y`` (R, N, T),
``treated`` (R, N) of 0/1, ``start`` (R,) = T − T₁ + 1 (1-indexed first
treated period), so every panel estimator runs on it unchanged.

Shipped datasets (`sims.dgps.datasets`): ``data = "cps"`` (the paper's
CPS panel, 50 states × 1979–2018, all 40 years as the paper used them,
exposures ``min_wage``, ``open_carry``, ``abort_ban``; outcomes
``log_wage``, ``hours``, ``urate``) and ``data = "penn"`` (Penn World
Table, 111 countries × 1960–2007, ``log_gdp``, exposures ``dem``,
``educ``).  Left out: the paper's resampled-rows designs (Table 4), whose R
code recycles the 50 assignment probabilities over 200 or 400 resampled
rows.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from causalmc.estimators import status as st
from causalmc.estimators.observables.propensity import LOGIT, fit_propensity
from causalmc.estimators.spec import Setting

from . import Dgp, datasets, resolve_data_file
from .placebo_panel import COLUMNS, PanelError, load_panel

# the paper's design on the CPS uses all 40 years, not placebo_panel's BDM slice
SHIPPED = {"cps": datasets.CPS.unsliced(), "penn": datasets.PENN}
COMPONENTS = {  # (weight of F, weight of M, noise)
    "all": (1.0, 1.0, True),
    "no_m": (1.0, 0.0, True),
    "no_f": (0.0, 1.0, True),
    "noise_only": (0.0, 0.0, True),
    "no_noise": (1.0, 1.0, False),
}


class FitError(ValueError):
    """A panel the design cannot be fitted to (the message says why)."""


class AssignmentError(ValueError):
    """An exposure column that cannot drive the assignment model (the message says why)."""


@dataclass(frozen=True)
class FittedPanel:
    """The fitted design (normalised scale): F, M (N, T), Σ (T, T), its Cholesky factor, π (N,), (φ₁, φ₂)."""

    f: np.ndarray
    m: np.ndarray
    sigma: np.ndarray
    sigma_chol: np.ndarray
    pi: np.ndarray
    ar_coef: tuple[float, float]
    scale: float

    def quantities(self, components: str = "all", noise: str = "ar2") -> dict:
        """The paper's Table 2 design columns of the design as drawn: ‖F‖/√NT, ‖M‖/√NT, √(tr Σ / T), (φ₁, φ₂).

        As the paper's replication vignette computes them from the
        simulator's parameters: F and M as weighted by `components` (0 where
        a variant drops them), Σ = 0 without noise, and the AR coefficients
        (0, 0) where the noise has no serial correlation ("No Corr", "No
        Noise").
        """
        n, t = self.f.shape
        weight_f, weight_m, with_noise = COMPONENTS[components]
        correlated = with_noise and noise == "ar2"
        return {
            "F": weight_f * float(np.sqrt(np.mean(self.f**2))),
            "M": weight_m * float(np.sqrt(np.mean(self.m**2))),
            "noise": float(np.sqrt(np.trace(self.sigma) / t)) if with_noise else 0.0,
            "ar1": self.ar_coef[0] if correlated else 0.0,
            "ar2": self.ar_coef[1] if correlated else 0.0,
            "N": n,
            "T": t,
            "mean_pi": float(np.mean(self.pi)),
        }


def decompose(y: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(F, M, E, unit factors √N·U_r) of a normalised panel (R's `decompose_Y`)."""
    n, t = y.shape
    u, d, vt = np.linalg.svd(y, full_matrices=False)
    low_rank = (u[:, :rank] * d[:rank]) @ vt[:rank]
    additive = low_rank.mean(1, keepdims=True) + low_rank.mean(0, keepdims=True) - low_rank.mean()
    return additive, low_rank - additive, y - low_rank, u[:, :rank] * np.sqrt(n)


def fit_ar2(e: np.ndarray) -> np.ndarray:
    """Pooled least-squares AR(2) coefficients (φ₁, φ₂) of the rows of E (R's `fit_ar2`)."""
    now, lag1, lag2 = e[:, 2:], e[:, 1:-1], e[:, :-2]
    gram = np.array([[np.sum(lag1 * lag1), np.sum(lag1 * lag2)], [np.sum(lag1 * lag2), np.sum(lag2 * lag2)]])
    return np.linalg.solve(gram, [np.sum(lag1 * now), np.sum(lag2 * now)])


def ar2_correlation(ar_coef, t: int) -> np.ndarray:
    """The T × T correlation matrix of a stationary AR(2) series (R's `ar2_correlation_matrix`)."""
    rho = np.zeros(max(t, 2))
    rho[0], rho[1] = 1.0, ar_coef[0] / (1.0 - ar_coef[1])
    for k in range(2, t):
        rho[k] = ar_coef[0] * rho[k - 1] + ar_coef[1] * rho[k - 2]
    lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    return rho[lags]


def fit_design(y: np.ndarray, exposure: np.ndarray | None, rank: int, noise: str) -> FittedPanel:
    """The design of Arkhangelsky et al. (2021, Section 3.1.1) fitted to panel y (N, T) (R's `estimate_dgp`).

    `exposure` (N,) of 0/1, or None for random assignment (π = 1/2).
    Raises FitError when the rank exceeds the panel's, the noise
    covariance is not positive definite or the logit fails.
    """
    n, t = y.shape
    if not rank < min(n, t):
        raise FitError(f"rank {rank} needs a panel with more than {rank} units and periods (it has {n} × {t})")
    centred = y - y.mean()
    scale = float(np.linalg.norm(centred) / np.sqrt(n * t))
    f, m, e, unit_factors = decompose(centred / scale, rank)
    ar_coef = np.round(fit_ar2(e), 2)
    correlation = ar2_correlation(ar_coef, t)
    sigma = correlation * (np.linalg.norm(e.T @ e / n) / np.linalg.norm(correlation))
    if noise == "iid":
        sigma = np.eye(t) * np.linalg.norm(sigma) / np.sqrt(t)
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        raise FitError(f"the fitted AR(2) coefficients {tuple(ar_coef)} give no positive definite covariance") from None
    if exposure is None:
        pi = np.full(n, 0.5)
    else:
        coef, pi, info = np.empty(rank + 1), np.empty(n), np.empty((rank + 1, rank + 1))
        code = fit_propensity(np.ascontiguousarray(unit_factors.T), exposure, LOGIT, coef, pi, info)
        if code != st.OK:
            raise FitError(f"the logit of the exposure on the {rank} unit factors failed: {st.NAMES[code]}")
    return FittedPanel(f, m, sigma, chol, pi, (float(ar_coef[0]), float(ar_coef[1])), scale)


def _exposure(path, unit, period, column, first, last) -> np.ndarray:
    """Each unit's exposure in the last period used, 0/1, units sorted (as `load_panel`'s rows)."""
    try:
        values = load_panel(path, unit, period, column, first, last)[0][:, -1]
    except PanelError as exc:
        raise AssignmentError(str(exc)) from None
    if not np.all((values == 0) | (values == 1)):
        raise AssignmentError(f"column {column!r} is not 0/1 in the last period; allowed: a 0/1 exposure or 'random'")
    return np.ascontiguousarray(values)


@cache
def _fitted(path, _mtime, _size, unit, period, outcome, first, last, rank, assignment, noise) -> FittedPanel:
    y = load_panel(path, unit, period, outcome, first, last)[0]
    exposure = None if assignment == "random" else _exposure(path, unit, period, assignment, first, last)
    return fit_design(y, exposure, rank, noise)


def fitted(p) -> FittedPanel:
    """The design fitted to the parameters' panel, once per process and file version (never per replication)."""
    path = resolve_data_file(p["data"], Path.cwd(), SHIPPED)
    stat = path.stat()
    keys = ("unit", "period", "outcome", "first_period", "last_period", "rank", "assignment", "noise")
    return _fitted(str(path), stat.st_mtime_ns, stat.st_size, *(p[k] for k in keys))


@njit(cache=True)
def _draw(rng, f, m, chol, pi, n_treated_cap, t_post, tau, weight_f, weight_m, with_noise, y, treated, z):
    n_reps, n, t = y.shape
    chosen = np.empty(n, dtype=np.int64)
    for r in range(n_reps):
        count = 0
        for i in range(n):
            treated[r, i] = 1.0 if rng.random() < pi[i] else 0.0
            if treated[r, i] == 1.0:
                chosen[count] = i
                count += 1
        if count == 0 or count > n_treated_cap:
            # R: keep N1 of the treated (or, if none, of all units), chosen uniformly: a partial shuffle
            if count == 0:
                for i in range(n):
                    chosen[i] = i
                count = n
            for i in range(n_treated_cap):
                j = rng.integers(i, count)
                chosen[i], chosen[j] = chosen[j], chosen[i]
            for i in range(n):
                treated[r, i] = 0.0
            for i in range(n_treated_cap):
                treated[r, chosen[i]] = 1.0
        for i in range(n):
            for s in range(t):
                z[s] = rng.standard_normal() if with_noise else 0.0
            for s in range(t):
                noise = 0.0
                for k in range(s + 1):  # ε = chol · z: row s of the lower-triangular factor
                    noise += chol[s, k] * z[k]
                effect = tau if treated[r, i] == 1.0 and s >= t - t_post else 0.0
                y[r, i, s] = weight_f * f[i, s] + weight_m * m[i, s] + noise + effect


def draw_reference(rng, design: FittedPanel, n_reps, n_treated, t_post, tau, components):
    """Plain twin of `_draw`: the same draws in the same order with numpy, one replication at a time."""
    weight_f, weight_m, with_noise = COMPONENTS[components]
    n, t = design.f.shape
    y, treated = np.empty((n_reps, n, t)), np.zeros((n_reps, n))
    for r in range(n_reps):
        d = np.array([rng.random() < p for p in design.pi], dtype=float)
        if d.sum() == 0 or d.sum() > n_treated:
            pool = list(np.flatnonzero(d)) if d.sum() > 0 else list(range(n))
            for i in range(n_treated):
                j = rng.integers(i, len(pool))
                pool[i], pool[j] = pool[j], pool[i]
            d = np.zeros(n)
            d[pool[:n_treated]] = 1.0
        treated[r] = d
        for i in range(n):
            z = np.array([rng.standard_normal() for _ in range(t)]) if with_noise else np.zeros(t)
            post = (np.arange(t) >= t - t_post) & (d[i] == 1.0)
            y[r, i] = weight_f * design.f[i] + weight_m * design.m[i] + design.sigma_chol @ z + tau * post
    return y, treated


def generate(rng, n_reps, p):
    design = fitted(p)
    n, t = design.f.shape
    weight_f, weight_m, with_noise = COMPONENTS[p["components"]]
    y, treated = np.empty((n_reps, n, t)), np.empty((n_reps, n))
    _draw(rng, design.f, design.m, design.sigma_chol, design.pi, min(p["n_treated"], n), p["t_post"], p["tau"],
          weight_f, weight_m, with_noise, y, treated, np.empty(t))  # fmt: skip
    return {
        "panel_y": y,
        "treated": treated,
        "start": np.full(n_reps, t - p["t_post"] + 1, dtype=np.int64),
        "truth": np.full(n_reps, p["tau"]),
    }


def check(p):
    unset = [name for name in (*COLUMNS, "assignment") if p[name] is None]
    if unset:
        return [((*unset,), f"{p['data']} is not a shipped dataset, so these must be given (columns of the file)")]
    try:
        design = fitted(p)
    except AssignmentError as exc:
        return [(("assignment",), f"{p['data']}: {exc}")]
    except FitError as exc:
        return [(("data", "rank"), f"{p['data']}: {exc}")]
    except PanelError as exc:
        return [(("data",), f"{p['data']}: {exc}")]
    n, t = design.f.shape
    problems = []
    if not p["t_post"] < t:
        problems.append((("t_post",), f"{p['t_post']} treated periods of {t}; allowed: at most {t - 1}"))
    if not p["n_treated"] < n:
        problems.append((("n_treated",), f"{p['n_treated']} treated units of {n}; allowed: at most {n - 1}"))
    return problems


def fitted_text(p) -> str:
    """What the design fitted: the paper's Table 2 design columns (of the variant drawn) and the assignment model."""
    q = fitted(p).quantities(p["components"], p["noise"])
    return (
        f"fitted to {p['outcome']} of {Path(p['data']).name} ({q['N']} units x {q['T']} periods, rank {p['rank']}, "
        f"assignment {p['assignment']!r}, noise {p['noise']!r}, components {p['components']!r}): "
        f"||F||/sqrt(NT) = {q['F']:.3f}, "
        f"||M||/sqrt(NT) = {q['M']:.3f}, sqrt(tr Sigma / T) = {q['noise']:.3f}, AR(2) = ({q['ar1']:.2f}, "
        f"{q['ar2']:.2f}), mean assignment probability {q['mean_pi']:.3f}"
    )


def describe(p) -> str:
    """The report's model section: what was fitted, then the equations."""
    return f"Design {fitted_text(p)}.\n\n" + inspect.cleandoc(__doc__)


DGPS = (
    Dgp(
        name="factor_panel",
        summary="a design fitted to your panel (Arkhangelsky et al. 2021): rank-r factor model, AR(2) errors, "
        "assignment from a logit on the unit factors",
        params=(
            Setting("data", "cps", "the panel: a CSV or Parquet file (relative to the scenario), or 'cps' or 'penn'"),
            Setting("unit", None, "column of the unit ids (shipped data: set; your file: required)", kind=str),
            Setting("period", None, "column of the periods (shipped data: set; your file: required)", kind=str),
            Setting("outcome", None, "column of the outcome (cps: 'log_wage', penn: 'log_gdp')", kind=str),
            Setting("first_period", None, "first period used (default: the panel's first)", kind=int),
            Setting("last_period", None, "last period used (default: the panel's last)", kind=int),
            Setting(
                "assignment",
                None,
                "0/1 exposure column whose last-period value the assignment logit fits (cps: 'min_wage', "
                "penn: 'dem'), or 'random' (probability 1/2)",
                kind=str,
            ),
            Setting("rank", 4, "rank r of the signal L = F + M", minimum=1),
            Setting("noise", "ar2", "noise covariance: 'ar2' (fitted) or 'iid' (the paper's No Corr)",
                    choices=("ar2", "iid")),  # fmt: skip
            Setting(
                "components",
                "all",
                "outcome model: 'all', 'no_m', 'no_f', 'noise_only' or 'no_noise' (the paper's Table 2 rows)",
                choices=tuple(COMPONENTS),
            ),
            Setting("n_treated", 10, "cap N1 on the treated units (none drawn: N1 chosen uniformly)", minimum=1),
            Setting("t_post", 10, "treated periods T1, the last ones", minimum=1),
            Setting("tau", 0.0, "effect added to treated unit-periods, in units of the panel's normalised scale"),
        ),
        provides=("panel_y", "treated", "start"),
        generate=generate,
        check=check,
        # small slices: every panel estimator (synthetic control's solvers, matrix completion's cross-validation)
        # runs on every example in the generic tests; the whole panels are tested through the scenario
        examples=(
            {"rank": 2, "n_treated": 3, "t_post": 2, "first_period": 2009, "last_period": 2018},
            {"assignment": "random", "noise": "iid", "components": "no_m", "tau": 0.1, "rank": 2, "t_post": 2,
             "first_period": 2011, "last_period": 2018},
            {"data": "penn", "components": "no_noise", "n_treated": 1, "t_post": 1, "rank": 2,
             "first_period": 2000, "last_period": 2007},
        ),  # fmt: skip
        data_files=("data",),
        shipped_data=SHIPPED,
        describe=describe,
        fitted=fitted_text,
    ),
)
