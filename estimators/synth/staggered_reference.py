"""The plain twin of `staggered`: each cohort's sub-panel as a matrix, fitted by `reference.reference_fit`.

The sub-panels, replicates and aggregation are built as Stata's ``sdid``
states them (controls = the never-treated; weights N1_a·T1_a); the random
draws are the kernel's, in the same order.
"""

from __future__ import annotations

import math

import numpy as np

from .. import status as st
from ..inference import normal_critical, write_failure, write_wald
from .kernel import BOOTSTRAP, JACKKNIFE, PLACEBO, ROUNDING, SC, SDID
from .reference import reference_fit, reference_sum_normalize
from .solver import ETA_LAMBDA, ETA_SC, MIN_DECREASE_FACTOR
from .staggered import COHORTS


def reference_cohort(Y, n0, t0, method, lam, omega):
    """(τ̂, λ, ω) of one sub-panel Y (controls first), σ̂ and ζ from it; None without σ̂."""
    diffs = np.diff(Y[:n0, :t0], axis=1)
    if diffs.size < 2:
        return None
    sigma = np.std(diffs, ddof=1)
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    eta_omega = (n1 * t1) ** 0.25 if method == SDID else ETA_SC
    return reference_fit(Y, n0, t0, method, eta_omega * sigma, ETA_LAMBDA * sigma, MIN_DECREASE_FACTOR * sigma,
                         lam, omega)  # fmt: skip


def reference_aggregate(y, adoption, method, start=None):
    """(τ̂, {a: (τ̂_a, λ_a, ω_a)}) on rows y (M, T) with adoption periods (0 = control); None if a τ̂_a is undefined.

    ``start``: {a: (λ_a, ω_a over the sample's control rows)}, the warm start (cohorts absent from it are absent
    from the sample too); uniform starts without it.
    """
    controls = y[adoption == 0]
    n0 = len(controls)
    fits = {}
    for a in sorted(set(adoption[adoption > 0].tolist())):
        t0 = a - 1
        Y = np.vstack([controls, y[adoption == a]])
        if start is None:
            lam, omega = np.full(t0, 0.0 if method == SC else 1 / t0), np.full(n0, 1 / n0)
        else:
            lam, omega = start[a]
        fitted = reference_cohort(Y, n0, t0, method, lam, reference_sum_normalize(omega))
        if fitted is None:
            return None
        fits[a] = fitted
    cells = {a: np.sum(adoption == a) * (y.shape[1] - a + 1) for a in fits}
    return sum(cells[a] * fits[a][0] for a in fits) / sum(cells.values()), fits


def reference_replication(y, g, method, se, n_draws, rng):
    """(status, τ̂, se, number of cohorts) on one panel y (G, T), adoption periods g (G,)."""
    t_all = y.shape[1]
    g = np.where((g <= 0) | (g > t_all), 0, g).astype(int)
    keep = g != 1
    order = np.concatenate([np.flatnonzero(keep & (g == 0)), np.flatnonzero(keep & (g > 0))])
    y, g = y[order], g[order]
    n, n0 = len(g), int(np.sum(g == 0))
    periods = sorted(set(g[g > 0].tolist()))
    if n0 == 0:
        return st.NO_COMPARISON, None
    if n0 == n:
        return st.NO_VARIATION, None
    result = reference_aggregate(y, g, method)
    if result is None:
        return st.NO_VARIATION, None
    estimate, fits = result
    if se == PLACEBO and n0 <= n - n0:
        return st.FEW_CONTROLS, None
    if se == BOOTSTRAP and n - n0 == 1:
        return st.ONE_TREATED, None
    if se == JACKKNIFE:
        if any(np.sum(g == a) == 1 for a in periods):
            return st.ONE_TREATED, None
        values = []
        for left in range(n):
            keep = np.arange(n) != left
            total = weight = 0.0
            for a in periods:
                _, lam, omega = fits[a]
                treated = keep & (g == a)
                if not treated.any():
                    continue
                unit = np.concatenate([-reference_sum_normalize(omega[keep[:n0]]), np.full(treated.sum(),
                                       1 / treated.sum())])  # fmt: skip
                time = np.concatenate([-lam, np.full(t_all - a + 1, 1 / (t_all - a + 1))])
                rows = np.vstack([y[:n0][keep[:n0]], y[treated]])
                total += treated.sum() * (t_all - a + 1) * (unit @ rows @ time)
                weight += treated.sum() * (t_all - a + 1)
            values.append(total / weight)
        se_value = math.sqrt((n - 1) / n * (n - 1) * np.var(values, ddof=1))
        replicates = values
    else:
        draws = []
        for _ in range(n_draws):
            if se == PLACEBO:
                order = np.argsort(rng.random(n0), kind="mergesort")
                placebo = np.zeros(n0, dtype=int)
                placebo[order[n0 - (n - n0) :]] = g[n0:]
                sample, adoption, origin = y[:n0], placebo, np.arange(n0)
            else:
                while True:
                    picks = np.sort(np.minimum((rng.random(n) * n).astype(np.int64), n - 1))
                    if 0 < np.sum(picks < n0) < n:
                        break
                sample, adoption, origin = y[picks], g[picks], picks
            start = {a: (fits[a][1], fits[a][2][origin[adoption == 0]]) for a in periods}
            result = reference_aggregate(sample, adoption, method, start)
            if result is None:
                return st.NO_VARIATION, None
            draws.append(result[0])
        se_value = math.sqrt((n_draws - 1) / n_draws) * np.std(draws, ddof=1)
        replicates = draws
    if not se_value > ROUNDING * np.max(np.abs(replicates)):
        return st.NO_VARIATION, None
    return st.OK, (estimate, se_value, len(periods))


def reference_staggered(batch, truth, options, level, out, status, method, rng=None):
    """The twin of the staggered estimators' run: `reference_replication` on each replication."""
    se = {"placebo": PLACEBO, "bootstrap": BOOTSTRAP, "jackknife": JACKKNIFE}[options["se"]]
    crit = normal_critical(level)
    for r in range(batch["panel_y"].shape[0]):
        code, result = reference_replication(batch["panel_y"][r], batch["cohort"][r], method, se, options["draws"], rng)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        estimate, se_value, cohorts = result
        write_wald(out, status, r, estimate, se_value, crit, truth[r])
        if status[r] == st.OK:
            out[r, COHORTS] = cohorts
