"""Difference-in-differences on balanced panels with a common start period.

Data: ``panel_y`` (R, G, T) outcomes, ``treated`` (R, G) 0/1, ``start``
(R,) the first treated period t0 (1-indexed); post_t = 1(t ≥ t0) and
D_it = treated_i·post_t.

Pooled comparisons (cell means; regressions on the stacked G·T rows):

``did``           y ~ 1 + treated + post + treated:post (all rows); the
                  interaction, (ȳ_T,post − ȳ_T,pre) − (ȳ_C,post − ȳ_C,pre)
``before_after``  y ~ 1 + post on the treated units: ȳ_T,post − ȳ_T,pre
``post_gap``      y ~ 1 + treated in the post periods: ȳ_T,post − ȳ_C,post

``se``: ``classical`` σ̂²·Σ_c w_c²/n_c with σ̂² = SSR/(N − K) (K = 4 or 2
cells); ``hc0`` … ``hc3`` as statsmodels (every row of cell c has leverage
1/n_c, so HC2 is Σ_c w_c² s_c²/n_c, the Neyman variance); ``cluster`` by
unit, CR1 = CR0·G/(G − 1)·(N − 1)/(N − K) (statsmodels ``cov_type="cluster"``,
Stata).  Intervals: t(N − K), or t(G − 1) with clusters.

Two-way fixed effects (the fixed effects swept out, never dummies):

``twfe``          y ~ D + unit effects + period effects
``pretrend``      the same with leads treated_i·1(t − t0 = e) for every
                  pre-period e = −2, …, −(t0 − 1) (e = −1 the reference)

With a common start every regressor is (d_i − d̄)·h_t for a time pattern
h, so the two-way within transformation is closed-form: with
S_dd = Σ(d_i − d̄)², H the T × k matrix of centred patterns and
w_t = Σ_i (d_i − d̄)·y_it, the coefficients are (H'H)⁻¹H'w / S_dd.
``se`` for twfe:

``classical``       σ̂² = SSR/(NT − G − T − k + 1) (NT − G − T for one D); t on the same df
``cluster``         by unit, CR1 counting every fixed effect in K = G + T + k − 1
                    (Stata ``regress y D i.unit i.period, vce(cluster unit)``;
                    statsmodels with dummies; linearmodels PanelOLS with
                    ``debiased=True, group_debias=True``)
``cluster_nested``  by unit, CR1 with the unit effects, nested in the clusters,
                    counted as one: K = k + T (reghdfe; pyfixest ``CRV1``)

both cluster types with t(G − 1) intervals.  ``pretrend``'s ``reject``
is the joint Wald test that every lead is zero, W/q against F(q, G − 1)
with the clustered covariance (its rejection rate is the pre-trend test's
size when trends are parallel and its power when they are not); its
estimate and interval are the D coefficient of the same regression.
Option ``test = "hotelling"`` scales it for few clusters instead:
W·(G − q)/(q·(G − 1)) against F(q, G − q).

``twfe_collapsed`` (Bertrand, Duflo & Mullainathan 2004): residualise y on
unit and period effects, average each unit's residuals before and after
t0, and run the 2 × 2 regression with unit effects on the collapsed
two-period panel; with two periods that is the regression of
Δ_i = post mean − pre mean on [1, treated_i] (the same estimate and, for
``classical`` and ``hc1``, the same standard errors), with t(G − 2)
intervals.  Serial correlation cannot fool it: each unit is one
observation.

Statuses: ``no_variation`` when a needed cell is empty (every unit
treated, no post or no pre period, a start outside the panel, no lead to
test), ``too_few_clusters`` below two clusters, ``no_residual_df``.
"""

from __future__ import annotations

import math
from functools import cache, partial

import numpy as np
from numba import njit
from scipy import stats

from . import status as st
from .inference import cholesky_inplace, cholesky_solve, spd_inverse, write_failure, write_wald
from .moments import FAST
from .spec import REJECT, Estimator, Setting

CLASSICAL, HC1, CLUSTER, CLUSTER_NESTED, HC0, HC2, HC3 = range(7)
SE_CODES = {
    "classical": CLASSICAL,
    "hc0": HC0,
    "hc1": HC1,
    "hc2": HC2,
    "hc3": HC3,
    "cluster": CLUSTER,
    "cluster_nested": CLUSTER_NESTED,
}

# Cell weights for the pooled comparisons, cells ordered C-pre, C-post, T-pre, T-post.
DID_WEIGHTS = np.array([1.0, -1.0, -1.0, 1.0])
BEFORE_AFTER_WEIGHTS = np.array([0.0, 0.0, -1.0, 1.0])
POST_GAP_WEIGHTS = np.array([0.0, -1.0, 0.0, 1.0])


@cache
def t_critical_table(level: float, max_df: int) -> np.ndarray:
    """t critical values indexed by degrees of freedom 0..max_df (index 0 is NaN)."""
    table = np.full(max_df + 1, np.nan)
    table[1:] = stats.t.ppf(0.5 + level / 2.0, np.arange(1, max_df + 1))
    table.setflags(write=False)
    return table


@cache
def f_critical_table(level: float, max_q: int, df_den: int) -> np.ndarray:
    """F(q, df_den) critical values indexed by q = 0..max_q (index 0 is NaN)."""
    table = np.full(max_q + 1, np.nan)
    if df_den > 0:
        table[1:] = stats.f.ppf(level, np.arange(1, max_q + 1), df_den)
    table.setflags(write=False)
    return table


@njit(cache=True)
def two_way_cluster_k(se_code, g, t, k):
    """K in CR1's (N − 1)/(N − K) for k regressors beside unit and period effects.

    CLUSTER counts every fixed effect (G + T − 1 + k: Stata ``regress`` with
    dummies, statsmodels); CLUSTER_NESTED counts the unit effects, nested in
    the clusters, as one (k + T: reghdfe, pyfixest CRV1).
    """
    return (g + t - 1 + k) if se_code == CLUSTER else (k + t)


@njit(cache=True)
def cluster_problem(g, n_obs, k_cr):
    """The status when CR1 by unit cannot be computed (fewer than two clusters, no residual df), else OK."""
    if g < 2:
        return st.TOO_FEW_CLUSTERS
    if n_obs - k_cr <= 0:
        return st.NO_RESIDUAL_DF
    return st.OK


@njit(cache=True)
def cr1_factor(g, n_obs, k_cr):
    """G/(G − 1)·(N − 1)/(N − K): CR1's scaling of the sum of squared cluster scores."""
    return g / (g - 1.0) * (n_obs - 1.0) / (n_obs - k_cr)


@cache
def pretrend_thresholds(level: float, max_q: int, n_clusters: int, test: str) -> np.ndarray:
    """Rejection thresholds for W/q, the clustered Wald statistic of q leads over q, by q = 0..max_q.

    ``f``: F(q, G − 1), the conventional clustered F test (Stata ``test``
    after ``vce(cluster)``).  ``hotelling``: the small-sample scaling
    F = W·(G − q)/(q·(G − 1)) ~ F(q, G − q) of Hotelling's T² (exact for
    normal cluster scores, as in Cameron & Miller 2015, §VII.A); as a
    threshold on W/q it is F_{q, G−q}·(G − 1)/(G − q), and q ≥ G never
    rejects (infinite threshold).
    """
    if test == "f":
        return f_critical_table(level, max_q, n_clusters - 1)
    q = np.arange(1, max_q + 1)
    table = np.full(max_q + 1, np.nan)
    usable = q < n_clusters
    table[1:][usable] = (
        stats.f.ppf(level, q[usable], n_clusters - q[usable]) * (n_clusters - 1) / (n_clusters - q[usable])
    )
    table[1:][~usable] = np.inf
    table.setflags(write=False)
    return table


# -- pooled cell comparisons ----------------------------------------------------------


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


def reference_ols(X, y, unit, se, level, truth, out, status, r, column, k_fixed_effects=0, nested_k=None):
    """OLS of y on X with classical, hc0 … hc3 or cluster(unit) covariance; writes coefficient `column`.

    `k_fixed_effects` counts parameters absorbed outside X (for the
    residual degrees of freedom); `nested_k` is K under the nested-cluster
    convention.
    """
    n, k = X.shape
    if n == 0 or np.linalg.matrix_rank(X) < k or np.ptp(X[:, column]) == 0:
        write_failure(out, status, r, st.NO_VARIATION)
        return None
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ beta
    xtx_inv = np.linalg.inv(X.T @ X)
    k_total = k + k_fixed_effects
    df = n - k_total
    if df <= 0:
        write_failure(out, status, r, st.NO_RESIDUAL_DF)
        return None
    if se == "classical":
        cov, crit = resid @ resid / df * xtx_inv, stats.t.ppf(0.5 + level / 2, df)
    elif se in ("hc0", "hc1", "hc2", "hc3"):
        h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
        if se in ("hc2", "hc3") and (1 - h <= 1e-10).any():
            write_failure(out, status, r, st.LEVERAGE_ONE)
            return None
        omega = resid**2 * {"hc0": 1.0, "hc1": n / df, "hc2": 1 / (1 - h), "hc3": 1 / (1 - h) ** 2}[se]
        cov, crit = xtx_inv @ (X.T * omega) @ X @ xtx_inv, stats.t.ppf(0.5 + level / 2, df)
    else:
        groups = np.unique(unit)
        scores = np.array([X[unit == g].T @ resid[unit == g] for g in groups])
        n_groups = len(groups)
        if n_groups < 2:
            write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
            return None
        k_cr = nested_k if se == "cluster_nested" else k_total
        cov = xtx_inv @ scores.T @ scores @ xtx_inv * n_groups / (n_groups - 1) * (n - 1) / (n - k_cr)
        crit = stats.t.ppf(0.5 + level / 2, n_groups - 1)
    write_wald(out, status, r, beta[column], np.sqrt(cov[column, column]), crit, truth)
    return beta, cov


# -- two-way fixed effects and the event study ---------------------------------------------------


@njit(cache=True, fastmath=FAST)
def twfe_kernel(y, treated, start, se_code, t_table, truth, out, status):
    """Batched two-way fixed effects with one regressor D: closed form, one pass.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    treated : float64 array, shape (R, G)
    start : int64 array, shape (R,)
    se_code : int
        CLASSICAL, CLUSTER or CLUSTER_NESTED.
    t_table : float64 array
        t critical values by degrees of freedom.
    out : float64 array, shape (R, 5)
    status : int8 array, shape (R,)

    Notes
    -----
    With common timing D̈_it = (d_i − d̄)·h_t, h_t = post_t − P̄, so
    β = Σ_i (d_i − d̄)·Σ_t h_t y_it / (S_dd·Σ_t h_t²).  The residual sum of
    squares is Σ ÿ² − β·(X'y), with Σ ÿ² from the balanced two-way ANOVA
    identity on y shifted by its first value (one pass), and unit i's score is (d_i − d̄)·(Σ_t h_t y_it − Σ_t h_t ȳ_t − (d_i − d̄)·β·Σ_t h_t²)
    because Σ_t h_t = 0 removes the unit and grand means.  The same numbers
    as the event study without leads would give, in a fraction of the time.
    """
    n_reps, g, t = y.shape
    n_obs = g * t
    h = np.empty(t)
    col_mean = np.empty(t)
    row_mean = np.empty(g)
    row_h = np.empty(g)
    for r in range(n_reps):
        t0 = start[r]
        n_post = 0
        for s in range(t):
            if s + 1 >= t0:
                n_post += 1
        d_mean = 0.0
        for i in range(g):
            d_mean += treated[r, i]
        d_mean /= g
        s_dd = 0.0
        for i in range(g):
            s_dd += (treated[r, i] - d_mean) ** 2
        if n_post == 0 or n_post == t or not (s_dd > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        share = n_post / t
        hth = 0.0
        for s in range(t):
            h[s] = (1.0 if s + 1 >= t0 else 0.0) - share
            hth += h[s] * h[s]
        col_mean[:] = 0.0
        shift = y[r, 0, 0]  # shifting y leaves every demeaned quantity unchanged
        grand = 0.0
        total_sq = 0.0
        for i in range(g):
            row = 0.0
            weighted = 0.0
            for s in range(t):
                v = y[r, i, s] - shift
                row += v
                weighted += h[s] * v
                total_sq += v * v
                col_mean[s] += v
            row_mean[i] = row / t
            row_h[i] = weighted
            grand += row
        grand /= n_obs
        h_col = 0.0
        col_sq = 0.0
        for s in range(t):
            col_mean[s] /= g
            h_col += h[s] * col_mean[s]
            col_sq += col_mean[s] ** 2
        xty = 0.0
        row_sq = 0.0
        for i in range(g):
            xty += (treated[r, i] - d_mean) * row_h[i]
            row_sq += row_mean[i] ** 2
        beta = xty / (s_dd * hth)
        # Balanced two-way ANOVA: Σ ÿ² = Σ v² − T·Σ ȳ_i² − G·Σ ȳ_t² + N·ȳ².
        syy = total_sq - t * row_sq - g * col_sq + n_obs * grand * grand
        ssr = max(syy - beta * xty, 0.0)
        if se_code == CLASSICAL:
            df = n_obs - g - t
            if df <= 0:
                write_failure(out, status, r, st.NO_RESIDUAL_DF)
                continue
            var = ssr / df / (s_dd * hth)
            crit = t_table[df]
        else:
            k_cr = two_way_cluster_k(se_code, g, t, 1)
            problem = cluster_problem(g, n_obs, k_cr)
            if problem != st.OK:
                write_failure(out, status, r, problem)
                continue
            meat = 0.0
            for i in range(g):
                dc = treated[r, i] - d_mean
                score = dc * (row_h[i] - h_col - dc * beta * hth)
                meat += score * score
            var = meat / (s_dd * hth) ** 2 * cr1_factor(g, n_obs, k_cr)
            crit = t_table[g - 1]
        write_wald(out, status, r, beta, math.sqrt(var), crit, truth[r])


@njit(cache=True)
def event_study_kernel(y, treated, start, se_code, t_table, f_table, truth, out, status):
    """Batched two-way fixed-effects regression of y on D and its leads, with the joint test of the leads.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    treated : float64 array, shape (R, G)
    start : int64 array, shape (R,)
    se_code : int
        CLUSTER or CLUSTER_NESTED (by unit).
    t_table, f_table : float64 arrays
        t critical values by df; F(q, G − 1) critical values by q.
    out : float64 array, shape (R, 7)
        estimate, se, ci_low, ci_high (of D), reject (the joint test of the
        leads), the pre-trend F statistic W/q and the number of leads q.

    Notes
    -----
    Leads for every pre-period but the reference t0 − 1.  Regressors
    (d_i − d̄)·h_t with h the centred time patterns (post, then one
    indicator per lead): X'X = S_dd·H'H, X'y = H'w, w_t = Σ_i (d_i − d̄)y_it.
    Residuals ê_it = ÿ_it − (d_i − d̄)·(Hb)_t with ÿ the two-way demeaned
    outcome; unit scores s_i = (d_i − d̄)·H'ê_i.
    """
    n_reps, g, t = y.shape
    n_obs = g * t
    h = np.empty((t, t))
    hth = np.empty((t, t))
    hth_inv = np.empty((t, t))
    rhs = np.empty(t)
    b = np.empty(t)
    w = np.empty(t)
    col_mean = np.empty(t)
    row_mean = np.empty(g)
    fit = np.empty(t)
    meat = np.empty((t, t))
    cov = np.empty((t, t))
    score = np.empty(t)
    for r in range(n_reps):
        t0 = start[r]
        n_post = 0
        for s in range(t):
            if s + 1 >= t0:
                n_post += 1
        n_leads = max(t0 - 2, 0)  # pre-periods but the reference t0 − 1
        k = 1 + n_leads
        d_mean = 0.0
        for i in range(g):
            d_mean += treated[r, i]
        d_mean /= g
        s_dd = 0.0
        for i in range(g):
            s_dd += (treated[r, i] - d_mean) ** 2
        if n_post == 0 or n_post == t or not (s_dd > 0.0) or n_leads == 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        # Centred time patterns: post, then leads e = −2, −3, … (period t0 + e).
        for s in range(t):
            h[s, 0] = (1.0 if s + 1 >= t0 else 0.0) - n_post / t
            for j in range(1, k):
                h[s, j] = (1.0 if s + 1 == t0 - 1 - j else 0.0) - 1.0 / t
        # One pass: unit and period means and w.
        col_mean[:] = 0.0
        w[:] = 0.0
        grand = 0.0
        for i in range(g):
            dc = treated[r, i] - d_mean
            row = 0.0
            for s in range(t):
                v = y[r, i, s]
                row += v
                col_mean[s] += v
                w[s] += dc * v
            row_mean[i] = row / t
            grand += row
        grand /= n_obs
        for s in range(t):
            col_mean[s] /= g
        for a in range(k):
            rhs[a] = 0.0
            for s in range(t):
                rhs[a] += h[s, a] * w[s]
            for c in range(k):
                v = 0.0
                for s in range(t):
                    v += h[s, a] * h[s, c]
                hth[a, c] = v
        if not spd_inverse(hth, k, hth_inv):
            write_failure(out, status, r, st.SINGULAR)
            continue
        for a in range(k):
            v = 0.0
            for c in range(k):
                v += hth_inv[a, c] * rhs[c]
            b[a] = v / s_dd
        for s in range(t):
            v = 0.0
            for a in range(k):
                v += h[s, a] * b[a]
            fit[s] = v
        meat[:k, :k] = 0.0
        for i in range(g):
            dc = treated[r, i] - d_mean
            score[:k] = 0.0
            for s in range(t):
                e = y[r, i, s] - row_mean[i] - col_mean[s] + grand - dc * fit[s]
                for a in range(k):
                    score[a] += h[s, a] * e
            for a in range(k):
                for c in range(k):
                    meat[a, c] += dc * dc * score[a] * score[c]
        k_cr = two_way_cluster_k(se_code, g, t, k)
        problem = cluster_problem(g, n_obs, k_cr)
        if problem != st.OK:
            write_failure(out, status, r, problem)
            continue
        factor = cr1_factor(g, n_obs, k_cr) / (s_dd * s_dd)
        for a in range(k):
            for c in range(k):
                v = 0.0
                for p in range(k):
                    for q in range(k):
                        v += hth_inv[a, p] * meat[p, q] * hth_inv[q, c]
                cov[a, c] = v * factor
        crit = t_table[g - 1]
        write_wald(out, status, r, b[0], math.sqrt(cov[0, 0]), crit, truth[r])
        if status[r] == st.OK:
            f_stat = wald_f(b, cov, 1, k)
            out[r, REJECT] = 1.0 if f_stat > f_table[n_leads] else 0.0
            out[r, 5] = f_stat
            out[r, 6] = n_leads


@njit(cache=True)
def wald_f(b, cov, first, stop):
    """W/q for H0: b[first:stop] = 0 with covariance cov (q = stop − first)."""
    q = stop - first
    sub = np.empty((q, q))
    rhs = np.empty(q)
    for a in range(q):
        rhs[a] = b[first + a]
        for c in range(q):
            sub[a, c] = cov[first + a, first + c]
    if not cholesky_inplace(sub, q):
        return np.nan
    sol = rhs.copy()
    cholesky_solve(sub, sol, q)
    w = 0.0
    for a in range(q):
        w += rhs[a] * sol[a]
    return w / q


def _run_twoway(batch, truth, options, level, out, status, with_leads):
    y = batch["panel_y"]
    g, t = y.shape[1:]
    t_table = t_critical_table(level, g * t)
    if not with_leads:
        twfe_kernel(y, batch["treated"], batch["start"], SE_CODES[options["se"]], t_table, truth, out, status)
        return
    f_table = pretrend_thresholds(level, t, g, options["test"])
    event_study_kernel(
        y, batch["treated"], batch["start"], SE_CODES[options["se"]], t_table, f_table, truth, out, status
    )


def _reference_twoway(batch, truth, options, level, out, status, with_leads):
    """Plain numpy: D, leads, G unit dummies and T − 1 period dummies; least squares; the sandwich."""
    y_all, d_all, starts = batch["panel_y"], batch["treated"], batch["start"]
    g, t = y_all.shape[1:]
    unit = np.repeat(np.arange(g), t)
    period = np.tile(np.arange(1, t + 1), g)
    dummies = np.column_stack(
        [(unit == i).astype(float) for i in range(g)] + [(period == s).astype(float) for s in range(2, t + 1)]
    )
    for r in range(y_all.shape[0]):
        d = np.repeat(d_all[r], t)
        t0 = starts[r]
        leads = [d * (period == t0 + e) for e in range(-2, -t0, -1) if 1 <= t0 + e] if with_leads else []
        columns = [d * (period >= t0), *leads]
        if with_leads and not leads:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        X = np.column_stack([*columns, dummies])
        k = len(columns)
        fit = reference_ols(
            X, y_all[r].reshape(-1), unit, options["se"], level, truth[r], out, status, r, 0, nested_k=k + t
        )
        if fit is not None and with_leads and status[r] == st.OK:
            beta, cov = fit
            b = beta[1:k]
            q = k - 1
            f_stat = b @ np.linalg.solve(cov[1:k, 1:k], b) / q
            if options["test"] == "f":
                out[r, REJECT] = float(f_stat > stats.f.ppf(level, q, g - 1))
            else:  # Hotelling: W·(G − q)/(q·(G − 1)) against F(q, G − q)
                out[r, REJECT] = float(q < g and f_stat * (g - q) / (g - 1) > stats.f.ppf(level, q, g - q))
            out[r, 5:7] = f_stat, q


# -- BDM's collapsed two-period regression ------------------------------------------------------


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
    unit = np.repeat(np.arange(g), t)
    period = np.tile(np.arange(1, t + 1), g)
    fe = np.column_stack(
        [(unit == i).astype(float) for i in range(g)] + [(period == s).astype(float) for s in range(2, t + 1)]
    )
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


# -- registry -------------------------------------------------------------------------------


def _needs_pre_periods(shapes, options):
    t = shapes["panel_y"][1]
    return None if t >= 3 else f"a pre-trend test needs at least 3 periods (this panel has {t})"


_NEEDS = ("panel_y", "treated", "start")


def _se(choices, doc):
    return Setting("se", choices[0], doc, choices=choices)


_POOLED_SE = _se(
    ("classical", "hc0", "hc1", "hc2", "hc3", "cluster"),
    "classical, hc0 … hc3 (statsmodels; hc2 = Neyman), or cluster (by unit, CR1, t(G−1))",
)
_TWFE_SE = _se(
    ("classical", "cluster", "cluster_nested"),
    "classical (df NT−G−T), cluster (K counts every fixed effect, as Stata's regress) or "
    "cluster_nested (the unit effects, nested in the clusters, count as one: reghdfe/pyfixest)",
)
_PRETREND_SE = _se(("cluster", "cluster_nested"), "clustered by unit: cluster (Stata regress) or cluster_nested")
_COLLAPSED_SE = _se(("classical", "hc1"), "classical (t(G−2)) or hc1 on the collapsed units")

ESTIMATORS = (
    Estimator(
        name="did",
        summary="2×2 difference-in-differences regression y ~ 1 + treated + post + treated:post",
        needs=_NEEDS,
        run=partial(_run_contrast, weights=DID_WEIGHTS),
        reference=partial(_reference_contrast, weights=DID_WEIGHTS),
        options=(_POOLED_SE,),
    ),
    Estimator(
        name="before_after",
        summary="treated units only: post mean minus pre mean (y ~ 1 + post)",
        needs=_NEEDS,
        run=partial(_run_contrast, weights=BEFORE_AFTER_WEIGHTS),
        reference=partial(_reference_contrast, weights=BEFORE_AFTER_WEIGHTS),
        options=(_POOLED_SE,),
    ),
    Estimator(
        name="post_gap",
        summary="post periods only: treated mean minus control mean (y ~ 1 + treated)",
        needs=_NEEDS,
        run=partial(_run_contrast, weights=POST_GAP_WEIGHTS),
        reference=partial(_reference_contrast, weights=POST_GAP_WEIGHTS),
        options=(_POOLED_SE,),
    ),
    Estimator(
        name="twfe",
        summary="two-way fixed effects y ~ D + unit + period effects (within transformation)",
        needs=_NEEDS,
        run=partial(_run_twoway, with_leads=False),
        reference=partial(_reference_twoway, with_leads=False),
        options=(_TWFE_SE,),
    ),
    Estimator(
        name="twfe_collapsed",
        summary="BDM: collapse each unit to pre/post means of residualised y, then the 2×2 regression",
        needs=_NEEDS,
        run=_run_collapsed,
        reference=_reference_collapsed,
        options=(_COLLAPSED_SE,),
    ),
    Estimator(
        name="pretrend",
        summary="event study with leads; reject = clustered joint test of the leads, estimate = D",
        needs=_NEEDS,
        run=partial(_run_twoway, with_leads=True),
        reference=partial(_reference_twoway, with_leads=True),
        options=(
            _PRETREND_SE,
            Setting(
                "test",
                "f",
                "joint test of the leads: f (W/q vs F(q, G−1)) or hotelling (W(G−q)/(q(G−1)) vs F(q, G−q))",
                choices=("f", "hotelling"),
            ),
        ),
        diagnostics=("pretrend_f", "n_leads"),
        applies=_needs_pre_periods,
    ),
)
