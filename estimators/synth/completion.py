"""``mc``: nuclear-norm matrix completion with unit and period effects (Athey, Bayati, Doudchenko, Imbens & Khosravi
2021), as MCPanel's ``mcnnm_cv`` fits it and Arkhangelsky et al.'s vignette estimates with it.

The treated cells W_it = treated_i·1(t ≥ t0) are missing; on the observed
cells Ω the model Y ≈ L + u1' + 1v' is fitted by

    min (1/|Ω|)·Σ_Ω (Y − L − u1' − 1v')² + λ‖L‖_*

with MCPanel's cyclic updates: u_i and v_t the means over a row's (a
column's) observed cells of Y − L − (the other effect), then L ← SVT of
P_Ω(Y − L − u1' − 1v') + L at threshold λ|Ω|/2; stop after ``ITERATIONS``
(400) rounds, when the objective falls below 1e-8, or when its relative
decrease is in [0, 1e-5).  The effects start from the two-way fit with
L = 0 (`initial_effects`: MCPanel's ``initialize_uv`` up to its rounding),
and λ runs down a grid with warm starts.

Cross-validation (``mcnnm_cv``): ``FOLDS`` (5) training masks, each cell of
Ω kept with probability 0.8 (u < 0.8, row by row, uniforms from numpy's
PCG64 with a fixed seed, `fold_uniforms`: like MCPanel, whose C++ default
engine starts from its default seed at every call, the folds depend on the
panel's shape only, so the estimate is a function of the data); λ_max =
max over the folds of 2·σ_max(P_Ω(Y − u − v))/|Ω| after each fold's
initial effects; the grid is ``lambdas`` − 1 values
log-spaced from λ_max down to λ_max/1000, then 0; each fold's path is
scored by its mean squared error on the held-out observed cells, and the λ
with the smallest root of the mean over the folds (the first on ties) is
refitted on all of Ω along the same grid.  The estimate is the mean of
Y − (L + u1' + 1v') over the treated cells.

``se = "placebo"``: the vignette's mc_placebo_se: B draws relabelling N1
random controls as treated (the order of N0 uniforms from the estimator's
own stream, as `kernel`'s placebo), each a full cross-validated fit; se = √((B − 1)/B)·sd.  Status
``few_controls`` when N0 ≤ N1, ``no_variation`` when there is no pre- or
no post-period or the draws are all equal.  Diagnostics: the chosen λ and
the rank of L.  Divisions by zero (a perfect fit, a fold without held-out
cells) give inf or NaN as in MCPanel's C++ (``error_model = "numpy"``);
with a NaN score the first λ on the grid is chosen, as numpy's argmin does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, write_failure, write_wald
from .kernel import ROUNDING, design_rows, draws_se, spread_is_rounding

ITERATIONS = 400  # mcnnm_cv's niter
REL_TOL = 1e-5
FOLDS = 5
TRAIN_SHARE = 0.8  # cv_ratio
FOLD_SEED = 0  # the folds' fixed seed (MCPanel: C++'s default engine, default-seeded)
LAMBDA, RANK = 5, 6


@njit(cache=True, error_model="numpy")
def _row_effects(m, mask, low, other, out):
    """out_i = the mean over row i's observed cells of M − L − other (0 for a row without any)."""
    for i in range(m.shape[0]):
        s = 0.0
        count = 0
        for j in range(m.shape[1]):
            if mask[i, j] > 0:
                s += m[i, j] - low[i, j] - other[j]
                count += 1
        out[i] = s / count if count > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _update_effects(m, mask, low, u, v):
    """MCPanel's update_u then update_v: u from v, then v from the new u (columns as the rows of the transposes)."""
    _row_effects(m, mask, low, v, u)
    _row_effects(m.T, mask.T, low.T, u, v)


@njit(cache=True, error_model="numpy")
def _objective(m, mask, low, u, v, nuclear, lam, size):
    """(1/|Ω|)·Σ_Ω (M − L − u − v)² + λ·Σσ."""
    n, t = m.shape
    s = 0.0
    for i in range(n):
        for j in range(t):
            if mask[i, j] > 0:
                e = m[i, j] - low[i, j] - u[i] - v[j]
                s += e * e
    return s / size + lam * nuclear


@njit(cache=True, error_model="numpy")
def _residual(m, mask, low, u, v, plus_low):
    """P_Ω(M − L − u − v), plus L when asked (the matrix SVT thresholds)."""
    n, t = m.shape
    out = np.empty((n, t))
    for i in range(n):
        for j in range(t):
            r = m[i, j] - low[i, j] - u[i] - v[j] if mask[i, j] > 0 else 0.0
            out[i, j] = r + low[i, j] if plus_low else r
    return out


@njit(cache=True, error_model="numpy")
def initial_effects(m, mask):
    """(u, v, λ_max) with L = 0: the least-squares two-way fit on Ω (minimum-norm u, v) and 2·σ_max(residual)/|Ω|.

    MCPanel's initialize_uv iterates the alternating means towards this fit
    and stops where its objective stalls in rounding, some 1e-8 short of it
    (at an iteration rounding decides); the fit itself is taken here, so
    that the kernel and its twin agree.  Only u_i + v_t enters what follows.
    """
    n, t = m.shape
    gram = np.zeros((n + t, n + t))
    rhs = np.zeros(n + t)
    for i in range(n):
        for j in range(t):
            if mask[i, j] > 0:
                gram[i, i] += 1.0
                gram[n + j, n + j] += 1.0
                gram[i, n + j] += 1.0
                gram[n + j, i] += 1.0
                rhs[i] += m[i, j]
                rhs[n + j] += m[i, j]
    effects = np.linalg.pinv(gram) @ rhs
    u = effects[:n].copy()
    v = effects[n:].copy()
    low = np.zeros((n, t))
    top = np.linalg.svd(_residual(m, mask, low, u, v, False), full_matrices=False)[1][0]
    return u, v, 2.0 * top / mask.sum()


@njit(cache=True, error_model="numpy")
def fit_at(m, mask, low, u, v, lam, niter, rel_tol=REL_TOL):
    """MCPanel's NNM_fit from (L, u, v), updated in place; returns the rank of L."""
    size = mask.sum()
    obj = _objective(m, mask, low, u, v, np.linalg.svd(low, full_matrices=False)[1].sum(), lam, size)
    rank = 0
    for _ in range(niter):
        _update_effects(m, mask, low, u, v)
        left, sing, right = np.linalg.svd(_residual(m, mask, low, u, v, True), full_matrices=False)
        sing = np.maximum(sing - lam * size / 2.0, 0.0)
        low[:, :] = (left * sing) @ right
        rank = int(np.sum(sing > 0.0))
        new = _objective(m, mask, low, u, v, sing.sum(), lam, size)
        rel = (obj - new) / obj
        if new < 1e-8 or 0.0 <= rel < rel_tol:
            break
        obj = new
    return rank


@njit(cache=True, error_model="numpy")
def lambda_grid(lam_max, n_lambdas):
    """n − 1 values log-spaced from λ_max to λ_max/1000 (MCPanel's logsp), then 0; n ≥ 3 (MCPanel's logsp of one
    point returns the log of its end, not the end)."""
    grid = np.zeros(n_lambdas)
    top = math.log10(lam_max)
    step = -3.0 / (n_lambdas - 2)
    for i in range(n_lambdas - 1):
        grid[i] = 10.0 ** (top + i * step)
    return grid


@njit(cache=True, error_model="numpy")
def mc_fit(m, mask, n_lambdas, fold_uniforms):
    """mcnnm_cv: the cross-validated (L + u1' + 1v', λ, rank of L)."""
    n, t = m.shape
    train = np.empty((FOLDS, n, t))
    starts_u = np.empty((FOLDS, n))
    starts_v = np.empty((FOLDS, t))
    lam_max = -1.0
    for k in range(FOLDS):
        for i in range(n):
            for j in range(t):
                kept = fold_uniforms[(k * n + i) * t + j] < TRAIN_SHARE
                train[k, i, j] = mask[i, j] * (1.0 if kept else 0.0)
        u, v, top = initial_effects(m * train[k], train[k])
        starts_u[k] = u
        starts_v[k] = v
        lam_max = max(lam_max, top)
    grid = lambda_grid(lam_max, n_lambdas)
    mse = np.zeros(n_lambdas)
    for k in range(FOLDS):
        m_train = m * train[k]
        held_out = mask * (1.0 - train[k])
        n_held = held_out.sum()
        low = np.zeros((n, t))
        u = starts_u[k].copy()
        v = starts_v[k].copy()
        for a in range(n_lambdas):
            fit_at(m_train, train[k], low, u, v, grid[a], ITERATIONS)
            mse[a] += _objective(m, held_out, low, u, v, 0.0, 0.0, n_held) / FOLDS
    best = np.argmin(np.sqrt(mse))
    u, v, _ = initial_effects(m, mask)
    low = np.zeros((n, t))
    rank = 0
    for a in range(best + 1):
        rank = fit_at(m, mask, low, u, v, grid[a], ITERATIONS)
    for i in range(n):
        for j in range(t):
            low[i, j] += u[i] + v[j]
    return low, grid[best], rank


@njit(cache=True, error_model="numpy")
def mc_estimate(y, rows, n0, t0, n_lambdas, fold_uniforms):
    """τ̂ on the design ``rows`` (controls first): the mean of Y − fit over the treated cells; (τ̂, λ, rank)."""
    n = rows.shape[0]
    t_all = y.shape[1]
    m = np.empty((n, t_all))
    mask = np.ones((n, t_all))
    for a in range(n):
        m[a] = y[rows[a]]
        if a >= n0:
            mask[a, t0:] = 0.0
    fitted, lam, rank = mc_fit(m, mask, n_lambdas, fold_uniforms)
    total = 0.0
    for a in range(n0, n):
        for j in range(t0, t_all):
            total += m[a, j] - fitted[a, j]
    return total / ((n - n0) * (t_all - t0)), lam, rank


@njit(cache=True, error_model="numpy")
def mc_kernel(y, treated, start, n_lambdas, n_draws, fold_uniforms, crit, truth, out, status, rng):
    """Batched ``mc`` with the placebo se: y (R, G, T), treated (R, G), start (R,); out (R, 7) (…, λ, rank)."""
    draws = np.empty(n_draws)
    g, t_all = y.shape[1:]
    for r in range(y.shape[0]):
        rows, n0 = design_rows(treated[r])
        n1 = g - n0
        t0 = start[r] - 1
        if n0 == 0 or n1 == 0 or t0 < 1 or t0 >= t_all:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if n0 <= n1:
            write_failure(out, status, r, st.FEW_CONTROLS)
            continue
        estimate, lam, rank = mc_estimate(y[r], rows, n0, t0, n_lambdas, fold_uniforms)
        keys = np.empty(n0)
        for b in range(n_draws):
            for j in range(n0):
                keys[j] = rng.random()
            order = rows[np.argsort(keys, kind="mergesort")]
            draws[b] = mc_estimate(y[r], order, n0 - n1, t0, n_lambdas, fold_uniforms)[0]
        se = draws_se(draws)
        if spread_is_rounding(se, draws):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        write_wald(out, status, r, estimate, se, crit, truth[r])
        if status[r] == st.OK:
            out[r, LAMBDA] = lam
            out[r, RANK] = rank


def fold_uniforms(n_units, n_periods):
    """The folds' uniforms, FOLDS·G·T of them from a fixed seed (fold k, cell (i, t) at (k·G' + i)·T + t for a
    panel of G' ≤ G rows): the same folds at every fit of a panel's shape, as MCPanel's engine gives."""
    return np.random.default_rng(FOLD_SEED).random(FOLDS * n_units * n_periods)


def run_mc(batch, truth, options, level, out, status, rng=None):
    y = batch["panel_y"]
    mc_kernel(y, batch["treated"], batch["start"], options["lambdas"], options["draws"], fold_uniforms(*y.shape[1:]),
              normal_critical(level), truth, out, status, rng)  # fmt: skip


# ---------------------------------------------------------------------------
# The plain twin: MCPanel's steps on whole matrices (numpy's SVD, masks as
# boolean arrays), the same draws in the same order.
# ---------------------------------------------------------------------------


def reference_objective(M, observed, L, u, v, nuclear, lam):
    err = np.where(observed, M - L - u[:, None] - v[None, :], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty held-out fold: NaN, as the kernel
        return np.sum(err**2) / observed.sum() + lam * nuclear


def reference_initial(M, observed):
    """The two-way least-squares fit on the observed cells, minimum-norm (lstsq on unit and period dummies)."""
    n, t = M.shape
    rows, cols = np.nonzero(observed)
    design = np.hstack([np.eye(n)[rows], np.eye(t)[cols]])
    effects = np.linalg.lstsq(design, M[rows, cols], rcond=None)[0]
    u, v = effects[:n], effects[n:]
    residual = np.where(observed, M - u[:, None] - v[None, :], 0.0)
    return u, v, 2 * np.linalg.svd(residual, compute_uv=False)[0] / observed.sum()


def reference_effects_uv(M, observed, L, v):
    """u given v, then v given the new u (MCPanel's order)."""
    counts_u, counts_v = observed.sum(axis=1), observed.sum(axis=0)
    u = np.where(observed, M - L - v[None, :], 0.0).sum(axis=1) / np.maximum(counts_u, 1) * (counts_u > 0)
    v = np.where(observed, M - L - u[:, None], 0.0).sum(axis=0) / np.maximum(counts_v, 1) * (counts_v > 0)
    return u, v


def reference_fit_at(M, observed, L, u, v, lam, niter):
    size = observed.sum()
    obj = reference_objective(M, observed, L, u, v, np.linalg.svd(L, compute_uv=False).sum(), lam)
    rank = 0
    for _ in range(niter):
        u, v = reference_effects_uv(M, observed, L, v)
        left, sing, right = np.linalg.svd(np.where(observed, M - L - u[:, None] - v[None, :], 0.0) + L,
                                          full_matrices=False)  # fmt: skip
        sing = np.maximum(sing - lam * size / 2, 0.0)
        L = (left * sing) @ right
        rank = int(np.sum(sing > 0))
        new = reference_objective(M, observed, L, u, v, sing.sum(), lam)
        if new < 1e-8 or 0 <= (obj - new) / obj < REL_TOL:
            break
        obj = new
    return L, u, v, rank


def reference_mc_fit(M, observed, n_lambdas, uniforms):
    n, t = M.shape
    folds = [observed & (uniforms[k * n * t : (k + 1) * n * t].reshape(n, t) < TRAIN_SHARE) for k in range(FOLDS)]
    starts = [reference_initial(np.where(f, M, 0.0), f) for f in folds]
    lam_max = max(s[2] for s in starts)
    grid = np.append(np.logspace(np.log10(lam_max), np.log10(lam_max) - 3, n_lambdas - 1), 0.0)
    mse = np.zeros(n_lambdas)
    for fold, (u, v, _) in zip(folds, starts, strict=True):
        L = np.zeros((n, t))
        held_out = observed & ~fold
        for a, lam in enumerate(grid):
            L, u, v, _ = reference_fit_at(np.where(fold, M, 0.0), fold, L, u, v, lam, ITERATIONS)
            mse[a] += reference_objective(M, held_out, L, u, v, 0, 0) / FOLDS
    best = int(np.argmin(np.sqrt(mse)))
    u, v, _ = reference_initial(M, observed)
    L = np.zeros((n, t))
    for lam in grid[: best + 1]:
        L, u, v, rank = reference_fit_at(M, observed, L, u, v, lam, ITERATIONS)
    return L + u[:, None] + v[None, :], grid[best], rank


def reference_mc_estimate(Y, n0, t0, n_lambdas, uniforms):
    observed = np.ones(Y.shape, bool)
    observed[n0:, t0:] = False
    fitted, lam, rank = reference_mc_fit(Y, observed, n_lambdas, uniforms)
    return np.mean((Y - fitted)[n0:, t0:]), lam, rank


def reference_mc(batch, truth, options, level, out, status, rng=None):
    """The twin of `run_mc`."""
    crit = normal_critical(level)
    for r in range(batch["panel_y"].shape[0]):
        treated = batch["treated"][r] != 0
        n0, n1, t0 = int((~treated).sum()), int(treated.sum()), int(batch["start"][r]) - 1
        if n0 == 0 or n1 == 0 or t0 < 1 or t0 >= batch["panel_y"].shape[2]:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if n0 <= n1:
            write_failure(out, status, r, st.FEW_CONTROLS)
            continue
        Y = np.vstack([batch["panel_y"][r][~treated], batch["panel_y"][r][treated]])
        uniforms = np.random.default_rng(FOLD_SEED).random(FOLDS * Y.size)
        estimate, lam, rank = reference_mc_estimate(Y, n0, t0, options["lambdas"], uniforms)
        draws = []
        for _ in range(options["draws"]):
            order = np.argsort(rng.random(n0), kind="mergesort")
            draws.append(reference_mc_estimate(Y[order], n0 - n1, t0, options["lambdas"], uniforms)[0])
        se = np.std(draws)  # √((B − 1)/B)·sd
        if not se > ROUNDING * np.max(np.abs(draws)):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        write_wald(out, status, r, estimate, se, crit, truth[r])
        if status[r] == st.OK:
            out[r, LAMBDA], out[r, RANK] = lam, rank
