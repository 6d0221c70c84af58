"""Exact sufficient statistics of Gaussian samples, at a cost that does not depend on n.

If the rows wᵢ (i = 1..n) of a dataset are independent N(μ, Σ) vectors of
q variables, Σ = LL', the sample mean and the centred scatter matrix

    w̄ = (1/n) Σᵢ wᵢ,        S = Σᵢ (wᵢ − w̄)(wᵢ − w̄)'

are independent, with w̄ ~ N(μ, Σ/n) and S ~ Wishart(n − 1, Σ) (Anderson
2003, Theorem 3.3.2).  The Bartlett decomposition draws S exactly: with
a lower-triangular A whose diagonal entries are a_jj = √χ²(n − 1 − j)
(j = 0..q−1) and whose entries below it are N(0, 1), all independent,
S = L A A' L' (Anderson 2003, Corollary 7.2.1).  That is q(q+1)/2 draws per
replication whatever n, so a design of n = 10⁹ costs what one of n = 10³
does.  Every statistic that depends on the data only through (n, w̄, S)
(OLS, 2SLS and the like with classical standard errors and an intercept)
then has exactly its finite-sample distribution.

A DGP offers this as ``Dgp.sufficient``: a batch of ``n_obs`` (R,),
``mean`` (R, q) and ``scatter`` (R, q, q) over the variables
[x, controls…, y] (see `SUFFICIENT_VARIABLES` of each DGP), plus its truths.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def draw_mean_and_scatter(rng, root, mu, n, mean, scatter):
    """Draw R exact (w̄, S) pairs of n-row samples of N(mu, root·root').

    Parameters
    ----------
    rng : numpy.random.Generator
    root : float64 array, shape (q, q)
        The lower-triangular Cholesky factor L of Σ (Σ = LL').
    mu : float64 array, shape (q,)
    n : int
        Rows per sample (≥ q + 1 for S to be nonsingular).
    mean : float64 array, shape (R, q)
        Receives w̄ = mu + L·z/√n, z ~ N(0, I).
    scatter : float64 array, shape (R, q, q)
        Receives S = L A A' L' (Bartlett); symmetric.

    Notes
    -----
    Per replication the draws are, in order: the q normals of the mean,
    then A row by row (the χ² of the diagonal entry after the normals left
    of it).
    """
    n_reps, q = mean.shape
    a = np.zeros((q, q))
    la = np.empty((q, q))
    scale = 1.0 / np.sqrt(n)
    for r in range(n_reps):
        for j in range(q):
            mean[r, j] = mu[j]
        for c in range(q):
            z = rng.standard_normal() * scale
            for j in range(c, q):
                mean[r, j] += root[j, c] * z
        for j in range(q):
            for c in range(j):
                a[j, c] = rng.standard_normal()
            a[j, j] = np.sqrt(rng.chisquare(n - 1 - j))
        for j in range(q):  # L·A (both lower triangular)
            for c in range(q):
                s = 0.0
                for m in range(c, j + 1):
                    s += root[j, m] * a[m, c]
                la[j, c] = s
        for j in range(q):
            for c in range(j + 1):
                s = 0.0
                for m in range(c + 1):
                    s += la[j, m] * la[c, m]
                scatter[r, j, c] = s
                scatter[r, c, j] = s


def sufficient_batch(rng, n_reps: int, root: np.ndarray, mu: np.ndarray, n: int) -> dict:
    """A sufficient-statistic batch: ``n_obs`` (R,), ``mean`` (R, q), ``scatter`` (R, q, q)."""
    q = root.shape[0]
    batch = {"n_obs": np.full(n_reps, float(n)), "mean": np.empty((n_reps, q)), "scatter": np.empty((n_reps, q, q))}
    draw_mean_and_scatter(
        rng,
        np.ascontiguousarray(root, dtype=np.float64),
        np.asarray(mu, np.float64),
        n,
        batch["mean"],
        batch["scatter"],
    )
    return batch


def reference_mean_and_scatter(rng, n_reps: int, root: np.ndarray, mu: np.ndarray, n: int):
    """Plain numpy twin of `draw_mean_and_scatter` (same draws in the same order): (mean (R, q), scatter (R, q, q))."""
    q = root.shape[0]
    mean, scatter = np.empty((n_reps, q)), np.empty((n_reps, q, q))
    for r in range(n_reps):
        z = np.array([rng.standard_normal() for _ in range(q)])
        mean[r] = mu + root @ z / np.sqrt(n)
        a = np.zeros((q, q))
        for j in range(q):
            a[j, :j] = [rng.standard_normal() for _ in range(j)]
            a[j, j] = np.sqrt(rng.chisquare(n - 1 - j))
        la = root @ a
        scatter[r] = la @ la.T
    return mean, scatter
