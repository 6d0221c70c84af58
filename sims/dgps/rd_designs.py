"""The ``rd`` DGP's further designs: fuzzy take-up, kinks, a discrete running variable, covariates, clusters.

Each unit i draws (in this order) x_i, ε_i, then only what its options need: the complier type u_i (fuzzy), the
take-up noise η_i (kink), the covariate's own noise e_i (covariates), its cluster g_i (clusters); a replication
first draws its G cluster shocks a_g ~ N(0, 1).  With every option at its default the draws are those of the
sharp design (`rd._draw`), so its runs are unchanged.

Running variable: x as in `rd`, then with ``mass_points`` = M > 0 replaced by the midpoint of its bin of width
Δ = 2/M on (−1, 1), x ← (⌊x/Δ⌋ + ½)·Δ (M is even, so no point sits on the cutoff); everything below uses that x.

Covariates (``covariates = "ccft1"`` … ``"ccft4"``, the four models of Calonico, Cattaneo, Farrell & Titiunik 2019,
from their replication code rdpackages-replication/CCFT_2019_RESTAT, ``CCFT_2019_RESTAT_simuls.do``):

    z = μ_z±(x) + u_z,  μ_z± quintics with μ_z+(0) = μ_z−(0) (z is continuous at the cutoff)
    (u_y, u_z) ~ N(0, [[σ², ρσσ_z], [ρσσ_z, σ_z²]]),  σ_z = 0.13537,  ρ = 0, 0.2692, 0, 2·0.2692 (models 1–4)
    u_y = σ·ε,  u_z = σ_z·(ρ ε + √(1−ρ²) e)

and the outcome's potential means m₋(x) + γ₋ z (untreated), m₊(x) + γ₊ z (treated) with CCFT's quintics m± and
γ± = (0, 0) in model 1 (Lee's m±, the covariate unrelated to y) and (0.2212406, 0.2824018) in models 2–4
(``model`` is then ignored).  Without covariates z ≡ 0, γ± = 0.

Designs (``design``):

``sharp``  D = 1(x ≥ 0), y = y(D), y(0) = m₋(x) + γ₋z + u_y, y(1) = m₊(x) + γ₊z + u_y for x ≥ 0 and
           y(0) + m₊(0) − m₋(0) + (γ₊ − γ₋)z below (the effect at the cutoff; seen only in a fuzzy design).
           τ = m₊(0) − m₋(0) + (γ₊ − γ₋)·μ_z(0).
``fuzzy``  types from u ~ U(0, 1): always-takers (u < a), never-takers (a ≤ u < a + ν), compliers;
           D = 1 for always-takers and for compliers with x ≥ 0; compliers' effect shifted by δ
           (``complier_shift``): y = y(0) + D·(y(1) − y(0) + δ·1(complier)).  P(D = 1 | x) jumps by
           1 − a − ν at 0; the local Wald ratio is the compliers' effect at the cutoff, τ_c = τ + δ (types are
           independent of x, so every other type's mean is continuous there).  First stage truth: 1 − a − ν.
``kink``   a continuous take-up with a kink, T = s·x + κ·x·1(x ≥ 0) + σ_T·η (s = 0.5, κ = ``kink_slope``,
           σ_T = ``takeup_noise``), and y = m₋(x) + γ₋z + β·T + u_y (β = ``kink_effect``; m₋ on both sides,
           smooth).  E[y | x] kinks by βκ, the take-up by κ: the fuzzy kink's truth is β (the ratio), its first
           stage's κ.  (A sharp kink estimate, ``deriv = 1`` without ``fuzzy``, targets βκ: equal to β at κ = 1.)

Clusters (``clusters`` = G > 0): g_i uniform on 0 … G − 1 and y += ``cluster_sd``·a_g (errors correlated within a
cluster, clusters straddling the cutoff); no truth changes.

Batch arrays beside ``x``, ``y``: ``takeup`` (D, or T in a kink design), ``cluster`` (g; zeros without
clusters), ``covariate`` (z; zeros without covariates).
"""

from __future__ import annotations

import numpy as np
from numba import njit

DESIGNS = ("sharp", "fuzzy", "kink")
COVARIATES = ("none", "ccft1", "ccft2", "ccft3", "ccft4")
SIGMA_Z = 0.13537
RHO = {"ccft1": 0.0, "ccft2": 0.2692, "ccft3": 0.0, "ccft4": 2 * 0.2692}
Z_MEAN = np.array(
    [
        [0.49062457, 1.0600066, 5.7429879, 17.142579, 19.752974, 7.4750031],
        [
            0.49062457,
            1.0600066 - 0.45019195,
            5.7429879 - 5.5137502,
            17.142579 - 20.605129,
            19.752974 - 13.317815,
            7.4750031 - 10.955869,
        ],
    ]
)
CCFT_OUTCOME = np.array(  # models 2–4: rows m₋, m₊
    [
        [0.3650975, 0.9634399, 5.473362, 15.28258, 15.8688, 5.140786],
        [0.3853995, 0.6278497, -2.846475, 8.427833, -10.23893, 4.31672],
    ]
)
CCFT_GAMMA = np.array([0.2212406, 0.2824018])  # γ₋, γ₊ of models 2–4
TAKEUP_SLOPE = 0.5  # s: the kink design's take-up slope left of the cutoff


@njit(cache=True)
def _poly(c, x):
    m = c[5]
    for k in range(4, -1, -1):  # Horner
        m = m * x + c[k]
    return m


@njit(cache=True)
def draw(rng, coefs, gammas, uniform, sigma, design, always, never, shift, kappa, beta, noise_t, bins, covs, rho,
         n_clusters, cluster_sd, x, y, d, g, z):  # fmt: skip
    """Fill x, y, d (take-up), g (cluster ids), z (covariate), each (R, n), as the module docstring says.

    design: 0 sharp, 1 fuzzy, 2 kink; bins: M (0: continuous); covs: draw the CCFT covariate."""
    n_reps, n = x.shape
    shocks = np.empty(max(n_clusters, 1))
    width = 2.0 / bins if bins > 0 else 0.0
    for r in range(n_reps):
        for k in range(n_clusters):
            shocks[k] = rng.standard_normal()
        for i in range(n):
            xi = rng.uniform(-1.0, 1.0) if uniform else 2.0 * rng.beta(2.0, 4.0) - 1.0
            eps = rng.standard_normal()
            if bins > 0:
                xi = (np.floor(xi / width) + 0.5) * width
            above = xi >= 0.0
            complier = False
            di = 1.0 if above else 0.0
            if design == 1:
                u = rng.uniform(0.0, 1.0)
                complier = u >= always + never
                di = 1.0 if (u < always or (complier and above)) else 0.0
            elif design == 2:
                di = TAKEUP_SLOPE * xi + (kappa * xi if above else 0.0) + noise_t * rng.standard_normal()
            zi = 0.0
            if covs:
                e = rng.standard_normal()
                zi = _poly(Z_MEAN[1] if above else Z_MEAN[0], xi) + SIGMA_Z * (rho * eps + np.sqrt(1 - rho**2) * e)
            y0 = _poly(coefs[0], xi) + gammas[0] * zi
            if design == 2:
                yi = y0 + beta * di
            else:
                if above:
                    y1 = _poly(coefs[1], xi) + gammas[1] * zi
                else:  # below the cutoff the effect stays the one at it (m₊ is not extrapolated)
                    y1 = y0 + coefs[1, 0] - coefs[0, 0] + (gammas[1] - gammas[0]) * zi
                yi = y0 + di * (y1 - y0 + (shift if complier else 0.0))
            yi += sigma * eps
            gi = 0
            if n_clusters > 0:
                gi = rng.integers(0, n_clusters)
                yi += cluster_sd * shocks[gi]
            x[r, i], y[r, i], d[r, i], g[r, i], z[r, i] = xi, yi, di, gi, zi


def arrays(rng, n_reps, p, coefs):
    """The batch arrays and the truths (main, first stage) of the parameters p for the quintics `coefs`."""
    n = p["n"]
    shape = (n_reps, n)
    x, y, d, z = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    g = np.empty(shape)  # cluster ids as floats, as every DGP's frames hold them
    covs = p["covariates"] != "none"
    gammas = np.zeros(2)
    if covs and p["covariates"] != "ccft1":
        coefs, gammas = CCFT_OUTCOME, CCFT_GAMMA
    design = DESIGNS.index(p["design"])
    draw(
        rng, coefs, gammas, p["running"] == "uniform", p["sigma"], design, p["always_takers"], p["never_takers"],
        p["complier_shift"], p["kink_slope"], p["kink_effect"], p["takeup_noise"], p["mass_points"], covs,
        RHO.get(p["covariates"], 0.0), p["clusters"], p["cluster_sd"], x, y, d, g, z,
    )  # fmt: skip
    tau = coefs[1, 0] - coefs[0, 0] + (gammas[1] - gammas[0]) * Z_MEAN[0, 0] * covs
    if design == 1:
        main, first = tau + p["complier_shift"], 1.0 - p["always_takers"] - p["never_takers"]
    elif design == 2:
        main, first = p["kink_effect"], p["kink_slope"]
    else:
        main, first = tau, 1.0
    return {"x": x, "y": y, "takeup": d, "cluster": g, "covariate": z}, float(main), float(first)


def check(p):
    """Constraints across parameters: the types' shares, an even number of mass points."""
    problems = []
    if p["always_takers"] + p["never_takers"] >= 1.0:
        problems.append((("always_takers", "never_takers"), "always_takers + never_takers must be < 1 (compliers)"))
    if p["mass_points"] % 2:
        problems.append((("mass_points",), "mass_points must be even (0: continuous), so no point is the cutoff"))
    return problems
