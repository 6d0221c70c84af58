"""Feasible GLS with AR(1) errors within unit (Prais–Winsten), as Bertrand, Duflo & Mullainathan tried.

``twfe_ar1``: y_it = α_i + λ_t + β·D_it + u_it with u_it = ρ·u_i,t−1 + ε_it
within each unit, D_it = treated_i · 1(t ≥ t0) (a common start).

1. ρ̂ from the two-way fixed-effects OLS residuals ê: the pooled regression
   of ê_it on ê_i,t−1 without intercept,
   ρ̂ = Σ_i Σ_{t≥2} ê_it ê_i,t−1 / Σ_i Σ_{t≥2} ê²_i,t−1.
2. GLS with Ω = I_G ⊗ V(ρ̂), V_ts = ρ̂^|t−s| / (1 − ρ̂²): the same as OLS on
   the Prais–Winsten transformed panel (first period scaled by √(1 − ρ̂²),
   later ones quasi-differenced) with unit and period dummies.

Closed form.  With V⁻¹ tridiagonal (diagonal 1, 1 + ρ², …, 1 + ρ², 1;
off-diagonal −ρ), v = V⁻¹1, κ = 1'V⁻¹1 and B = V⁻¹ − v v'/κ (the GLS
residual maker of a unit's own effect), the period effects are removed
by centring across units (ỹ_i = y_i − ȳ), so with c_i = d_i − d̄,
S_c = Σ c_i² and post the 0/1 pattern h:

    z_i = h'B ỹ_i,   γ̂ = Σ c_i z_i / S_c,   β̂ = γ̂ / h'Bh,
    SSR = Σ_i ỹ_i'B ỹ_i − γ̂² S_c / h'Bh,

``se``: ``classical`` GLS, σ̂² = SSR/(NT − G − T), t(NT − G − T)
(statsmodels GLS); ``cluster`` CR1 by unit on the transformed
regression, scores c_i(z_i − c_i γ̂), K counting every fixed effect,
t(G − 1) (statsmodels GLS ``cov_type="cluster"``).  Diagnostic ``rho``: ρ̂.

Statuses: ``no_variation`` (every unit treated or none, no pre or no post
period), ``singular`` (|ρ̂| ≥ 1 − 10⁻⁸), ``too_few_clusters``,
``no_residual_df``.  It needs at least three periods (with two, ρ̂ = −1).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import linalg

from .. import status as st
from ..inference import cr1_factor, t_critical_table, write_failure, write_wald
from ..spec import Estimator
from .conventions import CLASSICAL, NEEDS, SE_CODES, cluster_problem, panel_dummies, reference_ols, se_option

RHO = 5  # the diagnostic column
RHO_LIMIT = 1.0 - 1e-8  # |ρ̂| at or above this: V(ρ̂) singular (status ``singular``)


@njit(cache=True)
def _tridiagonal_times(rho, x, out):
    """out = V⁻¹x for the AR(1) precision (diagonal 1, 1 + ρ², …, 1; off-diagonal −ρ)."""
    t = x.shape[0]
    for s in range(t):
        diagonal = 1.0 if s == 0 or s == t - 1 else 1.0 + rho * rho
        value = diagonal * x[s]
        if s > 0:
            value -= rho * x[s - 1]
        if s < t - 1:
            value -= rho * x[s + 1]
        out[s] = value


@njit(cache=True)
def twfe_ar1_kernel(y, treated, start, se_code, t_table, truth, out, status):
    """Batched Prais–Winsten FGLS with unit and period effects, one regressor D.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    treated : float64 array, shape (R, G)
    start : int64 array, shape (R,)
    se_code : int
        CLASSICAL or CLUSTER.
    t_table : float64 array
        t critical values by degrees of freedom.
    out : float64 array, shape (R, 6)
        estimate, se, ci_low, ci_high, reject, rho.
    status : int8 array, shape (R,)
    """
    n_reps, g, t = y.shape
    n_obs = g * t
    col_mean = np.empty(t)
    row_mean = np.empty(g)
    h = np.empty(t)
    h_centred = np.empty(t)
    ones = np.ones(t)
    v = np.empty(t)
    w_h = np.empty(t)
    w_y = np.empty(t)
    centred = np.empty(t)
    z = np.empty(g)
    c = np.empty(g)
    for r in range(n_reps):
        t0 = start[r]
        n_post = 0
        for s in range(t):
            h[s] = 1.0 if s + 1 >= t0 else 0.0
            n_post += int(h[s])
        d_mean = 0.0
        for i in range(g):
            d_mean += treated[r, i]
        d_mean /= g
        s_c = 0.0
        for i in range(g):
            c[i] = treated[r, i] - d_mean
            s_c += c[i] * c[i]
        if n_post == 0 or n_post == t or not (s_c > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        # Step 1: two-way OLS residuals ê_it = ÿ_it − β_ols·c_i·h̄_t, then ρ̂.
        col_mean[:] = 0.0
        grand = 0.0
        for i in range(g):
            row = 0.0
            for s in range(t):
                row += y[r, i, s]
                col_mean[s] += y[r, i, s]
            row_mean[i] = row / t
            grand += row
        grand /= n_obs
        hth = 0.0
        for s in range(t):
            col_mean[s] /= g
            h_centred[s] = h[s] - n_post / t
            hth += h_centred[s] * h_centred[s]
        xty = 0.0
        for i in range(g):
            for s in range(t):
                xty += c[i] * h_centred[s] * y[r, i, s]
        beta_ols = xty / (s_c * hth)
        lagged = 0.0
        cross = 0.0
        for i in range(g):
            previous = 0.0
            for s in range(t):
                e = y[r, i, s] - row_mean[i] - col_mean[s] + grand - beta_ols * c[i] * h_centred[s]
                if s > 0:
                    cross += e * previous
                    lagged += previous * previous
                previous = e
        rho = cross / lagged if lagged > 0.0 else math.nan
        if not (abs(rho) < RHO_LIMIT):
            write_failure(out, status, r, st.SINGULAR)
            continue
        # Step 2: GLS in closed form.
        _tridiagonal_times(rho, ones, v)
        _tridiagonal_times(rho, h, w_h)
        kappa = 0.0
        vh = 0.0
        hwh = 0.0
        for s in range(t):
            kappa += v[s]
            vh += v[s] * h[s]
            hwh += h[s] * w_h[s]
        hbh = hwh - vh * vh / kappa
        quad = 0.0
        for i in range(g):
            for s in range(t):
                centred[s] = y[r, i, s] - col_mean[s]
            _tridiagonal_times(rho, centred, w_y)
            a = 0.0
            b = 0.0
            q = 0.0
            for s in range(t):
                a += w_h[s] * centred[s]
                b += v[s] * centred[s]
                q += centred[s] * w_y[s]
            z[i] = a - vh * b / kappa
            quad += q - b * b / kappa
        gamma = 0.0
        for i in range(g):
            gamma += c[i] * z[i]
        gamma /= s_c
        beta = gamma / hbh
        if se_code == CLASSICAL:
            df = n_obs - g - t
            if df <= 0:
                write_failure(out, status, r, st.NO_RESIDUAL_DF)
                continue
            ssr = max(quad - gamma * gamma * s_c / hbh, 0.0)
            var = ssr / df / (s_c * hbh)
            crit = t_table[df]
        else:
            k_cr = g + t
            problem = cluster_problem(g, n_obs, k_cr)
            if problem != st.OK:
                write_failure(out, status, r, problem)
                continue
            meat = 0.0
            for i in range(g):
                score = c[i] * (z[i] - c[i] * gamma)
                meat += score * score
            var = meat / (s_c * hbh) ** 2 * cr1_factor(g, n_obs, k_cr)
            crit = t_table[g - 1]
        write_wald(out, status, r, beta, math.sqrt(var), crit, truth[r])
        if status[r] == st.OK:
            out[r, RHO] = rho


def prais_winsten(rho: float, t: int) -> np.ndarray:
    """The T × T Prais–Winsten matrix P (P'P = V⁻¹): √(1 − ρ²) on the first row, e_t − ρ·e_{t−1} below."""
    p = np.eye(t) - rho * np.eye(t, k=-1)
    p[0, 0] = math.sqrt(1 - rho * rho)
    return p


def _run(batch, truth, options, level, out, status):
    y = batch["panel_y"]
    g, t = y.shape[1:]
    twfe_ar1_kernel(
        y, batch["treated"], batch["start"], SE_CODES[options["se"]], t_critical_table(level, g * t), truth, out,
        status,
    )  # fmt: skip


def _reference(batch, truth, options, level, out, status):
    """Plain numpy: ρ̂ from the dummy-variable OLS residuals, then OLS on the Prais–Winsten transformed panel."""
    y_all, d_all, starts = batch["panel_y"], batch["treated"], batch["start"]
    g, t = y_all.shape[1:]
    unit, period, dummies = panel_dummies(g, t)
    for r in range(y_all.shape[0]):
        d = np.repeat(d_all[r], t) * (period >= starts[r])
        y = y_all[r].reshape(-1)
        X = np.column_stack([d, dummies])
        if np.ptp(d_all[r]) == 0 or d.sum() == 0 or (period >= starts[r]).all():
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        resid = (y - X @ np.linalg.lstsq(X, y, rcond=None)[0]).reshape(g, t)
        rho = np.sum(resid[:, 1:] * resid[:, :-1]) / np.sum(resid[:, :-1] ** 2)
        if not abs(rho) < RHO_LIMIT:
            write_failure(out, status, r, st.SINGULAR)
            continue
        transform = linalg.block_diag(*[prais_winsten(rho, t)] * g)
        fit = reference_ols(transform @ X, transform @ y, unit, options["se"], level, truth[r], out, status, r, 0)
        if fit is not None and status[r] == st.OK:
            out[r, RHO] = rho


def _needs_three_periods(shapes, options):
    t = shapes["panel_y"][1]
    return None if t >= 3 else f"an AR(1) correction needs at least 3 periods (this panel has {t})"


ESTIMATORS = (
    Estimator(
        name="twfe_ar1",
        summary="Prais–Winsten FGLS: two-way fixed effects with AR(1) errors within unit, ρ from the OLS residuals",
        needs=NEEDS,
        run=_run,
        reference=_reference,
        options=(se_option(("classical", "cluster"), "classical GLS (df NT−G−T) or cluster (CR1 by unit, K = G+T)"),),
        diagnostics=("rho",),
        applies=_needs_three_periods,
    ),
)
