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
at every step, O(m·k); here only u = A'(A x − b) (g without ηx) is
carried,

    u ← (1 − s)·u + s·(G_i − c),     G = A'A,  c = A'b,

with G computed once per solve (or taken from a Gram matrix shared by
every resample of a replication), and the line search's scalars from G:

    ‖A_i − A x‖² = G_ii − 2(G x)_i + x'G x,     G x = u + c,  x'G x = u'x + c'x,

so a step is one pass over x and u, O(k) whatever m.  ‖A x − b‖² is
x'G x − 2c'x + b'b at the start and then moves by its change at each step,
2s·(u_i − u'x) + s²‖A_i − A x‖²: the stopping rule compares successive
values, and the change is rounded as small as it is, where the identity
afresh at every step rounds to about 1e-16·b'b (tried: it moved 2 of
2,400 placebo draws on the benchmark's panels by up to 5e-7 from
synthdid-py's).  The iterates are R's up to
rounding; the tests hold them to synthdid-py (R's port) to 1e-8.  One
deviation, as synthdid-py: where the line search's denominator is zero (a
constant panel, ζ = 0) the step is skipped instead of R's NaN.

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
def frank_wolfe(gram, c, bb, m, x, zeta2, min_decrease, max_iter, g):
    """Frank–Wolfe with exact line search from ``x`` (overwritten by the solution); returns the steps taken.

    Parameters
    ----------
    gram : float64 array, shape (k, k)
        G = A'A (A: m × k, centred as the caller's intercept requires).
    c : float64 array, shape (k,)
        A'b.
    bb : float
        b'b.
    m : int
        The rows of A; η = m·ζ².
    x : float64 array, shape (k,)
        Starting weights on the simplex; the solution on return.
    zeta2 : float
        ζ².
    min_decrease, max_iter : float, int
        The stopping rule of the module docstring.
    g : float64 array, shape (k,)
        Work space: u = A'(A x − b).
    """
    k = x.shape[0]
    eta = m * zeta2
    gx = 0.0  # u'x (u in g)
    xx = 0.0  # x'x
    cx = 0.0  # c'x
    for j in range(k):
        s = 0.0
        for l in range(k):
            s += gram[j, l] * x[l]
        g[j] = s - c[j]
        gx += g[j] * x[j]
        xx += x[j] * x[j]
        cx += c[j] * x[j]
    best, best_value = first_argmin(g, x, eta)
    err = gx - cx + bb  # ‖A x − b‖² = x'G x − 2c'x + b'b, with G x = u + c
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
            # ‖A_i − A x‖² = G_ii − 2(G x)_i + x'G x
            d_err = gram[best, best] - 2.0 * (g[best] + c[best]) + gx + cx
            denominator = d_err + eta * (xx - xi * xi + (1.0 - xi) * (1.0 - xi))
            if denominator > 0.0:
                step = min(1.0, max(0.0, -(best_value - gx - eta * xx) / denominator))
                # ‖A x − b‖² moves by 2s·(u_i − u'x) + s²‖A_i − A x‖² (the module docstring: why by its change)
                err += step * (2.0 * (g[best] - gx) + step * d_err)
                # The step on x and g, with g'x, x'x and c'x for the next step: a loop LLVM vectorises ...
                toward = best
                gx = 0.0
                xx = 0.0
                cx = 0.0
                for j in range(k):
                    xj = xi + step * (1.0 - xi) if j == toward else x[j] - step * x[j]
                    gj = g[j] + step * (gram[toward, j] - g[j] - c[j])
                    x[j] = xj
                    g[j] = gj
                    gx += gj * xj
                    xx += xj * xj
                    cx += c[j] * xj
                # ... and the next vertex apart: a comparison in the loop above would keep it scalar.
                best, best_value = first_argmin(g, x, eta)
        previous = current
        current = zeta2 * xx + err / m
    return steps


@njit(cache=True, inline="always")
def first_argmin(g, x, eta):
    """(i, min_j g_j + η·x_j) with i the first minimiser (R's ``which.min``); (0, inf) when none is below inf.

    Four running minima, over j ≡ 0, 1, 2, 3 (mod 4), merged by value then
    index: four short chains of comparisons instead of one long one (a step
    waits on its vertex).
    """
    k = g.shape[0]
    v0 = v1 = v2 = v3 = math.inf
    i0 = i1 = i2 = i3 = 0
    j = 0
    while j + 4 <= k:
        a0 = g[j] + eta * x[j]
        a1 = g[j + 1] + eta * x[j + 1]
        a2 = g[j + 2] + eta * x[j + 2]
        a3 = g[j + 3] + eta * x[j + 3]
        if a0 < v0:
            v0, i0 = a0, j
        if a1 < v1:
            v1, i1 = a1, j + 1
        if a2 < v2:
            v2, i2 = a2, j + 2
        if a3 < v3:
            v3, i3 = a3, j + 3
        j += 4
    while j < k:
        a0 = g[j] + eta * x[j]
        if a0 < v0:
            v0, i0 = a0, j
        j += 1
    best, best_value = i0, v0
    if v1 < best_value or (v1 == best_value and i1 < best):
        best, best_value = i1, v1
    if v2 < best_value or (v2 == best_value and i2 < best):
        best, best_value = i2, v2
    if v3 < best_value or (v3 == best_value and i3 < best):
        best, best_value = i3, v3
    return best, best_value


@njit(cache=True)
def two_stage(gram, c, bb, m, x, zeta2, min_decrease):
    """synthdid_estimate's solve: ≤ 100 steps from ``x``, sparsify, ≤ 10⁴ steps more (``x`` overwritten)."""
    g = np.empty(x.shape[0])
    frank_wolfe(gram, c, bb, m, x, zeta2, min_decrease, MAX_ITER_PRE_SPARSIFY, g)
    sparsify(x)
    frank_wolfe(gram, c, bb, m, x, zeta2, min_decrease, MAX_ITER, g)


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
