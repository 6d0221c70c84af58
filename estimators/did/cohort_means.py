"""Heterogeneity-robust staggered DiD from cohort × period means: Callaway & Sant'Anna, Sun & Abraham.

Data: ``panel_y`` (R, G, T) and ``cohort`` (R, G), each unit's adoption
period g_i (1-indexed; 0 = never treated, as is a period after the panel).
Units adopting in period 1 have no pre-period and are dropped (R ``did``
does the same).  p_g = n_g/n is cohort g's share of the n units kept.

``cs`` (Callaway & Sant'Anna 2021, outcome regression without covariates,
the estimator of R ``did`` and Python ``csdid``).  For cohort g, period t
and base period b (``base = varying``: b = g − 1 for t ≥ g and b = t − 1
before; ``universal``: b = g − 1 always, and ATT(g, g − 1) = 0 is not
reported), with Δ_i = y_it − y_ib,

    ATT(g, t) = mean_{G_i = g} Δ_i − mean_{i ∈ C} Δ_i

where C are the never-treated units (``control = never``) or those not yet
treated, G_i = 0 or G_i > max(t, b) with G_i ≠ g (``notyet``).  Its
influence function (θ̂ − θ ≈ mean_i ψ_i) is

    ψ_i = (n/n_g)·1(G_i = g)(Δ_i − m_g) − (n/n_C)·1(i ∈ C)(Δ_i − m_C).

Aggregations weight the cells k = (g, t) by p_g: θ = Σ_k p_k ATT_k / S
with S = Σ_k p_k.  Their influence function adds that of the estimated
weights (R ``did``'s ``wif``), which simplifies to

    IF_i = Σ_k (p_k/S) ψ_k,i + Σ_{k: g_k = G_i} (ATT_k − θ)/S,

and SE = √(Σ_i IF_i²)/n, with normal intervals (``bstrap = FALSE``; the
units are the clusters, as every unit is one row of Δ).  Terms:
``aggregation = simple``: ``att``, the cells t ≥ g; ``group``: ``group``,
Σ_g p_g θ_g / Σ p_g over the cohorts' averages θ_g = mean_{t ≥ g} ATT(g, t)
(their IF the mean of the cells'); ``dynamic``: ``dynamic``, the mean of
ATT(e) over e = 0 … T − min g (the mean of their IFs); ``event``: ATT(e)
for e = −leads … lags − 1, each the cells t = g + e, plus ``dynamic``.

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

Statuses: ``no_comparison`` when a cell of the term has no comparison
units (no never-treated unit for ``control = never`` or ``sunab``, or a
late cohort with nobody left untreated); ``no_variation`` when the term
has no cell (no cohort observed at that event time) or a zero variance.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, t_critical_table, write_failure, write_wald
from ..moments import FAST
from ..spec import Estimator, Setting
from .conventions import cr1_factor

SIMPLE, GROUP, DYNAMIC, EVENT = range(4)
AGGREGATE_TERMS = {"att": SIMPLE, "group": GROUP, "dynamic": DYNAMIC}
NEVER = -1  # a unit's cohort index when never treated
DROPPED = -2  # adopts in period 1: no pre-period


def window_terms(leads: int, lags: int, reference: bool) -> tuple[str, ...]:
    """``e=k`` for k = −leads … lags − 1; e = −1 left out when it is the reference period."""
    return tuple(f"e={e}" for e in range(-leads, lags) if not (reference and e == -1))


def term_codes(terms) -> tuple[np.ndarray, np.ndarray]:
    """(kind, event time) arrays of term names: att, group, dynamic or e=k."""
    kinds = np.array([AGGREGATE_TERMS.get(term, EVENT) for term in terms], dtype=np.int64)
    events = np.array([int(term[2:]) if term.startswith("e=") else 0 for term in terms], dtype=np.int64)
    return kinds, events


@njit(cache=True)
def cohorts_of(cohort_row, n_periods, members, groups, size):
    """Index units by adopting cohort; returns (number of cohorts, units kept, never-treated count).

    members[i]: index into groups (sorted adoption periods 2..T), NEVER, or DROPPED; size[a]: units of cohort a.
    """
    present = np.zeros(n_periods + 2, dtype=np.bool_)
    for i in range(cohort_row.shape[0]):
        gi = int(cohort_row[i])
        if 2 <= gi <= n_periods:
            present[gi] = True
    index_of = np.full(n_periods + 2, -1, dtype=np.int64)
    n_groups = 0
    for g in range(2, n_periods + 1):
        if present[g]:
            groups[n_groups] = g
            size[n_groups] = 0.0
            index_of[g] = n_groups
            n_groups += 1
    n_kept = 0
    n_never = 0
    for i in range(cohort_row.shape[0]):
        gi = int(cohort_row[i])
        if gi == 1:
            members[i] = DROPPED
            continue
        n_kept += 1
        if gi <= 0 or gi > n_periods:
            members[i] = NEVER
            n_never += 1
        else:
            members[i] = index_of[gi]
            size[index_of[gi]] += 1.0
    return n_groups, n_kept, n_never


@njit(cache=True)
def event_keepers(e, n_groups, groups, n_periods, defined, keep_group, keep_period):
    """The cells (a, g_a + e) of event time e that are defined; returns (count, any without comparison units)."""
    n_keep = 0
    missing = False
    for a in range(n_groups):
        t = groups[a] + e
        if t < 1 or t > n_periods or defined[a, t - 1] == 0:
            continue
        if defined[a, t - 1] == 2:
            missing = True
        keep_group[n_keep] = a
        keep_period[n_keep] = t
        n_keep += 1
    return n_keep, missing


@njit(cache=True)
def weighted_cells(n_keep, keep_group, keep_period, size, n_kept, att, psi, members, infl):
    """θ = Σ_k p_k ATT_k / S over the kept cells; writes its influence function (the weights' included) into infl.

    With p_k = n_k/n the weights' part Σ_{k: g_k = G_i}(ATT_k − θ)/S is (ATT_k − θ)·n/Σ_k n_k.
    """
    s = 0.0
    theta = 0.0
    for k in range(n_keep):
        s += size[keep_group[k]]
        theta += size[keep_group[k]] * att[keep_group[k], keep_period[k] - 1]
    theta /= s
    infl[:] = 0.0
    for k in range(n_keep):
        a, t = keep_group[k], keep_period[k] - 1
        share = size[a] / s
        gap = (att[a, t] - theta) * n_kept / s
        for i in range(infl.shape[0]):
            infl[i] += share * psi[a, t, i]
            if members[i] == a:
                infl[i] += gap
    return theta


@njit(cache=True)
def cs_cells(y_r, members, groups, n_groups, size, n_kept, not_yet, universal, min_event, att, psi, defined, delta):
    """The ATT(g, t) with t − g ≥ min_event (those the terms use) and their influence functions;
    defined[a, t−1]: 0 none, 1 ok, 2 no comparison."""
    n_units, n_periods = y_r.shape
    for a in range(n_groups):
        g = groups[a]
        for t in range(1, n_periods + 1):
            base = g - 1 if (universal or t >= g) else t - 1
            if base < 1 or t == base or t - g < min_event:
                defined[a, t - 1] = 0
                continue
            latest = max(t, base)
            sum_g = 0.0
            sum_c = 0.0
            n_c = 0.0
            for i in range(n_units):
                m = members[i]
                if m == DROPPED:
                    continue
                d = y_r[i, t - 1] - y_r[i, base - 1]
                delta[i] = d
                if m == a:
                    sum_g += d
                elif m == NEVER or (not_yet and groups[m] > latest):
                    sum_c += d
                    n_c += 1.0
            if n_c == 0.0:
                defined[a, t - 1] = 2
                continue
            defined[a, t - 1] = 1
            mean_g = sum_g / size[a]
            mean_c = sum_c / n_c
            att[a, t - 1] = mean_g - mean_c
            for i in range(n_units):
                m = members[i]
                if m == a:
                    psi[a, t - 1, i] = n_kept / size[a] * (delta[i] - mean_g)
                elif m != DROPPED and (m == NEVER or (not_yet and groups[m] > latest)):
                    psi[a, t - 1, i] = -n_kept / n_c * (delta[i] - mean_c)
                else:
                    psi[a, t - 1, i] = 0.0


@njit(cache=True, fastmath=FAST)
def cs_kernel(y, cohort, not_yet, universal, kinds, events, crit, truth, out, status):
    """Batched Callaway & Sant'Anna: ATT(g, t) cells, aggregated into terms, influence-function SEs.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    cohort : float64 array, shape (R, G)
        Adoption period (1-indexed); 0 or beyond T never treated; 1 dropped.
    not_yet : bool
        Comparison units not yet treated (else never treated).
    universal : bool
        Base period g − 1 for every cell (else the period before t when t < g).
    kinds, events : int64 arrays, shape (m,)
        Each term's aggregation (SIMPLE, GROUP, DYNAMIC, EVENT) and event time.
    crit : float
        Normal critical value z_{1−α/2}.
    truth : float64 array, shape (R, m)
    out : float64 array, shape (R, m, 5)
    status : int8 array, shape (R, m)

    Notes
    -----
    Cost per replication O(A·T·G) for the cells and O(m·A·T·G) for the
    terms (A adopting cohorts).  See the module docstring for the formulas.
    """
    n_reps, n_units, n_periods = y.shape
    n_terms = kinds.shape[0]
    members = np.empty(n_units, dtype=np.int64)
    groups = np.empty(n_periods, dtype=np.int64)
    size = np.empty(n_periods)
    att = np.empty((n_periods, n_periods))
    psi = np.empty((n_periods, n_periods, n_units))
    defined = np.zeros((n_periods, n_periods), dtype=np.int8)
    delta = np.empty(n_units)
    infl = np.empty(n_units)
    total = np.empty(n_units)
    keep_group = np.empty(n_periods * n_periods, dtype=np.int64)
    keep_period = np.empty(n_periods * n_periods, dtype=np.int64)
    group_att = np.empty((n_periods, 1))
    group_psi = np.empty((n_periods, 1, n_units))
    min_event = 0  # the earliest event time a term reads: only those cells are computed
    for j in range(n_terms):
        if kinds[j] == EVENT:
            min_event = min(min_event, events[j])
    for r in range(n_reps):
        n_groups, n_kept_int, _ = cohorts_of(cohort[r], n_periods, members, groups, size)
        n_kept = float(n_kept_int)
        cs_cells(y[r], members, groups, n_groups, size, n_kept, not_yet, universal, min_event, att, psi, defined, delta)
        for j in range(n_terms):
            kind = kinds[j]
            theta = math.nan
            code = st.OK
            if kind == EVENT:
                n_keep, missing = event_keepers(
                    events[j], n_groups, groups, n_periods, defined, keep_group, keep_period
                )
                if missing:
                    code = st.NO_COMPARISON
                elif n_keep == 0:
                    code = st.NO_VARIATION
                else:
                    theta = weighted_cells(n_keep, keep_group, keep_period, size, n_kept, att, psi, members, total)
            elif kind == DYNAMIC:
                n_events = 0
                theta = 0.0
                total[:] = 0.0
                last = n_periods - groups[0] if n_groups > 0 else -1
                for e in range(0, last + 1):
                    n_keep, missing = event_keepers(e, n_groups, groups, n_periods, defined, keep_group, keep_period)
                    if missing:
                        code = st.NO_COMPARISON
                        break
                    theta += weighted_cells(n_keep, keep_group, keep_period, size, n_kept, att, psi, members, infl)
                    for i in range(n_units):
                        total[i] += infl[i]
                    n_events += 1
                if code == st.OK and n_events == 0:
                    code = st.NO_VARIATION
                if code == st.OK:
                    theta /= n_events
                    for i in range(n_units):
                        total[i] /= n_events
            else:
                n_keep = 0
                for a in range(n_groups):
                    cells = 0
                    group_att[a, 0] = 0.0
                    group_psi[a, 0, :] = 0.0
                    for t in range(groups[a], n_periods + 1):
                        if defined[a, t - 1] == 2:
                            code = st.NO_COMPARISON
                        elif defined[a, t - 1] == 1:
                            keep_group[n_keep] = a
                            keep_period[n_keep] = t
                            n_keep += 1
                            cells += 1
                            group_att[a, 0] += att[a, t - 1]
                            for i in range(n_units):
                                group_psi[a, 0, i] += psi[a, t - 1, i]
                    if cells > 0:
                        group_att[a, 0] /= cells
                        for i in range(n_units):
                            group_psi[a, 0, i] /= cells
                if code == st.OK and n_keep == 0:
                    code = st.NO_VARIATION
                if code == st.OK:
                    if kind == SIMPLE:
                        theta = weighted_cells(n_keep, keep_group, keep_period, size, n_kept, att, psi, members, total)
                    else:
                        for a in range(n_groups):
                            keep_group[a] = a
                            keep_period[a] = 1
                        theta = weighted_cells(
                            n_groups, keep_group, keep_period, size, n_kept, group_att, group_psi, members, total
                        )
            if code != st.OK:
                write_failure(out[r], status[r], j, code)
                continue
            ss = 0.0
            for i in range(n_units):
                ss += total[i] * total[i]
            write_wald(out[r], status[r], j, theta, math.sqrt(ss) / n_kept, crit, truth[r, j])


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


# -- Python side ---------------------------------------------------------------------------------------


def _cs_terms(shapes, options):
    aggregation = options["aggregation"]
    if aggregation == "event":
        return (*window_terms(options["leads"], options["lags"], options["base"] == "universal"), "dynamic")
    return ({"simple": "att"}.get(aggregation, aggregation),)


def _sunab_terms(shapes, options):
    return (*window_terms(options["leads"], options["lags"], True), "att")


def _run_cs(batch, truth, options, level, out, status, terms):
    kinds, events = term_codes(terms)
    cs_kernel(
        batch["panel_y"], batch["cohort"], options["control"] == "notyet", options["base"] == "universal",
        kinds, events, normal_critical(level), truth, out, status,
    )  # fmt: skip


def _run_sunab(batch, truth, options, level, out, status, terms):
    kinds, events = term_codes(terms)
    g = batch["panel_y"].shape[1]
    sunab_kernel(batch["panel_y"], batch["cohort"], kinds, events, t_critical_table(level, g), truth, out, status)


def _kept_cohorts(cohorts, n_periods):
    """Plain: adoption periods with never treated (0 or beyond T) as 0, and the mask of units kept (not g = 1)."""
    g = np.where((cohorts > n_periods) | (cohorts <= 0), 0, cohorts).astype(int)
    return g, g != 1


def _reference_cs(batch, truth, options, level, out, status, terms):
    """Plain numpy: each ATT(g, t) as a difference of means, R ``did``'s aggregation with its ``wif`` as written
    there (if1 − if2), SE √(mean IF²/n)."""
    from scipy import stats

    crit = stats.norm.ppf(0.5 + level / 2)
    universal, not_yet = options["base"] == "universal", options["control"] == "notyet"
    n_periods = batch["panel_y"].shape[2]
    for r in range(batch["panel_y"].shape[0]):
        g_all, kept = _kept_cohorts(batch["cohort"][r], n_periods)
        y, g_of = batch["panel_y"][r][kept], g_all[kept]
        n = len(g_of)
        cohorts = sorted(set(g_of[g_of > 0]))
        p = {c: np.mean(g_of == c) for c in cohorts}
        cells = {}  # (g, t) -> (att, psi) or None without comparison units
        for c in cohorts:
            for t in range(1, n_periods + 1):
                base = c - 1 if (universal or t >= c) else t - 1
                if base < 1 or t == base:
                    continue
                d = y[:, t - 1] - y[:, base - 1]
                treated = g_of == c
                control = (g_of == 0) | ((g_of > max(t, base)) & (g_of != c)) if not_yet else g_of == 0
                if not control.any():
                    cells[c, t] = None
                    continue
                psi = n / treated.sum() * treated * (d - d[treated].mean())
                psi -= n / control.sum() * control * (d - d[control].mean())
                cells[c, t] = (d[treated].mean() - d[control].mean(), psi)

        def aggregate(keys, values=None, ifs=None):
            """R did's get_agg_inf_func with wif: weights p_g / Σ p_g over `keys` (cohort of each)."""
            values = np.array([cells[k][0] for k in keys] if values is None else values)
            ifs = np.array([cells[k][1] for k in keys] if ifs is None else ifs)
            pg = np.array([p[k[0]] for k in keys])
            weights = pg / pg.sum()
            indicator = np.array([(g_of == k[0]).astype(float) for k in keys])  # (keys, n)
            if1 = (indicator - pg[:, None]) / pg.sum()
            if2 = np.sum(indicator - pg[:, None], axis=0)[None, :] * (pg / pg.sum() ** 2)[:, None]
            total = weights @ ifs + (if1 - if2).T @ values
            return weights @ values, total

        def event(e):
            keys = [(c, c + e) for c in cohorts if (c, c + e) in cells]
            if any(cells[k] is None for k in keys):
                return st.NO_COMPARISON, None
            return (st.OK, aggregate(keys)) if keys else (st.NO_VARIATION, None)

        for j, term in enumerate(terms):
            post = [(c, t) for (c, t) in cells if t >= c]
            if term.startswith("e="):
                code, result = event(int(term[2:]))
            elif any(cells[k] is None for k in post):
                code, result = st.NO_COMPARISON, None
            elif term == "att":
                code, result = st.OK, aggregate(post)
            elif term == "group":
                keys = [(c, c) for c in cohorts]
                values = [np.mean([cells[c, t][0] for t in range(c, n_periods + 1)]) for c in cohorts]
                ifs = [np.mean([cells[c, t][1] for t in range(c, n_periods + 1)], axis=0) for c in cohorts]
                code, result = st.OK, aggregate(keys, values, ifs)
            else:  # dynamic
                found = [event(e) for e in range(0, n_periods - min(cohorts) + 1)]
                code = next((c for c, _ in found if c != st.OK), st.OK)
                if code == st.OK:
                    result = (np.mean([v for _, (v, _) in found]), np.mean([f for _, (_, f) in found], axis=0))
            if code != st.OK:
                write_failure(out[r], status[r], j, code)
                continue
            theta, influence = result
            write_wald(out[r], status[r], j, theta, np.sqrt(np.mean(influence**2) / n), crit, truth[r, j])


def _reference_sunab(batch, truth, options, level, out, status, terms):
    """Plain numpy: the saturated regression with unit, period and cohort × period dummies, OLS, CR1 by unit
    (K = coefficients + period effects), and the cohort-share-weighted combination w'β, w'Vw."""
    from scipy import stats

    n_periods = batch["panel_y"].shape[2]
    for r in range(batch["panel_y"].shape[0]):
        g_all, kept = _kept_cohorts(batch["cohort"][r], n_periods)
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


def _bind_terms(function, terms_of):
    """Wrap a runner that needs its term names: they follow from the batch's shapes and the options."""

    def run(batch, truth, options, level, out, status):
        shapes = {name: value.shape[1:] for name, value in batch.items()}
        return function(batch, truth, options, level, out, status, terms_of(shapes, options))

    return run


LEADS = Setting("leads", 4, "event times −leads … −1 (or −2) reported as leads", minimum=1)
LAGS = Setting("lags", 5, "event times 0 … lags − 1 reported", minimum=1)

ESTIMATORS = (
    Estimator(
        name="cs",
        summary="Callaway & Sant'Anna (2021) group-time ATTs aggregated (simple, group, dynamic, event study); "
        "influence-function SEs clustered by unit (csdid, R did with bstrap = FALSE)",
        needs=("panel_y", "cohort"),
        run=_bind_terms(_run_cs, _cs_terms),
        reference=_bind_terms(_reference_cs, _cs_terms),
        options=(
            Setting(
                "control", "never", "comparison units: never treated or not yet treated", choices=("never", "notyet")
            ),
            Setting(
                "base",
                "varying",
                "base period: varying (t − 1 before adoption) or universal (g − 1)",
                choices=("varying", "universal"),
            ),
            Setting(
                "aggregation",
                "simple",
                "simple (term att), group, dynamic, or event (terms e=−leads … lags−1 and dynamic)",
                choices=("simple", "group", "dynamic", "event"),
            ),
            LEADS,
            LAGS,
        ),
        terms=_cs_terms,
    ),
    Estimator(
        name="sunab",
        summary="Sun & Abraham (2021) interaction-weighted event study (never-treated control), terms "
        "e=−leads … lags−1 and att; CR1 by unit with cohort shares held fixed (pyfixest saturated)",
        needs=("panel_y", "cohort"),
        run=_bind_terms(_run_sunab, _sunab_terms),
        reference=_bind_terms(_reference_sunab, _sunab_terms),
        options=(LEADS, LAGS),
        terms=_sunab_terms,
    ),
)
