"""BDM's collapse: two periods per unit, so serial correlation cannot fool the errors.

``twfe_collapsed`` (Bertrand, Duflo & Mullainathan 2004): residualise y on
unit and period effects, average each unit's residuals before and after
t0, and run the 2 × 2 regression with unit effects on the collapsed
two-period panel; with two periods that is the regression of
Δ_i = post mean − pre mean on [1, treated_i] (the same estimate and, for
``classical`` and ``hc1``, the same standard errors), with t(G − 2)
intervals.  Each unit is one observation.

Statuses: ``no_variation`` (no post or no pre period, no treated or no
control unit), ``no_residual_df``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import t_critical_table, write_failure, write_wald
from ..spec import Estimator
from .conventions import (
    CLASSICAL,
    NEEDS,
    SE_CODES,
    panel_dummies,
    reference_ols,
    se_option,
)


@njit(cache=True)
def collapsed_kernel(y, treated, start, se_code, t_table, truth, out, status):
    """Batched BDM collapse: regress Δ_i = (post mean − pre mean of y_i) on [1, treated_i].

    The coefficient is Δ̄_T − Δ̄_C; ``classical`` pools the two groups'
    sums of squares over G − 2, ``hc1`` is Σ_T ê²/G_T² + Σ_C ê²/G_C² times
    G/(G − 2); t(G − 2) intervals.  Two-way residualising y first shifts
    every Δ_i by the same constant, which the intercept absorbs.
    """
    n_reps, g, t = y.shape
    delta = np.empty(g)
    for r in range(n_reps):
        n_pre = min(max(start[r] - 1, 0), t)
        n_post = t - n_pre
        n_treated = 0
        for i in range(g):
            if treated[r, i] > 0.5:
                n_treated += 1
        n_control = g - n_treated
        if n_pre == 0 or n_post == 0 or n_treated == 0 or n_control == 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if g - 2 <= 0:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        m_t = 0.0
        m_c = 0.0
        for i in range(g):
            pre = 0.0
            post = 0.0
            for s in range(t):
                if s < n_pre:
                    pre += y[r, i, s]
                else:
                    post += y[r, i, s]
            delta[i] = post / n_post - pre / n_pre
            if treated[r, i] > 0.5:
                m_t += delta[i]
            else:
                m_c += delta[i]
        m_t /= n_treated
        m_c /= n_control
        ss_t = 0.0
        ss_c = 0.0
        for i in range(g):
            if treated[r, i] > 0.5:
                ss_t += (delta[i] - m_t) ** 2
            else:
                ss_c += (delta[i] - m_c) ** 2
        if se_code == CLASSICAL:
            var = (ss_t + ss_c) / (g - 2) * (1.0 / n_treated + 1.0 / n_control)
        else:
            var = (ss_t / n_treated**2 + ss_c / n_control**2) * g / (g - 2)
        write_wald(out, status, r, m_t - m_c, math.sqrt(var), t_table[g - 2], truth[r])


def _run_collapsed(batch, truth, options, level, out, status):
    y = batch["panel_y"]
    collapsed_kernel(
        y,
        batch["treated"],
        batch["start"],
        SE_CODES[options["se"]],
        t_critical_table(level, max(y.shape[1], 1)),
        truth,
        out,
        status,
    )


def _reference_collapsed(batch, truth, options, level, out, status):
    """BDM literally: residualise on unit and period dummies, collapse, two-period regression with unit dummies."""
    y_all, d_all, starts = batch["panel_y"], batch["treated"], batch["start"]
    g, t = y_all.shape[1:]
    _, _, fe = panel_dummies(g, t)
    for r in range(y_all.shape[0]):
        y = y_all[r].reshape(-1)
        resid = (y - fe @ np.linalg.lstsq(fe, y, rcond=None)[0]).reshape(g, t)
        pre = np.arange(1, t + 1) < starts[r]
        if pre.all() or not pre.any():
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        collapsed = np.concatenate([resid[:, pre].mean(axis=1), resid[:, ~pre].mean(axis=1)])
        post = np.repeat([0.0, 1.0], g)
        d = np.tile(d_all[r], 2)
        two_unit = np.tile(np.arange(g), 2)
        X = np.column_stack([d * post, post] + [(two_unit == i).astype(float) for i in range(g)])
        reference_ols(X, collapsed, two_unit, options["se"], level, truth[r], out, status, r, 0)


COLLAPSED_SE = se_option(("classical", "hc1"), "classical (t(G−2)) or hc1 on the collapsed units")

ESTIMATORS = (
    Estimator(
        name="twfe_collapsed",
        summary="BDM: collapse each unit to pre/post means of residualised y, then the 2×2 regression",
        needs=NEEDS,
        run=_run_collapsed,
        reference=_reference_collapsed,
        options=(COLLAPSED_SE,),
    ),
)
