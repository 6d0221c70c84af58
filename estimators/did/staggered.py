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
zero (when every unit is treated, the middle cohort's) is neither.  And
``forbidden_weight``: the total weight of Goodman-Bacon's (2021)
later-vs-earlier 2 × 2 comparisons, which use already-treated units as
controls (`forbidden_weight` below; diff-diff ``BaconDecomposition``).

``se`` as for ``twfe``: ``classical`` σ̂² = SSR/(GT − G − T), t on the same
df; ``cluster`` by unit with K = G + T (every fixed effect counted: Stata
``regress`` with dummies, statsmodels); ``cluster_nested`` with K = T + 1
(the unit effects, nested in the clusters, count as one: reghdfe, pyfixest
CRV1); both t(G − 1).

Statuses: ``no_variation`` when D has no within variation (no adopter, or
everyone adopts at once with no never-treated unit), ``too_few_clusters``,
``no_residual_df``.

``event_study``: the dynamic version, one term per event time: indicators
of e = t − g_i binned at the ends (e ≤ −leads, e ≥ lags) with e = −1 the
reference, unit and period effects, clustered by unit (``cluster`` or
``cluster_nested`` as above, t(G − 1)).  The binned end terms (``e<=-4``,
``e>=5``) have no truth of their own (the DGP defines ATT(e) per event
time), so their coverage is not measured; the interior ones are held to
ATT(e).  With effects that differ across cohorts the lead coefficients are
contaminated by post-adoption effects (Sun & Abraham 2021).

Its term ``pretrend`` (``pretest = hotelling | f``; ``none`` drops it) is
the joint test that the q = leads − 1 lead bins are zero: estimate W/q,
the clustered Wald statistic over q, no interval, and ``reject`` the test
(against F(q, G − 1), or Hotelling's W(G − q)/(q(G − 1)) against
F(q, G − q)).  It has no truth, and its rejection rate is its size when
trends are parallel and effects constant.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import stats

from .. import status as st
from ..inference import (
    cr1_factor,
    spd_inverse,
    t_critical_table,
    write_failure,
    write_wald,
)
from ..moments import FAST
from ..spec import ESTIMATE, REJECT, Estimator, Setting
from .conventions import (
    CLASSICAL,
    SE_CODES,
    cluster_problem,
    panel_dummies,
    reference_ols,
    two_way_cluster_k,
)
from .twoway import pretrend_thresholds, wald_f

NEG_SHARE, NEG_SUM, FORBIDDEN = 5, 6, 7  # diagnostic columns
# Weights sum to one over at most a few thousand cells; below this they are zero.
ZERO_WEIGHT = 1e-12


@njit(cache=True)
def forbidden_weight(cohort_row, n_periods, counts):
    """Goodman-Bacon (2021, Theorem 1) weight of the later-vs-earlier-treated 2 × 2 comparisons.

    Timing groups k with unit shares n_k and treated shares of periods
    D̄_k = (T − g_k + 1)/T (0 for the never treated, counted in ``counts``
    by adoption period, index 0 never, with the always treated, whose D
    the unit effects absorb as they absorb the never treated's: Goodman-Bacon's
    footnote 11).  For every pair with D̄_k > D̄_l
    (k adopts first), with n_kl = n_k/(n_k + n_l), the weight of l treated
    against the already-treated k is

        s_kl^l = ((n_k + n_l)·D̄_k)²·n_kl(1 − n_kl)·(D̄_l/D̄_k)·(D̄_k − D̄_l)/D̄_k / V̂_D

    and V̂_D = Σ_pairs (s_kl^k + s_kl^l)·V̂_D, the sum of every pair's
    numerators (the earlier-vs-later s_kl^k =
    ((n_k + n_l)(1 − D̄_l))²·n_kl(1 − n_kl)·((D̄_k − D̄_l)/(1 − D̄_l))·((1 − D̄_k)/(1 − D̄_l))),
    which equals the variance of the two-way demeaned D.
    """
    counts[:] = 0.0
    n_units = cohort_row.shape[0]
    for i in range(n_units):
        gi = int(cohort_row[i])
        counts[gi if 2 <= gi <= n_periods else 0] += 1.0  # always treated: like the never treated in TWFE
    forbidden = 0.0
    total = 0.0
    for gk in range(2, n_periods + 1):  # k adopts first
        if counts[gk] == 0.0:
            continue
        dk = (n_periods - gk + 1.0) / n_periods
        for gl in range(gk + 1, n_periods + 2):  # l later; n_periods + 1 stands for the never treated
            nl = counts[0] if gl == n_periods + 1 else counts[gl]
            if nl == 0.0:
                continue
            dl = 0.0 if gl == n_periods + 1 else (n_periods - gl + 1.0) / n_periods
            nk_share, nl_share = counts[gk] / n_units, nl / n_units
            pair = nk_share + nl_share
            nkl = nk_share / pair
            later = (pair * dk) ** 2 * nkl * (1.0 - nkl) * (dl / dk) * (dk - dl) / dk
            earlier = 0.0
            if dl < 1.0:
                earlier = (
                    (pair * (1.0 - dl)) ** 2 * nkl * (1.0 - nkl) * (dk - dl) / (1.0 - dl) * (1.0 - dk) / (1.0 - dl)
                )
            forbidden += later
            total += later + earlier
    return forbidden / total if total > 0.0 else math.nan


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
    out : float64 array, shape (R, 8)
        Estimate, se, ci_low, ci_high, reject, neg_weight_share, neg_weight_sum, forbidden_weight.
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
    counts = np.empty(t + 1)
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
            k_cr = two_way_cluster_k(se_code, g, t, 1)
            problem = cluster_problem(g, n_obs, k_cr)
            if problem != st.OK:
                write_failure(out, status, r, problem)
                continue
            meat = 0.0
            for i in range(g):
                score = unit_dv[i] - beta * unit_dd[i]
                meat += score * score
            var = meat / (s_dd * s_dd) * cr1_factor(g, n_obs, k_cr)
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
        out[r, FORBIDDEN] = forbidden_weight(cohort[r], t, counts)


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
    unit, period, dummies = panel_dummies(g, t)
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
        out[r, FORBIDDEN] = _reference_forbidden(cohorts[r], t, eps @ eps / (g * t))


def _reference_forbidden(cohort, n_periods, variance_d):
    """Goodman-Bacon's later-vs-earlier weights over the variance of the demeaned D computed directly."""
    timing = np.where((cohort >= 2) & (cohort <= n_periods), cohort, np.inf)
    share = {k: np.mean(timing == k) for k in np.unique(timing)}
    treated_share = {k: 0.0 if np.isinf(k) else (n_periods - k + 1) / n_periods for k in share}
    forbidden = 0.0
    for k in share:
        for later in share:
            if later <= k:
                continue
            dk, dl = treated_share[k], treated_share[later]
            pair = share[k] + share[later]
            nkl = share[k] / pair
            forbidden += (pair * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * (dk - dl) / dk
    return forbidden / variance_d


# -- event study ---------------------------------------------------------------------------------


def event_terms(leads: int, lags: int) -> tuple[str, ...]:
    """Term names of a binned event study: e ≤ −leads, −leads+1 … −2, 0 … lags−1, e ≥ lags (−1 is the reference)."""
    interior = [f"e={e}" for e in range(-leads + 1, -1)] + [f"e={e}" for e in range(0, lags)]
    return (f"e<={-leads}", *interior, f"e>={lags}")


@njit(cache=True)
def event_column(e, leads, lags):
    """The regressor of event time e: 0 for e ≤ −leads, …, leads + lags − 1 for e ≥ lags; −1 for e = −1 (reference)."""
    if e <= -leads:
        return 0
    if e < -1:
        return e + leads
    if e == -1:
        return -1
    return leads - 1 + min(e, lags)


@njit(cache=True, fastmath=FAST)
def event_study_staggered_kernel(y, cohort, leads, lags, se_code, crit, pretest_threshold, truth, out, status):
    """Batched binned event study: y ~ Σ_j β_j·1(t − g_i in bin j) + unit + period effects.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    cohort : float64 array, shape (R, G)
        Adoption period g_i (1-indexed), 0 for never-treated units (no event time).
    leads, lags : int
        Bins e ≤ −leads, one per e in −leads+1 … −2 and 0 … lags−1, and e ≥ lags;
        k = leads + lags regressors, e = −1 the reference.
    se_code : int
        CLUSTER (K = G + T − 1 + k) or CLUSTER_NESTED (K = k + T); t(G − 1).
    crit : float
        t_{G−1, 1−α/2}.
    pretest_threshold : float
        With a ``pretrend`` term (m = k + 1): its rejection threshold for
        W/q, the clustered Wald statistic of the q = leads − 1 lead
        coefficients (e ≤ −leads, −leads+1 … −2) over q
        (``pretrend_thresholds``).
    truth : float64 array, shape (R, m)
    out : float64 array, shape (R, m, 5)
    status : int8 array, shape (R, m)

    Notes
    -----
    Each regressor is swept of the unit and period effects in closed form
    (balanced panel): ẍ = x − x̄_i − x̄_t + x̄.  With A = Σ ẍẍ' and
    b = Σ ẍ y, β = A⁻¹b (Cholesky); unit i's score is
    s_i = Σ_t ẍ_it (y_it − ȳ_t − ẍ_it'β) because Σ_t ẍ_it = 0, and
    V = A⁻¹(Σ s_i s_i')A⁻¹ · G/(G − 1) · (N − 1)/(N − K).  A singular A
    (an empty bin, no comparison units) is status ``singular`` for every term.
    """
    n_reps, g, t = y.shape
    k = leads + lags
    n_terms = out.shape[1]
    n_obs = g * t
    column = np.empty((g, t), dtype=np.int64)
    cov = np.empty((k, k))
    half = np.empty((k, k))
    x_row = np.empty((g, k))
    x_col = np.empty((t, k))
    x_all = np.empty(k)
    y_col = np.empty(t)
    xdd = np.empty(k)
    a = np.empty((k, k))
    a_inv = np.empty((k, k))
    b = np.empty(k)
    beta = np.empty(k)
    score = np.empty(k)
    meat = np.empty((k, k))
    for r in range(n_reps):
        x_row[:, :] = 0.0
        x_col[:, :] = 0.0
        y_col[:] = 0.0
        shift = y[r, 0, 0]
        for i in range(g):
            gi = cohort[r, i]
            for c in range(t):
                j = event_column(c + 1 - int(gi), leads, lags) if gi > 0.0 else -1
                column[i, c] = j
                if j >= 0:
                    x_row[i, j] += 1.0
                    x_col[c, j] += 1.0
                y_col[c] += y[r, i, c] - shift
        for j in range(k):
            x_all[j] = 0.0
            for i in range(g):
                x_all[j] += x_row[i, j]
            x_all[j] /= n_obs
            for i in range(g):
                x_row[i, j] /= t
            for c in range(t):
                x_col[c, j] /= g
        for c in range(t):
            y_col[c] /= g
        a[:, :] = 0.0
        b[:] = 0.0
        for i in range(g):
            for c in range(t):
                for j in range(k):
                    xdd[j] = (1.0 if column[i, c] == j else 0.0) - x_row[i, j] - x_col[c, j] + x_all[j]
                v = y[r, i, c] - shift
                for j in range(k):
                    b[j] += xdd[j] * v
                    for m in range(j + 1):
                        a[j, m] += xdd[j] * xdd[m]
        for j in range(k):
            for m in range(j):
                a[m, j] = a[j, m]
        if not spd_inverse(a, k, a_inv):
            for j in range(n_terms):
                write_failure(out[r], status[r], j, st.SINGULAR)
            continue
        for j in range(k):
            s = 0.0
            for m in range(k):
                s += a_inv[j, m] * b[m]
            beta[j] = s
        k_cr = two_way_cluster_k(se_code, g, t, k)
        problem = cluster_problem(g, n_obs, k_cr)
        if problem != st.OK:
            for j in range(n_terms):
                write_failure(out[r], status[r], j, problem)
            continue
        meat[:, :] = 0.0
        for i in range(g):
            score[:] = 0.0
            for c in range(t):
                fit = 0.0
                for j in range(k):
                    xdd[j] = (1.0 if column[i, c] == j else 0.0) - x_row[i, j] - x_col[c, j] + x_all[j]
                    fit += xdd[j] * beta[j]
                resid = y[r, i, c] - shift - y_col[c] - fit
                for j in range(k):
                    score[j] += xdd[j] * resid
            for j in range(k):
                for m in range(k):
                    meat[j, m] += score[j] * score[m]
        factor = cr1_factor(g, n_obs, k_cr)
        for j in range(k):  # cov = A⁻¹ · meat · A⁻¹ · factor, via half = A⁻¹ · meat
            for m in range(k):
                s = 0.0
                for p in range(k):
                    s += a_inv[j, p] * meat[p, m]
                half[j, m] = s
        for j in range(k):
            for m in range(k):
                s = 0.0
                for p in range(k):
                    s += half[j, p] * a_inv[p, m]
                cov[j, m] = s * factor
        for j in range(k):
            write_wald(out[r], status[r], j, beta[j], math.sqrt(max(cov[j, j], 0.0)), crit, truth[r, j])
        if n_terms > k:  # the pre-trend test: the q = leads − 1 lead bins are the first columns
            f_stat = wald_f(beta, cov, 0, leads - 1)
            if math.isnan(f_stat):
                write_failure(out[r], status[r], k, st.SINGULAR)
                continue
            out[r, k, :] = np.nan
            out[r, k, ESTIMATE] = f_stat
            out[r, k, REJECT] = 1.0 if f_stat > pretest_threshold else 0.0
            status[r, k] = st.OK


def _check_window(shapes, options):
    t = shapes["panel_y"][1]
    if options["leads"] + options["lags"] + 1 > t:
        return f"{options['leads']} leads and {options['lags']} lags need more than this panel's {t} periods"
    return None


def _pretest_threshold(level, leads, g, test):
    """The pre-trend test's threshold for W/q with q = leads − 1 lead bins (NaN without the test)."""
    return math.nan if test == "none" else float(pretrend_thresholds(level, leads - 1, g, test)[leads - 1])


def _run_event_study(batch, truth, options, level, out, status):
    y = batch["panel_y"]
    g = y.shape[1]
    crit = float(t_critical_table(level, g)[g - 1]) if g >= 2 else math.nan
    threshold = _pretest_threshold(level, options["leads"], g, options["pretest"])
    event_study_staggered_kernel(
        y, batch["cohort"], options["leads"], options["lags"], SE_CODES[options["se"]], crit, threshold,
        truth, out, status,
    )  # fmt: skip


def _reference_event_study(batch, truth, options, level, out, status):
    """Plain numpy: the bin dummies, G unit and T − 1 period dummies, least squares, the clustered sandwich."""
    y_all, cohorts = batch["panel_y"], batch["cohort"]
    leads, lags = options["leads"], options["lags"]
    g, t = y_all.shape[1:]
    k = leads + lags
    unit, period, dummies = panel_dummies(g, t)
    k_cr = (g + t - 1 + k) if options["se"] == "cluster" else (k + t)
    crit = stats.t.ppf(0.5 + level / 2, g - 1)
    for r in range(y_all.shape[0]):
        cohort = np.repeat(cohorts[r], t)
        bins = np.zeros((g * t, k))
        for row in np.nonzero(cohort > 0)[0]:
            j = event_column(int(period[row] - cohort[row]), leads, lags)
            if j >= 0:
                bins[row, j] = 1.0
        X = np.column_stack([bins, dummies])
        if np.linalg.matrix_rank(X) < X.shape[1]:
            out[r] = np.nan
            status[r] = st.SINGULAR
            continue
        y = y_all[r].reshape(-1)
        xtx_inv = np.linalg.inv(X.T @ X)
        coef = xtx_inv @ X.T @ y
        resid = y - X @ coef
        scores = np.array([X[unit == i].T @ resid[unit == i] for i in range(g)])
        n = g * t
        cov = xtx_inv @ scores.T @ scores @ xtx_inv * g / (g - 1) * (n - 1) / (n - k_cr)
        for j in range(k):
            write_wald(out[r], status[r], j, coef[j], np.sqrt(cov[j, j]), crit, truth[r, j])
        if options["pretest"] != "none":  # W/q of the leads, against F(q, G − 1) or Hotelling's F(q, G − q)
            q = leads - 1
            f_stat = coef[:q] @ np.linalg.solve(cov[:q, :q], coef[:q]) / q
            if options["pretest"] == "f":
                rejects = f_stat > stats.f.ppf(level, q, g - 1)
            else:
                rejects = q < g and f_stat * (g - q) / (g - 1) > stats.f.ppf(level, q, g - q)
            out[r, k] = np.nan
            out[r, k, 0], out[r, k, 4] = f_stat, float(rejects)
            status[r, k] = st.OK


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
        diagnostics=("neg_weight_share", "neg_weight_sum", "forbidden_weight"),
    ),
    Estimator(
        name="event_study",
        summary="binned event study: y ~ leads and lags of adoption + unit + period effects (reference e = −1), "
        "one term per event time",
        needs=("panel_y", "cohort"),
        run=_run_event_study,
        reference=_reference_event_study,
        options=(
            Setting("leads", 4, "pre-adoption bins: e ≤ −leads binned, −leads+1 … −2 each their own", minimum=2),
            Setting("lags", 5, "post-adoption bins: 0 … lags−1 each their own, e ≥ lags binned", minimum=1),
            Setting(
                "se",
                "cluster_nested",
                "clustered by unit: cluster (K counts every fixed effect) or cluster_nested (pyfixest CRV1)",
                choices=("cluster", "cluster_nested"),
            ),
            Setting(
                "pretest",
                "hotelling",
                "term pretrend: the joint clustered Wald test that the leads are zero, W/q against "
                "F(q, G − 1) (f) or Hotelling's W(G − q)/(q(G − 1)) against F(q, G − q); none",
                choices=("hotelling", "f", "none"),
            ),
        ),
        applies=_check_window,
        terms=lambda shapes, options: (
            event_terms(options["leads"], options["lags"]) + (() if options["pretest"] == "none" else ("pretrend",))
        ),
    ),
)
