"""Staggered adoption: ``sdid_staggered`` and ``sc_staggered``, as the Stata command ``sdid`` 2.0.6 computes them.

Clarke, Pailañir, Athey & Imbens (2023, "Synthetic Difference In
Differences Estimation", arXiv 2301.11859; Stata ``sdid``, following the
appendix of Arkhangelsky et al. 2021).  Data: ``panel_y`` (R, G, T) and
``cohort`` (R, G), each unit's adoption period g_i (1-indexed; 0, or a
period after the panel, = never treated; as `estimators.did.cohorts`, a unit
adopting in period 1 has no pre-period and is left out, where Stata stops).

For each adoption period a (the cohorts, in increasing order) the
common-start estimator of `kernel` runs on the sub-panel of the
**never-treated** units (the controls, in the batch's order) and the units
adopting in a, over every period: T0 = a − 1 pre-periods, T1 = T − a + 1
post-periods, its own noise level σ̂_a (first differences of the controls'
pre-periods), ζ_ω = (N1_a·T1_a)^¼·σ̂_a for sdid, 1e-6·σ̂_a for sc, and its
own unit and time weights.  Units adopting in other periods are in no
cohort's sub-panel: Stata's ``sdid`` compares each cohort with the pure
controls only (its ``_not_yet`` option concerns the projection of
covariates, not the comparison units).  The estimate weights the cohorts
by their treated cells,

    τ̂ = Σ_a N1_a·T1_a·τ̂_a / Σ_a N1_a·T1_a,

the mean over treated unit-periods when the effects are those of each
cohort (the DGP's ``att``).

Variances (Stata's ``vce()``, the paper's Algorithms 2–4; the aggregate τ̂
recomputed on each replicate):

``bootstrap``  B draws of the N units with replacement (⌊N·u⌋ for N
               uniforms, sorted; the controls first, then the adopters, so
               one cohort draws what `kernel` draws); a draw without a
               control or without an adopter is redrawn.  Each cohort present
               in the draw is re-fitted from scratch as above (σ̂, ζ and the
               weights of the draw, Stata recomputing them where R's ``vcov``
               keeps the fit's ζ), warm-started at the fit's weights (ω
               restricted to the draw's controls and renormalised); cohorts
               absent from the draw drop out of its average.
               se = √((B − 1)/B)·sd.  Status ``one_treated`` with one adopter.
``placebo``    B draws on the controls alone: N0 uniforms order them; the
               j-th adopter's adoption period goes to the control at place
               N0 − N1 + j of that order (Stata 2.0.6 gives each treated
               unit's path to a random control), the rest stay controls; the
               draw re-fitted as for the bootstrap.  se = √((B − 1)/B)·sd.
               Status ``few_controls`` when N0 ≤ N1.
``jackknife``  each of the N units left out in turn, weights fixed: ω of
               each cohort renormalised over the remaining controls (uniform
               when they all had weight 0, Stata's ``sum_norm``, where R's
               common-start jackknife returns NA), the cohort weights
               recounted; se = √((N − 1)/N · Σ (τ̂₋ᵢ − τ̄)²).  Status
               ``one_treated`` when a cohort has one unit (Stata stops).

Intervals τ̂ ± z_{1−α/2}·se.  Other statuses: ``no_comparison`` without a
never-treated unit, ``no_variation`` without an adopter, when a cohort has
fewer than two first differences for σ̂ (adoption in period 2 and one
control), a replicate is undefined, or the replicates are all equal.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import write_failure, write_wald
from .kernel import (
    BOOTSTRAP,
    JACKKNIFE,
    PLACEBO,
    SC,
    bootstrap_picks,
    centred_pre_periods,
    draws_se,
    fit,
    placebo_order,
    spread_is_rounding,
    tuning,
    unit_contrasts,
)
from .solver import noise_level, sum_normalize

COHORTS = 5  # the diagnostic column: cohorts estimated


@njit(cache=True)
def staggered_design(cohort_row, n_periods):
    """(units, adoption, n0, periods): the kept units, controls first then adopters (each in the batch's order),
    their adoption periods (0 for the controls), N0, and the distinct adoption periods in increasing order."""
    g = cohort_row.shape[0]
    units = np.empty(g, dtype=np.int64)
    adoption = np.zeros(g, dtype=np.int64)
    n0 = 0
    for u in range(g):
        a = int(cohort_row[u])
        if a <= 0 or a > n_periods:
            units[n0] = u
            n0 += 1
    m = n0
    present = np.zeros(n_periods + 1, dtype=np.bool_)
    for u in range(g):
        a = int(cohort_row[u])
        if 2 <= a <= n_periods:
            units[m] = u
            adoption[m] = a
            present[a] = True
            m += 1
    return units[:m], adoption[:m], n0, np.nonzero(present)[0]


@njit(cache=True)
def cohort_fit(y, rows, n0, t0, method, lam, omega):
    """τ̂ of one cohort's sub-panel (controls ``rows[:n0]``, then the cohort), σ̂ and ζ its own; NaN without σ̂.

    ``lam`` (T0,) and ``omega`` (N0,) are the starting weights, overwritten by the fitted ones.
    """
    sigma = noise_level(y, rows, n0, t0)
    if not math.isfinite(sigma):
        return math.nan
    zeta_omega, zeta_lambda, min_decrease = tuning(sigma, rows.shape[0] - n0, y.shape[1] - t0, method)
    z, gram_all = centred_pre_periods(y, t0, method != SC)
    return fit(y, rows, n0, t0, method, z, gram_all, zeta_omega, zeta_lambda, min_decrease, lam, omega)


@njit(cache=True)
def aggregate(y, units, adoption, origin, periods, method, warm, lam_all, omega_all, tau):
    """τ̂ = Σ_a N1_a·T1_a·τ̂_a / Σ_a N1_a·T1_a on a sample of units; NaN if a cohort's τ̂_a is undefined.

    Parameters
    ----------
    y : float64 array, shape (G, T)
    units, adoption : int64 arrays, shape (M,)
        The sample's rows of y (repeats allowed) and their adoption periods
        (0: a control).
    origin : int64 array, shape (M,)
        For a control row, its place among the fit's controls (the warm start's ω); unused otherwise.
    periods : int64 array, shape (K,)
        The fit's adoption periods; a cohort absent from the sample gets τ̂_a = NaN and no weight.
    warm : bool
        Start at the fit's weights ``lam_all[k, :T0]`` and ``omega_all[k, origin]`` (renormalised) and
        leave them unchanged; else start uniform (λ = 0 for sc) and store the fitted weights there.
    tau : float64 array, shape (K,)
        τ̂_a on return.
    """
    m = units.shape[0]
    t_all = y.shape[1]
    rows = np.empty(m, dtype=np.int64)
    n0 = 0
    for i in range(m):
        if adoption[i] == 0:
            rows[n0] = units[i]
            n0 += 1
    total = 0.0
    weight = 0.0
    for k in range(periods.shape[0]):
        a = periods[k]
        n = n0
        for i in range(m):
            if adoption[i] == a:
                rows[n] = units[i]
                n += 1
        if n == n0:
            tau[k] = math.nan
            continue
        t0 = a - 1
        if warm:
            lam = lam_all[k, :t0].copy()
            omega = np.empty(n0)
            j = 0
            for i in range(m):
                if adoption[i] == 0:
                    omega[j] = omega_all[k, origin[i]]
                    j += 1
            sum_normalize(omega)
        else:
            lam = np.full(t0, 0.0 if method == SC else 1.0 / t0)
            omega = np.full(n0, 1.0 / n0)
        tau[k] = cohort_fit(y, rows[:n], n0, t0, method, lam, omega)
        if not math.isfinite(tau[k]):
            return math.nan
        if not warm:
            lam_all[k, :t0] = lam
            omega_all[k, :n0] = omega
        cells = (n - n0) * (t_all - t0)
        total += cells * tau[k]
        weight += cells
    return total / weight


@njit(cache=True)
def jackknife(y, units, adoption, n0, periods, lam_all, omega_all):
    """Fixed-weights jackknife over the N kept units: (se, the τ̂₋ᵢ)."""
    n = units.shape[0]
    t_all = y.shape[1]
    k_all = periods.shape[0]
    contrast = np.empty((k_all, n))  # per cohort, each unit's Σ_{t ≥ T0} y/T1 − Σ_{t < T0} λ_t y
    for k in range(k_all):
        contrast[k] = unit_contrasts(y, units, periods[k] - 1, lam_all[k, : periods[k] - 1])
    values = np.empty(n)
    for left in range(n):
        total = 0.0
        weight = 0.0
        for k in range(k_all):
            a = periods[k]
            treated = 0.0
            n1 = 0
            for i in range(n0, n):
                if adoption[i] == a and i != left:
                    treated += contrast[k, i]
                    n1 += 1
            if n1 == 0:
                continue
            kept = 0.0
            for j in range(n0):
                if j != left:
                    kept += omega_all[k, j]
            control = 0.0
            for j in range(n0):
                if j != left:
                    w = omega_all[k, j] / kept if kept != 0.0 else 1.0 / (n0 - 1 if left < n0 else n0)
                    control += w * contrast[k, j]
            cells = n1 * (t_all - a + 1)
            total += cells * (treated / n1 - control)
            weight += cells
        values[left] = total / weight
    mean = values.mean()
    ss = 0.0
    for v in values:
        ss += (v - mean) * (v - mean)
    return math.sqrt((n - 1.0) / n * ss), values


@njit(cache=True)
def resample(rng, method, se_code, y, units, adoption, n0, periods, lam_all, omega_all, draws):
    """Fill ``draws`` (B,) with the bootstrap or placebo estimates; False if one is undefined."""
    n = units.shape[0]
    n1 = n - n0
    tau = np.empty(periods.shape[0])
    keys = np.empty(n0)
    picks = np.empty(n, dtype=np.int64)
    for draw in range(draws.shape[0]):
        if se_code == PLACEBO:
            order = placebo_order(rng, keys)
            sample = units[:n0].copy()
            placebo = np.zeros(n0, dtype=np.int64)
            for j in range(n1):
                placebo[order[n0 - n1 + j]] = adoption[n0 + j]
            origin = np.arange(n0)
            value = aggregate(y, sample, placebo, origin, periods, method, True, lam_all, omega_all, tau)
        else:
            bootstrap_picks(rng, picks, n0)
            value = aggregate(y, units[picks], adoption[picks], picks, periods, method, True, lam_all, omega_all,
                              tau)  # fmt: skip
        if not math.isfinite(value):
            return False
        draws[draw] = value
    return True


@njit(cache=True)
def one_replication(y, cohort_row, method, se_code, rng, draws):
    """One panel's (status, τ̂, se, number of cohorts), with the bootstrap or placebo estimates in ``draws``."""
    t_all = y.shape[1]
    units, adoption, n0, periods = staggered_design(cohort_row, t_all)
    n = units.shape[0]
    n1 = n - n0
    k_all = periods.shape[0]
    if n0 == 0:
        return st.NO_COMPARISON, math.nan, math.nan, k_all
    if n1 == 0:
        return st.NO_VARIATION, math.nan, math.nan, k_all
    lam_all = np.zeros((k_all, t_all))
    omega_all = np.zeros((k_all, n0))
    tau = np.empty(k_all)
    estimate = aggregate(y, units, adoption, units, periods, method, False, lam_all, omega_all, tau)
    if not math.isfinite(estimate):
        return st.NO_VARIATION, math.nan, math.nan, k_all
    if se_code == PLACEBO and n0 <= n1:
        return st.FEW_CONTROLS, estimate, math.nan, k_all
    if se_code == BOOTSTRAP and n1 == 1:
        return st.ONE_TREATED, estimate, math.nan, k_all
    if se_code == JACKKNIFE:
        for a in periods:
            if np.sum(adoption == a) == 1:
                return st.ONE_TREATED, estimate, math.nan, k_all
        se, replicates = jackknife(y, units, adoption, n0, periods, lam_all, omega_all)
    else:
        if not resample(rng, method, se_code, y, units, adoption, n0, periods, lam_all, omega_all, draws):
            return st.NO_VARIATION, estimate, math.nan, k_all
        se, replicates = draws_se(draws), draws
    if spread_is_rounding(se, replicates):
        return st.NO_VARIATION, estimate, se, k_all
    return st.OK, estimate, se, k_all


@njit(cache=True)
def staggered_kernel(y, cohort, method, se_code, n_draws, crit, truth, out, status, rng):
    """Batched ``sdid_staggered`` and ``sc_staggered``.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    cohort : float64 array, shape (R, G)
        Adoption periods (1-indexed; 0 or > T: never treated).
    method, se_code : int
        `kernel.SDID` or `kernel.SC`; PLACEBO, BOOTSTRAP or JACKKNIFE.
    n_draws : int
        B, placebo or bootstrap draws.
    crit : float
        z_{1−α/2}.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 6)
        estimate, se, ci_low, ci_high, reject, cohorts (the adoption periods estimated).
    status : int8 array, shape (R,)
    rng : numpy.random.Generator
        The estimator's own stream.
    """
    draws = np.empty(n_draws)
    for r in range(y.shape[0]):
        code, estimate, se, k_all = one_replication(y[r], cohort[r], method, se_code, rng, draws)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        write_wald(out, status, r, estimate, se, crit, truth[r])
        if status[r] == st.OK:
            out[r, COHORTS] = k_all
