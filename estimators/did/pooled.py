"""Pooled 2 × 2 comparisons of cell means, on panels with a common start.

Regressions on the stacked G·T rows, each the contrast of the cell means
of the cells it uses:

``did``           y ~ 1 + treated + post + treated:post (all rows); the
                  interaction, (ȳ_T,post − ȳ_T,pre) − (ȳ_C,post − ȳ_C,pre)
``before_after``  y ~ 1 + post on the treated units: ȳ_T,post − ȳ_T,pre
``post_gap``      y ~ 1 + treated in the post periods: ȳ_T,post − ȳ_C,post

``se``: ``classical`` σ̂²·Σ_c w_c²/n_c with σ̂² = SSR/(N − K) (K = 4 or 2
cells); ``hc0`` … ``hc3`` as statsmodels (every row of cell c has leverage
1/n_c, so HC2 is Σ_c w_c² s_c²/n_c, the Neyman variance); ``cluster`` by
unit, CR1 = CR0·G/(G − 1)·(N − 1)/(N − K) (statsmodels ``cov_type="cluster"``,
Stata).  Intervals: t(N − K), or t(G − 1) with clusters.

Statuses: ``no_variation`` when a needed cell is empty (every unit treated,
no post or no pre period, a start outside the panel), ``leverage_one``
(HC2/HC3 with a one-row cell), ``too_few_clusters``, ``no_residual_df``.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numba import njit

from .. import status as st
from ..inference import t_critical_table, write_failure, write_wald
from ..spec import Estimator
from .conventions import (
    CLASSICAL,
    CLUSTER,
    HC1,
    HC2,
    HC3,
    NEEDS,
    SE_CODES,
    reference_ols,
    se_option,
)

# Cell weights for the pooled comparisons, cells ordered C-pre, C-post, T-pre, T-post.
DID_WEIGHTS = np.array([1.0, -1.0, -1.0, 1.0])
BEFORE_AFTER_WEIGHTS = np.array([0.0, 0.0, -1.0, 1.0])
POST_GAP_WEIGHTS = np.array([0.0, -1.0, 0.0, 1.0])


@njit(cache=True)
def cell_contrast_kernel(y, treated, start, weights, se_code, t_table, truth, out, status):
    """Batched contrast of cell means Σ_c w_c·ȳ_c with OLS-equivalent standard errors.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    treated : float64 array, shape (R, G)
    start : int64 array, shape (R,)
    weights : float64 array, shape (4,)
        Weight of each cell (C-pre, C-post, T-pre, T-post); rows in a cell of
        weight 0 are not in the regression.  The contrast is the coefficient
        of the saturated regression on the cells used, so its classical,
        HC and clustered variances are those of that regression:
        Σ_c w_c²σ̂²/n_c, Σ_c (w_c/n_c)² Σ_{i∈c} ê_i²·ω_c with every row of
        cell c at leverage 1/n_c (ω_c = 1, 1/(1 − 1/n_c), 1/(1 − 1/n_c)² for
        HC0, HC2, HC3), Σ_g (Σ_{i∈g} w_c ê_i/n_c)².  A cell of one row has
        leverage 1: status ``leverage_one`` for HC2 and HC3.
    se_code : int
        CLASSICAL, HC0, HC1, HC2, HC3 or CLUSTER.
    t_table : float64 array
        t critical values by degrees of freedom.
    out : float64 array, shape (R, 5)
    status : int8 array, shape (R,)
    """
    n_reps, n_units, n_periods = y.shape
    n_cells = 0
    for c in range(4):
        if weights[c] != 0.0:
            n_cells += 1
    count = np.empty(4)
    total = np.empty(4)
    squares = np.empty(4)  # Σ ê² per cell
    for r in range(n_reps):
        t0 = start[r]
        count[:] = 0.0
        total[:] = 0.0
        for i in range(n_units):
            base = 2 if treated[r, i] > 0.5 else 0
            for t in range(n_periods):
                c = base + (1 if t + 1 >= t0 else 0)
                if weights[c] != 0.0:
                    count[c] += 1.0
                    total[c] += y[r, i, t]
        empty = False
        for c in range(4):
            if weights[c] != 0.0 and count[c] == 0.0:
                empty = True
        if empty:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        estimate = 0.0
        n_obs = 0.0
        for c in range(4):
            if weights[c] != 0.0:
                total[c] /= count[c]  # now the cell mean
                estimate += weights[c] * total[c]
                n_obs += count[c]
        df = int(n_obs) - n_cells
        squares[:] = 0.0
        cr = 0.0
        n_clusters = 0
        for i in range(n_units):
            base = 2 if treated[r, i] > 0.5 else 0
            score = 0.0
            used = False
            for t in range(n_periods):
                c = base + (1 if t + 1 >= t0 else 0)
                if weights[c] != 0.0:
                    e = y[r, i, t] - total[c]
                    squares[c] += e * e
                    score += weights[c] / count[c] * e
                    used = True
            if used:
                cr += score * score
                n_clusters += 1
        if df <= 0:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        if se_code == CLASSICAL:
            inv_n = 0.0
            ssr = 0.0
            for c in range(4):
                if weights[c] != 0.0:
                    inv_n += weights[c] ** 2 / count[c]
                    ssr += squares[c]
            var = ssr / df * inv_n
            crit = t_table[df]
        elif se_code != CLUSTER:
            if (se_code == HC2 or se_code == HC3) and leverage_one_cell(weights, count):
                write_failure(out, status, r, st.LEVERAGE_ONE)
                continue
            var = 0.0
            for c in range(4):
                if weights[c] != 0.0:
                    omega = 1.0
                    if se_code == HC2:
                        omega = 1.0 / (1.0 - 1.0 / count[c])
                    elif se_code == HC3:
                        omega = 1.0 / (1.0 - 1.0 / count[c]) ** 2
                    var += (weights[c] / count[c]) ** 2 * squares[c] * omega
            if se_code == HC1:
                var *= n_obs / df
            crit = t_table[df]
        else:
            if n_clusters < 2:
                write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
                continue
            var = cr * n_clusters / (n_clusters - 1) * (n_obs - 1) / df
            crit = t_table[n_clusters - 1]
        write_wald(out, status, r, estimate, math.sqrt(var), crit, truth[r])


@njit(cache=True)
def leverage_one_cell(weights, count):
    """Whether a cell in the regression has a single row (its leverage is 1)."""
    for c in range(4):
        if weights[c] != 0.0 and count[c] == 1.0:
            return True
    return False


def _run_contrast(batch, truth, options, level, out, status, weights):
    y = batch["panel_y"]
    t_table = t_critical_table(level, y.shape[1] * y.shape[2])
    cell_contrast_kernel(
        y, batch["treated"], batch["start"], weights, SE_CODES[options["se"]], t_table, truth, out, status
    )


def _reference_contrast(batch, truth, options, level, out, status, weights):
    """Plain numpy: stack the rows, build the design, least squares and the sandwich."""
    y_all, d_all, starts = batch["panel_y"], batch["treated"], batch["start"]
    for r in range(y_all.shape[0]):
        g, t = y_all.shape[1:]
        d = np.repeat(d_all[r], t)
        post = np.tile(np.arange(1, t + 1) >= starts[r], g).astype(float)
        unit = np.repeat(np.arange(g), t)
        cell = (2 * d + post).astype(int)
        keep = weights[cell] != 0
        if weights[0] != 0:  # did: all four cells
            X = np.column_stack([np.ones(g * t), d, post, d * post])
        elif weights[1] == 0:  # before-after: treated rows, y ~ 1 + post
            X = np.column_stack([np.ones(g * t), post])
        else:  # post-gap: post rows, y ~ 1 + treated
            X = np.column_stack([np.ones(g * t), d])
        X, y, unit = X[keep], y_all[r].reshape(-1)[keep], unit[keep]
        reference_ols(X, y, unit, options["se"], level, truth[r], out, status, r, X.shape[1] - 1)


POOLED_SE = se_option(
    ("classical", "hc0", "hc1", "hc2", "hc3", "cluster"),
    "classical, hc0 … hc3 (statsmodels; hc2 = Neyman), or cluster (by unit, CR1, t(G−1))",
)

ESTIMATORS = (
    Estimator(
        name="did",
        summary="2×2 difference-in-differences regression y ~ 1 + treated + post + treated:post",
        needs=NEEDS,
        run=partial(_run_contrast, weights=DID_WEIGHTS),
        reference=partial(_reference_contrast, weights=DID_WEIGHTS),
        options=(POOLED_SE,),
    ),
    Estimator(
        name="before_after",
        summary="treated units only: post mean minus pre mean (y ~ 1 + post)",
        needs=NEEDS,
        run=partial(_run_contrast, weights=BEFORE_AFTER_WEIGHTS),
        reference=partial(_reference_contrast, weights=BEFORE_AFTER_WEIGHTS),
        options=(POOLED_SE,),
    ),
    Estimator(
        name="post_gap",
        summary="post periods only: treated mean minus control mean (y ~ 1 + treated)",
        needs=NEEDS,
        run=partial(_run_contrast, weights=POST_GAP_WEIGHTS),
        reference=partial(_reference_contrast, weights=POST_GAP_WEIGHTS),
        options=(POOLED_SE,),
    ),
)
