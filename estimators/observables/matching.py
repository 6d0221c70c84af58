"""Nearest-neighbour matching with replacement (Abadie & Imbens), ``match``.

Each unit i of the target group (all units for the ATE, the treated for the
ATT) is matched to the units J(i) of the other group nearest to it: the
``m`` nearest and every unit tied with the m-th (distance equal to it
exactly), each with weight 1/Mᵢ, Mᵢ = |J(i)| (R Matching's ``ties = TRUE``,
``distance.tolerance = 0``).  Units are reused (matching with replacement).

Distances (option ``on``, ``metric``), with Δ = xⱼ − xᵢ the difference of
the covariates (``adjust``, p of them):

``inverse_variance``  Δ' diag(1/s²) Δ, s² the sample variances (n − 1) of
                      the whole sample (Matching's ``Weight = 1``);
``mahalanobis``       Δ' S⁻¹ Δ, S their sample covariance matrix
                      (``Weight = 2``, which uses S⁻¹ up to a scalar);
``propensity``        |p̂ⱼ − p̂ᵢ|, p̂ a logit of the treatment on [1, x] fitted
                      by Newton–Raphson (`propensity.fit_propensity`), the
                      same fit the weighting estimators share per batch.

With one covariate, or on the propensity score, the search runs on the
sorted values (O(n log n)); otherwise by brute force over the other group
(O(n² p)), never forming an n × n matrix.

Estimate.  With Ŷᵢ(w) = Yᵢ when Wᵢ = w, else the mean of Y over J(i),
τ̂ᵢ = Ŷᵢ(1) − Ŷᵢ(0) and τ̂ = the mean of τ̂ᵢ over the target group (N_t units).
Bias adjustment (option ``bias_adjust = "regression"``, Abadie & Imbens
2011, Matching's ``BiasAdjust = TRUE`` with its default ``Z = X``): μ̂_w(x) =
x'α̂_w from the least squares of Y on [1, x] among the units of group w,
each weighted by Kⱼ (below), so only units used as matches enter; a matched
outcome Yⱼ becomes Yⱼ + (xᵢ − xⱼ)'α̂_w.

Standard error: the Abadie–Imbens (2006) variance of the population
estimand (Matching's default ``sample = FALSE``).  With Kⱼ = Σᵢ [j ∈ J(i)]/Mᵢ
(the weight unit j carries as a match; K_M(j)/M without ties) and
KKⱼ = Σᵢ [j ∈ J(i)]/Mᵢ²:

    ATE  V = [ Σⱼ σ̂ⱼ² (Kⱼ² + 2Kⱼ − KKⱼ) + Σᵢ (τ̂ᵢ − τ̂)² ] / N²
    ATT  V = [ Σ_{controls j} σ̂ⱼ² (Kⱼ² − KKⱼ) + Σ_{treated i} (τ̂ᵢ − τ̂)² ] / N₁²

(with bias adjustment τ̂ᵢ is the adjusted one).  The conditional variances
σ̂ⱼ² (option ``var_matches`` = J, Matching's ``Var.calc``):

``J ≥ 1``  the sample variance (divisor c − 1) of the outcomes of j and of
           its J nearest units of its own treatment group (ties kept), c
           of them: Matching's ``VarCalcMatchC``.  For J = 1 it is AI
           (2006) eq. (14), ½(Yⱼ − Yₗ)²; for J > 1 eq. (14) would use
           J/(J + 1)·(Yⱼ − Ȳ_J)², which is not what Matching computes.
``J = 0``  homoskedasticity: one σ̂² = ½ Σᵢ (1/Mᵢ) Σ_{j∈J(i)} (τ̂ᵢⱼ − τ̂)² / N_t
           over the matched pairs' (adjusted) differences τ̂ᵢⱼ (Matching's
           ``Var.calc = 0``).

Propensity-score matching (``on = "propensity"``) with ``ps_se = "ai2016"``
subtracts the Abadie–Imbens (2016) effect of estimating the score.  With
f = p(1 − p) the logit density at the fit, I the information of the logit
(intercept first) and, for each unit i and group w, ĉov_w(i) the sample
covariance (divisor |H| − 1) of [1, x] and Y over H_w(i), the L = J units
of group w nearest to i on p̂ (i itself included when Wᵢ = w; ties kept):

    ATE  c = (1/N) Σᵢ fᵢ [ĉov₁(i)/p̂ᵢ + ĉov₀(i)/(1 − p̂ᵢ)],        V − c'I⁻¹c
    ATT  c = (1/N₁) Σᵢ fᵢ [ĉov₁(i) + p̂ᵢ/(1 − p̂ᵢ)·ĉov₀(i)],
         d = (1/N₁) Σᵢ fᵢ (τ̂ᵢ − τ̂) [1, xᵢ],                       V − c'I⁻¹c + d'I⁻¹d

(sums over all N units; for the ATT the controls' τ̂ᵢ = Ŷᵢ(1) − Yᵢ come from
matching them to their m nearest treated units), as in Stata's ``teffects
psmatch``.  ``ps_se = "ai2006"`` keeps V, ignoring the estimation of p̂.

Interval: τ̂ ± z_{1−α/2}·√V (normal critical values, as Matching and teffects).
The tests hold estimates and standard errors to R Matching (``ties = TRUE``,
``distance.tolerance = 0``, ``Var.calc = J``) through fixtures committed in
``tests/fixtures/matching/`` with the R script that made them.

Diagnostics, per replication:

``max_smd``        max over covariates of |x̄(1) − x̄(0)| / √((s₁² + s₀²)/2):
                   x̄(w) the mean of x̂ᵢ(w) over the target group after
                   matching (x̂ᵢ(w) = xᵢ or the mean of x over J(i)), s_w² the
                   sample variance of the covariate in group w before
                   matching (NaN when a group has one unit);
``matched_units``  distinct units used as a match at least once;
``max_weight``     the largest Kⱼ (how often the most reused unit serves);
``ps_min``, ``ps_max``  the range of p̂ (NaN when matching on covariates).

Statuses: ``no_variation`` when every unit has the same treatment (or the
variance is not positive, which the AI 2016 subtraction can produce in small
samples); ``singular`` when a covariate is constant, S is singular, the
logit's covariates are collinear or a bias-adjustment regression is
singular; ``separation`` when the logit does not converge; ``no_overlap``
when a group that supplies matches has fewer than m units;
``no_residual_df`` when a group has too few units for the J within-group
matches of the variance (J + 1) or the covariance sets (J).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import (
    cholesky_inplace,
    cholesky_solve,
    inverse_quadratic_form,
    normal_critical,
    write_failure,
    write_wald,
)
from ..spec import Estimator, Setting
from . import common
from .matching_reference import reference_match
from .neighbours import metric_matrix, nearest
from .propensity import fitted_propensity

ON = ("covariates", "propensity")
COVARIATES, PROPENSITY = range(2)
METRICS = ("inverse_variance", "mahalanobis")
INVERSE_VARIANCE, MAHALANOBIS = range(2)
BIAS = ("none", "regression")
NO_BIAS_ADJUSTMENT, REGRESSION = range(2)
PS_SE = ("ai2016", "ai2006")
AI2016, AI2006 = range(2)
DIAGNOSTICS = ("max_smd", "matched_units", "max_weight", "ps_min", "ps_max")
MAX_SMD, MATCHED_UNITS, MAX_WEIGHT, PS_MIN, PS_MAX = range(5, 10)


@njit(cache=True)
def _weighted_slopes(cov, y, treated, group, weights, alpha, scatter):
    """Slopes α of the least squares of y on [1, x] within a group, unit j weighted by weights[j]; False if singular.

    Centred at the weighted means (the intercept partialled out), solved by Cholesky.
    """
    p, n = cov.shape
    total = 0.0
    ybar = 0.0
    xbar = np.zeros(p)
    for j in range(n):
        if (treated[j] > 0.5) == (group == 1) and weights[j] > 0.0:
            total += weights[j]
            ybar += weights[j] * y[j]
            for a in range(p):
                xbar[a] += weights[j] * cov[a, j]
    ybar /= total
    for a in range(p):
        xbar[a] /= total
    scatter[:, :] = 0.0
    alpha[:] = 0.0
    for j in range(n):
        if (treated[j] > 0.5) == (group == 1) and weights[j] > 0.0:
            for a in range(p):
                da = weights[j] * (cov[a, j] - xbar[a])
                alpha[a] += da * (y[j] - ybar)
                for b in range(a + 1):
                    scatter[a, b] += da * (cov[b, j] - xbar[b])
    if not cholesky_inplace(scatter, p):
        return False
    cholesky_solve(scatter, alpha, p)
    return True


@njit(cache=True)
def _covariance_row(cov, y, members, cnt, out):
    """Sample covariances (divisor cnt − 1) of [1, x] with y over `members[:cnt]`: out[0] = 0 (the intercept)."""
    p = cov.shape[0]
    ybar = 0.0
    for a in range(cnt):
        ybar += y[members[a]]
    ybar /= cnt
    out[0] = 0.0
    for c in range(p):
        xbar = 0.0
        for a in range(cnt):
            xbar += cov[c, members[a]]
        xbar /= cnt
        s = 0.0
        for a in range(cnt):
            j = members[a]
            s += (cov[c, j] - xbar) * (y[j] - ybar)
        out[c + 1] = s / (cnt - 1)


@njit(cache=True)
def match_kernel(
    y, treatment, cov, fit_status, scores, infos, on, metric, estimand, m, bias, var_matches, ps_se, crit, truth, out,
    status,
):  # fmt: skip
    """Batched nearest-neighbour matching with Abadie–Imbens standard errors.

    Parameters
    ----------
    y, treatment : float64 arrays, shape (R, n)
        Outcome; 1 for treated units, 0 for controls.
    cov : float64 array, shape (R, p, n)
        Covariates, variable-major, p ≥ 1.
    fit_status : int8 array, shape (R,)
    scores : float64 array, shape (R, n)
    infos : float64 array, shape (R, p + 1, p + 1)
        With ``on = PROPENSITY``, the logit score fitted on [1, cov]
        (`propensity.fitted_propensity`): its status, p̂ and observed
        information; otherwise unread (shapes (R, 0) and (R, 0, 0) do).
    on, metric, estimand, bias, ps_se : int
        Codes: COVARIATES or PROPENSITY; INVERSE_VARIANCE or MAHALANOBIS;
        common.ATE or common.ATT; NO_BIAS_ADJUSTMENT or REGRESSION; AI2016
        or AI2006.
    m : int
        Matches per unit (ties add more).
    var_matches : int
        J, the within-group matches of the conditional variances (0:
        homoskedastic).
    crit : float
        Normal critical value z_{1−α/2}.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 10)
        Estimate, se, ci_low, ci_high, reject, then the DIAGNOSTICS.
    status : int8 array, shape (R,)

    Notes
    -----
    Formulas and statuses in the module docstring.  Per replication: the
    matches of the target units are stored as a flat list (ties can make it
    longer than n·m; it grows by doubling), and K, KK, the imputed outcomes
    and τ̂ᵢ are accumulated from it.
    """
    n_reps, n = y.shape
    p = cov.shape[1]
    ate = estimand == common.ATE
    on_ps = on == PROPENSITY
    one_d = on_ps or p == 1
    adjust_ps = on_ps and ps_se == AI2016
    k = p + 1
    vals = np.empty((2, n))
    idx = np.empty((2, n), np.int64)
    counts = np.zeros(2, np.int64)
    buf = np.empty(n, np.int64)
    dist = np.empty(n)
    block = np.empty((2, p, n))  # each group's covariates, contiguous (brute-force search)
    weight = np.empty((p, p))
    scatter = np.empty((p, p))
    alpha = np.zeros((2, p))  # bias-adjustment slopes of the controls (0) and the treated (1)
    info_copy = np.empty((k, k))
    point = np.empty(n)
    kcount = np.empty(n)
    kkcount = np.empty(n)
    imputed = np.empty(n)
    tau = np.empty(n)
    ptr = np.zeros(n + 1, np.int64)
    match_idx = np.empty(n * m, np.int64)
    xbar = np.empty(p)
    row = np.empty(k)
    cvec = np.empty(k)
    dvec = np.empty(k)
    means = np.empty((2, p))
    for r in range(n_reps):
        yr = y[r]
        dr = treatment[r]
        xr = cov[r]
        ps = scores[r]
        info = infos[r]
        n1 = 0
        for i in range(n):
            if dr[i] > 0.5:
                n1 += 1
        n0 = n - n1
        if n1 == 0 or n0 == 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        # The matching variable: the fitted score, or the covariates and their metric.
        code = st.OK
        if on_ps:
            code = fit_status[r]
            point[:] = ps
        else:
            if not metric_matrix(xr, metric == INVERSE_VARIANCE or p == 1, weight, scatter, xbar):
                code = st.SINGULAR
            point[:] = xr[0]
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        if n0 < m or (ate and n1 < m) or (adjust_ps and not ate and n1 < m):
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        if var_matches > 0 and (n0 < var_matches + 1 or (ate and n1 < var_matches + 1)):
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        if adjust_ps and (n0 < var_matches or n1 < var_matches):
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        # Group members, sorted by the matching variable for the one-dimensional search.
        counts[:] = 0
        for i in range(n):
            g = 1 if dr[i] > 0.5 else 0
            idx[g, counts[g]] = i
            counts[g] += 1
        if one_d:
            for g in range(2):
                members = idx[g, : counts[g]].copy()
                order = np.argsort(point[members])
                for a in range(counts[g]):
                    idx[g, a] = members[order[a]]
                    vals[g, a] = point[members[order[a]]]
        else:
            for g in range(2):
                for a in range(p):
                    for j in range(counts[g]):
                        block[g, a, j] = xr[a, idx[g, j]]
        search = (point, vals, idx, counts, xr, block, weight, metric == INVERSE_VARIANCE, dist)
        # Matching: the target units' matches are stored; an ATT adjusted for the estimated score
        # also imputes the controls' treated outcome (not counted in K).
        kcount[:] = 0.0
        kkcount[:] = 0.0
        used = 0
        for i in range(n):
            treated_i = dr[i] > 0.5
            target = ate or treated_i
            ptr[i] = used
            if not (target or adjust_ps):
                continue
            cnt = nearest(one_d, search, i, 0 if treated_i else 1, m, -1, buf)
            s = 0.0
            for a in range(cnt):
                s += yr[buf[a]]
            imputed[i] = s / cnt
            if target:
                if used + cnt > match_idx.shape[0]:
                    bigger = np.empty(max(2 * match_idx.shape[0], used + cnt), np.int64)
                    bigger[:used] = match_idx[:used]
                    match_idx = bigger
                share = 1.0 / cnt
                for a in range(cnt):
                    j = buf[a]
                    match_idx[used + a] = j
                    kcount[j] += share
                    kkcount[j] += share * share
                used += cnt
        ptr[n] = used
        if bias == REGRESSION:
            ok = _weighted_slopes(xr, yr, dr, 0, kcount, alpha[0], scatter)
            if ok and ate:
                ok = _weighted_slopes(xr, yr, dr, 1, kcount, alpha[1], scatter)
            if not ok:
                write_failure(out, status, r, st.SINGULAR)
                continue
        # τ̂ᵢ: the matched outcome's mean, moved by (xᵢ − x̄_J(i))'α̂ of the matches' group.
        n_target = 0
        est = 0.0
        for i in range(n):
            treated_i = dr[i] > 0.5
            if not (ate or treated_i or adjust_ps):
                continue
            shift = 0.0
            if bias == REGRESSION:
                g = 0 if treated_i else 1
                cnt = ptr[i + 1] - ptr[i]
                for a in range(p):
                    s = 0.0
                    for e in range(ptr[i], ptr[i + 1]):
                        s += xr[a, match_idx[e]]
                    shift += (xr[a, i] - s / cnt) * alpha[g, a]
            tau[i] = yr[i] - imputed[i] - shift if treated_i else imputed[i] + shift - yr[i]
            if ate or treated_i:
                n_target += 1
                est += tau[i]
        est /= n_target
        # Abadie–Imbens (2006) variance of the population estimand.
        var = 0.0
        sigma2 = 0.0
        if var_matches == 0:
            sq = 0.0
            for i in range(n):
                if ptr[i + 1] == ptr[i]:
                    continue
                treated_i = dr[i] > 0.5
                g = 0 if treated_i else 1
                share = 1.0 / (ptr[i + 1] - ptr[i])
                for e in range(ptr[i], ptr[i + 1]):
                    j = match_idx[e]
                    pair = yr[i] - yr[j] if treated_i else yr[j] - yr[i]
                    if bias == REGRESSION:
                        adj = 0.0
                        for a in range(p):
                            adj += (xr[a, i] - xr[a, j]) * alpha[g, a]
                        pair = pair - adj if treated_i else pair + adj
                    sq += share * (pair - est) ** 2
            sigma2 = 0.5 * sq / n_target
        for j in range(n):
            if kcount[j] > 0.0:
                factor = kcount[j] * kcount[j] - kkcount[j]
                if ate:
                    factor += 2.0 * kcount[j]
                if var_matches > 0:
                    own = 1 if dr[j] > 0.5 else 0
                    cnt = nearest(one_d, search, j, own, var_matches, j, buf)
                    buf[cnt] = j
                    mean = 0.0
                    for a in range(cnt + 1):
                        mean += yr[buf[a]]
                    mean /= cnt + 1
                    sigma2 = 0.0
                    for a in range(cnt + 1):
                        sigma2 += (yr[buf[a]] - mean) ** 2
                    sigma2 /= cnt
                var += sigma2 * factor
        for i in range(n):
            if ate or dr[i] > 0.5:
                var += (tau[i] - est) ** 2
        var /= n_target * n_target
        if adjust_ps:
            # Abadie–Imbens (2016): the effect of the estimated score, from local covariances on p̂.
            cvec[:] = 0.0
            dvec[:] = 0.0
            for i in range(n):
                pi = ps[i]
                fi = pi * (1.0 - pi)
                for g in range(2):
                    cnt = nearest(True, search, i, g, var_matches, -1, buf)
                    _covariance_row(xr, yr, buf, cnt, row)
                    if ate:
                        scale = fi / pi if g == 1 else fi / (1.0 - pi)
                    else:
                        scale = fi if g == 1 else fi * pi / (1.0 - pi)
                    for a in range(k):
                        cvec[a] += scale * row[a]
                if not ate:
                    dev = fi * (tau[i] - est)
                    dvec[0] += dev
                    for a in range(p):
                        dvec[a + 1] += dev * xr[a, i]
            for a in range(k):
                cvec[a] /= n_target
                dvec[a] /= n_target
            info_copy[:, :] = info
            var -= inverse_quadratic_form(info_copy, cvec, k)
            if not ate:
                info_copy[:, :] = info
                var += inverse_quadratic_form(info_copy, dvec, k)
        se = math.sqrt(var) if var > 0.0 else np.nan
        write_wald(out, status, r, est, se, crit, truth[r])
        if status[r] != st.OK:
            continue
        # Diagnostics: balance after matching, reuse, the score's range.
        means[:, :] = 0.0
        matched = 0
        heaviest = 0.0
        for j in range(n):
            g = 1 if dr[j] > 0.5 else 0
            if kcount[j] > 0.0:
                matched += 1
                heaviest = max(heaviest, kcount[j])
            w = kcount[j] + (1.0 if ate or g == 1 else 0.0)
            for a in range(p):
                means[g, a] += w * xr[a, j]
        smd = 0.0
        if n1 < 2 or n0 < 2:
            smd = np.nan
        else:
            for a in range(p):
                pooled = 0.0
                for g in range(2):
                    s = 0.0
                    for e in range(counts[g]):
                        s += xr[a, idx[g, e]]
                    mean = s / counts[g]
                    s = 0.0
                    for e in range(counts[g]):
                        s += (xr[a, idx[g, e]] - mean) ** 2
                    pooled += 0.5 * s / (counts[g] - 1)
                diff = abs(means[1, a] - means[0, a]) / n_target
                sd = math.sqrt(pooled)
                value = diff / sd if sd > 0.0 else (0.0 if diff == 0.0 else np.inf)
                smd = max(smd, value)
        out[r, MAX_SMD] = smd
        out[r, MATCHED_UNITS] = matched
        out[r, MAX_WEIGHT] = heaviest
        if on_ps:
            lo = np.inf
            hi = -np.inf
            for i in range(n):
                lo = min(lo, ps[i])
                hi = max(hi, ps[i])
            out[r, PS_MIN] = lo
            out[r, PS_MAX] = hi
        else:
            out[r, PS_MIN] = np.nan
            out[r, PS_MAX] = np.nan


def _codes(options) -> tuple[int, ...]:
    return (
        ON.index(options["on"]),
        METRICS.index(options["metric"]),
        common.ESTIMANDS.index(options["estimand"]),
        options["m"],
        BIAS.index(options["bias_adjust"]),
        options["var_matches"],
        PS_SE.index(options["ps_se"]),
    )


def _run(batch, truth, options, level, out, status):
    on, metric, estimand, m, bias, var_matches, ps_se = _codes(options)
    cov = common.covariates(batch, options)
    d = np.ascontiguousarray(batch["treatment"], dtype=np.float64)
    if on == PROPENSITY:  # the logit ipw, aipw and ipwra fit on the same covariates: shared within a batch
        fits = fitted_propensity(batch, {"adjust": options.get("adjust"), "link": "logit"}, d, cov)
        fit_status, scores, infos = fits.status, fits.ps, fits.info
    else:
        n_reps = d.shape[0]
        fit_status, scores, infos = np.zeros(n_reps, np.int8), np.empty((n_reps, 0)), np.empty((n_reps, 0, 0))
    match_kernel(
        batch["y"],
        d,
        cov,
        fit_status,
        scores,
        infos,
        on,
        metric,
        estimand,
        m,
        bias,
        var_matches,
        ps_se,
        normal_critical(level),
        truth,
        out,
        status,
    )


def _applies(shapes, options) -> str | None:
    adjust = options.get("adjust")
    p = len(adjust) if adjust is not None else shapes.get("controls", (0,))[0]
    return None if p > 0 else "matching needs at least one covariate (adjust = [] leaves none)"


def _check(options, level) -> str | None:
    on_ps = options["on"] == "propensity"
    if on_ps and options["metric"] != "inverse_variance":
        return "metric applies to covariate matching; on = 'propensity' matches on |p̂ᵢ − p̂ⱼ|"
    if on_ps and options["bias_adjust"] != "none":
        return "bias_adjust = 'regression' is for covariate matching (AI 2016 covers matching on p̂ without it)"
    if not on_ps and options["ps_se"] != "ai2016":
        return "ps_se chooses the standard error of on = 'propensity'"
    if on_ps and options["ps_se"] == "ai2016" and options["var_matches"] < 2:
        return "ps_se = 'ai2016' estimates local covariances from var_matches ≥ 2 neighbours"
    return None


ESTIMATORS = (
    Estimator(
        name="match",
        summary="nearest-neighbour matching with replacement (covariates or logit p-score), Abadie–Imbens SE",
        needs=("y", "treatment"),
        run=common.one_term(_run),
        reference=common.one_term(reference_match),
        terms=common.estimand_term,
        options=(
            common.ADJUST_OPTION,
            common.ESTIMAND_OPTION,
            Setting("on", "covariates", "match on the covariates, or on a logit propensity score", choices=ON),
            Setting(
                "metric",
                "inverse_variance",
                "covariate distance: inverse_variance (diag(1/s²), Matching's Weight = 1) or mahalanobis (S⁻¹)",
                choices=METRICS,
            ),
            Setting("m", 1, "matches per unit (units tied with the m-th are all kept)", minimum=1),
            Setting(
                "bias_adjust",
                "none",
                "none, or regression (Abadie–Imbens 2011: K-weighted least squares on the covariates per group)",
                choices=BIAS,
            ),
            Setting(
                "var_matches",
                2,
                "within-group matches J of the conditional variances (Matching's Var.calc; 0: homoskedastic)",
                minimum=0,
            ),
            Setting(
                "ps_se",
                "ai2016",
                "with on = propensity: ai2016 (adjusted for the estimated score) or ai2006 (score taken as known)",
                choices=PS_SE,
            ),
        ),
        diagnostics=DIAGNOSTICS,
        applies=_applies,
        check=_check,
        option_needs=common.adjustment_arrays,
    ),
)
