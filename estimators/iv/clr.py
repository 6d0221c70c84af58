"""Moreira's (2003) conditional likelihood-ratio test and its confidence set.

Homoskedastic, one endogenous regressor, the intercept partialled out.
With Y = [y, x], its explained and residual cross-products Q = Y'P_Z Y and
E = Y'M_Z Y (`common`), Ω̂ = E/(n − K − 1) (ivmodels' estimate),
b0 = (1, −β0)' and a0 = (β0, 1)':

    S'S = b0'Q b0 / b0'Ω̂ b0,
    T'T = a0'Ω̂⁻¹Q Ω̂⁻¹a0 / a0'Ω̂⁻¹a0,
    S'T = b0'Q Ω̂⁻¹a0 / √(b0'Ω̂ b0 · a0'Ω̂⁻¹a0),
    LR  = ½(S'S − T'T + √((S'S + T'T)² − 4(S'S·T'T − (S'T)²))).

Given T'T = t, LR is a function of A = S'S ~ χ²_K and the squared cosine
c = s² of the angle between S and T, c ~ Beta(1/2, (K − 1)/2), independent
of A; LR > lr exactly when A > lr(lr + t)/(lr + t·s²), so the conditional
p-value (Andrews, Moreira & Stock 2006) is

    p(lr; t) = 1 − (2/B(½, (K−1)/2)) ∫₀^{π/2} F_{χ²_K}(lr(lr + t)/(lr + t·sin²φ)) cos^{K−2}φ dφ

(s = sin φ), computed by composite Gauss–Legendre quadrature (10 panels
graded towards 0, 16 nodes each) with the χ² distribution function in
closed form (integer K); for K = 1 LR = S'S and p = 1 − F_{χ²_1}(lr).  The
test of H0: β = truth rejects when p < 1 − level: exact under
homoskedastic normal errors, whatever the instruments' strength.  Its
confidence set {β0 : p(β0) ≥ 1 − level} is found on a grid of points
β0 = β̂ + s·tan(θ), 128 per scale s for three scales (β̂ the 2SLS
estimate; s its classical standard error, a tenth of it, and
√(Ω̂_yy/Ω̂_xx)), its crossings (scanned with a coarse rule, confirmed with the fine one)
refined by regula falsi (Illinois) to machine precision,
and its ends by the limit β0 → ±∞ (b0 ∝ (0, 1)', a0 ∝ (1, 0)'); stored in the encoding of `estimators.inference`, a set of
more pieces by its hull (``clr_set_pieces`` counts them).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numba import njit
from scipy import integrate, optimize, special, stats

from .. import status as st
from ..inference import write_failure
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator
from .anderson_rubin import accepted_set
from .common import EXX, EXY, EYY, FSTAT, N_STATS, NEEDS, QXX, QXY, QYY, SXX, SXY, SYY, iv_statistics

LR_STAT, P_VALUE, FIRST_F, PIECES = 5, 6, 7, 8
CLR_DIAGNOSTICS = ("clr_stat", "clr_p_value", "first_stage_f", "clr_set_pieces")
GRID = 128  # grid points per scale; three scales
NODES = 16  # Gauss–Legendre nodes per panel
PANELS = 10  # panels graded geometrically towards φ = 0


@cache
def quadrature(coarse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes and weights on (0, π/2): panels [0, π/2^10], [π/2^10, π/2^9], … [π/4, π/2].

    The integrand's feature near φ = 0 has width about √(lr/t), which the
    geometric panels resolve for any t/lr up to 10⁵.  ``coarse``: 4 nodes
    on 6 panels, for scanning the grid only.
    """
    n_nodes, n_panels = (4, 6) if coarse else (NODES, PANELS)
    base, base_weights = np.polynomial.legendre.leggauss(n_nodes)
    edges = [0.0] + [math.pi / 2 ** (n_panels - j) for j in range(n_panels)]
    nodes, weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        nodes.append(lo + (base + 1.0) * (hi - lo) / 2.0)
        weights.append(base_weights * (hi - lo) / 2.0)
    return np.concatenate(nodes), np.concatenate(weights)


@njit(cache=True)
def chi2_cdf(x, k):
    """P(χ²_k ≤ x) for integer k ≥ 1: the regularized incomplete gamma P(k/2, x/2) by its finite series."""
    if x <= 0.0:
        return 0.0
    y = 0.5 * x
    if k % 2 == 0:
        term = math.exp(-y)
        total = term
        for j in range(1, k // 2):
            term *= y / j
            total += term
        return max(1.0 - total, 0.0)
    # Odd k: P(1/2, y) = erf(√y), P(a + 1, y) = P(a, y) − y^a e^{−y}/Γ(a + 1).
    value = math.erf(math.sqrt(y))
    term = math.sqrt(y) * math.exp(-y) / math.gamma(1.5)  # y^{1/2} e^{−y}/Γ(3/2)
    for j in range(k // 2):
        value -= term
        term *= y / (j + 1.5)
    return min(max(value, 0.0), 1.0)


@njit(cache=True)
def conditional_p_value(lr, qt, k, nodes, weights, beta_norm):
    """p(lr; t) of the module docstring; beta_norm = B(1/2, (K − 1)/2)."""
    if not (lr > 0.0):
        return 1.0
    if k == 1:
        return 1.0 - chi2_cdf(lr, 1)
    total = 0.0
    for j in range(nodes.shape[0]):
        s = math.sin(nodes[j])
        c = math.cos(nodes[j])
        total += weights[j] * chi2_cdf(lr * (lr + qt) / (lr + qt * s * s), k) * c ** (k - 2)
    return min(max(1.0 - 2.0 * total / beta_norm, 0.0), 1.0)


@njit(cache=True)
def clr_statistics(b_y, b_x, a_y, a_x, q, omega, omega_inv):
    """(LR, T'T) for b0 = (b_y, b_x)', a0 = (a_y, a_x)' (any scaling: the statistics are homogeneous)."""
    qyy, qxy, qxx = q[QYY], q[QXY], q[QXX]
    b_q_b = b_y * b_y * qyy + 2.0 * b_y * b_x * qxy + b_x * b_x * qxx
    b_o_b = b_y * b_y * omega[0] + 2.0 * b_y * b_x * omega[1] + b_x * b_x * omega[2]
    # w = Ω⁻¹a0
    w_y = omega_inv[0] * a_y + omega_inv[1] * a_x
    w_x = omega_inv[1] * a_y + omega_inv[2] * a_x
    a_oi_a = a_y * w_y + a_x * w_x
    w_q_w = w_y * w_y * qyy + 2.0 * w_y * w_x * qxy + w_x * w_x * qxx
    b_q_w = b_y * (qyy * w_y + qxy * w_x) + b_x * (qxy * w_y + qxx * w_x)
    ss = b_q_b / b_o_b
    tt = w_q_w / a_oi_a
    st_ = b_q_w / math.sqrt(b_o_b * a_oi_a)
    disc = max((ss + tt) ** 2 - 4.0 * (ss * tt - st_ * st_), 0.0)
    return 0.5 * (ss - tt + math.sqrt(disc)), tt


@njit(cache=True)
def p_at(b0, q, omega, omega_inv, k, nodes, weights, beta_norm):
    """The conditional p-value of H0: β = b0 (b0 = ±inf: the limit)."""
    if math.isinf(b0):
        lr, qt = clr_statistics(0.0, 1.0, 1.0, 0.0, q, omega, omega_inv)
    else:
        lr, qt = clr_statistics(1.0, -b0, b0, 1.0, q, omega, omega_inv)
    return conditional_p_value(lr, qt, k, nodes, weights, beta_norm)


@njit(cache=True)
def refine_root(lo, hi, f_lo, f_hi, q, omega, omega_inv, k, alpha, nodes, weights, beta_norm):
    """A root of p(β0) − α between lo and hi (opposite signs) by the Illinois variant of regula falsi."""
    side = 0
    for _ in range(100):
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not (min(lo, hi) < mid < max(lo, hi)):
            mid = 0.5 * (lo + hi)
        if abs(hi - lo) <= 4e-16 * max(abs(lo), abs(hi), 1e-300):
            break
        f_mid = p_at(mid, q, omega, omega_inv, k, nodes, weights, beta_norm) - alpha
        if f_mid == 0.0:
            return mid
        if (f_mid > 0.0) == (f_lo > 0.0):
            lo, f_lo = mid, f_mid
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = mid, f_mid
            if side == 1:
                f_lo *= 0.5
            side = 1
    return (lo * f_hi - hi * f_lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)


@njit(cache=True)
def clr_set(points, center, scale, q, omega, omega_inv, k, alpha, coarse, coarse_w, nodes, weights, beta_norm,
            accept, roots):  # fmt: skip
    """The confidence set {β0 : p(β0) ≥ α}: (ci_low, ci_high, pieces).

    The sorted grid `points` (with ±∞ at both ends) is scanned with the
    coarse rule; each change of acceptance is checked with the fine rule at
    its two grid points (a change the fine rule does not confirm is
    dropped) and refined to machine precision.
    """
    far = scale * 1e12
    m = points.shape[0]
    ends_p = p_at(np.inf, q, omega, omega_inv, k, nodes, weights, beta_norm) - alpha
    ends = ends_p >= 0.0
    count = 0
    accept[0] = ends
    prev_b, prev_f, prev_in, prev_fine = center - far, ends_p, ends, True
    for j in range(m + 1):
        b0 = points[j] if j < m else center + far
        if j < m:
            f = p_at(b0, q, omega, omega_inv, k, coarse, coarse_w, beta_norm) - alpha
            fine = False
        else:
            f, fine = ends_p, True
        inside = f >= 0.0
        if inside != prev_in:
            if not prev_fine:
                prev_f = p_at(prev_b, q, omega, omega_inv, k, nodes, weights, beta_norm) - alpha
            if not fine:
                f = p_at(b0, q, omega, omega_inv, k, nodes, weights, beta_norm) - alpha
                fine = True
            if (prev_f >= 0.0) != (f >= 0.0):
                roots[count] = refine_root(prev_b, b0, prev_f, f, q, omega, omega_inv, k, alpha, nodes, weights,
                                           beta_norm)  # fmt: skip
                count += 1
                accept[count] = f >= 0.0
            inside = f >= 0.0
        prev_b, prev_f, prev_in, prev_fine = b0, f, inside, fine
    if count == 0:
        return (-np.inf, np.inf, 1) if ends else (np.inf, -np.inf, 0)
    return accepted_set(roots[:count], accept[: count + 1], True)


@njit(cache=True)
def clr_kernel(y, x, z, level, nodes, weights, coarse, coarse_w, beta_norm, truth, out, status):
    """Batched CLR test of H0: β = truth, its conditional p-value and inverted confidence set.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
    z : float64 array, shape (R, K, n)
    level : float
        Confidence level; the test rejects when p < 1 − level.
    nodes, weights : float64 arrays
        Gauss–Legendre quadrature on (0, π/2) (`quadrature`).
    coarse, coarse_w : float64 arrays
        A cheaper rule for scanning the grid (`quadrature(coarse=True)`).
    beta_norm : float
        B(1/2, (K − 1)/2) (unused for K = 1).
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 9)
        estimate (2SLS), se (NaN), ci_low, ci_high, reject, clr_stat (at the
        truth), clr_p_value, first_stage_f, clr_set_pieces.
    status : int8 array, shape (R,)
    """
    n_reps, k, n = z.shape
    work = np.empty((k + 2, n))
    cp = np.empty((k + 2, k + 2))
    means = np.empty(k + 2)
    szz = np.empty((k, k))
    a_fs = np.empty(k)
    q = np.empty(N_STATS)
    omega = np.empty(3)  # Ω̂_yy, Ω̂_yx, Ω̂_xx
    omega_inv = np.empty(3)
    alpha = 1.0 - level
    points = np.empty(3 * GRID)
    accept = np.empty(3 * GRID + 2, dtype=np.bool_)
    roots = np.empty(3 * GRID + 1)
    offsets = np.empty(GRID)
    for j in range(GRID):
        offsets[j] = math.tan(-0.5 * math.pi + math.pi * (j + 0.5) / GRID)
    for r in range(n_reps):
        code = iv_statistics(x[r], z[r], y[r], work, cp, means, szz, a_fs, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        df = n - k - 1.0
        omega[0], omega[1], omega[2] = q[EYY] / df, q[EXY] / df, q[EXX] / df
        det = omega[0] * omega[2] - omega[1] * omega[1]
        if not (det > 0.0):
            write_failure(out, status, r, st.SINGULAR)
            continue
        omega_inv[0], omega_inv[1], omega_inv[2] = omega[2] / det, -omega[1] / det, omega[0] / det
        lr, qt = clr_statistics(1.0, -truth[r], truth[r], 1.0, q, omega, omega_inv)
        p = conditional_p_value(lr, qt, k, nodes, weights, beta_norm)
        center = q[QXY] / q[QXX]
        ssr = q[SYY] - 2.0 * center * q[SXY] + center * center * q[SXX]
        scale = math.sqrt(max(ssr, 0.0) / (n - 2) / q[QXX])
        if not (scale > 0.0):
            scale = 1.0
        natural = math.sqrt(omega[0] / omega[2])
        for j in range(GRID):
            points[j] = center + scale * offsets[j]
            points[GRID + j] = center + 0.1 * scale * offsets[j]
            points[2 * GRID + j] = center + natural * offsets[j]
        points.sort()
        low, high, pieces = clr_set(points, center, scale, q, omega, omega_inv, k, alpha, coarse, coarse_w, nodes,
                                    weights, beta_norm, accept, roots)  # fmt: skip
        out[r, ESTIMATE] = center
        out[r, SE] = np.nan
        out[r, CI_LOW] = low
        out[r, CI_HIGH] = high
        out[r, REJECT] = 1.0 if p < alpha else 0.0
        out[r, LR_STAT] = lr
        out[r, P_VALUE] = p
        out[r, FIRST_F] = q[FSTAT]
        out[r, PIECES] = float(pieces)
        status[r] = st.OK


def _beta_norm(k: int) -> float:
    return float(special.beta(0.5, (k - 1) / 2.0)) if k > 1 else 1.0


def _run_clr(batch, truth, options, level, out, status):
    k = batch["z"].shape[1]
    clr_kernel(
        batch["y"], batch["x"], batch["z"], level, *quadrature(), *quadrature(coarse=True), _beta_norm(k), truth,
        out, status,
    )  # fmt: skip


def reference_clr(y, x, z, beta0):
    """(LR, p-value) from explicit matrices: S and T with (Z'Z)^{-1/2} (symmetric square root), the p-value by
    scipy quad of ∫₀^{π/2} F_{χ²_K}(lr(lr + t)/(lr + t sin²φ)) cos^{K−2}φ dφ, split where sin²φ = lr/t."""
    n, k = z.shape
    zc = z - z.mean(axis=0)
    Y = np.column_stack([y - y.mean(), x - x.mean()])
    zz = zc.T @ zc
    eigval, eigvec = np.linalg.eigh(zz)
    root_inv = eigvec @ np.diag(eigval**-0.5) @ eigvec.T
    resid = Y - zc @ np.linalg.solve(zz, zc.T @ Y)
    omega = resid.T @ resid / (n - k - 1)
    b0, a0 = np.array([1.0, -beta0]), np.array([beta0, 1.0])
    omega_inv = np.linalg.inv(omega)
    s = root_inv @ zc.T @ Y @ b0 / np.sqrt(b0 @ omega @ b0)
    t = root_inv @ zc.T @ Y @ omega_inv @ a0 / np.sqrt(a0 @ omega_inv @ a0)
    qs, qt, qst = s @ s, t @ t, s @ t
    lr = 0.5 * (qs - qt + np.sqrt((qs + qt) ** 2 - 4 * (qs * qt - qst**2)))
    if k == 1:
        return lr, stats.chi2.sf(lr, 1)
    if lr <= 0:
        return lr, 1.0

    def integrand(phi):
        return stats.chi2.cdf(lr * (lr + qt) / (lr + qt * np.sin(phi) ** 2), k) * np.cos(phi) ** (k - 2)

    split = np.arcsin(min(1.0, np.sqrt(lr / qt))) if qt > 0 else np.pi / 4
    value = sum(
        integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        for lo, hi in ((0.0, split), (split, np.pi / 2))
        if hi > lo
    )
    return lr, 1 - 2 * value / special.beta(0.5, (k - 1) / 2)


def scan_p_values(y, x, z, grid):
    """p-values on a grid, vectorised: the statistics from explicit matrices, the φ-form integral by 16-node
    Gauss–Legendre panels graded towards 0 (only to locate crossings; brentq refines with quad)."""
    n, k = z.shape
    zc = z - z.mean(axis=0)
    Y = np.column_stack([y - y.mean(), x - x.mean()])
    fitted = zc @ np.linalg.solve(zc.T @ zc, zc.T @ Y)
    q = fitted.T @ fitted
    omega = (Y - fitted).T @ (Y - fitted) / (n - k - 1)
    omega_inv = np.linalg.inv(omega)
    b = np.stack([np.ones_like(grid), -grid])
    a = np.stack([grid, np.ones_like(grid)])
    w = omega_inv @ a
    qs = np.einsum("ig,ij,jg->g", b, q, b) / np.einsum("ig,ij,jg->g", b, omega, b)
    qt = np.einsum("ig,ij,jg->g", w, q, w) / np.einsum("ig,ig->g", a, w)
    qst = np.einsum("ig,ij,jg->g", b, q, w) / np.sqrt(
        np.einsum("ig,ij,jg->g", b, omega, b) * np.einsum("ig,ig->g", a, w)
    )
    lr = 0.5 * (qs - qt + np.sqrt(np.maximum((qs + qt) ** 2 - 4 * (qs * qt - qst**2), 0)))
    if k == 1:
        return stats.chi2.sf(lr, 1)
    base, base_weights = np.polynomial.legendre.leggauss(16)
    edges = np.concatenate([[0.0], np.pi / 2.0 ** np.arange(15, 0, -1)])  # 0, π/2^15, …, π/4, π/2
    phi = np.concatenate([lo + (base + 1) * (hi - lo) / 2 for lo, hi in zip(edges[:-1], edges[1:])])
    wphi = np.concatenate([base_weights * (hi - lo) / 2 for lo, hi in zip(edges[:-1], edges[1:])])
    s2 = np.sin(phi) ** 2
    values = stats.chi2.cdf(lr[:, None] * (lr[:, None] + qt[:, None]) / (lr[:, None] + qt[:, None] * s2), k)
    integral = (values * np.cos(phi) ** (k - 2) * wphi).sum(axis=1)
    return np.clip(1 - 2 * integral / special.beta(0.5, (k - 1) / 2), 0, 1)


def exact_crossings(gap, grid, inside):
    """Acceptance on the grid with the scan's flags replaced by exact (quad) ones next to every crossing the
    scan found, and the crossings of the exact flags refined by brentq."""
    inside = inside.copy()
    exact = np.zeros(len(grid), dtype=bool)
    while True:  # until both ends of every crossing carry exact flags
        ends = {m for j in np.flatnonzero(inside[1:] != inside[:-1]) for m in (j, j + 1) if not exact[m]}
        if not ends:
            break
        for m in ends:
            inside[m], exact[m] = gap(grid[m]) >= 0, True
    changes = np.flatnonzero(inside[1:] != inside[:-1])
    roots = [optimize.brentq(gap, grid[j], grid[j + 1], xtol=1e-14, rtol=1e-15) for j in changes]
    return inside, changes, roots


def _reference_clr(batch, truth, options, level, out, status):
    """The statistic and p-value from `reference_clr`; the set by a grid in the angle of (1, −β0) and brentq."""
    alpha = 1 - level
    for r in range(batch["y"].shape[0]):
        y, x, z = batch["y"][r], batch["x"][r], batch["z"][r].T
        n, k = z.shape
        zc = z - z.mean(axis=0)
        if np.linalg.matrix_rank(zc) < k:
            write_failure(out, status, r, st.SINGULAR)
            continue
        xc, yc = x - x.mean(), y - y.mean()
        fitted_x = zc @ np.linalg.lstsq(zc, xc, rcond=None)[0]
        if not fitted_x @ fitted_x > 0:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        estimate = (fitted_x @ yc) / (fitted_x @ xc)
        first = (fitted_x @ fitted_x / k) / ((xc - fitted_x) @ (xc - fitted_x) / (n - k - 1))
        lr, p = reference_clr(y, x, z, truth[r])

        def gap(b0):
            return reference_clr(y, x, z, b0)[1] - alpha

        angles = np.linspace(-np.pi / 2, np.pi / 2, 301)[1:-1]
        spread = [np.sqrt(np.var(y) / np.var(x)), abs(estimate) + 1.0]
        grid = np.unique(np.concatenate([estimate + np.tan(angles) * w * f for w in spread for f in (1.0, 0.1, 10.0)]))
        inside, changes, roots = exact_crossings(gap, grid, scan_p_values(y, x, z, grid) >= alpha)
        flags = [bool(inside[0])] + [bool(inside[j + 1]) for j in changes]
        pieces = sum(1 for j, f in enumerate(flags) if f and (j == 0 or not flags[j - 1]))
        if not roots:
            low, high = (-np.inf, np.inf) if inside[0] else (np.inf, -np.inf)
        elif inside[0] and inside[-1] and pieces == 2:
            low, high = roots[-1], roots[0]
        else:
            bounds = [-np.inf, *roots, np.inf]
            accepted = [(bounds[j], bounds[j + 1]) for j, f in enumerate(flags) if f]
            low, high = accepted[0][0], accepted[-1][1]
        out[r, :9] = estimate, np.nan, low, high, float(p < alpha), lr, p, first, pieces
        status[r] = st.OK


ESTIMATORS = (
    Estimator(
        name="clr",
        summary="Moreira's conditional likelihood-ratio test (homoskedastic) with its conditional p-value, "
        "inverted into a confidence set; estimate = 2SLS",
        needs=NEEDS,
        run=_run_clr,
        reference=_reference_clr,
        diagnostics=CLR_DIAGNOSTICS,
    ),
)
