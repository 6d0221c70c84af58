"""Instrumental variables with a confounded treatment: weak or strong instruments, heteroskedastic or clustered.

For units i = 1..n in clusters g(i) (``n_clusters`` = G; 0: every unit
on its own), independently across clusters:

    Z_ij = √icc_z · ζ_gj + √(1 − icc_z) · ξ_ij      K instruments, ζ, ξ ~ N(0, 1)
    U_i = √icc · c_g + √(1 − icc) · U'_i             likewise v_i and e_i, each with
                                                      its own cluster effect c_g
    s_i = 1 + hetero · |Z_i1|                          error scale
    X_i = pi · (Z_i1 + … + Z_iK) + s_i · (U_i + v_i)    first stage
    Y_i = beta · X_i + s_i · (gamma · U_i + e_i)       outcome

U'_i, v'_i, e'_i (the unit parts) are N(0, 1), or Student t with
``error_df`` degrees of freedom scaled to variance 1 (heavy tails); the
cluster effects are N(0, 1).  Every Z_ij, U_i, v_i, e_i has variance 1, so
icc and icc_z are intra-cluster correlations; icc_z = 1 makes the
instruments cluster-level.  Units are assigned to clusters in order,
cluster g holding units ⌊g·n/G⌋ … ⌊(g+1)·n/G⌋ − 1.

Truth: beta.  U drives both X and Y, so OLS of Y on X converges to
beta + gamma / (K·pi² + 2) (homoskedastic case); Z moves X only, so 2SLS is
consistent.  The strength is given either as ``pi`` or as
``mu2_per_instrument`` (exactly one of the two).  With
``strength = "homoskedastic"`` the latter is the concentration parameter
per instrument of the homoskedastic design, μ²/K = n·pi²/2 (the first-stage
error U + v has variance 2), whatever hetero and the clusters do.  With
``strength = "effective"`` it is the population effective concentration per
instrument of Montiel Olea & Pflueger (2013),

    μ²_eff/K = n·pi'Q_zz·pi / tr(Q_zz⁻¹ Ω),   Ω = lim Var(n^{-1/2} Σ_i Z_i w_i),

w_i = s_i(U_i + v_i) the first-stage error, Q_zz = I, the population value
the effective first-stage F estimates (E F_eff ≈ 1 + μ²_eff/K).  Here
Ω is diagonal with, for independent units,

    Ω_11 = 2(1 + 4h·√(2/π) + 3h²),  Ω_jj = 2(1 + 2h·√(2/π) + h²)  (j > 1),

(h = hetero; E|Z|³ = 2√(2/π), E Z⁴ = 3), and with clusters and hetero = 0
Ω_jj = 2(1 + icc_z·icc·Σ_g m_g(m_g − 1)/n) (m_g the cluster sizes), so
pi = √(mu2_per_instrument · tr Ω / (K·n)).  Heteroskedastic clustered
designs have no closed form and are refused with ``strength = "effective"``.

Batch arrays: ``y`` (R, n), ``x`` (R, n), ``z`` (R, K, n), ``cluster``
(R, n) the cluster of each unit as a float (0 … G − 1; with G = 0 each unit is its own,
0 … n − 1).  Draw order per replication: the cluster effects (per cluster:
ζ_1..ζ_K, then c for U, v, e) when G > 0, then per unit the unit parts of
Z_1..Z_K, U, v, e; without clusters and with normal errors, exactly the
draws of the independent design.

Sufficient sampler (``sampler = "sufficient"``, exact with hetero = 0, no
clusters and normal errors): (X, Z_1..Z_K, Y) are then jointly normal with
mean 0, w = Mε for ε = (Z_1..Z_K, U, v, e) ~ N(0, I), M's rows

    X: (pi, …, pi, 1, 1, 0),   Z_j: the j-th unit vector,
    Y: (beta·pi, …, beta·pi, beta + gamma, beta, 1),

so the batch holds exact draws of the mean and centred scatter of
[X, Z_1..Z_K, Y] (`sims.dgps.gaussian`) for any n, at a cost free of n.
"""

from __future__ import annotations

import math

import numpy as np
from numba import literally, njit

from causalmc.estimators.spec import Setting

from . import Dgp
from .gaussian import sufficient_batch

ABS_THIRD = 2.0 * math.sqrt(2.0 / math.pi)  # E|Z|³ for Z ~ N(0, 1)


@njit(cache=True)
def _draw(rng, beta, gamma, pi, hetero, n_clusters, icc, icc_z, error_df, y, x, z, cluster):
    t_scale = math.sqrt((error_df - 2.0) / error_df) if error_df > 0.0 else 1.0  # t(ν) to variance 1
    if error_df == 0.0:
        _draw_with(rng, False, beta, gamma, pi, hetero, n_clusters, icc, icc_z, 0.0, 1.0, y, x, z, cluster)
    else:
        _draw_with(rng, True, beta, gamma, pi, hetero, n_clusters, icc, icc_z, error_df, t_scale, y, x, z, cluster)


@njit(cache=True)
def _draw_with(rng, student, beta, gamma, pi, hetero, n_clusters, icc, icc_z, error_df, t_scale, y, x, z, cluster):
    # `student` is compiled in as a constant, so each error law gets its own loop: with both draws in one
    # loop numba inlines neither, a third of the draw's time.
    literally(student)
    n_reps, k, n = z.shape
    g_count = max(n_clusters, 1)
    zeta = np.zeros((g_count, k))
    effect = np.zeros((g_count, 3))  # cluster effects of U, v, e
    a_z, b_z = math.sqrt(icc_z), math.sqrt(1.0 - icc_z)
    a_e, b_e = math.sqrt(icc), math.sqrt(1.0 - icc)
    for r in range(n_reps):
        xr, yr, zr = x[r], y[r], z[r]
        if n_clusters > 0:
            for g in range(n_clusters):
                for j in range(k):
                    zeta[g, j] = rng.standard_normal()
                for m in range(3):
                    effect[g, m] = rng.standard_normal()
        for i in range(n):
            g = (i * n_clusters) // n if n_clusters > 0 else 0
            cluster[r, i] = float(g if n_clusters > 0 else i)
            zsum = 0.0
            for j in range(k):
                zj = rng.standard_normal()
                if n_clusters > 0:
                    zj = a_z * zeta[g, j] + b_z * zj
                zr[j, i] = zj
                zsum += zj
            # the unit parts of U, v, e, in this order
            if student:
                u = rng.standard_t(error_df) * t_scale
                v = rng.standard_t(error_df) * t_scale
                e = rng.standard_t(error_df) * t_scale
            else:
                u = rng.standard_normal()
                v = rng.standard_normal()
                e = rng.standard_normal()
            if n_clusters > 0:
                u = a_e * effect[g, 0] + b_e * u
                v = a_e * effect[g, 1] + b_e * v
                e = a_e * effect[g, 2] + b_e * e
            s = 1.0 + hetero * abs(zr[0, i])
            xi = pi * zsum + s * (u + v)
            xr[i] = xi
            yr[i] = beta * xi + s * (gamma * u + e)


def cluster_sizes(n: int, n_clusters: int) -> np.ndarray:
    """m_g of the in-order assignment (sizes differ by at most one)."""
    if n_clusters == 0:
        return np.ones(n, dtype=np.int64)
    return np.bincount((np.arange(n) * n_clusters) // n, minlength=n_clusters)


def first_stage_variance_trace(p) -> float:
    """tr Ω of the module docstring (2K in the homoskedastic, independent design)."""
    h, k = p["hetero"], p["k_instruments"]
    if p["n_clusters"] == 0:
        return 2.0 * (1.0 + 2.0 * h * ABS_THIRD + 3.0 * h * h) + 2.0 * (k - 1) * (1.0 + h * ABS_THIRD + h * h)
    sizes = cluster_sizes(p["n"], p["n_clusters"])
    design_effect = 1.0 + p["icc_z"] * p["icc"] * float(np.sum(sizes * (sizes - 1))) / p["n"]
    return 2.0 * k * design_effect


def first_stage_coefficient(p) -> float:
    """pi, given directly or through the (homoskedastic or effective) concentration parameter per instrument."""
    if p["pi"] is not None:
        return p["pi"]
    if p["strength"] == "effective":
        return math.sqrt(p["mu2_per_instrument"] * first_stage_variance_trace(p) / (p["k_instruments"] * p["n"]))
    return math.sqrt(2.0 * p["mu2_per_instrument"] / p["n"])


def generate(rng, n_reps, p):
    n, k = p["n"], p["k_instruments"]
    y, x, z = np.empty((n_reps, n)), np.empty((n_reps, n)), np.empty((n_reps, k, n))
    cluster = np.empty((n_reps, n))
    _draw(
        rng, p["beta"], p["gamma"], first_stage_coefficient(p), p["hetero"], p["n_clusters"], p["icc"], p["icc_z"],
        float(p["error_df"]), y, x, z, cluster,
    )  # fmt: skip
    return {"y": y, "x": x, "z": z, "cluster": cluster, "truth": np.full(n_reps, p["beta"])}


def _sufficient(rng, n_reps, p):
    k, b, g = p["k_instruments"], p["beta"], p["gamma"]
    pi = first_stage_coefficient(p)
    m = np.zeros((k + 2, k + 3))  # rows X, Z_1..Z_K, Y; columns Z_1..Z_K, U, v, e
    m[0, :k], m[0, k], m[0, k + 1] = pi, 1.0, 1.0
    m[1 : k + 1, :k] = np.eye(k)
    m[k + 1, :k], m[k + 1, k], m[k + 1, k + 1], m[k + 1, k + 2] = b * pi, b + g, b, 1.0
    batch = sufficient_batch(rng, n_reps, np.linalg.cholesky(m @ m.T), np.zeros(k + 2), p["n"])
    batch["truth"] = np.full(n_reps, b)
    return batch


def _sufficient_inexact(p) -> str | None:
    if p["hetero"] != 0:
        return f"hetero = {p['hetero']:g} makes the errors non-normal given Z (only hetero = 0 is jointly Gaussian)"
    if p["n_clusters"] != 0:
        return f"n_clusters = {p['n_clusters']}: clustered units are not independent rows"
    if p["error_df"] != 0:
        return f"error_df = {p['error_df']:g}: t errors are not normal"
    return None


def check(p):
    problems = []
    if (p["pi"] is None) == (p["mu2_per_instrument"] is None):
        problems.append((("pi", "mu2_per_instrument"), "set exactly one of pi and mu2_per_instrument"))
    if p["n"] < p["k_instruments"] + 3:
        problems.append(
            (
                ("n", "k_instruments"),
                f"n = {p['n']} is too small for {p['k_instruments']} instruments; allowed: n ≥ k_instruments + 3",
            )
        )
    if p["n_clusters"] > p["n"]:
        problems.append((("n_clusters", "n"), f"{p['n_clusters']} clusters need at least as many units"))
    if p["n_clusters"] == 0 and (p["icc"] > 0 or p["icc_z"] > 0):
        problems.append((("icc", "icc_z", "n_clusters"), "intra-cluster correlations need n_clusters > 0"))
    if p["error_df"] != 0 and p["error_df"] <= 2:
        problems.append(
            (("error_df",), f"t errors need more than 2 degrees of freedom (a variance); got {p['error_df']}")
        )
    if p["strength"] == "effective" and p["n_clusters"] > 0 and p["hetero"] > 0:
        problems.append(
            (
                ("strength", "hetero", "n_clusters"),
                "the effective concentration has no closed form with both heteroskedasticity and clusters; "
                'set pi, or strength = "homoskedastic"',
            )
        )
    return problems


DGPS = (
    Dgp(
        name="iv",
        summary="confounded X with K instruments of chosen strength (weak-IV designs), heteroskedastic or clustered",
        params=(
            Setting("n", 1000, "number of units", minimum=4),
            Setting("k_instruments", 1, "number of instruments K", minimum=1, maximum=100),
            Setting("beta", 2.0, "true effect of X on Y (the truth)"),
            Setting("gamma", 3.0, "effect of the unobserved confounder U on Y"),
            Setting("pi", None, "first-stage coefficient on each instrument (or set mu2_per_instrument)", kind=float),
            Setting(
                "mu2_per_instrument",
                None,
                "concentration parameter per instrument (or set pi); its meaning is set by strength",
                kind=float,
                minimum=0.0,
            ),
            Setting(
                "strength",
                "homoskedastic",
                "what mu2_per_instrument measures: homoskedastic (n·pi²/2) or effective (Montiel Olea & Pflueger)",
                choices=("homoskedastic", "effective"),
            ),
            Setting("hetero", 0.0, "error scale is 1 + hetero·|Z_1| in both equations", minimum=0.0),
            Setting("n_clusters", 0, "number of clusters G (0: independent units)", minimum=0),
            Setting("icc", 0.0, "intra-cluster correlation of U, v and e", minimum=0.0, maximum=1.0),
            Setting(
                "icc_z",
                0.0,
                "intra-cluster correlation of the instruments (1: cluster-level)",
                minimum=0.0,
                maximum=1.0,
            ),  # fmt: skip
            Setting("error_df", 0.0, "Student t errors with these degrees of freedom (0: normal)", minimum=0.0),
        ),
        provides=("y", "x", "z", "cluster"),
        generate=generate,
        check=check,
        sufficient=_sufficient,
        sufficient_inexact=_sufficient_inexact,
        examples=(
            {"n": 60, "k_instruments": 2, "pi": 0.3, "hetero": 0.5},
            {"n": 40, "k_instruments": 1, "mu2_per_instrument": 2.0},
            {
                "n": 48,
                "k_instruments": 2,
                "mu2_per_instrument": 4.0,
                "strength": "effective",
                "n_clusters": 8,
                "icc": 0.4,
                "icc_z": 0.5,
                "error_df": 5.0,
            },  # fmt: skip
        ),
    ),
)
