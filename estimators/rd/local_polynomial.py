"""Sharp regression discontinuity: local polynomial fits on each side of the cutoff 0.

The conventions are rdrobust 2.x's (Calonico, Cattaneo & Titiunik 2014;
Python ``rdrobust(y, x, c=0, p=p, q=p+1, h=h, b=b, kernel=..., vce=...)``;
the tests hold kernel and twin to Python rdrobust 2.1.1 to 1e-8).
On each side s ∈ {−, +} (x < 0 and x ≥ 0), with kernel weights
W_h,i = K(x_i/h)/h and W_b,i = K(x_i/b)/b, K one of

    triangular (1 − |u|)·1(|u| ≤ 1),  epanechnikov 0.75(1 − u²)·1(|u| ≤ 1),
    uniform 0.5·1(|u| ≤ 1),

the window is the units with positive weight under the larger of h and b
(b's when h ≤ b), and with r_p(x) = (1, x, …, x^p)', q = p + 1:

    Γ_p = Σ W_h r_p r_p',   Γ_q = Σ W_b r_q r_q',   β_p = Γ_p⁻¹ Σ W_h r_p y
    L   = Σ W_h r_p (x/h)^{p+1}
    Q_i = W_h,i r_p(x_i) − h^{p+1} · [Γ_q⁻¹ r_q(x_i)]_{p+1} W_b,i · L
    β_bc = Γ_p⁻¹ Σ Q_i y_i

(the bias-corrected fit: the p-th order fit minus its leading bias,
estimated by the q-th order fit with bandwidth b).  The rows rdrobust
reports, the three terms here:

``conventional``    τ̂ = β_p,+[0] − β_p,−[0],   se² = V_cl,+ + V_cl,−
``bias_corrected``  τ̂_bc = β_bc,+[0] − β_bc,−[0] with the conventional se
``robust``          τ̂_bc with se² = V_rb,+ + V_rb,−

    V_cl = Σ_i (e₀'Γ_p⁻¹ r_p(x_i) W_h,i)² ε̂_h,i²,   V_rb = Σ_i (e₀'Γ_p⁻¹ Q_i)² ε̂_b,i²

and the normal interval τ̂ ± z_{1−α/2}·se.  Residuals (option ``vce``):

``nn``   nearest neighbours (rdrobust's default, 3 matches): in x order,
         ε̂_i = √(J/(J+1))·(y_i − mean of the J ≥ 3 nearest other units),
         ties in x always taken together; ε̂_h = ε̂_b.
``hc0``  ε̂_h = y − r_p'β_p and ε̂_b = y − r_q'β_q (the q fit with b).
``hc1``  hc0 · √(N/(N − d)), N the side's window size, d = p+1 (h) or q+1 (b).
``hc2``  hc0 / √(1 − h_ii), h_ii = W_i r'Γ⁻¹r (p fit for ε̂_h, q fit for
         ε̂_b), 1 − h_ii floored at 1e-8 as rdrobust does.
``hc3``  hc0 / (1 − h_ii), same floor.

Statuses: ``too_few_observations`` when a side has fewer than p + 1
distinct x with positive h-weight or q + 1 with positive b-weight (where
rdrobust raises), ``no_residual_df`` for hc1 when a side's window has at
most q + 1 units, ``singular`` when Γ_p or Γ_q is not positive definite.

Bandwidths (option ``bwselect``): ``fixed`` uses the options ``h`` and
``b`` (b = h by default); ``mserd`` chooses one common MSE-optimal h and its
b on each replication's data as rdrobust's default rdbwselect does
(`bandwidth`), ``singular`` where that is undefined.

Diagnostics: ``h``, ``b`` (as used) and the effective numbers of units
(positive h-weight) on each side, rdrobust's ``N_h``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, spd_inverse, write_failure, write_wald
from ..spec import Estimator, Setting
from .conventions import (
    BWSELECT,
    MSERD,
    DIAGNOSTICS,
    EPANECHNIKOV,
    HC1,
    HC2,
    HC3,
    HII_FLOOR,
    KERNELS,
    N_LEFT,
    N_RIGHT,
    NN,
    NN_MATCHES,
    TERMS,
    UNIFORM,
    VCE_TYPES,
    B,
    H,
    codes,
)
from .bandwidth import mserd
from .fits import _fit, _gram, _hc_residuals, _powers, distinct_sorted, kernel_weight, nn_residuals
from .reference import reference_rd


@njit(cache=True, error_model="numpy")
def side_fit(xs, ys, p, kernel, h, b, vce, result):
    """One side's intercepts and variance contributions; returns a status code.

    Writes result = [β_p[0], β_bc[0], V_cl, V_rb, N_h] (module docstring).
    `xs` is sorted.
    """
    q = p + 1
    n = xs.shape[0]
    wh_all = np.empty(n)
    wb_all = np.empty(n)
    for i in range(n):
        wh_all[i] = kernel_weight(xs[i] / h, kernel, h)
        wb_all[i] = kernel_weight(xs[i] / b, kernel, b)
    in_h = wh_all > 0.0
    in_b = wb_all > 0.0
    result[4] = in_h.sum()
    if distinct_sorted(xs, in_h) < p + 1 or distinct_sorted(xs, in_b) < q + 1:
        return st.TOO_FEW_OBSERVATIONS
    window = in_h if h > b else in_b
    ex, ey, wh, wb = xs[window], ys[window], wh_all[window], wb_all[window]
    m = ex.shape[0]
    if vce == HC1 and m <= q + 1:
        return st.NO_RESIDUAL_DF
    inv_p = np.empty((p + 1, p + 1))
    inv_q = np.empty((q + 1, q + 1))
    if not spd_inverse(_gram(ex, wh, p + 1), p + 1, inv_p) or not spd_inverse(_gram(ex, wb, q + 1), q + 1, inv_q):
        return st.SINGULAR
    beta_p = _fit(ex, ey, wh, inv_p, p + 1)
    row_q = np.empty(q + 1)
    lead = np.zeros(p + 1)  # L = Σ W_h r_p (x/h)^{p+1}
    for i in range(m):
        _powers(ex[i], q + 1, row_q)
        u = (ex[i] / h) ** (p + 1)
        for a in range(p + 1):
            lead[a] += wh[i] * row_q[a] * u
    if vce == NN:
        res_h = nn_residuals(ex, ey, NN_MATCHES)
        res_b = res_h
    else:
        beta_q = _fit(ex, ey, wb, inv_q, q + 1)
        res_h = _hc_residuals(ex, ey, wh, inv_p, beta_p, p + 1, vce, m)
        res_b = _hc_residuals(ex, ey, wb, inv_q, beta_q, q + 1, vce, m)
    hp = h ** (p + 1)
    bc = v_cl = v_rb = 0.0
    for i in range(m):
        _powers(ex[i], q + 1, row_q)
        mi = 0.0  # [Γ_q⁻¹ r_q]_{p+1} W_b
        for c in range(q + 1):
            mi += inv_q[p + 1, c] * row_q[c]
        mi *= wb[i]
        a_i = c_i = 0.0  # e₀'Γ_p⁻¹ r_p W_h and e₀'Γ_p⁻¹ Q_i
        for a in range(p + 1):
            a_i += inv_p[0, a] * row_q[a] * wh[i]
            c_i += inv_p[0, a] * (row_q[a] * wh[i] - hp * mi * lead[a])
        bc += c_i * ey[i]
        v_cl += (a_i * res_h[i]) ** 2
        v_rb += (c_i * res_b[i]) ** 2
    result[0], result[1], result[2], result[3] = beta_p[0], bc, v_cl, v_rb
    return st.OK


@njit(cache=True, error_model="numpy")
def rd_kernel(x, y, p, kernel, h_fixed, b_fixed, vce, bwselect, crit, truth, out, status):
    """Sharp RD at 0 on every replication (module docstring).

    Parameters
    ----------
    x, y : float64 arrays, shape (R, n)
        Running variable and outcome.
    p : int
        Order of the local polynomial (q = p + 1 for the bias correction).
    kernel, vce : int
        Codes of `KERNELS` and `VCE_TYPES`.
    h_fixed, b_fixed : float
        Bandwidths of the estimate and of the bias correction (``bwselect = "fixed"``).
    bwselect : int
        Code of `BWSELECT`: the fixed bandwidths, or rdrobust's ``mserd`` chosen on each replication's data
        (`bandwidth.mserd`; ``singular`` when it is undefined).
    crit : float
        Normal critical value of the interval.
    truth : float64 array, shape (R, 3)
        The truth of each term, for the test.
    out : float64 array, shape (R, 3, 9)
        Per term: estimate, se, ci_low, ci_high, reject, h, b, n_h_left, n_h_right.
    status : int8 array, shape (R, 3)
    """
    n_reps = x.shape[0]
    left = np.empty(5)
    right = np.empty(5)
    chosen = np.empty(2)
    for r in range(n_reps):
        order = np.argsort(x[r])
        xs, ys = x[r][order], y[r][order]
        cut = np.searchsorted(xs, 0.0)  # first unit at or above the cutoff
        h, b = h_fixed, b_fixed
        if bwselect == MSERD:
            if cut == 0 or cut == xs.shape[0]:
                _fail_all(out, status, r, st.TOO_FEW_OBSERVATIONS, np.nan, np.nan, 0.0, 0.0)
                continue
            if not mserd(xs, ys, cut, p, kernel, vce, chosen):
                _fail_all(out, status, r, st.SINGULAR, np.nan, np.nan, np.nan, np.nan)
                continue
            h, b = chosen[0], chosen[1]
        code = side_fit(xs[:cut], ys[:cut], p, kernel, h, b, vce, left)
        code_right = side_fit(xs[cut:], ys[cut:], p, kernel, h, b, vce, right)
        if code == st.OK:
            code = code_right
        if code != st.OK:
            for j in range(3):
                write_failure(out[r], status[r], j, code)
        else:
            se_cl = math.sqrt(left[2] + right[2])
            se_rb = math.sqrt(left[3] + right[3])
            tau_cl = right[0] - left[0]
            tau_bc = right[1] - left[1]
            write_wald(out[r], status[r], 0, tau_cl, se_cl, crit, truth[r, 0])
            write_wald(out[r], status[r], 1, tau_bc, se_cl, crit, truth[r, 1])
            write_wald(out[r], status[r], 2, tau_bc, se_rb, crit, truth[r, 2])
        for j in range(3):
            out[r, j, H] = h
            out[r, j, B] = b
            out[r, j, N_LEFT] = left[4]
            out[r, j, N_RIGHT] = right[4]


@njit(cache=True, error_model="numpy")
def _fail_all(out, status, r, code, h, b, n_left, n_right):
    for j in range(3):
        write_failure(out[r], status[r], j, code)
        out[r, j, H], out[r, j, B], out[r, j, N_LEFT], out[r, j, N_RIGHT] = h, b, n_left, n_right


def _run(batch, truth, options, level, out, status):
    p, kernel, h, b, vce, bwselect = codes(options)
    rd_kernel(batch["x"], batch["y"], p, kernel, h, b, vce, bwselect, normal_critical(level), truth, out, status)


ESTIMATORS = (
    Estimator(
        name="rd",
        summary="sharp RD at 0: local polynomial (rdrobust), conventional, bias-corrected and robust rows as terms",
        needs=("x", "y"),
        run=_run,
        reference=reference_rd,
        options=(
            Setting("p", 1, "order of the local polynomial (the bias correction uses q = p + 1)", minimum=0, maximum=8),
            Setting("kernel", "triangular", "kernel weights", choices=KERNELS),
            Setting(
                "bwselect",
                "fixed",
                "bandwidths: fixed (the options h and b) or mserd (rdrobust's common MSE-optimal h and its b)",
                choices=BWSELECT,
            ),
            Setting("h", 0.2, "bandwidth of the estimate (bwselect = fixed)", minimum=0.0, min_exclusive=True),
            Setting(
                "b", None, "bandwidth of the bias correction (default h)", kind=float, minimum=0.0, min_exclusive=True
            ),
            Setting(
                "vce",
                "nn",
                "residuals of the variance: nn (3 nearest neighbours, rdrobust's default), hc0, hc1, hc2, hc3",
                choices=VCE_TYPES,
            ),
        ),
        diagnostics=DIAGNOSTICS,
        terms=lambda shapes, options: TERMS,
    ),
)
