"""Frank–Wolfe on the unit simplex for synthdid's unit and time weights, in Gram form.

synthdid 0.0.9 (``R/solver.R``, ``sc.weight.fw``) finds weights x on the
simplex minimising

    f(x) = (‖A x − b‖² + η‖x‖²) / m,     A: m × k,  η = m·ζ²,

by Frank–Wolfe steps with an exact line search, from a starting x:

    g = A'(A x − b) + η x        (half the gradient; R's ``half.grad``)
    i = argmin g                 (the first minimiser, as R's ``which.min``)
    d = e_i − x                  (no step when x = e_i)
    s = clamp(−g'd / (‖A_i − A x‖² + η‖d‖²), 0, 1),   x ← x + s·d

stopping after ``max_iter`` steps, or once two successive values of f
(ζ²‖x‖² + ‖A x − b‖²/m after each step) decrease by no more than
``min_decrease²`` (at least two steps).  R recomputes A x and A'(A x − b)
at every step, O(m·k); here they are carried along the steps instead,

    A x ← A x + s·(A_i − A x),     A'(A x − b) ← (1 − s)·A'(A x − b) + s·(G_i − A'b),

with G = A'A computed once per solve (or taken from a Gram matrix shared by
every resample of a replication), so a step costs O(m + k).  The iterates
are R's up to rounding; the tests hold them to synthdid-py (R's port) to
1e-8.  One deviation, as synthdid-py: where the line search's denominator
is zero (a constant panel, ζ = 0) the step is skipped instead of R's NaN.

`two_stage` is synthdid_estimate's use of it: at most
``MAX_ITER_PRE_SPARSIFY`` steps, then `sparsify` (weights ≤ max/4 set to 0,
renormalised) and at most ``MAX_ITER`` further steps from there.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..moments import FAST

MAX_ITER = 10_000  # synthdid_estimate's max.iter
MAX_ITER_PRE_SPARSIFY = 100  # its max.iter.pre.sparsify
MIN_DECREASE_FACTOR = 1e-5  # min.decrease = 1e-5 · noise level
ETA_LAMBDA = 1e-6  # eta.lambda: ζ_λ = 1e-6 · noise level
ETA_SC = 1e-6  # sc_estimate's eta.omega (and the paper's DIFP's)


@njit(cache=True)
def noise_level(y, rows, n0, t0):
    """synthdid's noise level: the sample sd (n − 1) of the first differences y[j, t+1] − y[j, t] over the control
    rows ``rows[:n0]`` and the pre-periods t + 1 < t0; NaN with fewer than two differences."""
    count = n0 * (t0 - 1)
    if count < 2:
        return math.nan
    mean = 0.0
    for j in range(n0):
        for t in range(t0 - 1):
            mean += y[rows[j], t + 1] - y[rows[j], t]
    mean /= count
    ss = 0.0
    for j in range(n0):
        for t in range(t0 - 1):
            d = y[rows[j], t + 1] - y[rows[j], t] - mean
            ss += d * d
    return math.sqrt(ss / (count - 1))


@njit(cache=True)
def sparsify(x):
    """R's sparsify_function, in place: x_j ≤ max(x)/4 set to 0, then x / Σx."""
    k = x.shape[0]
    top = x[0]
    for j in range(1, k):
        top = max(top, x[j])
    total = 0.0
    for j in range(k):
        if x[j] <= top / 4.0:
            x[j] = 0.0
        total += x[j]
    for j in range(k):
        x[j] /= total


@njit(cache=True)
def sum_normalize(x):
    """R's sum_normalize, in place: x / Σx, or uniform weights when Σx = 0."""
    k = x.shape[0]
    total = 0.0
    for j in range(k):
        total += x[j]
    for j in range(k):
        x[j] = x[j] / total if total != 0.0 else 1.0 / k


@njit(cache=True, fastmath=FAST)
def frank_wolfe(at, b, gram, c, x, zeta2, min_decrease, max_iter, ax, g):
    """Frank–Wolfe with exact line search from ``x`` (overwritten by the solution); returns the steps taken.

    Parameters
    ----------
    at : float64 array, shape (k, m)
        A' (A centred as the caller's intercept requires), so that the
        column A_i a step moves towards is a contiguous row.
    b : float64 array, shape (m,)
    gram : float64 array, shape (k, k)
        G = A'A.
    c : float64 array, shape (k,)
        A'b.
    x : float64 array, shape (k,)
        Starting weights on the simplex; the solution on return.
    zeta2 : float
        ζ²; η = m·ζ².
    min_decrease, max_iter : float, int
        The stopping rule of the module docstring.
    ax, g : float64 arrays, shapes (m,) and (k,)
        Work space: A x and A'(A x − b).
    """
    k, m = at.shape
    eta = m * zeta2
    ax[:] = 0.0
    for j in range(k):
        for r in range(m):
            ax[r] += at[j, r] * x[j]
    err = 0.0
    for r in range(m):
        err += (ax[r] - b[r]) * (ax[r] - b[r])
    best = 0
    best_value = math.inf
    gx = 0.0  # g'x
    xx = 0.0  # x'x
    for j in range(k):
        s = 0.0
        for l in range(k):
            s += gram[j, l] * x[l]
        g[j] = s - c[j]
        gx += g[j] * x[j]
        xx += x[j] * x[j]
        if g[j] + eta * x[j] < best_value:
            best_value = g[j] + eta * x[j]
            best = j
    threshold = min_decrease * min_decrease
    previous = math.nan
    current = math.nan
    steps = 0
    while steps < max_iter and (steps < 2 or previous - current > threshold):
        steps += 1
        xi = x[best]
        moves = xi != 1.0
        if not moves:  # R's all(d.x == 0): x is the vertex e_best
            for j in range(k):
                moves = moves or (j != best and x[j] != 0.0)
        if moves:
            d_err = 0.0
            for r in range(m):
                e = at[best, r] - ax[r]
                d_err += e * e
            denominator = d_err + eta * (xx - xi * xi + (1.0 - xi) * (1.0 - xi))
            if denominator > 0.0:
                step = min(1.0, max(0.0, -(best_value - gx - eta * xx) / denominator))
                err = 0.0
                for r in range(m):
                    ax[r] = ax[r] + step * (at[best, r] - ax[r])
                    err += (ax[r] - b[r]) * (ax[r] - b[r])
                # One pass: the step on x and g, and for the next step g'x, x'x and argmin (g + ηx).
                toward = best
                best_value = math.inf
                gx = 0.0
                xx = 0.0
                for j in range(k):
                    xj = xi + step * (1.0 - xi) if j == toward else x[j] - step * x[j]
                    gj = g[j] + step * (gram[toward, j] - g[j] - c[j])
                    x[j] = xj
                    g[j] = gj
                    gx += gj * xj
                    xx += xj * xj
                    if gj + eta * xj < best_value:
                        best_value = gj + eta * xj
                        best = j
        previous = current
        current = zeta2 * xx + err / m
    return steps


@njit(cache=True)
def two_stage(at, b, gram, c, x, zeta2, min_decrease, ax, g):
    """synthdid_estimate's solve: ≤ 100 steps from ``x``, sparsify, ≤ 10⁴ steps more (``x`` overwritten)."""
    frank_wolfe(at, b, gram, c, x, zeta2, min_decrease, MAX_ITER_PRE_SPARSIFY, ax, g)
    sparsify(x)
    frank_wolfe(at, b, gram, c, x, zeta2, min_decrease, MAX_ITER, ax, g)


@njit(cache=True, fastmath=FAST)
def gram_of(at):
    """G = A'A from A' (k × m): the inner products of its rows."""
    k, m = at.shape
    gram = np.empty((k, k))
    for j in range(k):
        for l in range(j + 1):
            s = 0.0
            for r in range(m):
                s += at[j, r] * at[l, r]
            gram[j, l] = s
            gram[l, j] = s
    return gram


@njit(cache=True, fastmath=FAST)
def times(at, b):
    """A'b from A' (k × m) and b (m,)."""
    k, m = at.shape
    c = np.empty(k)
    for j in range(k):
        s = 0.0
        for r in range(m):
            s += at[j, r] * b[r]
        c[j] = s
    return c
