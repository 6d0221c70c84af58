"""CR2 cluster-robust Wald tests with the HTZ small-sample correction (Pustejovsky & Tipton 2018).

For the regression of u on W = [1, Z] (n × p, p = K + 1) with clusters
g = 1 … G and the K instrument coefficients tested (C selects them):

- CR2 adjustment (Bell & McCaffrey 2002): A_g = (I − H_gg)^(−1/2), the
  symmetric inverse square root of the cluster's block of I − H,
  H = W(W'W)⁻¹W' (eigenvalues ≤ 1e-12 dropped, as clubSandwich does).
- With the intercept partialled out (Z̃ the centred instruments,
  S = Z̃'Z̃), the tested coefficients' CR2 covariance is
  V = S⁻¹ Ω S⁻¹, Ω = Σ_g s_g s_g', s_g = Ĝ_g e_g, Ĝ_g = Z̃_g' A_g (K × n_g),
  e the OLS residuals; the Wald statistic is Q = b' V⁻¹ b = g'Ω⁻¹g with
  g = Z̃'u.  No further small-sample factor.
- HTZ (Tipton & Pustejovsky 2015; clubSandwich ``Wald_test(test = "HTZ")``
  with the identity working model): approximate C V C' by a Wishart with
  ν degrees of freedom,
  ν = K(K + 1) / Σ_{g,h} [tr((P_gh U)²) + tr(P_gh U)²],
  P_gh = δ_gh Ĝ_gĜ_g' − τ_g τ_h',  U = (Σ_g P_gg)⁻¹,
  τ_g = [Ĝ_g 1 / √n,  Ĝ_g Z̃_g L] with L L' = S⁻¹ (so that
  τ_g τ_h' = Ĝ_g H_gh Ĝ_h', the hat matrix's (g, h) block between them).
  (clubSandwich's B = Ω^(−1/2) P Ω^(−1/2) on the S⁻¹-scaled matrices has
  the same traces.)  The test: F = (ν − K + 1)/ν · Q/K against
  F(K, ν − K + 1).

ν depends on the instruments and clusters only, never on the outcome, so
the Anderson–Rubin confidence set inverts Q(β0) ≤ K·ν/(ν − K + 1)·F-crit
exactly as the CR1 set does (`anderson_rubin`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .common import count_groups, traces

EIGEN_TOLERANCE = 1e-12  # clubSandwich's matrix_power: eigenvalues at or below 10^-12 count as 0


@njit(cache=True)
def cluster_members(groups, n_groups, start, order):
    """Counting sort of observations by cluster: cluster g's are order[start[g]:start[g + 1]]."""
    n = groups.shape[0]
    start[: n_groups + 1] = 0
    for i in range(n):
        start[int(groups[i]) + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    fill = start[:n_groups].copy()
    for i in range(n):
        g = int(groups[i])
        order[fill[g]] = i
        fill[g] += 1


@njit(cache=True)
def cr2_weights(zc, s_inv, groups, n_groups, g_hat):
    """Ĝ (K × n, column i = Ĝ_g's column for observation i) and the HTZ degrees of freedom ν.

    Parameters
    ----------
    zc : float64 array, shape (K, n)
        Centred instruments Z̃.
    s_inv : float64 array, shape (K, K)
        S⁻¹ = (Z̃'Z̃)⁻¹.
    groups : float64 array, shape (n,)
        Cluster ids 0 … n_groups − 1.
    g_hat : float64 array, shape (K, n)
        Output.

    Returns
    -------
    nu : float
        NaN when Σ_g P_gg is singular.
    """
    k, n = zc.shape
    p = k + 1
    start = np.empty(n_groups + 1, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    cluster_members(groups, n_groups, start, order)
    # L with L L' = S⁻¹ (lower Cholesky factor).
    chol = np.linalg.cholesky(s_inv)
    tau = np.zeros((n_groups, k, p))
    gram = np.zeros((n_groups, k, k))  # Ĝ_g Ĝ_g'
    root_n = math.sqrt(n)
    for g in range(n_groups):
        size = start[g + 1] - start[g]
        if size == 0:
            continue
        members = order[start[g] : start[g + 1]]
        block = np.empty((size, size))
        for a in range(size):
            ia = members[a]
            for b in range(size):
                ib = members[b]
                h = 1.0 / n
                for j in range(k):
                    for m in range(k):
                        h += zc[j, ia] * s_inv[j, m] * zc[m, ib]
                block[a, b] = (1.0 if a == b else 0.0) - h
        values, vectors = np.linalg.eigh(block)
        for a in range(size):  # a generalised inverse square root, as clubSandwich's matrix_power
            values[a] = 1.0 / math.sqrt(values[a]) if values[a] > EIGEN_TOLERANCE else 0.0
        adjust = (vectors * values) @ vectors.T  # A_g
        for j in range(k):
            for b in range(size):
                total = 0.0
                for a in range(size):
                    total += zc[j, members[a]] * adjust[a, b]
                g_hat[j, members[b]] = total
        # τ_g's first column Ĝ_g 1/√n, and Ĝ_g Ĝ_g' (the rest of τ_g: `htz_nu`).
        for j in range(k):
            ones = 0.0
            for b in range(size):
                ones += g_hat[j, members[b]]
            tau[g, j, 0] = ones / root_n
            for m in range(k):
                gg = 0.0
                for b in range(size):
                    gg += g_hat[j, members[b]] * g_hat[m, members[b]]
                gram[g, j, m] = gg
    return htz_nu(gram, tau, zc, g_hat, chol, start, order, n_groups)


@njit(cache=True)
def htz_nu(gram, tau, zc, g_hat, chol, start, order, n_groups):
    """ν = K(K + 1) / Σ_{g,h}[tr((P_gh U)²) + tr(P_gh U)²] (module docstring); fills τ_g's Ĝ_g Z̃_g L part."""
    k = gram.shape[1]
    p = k + 1
    # τ_g's instrument part exactly: (Ĝ_g Z̃_g) L.
    for g in range(n_groups):
        gz = np.zeros((k, k))
        for b in range(start[g], start[g + 1]):
            i = order[b]
            for j in range(k):
                for m in range(k):
                    gz[j, m] += g_hat[j, i] * zc[m, i]
        prod = gz @ chol
        for j in range(k):
            for c in range(k):
                tau[g, j, 1 + c] = prod[j, c]
    omega = np.zeros((k, k))
    for g in range(n_groups):
        omega += gram[g] - tau[g] @ tau[g].T
    # U = Ω̂⁻¹ (symmetric positive definite when the test is defined)
    values, vectors = np.linalg.eigh(omega)
    if values[0] <= 0.0:
        return math.nan
    u = (vectors / values) @ vectors.T
    # Σ over pairs: P_gh U = δ_gh N_g U − τ_g (τ_h' U).
    tau_u = np.empty((n_groups, p, k))
    for h in range(n_groups):
        tau_u[h] = tau[h].T @ u
    total = 0.0
    for g in range(n_groups):
        for h in range(n_groups):
            x = -(tau[g] @ tau_u[h])
            if g == h:
                x += gram[g] @ u
            trace, square = traces(x, k)
            total += square + trace * trace
    return k * (k + 1.0) / total


def _inverse_sqrt(values, vectors):
    """The symmetric generalised inverse square root from an eigendecomposition (clubSandwich's matrix_power)."""
    keep = values > EIGEN_TOLERANCE
    powered = np.zeros_like(values)
    powered[keep] = values[keep] ** -0.5
    return vectors @ np.diag(powered) @ vectors.T


def reference_adjustments(Z, groups):
    """Per cluster label: (its observations, A_g = (I − H_gg)^(−1/2)) with H the hat matrix of Z (plain numpy)."""
    hat = Z @ np.linalg.inv(Z.T @ Z) @ Z.T
    out = {}
    for label in np.unique(groups):
        idx = np.flatnonzero(groups == label)
        values, vectors = np.linalg.eigh(np.eye(len(idx)) - hat[np.ix_(idx, idx)])
        out[label] = idx, _inverse_sqrt(values, vectors)
    return out


def reference_cr2_htz(u, Z, groups):
    """Plain numpy CR2 Wald test that the instruments' coefficients are 0, with the HTZ correction.

    Follows clubSandwich's construction literally: W = [1, Z], the full hat
    matrix, A_g by eigendecomposition, V^CR2 = M Σ_g W_g'A_g e_g e_g'A_g W_g M,
    G_g = C M W_g' A_g, H_g = C M W_g' A_g W_g chol(M)', P_gh = δ_gh G_g G_g' − H_g H_h',
    B = Ω^(−1/2) P Ω^(−1/2) and ν = K(K + 1)/Σ_{s,t} Var_st.

    Parameters
    ----------
    u : (n,) outcome, Z : (n, K + 1) with the intercept first, groups : (n,) cluster labels.

    Returns
    -------
    (F, ν, Q): F = (ν − K + 1)/ν · Q/K.
    """
    n, p = Z.shape
    k = p - 1
    m = np.linalg.inv(Z.T @ Z)
    beta = m @ Z.T @ u
    resid = u - Z @ beta
    c = np.eye(p)[1:]
    meat = np.zeros((p, p))
    g_list, h_list = [], []
    lower = np.linalg.cholesky(m)  # M = L L'; clubSandwich's t(chol(M)) is this L
    adjustments = reference_adjustments(Z, groups)
    for idx, adjust in adjustments.values():
        score = Z[idx].T @ adjust @ resid[idx]
        meat += np.outer(score, score)
        g_list.append(c @ m @ Z[idx].T @ adjust)
        h_list.append(c @ m @ Z[idx].T @ adjust @ Z[idx] @ lower)
    cov = m @ meat @ m
    b = c @ beta
    q_stat = b @ np.linalg.solve(c @ cov @ c.T, b)
    groups_count = len(adjustments)
    pa = np.empty((k, k, groups_count, groups_count))
    for gi in range(groups_count):
        for hi in range(groups_count):
            block = -h_list[gi] @ h_list[hi].T
            if gi == hi:
                block = block + g_list[gi] @ g_list[gi].T
            pa[:, :, gi, hi] = block
    omega = np.einsum("stgg->st", pa)
    nsqrt = _inverse_sqrt(*np.linalg.eigh(omega))
    bjk = np.einsum("as,stgh,tb->abgh", nsqrt, pa, nsqrt)
    var = np.empty((k, k))
    for s in range(k):
        for t in range(k):
            var[s, t] = np.sum(bjk[s, t] * bjk[t, s]) + np.sum(bjk[s, s] * bjk[t, t])
    nu = k * (k + 1) / var.sum()
    return (nu - k + 1) / nu * q_stat / k, nu, q_stat


@njit(cache=True)
def cr2_batch(z, groups, g_hat, nu):
    """`cr2_weights` for every replication: z (R, K, n), groups (R, n) → g_hat (R, K, n), nu (R,).

    ν is NaN where the test is not defined (collinear instruments, fewer
    than two clusters): the kernel reports those replications' statuses.
    """
    n_reps, k, n = z.shape
    zc = np.empty((k, n))
    for r in range(n_reps):
        n_groups = count_groups(groups[r])
        for j in range(k):
            mean = 0.0
            for i in range(n):
                mean += z[r, j, i]
            mean /= n
            for i in range(n):
                zc[j, i] = z[r, j, i] - mean
        s = zc @ zc.T
        values = np.linalg.eigvalsh(s)
        if not values[0] > 1e-12 * max(values[k - 1], 1e-300) or n_groups < 2:
            nu[r] = math.nan
            continue
        nu[r] = cr2_weights(zc, np.linalg.inv(s), groups[r], n_groups, g_hat[r])
