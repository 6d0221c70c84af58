"""Imputation estimators of staggered DiD: Borusyak, Jaravel & Spiess (2024) and Gardner's two-stage DiD.

Data: ``panel_y`` (R, G, T) and ``cohort`` (R, G), each unit's adoption
period g_i (1-indexed; 0, or a period after the panel, = never treated).
D_it = 1(t ≥ g_i) for adopters.

Both fit y_it = α_i + λ_t + ε_it by least squares on the untreated
observations Ω₀ = {D_it = 0} only, impute Y_it(0) = α̂_i + λ̂_t for the
treated ones and average τ̂_it = y_it − α̂_i − λ̂_t over a term's cells:
``att`` every treated cell, ``e=k`` (k = 0 … lags − 1) those with
t − g_i = k, each cell weighted equally (w_it = 1/N_term).  Gardner's
two-stage estimate (a second-stage regression of y − α̂ − λ̂ on D, or on
event-time dummies, without intercept) is the same number.

The first stage.  Unit i's untreated periods S_i; with α concentrated out
the period effects solve M λ = b with
M_ts = n_t·1(t = s) − Σ_{i: t, s ∈ S_i} 1/|S_i| and
b_t = Σ_{i: t ∈ S_i}(y_it − ȳ_i⁰), λ₁ = 0; then α_i = mean_{S_i}(y − λ).
A period with no untreated unit (t ≥ the last adoption when every unit
adopts) has no λ_t, a unit adopting in period 1 no α_i: their treated
cells cannot be imputed.

Variance.  τ̂_w = Σ v_it y_it with v_it = w_it on the treated cells and
v_it = −(u_α,i + u_λ,t) on Ω₀, where (Z₀'Z₀)u = Z₁'w is the first-stage
system with the weights' sums by unit and by period on the right
(solved with the same M).  With unit scores
s_i = Σ_{t ∈ Ω₀} v_it ε̂_it + Σ_{t treated} w_it (τ̂_it − τ̄_it):

- ``imputation``: BJS (2024, Theorem 3) conservative variance Σ_i s_i²,
  τ̄ the average of τ̂ within cohort × event time cells of the term
  (their default partition), normal intervals; ``variance = leave_out``
  replaces τ̄ by the average over the cell's other units (their App. A.9,
  recommended with small cells; a cell of one unit keeps τ̄): τ̂ − τ̄
  scaled by n/(n − 1) (diff-diff ``leave_one_out=True``).
- ``did2s``: Gardner's GMM sandwich of the two stages, Σ_i s_i² with τ̄
  the term's estimate (the second-stage residual), no G/(G − 1) factor
  (pyfixest ``did2s``), normal intervals.

Statuses: ``no_comparison`` when a cell of the term cannot be imputed,
``no_variation`` when the term has no cell, ``singular`` when the first
stage is not identified.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numba import njit

from .. import status as st
from ..inference import (
    cholesky_inplace,
    cholesky_solve,
    normal_critical,
    write_failure,
    write_wald,
)
from ..moments import FAST
from ..spec import Estimator, Setting
from .cohorts import EVENT, LAGS, term_codes
from .conventions import panel_dummies

BY_COHORT_EVENT, BY_TERM = 0, 1  # how τ̄ averages the imputed effects in the variance


def imputation_terms(shapes, options):
    return ("att", *(f"e={e}" for e in range(options["lags"])))


@njit(cache=True)
def term_periods(adopt, event, e, n_periods):
    """(first, stop): the 0-indexed periods of a unit's cells in a term; adopt = g_i − 1, −1 never treated."""
    if adopt < 0:
        return 0, 0
    if not event:
        return adopt, n_periods
    t = adopt + e
    return (t, t + 1) if 0 <= t < n_periods else (0, 0)


@njit(cache=True)
def partition_cell(partition, gi, e, n_periods):
    """The cell of τ̄ a treated cell (cohort gi, event time e) falls in: its (g, e) pair, or 0 (the whole term)."""
    return (int(gi) - 1) * n_periods + e if partition == BY_COHORT_EVENT else 0


@njit(cache=True, fastmath=FAST)
def imputation_kernel(y, cohort, kinds, events, partition, leave_out, crit, truth, out, status):
    """Batched imputation (BJS 2024) or two-stage (Gardner 2022) DiD with their variances.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    cohort : float64 array, shape (R, G)
        Adoption period (1-indexed); 0 or beyond T never treated.
    kinds, events : int64 arrays, shape (m,)
        SIMPLE (``att``: every treated cell) or EVENT terms and their event times.
    partition : int
        BY_COHORT_EVENT (BJS) or BY_TERM (did2s): the cells within which τ̄ averages τ̂.
    leave_out : bool
        Scale τ̂ − τ̄ by n/(n − 1) in a partition cell of n ≥ 2 units: the
        leave-one-out τ̄ of BJS (2024, App. A.9).
    crit : float
        Normal critical value.
    truth : float64 array, shape (R, m)
    out : float64 array, shape (R, m, 5)
    status : int8 array, shape (R, m)

    Notes
    -----
    Per replication: M ((T − 1) × (T − 1)) from the units' untreated
    periods, one Cholesky factorisation, one solve for λ̂ and one per term
    for u (module docstring), O(G·T) each.
    """
    n_reps, n_units, n_periods = y.shape
    n_terms = kinds.shape[0]
    q = n_periods - 1
    index = np.empty(n_periods, dtype=np.int64)  # period t − 1 → row of M, −1 for λ₁ = 0 or unidentified
    n_at = np.empty(n_periods)
    with_last = np.empty(n_periods + 1)  # units whose untreated periods are 1 … L, by L
    last = np.empty(n_units, dtype=np.int64)  # unit i's untreated periods: 1 … last[i]
    adopt = np.empty(n_units, dtype=np.int64)  # g_i − 1 (0-indexed adoption period), −1 never
    m_mat = np.empty((q, q))
    rhs = np.empty(q)
    lam = np.empty(n_periods)
    resid = np.empty((n_units, n_periods))  # ε̂ on Ω₀, τ̂ on treated cells
    a_unit = np.empty(n_units)
    a_period = np.empty(n_periods)
    part_sum = np.empty(n_periods * n_periods)
    part_count = np.empty(n_periods * n_periods)
    for r in range(n_reps):
        # The untreated cells: each unit's are its first last[i] periods.
        n_at[:] = 0.0
        with_last[:] = 0.0
        for i in range(n_units):
            gi = cohort[r, i]
            never = gi < 1.0 or gi > n_periods
            adopt[i] = -1 if never else int(gi) - 1
            last[i] = n_periods if never else int(gi) - 1
            with_last[last[i]] += 1.0
            for t in range(last[i]):
                n_at[t] += 1.0
        if n_at[0] == 0.0:
            for j in range(n_terms):
                write_failure(out[r], status[r], j, st.NO_COMPARISON)
            continue
        k = 0
        index[0] = -1
        for t in range(1, n_periods):
            if n_at[t] > 0.0:
                index[t] = k
                k += 1
            else:
                index[t] = -1
        # M (lower triangle) and b: the unit effects concentrated out, M by groups of equal S_i.
        m_mat[:k, :k] = 0.0
        rhs[:k] = 0.0
        for t in range(1, n_periods):
            if index[t] >= 0:
                m_mat[index[t], index[t]] = n_at[t]
        for span in range(2, n_periods + 1):
            if with_last[span] == 0.0:
                continue
            share = with_last[span] / span
            for t in range(1, span):
                for u in range(1, t + 1):
                    m_mat[index[t], index[u]] -= share
        for i in range(n_units):
            mean_y = 0.0
            for t in range(last[i]):
                mean_y += y[r, i, t]
            if last[i] > 0:
                mean_y /= last[i]
            for t in range(1, last[i]):
                rhs[index[t]] += y[r, i, t] - mean_y
        if k > 0 and not cholesky_inplace(m_mat, k):
            for j in range(n_terms):
                write_failure(out[r], status[r], j, st.SINGULAR)
            continue
        cholesky_solve(m_mat, rhs, k)
        for t in range(n_periods):
            lam[t] = rhs[index[t]] if index[t] >= 0 else (0.0 if t == 0 else math.nan)
        for i in range(n_units):  # α̂_i = mean over S_i of y − λ̂; NaN without untreated periods
            alpha = math.nan
            if last[i] > 0:
                alpha = 0.0
                for t in range(last[i]):
                    alpha += y[r, i, t] - lam[t]
                alpha /= last[i]
            for t in range(n_periods):
                resid[i, t] = y[r, i, t] - alpha - lam[t]
        for j in range(n_terms):
            event = kinds[j] == EVENT
            # The term's cells (t from first to stop − 1 per unit): weights 1/N, all imputable?
            n_cells = 0.0
            missing = False
            for i in range(n_units):
                first, stop = term_periods(adopt[i], event, events[j], n_periods)
                for t in range(first, stop):
                    n_cells += 1.0
                    if last[i] == 0 or (t > 0 and index[t] < 0):
                        missing = True
                    cell = partition_cell(partition, adopt[i] + 1, t - adopt[i], n_periods)
                    part_sum[cell] = 0.0
                    part_count[cell] = 0.0
            if missing or n_cells == 0.0:
                write_failure(out[r], status[r], j, st.NO_COMPARISON if missing else st.NO_VARIATION)
                continue
            w = 1.0 / n_cells
            # Estimate, weight sums by unit and period, and τ̄ per partition cell (cohort × event time or term).
            theta = 0.0
            a_period[:] = 0.0
            for i in range(n_units):
                a_unit[i] = 0.0
                first, stop = term_periods(adopt[i], event, events[j], n_periods)
                for t in range(first, stop):
                    theta += w * resid[i, t]
                    a_unit[i] += w
                    a_period[t] += w
                    cell = partition_cell(partition, adopt[i] + 1, t - adopt[i], n_periods)
                    part_sum[cell] += resid[i, t]
                    part_count[cell] += 1.0
            # u solves the first-stage system with the weights' sums on the right.
            rhs[:k] = 0.0
            for t in range(1, n_periods):
                if index[t] >= 0:
                    rhs[index[t]] = a_period[t]
            for i in range(n_units):
                if a_unit[i] == 0.0:  # not in the term (never treated, or another event time)
                    continue
                for t in range(1, last[i]):
                    rhs[index[t]] -= a_unit[i] / last[i]
            cholesky_solve(m_mat, rhs, k)
            ss = 0.0
            for i in range(n_units):
                # Untreated part −Σ_t (u_α,i + u_λ,t)·ε̂_it: the u_α,i term vanishes, as Σ_{t ∈ S_i} ε̂_it = 0.
                s = 0.0
                for t in range(1, last[i]):
                    s -= rhs[index[t]] * resid[i, t]
                first, stop = term_periods(adopt[i], event, events[j], n_periods)
                for t in range(first, stop):
                    cell = partition_cell(partition, adopt[i] + 1, t - adopt[i], n_periods)
                    n_cell = part_count[cell]
                    scale = n_cell / (n_cell - 1.0) if leave_out and n_cell >= 2.0 else 1.0
                    s += w * scale * (resid[i, t] - part_sum[cell] / n_cell)
                ss += s * s
            write_wald(out[r], status[r], j, theta, math.sqrt(ss), crit, truth[r, j])


def _run(batch, truth, options, level, out, status, partition):
    kinds, events = term_codes(imputation_terms(None, options))
    leave_out = options.get("variance") == "leave_out"
    imputation_kernel(
        batch["panel_y"], batch["cohort"], kinds, events, partition, leave_out, normal_critical(level),
        truth, out, status,
    )  # fmt: skip


def _reference(batch, truth, options, level, out, status, partition):
    """Plain numpy: unit and period dummies on the untreated cells (λ₁ = 0), least squares, the imputation
    weights v₀ = −Z₀(Z₀'Z₀)⁻¹Z₁'w built as matrices, τ̄ by pandas-style grouping."""
    from scipy import stats

    crit = stats.norm.ppf(0.5 + level / 2)
    terms = imputation_terms(None, options)
    y_all = batch["panel_y"]
    n_units, n_periods = y_all.shape[1:]
    unit, period, Z = panel_dummies(n_units, n_periods)
    for r in range(y_all.shape[0]):
        g = np.repeat(batch["cohort"][r], n_periods)
        g = np.where(g > n_periods, 0, g)
        treated = (g >= 1) & (period >= g)
        y = y_all[r].reshape(-1)
        z0 = Z[~treated]
        has = z0.any(axis=0)  # a unit or period without untreated cells has no effect to estimate
        coef = np.full(Z.shape[1], np.nan)
        coef[has] = np.linalg.lstsq(z0[:, has], y[~treated], rcond=None)[0]
        resid = y - Z[:, has] @ coef[has]
        imputable = (Z[:, ~has].sum(axis=1) == 0) if (~has).any() else np.ones(len(y), bool)
        event = period - g
        for j, term in enumerate(terms):
            cells = treated & (True if term == "att" else event == int(term[2:]))
            if not cells.any() or not imputable[cells].all():
                write_failure(out[r], status[r], j, st.NO_COMPARISON if cells.any() else st.NO_VARIATION)
                continue
            w = cells / cells.sum()
            v0 = -z0[:, has] @ np.linalg.solve(z0[:, has].T @ z0[:, has], Z[:, has][cells].T @ w[cells])
            tau_bar = np.empty(len(y))
            keys = g * (n_periods + 1) + event if partition == BY_COHORT_EVENT else np.zeros(len(y))
            scale = np.ones(len(y))
            for key in np.unique(keys[cells]):
                members = cells & (keys == key)
                tau_bar[members] = resid[members].mean()
                if options.get("variance") == "leave_out" and members.sum() >= 2:
                    # τ̂ minus the mean of the cell's other members: n/(n − 1)·(τ̂ − τ̄)
                    tau_bar[members] = (resid[members].sum() - resid[members]) / (members.sum() - 1)
            contribution = np.zeros(len(y))
            contribution[~treated] = v0 * resid[~treated]
            contribution[cells] = w[cells] * scale[cells] * (resid[cells] - tau_bar[cells])
            scores = np.bincount(unit, weights=contribution, minlength=n_units)
            write_wald(out[r], status[r], j, w @ resid, np.sqrt(scores @ scores), crit, truth[r, j])


ESTIMATORS = (
    Estimator(
        name="imputation",
        summary="Borusyak, Jaravel & Spiess (2024) imputation: unit and period effects from the untreated cells, "
        "terms att and e=0 … lags−1, their conservative variance (diff-diff ImputationDiD)",
        needs=("panel_y", "cohort"),
        run=partial(_run, partition=BY_COHORT_EVENT),
        reference=partial(_reference, partition=BY_COHORT_EVENT),
        options=(
            LAGS,
            Setting(
                "variance",
                "bjs",
                "bjs: Theorem 3's conservative variance; leave_out: with the leave-one-out cell means (App. A.9)",
                choices=("bjs", "leave_out"),
            ),
        ),
        terms=imputation_terms,
    ),
    Estimator(
        name="did2s",
        summary="Gardner (2022) two-stage DiD: the imputation estimate with its GMM standard error "
        "(pyfixest did2s), terms att and e=0 … lags−1",
        needs=("panel_y", "cohort"),
        run=partial(_run, partition=BY_TERM),
        reference=partial(_reference, partition=BY_TERM),
        options=(LAGS,),
        terms=imputation_terms,
    ),
)
