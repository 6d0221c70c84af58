"""Weighting by the inverse propensity score, alone or doubly robust.

Notation for one replication: n units, treatment dᵢ ∈ {0, 1}, outcome yᵢ,
xᵢ = [1, covariates] (length k), p̂ᵢ the fitted propensity score
(`propensity`), kᵢ = 1 when a ≤ p̂ᵢ ≤ 1 − a for the trimming threshold a
(option ``trim``, default 0: every unit), cᵢ the target population (ATE:
kᵢ; ATT: kᵢdᵢ), and the arm weights

    ATE:  w₁ᵢ = kᵢdᵢ/p̂ᵢ,   w₀ᵢ = kᵢ(1 − dᵢ)/(1 − p̂ᵢ)
    ATT:  w₁ᵢ = kᵢdᵢ,      w₀ᵢ = kᵢ(1 − dᵢ)p̂ᵢ/(1 − p̂ᵢ).

``ipw``      μ̂ₐ = Σ wₐᵢyᵢ / Σ wₐᵢ (``weights = "hajek"``, normalised, Stata
             ``teffects ipw`` and statsmodels ``TreatmentEffect.ipw``) or
             μ̂ₐ = Σ wₐᵢyᵢ / Σ cᵢ (``"ht"``, Horvitz–Thompson); τ̂ = μ̂₁ − μ̂₀.
``aipw``     m̂ₐ(x) = x'γ̂ₐ from OLS of y on x among the (kept) units of arm a;
             ATE: τ̂ = Σ cᵢ[m̂₁ᵢ − m̂₀ᵢ + w₁ᵢ(yᵢ − m̂₁ᵢ) − w₀ᵢ(yᵢ − m̂₀ᵢ)] / Σ cᵢ
             (Robins, Rotnitzky & Zhao 1994; statsmodels ``aipw``);
             ATT: τ̂ = Σ kᵢ[dᵢ − (1 − dᵢ)p̂ᵢ/(1 − p̂ᵢ)](yᵢ − m̂₀ᵢ) / Σ kᵢdᵢ
             (DoubleML's ATTE score).
``ipwra``    γ̂ₐ from least squares of y on x among arm a weighted by wₐ;
             τ̂ = Σ cᵢ xᵢ'(γ̂₁ − γ̂₀) / Σ cᵢ (Wooldridge 2007; statsmodels
             ``ipw_ra``, Stata ``teffects ipwra``).

Option ``outcome_adjust`` gives the outcome models covariates of their own
(absent: the propensity score's, ``adjust``), as Stata ``teffects`` allows.

Standard errors (option ``se``) are √Σφᵢ² with φᵢ the estimated influence
of unit i on τ̂, without a degrees-of-freedom correction, and the interval is
τ̂ ± z·se (normal critical value), as Stata ``teffects`` and DoubleML report:

``sandwich``   the M-estimation (GMM) sandwich of every estimating equation
               stacked: φᵢ adds, for each nuisance parameter θ (β of the
               propensity score, γ of the outcome models), G_θ'·(θ̂ − θ)ᵢ
               with G_θ the derivative of τ's equation in θ and (β̂ − β)ᵢ =
               I⁻¹sᵢ (`propensity`).  Equal to statsmodels' GMM standard
               errors (the default of ``ipw``, ``ipwra`` and ``aipw`` ATE;
               statsmodels has no AIPW ATT, whose sandwich the tests hold
               to the twin's stacked equations and check by coverage).
``fixed_ps``   (ipw) the same, treating p̂ as known: with an estimated score
               this is conservative for the ATE (Hirano, Imbens & Ridder 2003).
``influence``  (aipw) φᵢ is τ's own equation only, √(mean ψ²/n) (DoubleML):
               valid to first order because the AIPW score is orthogonal
               to the nuisance functions.

Diagnostics: ``ps_min``, ``ps_max`` (over all units), ``trimmed_share``
(1 − Σkᵢ/n), ``ess_treated`` and ``ess_control`` ((Σw)²/Σw² of each arm's
weights, Kish's effective sample size), ``max_smd`` (the largest absolute
standardised mean difference of a covariate after weighting:
|Σw₁x/Σw₁ − Σw₀x/Σw₀| / √((s₁² + s₀²)/2), s² the unweighted within-arm
variances; NaN without covariates or with fewer than two units in an arm).

Statuses: ``no_variation`` (every unit in one arm), ``singular`` (collinear
covariates), ``separation`` (the propensity model does not converge), and
``no_overlap`` (no kept treated or control unit, or an arm too small for its
outcome model).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numba import njit
from scipy import special

from .. import status as st
from ..inference import cholesky_inplace, cholesky_solve, normal_critical, write_failure, write_wald
from ..spec import Estimator, Setting
from .common import (
    ADJUST_OPTION,
    ATE,
    ESTIMAND_OPTION,
    ESTIMANDS,
    adjustment_arrays,
    covariates,
    estimand_term,
    max_standardised_difference,
    one_term,
)
from .propensity import LINKS, LOGIT, fit_propensity, link_values, positive_definite, reference_propensity

METHODS = ("ipw", "aipw", "ipwra")
IPW, AIPW, IPWRA = range(3)
SE_TYPES = ("sandwich", "fixed_ps", "influence")
SANDWICH, FIXED_PS, INFLUENCE = range(3)
DIAGNOSTICS = ("ps_min", "ps_max", "trimmed_share", "ess_treated", "ess_control", "max_smd")
PS_MIN, PS_MAX, TRIMMED, ESS1, ESS0, MAX_SMD = range(5, 11)

LINK_OPTION = Setting("link", "logit", "propensity model: logit or probit", choices=LINKS)
TRIM_OPTION = Setting(
    "trim",
    0.0,
    "drop units with p̂ outside [trim, 1 − trim] (0: keep all)",
    minimum=0.0,
    maximum=0.5,
    max_exclusive=True,
)


@njit(cache=True)
def _solve(matrix, vector, k, chol, out):
    """out = matrix⁻¹ vector for a k × k positive definite matrix; False when it is not."""
    chol[:k, :k] = matrix[:k, :k]
    if not cholesky_inplace(chol, k):
        return False
    out[:k] = vector[:k]
    cholesky_solve(chol, out, k)
    return True


@njit(cache=True)
def _row(cov, i, x):
    """x = [1, covariates of unit i]."""
    x[0] = 1.0
    for j in range(cov.shape[0]):
        x[j + 1] = cov[j, i]


@njit(cache=True)
def _outcome_model(y, cov, weight, k, a_mat, rhs, chol, gamma, x):
    """Weighted least squares γ of y on x over the units with weight > 0; a_mat = Σ w x x'. False when singular."""
    a_mat[:, :] = 0.0
    rhs[:] = 0.0
    for i in range(y.shape[0]):
        if weight[i] == 0.0:
            continue
        _row(cov, i, x)
        for a in range(k):
            rhs[a] += weight[i] * x[a] * y[i]
            for b in range(a + 1):
                a_mat[a, b] += weight[i] * x[a] * x[b]
    for a in range(k):
        for b in range(a):
            a_mat[b, a] = a_mat[a, b]
    return _solve(a_mat, rhs, k, chol, gamma)


@njit(cache=True)
def _diagnostics(d, cov, ps, kept, w1, w0, out, r):
    n = d.shape[0]
    lo, hi, n_kept = 1.0, 0.0, 0.0
    s1 = s1sq = s0 = s0sq = 0.0
    for i in range(n):
        lo = min(lo, ps[i])
        hi = max(hi, ps[i])
        n_kept += kept[i]
        s1 += w1[i]
        s1sq += w1[i] * w1[i]
        s0 += w0[i]
        s0sq += w0[i] * w0[i]
    out[r, PS_MIN] = lo
    out[r, PS_MAX] = hi
    out[r, TRIMMED] = 1.0 - n_kept / n
    out[r, ESS1] = s1 * s1 / s1sq
    out[r, ESS0] = s0 * s0 / s0sq
    out[r, MAX_SMD] = max_standardised_difference(d, cov, w1, w0)


@njit(cache=True)
def weighting_kernel(y, d, cov, cov_out, method, estimand, hajek, link, trim, se_code, crit, truth, out, status):
    """Batched ipw / aipw / ipwra with their standard errors (see the module docstring).

    Parameters
    ----------
    y, d : float64 arrays, shape (R, n)
        Outcome and 0/1 treatment.
    cov : float64 array, shape (R, p, n)
        Covariates of the propensity score.
    cov_out : float64 array, shape (R, q, n)
        Covariates of the outcome models (aipw, ipwra).
    method : int
        IPW, AIPW or IPWRA.
    estimand : int
        ATE or ATT.
    hajek : bool
        ipw only: normalised (True) or Horvitz–Thompson weights.
    link : int
        LOGIT or PROBIT.
    trim : float
        Keep units with trim ≤ p̂ ≤ 1 − trim.
    se_code : int
        SANDWICH, FIXED_PS or INFLUENCE.
    crit : float
        Normal critical value of the interval.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 11)
        estimate, se, ci_low, ci_high, reject, then `DIAGNOSTICS`.
    status : int8 array, shape (R,)
    """
    n_reps, p, n = cov.shape
    k = p + 1  # coefficients of the propensity score
    ko = cov_out.shape[1] + 1  # of each outcome model
    coef = np.empty(k)
    ps = np.empty(n)
    info = np.empty((k, k))
    chol = np.empty((k, k))
    kept = np.empty(n)
    target = np.empty(n)
    w1 = np.empty(n)
    w0 = np.empty(n)
    dw1 = np.empty(n)
    dw0 = np.empty(n)
    g = np.empty(n)  # the propensity score's score is g_i x_i
    fit1 = np.empty(n)
    fit0 = np.empty(n)
    phi = np.empty(n)
    x = np.empty(k)  # [1, covariates of the score] of one unit
    xo = np.empty(ko)  # [1, covariates of the outcome] of one unit
    chol_o = np.empty((ko, ko))
    a1 = np.empty((ko, ko))
    a0 = np.empty((ko, ko))
    rhs = np.empty(ko)
    gamma1 = np.empty(ko)
    gamma0 = np.empty(ko)
    g_beta = np.empty(k)
    h_beta = np.empty(k)
    g_x = np.empty(ko)
    u1 = np.empty(ko)
    u0 = np.empty(ko)
    v1 = np.empty(k)
    v0 = np.empty(k)
    h1 = np.empty(ko)
    h0 = np.empty(ko)
    for r in range(n_reps):
        yr, dr, cr, co = y[r], d[r], cov[r], cov_out[r]
        code = fit_propensity(cr, dr, link, coef, ps, info)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        n1 = n0 = total = 0.0
        for i in range(n):
            kept[i] = 1.0 if trim <= ps[i] <= 1.0 - trim else 0.0
            pi = ps[i]
            if link == LOGIT:  # f = F' = p(1 − p): no second exponential
                f = pi * (1.0 - pi)
            else:
                index = coef[0]
                for j in range(p):
                    index += coef[j + 1] * cr[j, i]
                _, f = link_values(index, link)
            g[i] = (dr[i] - pi) * f / (pi * (1.0 - pi))
            treated = dr[i] > 0.5
            n1 += kept[i] * treated
            n0 += kept[i] * (not treated)
            if estimand == ATE:
                target[i] = kept[i]
                w1[i] = kept[i] / pi if treated else 0.0
                dw1[i] = -kept[i] * f / (pi * pi) if treated else 0.0
            else:
                target[i] = kept[i] if treated else 0.0
                w1[i] = kept[i] if treated else 0.0
                dw1[i] = 0.0
            if treated:
                w0[i] = dw0[i] = 0.0
            elif estimand == ATE:
                w0[i] = kept[i] / (1.0 - pi)
                dw0[i] = kept[i] * f / ((1.0 - pi) * (1.0 - pi))
            else:
                w0[i] = kept[i] * pi / (1.0 - pi)
                dw0[i] = kept[i] * f / ((1.0 - pi) * (1.0 - pi))
            total += target[i]
        # an outcome model needs more units than coefficients in its arm
        need = ko if method != IPW else 0
        if n1 <= need or n0 <= need or n1 == 0.0 or n0 == 0.0:
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        _diagnostics(dr, cr, ps, kept, w1, w0, out, r)
        g_beta[:] = 0.0
        if method == IPW:
            sum1 = sum0 = m1 = m0 = 0.0
            for i in range(n):
                sum1 += w1[i]
                sum0 += w0[i]
                m1 += w1[i] * yr[i]
                m0 += w0[i] * yr[i]
            norm1 = sum1 if hajek else total
            norm0 = sum0 if hajek else total
            mu1, mu0 = m1 / norm1, m0 / norm0
            tau = mu1 - mu0
            # φᵢ = (w₁ᵢ(yᵢ − μ₁) [or w₁ᵢyᵢ − cᵢμ₁]) / norm₁ − (same for arm 0), plus Gβ'I⁻¹sᵢ
            for i in range(n):
                c1 = w1[i] if hajek else target[i]
                c0 = w0[i] if hajek else target[i]
                e1 = yr[i] - mu1 if hajek else yr[i]
                e0 = yr[i] - mu0 if hajek else yr[i]
                phi[i] = (w1[i] * yr[i] - c1 * mu1) / norm1 - (w0[i] * yr[i] - c0 * mu0) / norm0
                coef_i = dw1[i] * e1 / norm1 - dw0[i] * e0 / norm0
                _row(cr, i, x)
                for a in range(k):
                    g_beta[a] += coef_i * x[a]
        elif method == AIPW:
            if not _outcome_model(yr, co, kept * dr, ko, a1, rhs, chol_o, gamma1, xo) or not _outcome_model(
                yr, co, kept * (1.0 - dr), ko, a0, rhs, chol_o, gamma0, xo
            ):
                write_failure(out, status, r, st.SINGULAR)
                continue
            tau = 0.0
            for i in range(n):
                _row(co, i, xo)
                f1 = f0 = 0.0
                for a in range(ko):
                    f1 += xo[a] * gamma1[a]
                    f0 += xo[a] * gamma0[a]
                fit1[i], fit0[i] = f1, f0
                if estimand == ATE:
                    tau += target[i] * (f1 - f0) + w1[i] * (yr[i] - f1) - w0[i] * (yr[i] - f0)
                else:
                    tau += (w1[i] - w0[i]) * (yr[i] - f0)
            tau /= total
            # G of γ₁ and γ₀, the derivatives of τ's equation: ATE Σ (cᵢ − w₁ᵢ)xᵢ and −Σ (cᵢ − w₀ᵢ)xᵢ;
            # ATT 0 (the treated outcome model is not used) and −Σ (w₁ᵢ − w₀ᵢ)xᵢ
            u1[:] = 0.0
            u0[:] = 0.0
            for i in range(n):
                if estimand == ATE:
                    phi[i] = (
                        target[i] * (fit1[i] - fit0[i] - tau) + w1[i] * (yr[i] - fit1[i]) - w0[i] * (yr[i] - fit0[i])
                    ) / total
                else:
                    phi[i] = ((w1[i] - w0[i]) * (yr[i] - fit0[i]) - target[i] * tau) / total
                _row(cr, i, x)
                coef_i = (dw1[i] * (yr[i] - fit1[i]) - dw0[i] * (yr[i] - fit0[i])) / total
                for a in range(k):
                    g_beta[a] += coef_i * x[a]
                _row(co, i, xo)
                for a in range(ko):
                    if estimand == ATE:
                        u1[a] += (target[i] - w1[i]) * xo[a] / total
                        u0[a] -= (target[i] - w0[i]) * xo[a] / total
                    else:
                        u0[a] -= (w1[i] - w0[i]) * xo[a] / total
            if se_code == SANDWICH:
                # γ̂ₐ − γₐ ≈ Aₐ⁻¹ Σ xᵢeₐᵢ over arm a: unit i adds (Aₐ⁻¹Gₐ)·xᵢeₐᵢ
                _solve(a1, u1, ko, chol_o, h1)
                _solve(a0, u0, ko, chol_o, h0)
                for i in range(n):
                    _row(co, i, xo)
                    s1 = s0 = 0.0
                    for a in range(ko):
                        s1 += h1[a] * xo[a]
                        s0 += h0[a] * xo[a]
                    phi[i] += kept[i] * (dr[i] * s1 * (yr[i] - fit1[i]) + (1.0 - dr[i]) * s0 * (yr[i] - fit0[i]))
        else:  # IPWRA
            if not _outcome_model(yr, co, w1, ko, a1, rhs, chol_o, gamma1, xo) or not _outcome_model(
                yr, co, w0, ko, a0, rhs, chol_o, gamma0, xo
            ):
                write_failure(out, status, r, st.SINGULAR)
                continue
            tau = 0.0
            g_x[:] = 0.0
            for i in range(n):
                _row(co, i, xo)
                f1 = f0 = 0.0
                for a in range(ko):
                    f1 += xo[a] * gamma1[a]
                    f0 += xo[a] * gamma0[a]
                    g_x[a] += target[i] * xo[a] / total
                fit1[i], fit0[i] = f1, f0
                tau += target[i] * (f1 - f0)
            tau /= total
            # γ̂ₐ − γₐ ≈ Aₐ⁻¹[Σ wₐᵢxᵢeₐᵢ + Bₐ(β̂ − β)], Bₐ = Σ ∂wₐᵢ/∂β' eₐᵢ xᵢ: project on uₐ = Aₐ⁻¹G
            _solve(a1, g_x, ko, chol_o, u1)
            _solve(a0, g_x, ko, chol_o, u0)
            v1[:] = 0.0
            v0[:] = 0.0
            for i in range(n):
                _row(co, i, xo)
                s1 = s0 = 0.0
                for a in range(ko):
                    s1 += u1[a] * xo[a]
                    s0 += u0[a] * xo[a]
                _row(cr, i, x)
                e1 = yr[i] - fit1[i]
                e0 = yr[i] - fit0[i]
                phi[i] = target[i] * (fit1[i] - fit0[i] - tau) / total + w1[i] * e1 * s1 - w0[i] * e0 * s0
                for a in range(k):
                    v1[a] += dw1[i] * e1 * s1 * x[a]
                    v0[a] += dw0[i] * e0 * s0 * x[a]
            for a in range(k):
                g_beta[a] = v1[a] - v0[a]
        if se_code == SANDWICH:
            _solve(info, g_beta, k, chol, h_beta)
            for i in range(n):
                _row(cr, i, x)
                s = 0.0
                for a in range(k):
                    s += h_beta[a] * x[a]
                phi[i] += s * g[i]
        var = 0.0
        for i in range(n):
            var += phi[i] * phi[i]
        write_wald(out, status, r, tau, math.sqrt(var), crit, truth[r])


def _check(options, level, method) -> str | None:
    se = options["se"]
    allowed = {"ipw": ("sandwich", "fixed_ps"), "aipw": ("sandwich", "influence"), "ipwra": ("sandwich",)}[method]
    if se not in allowed:
        return f"{method} takes se = {' or '.join(repr(s) for s in allowed)}, not {se!r}"
    return None


def _run(batch, truth, options, level, out, status, method):
    d = np.ascontiguousarray(batch["treatment"], dtype=np.float64)
    weighting_kernel(
        batch["y"],
        d,
        covariates(batch, options),
        covariates(batch, _outcome_options(options)),
        METHODS.index(method),
        ESTIMANDS.index(options["estimand"]),
        options.get("weights", "hajek") == "hajek",
        LINKS.index(options["link"]),
        options["trim"],
        SE_TYPES.index(options["se"]),
        normal_critical(level),
        truth,
        out,
        status,
    )


def _reference(batch, truth, options, level, out, status, method):
    """Plain numpy: every estimating equation stacked, θ̂ by closed forms, the GMM sandwich A⁻¹BA⁻ᵀ/n with the
    Jacobian A by complex-step differentiation (exact to rounding), τ's entry."""
    y_all, d_all, cov_all = batch["y"], np.asarray(batch["treatment"], dtype=np.float64), covariates(batch, options)
    out_all = covariates(batch, _outcome_options(options))
    link, trim, se = LINKS.index(options["link"]), options["trim"], options["se"]
    att = options["estimand"] == "att"
    hajek = options.get("weights", "hajek") == "hajek"
    crit = normal_critical(level)
    for r in range(y_all.shape[0]):
        y, d, cov = y_all[r], d_all[r], cov_all[r]
        code, beta, ps, _ = reference_propensity(cov, d, link)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        n, k = d.shape[0], cov.shape[0] + 1
        x = np.column_stack([np.ones(n), cov.T])
        xo = np.column_stack([np.ones(n), out_all[r].T])
        kept = ((trim <= ps) & (ps <= 1 - trim)).astype(float)
        c = kept * d if att else kept

        def weights(b):
            p = _link(x @ b, link)
            return (kept * d if att else kept * d / p), (kept * (1 - d) * (p / (1 - p) if att else 1 / (1 - p)))

        need = xo.shape[1] if method != "ipw" else 0
        n1, n0 = (kept * d).sum(), (kept * (1 - d)).sum()
        if min(n1, n0) <= need or min(n1, n0) == 0:
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        w1, w0 = weights(beta)
        if method == "ipw":
            if hajek:
                mu0 = w0 @ y / w0.sum()
                tau = w1 @ y / w1.sum() - mu0
            else:
                mu0 = w0 @ y / c.sum()
                tau = w1 @ y / c.sum() - mu0
            tail = (mu0, tau)
        else:
            fit_w = (kept * d, kept * (1 - d)) if method == "aipw" else (w1, w0)
            gammas = []
            for wa in fit_w:
                gram = (xo * wa[:, None]).T @ xo
                if not positive_definite(gram):
                    break
                gammas.append(np.linalg.solve(gram, xo.T @ (wa * y)))
            if len(gammas) < 2:
                write_failure(out, status, r, st.SINGULAR)
                continue
            f1, f0 = xo @ gammas[0], xo @ gammas[1]
            if method == "ipwra":
                tau = c @ (f1 - f0) / c.sum()
            elif att:
                tau = (w1 - w0) @ (y - f0) / c.sum()
            else:
                tau = (c @ (f1 - f0) + w1 @ (y - f1) - w0 @ (y - f0)) / c.sum()
            tail = (*gammas[0], *gammas[1], tau)

        def equations(theta, with_beta):
            b = theta[:k] if with_beta else beta
            rest = theta[k:] if with_beta else theta
            p = _link(x @ b, link)
            v1, v0 = weights(b)
            cols = []
            if with_beta:
                f = np.exp(-0.5 * (x @ b) ** 2) / np.sqrt(2 * np.pi) if link == 1 else p * (1 - p)
                cols.append(((d - p) * f / (p * (1 - p)))[:, None] * x)
            if method == "ipw":
                m0, t = rest
                if hajek:
                    cols += [(v1 * (y - m0 - t))[:, None], (v0 * (y - m0))[:, None]]
                else:
                    cols += [(v1 * y - c * (m0 + t))[:, None], (v0 * y - c * m0)[:, None]]
            else:
                ko = xo.shape[1]
                g1, g0, t = rest[:ko], rest[ko : 2 * ko], rest[2 * ko]
                e1, e0 = y - xo @ g1, y - xo @ g0
                if method == "aipw":
                    cols += [(kept * d * e1)[:, None] * xo, (kept * (1 - d) * e0)[:, None] * xo]
                    last = (v1 - v0) * e0 - c * t if att else c * (xo @ (g1 - g0) - t) + v1 * e1 - v0 * e0
                else:
                    cols += [(v1 * e1)[:, None] * xo, (v0 * e0)[:, None] * xo]
                    last = c * (xo @ (g1 - g0) - t)
                cols += [last[:, None]]
            return np.concatenate(cols, axis=1)

        if se == "influence":  # τ's own equation, everything else held at its estimate
            psi = equations(np.array([*tail]), False)[:, -1]
            variance = psi @ psi / c.sum() ** 2
        else:
            with_beta = se == "sandwich"
            theta = np.array([*beta, *tail]) if with_beta else np.array(tail)
            psi = equations(theta, with_beta)
            jac = np.empty((theta.size, theta.size))
            for j in range(theta.size):
                step = np.zeros(theta.size, complex)
                step[j] = 1e-30j
                jac[:, j] = equations(theta + step, with_beta).imag.sum(axis=0) / 1e-30
            bread = np.linalg.inv(jac)
            variance = (bread @ psi.T @ psi @ bread.T)[-1, -1]
        write_wald(out, status, r, tau, np.sqrt(variance), crit, truth[r])
        _reference_diagnostics(d, cov, ps, kept, w1, w0, out, r)


def _outcome_options(options):
    """The options with ``adjust`` replaced by ``outcome_adjust`` when that is set (the outcome models' covariates)."""
    chosen = options.get("outcome_adjust")
    return options if chosen is None else {**options, "adjust": chosen}


def _arrays(options) -> tuple[str, ...]:
    both = (*adjustment_arrays(options), *adjustment_arrays(_outcome_options(options)))
    return tuple(dict.fromkeys(both))


def _link(index, link):
    """F(index), for real or complex index (complex-step derivatives)."""
    return 1 / (1 + np.exp(-index)) if link == 0 else 0.5 * special.erfc(-index / np.sqrt(2))


def _reference_diagnostics(d, cov, ps, kept, w1, w0, out, r):
    out[r, PS_MIN], out[r, PS_MAX] = ps.min(), ps.max()
    out[r, TRIMMED] = 1 - kept.mean()
    out[r, ESS1] = w1.sum() ** 2 / (w1**2).sum()
    out[r, ESS0] = w0.sum() ** 2 / (w0**2).sum()
    treated = d > 0.5
    smd = [
        abs(np.average(v, weights=w1) - np.average(v, weights=w0))
        / np.sqrt((v[treated].var(ddof=1) + v[~treated].var(ddof=1)) / 2)
        for v in cov
        if min(treated.sum(), (~treated).sum()) >= 2
    ]
    out[r, MAX_SMD] = max(smd) if smd else np.nan


SE_OPTION = Setting(
    "se",
    "sandwich",
    "standard errors: sandwich (GMM, the estimated propensity score accounted for), fixed_ps (ipw: p̂ treated as "
    "known), influence (aipw: the score's own variance, DoubleML)",
    choices=SE_TYPES,
)
WEIGHTS_OPTION = Setting(
    "weights", "hajek", "hajek (normalised within each arm) or ht (Horvitz–Thompson)", choices=("hajek", "ht")
)
OUTCOME_ADJUST_OPTION = Setting(
    "outcome_adjust",
    None,
    "covariates of the outcome models when they differ from the propensity score's (absent: the same as adjust)",
    kind=tuple,
)
_COMMON = (ESTIMAND_OPTION, LINK_OPTION, TRIM_OPTION, ADJUST_OPTION)


def _estimator(method, summary, options):
    return Estimator(
        name=method,
        summary=summary,
        needs=("y", "treatment"),
        run=one_term(partial(_run, method=method)),
        reference=one_term(partial(_reference, method=method)),
        terms=estimand_term,
        options=options,
        diagnostics=DIAGNOSTICS,
        check=partial(_check, method=method),
        option_needs=_arrays,
    )


ESTIMATORS = (
    _estimator(
        "ipw",
        "inverse probability weighting (Hajek or Horvitz–Thompson), ATE or ATT",
        (*_COMMON, WEIGHTS_OPTION, SE_OPTION),
    ),
    _estimator(
        "aipw", "augmented IPW (doubly robust), linear outcome models", (*_COMMON, OUTCOME_ADJUST_OPTION, SE_OPTION)
    ),
    _estimator(
        "ipwra",
        "IPW regression adjustment (doubly robust weighted least squares)",
        (*_COMMON, OUTCOME_ADJUST_OPTION, SE_OPTION),
    ),
)
