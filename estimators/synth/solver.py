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


@njit(cache=True)
def frank_wolfe(a, b, gram, c, x, zeta2, min_decrease, max_iter, ax, g):
    """Frank–Wolfe with exact line search from ``x`` (overwritten by the solution); returns the steps taken.

    Parameters
    ----------
    a : float64 array, shape (m, k)
        A (centred as the caller's intercept requires).
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
    m, k = a.shape
    eta = m * zeta2
    for r in range(m):
        s = 0.0
        for j in range(k):
            s += a[r, j] * x[j]
        ax[r] = s
    for j in range(k):
        s = 0.0
        for l in range(k):
            s += gram[j, l] * x[l]
        g[j] = s - c[j]
    threshold = min_decrease * min_decrease
    previous = math.nan
    current = math.nan
    steps = 0
    while steps < max_iter and (steps < 2 or previous - current > threshold):
        steps += 1
        best = 0
        best_value = g[0] + eta * x[0]
        slope = 0.0  # g'x, the other half of g'd
        xx = 0.0
        for j in range(k):
            h = g[j] + eta * x[j]
            slope += h * x[j]
            xx += x[j] * x[j]
            if h < best_value:
                best_value = h
                best = j
        moves = x[best] != 1.0
        for j in range(k):
            if j != best and x[j] != 0.0:
                moves = True
        if moves:
            d_err = 0.0
            for r in range(m):
                e = a[r, best] - ax[r]
                d_err += e * e
            xi = x[best]
            denominator = d_err + eta * (xx - xi * xi + (1.0 - xi) * (1.0 - xi))
            if denominator > 0.0:
                step = min(1.0, max(0.0, -(best_value - slope) / denominator))
                for j in range(k):
                    x[j] = x[j] - step * x[j] if j != best else x[j] + step * (1.0 - x[j])
                    g[j] = g[j] + step * (gram[j, best] - g[j] - c[j])
                for r in range(m):
                    ax[r] = ax[r] + step * (a[r, best] - ax[r])
        err = 0.0
        for r in range(m):
            e = ax[r] - b[r]
            err += e * e
        xx = 0.0
        for j in range(k):
            xx += x[j] * x[j]
        previous = current
        current = zeta2 * xx + err / m
    return steps


@njit(cache=True)
def two_stage(a, b, gram, c, x, zeta2, min_decrease, ax, g):
    """synthdid_estimate's solve: ≤ 100 steps from ``x``, sparsify, ≤ 10⁴ steps more (``x`` overwritten)."""
    frank_wolfe(a, b, gram, c, x, zeta2, min_decrease, MAX_ITER_PRE_SPARSIFY, ax, g)
    sparsify(x)
    frank_wolfe(a, b, gram, c, x, zeta2, min_decrease, MAX_ITER, ax, g)


@njit(cache=True)
def cross_products(a, b, gram, c):
    """gram = A'A and c = A'b for A of shape (m, k)."""
    m, k = a.shape
    for j in range(k):
        s = 0.0
        for r in range(m):
            s += a[r, j] * b[r]
        c[j] = s
        for l in range(j + 1):
            s = 0.0
            for r in range(m):
                s += a[r, j] * a[r, l]
            gram[j, l] = s
            gram[l, j] = s
