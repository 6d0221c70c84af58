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
``influence``  (aipw) φᵢ is τ's own equation only, √(mean ψ²/n) (DoubleML
               ``DoubleMLIRM`` given the same predictions as external ones):
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
from ..moments import dot, linear_index, total, weighted_gram, weighted_sums
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
from ..inference import positive_definite
from .propensity import LINKS, LOGIT, fitted_propensity, link_values, reference_propensity

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
def _outcome_model(y, cov, weight, k, gram, rhs, chol, gamma, residual, scratch):
    """Weighted least squares γ of y on x = [1, cov] over the units with weight > 0, gram = Σ w x x', and
    residual = y − x'γ for every unit.  False when singular."""
    weighted_gram(cov, weight, gram, scratch)
    for i in range(y.shape[0]):
        scratch[i] = weight[i] * y[i]
    weighted_sums(cov, scratch, rhs)
    if not _solve(gram, rhs, k, chol, gamma):
        return False
    linear_index(cov, gamma, residual)
    for i in range(y.shape[0]):
        residual[i] = y[i] - residual[i]
    return True


@njit(cache=True)
def _outcome_models(y, cov, weight1, weight0, k, a1, a0, rhs, chol, gamma1, gamma0, scratch, res1, res0):
    """The treated (weight1) and control (weight0) outcome models of aipw and ipwra: γₐ, Aₐ = Σ wₐ x x' and
    the residuals eₐᵢ = yᵢ − xᵢ'γₐ.  False when either is singular."""
    return _outcome_model(y, cov, weight1, k, a1, rhs, chol, gamma1, res1, scratch) and _outcome_model(
        y, cov, weight0, k, a0, rhs, chol, gamma0, res0, scratch
    )


@njit(cache=True, error_model="numpy")  # see vector_math: vectorised divisions
def _weights(d, ps, f, trim, estimand, kept, target, w1, w0, dw1, dw0, g):
    """Per unit (module docstring): kᵢ, cᵢ, the arm weights wₐᵢ, their derivatives in the index xᵢ'β (∂wₐᵢ/∂β =
    dwₐᵢ xᵢ) and gᵢ of the score's score gᵢxᵢ, from dᵢ, p̂ᵢ and fᵢ = F'(xᵢ'β̂).  Its branches are selects or
    loop-invariant, so it vectorises."""
    for i in range(d.shape[0]):
        pi, di, fi = ps[i], d[i], f[i]
        ki = 1.0 if trim <= pi <= 1.0 - trim else 0.0
        on, off = 1.0 / pi, 1.0 / (1.0 - pi)
        k1 = ki * di
        k0 = ki - k1
        kept[i] = ki
        g[i] = (di - pi) * fi * on * off
        dw0[i] = k0 * fi * off * off
        if estimand == ATE:
            target[i] = ki
            w1[i] = k1 * on
            dw1[i] = -k1 * fi * on * on
            w0[i] = k0 * off
        else:
            target[i] = k1
            w1[i] = k1
            dw1[i] = 0.0
            w0[i] = k0 * pi * off


@njit(cache=True)
def _diagnostics(d, cov, ps, kept, w1, w0, out, r):
    n = d.shape[0]
    lo, hi, n_kept = 1.0, 0.0, 0.0
    for i in range(n):
        lo = min(lo, ps[i])
        hi = max(hi, ps[i])
        n_kept += kept[i]
    out[r, PS_MIN] = lo
    out[r, PS_MAX] = hi
    out[r, TRIMMED] = 1.0 - n_kept / n
    s1, s0 = total(w1), total(w0)
    out[r, ESS1] = s1 * s1 / dot(w1, w1)
    out[r, ESS0] = s0 * s0 / dot(w0, w0)
    out[r, MAX_SMD] = max_standardised_difference(d, cov, w1, w0)


@njit(cache=True, error_model="numpy")
def weighting_kernel(
    y, d, cov, cov_out, fit_status, coefs, scores, infos, method, estimand, hajek, link, trim, se_code, crit, truth,
    out, status,
):  # fmt: skip
    """Batched ipw / aipw / ipwra with their standard errors (see the module docstring).

    Parameters
    ----------
    y, d : float64 arrays, shape (R, n)
        Outcome and 0/1 treatment.
    cov : float64 array, shape (R, p, n)
        Covariates of the propensity score.
    cov_out : float64 array, shape (R, q, n)
        Covariates of the outcome models (aipw, ipwra).
    fit_status : int8 array, shape (R,)
    coefs : float64 array, shape (R, p + 1)
    scores : float64 array, shape (R, n)
    infos : float64 array, shape (R, p + 1, p + 1)
        The fitted propensity score (`propensity.fit_propensity_batch`):
        its status, β̂, p̂ and observed information.
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

    Notes
    -----
    Every sum over units is a pass over contiguous arrays (`weighted_sums`,
    `weighted_gram`, `linear_index`): the influence of unit i on a
    nuisance parameter enters as an array of per-unit coefficients whose
    products with the covariates are summed at once.
    """
    n_reps, p, n = cov.shape
    k = p + 1  # coefficients of the propensity score
    ko = cov_out.shape[1] + 1  # of each outcome model
    chol = np.empty((k, k))
    kept = np.empty(n)
    target = np.empty(n)
    w1 = np.empty(n)
    w0 = np.empty(n)
    dw1 = np.empty(n)
    dw0 = np.empty(n)
    g = np.empty(n)  # the propensity score's score is g_i x_i
    res1 = np.empty(n)  # the outcome models' residuals yᵢ − m̂ₐᵢ
    res0 = np.empty(n)
    phi = np.empty(n)
    unit = np.empty(n)  # per-unit coefficients of a sum over units
    scratch = np.empty(n)
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
    h1 = np.empty(ko)
    h0 = np.empty(ko)
    for r in range(n_reps):
        yr, dr, cr, co, ps, coef = y[r], d[r], cov[r], cov_out[r], scores[r], coefs[r]
        if fit_status[r] != st.OK:
            write_failure(out, status, r, fit_status[r])
            continue
        if link == LOGIT:  # f = F'(xβ) = p(1 − p): no second exponential
            for i in range(n):
                scratch[i] = ps[i] * (1.0 - ps[i])
        else:
            linear_index(cr, coef, scratch)
            for i in range(n):
                scratch[i] = link_values(scratch[i], link)[1]
        _weights(dr, ps, scratch, trim, estimand, kept, target, w1, w0, dw1, dw0, g)
        n1 = dot(kept, dr)
        n0 = total(kept) - n1
        size = n1 + n0 if estimand == ATE else n1  # Σ cᵢ
        # an outcome model needs more units than coefficients in its arm
        need = ko if method != IPW else 0
        if n1 <= need or n0 <= need or n1 == 0.0 or n0 == 0.0:
            write_failure(out, status, r, st.NO_OVERLAP)
            continue
        _diagnostics(dr, cr, ps, kept, w1, w0, out, r)
        if method == IPW:
            norm1 = total(w1) if hajek else size
            norm0 = total(w0) if hajek else size
            mu1, mu0 = dot(w1, yr) / norm1, dot(w0, yr) / norm0
            tau = mu1 - mu0
            # φᵢ = (w₁ᵢ(yᵢ − μ₁) [or w₁ᵢyᵢ − cᵢμ₁]) / norm₁ − (same for arm 0), plus Gβ'I⁻¹sᵢ
            inv1, inv0 = 1.0 / norm1, 1.0 / norm0
            centre1, centre0 = (mu1, mu0) if hajek else (0.0, 0.0)
            ht_term = 0.0 if hajek else mu1 * inv1 - mu0 * inv0
            for i in range(n):
                e1 = (yr[i] - centre1) * inv1
                e0 = (yr[i] - centre0) * inv0
                phi[i] = w1[i] * e1 - w0[i] * e0 - target[i] * ht_term
                unit[i] = dw1[i] * e1 - dw0[i] * e0
            weighted_sums(cr, unit, g_beta)
        elif method == AIPW:
            for i in range(n):
                unit[i] = kept[i] * dr[i]
                phi[i] = kept[i] - unit[i]  # the control arm's kept units, a weight for now
            if not _outcome_models(yr, co, unit, phi, ko, a1, a0, rhs, chol_o, gamma1, gamma0, scratch, res1, res0):
                write_failure(out, status, r, st.SINGULAR)
                continue
            # τ's equation ψᵢ − cᵢτ, m̂₁ᵢ − m̂₀ᵢ = e₀ᵢ − e₁ᵢ
            if estimand == ATE:
                for i in range(n):
                    phi[i] = target[i] * (res0[i] - res1[i]) + w1[i] * res1[i] - w0[i] * res0[i]
            else:
                for i in range(n):
                    phi[i] = (w1[i] - w0[i]) * res0[i]
            inv_size = 1.0 / size
            tau = total(phi) * inv_size
            for i in range(n):
                phi[i] = (phi[i] - target[i] * tau) * inv_size
                unit[i] = (dw1[i] * res1[i] - dw0[i] * res0[i]) * inv_size
            weighted_sums(cr, unit, g_beta)
            if se_code == SANDWICH:
                # G of γ₁ and γ₀, the derivatives of τ's equation: ATE Σ (cᵢ − w₁ᵢ)xᵢ and −Σ (cᵢ − w₀ᵢ)xᵢ;
                # ATT 0 (the treated outcome model is not used) and −Σ (w₁ᵢ − w₀ᵢ)xᵢ
                if estimand == ATE:
                    for i in range(n):
                        unit[i] = (target[i] - w1[i]) * inv_size
                    weighted_sums(co, unit, u1)
                    for i in range(n):
                        unit[i] = (w0[i] - target[i]) * inv_size
                else:
                    u1[:] = 0.0
                    for i in range(n):
                        unit[i] = (w0[i] - w1[i]) * inv_size
                weighted_sums(co, unit, u0)
                # γ̂ₐ − γₐ ≈ Aₐ⁻¹ Σ xᵢeₐᵢ over arm a: unit i adds (Aₐ⁻¹Gₐ)·xᵢeₐᵢ
                _solve(a1, u1, ko, chol_o, h1)
                _solve(a0, u0, ko, chol_o, h0)
                linear_index(co, h1, unit)
                linear_index(co, h0, scratch)
                for i in range(n):
                    phi[i] += kept[i] * (dr[i] * unit[i] * res1[i] + (1.0 - dr[i]) * scratch[i] * res0[i])
        else:  # IPWRA
            if not _outcome_models(yr, co, w1, w0, ko, a1, a0, rhs, chol_o, gamma1, gamma0, scratch, res1, res0):
                write_failure(out, status, r, st.SINGULAR)
                continue
            inv_size = 1.0 / size
            for i in range(n):
                phi[i] = target[i] * (res0[i] - res1[i])  # cᵢ(m̂₁ᵢ − m̂₀ᵢ)
            tau = total(phi) * inv_size
            for i in range(n):
                unit[i] = target[i] * inv_size
            weighted_sums(co, unit, g_x)
            # γ̂ₐ − γₐ ≈ Aₐ⁻¹[Σ wₐᵢxᵢeₐᵢ + Bₐ(β̂ − β)], Bₐ = Σ ∂wₐᵢ/∂β' eₐᵢ xᵢ: project on uₐ = Aₐ⁻¹G
            _solve(a1, g_x, ko, chol_o, u1)
            _solve(a0, g_x, ko, chol_o, u0)
            linear_index(co, u1, unit)  # s₁ᵢ = xᵢ'u₁
            linear_index(co, u0, scratch)  # s₀ᵢ
            for i in range(n):
                e1 = res1[i] * unit[i]
                e0 = res0[i] * scratch[i]
                phi[i] = (phi[i] - target[i] * tau) * inv_size + w1[i] * e1 - w0[i] * e0
                unit[i] = dw1[i] * e1 - dw0[i] * e0
            weighted_sums(cr, unit, g_beta)
        if se_code == SANDWICH:
            _solve(infos[r], g_beta, k, chol, h_beta)
            linear_index(cr, h_beta, scratch)
            for i in range(n):
                phi[i] += scratch[i] * g[i]
        write_wald(out, status, r, tau, math.sqrt(dot(phi, phi)), crit, truth[r])


def _check(options, level, method) -> str | None:
    se = options["se"]
    allowed = {"ipw": ("sandwich", "fixed_ps"), "aipw": ("sandwich", "influence"), "ipwra": ("sandwich",)}[method]
    if se not in allowed:
        return f"{method} takes se = {' or '.join(repr(s) for s in allowed)}, not {se!r}"
    return None


def _run(batch, truth, options, level, out, status, method):
    d = np.ascontiguousarray(batch["treatment"], dtype=np.float64)
    cov = covariates(batch, options)
    fit = fitted_propensity(batch, options, d, cov)
    weighting_kernel(
        batch["y"],
        d,
        cov,
        covariates(batch, _outcome_options(options)),
        fit.status,
        fit.coef,
        fit.ps,
        fit.info,
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
