"""Manipulation test at the cutoff 0: Cattaneo, Jansson & Ma (2020, JASA), the conventions of ``rddensity``.

The density of the running variable on each side of the cutoff is the slope at 0 of a local polynomial
fit of the empirical distribution function.  With the n units sorted, F̂_i = i/(n − 1) (i = 0..n−1; units
with tied x all take their group's last index), on each side s ∈ {−, +} with bandwidth h_s, window
−h₋ ≤ x < 0 or 0 ≤ x ≤ h₊, weights W_i = K(x_i/h_s)/h_s and r(u) = (1, u, …, u^P)' at u = x/h_s:

    Γ_s = Σ W r r',   β_s = Γ_s⁻¹ Σ W r F̂,   f̂_s = β_s[1]/h_s   (the density, order P = q = p + 1)

The test statistic is T = (f̂₊ − f̂₋)/√V̂ with the two-sided normal p-value; ``reject`` is |T| > z_{1−α/2}
(the test of H0: no discontinuity in the density, whatever the DGP's truth), the interval
(f̂₊ − f̂₋) ± z·√V̂.  Variance (option ``vce``):

``jackknife``  rddensity's default: with c_k = e₁'Γ_s⁻¹ r_k W_k /(h_s(n − 1)) and each unit's leave-in
               influence ψ_s(i) = Σ_{k > i in the window} c_k (over side s's units; for a tie group, the
               sum after its first member), V̂ = Σ_i (ψ₊(i) − ψ₋(i))² over the window.
``plugin``     V̂ = f̂₋κ_P/(n h₋) + f̂₊κ_P/(n h₊), κ_P the kernel constant of `density_constants`.

Bandwidths (option ``bwselect``; rddensity's ``rdbwdensity`` with its defaults: unrestricted fit,
regularisation with nLocalMin = nUniqueMin = 20 + p + 1, mass-point adjustment):

1. pilots from a normal reference: with z = x̄/s_x (s_x the sd, divisor n − 1), He_k the probabilists'
   Hermite polynomials and φ the normal density,
   b = ((2p+1)/4 · C_b/(He_{p+2}(z)²φ(z) n))^{1/(2p+5)} s_x,  c = (C_c/(2p He_p(z)²φ(z) n))^{1/(2p+1)} s_x,
   each capped at max|x| and raised to the (p+23)-th (b) or (p+21)-th (c) nearest unit, and distinct x
   value, on each side (or the farthest when a side has fewer);
2. f̂^{(p)} on each side from the order-(p+2) fit on |x| ≤ b (its coefficient of u^{p+1} over b^{p+1}), and
   the variances of f̂₋, f̂₊, f̂₊ − f̂₋ and f̂₊ + f̂₋ from the order-p fit on |x| ≤ c (``vce``), V = n·c·var;
3. with the bias constant B_p = (S⁻¹C)_1: B₋ = (−1)^p B_p f̂₋^{(p)}, B₊ = B_p f̂₊^{(p)}, the difference
   B₊ − B₋ and the sum B₊ + B₋, each target's h = (V/(2p B² n))^{1/(2p+1)} (0 where it is undefined),
   capped at the side's range (the larger range for diff and sum) and raised to the side's (p+21)-th
   nearest unit (both sides' for diff and sum);
4. ``each``: h₋ = h_left, h₊ = h_right; ``diff``, ``sum``: one common h; ``comb`` (default):
   h₋ = median(h_left, h_diff, h_sum), h₊ = median(h_right, h_diff, h_sum); ``fixed``: the option ``h``.

Only rddensity's default ``fitselect = "unrestricted"`` (a separate fit on each side) is implemented.

Statuses: ``too_few_observations`` when a side of the cutoff has no unit (rddensity refuses), ``singular``
when the test's fit on a side is not identified (rddensity returns NaN), ``no_variation`` when its
variance is not positive.  Where a pilot fit is not identified rddensity's NaN makes that target's
bandwidth 0 before the regularisation; so here.

Diagnostics: ``t_stat``, ``p_value``, the two densities ``f_left`` and ``f_right``, the bandwidths
``h_left`` and ``h_right``, and the numbers of units in each side's window (rddensity's eff_left/right).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, spd_inverse
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator, Setting
from .conventions import KERNELS
from .density_constants import (
    BWSELECT,
    COMB,
    DIAGNOSTICS,
    DIFF,
    EACH,
    F_LEFT,
    F_RIGHT,
    FIXED,
    H_LEFT,
    H_RIGHT,
    JACKKNIFE,
    N_LEFT,
    N_RIGHT,
    P_MAX,
    P_VALUE,
    SUM,
    T_STAT,
    TERM,
    VCE,
    kernel_arguments,
)
from .density_reference import reference_rd_density
from .fits import _fit, _gram, kernel_weight

# fit[...] of `_two_sided_fit`: the densities, the s-th coefficients, and the variances of f̂₋, f̂₊, f̂₊ − f̂₋, f̂₊ + f̂₋
FIT_WIDTH = 8


@njit(cache=True, error_model="numpy")
def _side(xs, ys, lo, hi, h, order, s, kernel, n, tail):
    """One side's fit on the sorted units lo..hi−1: (ok, β[1]/h, β[s]/h^s, Σ c); `tail` gets ψ(i) (jackknife)."""
    m = hi - lo
    u = np.empty(m)
    w = np.empty(m)
    for i in range(m):
        u[i] = xs[lo + i] / h
        w[i] = kernel_weight(u[i], kernel, h)
    k = order + 1
    inv = np.empty((k, k))
    if m == 0 or not spd_inverse(_gram(u, w, k), k, inv):
        return False, np.nan, np.nan, np.nan
    # F̂ less its value at the side's unit nearest the cutoff: the same slopes (an intercept is fitted), a smaller
    # intercept and so smaller rounding errors in them
    beta = _fit(u, ys[lo:hi] - (ys[hi - 1] if xs[lo] < 0.0 else ys[lo]), w, inv, k)
    running = 0.0  # Σ_{j > i} c_j, from the right
    for i in range(m - 1, -1, -1):
        tail[i] = running
        power, c = 1.0, 0.0
        for a in range(k):
            c += inv[1, a] * power
            power *= u[i]
        running += c * w[i] / (h * (n - 1.0))
    for i in range(1, m):  # a tie group takes the sum after its first member
        if xs[lo + i] == xs[lo + i - 1]:
            tail[i] = tail[i - 1]
    return True, beta[1] / h, beta[s] / h**s, running


@njit(cache=True, error_model="numpy")
def _two_sided_fit(xs, ys, cut, h_left, h_right, order, s, kernel, vce, kappa, fit):
    """Fits of `order` on −h_left ≤ x < 0 and 0 ≤ x ≤ h_right; writes `fit` (FIT_WIDTH), returns (ok, n₋, n₊)."""
    n = xs.shape[0]
    lo = np.searchsorted(xs, -h_left)  # first x ≥ −h_left
    hi = np.searchsorted(xs, h_right, side="right")
    n_left, n_right = cut - lo, hi - cut
    fit[:] = np.nan
    tail_l = np.empty(n_left)
    tail_r = np.empty(n_right)
    ok_l, fit[0], fit[2], _ = _side(xs, ys, lo, cut, h_left, order, s, kernel, n, tail_l)
    ok_r, fit[1], fit[3], whole_r = _side(xs, ys, cut, hi, h_right, order, s, kernel, n, tail_r)
    if not (ok_l and ok_r):
        fit[:] = np.nan
        return False, n_left, n_right
    if vce == JACKKNIFE:
        # ψ₋ is 0 right of the cutoff; ψ₊ left of it is the sum over every right unit (≈ 0: Σ c = e₁'Γ⁻¹Σ W r/…)
        v_l = v_r = cov = 0.0
        for i in range(n_left):
            v_l += tail_l[i] ** 2
            cov += tail_l[i]
        for i in range(n_right):
            v_r += tail_r[i] ** 2
        v_r += n_left * whole_r**2
        cov *= whole_r
        fit[4], fit[5], fit[6], fit[7] = v_l, v_r, v_l + v_r - 2.0 * cov, v_l + v_r + 2.0 * cov
    else:
        fit[4] = fit[0] * kappa / (n * h_left)
        fit[5] = fit[1] * kappa / (n * h_right)
        fit[6] = fit[4] + fit[5]
        fit[7] = fit[4] + fit[5]
    for j in range(4, FIT_WIDTH):
        if fit[j] < 0.0:
            fit[j] = np.nan
    return True, n_left, n_right


@njit(cache=True, error_model="numpy")
def _nearest(xs, cut, k, distinct, left):
    """|x| of the k-th nearest unit (or distinct x value) to the cutoff on a side; the farthest if it has fewer."""
    count, last, distance = 0, np.nan, 0.0
    stop, step = (-1, -1) if left else (xs.shape[0], 1)
    for i in range(cut - 1 if left else cut, stop, step):
        if not distinct or count == 0 or xs[i] != last:
            count += 1
            last = xs[i]
            distance = abs(xs[i])
            if count == k:
                break
    return distance


@njit(cache=True, error_model="numpy")
def _at_least_nearest(h, xs, cut, k, left, right):
    """h raised to the k-th nearest unit and distinct value on the chosen sides (rddensity's regularisation)."""
    for distinct in (False, True):
        if left:
            h = max(h, _nearest(xs, cut, k, distinct, True))
        if right:
            h = max(h, _nearest(xs, cut, k, distinct, False))
    return h


@njit(cache=True, error_model="numpy")
def _hermite(k, z):
    """Probabilists' Hermite polynomial He_k(z)."""
    previous, current = 1.0, z
    if k == 0:
        return previous
    for j in range(1, k):
        previous, current = current, z * current - j * previous
    return current


@njit(cache=True, error_model="numpy")
def select_bandwidths(xs, ys, cut, p, kernel, vce, kappa_p, bias_c, pilot_b, pilot_c, hs):
    """rdbwdensity's four bandwidths (left, right, diff, sum) into `hs` (module docstring, steps 1–3)."""
    n = xs.shape[0]
    mean = xs.mean()
    sd = math.sqrt(((xs - mean) ** 2).sum() / (n - 1.0))
    z = mean / sd
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    f_b = 1.0 / (_hermite(p + 2, z) ** 2 * phi)
    f_c = 1.0 / (_hermite(p, z) ** 2 * phi)
    b = ((2 * p + 1) / 4.0 * f_b * pilot_b / n) ** (1.0 / (2 * p + 5)) * sd
    c = (1.0 / (2 * p) * f_c * pilot_c / n) ** (1.0 / (2 * p + 1)) * sd
    far_left, far_right = abs(xs[0]), abs(xs[-1])
    far = max(far_left, far_right)
    b = _at_least_nearest(min(b, far), xs, cut, p + 23, True, True)
    c = _at_least_nearest(min(c, far), xs, cut, p + 21, True, True)
    fit_b = np.empty(FIT_WIDTH)
    fit_c = np.empty(FIT_WIDTH)
    _two_sided_fit(xs, ys, cut, b, b, p + 2, p + 1, kernel, vce, 0.0, fit_b)
    _two_sided_fit(xs, ys, cut, c, c, p, 1, kernel, vce, kappa_p, fit_c)
    bias_l = fit_b[2] * bias_c * (-1.0) ** p
    bias_r = fit_b[3] * bias_c
    bias = (bias_l, bias_r, bias_r - bias_l, bias_r + bias_l)
    caps = (far_left, far_right, far, far)
    for j in range(4):
        variance = n * c * fit_c[4 + j]
        h = (1.0 / (2 * p) * variance / bias[j] ** 2 / n) ** (1.0 / (2 * p + 1))
        if variance < 0.0 or math.isnan(h):
            h = 0.0
        hs[j] = _at_least_nearest(min(h, caps[j]), xs, cut, p + 21, j != 1, j != 0)


@njit(cache=True, error_model="numpy")
def _median3(a, b, c):
    return max(min(a, b), min(max(a, b), c))


@njit(cache=True, error_model="numpy")
def density_kernel(x, p, kernel, bwselect, h_fixed, vce, kappa_p, kappa_q, bias_c, pilot_b, pilot_c, crit, out, status):
    """The manipulation test on every replication (module docstring).

    Parameters
    ----------
    x : float64 array, shape (R, n)
        Running variable (cutoff 0, x ≥ 0 above it).
    p : int
        Order of the bandwidth selector's density fit; the test's fit has order q = p + 1.
    kernel, bwselect, vce : int
        Codes of `KERNELS`, `BWSELECT` and `VCE`.
    h_fixed : float
        Both sides' bandwidth with ``bwselect = "fixed"``.
    kappa_p, kappa_q, bias_c : float
        Kernel constants κ_p, κ_q and (S⁻¹C)_1 of order p (`density_constants`).
    pilot_b, pilot_c : float
        rddensity's pilot constants of order p.
    crit : float
        Normal critical value of the test and interval.
    out : float64 array, shape (R, 13)
        estimate (f̂₊ − f̂₋), se, ci_low, ci_high, reject (|T| > crit), then `DIAGNOSTICS`.
    status : int8 array, shape (R,)
    """
    hs = np.empty(4)
    fit = np.empty(FIT_WIDTH)
    for r in range(x.shape[0]):
        xs = np.sort(x[r])
        n = xs.shape[0]
        cut = np.searchsorted(xs, 0.0)
        out[r, :] = np.nan
        if cut == 0 or cut == n:
            status[r] = st.TOO_FEW_OBSERVATIONS
            out[r, N_LEFT], out[r, N_RIGHT] = cut, n - cut
            continue
        ys = np.empty(n)  # F̂: i/(n − 1), a tie group at its last member's
        for i in range(n - 1, -1, -1):
            ys[i] = ys[i + 1] if i < n - 1 and xs[i] == xs[i + 1] else i / (n - 1.0)
        h_left = h_right = h_fixed
        if bwselect != FIXED:
            select_bandwidths(xs, ys, cut, p, kernel, vce, kappa_p, bias_c, pilot_b, pilot_c, hs)
            if bwselect == COMB:
                h_left, h_right = _median3(hs[0], hs[2], hs[3]), _median3(hs[1], hs[2], hs[3])
            elif bwselect == EACH:
                h_left, h_right = hs[0], hs[1]
            else:
                h_left = h_right = hs[2] if bwselect == DIFF else hs[3]
        ok, n_left, n_right = _two_sided_fit(xs, ys, cut, h_left, h_right, p + 1, 1, kernel, vce, kappa_q, fit)
        out[r, H_LEFT], out[r, H_RIGHT], out[r, N_LEFT], out[r, N_RIGHT] = h_left, h_right, n_left, n_right
        if not ok:
            status[r] = st.SINGULAR
            continue
        out[r, F_LEFT], out[r, F_RIGHT] = fit[0], fit[1]
        if not (fit[6] > 0.0) or not math.isfinite(fit[6]):
            status[r] = st.NO_VARIATION
            continue
        estimate, se = fit[1] - fit[0], math.sqrt(fit[6])
        t = estimate / se
        out[r, ESTIMATE], out[r, SE] = estimate, se
        out[r, CI_LOW], out[r, CI_HIGH] = estimate - crit * se, estimate + crit * se
        out[r, REJECT] = 1.0 if abs(t) > crit else 0.0
        out[r, T_STAT], out[r, P_VALUE] = t, math.erfc(abs(t) / math.sqrt(2.0))
        status[r] = st.OK


def _run(batch, truth, options, level, out, status):
    density_kernel(batch["x"], *kernel_arguments(options), normal_critical(level), out[:, 0], status[:, 0])


ESTIMATORS = (
    Estimator(
        name="rd_density",
        summary="manipulation test at 0 (Cattaneo, Jansson & Ma 2020; rddensity): density jump f₊ − f₋, reject = test",
        needs=("x",),
        run=_run,
        reference=reference_rd_density,
        options=(
            Setting("p", 2, "order of the density fit of the bandwidths (the test's fit has order p + 1)", minimum=1,
                    maximum=P_MAX),  # fmt: skip
            Setting("kernel", "triangular", "kernel weights", choices=KERNELS),
            Setting(
                "bwselect",
                "comb",
                "bandwidths (rddensity): comb (medians of each side's, diff and sum), each, diff, sum, or fixed (h)",
                choices=BWSELECT,
            ),
            Setting("h", 0.2, "both sides' bandwidth (bwselect = fixed)", minimum=0.0, min_exclusive=True),
            Setting("vce", "jackknife", "variance: jackknife (rddensity's default) or plugin", choices=VCE),
        ),
        diagnostics=DIAGNOSTICS,
        terms=lambda shapes, options: (TERM,),
    ),
)
