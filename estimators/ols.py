"""Ordinary least squares of y on an intercept, x and optional controls.

``ols``          y ~ 1 + x
``ols_adjusted`` y ~ 1 + x + controls   (the DGP's measured confounders)

Both report the coefficient on x.  Standard errors (option ``se``):

``classical``  σ̂² [(X'X)⁻¹]ₓₓ with σ̂² = SSR / (n − k), k counting the
               intercept (statsmodels ``OLS(...).fit()``).
``hc1``        HC0 · n / (n − k): the White sandwich
               (X'X)⁻¹ X' diag(ê²) X (X'X)⁻¹ scaled as statsmodels
               ``fit(cov_type="HC1")`` does.

Intervals use Student-t critical values on n − k degrees of freedom, as
statsmodels' ``conf_int()`` does for both.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from numba import njit

from . import status as st
from .inference import spd_inverse, t_critical, write_failure, write_wald
from .spec import Estimator, Setting

SE_TYPES = ("classical", "hc1")
CLASSICAL, HC1 = 0, 1

SE_OPTION = Setting(
    "se", "classical", "standard errors: classical (SSR/(n−k)) or hc1 (White, n/(n−k))", choices=SE_TYPES
)


@njit(cache=True)
def ols_kernel(y, x, w, se_code, crit, truth, out, status):
    """Batched OLS of y on [1, x, w], reporting the coefficient on x.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
        Outcome and regressor of interest, one row per replication.
    w : float64 array, shape (R, n, p)
        Controls (p may be 0).
    se_code : int
        CLASSICAL or HC1.
    crit : float
        Critical value t_{n−k, 1−α/2}, k = p + 2.
    truth : float64 array, shape (R,)
        Null value of the per-replication test.
    out : float64 array, shape (R, 5)
        Filled with estimate, se, ci_low, ci_high, reject.
    status : int8 array, shape (R,)

    Notes
    -----
    The intercept is partialled out by centring (Frisch–Waugh–Lovell), so the
    normal equations are solved for the k − 1 slopes with a Cholesky
    factorisation of the centred cross-product matrix S = X̃'X̃.  Coefficient
    rows of (X'X)⁻¹X' equal those of S⁻¹X̃', so the HC sandwich for x is
    Σᵢ (aᵢ êᵢ)² with aᵢ = [S⁻¹]ₓ· x̃ᵢ.  Statuses: ``no_residual_df`` when
    n ≤ k, ``no_variation`` when x is constant, ``singular`` when x is
    collinear with the controls.
    """
    n_reps, n = y.shape
    p = w.shape[2]
    k = p + 1  # slopes after centring
    df = n - (k + 1)
    mean = np.empty(k)
    v = np.empty(k)
    sxx = np.empty((k, k))
    inv = np.empty((k, k))
    sxy = np.empty(k)
    b = np.empty(k)
    for r in range(n_reps):
        if df <= 0:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        mean[:] = 0.0
        my = 0.0
        for i in range(n):
            mean[0] += x[r, i]
            for j in range(p):
                mean[1 + j] += w[r, i, j]
            my += y[r, i]
        mean /= n
        my /= n
        sxx[:, :] = 0.0
        sxy[:] = 0.0
        syy = 0.0
        for i in range(n):
            v[0] = x[r, i] - mean[0]
            for j in range(p):
                v[1 + j] = w[r, i, j] - mean[1 + j]
            vy = y[r, i] - my
            syy += vy * vy
            for a in range(k):
                sxy[a] += v[a] * vy
                for c in range(a + 1):
                    sxx[a, c] += v[a] * v[c]
        if not (sxx[0, 0] > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        for a in range(k):
            for c in range(a + 1, k):
                sxx[a, c] = sxx[c, a]
        if not spd_inverse(sxx, k, inv):
            write_failure(out, status, r, st.SINGULAR)
            continue
        for a in range(k):
            s = 0.0
            for c in range(k):
                s += inv[a, c] * sxy[c]
            b[a] = s
        if se_code == CLASSICAL:
            ssr = syy
            for a in range(k):
                ssr -= b[a] * sxy[a]
            var = max(ssr, 0.0) / df * inv[0, 0]
        else:
            meat = 0.0
            for i in range(n):
                v[0] = x[r, i] - mean[0]
                for j in range(p):
                    v[1 + j] = w[r, i, j] - mean[1 + j]
                e = y[r, i] - my
                a_i = 0.0
                for a in range(k):
                    e -= b[a] * v[a]
                    a_i += inv[0, a] * v[a]
                meat += (a_i * e) ** 2
            var = meat * n / df
        write_wald(out, status, r, b[0], np.sqrt(var), crit, truth[r])


def _controls(batch, adjusted: bool) -> np.ndarray:
    if adjusted:
        return batch["controls"]
    y = batch["y"]
    return np.empty((y.shape[0], y.shape[1], 0))


def _run(batch, truth, options, level, out, status, adjusted):
    y, x, w = batch["y"], batch["x"], _controls(batch, adjusted)
    crit = t_critical(level, y.shape[1] - (w.shape[2] + 2))
    ols_kernel(y, x, w, SE_TYPES.index(options["se"]), crit, truth, out, status)


def _reference(batch, truth, options, level, out, status, adjusted):
    """Plain numpy: build X = [1, x, W], least squares, textbook covariances."""
    y_all, x_all, w_all = batch["y"], batch["x"], _controls(batch, adjusted)
    for r in range(y_all.shape[0]):
        y = y_all[r]
        X = np.column_stack([np.ones_like(y), x_all[r], w_all[r]])
        n, k = X.shape
        if n <= k:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        if np.ptp(x_all[r]) == 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        if np.linalg.matrix_rank(X) < k:
            write_failure(out, status, r, st.SINGULAR)
            continue
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        resid = y - X @ beta
        xtx_inv = np.linalg.inv(X.T @ X)
        if options["se"] == "classical":
            cov = resid @ resid / (n - k) * xtx_inv
        else:
            cov = xtx_inv @ (X.T * resid**2) @ X @ xtx_inv * n / (n - k)
        write_wald(out, status, r, beta[1], np.sqrt(cov[1, 1]), t_critical(level, n - k), truth[r])


ESTIMATORS = (
    Estimator(
        name="ols",
        summary="OLS of y on 1 + x (the naive regression)",
        needs=("y", "x"),
        run=partial(_run, adjusted=False),
        reference=partial(_reference, adjusted=False),
        options=(SE_OPTION,),
    ),
    Estimator(
        name="ols_adjusted",
        summary="OLS of y on 1 + x + the DGP's measured controls",
        needs=("y", "x", "controls"),
        run=partial(_run, adjusted=True),
        reference=partial(_reference, adjusted=True),
        options=(SE_OPTION,),
    ),
)
