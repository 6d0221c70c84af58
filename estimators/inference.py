"""Small numerical building blocks shared by the kernels.

Numba helpers for k × k symmetric positive definite systems (k is tiny:
a handful of regressors after the fixed effects are swept out), for
writing a replication's Wald interval and test, and the critical values
the Python wrappers compute once per batch.

Confidence sets.  Most estimators report an interval ``[ci_low, ci_high]``.
A test inversion can also give the union of two rays or the empty set
(Anderson–Rubin); the records encode the set
``(-inf, ci_high] ∪ [ci_low, inf)`` by ``ci_low > ci_high``, so the empty
set is ``ci_low = +inf, ci_high = -inf`` and the whole line
``ci_low = -inf, ci_high = +inf``.  `covers` reads both encodings.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numba import njit
from scipy import stats

from . import status as st
from .spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE

# A Cholesky pivot below this share of its diagonal entry means the column
# is (numerically) a linear combination of the earlier ones.
PIVOT_TOLERANCE = 1e-10


@njit(cache=True)
def cholesky_inplace(a, k):
    """Overwrite the lower triangle of ``a[:k, :k]`` with its Cholesky factor.

    Returns False, leaving ``a`` partly overwritten, when the matrix is not
    numerically positive definite (pivot ≤ PIVOT_TOLERANCE · diagonal).
    """
    for j in range(k):
        d = a[j, j]
        for m in range(j):
            d -= a[j, m] * a[j, m]
        if not (d > PIVOT_TOLERANCE * a[j, j]) or not (a[j, j] > 0.0):
            return False
        d = math.sqrt(d)
        a[j, j] = d
        for i in range(j + 1, k):
            s = a[i, j]
            for m in range(j):
                s -= a[i, m] * a[j, m]
            a[i, j] = s / d
    return True


@njit(cache=True)
def cholesky_solve(chol, b, k):
    """Solve ``L L' x = b`` in place for the first k entries of ``b``."""
    for i in range(k):
        s = b[i]
        for m in range(i):
            s -= chol[i, m] * b[m]
        b[i] = s / chol[i, i]
    for i in range(k - 1, -1, -1):
        s = b[i]
        for m in range(i + 1, k):
            s -= chol[m, i] * b[m]
        b[i] = s / chol[i, i]


@njit(cache=True)
def inverse_quadratic_form(a, b, k):
    """b'A⁻¹b for SPD ``a[:k, :k]`` (overwritten by its Cholesky factor); NaN when ``a`` is not positive definite."""
    if not cholesky_inplace(a, k):
        return np.nan
    sol = b[:k].copy()
    cholesky_solve(a, sol, k)
    total = 0.0
    for j in range(k):
        total += b[j] * sol[j]
    return total


@njit(cache=True)
def spd_inverse(a, k, inv):
    """Write the inverse of SPD ``a[:k, :k]`` into ``inv[:k, :k]``.

    ``a`` is overwritten by its Cholesky factor.  Returns False when ``a``
    is not numerically positive definite.
    """
    if not cholesky_inplace(a, k):
        return False
    col = np.empty(k)
    for j in range(k):
        col[:] = 0.0
        col[j] = 1.0
        cholesky_solve(a, col, k)
        for i in range(k):
            inv[i, j] = col[i]
    return True


@njit(cache=True)
def cr1_factor(g, n_obs, k_cr):
    """G/(G − 1)·(N − 1)/(N − K): CR1's scaling of the sum of squared cluster scores."""
    return g / (g - 1.0) * (n_obs - 1.0) / (n_obs - k_cr)


@njit(cache=True)
def write_failure(out, status, r, code):
    """Mark replication r as failed: NaN numbers and a status code."""
    out[r, :] = np.nan
    status[r] = code


@njit(cache=True)
def write_point(out, status, r, estimate):
    """Write a point estimate alone (no variance asked for): se, interval and test NaN, status ok."""
    out[r, :] = np.nan
    out[r, ESTIMATE] = estimate
    status[r] = st.OK


@njit(cache=True)
def write_wald(out, status, r, estimate, se, crit, truth):
    """Write estimate ± crit·se and the test of H0: θ = truth for replication r (NaN without a truth)."""
    if not (se > 0.0) or not math.isfinite(se):
        write_failure(out, status, r, st.NO_VARIATION)
        return
    out[r, ESTIMATE] = estimate
    out[r, SE] = se
    out[r, CI_LOW] = estimate - crit * se
    out[r, CI_HIGH] = estimate + crit * se
    out[r, REJECT] = (1.0 if abs(estimate - truth) > crit * se else 0.0) if math.isfinite(truth) else math.nan
    status[r] = st.OK


def write_t_intervals(out, status, truth, level, dof):
    """Intervals and tests with a t(ν) critical value that varies by replication.

    For the rows with status ``ok``, whose estimate and se the kernel wrote:
    estimate ± t_{ν, 1−α/2}·se and the test of H0: θ = truth.  ν = inf gives
    the normal critical value.  Vectorised: scipy's quantile is not compiled.
    """
    ok = status == st.OK
    crit = stats.t.ppf(0.5 + level / 2.0, dof[ok])
    estimate, se = out[ok, ESTIMATE], out[ok, SE]
    out[ok, CI_LOW] = estimate - crit * se
    out[ok, CI_HIGH] = estimate + crit * se
    rejects = (np.abs(estimate - truth[ok]) > crit * se).astype(np.float64)
    out[ok, REJECT] = np.where(np.isfinite(truth[ok]), rejects, np.nan)


@cache
def t_critical_table(level: float, max_df: int) -> np.ndarray:
    """t critical values indexed by degrees of freedom 0..max_df (index 0 is NaN)."""
    table = np.full(max_df + 1, np.nan)
    table[1:] = stats.t.ppf(0.5 + level / 2.0, np.arange(1, max_df + 1))
    table.setflags(write=False)
    return table


# Critical values are cached: scipy's ppf costs ~50 µs a call and the
# wrappers ask once per sub-batch with the same arguments.
@cache
def t_critical(level: float, df: float) -> float:
    """Two-sided Student-t critical value for confidence `level` on `df` degrees of freedom."""
    if df <= 0:
        return math.nan
    return float(stats.t.ppf(0.5 + level / 2.0, df))


@cache
def normal_critical(level: float) -> float:
    """Two-sided standard-normal critical value for confidence `level`."""
    return float(stats.norm.ppf(0.5 + level / 2.0))


@cache
def f_critical(level: float, df_num: float, df_den: float) -> float:
    """Upper (1 − α) quantile of F(df_num, df_den), α = 1 − level."""
    if df_num <= 0 or df_den <= 0:
        return math.nan
    return float(stats.f.ppf(level, df_num, df_den))


def covers(ci_low, ci_high, value):
    """Whether each confidence set contains `value` (arrays broadcast).

    Reads the encoding of the module docstring: ``ci_low <= ci_high`` is the
    interval between them; ``ci_low > ci_high`` is the union of the rays
    ``(-inf, ci_high]`` and ``[ci_low, inf)``.  NaN bounds never cover.
    """
    ci_low, ci_high, value = np.broadcast_arrays(ci_low, ci_high, value)
    interval = ci_low <= ci_high
    inside = (ci_low <= value) & (value <= ci_high)
    in_rays = (value <= ci_high) | (value >= ci_low)
    return np.where(interval, inside, in_rays & (ci_low > ci_high))


def set_width(ci_low, ci_high):
    """Length of each confidence set in the encoding of `covers`.

    An interval has length ci_high − ci_low (infinite if a bound is); two
    rays have infinite length; the empty set (ci_low = +inf, ci_high = -inf)
    has length 0.
    """
    ci_low, ci_high = np.broadcast_arrays(np.asarray(ci_low, float), np.asarray(ci_high, float))
    with np.errstate(invalid="ignore"):
        width = ci_high - ci_low
    empty = (ci_low == np.inf) & (ci_high == -np.inf)
    return np.where(empty, 0.0, np.where(ci_low > ci_high, np.inf, width))


def positive_definite(a: np.ndarray) -> bool:
    """Twins' test of the kernels' pivot rule (`cholesky_inplace`): every Cholesky pivot above PIVOT_TOLERANCE of
    its diagonal."""
    a, diagonal = a.copy(), np.diag(a).copy()
    for j in range(a.shape[0]):
        if not (a[j, j] > PIVOT_TOLERANCE * diagonal[j] and diagonal[j] > 0):
            return False
        a[j:, j] /= np.sqrt(a[j, j])
        a[j + 1 :, j + 1 :] -= np.outer(a[j + 1 :, j], a[j + 1 :, j])
    return True
