"""Staggered adoption: estimators for panels where cohorts adopt in different periods.

Data: ``panel_y`` (R, G, T) outcomes and ``cohort`` (R, G), each unit's
adoption period g_i (1-indexed; 0 = never treated); D_it = 1(0 < g_i ≤ t).

``twfe_staggered``: the static two-way fixed-effects regression
y ~ D + unit effects + period effects that applied work ran for decades.
On a balanced panel the within transformation is closed-form,
D̈_it = D_it − D̄_i − D̄_t + D̄, so β = Σ D̈_it y_it / Σ D̈_it² in two passes,
without dummies.  With heterogeneous effects β is a weighted average of
the unit-period effects with weights w_it = D̈_it / Σ_{D=1} D̈ over the
treated unit-periods, some of which can be negative (de Chaisemartin &
D'Haultfœuille 2020, Theorem 1): diagnostics ``neg_weight_share`` (the
share of negative weights among the non-zero ones) and ``neg_weight_sum``
(their sum), as ``twowayfeweights(type = "feTR")`` (R, Stata, Python)
reports them with groups = units: a treated unit-period whose weight is
zero (when every unit is treated, the middle cohort's) is neither.

``se`` as for ``twfe``: ``classical`` σ̂² = SSR/(GT − G − T), t on the same
df; ``cluster`` by unit with K = G + T (every fixed effect counted: Stata
``regress`` with dummies, statsmodels); ``cluster_nested`` with K = T + 1
(the unit effects, nested in the clusters, count as one: reghdfe, pyfixest
CRV1); both t(G − 1).

Statuses: ``no_variation`` when D has no within variation (no adopter, or
everyone adopts at once with no never-treated unit), ``too_few_clusters``,
``no_residual_df``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import status as st
from .did import CLASSICAL, CLUSTER, SE_CODES, reference_ols, t_critical_table
from .inference import write_failure, write_wald
from .moments import FAST
from .spec import Estimator, Setting

NEG_SHARE, NEG_SUM = 5, 6  # diagnostic columns
# Weights sum to one over at most a few thousand cells; below this they are zero.
ZERO_WEIGHT = 1e-12


@njit(cache=True, fastmath=FAST)
def twfe_staggered_kernel(y, cohort, se_code, t_table, truth, out, status):
    """Batched static two-way fixed effects with staggered adoption, and its negative weights.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    cohort : float64 array, shape (R, G)
        Adoption period g_i (1-indexed), 0 for never-treated units.
    se_code : int
        CLASSICAL, CLUSTER or CLUSTER_NESTED.
    t_table : float64 array
        t critical values by degrees of freedom.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 7)
        Estimate, se, ci_low, ci_high, reject, neg_weight_share, neg_weight_sum.
    status : int8 array, shape (R,)

    Notes
    -----
    Pass 1: row, column and grand means of v = y − y_11 (the shift keeps the
    sums of squares accurate) and Σ v².  D's means are counts.  Pass 2:
    D̈, S_dd = Σ D̈², Σ D̈ v, each unit's score
    s_i = Σ_t D̈_it (v_it − v̄_t) − β Σ_t D̈_it² (the unit and grand means
    drop out because Σ_t D̈_it = 0), and the weights.  The residual sum of
    squares is Σ v̈² − β Σ D̈ v, with Σ v̈² = Σ v² − T Σ v̄_i² − G Σ v̄_t² + GT v̄².
    """
    n_reps, g, t = y.shape
    n_obs = g * t
    row_mean = np.empty(g)
    col_mean = np.empty(t)
    d_col = np.empty(t)
    d_row = np.empty(g)
    unit_dd = np.empty(g)  # Σ_t D̈_it²
    unit_dv = np.empty(g)  # Σ_t D̈_it (v_it − v̄_t)
    for r in range(n_reps):
        shift = y[r, 0, 0]
        col_mean[:] = 0.0
        total_sq = 0.0
        for i in range(g):
            s = 0.0
            for c in range(t):
                v = y[r, i, c] - shift
                s += v
                col_mean[c] += v
                total_sq += v * v
            row_mean[i] = s / t
        grand = 0.0
        for c in range(t):
            col_mean[c] /= g
            grand += col_mean[c]
        grand /= t
        d_col[:] = 0.0
        d_grand = 0.0
        for i in range(g):
            gi = cohort[r, i]
            d_row[i] = (t - gi + 1.0) / t if gi > 0.0 else 0.0
            d_grand += d_row[i]
            for c in range(t):
                if gi > 0.0 and c + 1 >= gi:
                    d_col[c] += 1.0
        d_grand /= g
        for c in range(t):
            d_col[c] /= g
        s_dd = 0.0
        s_dv = 0.0
        sum_treated = 0.0
        for i in range(g):
            gi = cohort[r, i]
            dd = 0.0
            dv = 0.0
            for c in range(t):
                d = 1.0 if gi > 0.0 and c + 1 >= gi else 0.0
                dt = d - d_row[i] - d_col[c] + d_grand
                dd += dt * dt
                dv += dt * (y[r, i, c] - shift - col_mean[c])
                if d == 1.0:
                    sum_treated += dt
            unit_dd[i] = dd
            unit_dv[i] = dv
            s_dd += dd
            s_dv += dv
        if not (s_dd > 1e-12 * n_obs) or sum_treated == 0.0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        beta = s_dv / s_dd
        if se_code == CLASSICAL:
            df = n_obs - g - t
            if df <= 0:
                write_failure(out, status, r, st.NO_RESIDUAL_DF)
                continue
            row_sq = 0.0
            for i in range(g):
                row_sq += row_mean[i] * row_mean[i]
            col_sq = 0.0
            for c in range(t):
                col_sq += col_mean[c] * col_mean[c]
            syy = total_sq - t * row_sq - g * col_sq + n_obs * grand * grand
            var = max(syy - beta * s_dv, 0.0) / df / s_dd
            crit = t_table[df]
        else:
            k_cr = (g + t) if se_code == CLUSTER else (1 + t)
            if g < 2:
                write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
                continue
            if n_obs - k_cr <= 0:
                write_failure(out, status, r, st.NO_RESIDUAL_DF)
                continue
            meat = 0.0
            for i in range(g):
                score = unit_dv[i] - beta * unit_dd[i]
                meat += score * score
            var = meat / (s_dd * s_dd) * g / (g - 1.0) * (n_obs - 1.0) / (n_obs - k_cr)
            crit = t_table[g - 1]
        write_wald(out, status, r, beta, math.sqrt(var), crit, truth[r])
        if status[r] != st.OK:
            continue
        n_nonzero = 0.0
        n_negative = 0.0
        negative_sum = 0.0
        for i in range(g):
            gi = cohort[r, i]
            if gi <= 0.0:
                continue
            for c in range(int(gi) - 1, t):
                w = (1.0 - d_row[i] - d_col[c] + d_grand) / sum_treated
                if abs(w) > ZERO_WEIGHT:  # zero but for rounding: neither sign
                    n_nonzero += 1.0
                    if w < 0.0:
                        n_negative += 1.0
                        negative_sum += w
        out[r, NEG_SHARE] = n_negative / n_nonzero
        out[r, NEG_SUM] = negative_sum


def _run(batch, truth, options, level, out, status):
    y = batch["panel_y"]
    g, t = y.shape[1:]
    t_table = t_critical_table(level, g * t)
    twfe_staggered_kernel(y, batch["cohort"], SE_CODES[options["se"]], t_table, truth, out, status)


def _reference(batch, truth, options, level, out, status):
    """Plain numpy: D, G unit dummies and T − 1 period dummies, least squares and the sandwich;
    the weights from the residuals of D on the dummies (dCDH 2020, Theorem 1)."""
    y_all, cohorts = batch["panel_y"], batch["cohort"]
    g, t = y_all.shape[1:]
    unit = np.repeat(np.arange(g), t)
    period = np.tile(np.arange(1, t + 1), g)
    dummies = np.column_stack(
        [(unit == i).astype(float) for i in range(g)] + [(period == s).astype(float) for s in range(2, t + 1)]
    )
    for r in range(y_all.shape[0]):
        cohort = np.repeat(cohorts[r], t)
        d = ((cohort > 0) & (period >= cohort)).astype(float)
        eps = d - dummies @ np.linalg.lstsq(dummies, d, rcond=None)[0]
        if not (eps @ eps > 1e-12 * g * t):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        fit = reference_ols(
            np.column_stack([d, dummies]), y_all[r].reshape(-1), unit, options["se"], level, truth[r], out, status, r,
            0, nested_k=1 + t,
        )  # fmt: skip
        if fit is None or status[r] != st.OK:
            continue
        weights = eps[d == 1] / eps[d == 1].sum()
        nonzero = weights[np.abs(weights) > ZERO_WEIGHT]
        out[r, NEG_SHARE] = np.mean(nonzero < 0)
        out[r, NEG_SUM] = nonzero[nonzero < 0].sum()


ESTIMATORS = (
    Estimator(
        name="twfe_staggered",
        summary="static two-way fixed effects y ~ D + unit + period effects under staggered adoption, "
        "with its negative weights (de Chaisemartin & D'Haultfœuille 2020)",
        needs=("panel_y", "cohort"),
        run=_run,
        reference=_reference,
        options=(
            Setting(
                "se",
                "cluster",
                "classical (df GT−G−T), cluster (K counts every fixed effect, as Stata's regress) or "
                "cluster_nested (the unit effects count as one: reghdfe/pyfixest)",
                choices=("classical", "cluster", "cluster_nested"),
            ),
        ),
        diagnostics=("neg_weight_share", "neg_weight_sum"),
    ),
)
