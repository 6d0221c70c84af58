"""Callaway & Sant'Anna (2021): group-time ATTs aggregated, with influence-function standard errors.

Data and cohort shares as in `cohorts`.

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

Statuses: ``no_comparison`` when a cell of the term has no comparison
units (no never-treated unit for ``control = never``, or a
late cohort with nobody left untreated); ``no_variation`` when the term
has no cell (no cohort observed at that event time) or a zero variance.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, write_failure, write_wald
from ..moments import FAST
from ..spec import Estimator, Setting
from .cohorts import (
    DROPPED,
    DYNAMIC,
    EVENT,
    LAGS,
    LEADS,
    NEVER,
    SIMPLE,
    bind_terms,
    cohorts_of,
    event_keepers,
    kept_cohorts,
    term_codes,
    window_terms,
)


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


def _cs_terms(shapes, options):
    aggregation = options["aggregation"]
    if aggregation == "event":
        return (*window_terms(options["leads"], options["lags"], options["base"] == "universal"), "dynamic")
    return ({"simple": "att"}.get(aggregation, aggregation),)


def _run_cs(batch, truth, options, level, out, status, terms):
    kinds, events = term_codes(terms)
    cs_kernel(
        batch["panel_y"], batch["cohort"], options["control"] == "notyet", options["base"] == "universal",
        kinds, events, normal_critical(level), truth, out, status,
    )  # fmt: skip


def _reference_cs(batch, truth, options, level, out, status, terms):
    """Plain numpy: each ATT(g, t) as a difference of means, R ``did``'s aggregation with its ``wif`` as written
    there (if1 − if2), SE √(mean IF²/n)."""
    from scipy import stats

    crit = stats.norm.ppf(0.5 + level / 2)
    universal, not_yet = options["base"] == "universal", options["control"] == "notyet"
    n_periods = batch["panel_y"].shape[2]
    for r in range(batch["panel_y"].shape[0]):
        g_all, kept = kept_cohorts(batch["cohort"][r], n_periods)
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


ESTIMATORS = (
    Estimator(
        name="cs",
        summary="Callaway & Sant'Anna (2021) group-time ATTs aggregated (simple, group, dynamic, event study); "
        "influence-function SEs clustered by unit (csdid, R did with bstrap = FALSE)",
        needs=("panel_y", "cohort"),
        run=bind_terms(_run_cs, _cs_terms),
        reference=bind_terms(_reference_cs, _cs_terms),
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
)
