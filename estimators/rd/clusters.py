"""Cluster-robust variances of a weighted local polynomial fit, rdrobust 2.1.1's ``cr1``, ``cr2`` and ``cr3``.

A variance of the ``rd`` kernel or of its bandwidth selector is Σ_g s_g² over the clusters g of one side's window,
for a linear estimate Σ_i c_i y_i (c_i: e_ν'Γ⁻¹ r_i W_i for a fit, e_ν'Γ_p⁻¹ Q_i for the bias-corrected one) whose
variance is adjusted with the leverage of a fit with design rows r_i (k = o + 1 powers), weights W_i, Gram
Γ = Σ W r r' and raw residuals e_i:

``cr1``  s_g = Σ_{i∈g} c_i e_i, the sum scaled by (n−1)/(n−k)·G/(G−1) (n, G: the window's units and clusters;
         NaN with one cluster, as rdrobust);
``cr3``  s_g = c_g'(I − H_gg)⁻¹ e_g with H_gg = R_g Γ⁻¹ R_g' W_g, the cluster's block of the hat matrix
         (Pustejovsky & Tipton 2018's CR3); by Woodbury s_g = Σ c_i e_i + S_g'(Γ − L_g)⁻¹ U_g with
         S_g = Σ_{i∈g} c_i r_i, U_g = Σ_{i∈g} W_i r_i e_i, L_g = Σ_{i∈g} W_i r_i r_i';
``cr2``  s_g = c_g'(I − H_gg)^(−1/2) e_g, the principal inverse square root (with every W_i > 0 it is
         W_g^(−1/2)(I − H̃_gg)^(−1/2)W_g^(1/2) with the symmetric H̃_gg = W_g^(1/2) R_g Γ⁻¹ R_g' W_g^(1/2): Bell &
         McCaffrey 2002's CR2); s_g = Σ c_i e_i + S_g' Λ_g U_g with Λ_g = C f(C' L_g C) C', Γ⁻¹ = C C' (C lower),
         f(σ²) = ((1 − σ²)^(−1/2) − 1)/σ² on the eigenvalues (0 below 1e-14, 1 − σ² floored at 1e-8, as rdrobust);

no small-sample factor for cr2 and cr3 (rdrobust's).  I − H_gg is singular exactly when the units outside g with
positive weight have fewer than k distinct x (Γ − L_g is their Gram): then the variance is undefined (rdrobust
returns a pseudo-inverse's or the floor's arbitrary number) and `clustered_variance` says so.

Where units outside the b-window sit in the h-window (the robust variance with h > b) and a cluster has fewer than
k distinct x in the b-window, rdrobust builds cr2's Λ_g from an eigen-decomposition of the rank-deficient L_g in
powers of x that keeps or drops its numerically null directions by rounding, so its se then moves with the units
of x (``designs(default_rng(1), 1, 400, clusters=40)`` of tests/test_rd_designs.py, h = 0.5, b = 0.3: robust se
0.27349, 0.27356, 0.27360, 0.27336 with x, h, b times 1, 2, 0.5, 10); Λ_g here is the principal root's, the same
at every scale (0.27325).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..inference import cholesky_inplace, cholesky_solve, cr1_factor
from .conventions import CR2, CR3

TINY_EIGEN = 1e-14  # rdrobust: an eigenvalue of C'L_gC below this adds nothing
ONE_MINUS_FLOOR = 1e-8  # rdrobust floors 1 − σ² here


@njit(cache=True, error_model="numpy")
def count_clusters(cl):
    """Distinct ids among cl (ids 0 … G − 1)."""
    if cl.shape[0] == 0:
        return 0
    seen = np.zeros(int(cl.max()) + 1, np.bool_)
    g = 0
    for i in range(cl.shape[0]):
        c = int(cl[i])
        if not seen[c]:
            seen[c] = True
            g += 1
    return g


@njit(cache=True, error_model="numpy")
def cluster_meat(scores, cl, k):
    """CR1: (n−1)/(n−k)·G/(G−1)·Σ_g (Σ_{i∈g} score_i)² (NaN with one cluster, as rdrobust)."""
    sums = np.zeros(int(cl.max()) + 1)
    for i in range(scores.shape[0]):
        sums[int(cl[i])] += scores[i]
    g = count_clusters(cl)
    if g < 2:
        return np.nan
    return cr1_factor(g, scores.shape[0], k) * (sums**2).sum()


@njit(cache=True, error_model="numpy")
def leverage_singular(x, w, cl, k):
    """True when, for some cluster g, the units outside g with w > 0 have fewer than k distinct x (x sorted)."""
    n_ids = int(cl.max()) + 1
    lost = np.zeros(n_ids, np.int64)  # distinct x (w > 0) all of whose units are in one cluster, by cluster
    distinct = 0
    i, n = 0, x.shape[0]
    while i < n:
        j = i
        owner, shared, any_weight = -1, False, False
        while j < n and x[j] == x[i]:
            if w[j] > 0.0:
                c = int(cl[j])
                if not any_weight:
                    owner, any_weight = c, True
                elif c != owner:
                    shared = True
            j += 1
        if any_weight:
            distinct += 1
            if not shared:
                lost[owner] += 1
        i = j
    present = np.zeros(n_ids, np.bool_)
    for i in range(n):
        present[int(cl[i])] = True
    for c in range(n_ids):
        if present[c] and distinct - lost[c] < k:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _cr2_term(chol, lg, s, u, k):
    """S_g'Λ_g U_g = Σ_j f(σ_j²)·(v_j'C'S_g)(v_j'C'U_g), C'L_gC = Σ_j σ_j² v_j v_j' (module docstring)."""
    f = chol.T @ lg @ chol
    f = 0.5 * (f + f.T)
    sigma2, vectors = np.linalg.eigh(f)
    cs = vectors.T @ (chol.T @ s)
    cu = vectors.T @ (chol.T @ u)
    total = 0.0
    for j in range(k):
        e = max(sigma2[j], 0.0)
        if e >= TINY_EIGEN:
            total += (1.0 / math.sqrt(max(1.0 - e, ONE_MINUS_FLOOR)) - 1.0) / e * cs[j] * cu[j]
    return total


@njit(cache=True, error_model="numpy")
def clustered_variance(coef, res, u, w, inv, cl, k, vce):
    """Σ_g s_g² of the module docstring: (ok, value); ok False when a cluster's I − H_gg is singular (cr2, cr3).

    Parameters
    ----------
    coef, res : float64 arrays, shape (n,)
        c_i and the raw residuals e_i of the window's units.
    u, w : float64 arrays, shape (n,)
        The fit's (scaled) running variable, sorted, whose powers 0 … k − 1 are r_i, and its weights W_i.
    inv : float64 array, shape (k, k)
        Γ⁻¹ in the same powers.
    cl : float64 array, shape (n,)
        Cluster ids.
    vce : int
        CR1, CR2 or CR3.
    """
    n = coef.shape[0]
    if vce != CR2 and vce != CR3:
        return True, cluster_meat(coef * res, cl, k)
    if leverage_singular(u, w, cl, k):
        return False, np.nan
    n_ids = int(cl.max()) + 1
    t = np.zeros(n_ids)
    s = np.zeros((n_ids, k))
    uu = np.zeros((n_ids, k))
    lg = np.zeros((n_ids, k, k))
    gram = np.zeros((k, k))
    present = np.zeros(n_ids, np.bool_)
    row = np.empty(k)
    for i in range(n):
        g = int(cl[i])
        present[g] = True
        row[0] = 1.0
        for a in range(1, k):
            row[a] = row[a - 1] * u[i]
        t[g] += coef[i] * res[i]
        for a in range(k):
            s[g, a] += coef[i] * row[a]
            uu[g, a] += w[i] * row[a] * res[i]
            for b in range(k):
                lg[g, a, b] += w[i] * row[a] * row[b]
                gram[a, b] += w[i] * row[a] * row[b]
    chol = inv.copy()  # cr2: Γ⁻¹ = C C', C lower
    if vce == CR2:
        if not cholesky_inplace(chol, k):
            return False, np.nan
        for a in range(k):
            for b in range(a + 1, k):
                chol[a, b] = 0.0
    work = np.empty((k, k))
    solved = np.empty(k)
    total = 0.0
    for g in range(n_ids):
        if not present[g]:
            continue
        if vce == CR3:  # (Γ − L_g)⁻¹ U_g
            for a in range(k):
                solved[a] = uu[g, a]
                for b in range(k):
                    work[a, b] = gram[a, b] - lg[g, a, b]
            if not cholesky_inplace(work, k):
                return False, np.nan
            cholesky_solve(work, solved, k)
            adjust = 0.0
            for a in range(k):
                adjust += s[g, a] * solved[a]
        else:
            adjust = _cr2_term(chol, lg[g], s[g], uu[g], k)
        score = t[g] + adjust
        total += score * score
    return True, total
