"""Nearest neighbours with every tie kept, for matching estimators.

A unit's k nearest units of a group, and every unit at exactly the k-th
distance: on one sorted coordinate (one covariate, or the propensity
score) by two pointers walking outwards from the unit, O(log n + k); on
several covariates by brute force over the group with a quadratic-form
metric (`metric_matrix`: inverse variances or Mahalanobis), O(n p), never
forming an n × n matrix.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..inference import spd_inverse


@njit(cache=True)
def nearest_sorted(vals, idx, cnt, x, k, exclude, out):
    """The k units nearest to x among a group sorted by value, with every unit tied with the k-th.

    ``vals[:cnt]`` ascending, ``idx`` their unit numbers; unit `exclude`
    (-1: none) is skipped.  Writes the units into `out`, returns how many.
    Two pointers walk outwards from x, so distances come in increasing
    order and a tie is an exact equality of ``|x − v|``.
    """
    right = np.searchsorted(vals[:cnt], x)  # first value >= x; values left of it are < x
    left = right - 1
    taken = 0
    kth = 0.0
    while True:
        if left >= 0 and idx[left] == exclude:
            left -= 1
            continue
        if right < cnt and idx[right] == exclude:
            right += 1
            continue
        dl = x - vals[left] if left >= 0 else np.inf
        dr = vals[right] - x if right < cnt else np.inf
        if dl == np.inf and dr == np.inf:
            break
        dist = dl if dl <= dr else dr
        if taken >= k and dist > kth:
            break
        kth = dist
        if dl <= dr:
            out[taken] = idx[left]
            left -= 1
        else:
            out[taken] = idx[right]
            right += 1
        taken += 1
    return taken


@njit(cache=True)
def metric_matrix(cov, diagonal, weight, scatter, mean):
    """The metric A of the distance Δ'AΔ: the inverse sample variances on the diagonal (`diagonal`, Abadie–Imbens)
    or the inverse sample covariance matrix S⁻¹ (Mahalanobis), S with divisor n − 1.  False when a variance is
    0 or S is singular.

    Parameters
    ----------
    cov : float64 array, shape (p, n)
    weight : float64 array, shape (p, p)
        Out: A.
    scatter, mean : float64 arrays, shapes (p, p) and (p,)
        Scratch (S and the means).
    """
    p, n = cov.shape
    for a in range(p):
        s = 0.0
        for i in range(n):
            s += cov[a, i]
        mean[a] = s / n
    for a in range(p):
        for b in range(a + 1):
            s = 0.0
            for i in range(n):
                s += (cov[a, i] - mean[a]) * (cov[b, i] - mean[b])
            scatter[a, b] = s / (n - 1)
            scatter[b, a] = scatter[a, b]
    if not diagonal:
        return spd_inverse(scatter, p, weight)
    weight[:, :] = 0.0
    for a in range(p):
        if not (scatter[a, a] > 0.0):
            return False
        weight[a, a] = 1.0 / scatter[a, a]
    return True


@njit(cache=True)
def kth_smallest(values, m, k):
    """The k-th smallest of ``values[:m]`` (k ≤ m), by a sorted buffer of the k smallest: O(m·k), no allocation
    beyond the k-buffer (k, the number of matches, is small)."""
    best = np.empty(k)
    filled = 0
    for a in range(m):
        v = values[a]
        if filled == k and v >= best[k - 1]:
            continue
        slot = filled if filled < k else k - 1
        while slot > 0 and best[slot - 1] > v:
            best[slot] = best[slot - 1]
            slot -= 1
        best[slot] = v
        if filled < k:
            filled += 1
    return best[k - 1]


@njit(cache=True)
def nearest_brute(cov, block, weight, diagonal, members, cnt, i, k, exclude, dist, out):
    """The k units of `members[:cnt]` nearest to unit i, with every unit tied with the k-th (brute force).

    The distance is Δ'AΔ with Δ = x_j − x_i and A = `weight` (only its diagonal when `diagonal`), summed
    term by term over (a, b) in row-major order whatever the data, so equal Δ give equal distances and ties
    stay exact.  ``block[:, a]`` holds the covariates of ``members[a]``, contiguous, so each term is one
    vectorised pass over the group.
    """
    p = cov.shape[0]
    dist[:cnt] = 0.0
    for a in range(p):
        row_a = block[a]
        x_a = cov[a, i]
        if diagonal:
            w = weight[a, a]
            for j in range(cnt):
                da = row_a[j] - x_a
                dist[j] += w * da * da
        else:
            for b in range(p):
                row_b = block[b]
                x_b = cov[b, i]
                w = weight[a, b]
                for j in range(cnt):
                    dist[j] += w * (row_a[j] - x_a) * (row_b[j] - x_b)
    for j in range(cnt):
        if members[j] == exclude:
            dist[j] = np.inf
    kth = kth_smallest(dist, cnt, k)
    taken = 0
    for j in range(cnt):
        if dist[j] <= kth and members[j] != exclude:
            out[taken] = members[j]
            taken += 1
    return taken


@njit(cache=True)
def nearest(one_d, search, i, group, k, exclude, out):
    """Unit i's k nearest units of treatment `group` (ties kept), written to `out`; returns how many.

    ``search = (point, vals, idx, counts, cov, block, weight, diagonal, dist)``: the sorted search on `point`
    when `one_d`, else brute force on `cov` with the metric `weight`, `block[group]` holding the group's
    covariates in the order of ``idx[group]``.
    """
    point, vals, idx, counts, cov, block, weight, diagonal, dist = search
    if one_d:
        return nearest_sorted(vals[group], idx[group], counts[group], point[i], k, exclude, out)
    return nearest_brute(cov, block[group], weight, diagonal, idx[group], counts[group], i, k, exclude, dist, out)
