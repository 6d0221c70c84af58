"""DoubleML's linear scores, their solution, standard errors and the aggregation over repeated splits.

Every score here is linear in θ: ψ(W; θ, η) = ψ_a(W; η)·θ + ψ_b(W; η), with the
nuisance predictions η of one replication and one sample split (Chernozhukov
et al. 2018; DoubleML for Python 0.11's ``LinearScoreMixin``).  With v̂ = d − m̂,
û = y − l̂ and, for the IRM, m̂ clipped to [a, 1 − a] (``trimming_threshold`` a,
DoubleML's ``truncate`` rule) and p̄ = mean(d):

``plr_po``    (PLR, partialling out)  ψ_a = −v̂²,        ψ_b = v̂·û
``plr_iv``    (PLR, IV-type)          ψ_a = −v̂·d,       ψ_b = v̂·(y − ĝ)
``irm_ate``   (IRM, ATE)              ψ_a = −1,
              ψ_b = ĝ₁ − ĝ₀ + d(y − ĝ₁)/m̂ − (1 − d)(y − ĝ₀)/(1 − m̂)
``irm_atte``  (IRM, ATTE)             ψ_a = −d/p̄,
              ψ_b = d(ĝ₁ − ĝ₀)/p̄ + m̂/p̄·[d(y − ĝ₁)/m̂ − (1 − d)(y − ĝ₀)/(1 − m̂)]
``pliv_po``   (PLIV, partialling out, one instrument; r̂ = E[d | x], m̂ = E[z | x])
              ψ_a = −(d − r̂)(z − m̂),   ψ_b = (z − m̂)·û

On each split s: θ_s = −mean(ψ_b)/mean(ψ_a), ψ = ψ_a θ_s + ψ_b and
se_s² = mean(ψ²) / (n · mean(ψ_a)²).  Over S splits (DoubleML's
``_aggregate_coefs_and_ses`` and ``DoubleMLFramework.confint``):

    θ̂ = median_s θ_s,   se = (median_s(θ_s + 1.96·se_s) − θ̂)/1.96
    CI = [median_s(θ_s − z·se_s), median_s(θ_s + z·se_s)],  z = Φ⁻¹(1 − α/2)

(the 1.96 is DoubleML's, whatever the level; with S = 1 the interval is
θ̂ ± z·se).  The test rejects θ = truth when the truth lies outside the CI.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SCORES = ("plr_po", "plr_iv", "irm_ate", "irm_atte", "pliv_po")
PLR_PO, PLR_IV, IRM_ATE, IRM_ATTE, PLIV_PO = range(5)
SE_AGGREGATION_CRIT = 1.96  # DoubleML's fixed constant in the aggregation of standard errors


@njit(cache=True)
def score_elements(score, y, d, z, a, b, c, psi_a, psi_b):
    """ψ_a and ψ_b of one split (module docstring).

    Parameters
    ----------
    score : int
        Code of `SCORES`.
    y, d, z : float64 arrays, shape (n,)
        Outcome, treatment and instrument (z is read by ``pliv_po`` only).
    a, b, c : float64 arrays, shape (n,)
        The nuisance predictions: (l̂, m̂, unused) for ``plr_po``, (ĝ, m̂, unused)
        for ``plr_iv``, (ĝ₀, ĝ₁, m̂ clipped) for the IRM scores, (l̂, m̂, r̂)
        for ``pliv_po``.
    psi_a, psi_b : float64 arrays, shape (n,)
        Written.
    """
    n = y.shape[0]
    share = 0.0
    if score == IRM_ATTE:
        for i in range(n):
            share += d[i]
        share /= n
    for i in range(n):
        if score == PLR_PO:
            v = d[i] - b[i]
            psi_a[i] = -v * v
            psi_b[i] = v * (y[i] - a[i])
        elif score == PLR_IV:
            v = d[i] - b[i]
            psi_a[i] = -v * d[i]
            psi_b[i] = v * (y[i] - a[i])
        elif score == PLIV_PO:
            v = z[i] - b[i]
            psi_a[i] = -(d[i] - c[i]) * v
            psi_b[i] = v * (y[i] - a[i])
        else:
            m = c[i]
            correction = d[i] * (y[i] - b[i]) / m - (1.0 - d[i]) * (y[i] - a[i]) / (1.0 - m)
            if score == IRM_ATE:
                psi_a[i] = -1.0
                psi_b[i] = b[i] - a[i] + correction
            else:
                psi_a[i] = -d[i] / share
                psi_b[i] = d[i] * (b[i] - a[i]) / share + m / share * correction


@njit(cache=True)
def solve_split(psi_a, psi_b):
    """(θ_s, se_s) of one split: the root of the mean score and its sandwich standard error."""
    n = psi_a.shape[0]
    mean_a = 0.0
    mean_b = 0.0
    for i in range(n):
        mean_a += psi_a[i]
        mean_b += psi_b[i]
    mean_a /= n
    mean_b /= n
    theta = -mean_b / mean_a
    squares = 0.0
    for i in range(n):
        psi = psi_a[i] * theta + psi_b[i]
        squares += psi * psi
    return theta, math.sqrt(squares / n / (n * mean_a * mean_a))


@njit(cache=True)
def aggregate(thetas, ses, crit):
    """DoubleML's median aggregation over splits: (θ̂, se, ci_low, ci_high) (module docstring)."""
    theta = np.median(thetas)
    se = (np.median(thetas + SE_AGGREGATION_CRIT * ses) - theta) / SE_AGGREGATION_CRIT
    return theta, se, np.median(thetas - crit * ses), np.median(thetas + crit * ses)


def reference_estimate(score, y, d, z, predictions, crit):
    """Plain numpy twin of `score_elements`, `solve_split` and `aggregate` on all splits of one replication.

    `predictions` is (S, 3, n): the nuisance predictions (a, b, c) of each split.
    Returns (θ̂, se, ci_low, ci_high, thetas (S,), ses (S,)).
    """
    thetas, ses = [], []
    for a, b, c in predictions:
        name = SCORES[score]
        if name == "plr_po":
            psi_a, psi_b = -((d - b) ** 2), (d - b) * (y - a)
        elif name == "plr_iv":
            psi_a, psi_b = -(d - b) * d, (d - b) * (y - a)
        elif name == "pliv_po":
            psi_a, psi_b = -(d - c) * (z - b), (z - b) * (y - a)
        else:
            g0, g1, m = a, b, c
            correction = d * (y - g1) / m - (1 - d) * (y - g0) / (1 - m)
            if name == "irm_ate":
                psi_a, psi_b = -np.ones_like(y), g1 - g0 + correction
            else:
                share = d.mean()
                psi_a, psi_b = -d / share, d / share * (g1 - g0) + m / share * correction
        theta = -psi_b.mean() / psi_a.mean()
        psi = psi_a * theta + psi_b
        thetas.append(theta)
        ses.append(np.sqrt(np.mean(psi**2) / psi_a.mean() ** 2 / len(y)))
    thetas, ses = np.array(thetas), np.array(ses)
    theta = np.median(thetas)
    se = (np.median(thetas + 1.96 * ses) - theta) / 1.96
    return theta, se, np.median(thetas - crit * ses), np.median(thetas + crit * ses), thetas, ses
