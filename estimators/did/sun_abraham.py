"""Sun & Abraham (2021) interaction-weighted event study, from cohort × period means.

Data and cohort shares as in `cohorts`.

``sunab`` (Sun & Abraham 2021, interaction-weighted): the regression of y
on cohort × period indicators of every adopting cohort but its period
g − 1, with unit and period effects, the never-treated the control cohort.
It is saturated in cohort × period cells, so each coefficient is
δ_{g,t} = (ȳ_{g,t} − ȳ_{g,g−1}) − (ȳ_{C,t} − ȳ_{C,g−1}) and its residuals
are y_it − ȳ_i − ȳ_{c(i),t} + ȳ_{c(i)} within unit i's cohort c(i).  Terms:
ATT(e) = Σ_g (n_g/Σn) δ_{g,g+e} over the cohorts observed at e
(e = −leads … lags − 1, e ≠ −1), and ``att`` the n_g-weighted mean of the
post cells (δ equals CS's never-treated, universal-base ATT(g, t)).  The
standard error holds the cohort shares fixed (Stata's
``eventstudyinteract`` adds their variance): CR1 by unit of the linear
combination, CR0·G/(G − 1)·(N − 1)/(N − K) with K = A(T − 1) + T (A
adopting cohorts; the unit effects, nested in the clusters, count as one:
pyfixest CRV1), t(G − 1).

Statuses: ``no_comparison`` without never-treated units; ``no_variation``
when a term has no cell (no cohort observed at that event time) or a zero
variance.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import cr1_factor, t_critical_table, write_failure, write_wald
from ..moments import FAST
from ..spec import Estimator
from .cohorts import (
    DROPPED,
    EVENT,
    LAGS,
    LEADS,
    NEVER,
    bind_terms,
    cohorts_of,
    kept_cohorts,
    term_codes,
    window_terms,
)


@njit(cache=True, fastmath=FAST)
def sunab_kernel(y, cohort, kinds, events, t_table, truth, out, status):
    """Batched Sun & Abraham interaction-weighted event study, never-treated control, CR1 by unit.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    cohort : float64 array, shape (R, G)
        Adoption period (1-indexed); 0 or beyond T never treated; 1 dropped.
    kinds, events : int64 arrays, shape (m,)
        SIMPLE (``att``) or EVENT terms and their event times.
    t_table : float64 array
        t critical values by degrees of freedom (G − 1 used).
    truth : float64 array, shape (R, m)
    out : float64 array, shape (R, m, 5)
    status : int8 array, shape (R, m)

    Notes
    -----
    From the cohort × period means ȳ_{c,t} (cohort index A the never
    treated), the unit means and the cohort means: δ_{a,t} and the
    residuals e_it in closed form (module docstring).  A term
    θ = Σ_k w_k δ_k is linear in y with weights
    (1(i ∈ a_k)/n_a − 1(i ∈ C)/n_C)(1(t = t_k) − 1(t = g_k − 1)), so unit
    i's score is Σ_t (weight)·e_it and V = CR1 factor · Σ_i s_i².
    """
    n_reps, n_units, n_periods = y.shape
    n_terms = kinds.shape[0]
    members = np.empty(n_units, dtype=np.int64)
    groups = np.empty(n_periods, dtype=np.int64)
    size = np.empty(n_periods + 1)
    cell = np.empty((n_periods + 1, n_periods))  # cohort × period means; row n_groups the never treated
    cohort_mean = np.empty(n_periods + 1)
    resid = np.empty((n_units, n_periods))
    weight = np.empty(n_periods)
    score = np.empty(n_units)
    for r in range(n_reps):
        n_groups, n_kept, n_never = cohorts_of(cohort[r], n_periods, members, groups, size)
        if n_never == 0:
            for j in range(n_terms):
                write_failure(out[r], status[r], j, st.NO_COMPARISON)
            continue
        control = n_groups
        size[control] = n_never
        cell[: n_groups + 1, :] = 0.0
        for i in range(n_units):
            m = members[i]
            if m == DROPPED:
                continue
            c = control if m == NEVER else m
            for t in range(n_periods):
                cell[c, t] += y[r, i, t]
        for c in range(n_groups + 1):
            cohort_mean[c] = 0.0
            for t in range(n_periods):
                cell[c, t] /= size[c]
                cohort_mean[c] += cell[c, t]
            cohort_mean[c] /= n_periods
        for i in range(n_units):
            m = members[i]
            if m == DROPPED:
                continue
            c = control if m == NEVER else m
            unit_mean = 0.0
            for t in range(n_periods):
                unit_mean += y[r, i, t]
            unit_mean /= n_periods
            for t in range(n_periods):
                resid[i, t] = y[r, i, t] - unit_mean - cell[c, t] + cohort_mean[c]
        n_obs = n_kept * n_periods
        k_cr = n_groups * (n_periods - 1) + n_periods
        if n_kept < 2 or n_obs - k_cr <= 0:
            for j in range(n_terms):
                write_failure(out[r], status[r], j, st.TOO_FEW_CLUSTERS if n_kept < 2 else st.NO_RESIDUAL_DF)
            continue
        factor = cr1_factor(n_kept, n_obs, k_cr)
        for j in range(n_terms):
            # weight[a]: cohort a's share in the term, per cell (a, t) with t = g_a + e, or every t ≥ g_a for att.
            s = 0.0
            for a in range(n_groups):
                weight[a] = 0.0
                if kinds[j] == EVENT:
                    t = groups[a] + events[j]
                    if 1 <= t <= n_periods and events[j] != -1:
                        weight[a] = size[a]
                else:
                    weight[a] = size[a] * (n_periods - groups[a] + 1)
                s += weight[a]
            if s == 0.0:
                write_failure(out[r], status[r], j, st.NO_VARIATION)
                continue
            theta = 0.0
            score[:] = 0.0
            for a in range(n_groups):
                if weight[a] == 0.0:
                    continue
                g = groups[a]
                first, last = (g + events[j], g + events[j]) if kinds[j] == EVENT else (g, n_periods)
                per_cell = weight[a] / s / (last - first + 1)  # the weight of each of cohort a's cells
                for t in range(first, last + 1):
                    theta += per_cell * (cell[a, t - 1] - cell[a, g - 2] - cell[control, t - 1] + cell[control, g - 2])
                    for i in range(n_units):
                        m = members[i]
                        if m == a:
                            score[i] += per_cell / size[a] * (resid[i, t - 1] - resid[i, g - 2])
                        elif m == NEVER:
                            score[i] -= per_cell / size[control] * (resid[i, t - 1] - resid[i, g - 2])
            ss = 0.0
            for i in range(n_units):
                ss += score[i] * score[i]
            write_wald(out[r], status[r], j, theta, math.sqrt(ss * factor), t_table[n_kept - 1], truth[r, j])


def _sunab_terms(shapes, options):
    return (*window_terms(options["leads"], options["lags"], True), "att")


def _run_sunab(batch, truth, options, level, out, status, terms):
    kinds, events = term_codes(terms)
    g = batch["panel_y"].shape[1]
    sunab_kernel(batch["panel_y"], batch["cohort"], kinds, events, t_critical_table(level, g), truth, out, status)


def _reference_sunab(batch, truth, options, level, out, status, terms):
    """Plain numpy: the saturated regression with unit, period and cohort × period dummies, OLS, CR1 by unit
    (K = coefficients + period effects), and the cohort-share-weighted combination w'β, w'Vw."""
    from scipy import stats

    n_periods = batch["panel_y"].shape[2]
    for r in range(batch["panel_y"].shape[0]):
        g_all, kept = kept_cohorts(batch["cohort"][r], n_periods)
        y, g_of = batch["panel_y"][r][kept], g_all[kept]
        n_units = len(g_of)
        if not (g_of == 0).any():
            for j in range(len(terms)):
                write_failure(out[r], status[r], j, st.NO_COMPARISON)
            continue
        unit = np.repeat(np.arange(n_units), n_periods)
        period = np.tile(np.arange(1, n_periods + 1), n_units)
        cohort = np.repeat(g_of, n_periods)
        cells = [(c, t) for c in sorted(set(g_of[g_of > 0])) for t in range(1, n_periods + 1) if t != c - 1]
        X = np.column_stack(
            [((cohort == c) & (period == t)).astype(float) for c, t in cells]
            + [(unit == i).astype(float) for i in range(n_units)]
            + [(period == t).astype(float) for t in range(2, n_periods + 1)]
        )
        xtx_inv = np.linalg.inv(X.T @ X)
        coef = xtx_inv @ X.T @ y.reshape(-1)
        resid = y.reshape(-1) - X @ coef
        scores = np.array([X[unit == i].T @ resid[unit == i] for i in range(n_units)])
        n_obs, k_cr = n_units * n_periods, len(cells) + n_periods
        cov = xtx_inv @ scores.T @ scores @ xtx_inv * n_units / (n_units - 1) * (n_obs - 1) / (n_obs - k_cr)
        crit = stats.t.ppf(0.5 + level / 2, n_units - 1)
        sizes = {c: np.sum(g_of == c) for c, _ in cells}
        for j, term in enumerate(terms):
            if term == "att":
                chosen = [(c, t) for c, t in cells if t >= c]
            else:
                chosen = [(c, t) for c, t in cells if t - c == int(term[2:])]
            if not chosen:
                write_failure(out[r], status[r], j, st.NO_VARIATION)
                continue
            w = np.zeros(X.shape[1])
            for c, t in chosen:
                w[cells.index((c, t))] = sizes[c]
            w /= w.sum()
            write_wald(out[r], status[r], j, w @ coef, np.sqrt(w @ cov @ w), crit, truth[r, j])


ESTIMATORS = (
    Estimator(
        name="sunab",
        summary="Sun & Abraham (2021) interaction-weighted event study (never-treated control), terms "
        "e=−leads … lags−1 and att; CR1 by unit with cohort shares held fixed (pyfixest saturated)",
        needs=("panel_y", "cohort"),
        run=bind_terms(_run_sunab, _sunab_terms),
        reference=bind_terms(_reference_sunab, _sunab_terms),
        options=(LEADS, LAGS),
        terms=_sunab_terms,
    ),
)
