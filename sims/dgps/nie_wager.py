"""Nie & Wager (2021): setups A–D of the R-learner's simulation study.

For units i = 1..n, independently (Nie & Wager 2021, Biometrika 108(2),
Section 6; the authors' R code, xnie/rlearner, experiments_for_paper/run_simu.R):

    Y_i = b(X_i) + (W_i − 1/2) τ(X_i) + σ ε_i,   ε_i ~ N(0, 1),
    W_i | X_i ~ Bernoulli(e(X_i)),

so Y_i(0) = b(X_i) − τ(X_i)/2 and Y_i(1) = b(X_i) + τ(X_i)/2 (b is the mean of
the two potential outcomes, not the control outcome), with p covariates and

    A  X ~ U(0, 1)^p,  b = sin(π X1 X2) + 2 (X3 − 0.5)² + X4 + 0.5 X5,
       e = min(max(sin(π X1 X2), 0.1), 0.9),  τ = (X1 + X2)/2
       (hard nuisances, easy effect)
    B  X ~ N(0, I_p),  b = max(0, X1 + X2, X3) + max(0, X4 + X5),  e = 1/2,
       τ = X1 + log(1 + e^X2)                       (a randomised trial)
    C  X ~ N(0, I_p),  b = 2 log(1 + e^(X1 + X2 + X3)),  e = 1/(1 + e^(X2 + X3)),
       τ = 1                                        (easy propensity, hard baseline)
    D  X ~ N(0, I_p),  b = (max(X1 + X2 + X3, 0) + max(X4 + X5, 0))/2,
       e = 1/(1 + e^−X1 + e^−X2),  τ = max(X1 + X2 + X3, 0) − max(X4 + X5, 0)
       (unrelated treatment and control arms)

The paper's grid is n ∈ {500, 1000}, p ∈ {6, 12}, σ ∈ {0.5, 1, 2, 4}.

Truths per replication (what the records use): ``ate`` = (1/n) Σ τ(X_i),
the sample mean of the effects of the replication's units, and ``att`` =
the mean of τ(X_i) over its treated units (NaN if none is treated).  The
population ATE E τ(X) is their expectation (`POPULATION_ATE`): 1/2 in A;
E log(1 + e^Z) for Z ~ N(0, 1), about 0.8061, in B (no closed form; X1 has
mean 0); 1 in C; and in D, with E max(S, 0) = s/√(2π) for S ~ N(0, s²),
(√3 − √2)/√(2π), about 0.1268.

Other ports differ from the authors' code.  causalml
(``causalml.dataset.simulate_randomized_trial``, setup B) before v0.14.1
computed b with ``np.maximum(0, X1 + X2, X3)``, whose third argument is
numpy's ``out``: b lost the X3 term (b = max(0, X1 + X2) + max(0, X4 + X5))
and the returned column X3 was overwritten with max(0, X1 + X2) (fixed in
causalml's commit a675ad1, PR #656, with ``np.maximum.reduce``).  JustCause
(``justcause.data.generators.rlearner``, setup D) adds the two hinges in τ,
τ = max(X1 + X2 + X3, 0) + max(X4 + X5, 0), where the authors subtract them:
its population ATE is (√3 + √2)/√(2π) ≈ 1.255 instead of 0.127, and its
effect no longer changes sign across units.  JustCause also draws the
covariates once and keeps them fixed across replications (only W and ε are
redrawn), where the authors draw new X in every replication, as here.

Batch arrays: ``y``, ``x``, ``treatment`` and ``d`` (R, n), the last three
the same W (``d`` for the partially linear estimators, e.g. ``dml_plr``, whose
θ is then the overlap-weighted E[e(1 − e)τ]/E[e(1 − e)], the ATE only where e or
τ is constant, setups B and C); ``controls`` (R, p, n)
= X (the analyst's covariates, ``w1`` … ``wp`` in `sample`); the oracle
nuisances per unit ``propensity`` = e(X_i), ``baseline`` = b(X_i) and
``cate`` = τ(X_i) (R, n) each, for estimators that are given the truth and
for checks.  Draw order per unit: X_i1 … X_ip, the uniform for W_i, ε_i.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import Dgp

SETUPS = ("A", "B", "C", "D")
# E τ(X) of each setup (B by quadrature of E log(1 + e^Z), Z ~ N(0, 1): it has no closed form).
POPULATION_ATE = {"A": 0.5, "B": 0.8060592, "C": 1.0, "D": (math.sqrt(3.0) - math.sqrt(2.0)) / math.sqrt(2.0 * math.pi)}


@njit(cache=True)
def _softplus(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))  # log(1 + e^v) without overflow


@njit(cache=True)
def _draw(rng, setup, sigma, y, w, xs, e, b, tau):
    n_reps, p, n = xs.shape
    for r in range(n_reps):
        for i in range(n):
            for j in range(p):
                xs[r, j, i] = rng.random() if setup == 0 else rng.standard_normal()
            x1, x2, x3, x4, x5 = xs[r, 0, i], xs[r, 1, i], xs[r, 2, i], xs[r, 3, i], xs[r, 4, i]
            if setup == 0:
                s = math.sin(math.pi * x1 * x2)
                bi, ei, ti = s + 2.0 * (x3 - 0.5) ** 2 + x4 + 0.5 * x5, min(max(s, 0.1), 0.9), (x1 + x2) / 2.0
            elif setup == 1:
                bi = max(0.0, x1 + x2, x3) + max(0.0, x4 + x5)
                ei, ti = 0.5, x1 + _softplus(x2)
            elif setup == 2:
                bi, ei, ti = 2.0 * _softplus(x1 + x2 + x3), 1.0 / (1.0 + math.exp(x2 + x3)), 1.0
            else:
                h3, h2 = max(x1 + x2 + x3, 0.0), max(x4 + x5, 0.0)
                bi, ei, ti = (h3 + h2) / 2.0, 1.0 / (1.0 + math.exp(-x1) + math.exp(-x2)), h3 - h2
            wi = 1.0 if rng.random() < ei else 0.0
            y[r, i] = bi + (wi - 0.5) * ti + sigma * rng.standard_normal()
            w[r, i], e[r, i], b[r, i], tau[r, i] = wi, ei, bi, ti


def generate(rng, n_reps, p):
    n, k = p["n"], p["p"]
    y, w, e, b, tau = (np.empty((n_reps, n)) for _ in range(5))
    xs = np.empty((n_reps, k, n))
    _draw(rng, SETUPS.index(p["setup"]), p["sigma"], y, w, xs, e, b, tau)
    treated = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no treated unit: the ATT is NaN
        att = (tau * w).sum(axis=1) / treated
    return {"y": y, "x": w, "treatment": w, "d": w, "controls": xs, "propensity": e, "baseline": b, "cate": tau,
            "truth": tau.mean(axis=1), "truth:att": att}  # fmt: skip


DGPS = (
    Dgp(
        name="nie_wager",
        summary="Nie & Wager (2021): the R-learner's setups A–D (nuisances hard or easy, effects heterogeneous)",
        params=(
            Setting(
                "setup", "A", "the design: A (hard nuisances), B (randomised), C (constant effect), D (unrelated arms)",
                choices=SETUPS,
            ),
            Setting("n", 500, "number of units", minimum=10),
            Setting("p", 6, "number of covariates (every setup reads X1 … X5)", minimum=5),
            Setting("sigma", 1.0, "the noise's standard deviation σ", minimum=0.0),
        ),
        provides=("y", "x", "treatment", "d", "controls", "propensity", "baseline", "cate"),
        generate=generate,
        examples=({"n": 60, "p": 5, "setup": "D"},),
        estimand="ate",
    ),
)
