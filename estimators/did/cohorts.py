"""What the estimators built from cohort × period means share: cohorts, event-time terms, the options.

Data: ``panel_y`` (R, G, T) and ``cohort`` (R, G), each unit's adoption
period g_i (1-indexed; 0 = never treated, as is a period after the panel).
Units adopting in period 1 have no pre-period and are dropped (R ``did``
does the same).  p_g = n_g/n is cohort g's share of the n units kept.

Terms are named ``att``, ``group``, ``dynamic`` or ``e=k``; `term_codes` turns
them into the (kind, event time) arrays the kernels read.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..spec import Setting

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


def kept_cohorts(cohorts, n_periods):
    """Plain: adoption periods with never treated (0 or beyond T) as 0, and the mask of units kept (not g = 1)."""
    g = np.where((cohorts > n_periods) | (cohorts <= 0), 0, cohorts).astype(int)
    return g, g != 1


def bind_terms(function, terms_of):
    """Wrap a runner that needs its term names: they follow from the batch's shapes and the options."""

    def run(batch, truth, options, level, out, status):
        shapes = {name: value.shape[1:] for name, value in batch.items()}
        return function(batch, truth, options, level, out, status, terms_of(shapes, options))

    return run


LEADS = Setting("leads", 4, "event times −leads … −1 (or −2) reported as leads", minimum=1)
LAGS = Setting("lags", 5, "event times 0 … lags − 1 reported", minimum=1)
