"""Regression discontinuity (sharp, fuzzy, kink): local polynomial fits on each side of the cutoff 0.

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

Kink designs (option ``deriv`` = ν ≤ p): every e₀ above becomes e_ν and
the estimates and se carry ν! (τ̂ = ν!·(β_p,+[ν] − β_p,−[ν])), rdrobust's
``deriv``.

Fuzzy designs (option ``fuzzy`` naming the take-up array, e.g. ``takeup``): the
same fits of the take-up t give the first stage τ̂_T (conventional) and
τ̂_T,bc; the estimate is the local Wald ratio τ̂ = τ̂_Y/τ̂_T, its bias-corrected
version τ̂ − s'(τ̂_Y − τ̂_Y,bc, τ̂_T − τ̂_T,bc) with s = (1/τ̂_T, −τ̂_Y/τ̂_T²),
and both variances are the sharp ones of the outcome y/τ̂_T − t·τ̂_Y/τ̂_T² (the
delta method, as rdrobust).  The first stage's three rows are three more
terms (``first_stage_*``), the sharp rows of t.

Clusters (option ``cluster`` naming the ids' array, e.g. ``cluster``): rdrobust's
cluster-robust variances (`clusters`) on the plain residuals ε̂_h, ε̂_b, per side,
chosen by ``vce`` as rdrobust 2.1.1 does: ``cr1`` (also nn, hc0, hc1),
V = (n−1)/(n−k)·G/(G−1)·Σ_g (Σ_{i∈g} score_i)² with n, G the side's window
units and clusters and k = p+1 (conventional) or q+1 (robust); ``cr2`` (also
hc2, Bell–McCaffrey) and ``cr3`` (also hc3, the jackknife-like CR3), each
cluster's residuals adjusted by (I − H_gg)^(−1/2) or (I − H_gg)⁻¹ with H_gg the
cluster's block of the hat matrix of the p fit with h (conventional) or of the
q fit with b (robust; rdrobust's choice also when h ≠ b), no further factor.
``leverage_one`` when some cluster's I − H_gg is singular (the other clusters
have fewer than p + 1, or q + 1, distinct x in the window), where rdrobust
returns a pseudo-inverse's or a floor's number.  The cr codes need ``cluster``.

Covariates (option ``covs``, a list of array names): every row is the
one above of y − z'γ (and t − z'γ_T), γ pooled over both sides
(`covariates`, rdrobust's ``covs`` with ``covs_drop``); the bandwidth
selector adjusts on each pilot window the same way.

Bandwidths (option ``bwselect``): ``fixed`` uses the options ``h`` and
``b`` (b = h by default, both sides); the others are rdrobust's rdbwselect
methods chosen on each replication's data (`bandwidth`; ``masspoints``
``adjust``, the default, or ``off``), ``singular`` where undefined.

Diagnostics: ``h``, ``b`` (left of the cutoff, and the common ones),
``h_right``, ``b_right`` (right; they differ only for ``msetwo``, ``certwo``,
``msecomb2``, ``cercomb2``) and the effective numbers of units (positive
h-weight) on each side, rdrobust's ``N_h``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, spd_inverse, write_failure, write_wald
from ..spec import Estimator, Setting
from .bandwidth import select
from .clusters import clustered_variance
from .conventions import (
    B_RIGHT,
    BWSELECT,
    DIAGNOSTICS,
    FIXED,
    H_RIGHT,
    HC0,
    HC1,
    KERNELS,
    MASSPOINTS,
    N_LEFT,
    N_RIGHT,
    NN,
    NN_MATCHES,
    UNCLUSTERED_VCE,
    VCE_TYPES,
    B,
    H,
    codes,
    design,
    option_needs,
    terms,
)
from .covariates import adjust, partial_sums, solve_dropping
from .fits import _fit, _gram, _hc_residuals, _powers, distinct_sorted, kernel_weight, nn_residuals
from .reference import reference_rd


@njit(cache=True, error_model="numpy")
def side_fit(xs, ys, cls, p, deriv, kernel, h, b, vce, clustered, result):
    """One side's estimates and variance contributions; returns a status code.

    Writes result = [ν!β_p[ν], ν!β_bc[ν], V_cl, V_rb, N_h] (module docstring).
    `xs` is sorted; `cls` the cluster ids in the same order (read when `clustered`).
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
    ex, ey, ecl, wh, wb = xs[window], ys[window], cls[window], wh_all[window], wb_all[window]
    m = ex.shape[0]
    if vce == HC1 and not clustered and m <= q + 1:
        return st.NO_RESIDUAL_DF
    # The fits in powers of u = x/h (p) and v = x/b (q): the same fits as rdrobust's in powers of x, better
    # conditioned, so that a difference of two nearly equal intercepts keeps its digits.
    eu, ev = ex / h, ex / b
    inv_p = np.empty((p + 1, p + 1))
    inv_q = np.empty((q + 1, q + 1))
    if not spd_inverse(_gram(eu, wh, p + 1), p + 1, inv_p) or not spd_inverse(_gram(ev, wb, q + 1), q + 1, inv_q):
        return st.SINGULAR
    beta_p = _fit(eu, ey, wh, inv_p, p + 1)
    row_p = np.empty(q + 1)
    row_q = np.empty(q + 1)
    lead = np.zeros(p + 1)  # L_u = Σ W_h r_p(u) u^{p+1}
    for i in range(m):
        _powers(eu[i], q + 1, row_p)
        for a in range(p + 1):
            lead[a] += wh[i] * row_p[a] * row_p[p + 1]
    if vce == NN and not clustered:
        res_h = nn_residuals(ex, ey, NN_MATCHES)
        res_b = res_h
    else:
        hc = HC0 if clustered else vce  # rdrobust's CR1 takes the plain residuals
        beta_q = _fit(ev, ey, wb, inv_q, q + 1)
        res_h = _hc_residuals(eu, ey, wh, inv_p, beta_p, p + 1, hc, m)
        res_b = _hc_residuals(ev, ey, wb, inv_q, beta_q, q + 1, hc, m)
    ratio = (h / b) ** (p + 1)  # h^{p+1}·[Γ_q⁻¹ r_q(x)]_{p+1} = (h/b)^{p+1}·[Γ_v⁻¹ r_q(v)]_{p+1}
    to_x = h ** (-deriv)  # e_ν'Γ_p⁻¹ r_p(x) = h^{−ν} e_ν'Γ_u⁻¹ r_p(u)
    bc = 0.0
    coef_cl = np.empty(m)  # a_i = e_ν'Γ_p⁻¹ r_p W_h and c_i = e_ν'Γ_p⁻¹ Q_i, in powers of x
    coef_rb = np.empty(m)
    for i in range(m):
        _powers(eu[i], q + 1, row_p)
        _powers(ev[i], q + 1, row_q)
        mi = 0.0  # [Γ_v⁻¹ r_q(v)]_{p+1} W_b
        for c in range(q + 1):
            mi += inv_q[p + 1, c] * row_q[c]
        mi *= wb[i]
        a_i = c_i = 0.0  # e_ν'Γ_p⁻¹ r_p W_h and e_ν'Γ_p⁻¹ Q_i
        for a in range(p + 1):
            a_i += inv_p[deriv, a] * row_p[a] * wh[i]
            c_i += inv_p[deriv, a] * (row_p[a] * wh[i] - ratio * mi * lead[a])
        a_i *= to_x
        c_i *= to_x
        bc += c_i * ey[i]
        coef_cl[i] = a_i
        coef_rb[i] = c_i
    if clustered:  # the conventional variance with the p fit's leverage, the robust one with the q fit's
        ok_cl, v_cl = clustered_variance(coef_cl, res_h, eu, wh, inv_p, ecl, p + 1, vce)
        ok_rb, v_rb = clustered_variance(coef_rb, res_b, ev, wb, inv_q, ecl, q + 1, vce)
        if not (ok_cl and ok_rb):
            return st.LEVERAGE_ONE
    else:
        v_cl, v_rb = ((coef_cl * res_h) ** 2).sum(), ((coef_rb * res_b) ** 2).sum()
    beta_p[deriv] *= to_x
    fact = math.gamma(deriv + 1.0)
    result[0], result[1], result[2], result[3] = fact * beta_p[deriv], fact * bc, fact**2 * v_cl, fact**2 * v_rb
    return st.OK


@njit(cache=True, error_model="numpy")
def _both_sides(xs, ys, cls, cut, p, deriv, kernel, hb, vce, clustered, left, right):
    """side_fit on each side (hb = h₋, h₊, b₋, b₊); the first failing status, else OK."""
    code = side_fit(xs[:cut], ys[:cut], cls[:cut], p, deriv, kernel, hb[0], hb[2], vce, clustered, left)
    code_right = side_fit(xs[cut:], ys[cut:], cls[cut:], p, deriv, kernel, hb[1], hb[3], vce, clustered, right)
    return code if code != st.OK else code_right


@njit(cache=True, error_model="numpy")
def _write_rows(out_r, status_r, first, left, right, crit, truth_r):
    """The conventional, bias-corrected and robust rows of the sharp contrasts right − left."""
    se_cl = math.sqrt(left[2] + right[2])
    se_rb = math.sqrt(left[3] + right[3])
    write_wald(out_r, status_r, first, right[0] - left[0], se_cl, crit, truth_r[first])
    write_wald(out_r, status_r, first + 1, right[1] - left[1], se_cl, crit, truth_r[first + 1])
    write_wald(out_r, status_r, first + 2, right[1] - left[1], se_rb, crit, truth_r[first + 2])


@njit(cache=True, error_model="numpy")
def rd_kernel(x, y, t, g, z, p, deriv, kernel, h_fixed, b_fixed, vce, bwselect, fuzzy, clustered, adjust, crit,
              truth, out, status):  # fmt: skip
    """Sharp, fuzzy and kink RD at 0 on every replication (module docstring).

    Parameters
    ----------
    x, y : float64 arrays, shape (R, n)
        Running variable and outcome.
    t, g : float64 arrays, shape (R, n)
        Take-up (read when `fuzzy`) and cluster ids 0 … G − 1 (read when `clustered`).
    z : float64 array, shape (R, kz, n)
        Covariates (kz = 0: none), adjusted for as rdrobust's ``covs`` (`covariates`).
    p, deriv : int
        Order of the local polynomial (q = p + 1 for the bias correction) and the derivative ν ≤ p estimated.
    kernel, vce : int
        Codes of `KERNELS` and `VCE_TYPES`.
    h_fixed, b_fixed : float
        Bandwidths of the estimate and of the bias correction (``bwselect = "fixed"``).
    bwselect : int
        Code of `BWSELECT`: the fixed bandwidths, or an rdbwselect method chosen on each replication's data
        (`bandwidth.select`; ``singular`` when it is undefined).
    fuzzy, clustered, adjust : bool
        Fuzzy design; cluster-robust by the ids g (vce CR1, CR2 or CR3); ``masspoints = "adjust"``.
    crit : float
        Normal critical value of the interval.
    truth : float64 array, shape (R, m)
        The truth of each term, for the test (m = 3, or 6 with the first stage).
    out : float64 array, shape (R, m, 11)
        Per term: estimate, se, ci_low, ci_high, reject, h, b, n_h_left, n_h_right, h_right, b_right.
    status : int8 array, shape (R, m)
    """
    n_reps = x.shape[0]
    m_terms = out.shape[1]
    left, right = np.empty(5), np.empty(5)
    t_left, t_right = np.empty(5), np.empty(5)
    hb = np.empty(4)
    for r in range(n_reps):
        order = np.argsort(x[r])
        xs, ys, ts, cls = x[r][order], y[r][order], t[r][order], g[r][order]
        zs = np.ascontiguousarray(z[r][:, order])
        cut = np.searchsorted(xs, 0.0)  # first unit at or above the cutoff
        hb[0] = hb[1] = h_fixed
        hb[2] = hb[3] = b_fixed
        if bwselect != FIXED:
            if cut == 0 or cut == xs.shape[0]:
                _fail_all(out, status, r, st.TOO_FEW_OBSERVATIONS, np.nan, 0.0)
                continue
            if not select(xs, ys, ts, cls, zs, cut, p, deriv, kernel, vce, fuzzy, clustered, bwselect, adjust, hb):
                _fail_all(out, status, r, st.SINGULAR, np.nan, np.nan)
                continue
        if zs.shape[0] > 0:
            ok, ys, ts = _adjusted(xs, ys, ts, zs, cut, p, kernel, hb, fuzzy)
            if not ok:
                _fail_all(out, status, r, st.SINGULAR, hb[0], np.nan)
                continue
        code = _both_sides(xs, ys, cls, cut, p, deriv, kernel, hb, vce, clustered, left, right)
        if code == st.OK and fuzzy:
            code = _both_sides(xs, ts, cls, cut, p, deriv, kernel, hb, vce, clustered, t_left, t_right)
        if code != st.OK:
            for j in range(m_terms):
                write_failure(out[r], status[r], j, code)
        elif not fuzzy:
            _write_rows(out[r], status[r], 0, left, right, crit, truth[r])
        else:
            _write_rows(out[r], status[r], 3, t_left, t_right, crit, truth[r])
            tau_y, tau_t = right[0] - left[0], t_right[0] - t_left[0]
            s_y, s_t = 1.0 / tau_t, -tau_y / tau_t**2
            tau = tau_y / tau_t
            tau_bc = tau - s_y * (tau_y - (right[1] - left[1])) - s_t * (tau_t - (t_right[1] - t_left[1]))
            # the delta method's variances: the sharp ones of s_y·y + s_t·t
            _both_sides(xs, s_y * ys + s_t * ts, cls, cut, p, deriv, kernel, hb, vce, clustered, left, right)
            se_cl = math.sqrt(left[2] + right[2])
            se_rb = math.sqrt(left[3] + right[3])
            write_wald(out[r], status[r], 0, tau, se_cl, crit, truth[r, 0])
            write_wald(out[r], status[r], 1, tau_bc, se_cl, crit, truth[r, 1])
            write_wald(out[r], status[r], 2, tau_bc, se_rb, crit, truth[r, 2])
        for j in range(m_terms):
            out[r, j, H], out[r, j, H_RIGHT], out[r, j, B], out[r, j, B_RIGHT] = hb[0], hb[1], hb[2], hb[3]
            out[r, j, N_LEFT] = left[4]
            out[r, j, N_RIGHT] = right[4]


@njit(cache=True, error_model="numpy")
def _adjusted(xs, ys, ts, zs, cut, p, kernel, hb, fuzzy):
    """y − z'γ_Y and (fuzzy) t − z'γ_T, γ pooled over both sides with the h-weights (`covariates`)."""
    kz = zs.shape[0]
    zwz, zwy, zwt = np.zeros((kz, kz)), np.zeros(kz), np.zeros(kz)
    zwz_t = np.zeros((kz, kz))
    w = np.empty(xs.shape[0])
    for i in range(xs.shape[0]):
        h = hb[0] if i < cut else hb[1]
        w[i] = kernel_weight(xs[i] / h, kernel, h)
    for lo, hi in ((0, cut), (cut, xs.shape[0])):
        xw, ww, zw = xs[lo:hi], w[lo:hi], zs[:, lo:hi]
        if distinct_sorted(xw, ww > 0.0) < p + 1 or not partial_sums(xw, ww, zw, ys[lo:hi], p + 1, zwz, zwy):
            return False, ys, ts
        if fuzzy:
            partial_sums(xw, ww, zw, ts[lo:hi], p + 1, zwz_t, zwt)
    gamma = solve_dropping(zwz, zwy)
    if not math.isfinite(gamma.sum()):
        return False, ys, ts
    return True, adjust(ys, zs, gamma), adjust(ts, zs, solve_dropping(zwz, zwt)) if fuzzy else ts


@njit(cache=True, error_model="numpy")
def _fail_all(out, status, r, code, bandwidth, n_h):
    for j in range(out.shape[1]):
        write_failure(out[r], status[r], j, code)
        out[r, j, H] = out[r, j, B] = out[r, j, H_RIGHT] = out[r, j, B_RIGHT] = bandwidth
        out[r, j, N_LEFT] = out[r, j, N_RIGHT] = n_h


def side_arrays(batch, options):
    """The take-up and cluster ids as float64 (R, n) arrays (zeros where the options do not read them) and the
    covariates as (R, kz, n) (kz = 0 without ``covs``; each named array is (R, n) or (R, k, n))."""
    zeros = np.zeros_like(batch["x"], dtype=np.float64)
    t = zeros if options.get("fuzzy") is None else np.asarray(batch[options["fuzzy"]], np.float64)
    g = zeros if options.get("cluster") is None else np.asarray(batch[options["cluster"]], np.float64)
    n_reps, n = batch["x"].shape
    blocks = [np.reshape(np.asarray(batch[name], np.float64), (n_reps, -1, n)) for name in options.get("covs") or ()]
    z = np.concatenate(blocks, axis=1) if blocks else np.zeros((n_reps, 0, n))
    return t, g, np.ascontiguousarray(z)


def _run(batch, truth, options, level, out, status):
    p, kernel, h, b, vce, bwselect = codes(options)
    deriv, fuzzy, clustered, adjust = design(options)
    t, g, z = side_arrays(batch, options)
    rd_kernel(
        batch["x"], batch["y"], t, g, z, p, deriv, kernel, h, b, vce, bwselect, fuzzy, clustered, adjust,
        normal_critical(level), truth, out, status,
    )  # fmt: skip


def _check(options, level):
    # bwselect and masspoints are checked here rather than as choices: the generic tests' product of every
    # choice (kernel × vce × bwselect × masspoints) would run the twin 330 times per example; test_rd_designs
    # holds every bandwidth selector to rdrobust instead
    for key, allowed in (("bwselect", BWSELECT), ("masspoints", MASSPOINTS)):
        if options.get(key, allowed[0]) not in allowed:
            return f"{key} = {options[key]!r} is not allowed; allowed: one of {', '.join(map(repr, allowed))}"
    if options.get("deriv", 0) > options["p"]:
        return f"deriv = {options['deriv']} needs p ≥ deriv (got p = {options['p']})"
    if options.get("cluster") is None and options["vce"] not in UNCLUSTERED_VCE:
        return f"vce = {options['vce']!r} is cluster-robust: it needs cluster (the DGP's array of cluster ids)"
    return None


ESTIMATORS = (
    Estimator(
        name="rd",
        summary="RD at 0 (sharp, fuzzy, kink): local polynomial (rdrobust), conventional, bias-corrected and robust rows",
        needs=("x", "y"),
        run=_run,
        reference=reference_rd,
        options=(
            Setting("p", 1, "order of the local polynomial (the bias correction uses q = p + 1)", minimum=0, maximum=8),
            Setting("deriv", 0, "derivative estimated: 0 (jump), 1 (kink), ≤ p", minimum=0, maximum=8),
            Setting("kernel", "triangular", "kernel weights", choices=KERNELS),
            Setting(
                "bwselect",
                "fixed",
                "bandwidths: fixed (the options h and b) or an rdbwselect method (mserd, msetwo, msesum, msecomb1, "
                "msecomb2, cerrd, certwo, cersum, cercomb1, cercomb2)",
                kind=str,
            ),
            Setting(
                "masspoints", "adjust", "rdrobust's mass-point adjustment of the bandwidths: adjust or off", kind=str
            ),
            Setting("h", 0.2, "bandwidth of the estimate (bwselect = fixed)", minimum=0.0, min_exclusive=True),
            Setting(
                "b", None, "bandwidth of the bias correction (default h)", kind=float, minimum=0.0, min_exclusive=True
            ),
            Setting(
                "vce",
                "nn",
                "residuals of the variance: nn (3 nearest neighbours, rdrobust's default), hc0, hc1, hc2, hc3; "
                "with cluster: cr1, cr2 (Bell-McCaffrey), cr3 (rdrobust's switch: nn, hc0, hc1 give cr1, hc2 cr2, "
                "hc3 cr3)",
                choices=VCE_TYPES,
            ),
            Setting(
                "fuzzy",
                None,
                "fuzzy design: the DGP's array of take-up (e.g. takeup); the local Wald ratio",
                kind=str,
            ),
            Setting("covs", None, "the DGP's arrays of covariates to adjust for (rdrobust's covs)", kind=tuple),
            Setting(
                "cluster", None, "the DGP's array of cluster ids 0 … G − 1: cluster-robust variance (vce)", kind=str
            ),
        ),
        diagnostics=DIAGNOSTICS,
        check=_check,
        terms=terms,
        option_needs=option_needs,
    ),
)
