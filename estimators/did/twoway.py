"""Two-way fixed effects with a common start, and the event-study pre-trend test.

The fixed effects are swept out, never built as dummies:

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

both cluster types with t(G − 1) intervals, and for few clusters or few
treated units (`few_clusters`, in the unit-level form a common start allows):

``cr2``             Bell–McCaffrey CR2 by unit, t(ν) with their Satterthwaite ν
``wild``            restricted wild cluster bootstrap (``weights``, ``draws``)
``ri``              randomization inference over units (``draws``)
``pairs``           pairs cluster bootstrap-t (``draws``)
  ``pretrend``'s ``reject``
is the joint Wald test that every lead is zero, W/q against F(q, G − 1)
with the clustered covariance (its rejection rate is the pre-trend test's
size when trends are parallel and its power when they are not); its
estimate and interval are the D coefficient of the same regression.
Option ``test = "hotelling"`` scales it for few clusters instead:
W·(G − q)/(q·(G − 1)) against F(q, G − q).  When the leads' clustered
covariance is not positive definite (fewer informative clusters than
leads, a noiseless panel) W/q is NaN and the test does not reject.

Statuses: ``no_variation`` (every unit treated, no post or no pre period,
a start outside the panel, no lead to test), ``too_few_clusters``,
``no_residual_df``.
"""

from __future__ import annotations

import math
from functools import cache, partial

import numpy as np
from numba import njit
from scipy import stats

from .. import status as st
from ..inference import (
    cr1_factor,
    normal_critical,
    inverse_quadratic_form,
    positive_definite,
    spd_inverse,
    t_critical_table,
    write_failure,
    write_t_intervals,
    write_wald,
)
from ..moments import FAST
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator, Setting
from .few_clusters import PAIRS as PAIRS_METHOD
from .few_clusters import RI as RI_METHOD
from .few_clusters import (
    DOF,
    P_VALUE,
    TIE,
    WEIGHTS,
    cr2_unit_level,
    pairs_test,
    reference_bound,
    reference_cr2,
    reference_draws,
    reference_p_value,
    reference_pairs,
    reference_resampling_parts,
    resampling_test,
)
from .few_clusters import WILD as WILD_METHOD
from .conventions import (
    CLASSICAL,
    CLUSTER,
    CR2,
    PAIRS,
    RI,
    WILD,
    NEEDS,
    SE_CODES,
    cluster_problem,
    f_critical_table,
    panel_dummies,
    reference_ols,
    se_option,
    two_way_cluster_k,
)


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


@njit(cache=True, fastmath=FAST)
def twfe_kernel(y, treated, start, se_code, t_table, truth, out, status, rng, n_draws, weights_code, alpha):
    """Batched two-way fixed effects with one regressor D: closed form, one pass.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    treated : float64 array, shape (R, G)
    start : int64 array, shape (R,)
    se_code : int
        CLASSICAL, CLUSTER, CLUSTER_NESTED, CR2, WILD or RI.
    t_table : float64 array
        t critical values by degrees of freedom.
    out : float64 array, shape (R, 7)
        estimate, se, ci_low, ci_high, reject, dof, p_value.  For CR2 the
        interval and test are left to `write_t_intervals` (fractional ν).
    status : int8 array, shape (R,)
    rng : numpy.random.Generator
        The estimator's own stream: bootstrap weights or permutations (WILD, RI).
    n_draws, weights_code, alpha : int, int, float
        B, Rademacher or Webb, and 1 − level, for WILD and RI.

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
    c = np.empty(g)
    z = np.empty(g)
    resid = np.empty(g)
    resampling = se_code == WILD or se_code == RI or se_code == PAIRS
    coefficients = np.empty((n_draws if resampling else 1, 5))
    t_draws = np.empty(n_draws if se_code == PAIRS else 1)
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
        # Writes and sums in separate loops: a FAST loop doing both sums in an order that depends on memory
        # addresses (moments' module docstring).
        for s in range(t):
            h[s] = (1.0 if s + 1 >= t0 else 0.0) - share
        hth = 0.0
        for s in range(t):
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
            for s in range(t):
                col_mean[s] += y[r, i, s] - shift
            row_mean[i] = row / t
            row_h[i] = weighted
            grand += row
        grand /= n_obs
        h_col = 0.0
        col_sq = 0.0
        for s in range(t):
            col_mean[s] /= g
        for s in range(t):
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
            write_wald(out, status, r, beta, math.sqrt(var), t_table[df], truth[r])
            out[r, DOF] = df
            out[r, P_VALUE] = math.nan
            continue
        # Unit-level form (few_clusters): centred treatment c, contrasts z, residuals r = z − c·γ̂.
        for i in range(g):
            c[i] = treated[r, i] - d_mean
            z[i] = row_h[i] - h_col
            resid[i] = z[i] - c[i] * beta * hth
        if se_code == CR2:
            meat, nu = cr2_unit_level(c, resid, s_dd)
            if not (meat > 0.0 and nu > 0.0):
                write_failure(out, status, r, st.NO_VARIATION)
                continue
            out[r, ESTIMATE] = beta
            out[r, SE] = math.sqrt(meat) / (s_dd * hth)
            out[r, DOF] = nu
            out[r, P_VALUE] = math.nan
            status[r] = st.OK
            continue
        k_cr = two_way_cluster_k(CLUSTER if resampling else se_code, g, t, 1)
        problem = cluster_problem(g, n_obs, k_cr)
        if problem != st.OK:
            write_failure(out, status, r, problem)
            continue
        meat = 0.0
        for i in range(g):
            score = c[i] * resid[i]
            meat += score * score
        se = math.sqrt(meat * cr1_factor(g, n_obs, k_cr)) / (s_dd * hth)
        if se_code == PAIRS:
            pairs_test(rng, n_draws, c, z, s_dd, hth, se, truth[r], alpha, t_draws, out, status, r)
            out[r, DOF] = math.nan
            continue
        if resampling:
            method = WILD_METHOD if se_code == WILD else RI_METHOD
            resampling_test(
                rng, method, weights_code, n_draws, c, z, s_dd, hth, se, truth[r], alpha, coefficients, out, status, r
            )
            out[r, DOF] = math.nan
            continue
        write_wald(out, status, r, beta, se, t_table[g - 1], truth[r])
        out[r, DOF] = g - 1
        out[r, P_VALUE] = math.nan


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
    return inverse_quadratic_form(sub, rhs, q) / q


def _run_twoway(batch, truth, options, level, out, status, with_leads, rng=None):
    y = batch["panel_y"]
    g, t = y.shape[1:]
    t_table = t_critical_table(level, g * t)
    normal = not with_leads and options["critical"] == "normal"
    if normal:  # every df's critical value the normal one
        t_table = np.full_like(t_table, normal_critical(level))
    if not with_leads:
        twfe_kernel(
            y, batch["treated"], batch["start"], SE_CODES[options["se"]], t_table, truth, out, status,
            rng, options["draws"], WEIGHTS[options["weights"]], 1.0 - level,
        )  # fmt: skip
        if options["se"] == "cr2":
            write_t_intervals(out, status, truth, level, out[:, DOF])
        if normal:
            out[status == st.OK, DOF] = np.inf
        return
    f_table = pretrend_thresholds(level, t, g, options["test"])
    event_study_kernel(
        y, batch["treated"], batch["start"], SE_CODES[options["se"]], t_table, f_table, truth, out, status
    )


def _reference_twoway(batch, truth, options, level, out, status, with_leads, rng=None):
    """Plain numpy: D, leads, G unit dummies and T − 1 period dummies; least squares; the sandwich."""
    y_all, d_all, starts = batch["panel_y"], batch["treated"], batch["start"]
    g, t = y_all.shape[1:]
    unit, period, dummies = panel_dummies(g, t)
    for r in range(y_all.shape[0]):
        d = np.repeat(d_all[r], t)
        t0 = starts[r]
        if not with_leads and options["se"] in ("cr2", "wild", "ri", "pairs"):
            _reference_few_clusters(
                y_all[r].reshape(-1), d_all[r], period >= t0, np.column_stack([d * (period >= t0), dummies]), unit,
                options, level, truth[r], out, status, r, rng,
            )  # fmt: skip
            continue
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
        if fit is not None and not with_leads:
            out[r, DOF] = g - 1 if options["se"] != "classical" else g * t - g - t
            out[r, P_VALUE] = np.nan
            if options["critical"] == "normal" and status[r] == st.OK:
                crit = stats.norm.ppf(0.5 + level / 2)
                estimate, se = out[r, ESTIMATE], out[r, SE]
                out[r, CI_LOW], out[r, CI_HIGH] = estimate - crit * se, estimate + crit * se
                out[r, REJECT], out[r, DOF] = float(abs(estimate - truth[r]) > crit * se), np.inf
        if fit is not None and with_leads and status[r] == st.OK:
            beta, cov = fit
            b = beta[1:k]
            q = k - 1
            # as the kernel: leads' covariance not positive definite (e.g. a noiseless low-rank panel) -> W/q NaN,
            # and the joint test does not reject
            pd_leads = positive_definite(cov[1:k, 1:k])
            f_stat = b @ np.linalg.solve(cov[1:k, 1:k], b) / q if pd_leads else np.nan
            if options["test"] == "f":
                out[r, REJECT] = float(f_stat > stats.f.ppf(level, q, g - 1))
            else:  # Hotelling: W·(G − q)/(q·(G − 1)) against F(q, G − q)
                out[r, REJECT] = float(q < g and f_stat * (g - q) / (g - 1) > stats.f.ppf(level, q, g - q))
            out[r, 5:7] = f_stat, q


def _reference_few_clusters(y, treated, post, X, unit, options, level, truth, out, status, r, rng):
    """The twin of twfe's cr2, wild and ri on the full dummy design (few_clusters' reference functions)."""
    g = len(treated)
    if not (0 < treated.sum() < g) or post.all() or not post.any():
        write_failure(out, status, r, st.NO_VARIATION)
        return
    if options["se"] == "cr2":
        estimate, se, nu = reference_cr2(X, y, unit)
        crit = stats.t.ppf(0.5 + level / 2, nu)
        out[r, :5] = estimate, se, estimate - crit * se, estimate + crit * se, float(abs(estimate - truth) > crit * se)
        out[r, DOF], out[r, P_VALUE] = nu, np.nan
        status[r] = st.OK
        return
    fit = reference_ols(X, y, unit, "cluster", level, truth, out, status, r, 0)
    if fit is None:
        return
    if options["se"] == "pairs":
        draws = reference_draws(rng, PAIRS_METHOD, options["weights"], options["draws"], g)
        t_draws, estimate, se_plain = reference_pairs(X, y, unit, draws)
        alpha = 1 - level
        if len(t_draws) * alpha < 1:
            write_failure(out, status, r, st.NO_VARIATION)
            return
        ordered = np.sort(t_draws)
        crit = ordered[min(math.ceil((1 - alpha) * (len(ordered) + 1)), len(ordered)) - 1]
        out[r, CI_LOW], out[r, CI_HIGH] = estimate - crit * se_plain, estimate + crit * se_plain
        p = np.count_nonzero(ordered > abs(estimate - truth) / se_plain * (1 + TIE)) / len(ordered)
        out[r, REJECT], out[r, DOF], out[r, P_VALUE] = float(p <= alpha), np.nan, p
        return
    method = WILD_METHOD if options["se"] == "wild" else RI_METHOD
    draws = reference_draws(rng, method, options["weights"], options["draws"], g)
    parts, observed = reference_resampling_parts(X, y, unit, treated, post.astype(float), method, draws)
    estimate, se, alpha = fit[0][0], out[r, SE], 1 - level
    out[r, CI_LOW] = reference_bound(method, parts, observed, estimate, 2 * se, alpha, -1.0)
    out[r, CI_HIGH] = reference_bound(method, parts, observed, estimate, 2 * se, alpha, 1.0)
    p = reference_p_value(method, parts, observed, truth)
    out[r, REJECT], out[r, DOF], out[r, P_VALUE] = float(p <= alpha), np.nan, p


def _critical_applies(options, level):
    if options["critical"] == "normal" and options["se"] not in ("classical", "cluster", "cluster_nested"):
        return f"critical = 'normal' is for se = classical, cluster or cluster_nested, not {options['se']!r}"
    return None


def _needs_pre_periods(shapes, options):
    t = shapes["panel_y"][1]
    return None if t >= 3 else f"a pre-trend test needs at least 3 periods (this panel has {t})"


TWFE_SE = se_option(
    ("classical", "cluster", "cluster_nested", "cr2", "wild", "ri", "pairs"),
    "classical (df NT−G−T), cluster (K counts every fixed effect, as Stata's regress), "
    "cluster_nested (the unit effects, nested in the clusters, count as one: reghdfe/pyfixest), "
    "cr2 (Bell–McCaffrey with Imbens–Kolesár df), wild (restricted wild cluster bootstrap), "
    "ri (randomization inference over the treated units) or pairs (pairs cluster bootstrap-t)",
)
PRETREND_SE = se_option(("cluster", "cluster_nested"), "clustered by unit: cluster (Stata regress) or cluster_nested")

ESTIMATORS = (
    Estimator(
        name="twfe",
        summary="two-way fixed effects y ~ D + unit + period effects (within transformation)",
        needs=NEEDS,
        run=partial(_run_twoway, with_leads=False),
        reference=partial(_reference_twoway, with_leads=False),
        options=(
            TWFE_SE,
            Setting("draws", 999, "B, bootstrap draws or permutations (se = wild, ri or pairs)", kind=int, minimum=19),
            Setting("weights", "rademacher", "wild bootstrap weights (se = wild)", choices=("rademacher", "webb")),
            Setting(
                "critical",
                "t",
                "critical values of classical and cluster errors: t (NT−G−T or G−1 df) or normal",
                choices=("t", "normal"),
            ),
        ),
        check=_critical_applies,
        diagnostics=("dof", "p_value"),
        resampling=True,
    ),
    Estimator(
        name="pretrend",
        summary="event study with leads; reject = clustered joint test of the leads, estimate = D",
        needs=NEEDS,
        run=partial(_run_twoway, with_leads=True),
        reference=partial(_reference_twoway, with_leads=True),
        options=(
            PRETREND_SE,
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
