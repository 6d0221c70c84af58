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
from .moments import FAST, centred_cross_products
from .spec import Estimator, Setting

SE_TYPES = ("classical", "hc1")
CLASSICAL, HC1 = 0, 1

SE_OPTION = Setting(
    "se", "classical", "standard errors: classical (SSR/(n−k)) or hc1 (White, n/(n−k))", choices=SE_TYPES
)


@njit(cache=True, fastmath=FAST)
def ols_kernel(y, x, w, se_code, crit, truth, out, status):
    """Batched OLS of y on [1, x, w], reporting the coefficient on x.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
        Outcome and regressor of interest, one row per replication.
    w : float64 array, shape (R, p, n)
        Controls, one row per variable (p may be 0).
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
    The intercept is partialled out by centring (Frisch–Waugh–Lovell): with
    S the centred cross-products of [x, w] and s those with y, the slopes
    are b = S⁻¹s (Cholesky), SSR = s_yy − b's.  Coefficient rows of
    (X'X)⁻¹X' equal those of S⁻¹X̃', so the HC sandwich for x is
    Σᵢ (aᵢ êᵢ)² with aᵢ = [S⁻¹]ₓ· x̃ᵢ.  Statuses: ``no_residual_df`` when
    n ≤ k, ``no_variation`` when x is constant, ``singular`` when x is
    collinear with the controls.
    """
    n_reps, n = y.shape
    p = w.shape[1]
    k = p + 1  # slopes after centring
    df = n - (k + 1)
    work = np.empty((k + 1, n))  # variables x, w_1..w_p, y, shifted
    cp = np.empty((k + 1, k + 1))
    means = np.empty(k + 1)
    sxx = np.empty((k, k))
    inv = np.empty((k, k))
    b = np.empty(k)
    for r in range(n_reps):
        if df <= 0:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
            continue
        centred_cross_products(x[r], w[r], y[r], work, cp, means)
        if not (cp[0, 0] > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        sxx[:, :] = cp[:k, :k]
        if not spd_inverse(sxx, k, inv):
            write_failure(out, status, r, st.SINGULAR)
            continue
        for a in range(k):
            s = 0.0
            for c in range(k):
                s += inv[a, c] * cp[c, k]
            b[a] = s
        if se_code == CLASSICAL:
            ssr = cp[k, k]
            for a in range(k):
                ssr -= b[a] * cp[a, k]
            var = max(ssr, 0.0) / df * inv[0, 0]
        else:
            meat = 0.0
            for i in range(n):
                e = y[r, i] - y[r, 0] - means[k]
                v = x[r, i] - x[r, 0] - means[0]
                e -= b[0] * v
                a_i = inv[0, 0] * v
                for j in range(p):
                    v = w[r, j, i] - w[r, j, 0] - means[1 + j]
                    e -= b[1 + j] * v
                    a_i += inv[0, 1 + j] * v
                meat += (a_i * e) ** 2
            var = meat * n / df
        write_wald(out, status, r, b[0], np.sqrt(var), crit, truth[r])


def _controls(batch, adjusted: bool) -> np.ndarray:
    if adjusted:
        return batch["controls"]
    y = batch["y"]
    return np.empty((y.shape[0], 0, y.shape[1]))


def _run(batch, truth, options, level, out, status, adjusted):
    y, x, w = batch["y"], batch["x"], _controls(batch, adjusted)
    crit = t_critical(level, y.shape[1] - (w.shape[1] + 2))
    ols_kernel(y, x, w, SE_TYPES.index(options["se"]), crit, truth, out, status)


def _reference(batch, truth, options, level, out, status, adjusted):
    """Plain numpy: build X = [1, x, W], least squares, textbook covariances."""
    y_all, x_all, w_all = batch["y"], batch["x"], _controls(batch, adjusted)
    for r in range(y_all.shape[0]):
        y = y_all[r]
        X = np.column_stack([np.ones_like(y), x_all[r], w_all[r].T])
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
