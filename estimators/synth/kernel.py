"""The batched kernel of ``sdid``, ``sc`` and ``difp``: weights, estimate and synthdid's three variances.

A replication's panel y (G × T), its treated units and its start t0
(1-indexed) become synthdid's block design: the N0 control rows first, then
the N1 treated ones (each group in the batch's order), T0 = t0 − 1
pre-periods, T1 = T − T0 post-periods.  With σ̂ the noise level (`solver`),

    ζ_ω = η_ω·σ̂,   ζ_λ = 1e-6·σ̂,   min_decrease = 1e-5·σ̂,

the unit weights ω solve the Frank–Wolfe problem on the pre-periods of the
collapsed form (A: T0 × N0, the controls' pre-period series; b: the treated
units' mean series; both centred over time when ω has an intercept; η =
T0·ζ_ω²) and the time weights λ the one on its control rows (A: N0 × T0,
the controls' pre-periods; b: their post-period means; centred over the
controls; η = N0·ζ_λ²), each by `solver.two_stage`.  The estimate is

    τ̂ = (−ω, 1/N1, …, 1/N1)' Y (−λ, 1/T1, …, 1/T1).

``sdid``  η_ω = (N1·T1)^¼, ω with an intercept, λ solved (synthdid_estimate);
``sc``    η_ω = 1e-6, ω without an intercept, λ = 0 (sc_estimate);
``difp``  η_ω = 1e-6, ω with an intercept, λ = 1/T0 (the paper's DIFP,
          ``synthdid_estimate(..., weights = list(lambda = rep(1/T0, T0)), eta.omega = 1e-6)``).

The variances are synthdid's ``vcov`` (R/vcov.R).  The resamples keep the
original fit's ζ_ω, ζ_λ and min_decrease and re-solve the weights it
solved, warm-started at its weights (ω restricted to the resample's controls
and renormalised by `solver.sum_normalize`, λ as fitted); fixed weights stay
fixed.

``placebo``    B draws: the controls in a random order (the order of N0
               uniforms), the first N0 − N1 as controls and the last N1 as
               treated; se = √((B − 1)/B)·sd.  Status ``few_controls`` when N0 ≤ N1.
``bootstrap``  B draws: N rows drawn with replacement (⌊N·u⌋ for N uniforms),
               sorted; a draw with no control or no treated row is redrawn;
               se = √((B − 1)/B)·sd.  Status ``one_treated`` when N1 = 1.
``jackknife``  every row left out in turn with the weights fixed (ω
               renormalised over the remaining controls):
               se = √((N − 1)/N · Σ (τ̂₋ᵢ − τ̄)²).  Status ``one_treated``
               when N1 = 1, ``one_donor`` when one control has weight ≠ 0.

``none``       (``sdid``, ``sc``, ``difp``) no variance: the point estimate alone
               (se, interval and test NaN, status ``ok``), defined wherever τ̂
               is (one treated unit and N0 ≤ N1 included).

Intervals τ̂ ± z_{1−α/2}·se, as R's (1.96·se).  Other statuses:
``no_variation`` when there is no control, no treated unit, no pre- or no
post-period, or fewer than two first differences for σ̂ (R stops there),
and when the replicates are all equal (`spread_is_rounding`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import write_failure, write_point, write_wald
from ..moments import dot
from .solver import ETA_LAMBDA, ETA_SC, MIN_DECREASE_FACTOR, gram_of, noise_level, sum_normalize, times, two_stage

SDID, SC, DIFP = 0, 1, 2
PLACEBO, BOOTSTRAP, JACKKNIFE, NO_SE = 0, 1, 2, 3
ROUNDING = 1e-12  # see spread_is_rounding
CONTROLS_EFFECTIVE, UNIT_WEIGHT_MAX, PERIODS_EFFECTIVE, TIME_WEIGHT_MAX = 5, 6, 7, 8


@njit(cache=True)
def centred_pre_periods(y, t0, intercept):
    """z (G × T0): each unit's pre-period series, minus its mean when ω has an intercept, and the Gram matrix z z'."""
    g = y.shape[0]
    z = np.empty((g, t0))
    for u in range(g):
        mean = 0.0
        if intercept:
            for t in range(t0):
                mean += y[u, t]
            mean /= t0
        for t in range(t0):
            z[u, t] = y[u, t] - mean
    return z, gram_of(z)


@njit(cache=True)
def solve_lambda(y, rows, n0, t0, zeta_lambda, min_decrease, lam):
    """Time weights from ``lam`` (the start; the solution on return): the control rows of the collapsed form."""
    t_all = y.shape[1]
    t1 = t_all - t0
    at = np.empty((t0, n0))  # A' (A: the controls' pre-periods, centred over the controls)
    b = np.empty(n0)  # the controls' post-period means, centred
    for j in range(n0):
        s = 0.0
        for t in range(t0, t_all):
            s += y[rows[j], t]
        b[j] = s / t1
        for t in range(t0):
            at[t, j] = y[rows[j], t]
    for t in range(t0):
        mean = 0.0
        for j in range(n0):
            mean += at[t, j]
        mean /= n0
        for j in range(n0):
            at[t, j] -= mean
    mean = 0.0
    for j in range(n0):
        mean += b[j]
    mean /= n0
    for j in range(n0):
        b[j] -= mean
    zeta2 = zeta_lambda * zeta_lambda
    two_stage(gram_of(at), times(at, b), dot(b, b), n0, lam, zeta2, min_decrease)


@njit(cache=True)
def solve_omega(y, rows, n0, t0, intercept, z, gram_all, zeta_omega, min_decrease, omega):
    """Unit weights from ``omega`` (the start; the solution on return): the pre-periods of the collapsed form."""
    n1 = rows.shape[0] - n0
    at = np.empty((n0, t0))  # A' (A: the controls' pre-period series, centred over time with an intercept)
    b = np.zeros(t0)  # the treated units' mean series, likewise
    for j in range(n0):
        for t in range(t0):
            at[j, t] = z[rows[j], t]
    for j in range(n0, rows.shape[0]):
        for t in range(t0):
            b[t] += y[rows[j], t]
    mean = 0.0
    for t in range(t0):
        b[t] /= n1
        mean += b[t]
    mean /= t0
    if intercept:
        for t in range(t0):
            b[t] -= mean
    gram = np.empty((n0, n0))
    for j in range(n0):
        for l in range(n0):
            gram[j, l] = gram_all[rows[j], rows[l]]
    two_stage(gram, times(at, b), dot(b, b), t0, omega, zeta_omega * zeta_omega, min_decrease)


@njit(cache=True)
def unit_contrasts(y, rows, t0, lam):
    """Per row j of the design: Σ_{t ≥ T0} y_jt / T1 − Σ_{t < T0} λ_t y_jt."""
    t_all = y.shape[1]
    t1 = t_all - t0
    out = np.empty(rows.shape[0])
    for j in range(rows.shape[0]):
        post = 0.0
        for t in range(t0, t_all):
            post += y[rows[j], t]
        pre = 0.0
        for t in range(t0):
            pre += lam[t] * y[rows[j], t]
        out[j] = post / t1 - pre
    return out


@njit(cache=True)
def fit(y, rows, n0, t0, method, z, gram_all, zeta_omega, zeta_lambda, min_decrease, lam, omega):
    """τ̂ on the design ``rows`` (controls ``rows[:n0]``, then the treated), re-solving the weights the method solves.

    ``lam`` (T0,) and ``omega`` (N0,) hold the starting (or, for weights the
    method fixes, the fixed) weights and are overwritten by the fitted ones.
    """
    if method == SDID:
        solve_lambda(y, rows, n0, t0, zeta_lambda, min_decrease, lam)
    solve_omega(y, rows, n0, t0, method != SC, z, gram_all, zeta_omega, min_decrease, omega)
    return contrast_estimate(unit_contrasts(y, rows, t0, lam), n0, omega)


@njit(cache=True)
def contrast_estimate(contrast, n0, omega):
    """τ̂ = mean of the treated rows' contrasts − Σ ω_j · contrast_j."""
    n = contrast.shape[0]
    treated = 0.0
    for j in range(n0, n):
        treated += contrast[j]
    control = 0.0
    for j in range(n0):
        control += omega[j] * contrast[j]
    return treated / (n - n0) - control


@njit(cache=True)
def placebo_order(rng, keys):
    """The controls in a random order: the argsort (stable) of N0 uniforms drawn into ``keys`` (N0,)."""
    for j in range(keys.shape[0]):
        keys[j] = rng.random()
    return np.argsort(keys, kind="mergesort")


@njit(cache=True)
def bootstrap_picks(rng, picks, n0):
    """Fill ``picks`` (N,) with ⌊N·u⌋ for N uniforms, sorted, redrawn until it holds a row < N0 (a control) and
    one ≥ N0; returns the number of controls drawn."""
    n = picks.shape[0]
    while True:
        for j in range(n):
            picks[j] = min(int(rng.random() * n), n - 1)
        picks.sort()
        n_controls = 0
        for j in range(n):
            n_controls += picks[j] < n0
        if 0 < n_controls < n:
            return n_controls


@njit(cache=True)
def resample(rng, method, se_code, y, rows, n0, t0, z, gram_all, zeta_omega, zeta_lambda, min_decrease, lam, omega,
             draws):  # fmt: skip
    """Fill ``draws`` (B,) with the placebo or bootstrap estimates, warm-started at the fit's ``lam`` and ``omega``."""
    n = rows.shape[0]
    n1 = n - n0
    keys = np.empty(n0)
    picks = np.empty(n, dtype=np.int64)
    for draw in range(draws.shape[0]):
        if se_code == PLACEBO:
            order = placebo_order(rng, keys)
            n_controls = n0 - n1
            design = rows[order]
            start = omega[order[:n_controls]].copy()
        else:
            n_controls = bootstrap_picks(rng, picks, n0)
            design = rows[picks]
            start = omega[picks[:n_controls]].copy()
        sum_normalize(start)
        draws[draw] = fit(
            y, design, n_controls, t0, method, z, gram_all, zeta_omega, zeta_lambda, min_decrease, lam.copy(), start
        )


@njit(cache=True)
def jackknife(y, rows, n0, t0, lam, omega):
    """Fixed-weights jackknife: √((N − 1)/N · Σ (τ̂₋ᵢ − τ̄)²) over the N rows left out in turn; (se, the τ̂₋ᵢ).

    Leaving out control i renormalises the other controls' weights by their
    sum (computed afresh, not as 1 − ω_i: tiny weights would cancel); the
    caller excludes a single control of nonzero weight, whose removal leaves
    none.
    """
    n = rows.shape[0]
    n1 = n - n0
    contrast = unit_contrasts(y, rows, t0, lam)
    values = np.empty(n)
    for i in range(n):
        weight_sum = 0.0
        weighted = 0.0
        for j in range(n0):
            if j != i:
                weight_sum += omega[j]
                weighted += omega[j] * contrast[j]
        treated_sum = 0.0
        for j in range(n0, n):
            if j != i:
                treated_sum += contrast[j]
        values[i] = treated_sum / (n1 - (i >= n0)) - weighted / weight_sum
    return math.sqrt((n - 1.0) / n * _sum_squares(values)), values


@njit(cache=True)
def _sum_squares(values):
    mean = 0.0
    for v in values:
        mean += v
    mean /= values.shape[0]
    total = 0.0
    for v in values:
        total += (v - mean) * (v - mean)
    return total


@njit(cache=True)
def spread_is_rounding(se, values):
    """Whether the replicates are all equal up to rounding: se ≤ 1e-12·max|value| (status ``no_variation``).

    Replicates on the same units in another order (a placebo draw's
    controls, permuted) are equal in exact arithmetic but not in floating
    point, so an se of zero comes out as zero or as 1e-16 depending on the
    order of the sums; either is reported as no variation.
    """
    top = 0.0
    for v in values:
        top = max(top, abs(v))
    return not se > ROUNDING * top


@njit(cache=True)
def draws_se(draws):
    """√((B − 1)/B)·sd(draws) = √(Σ (d − d̄)² / B): R's placebo and bootstrap se."""
    return math.sqrt(_sum_squares(draws) / draws.shape[0])


@njit(cache=True)
def design_rows(treated):
    """The controls' indices, then the treated units' (each in the batch's order), and N0."""
    g = treated.shape[0]
    rows = np.empty(g, dtype=np.int64)
    n0 = 0
    for u in range(g):
        if treated[u] == 0.0:
            rows[n0] = u
            n0 += 1
    k = n0
    for u in range(g):
        if treated[u] != 0.0:
            rows[k] = u
            k += 1
    return rows, n0


@njit(cache=True)
def tuning(sigma, n1, t1, method):
    """(ζ_ω, ζ_λ, min_decrease) from the noise level σ̂: η_ω·σ̂ (η_ω = (N1·T1)^¼ for sdid, 1e-6 otherwise),
    1e-6·σ̂ and 1e-5·σ̂."""
    eta_omega = (n1 * t1) ** 0.25 if method == SDID else ETA_SC
    return eta_omega * sigma, ETA_LAMBDA * sigma, MIN_DECREASE_FACTOR * sigma


@njit(cache=True)
def one_replication(y, treated, t_start, method, se_code, rng, draws):
    """One panel's τ̂ and se: (status, τ̂, se, ω, λ), with the placebo or bootstrap estimates in ``draws`` (B,).

    ``y`` (G, T), ``treated`` (G,), ``t_start`` the first treated period
    (1-indexed); the rest as `synth_kernel`.  ω (N0,) is over the controls
    in the batch's order; λ (T0,) over the pre-periods.
    """
    g, t_all = y.shape
    rows, n0 = design_rows(treated)
    n1 = g - n0
    t0 = t_start - 1
    empty = np.empty(0)
    if n0 == 0 or n1 == 0 or t0 < 1 or t0 >= t_all:
        return st.NO_VARIATION, math.nan, math.nan, empty, empty
    sigma = noise_level(y, rows, n0, t0)
    if not math.isfinite(sigma):
        return st.NO_VARIATION, math.nan, math.nan, empty, empty
    if se_code == PLACEBO and n0 <= n1:
        return st.FEW_CONTROLS, math.nan, math.nan, empty, empty
    if (se_code == BOOTSTRAP or se_code == JACKKNIFE) and n1 == 1:
        return st.ONE_TREATED, math.nan, math.nan, empty, empty
    zeta_omega, zeta_lambda, min_decrease = tuning(sigma, n1, t_all - t0, method)
    z, gram_all = centred_pre_periods(y, t0, method != SC)
    lam = np.full(t0, 0.0 if method == SC else 1.0 / t0)
    omega = np.full(n0, 1.0 / n0)
    estimate = fit(y, rows, n0, t0, method, z, gram_all, zeta_omega, zeta_lambda, min_decrease, lam, omega)
    if se_code == NO_SE:
        return st.OK, estimate, math.nan, omega, lam
    if se_code == JACKKNIFE:
        donors = 0
        for j in range(n0):
            donors += omega[j] != 0.0
        if donors == 1:
            return st.ONE_DONOR, estimate, math.nan, omega, lam
        se, replicates = jackknife(y, rows, n0, t0, lam, omega)
    else:
        resample(rng, method, se_code, y, rows, n0, t0, z, gram_all, zeta_omega, zeta_lambda, min_decrease, lam,
                 omega, draws)  # fmt: skip
        se, replicates = draws_se(draws), draws
    if spread_is_rounding(se, replicates):
        return st.NO_VARIATION, estimate, se, omega, lam
    return st.OK, estimate, se, omega, lam


@njit(cache=True)
def synth_kernel(y, treated, start, method, se_code, n_draws, crit, truth, out, status, rng):
    """Batched ``sdid``, ``sc`` and ``difp`` with placebo, bootstrap or jackknife standard errors.

    Parameters
    ----------
    y : float64 array, shape (R, G, T)
    treated : float64 array, shape (R, G)
        1 for the treated units (0 for the controls).
    start : int64 array, shape (R,)
        The first treated period t0 (1-indexed): T0 = t0 − 1.
    method, se_code : int
        SDID, SC or DIFP; PLACEBO, BOOTSTRAP, JACKKNIFE or NO_SE.
    n_draws : int
        B, placebo or bootstrap draws.
    crit : float
        z_{1−α/2}.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 9)
        estimate, se, ci_low, ci_high, reject, controls_effective (1/Σω²),
        unit_weight_max, periods_effective (1/Σλ²; NaN for sc) and
        time_weight_max (NaN for sc).
    status : int8 array, shape (R,)
    rng : numpy.random.Generator
        The estimator's own stream (placebo and bootstrap draws).
    """
    draws = np.empty(n_draws)
    for r in range(y.shape[0]):
        code, estimate, se, omega, lam = one_replication(
            y[r], treated[r], start[r], method, se_code, rng, draws
        )
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        if se_code == NO_SE:
            write_point(out, status, r, estimate)
        else:
            write_wald(out, status, r, estimate, se, crit, truth[r])
        if status[r] == st.OK:
            write_weight_diagnostics(out, r, omega, lam if method != SC else np.empty(0))


@njit(cache=True)
def write_weight_diagnostics(out, r, omega, lam):
    """1/Σω², max ω, 1/Σλ², max λ (NaN for the last two without time weights)."""
    out[r, CONTROLS_EFFECTIVE] = 1.0 / np.sum(omega * omega)
    out[r, UNIT_WEIGHT_MAX] = np.max(omega)
    out[r, PERIODS_EFFECTIVE] = 1.0 / np.sum(lam * lam) if lam.shape[0] else math.nan
    out[r, TIME_WEIGHT_MAX] = np.max(lam) if lam.shape[0] else math.nan
