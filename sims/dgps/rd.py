"""Sharp regression discontinuity: the three designs of Calonico, Cattaneo & Titiunik (2014).

For units i = 1..n, independently (draw order per unit: x, then ε):

    x_i = 2·B_i − 1,  B_i ~ Beta(2, 4)          (running = "beta")
    x_i ~ Uniform(−1, 1)                          (running = "uniform")
    y_i = m(x_i) + ε_i,   ε_i ~ N(0, sigma²)
    m(x) = m₊(x) if x ≥ 0 else m₋(x),  m±(x) = Σ_{k=0..5} c±_k x^k

The cutoff is 0 and treatment is 1(x ≥ 0).  Truth: the jump at the
cutoff, τ = m₊(0) − m₋(0) = c₊_0 − c₋_0.

Manipulation (``manipulation`` = π > 0, ``manipulation_width`` = δ): a unit
drawn with −δ ≤ x_i < 0 draws u_i ~ Uniform(0, 1) right after x_i, and if
u_i < π it reports x_i ← −x_i (moves just above the cutoff, into (0, δ]);
its outcome is drawn at the reported x, so E[y | x] stays m(x) and τ is
unchanged.  The running variable's density f then jumps at 0 from
(1 − π)·f(0) to (1 + π)·f(0): the truth of ``rd_density``'s term
``density_jump`` is 2π·f(0), f(0) = 0.625 (beta) or 0.5 (uniform).  With
π = 0 nothing is drawn and the draws are those without the option.

``model`` picks the fifth-order polynomials (CCT 2014, Section 5 and
Supplement S.3.1), with sigma = 0.1295 in the paper:

``lee``            (Lee 2008, U.S. House elections), τ = 0.04
    m₋(x) = 0.48 + 1.27x + 7.18x² + 20.21x³ + 21.54x⁴ + 7.33x⁵
    m₊(x) = 0.52 + 0.84x − 3.00x² + 7.99x³ − 9.01x⁴ + 3.56x⁵
``ludwig_miller``  (Ludwig & Miller 2007, Head Start), τ = −3.45
    m₋(x) = 3.71 + 2.30x + 3.28x² + 1.45x³ + 0.23x⁴ + 0.03x⁵
    m₊(x) = 0.26 + 18.49x − 54.81x² + 74.30x³ − 45.02x⁴ + 9.83x⁵
``cct3``           (CCT's alternative: Lee's with altered curvature), τ = 0.04
    m₋(x) = 0.48 + 1.27x − 0.5·7.18x² + 0.7·20.21x³ + 1.1·21.54x⁴ + 1.5·7.33x⁵
    m₊(x) = 0.52 + 0.84x − 0.1·3.00x² − 0.3·7.99x³ − 0.1·9.01x⁴ + 3.56x⁵

Sources: the Ludwig–Miller coefficients and the running variable are those
of the authors' replication code rdpackages-replication/CCF_2020_ECTJ,
``functions/CCF_functions.R`` (``c.l``, ``c.r``, ``x.gen``); the Lee and
model-3 coefficients are the ones CCT (2014, Section 5) print (the
replication repository of that paper was not available to check against).

Batch arrays: ``x`` (R, n) the running variable, ``y`` (R, n) the outcome.
Truths: τ for the estimand ``effect`` and for each row of the ``rd``
estimator (``conventional``, ``bias_corrected``, ``robust``); the density
jump 2π·f(0) for ``density_jump``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from causalmc.estimators.rd import TERMS
from causalmc.estimators.rd.density_constants import TERM as DENSITY_TERM
from causalmc.estimators.spec import Setting

from . import TRUTH_PREFIX, Dgp

# rows: m₋ (below the cutoff), m₊ (at or above); columns: coefficients of x⁰ … x⁵
MODELS = {
    "lee": np.array(
        [[0.48, 1.27, 7.18, 20.21, 21.54, 7.33], [0.52, 0.84, -3.00, 7.99, -9.01, 3.56]],
    ),
    "ludwig_miller": np.array(
        [[3.71, 2.30, 3.28, 1.45, 0.23, 0.03], [0.26, 18.49, -54.81, 74.30, -45.02, 9.83]],
    ),
    "cct3": np.array(
        [
            [0.48, 1.27, -0.5 * 7.18, 0.7 * 20.21, 1.1 * 21.54, 1.5 * 7.33],
            [0.52, 0.84, -0.1 * 3.00, -0.3 * 7.99, -0.1 * 9.01, 3.56],
        ],
    ),
}
RUNNING = ("beta", "uniform")
DENSITY_AT_CUTOFF = {"beta": 0.625, "uniform": 0.5}  # f(0): Beta(2, 4)'s density 1.25 at ½, halved; U(−1, 1)


@njit(cache=True)
def _draw(rng, coefs, uniform, sigma, manipulation, width, x, y):
    n_reps, n = x.shape
    for r in range(n_reps):
        for i in range(n):
            xi = rng.uniform(-1.0, 1.0) if uniform else 2.0 * rng.beta(2.0, 4.0) - 1.0
            if manipulation > 0.0 and -width <= xi < 0.0 and rng.random() < manipulation:
                xi = -xi
            c = coefs[1] if xi >= 0.0 else coefs[0]
            m = c[5]
            for k in range(4, -1, -1):  # Horner
                m = m * xi + c[k]
            x[r, i] = xi
            y[r, i] = m + sigma * rng.standard_normal()


def truth(model: str) -> float:
    """τ = m₊(0) − m₋(0) of a model."""
    c = MODELS[model]
    return float(c[1, 0] - c[0, 0])


def generate(rng, n_reps, p):
    n = p["n"]
    batch = {"x": np.empty((n_reps, n)), "y": np.empty((n_reps, n))}
    manipulation = p.get("manipulation", 0.0)  # absent (a caller's own parameters): none
    width = p["manipulation_width"] if manipulation > 0 else 0.0
    _draw(rng, MODELS[p["model"]], p["running"] == "uniform", p["sigma"], manipulation, width, batch["x"], batch["y"])
    batch["truth"] = np.full(n_reps, truth(p["model"]))
    for term in TERMS:  # the rows of the ``rd`` estimator all estimate τ
        batch[TRUTH_PREFIX + term] = batch["truth"]
    batch[TRUTH_PREFIX + DENSITY_TERM] = np.full(n_reps, 2.0 * manipulation * DENSITY_AT_CUTOFF[p["running"]])
    return batch


DGPS = (
    Dgp(
        name="rd",
        summary="sharp regression discontinuity at 0: CCT (2014)'s Lee, Ludwig–Miller and third quintic designs",
        params=(
            Setting("n", 500, "number of units", minimum=2),
            Setting("model", "lee", "the conditional mean on each side (CCT 2014 Section 5)", choices=tuple(MODELS)),
            Setting(
                "running", "beta", "running variable: beta (2·Beta(2, 4) − 1) or uniform(−1, 1)", choices=RUNNING
            ),
            Setting("sigma", 0.1295, "sd of the outcome error", minimum=0.0),
            Setting("manipulation", 0.0, "share π of units in [−δ, 0) that move to −x, above the cutoff", minimum=0.0,
                    maximum=1.0),  # fmt: skip
            Setting("manipulation_width", 0.1, "δ: the manipulators' range below the cutoff", minimum=0.0,
                    maximum=1.0, min_exclusive=True),  # fmt: skip
        ),
        provides=("x", "y"),
        generate=generate,
        examples=(
            {"n": 200},
            {"n": 120, "model": "ludwig_miller", "running": "uniform"},
            {"n": 150, "model": "cct3", "manipulation": 0.5},
        ),
    ),
)
