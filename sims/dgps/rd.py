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

Further designs (`rd_designs`): ``design = "fuzzy"`` (always- and
never-takers, truth the compliers' local Wald ratio) or ``"kink"`` (a kinked
take-up, truth the ratio of the kinks), ``mass_points`` (a discrete running
variable), ``covariates`` (CCFT 2019's four covariate models), ``clusters``
(a shared shock per cluster).  At their defaults the draws are the ones above.
Manipulation (sharp design only): a share ``manipulation`` = π of the units
drawn in [−δ, 0) (δ = ``manipulation_width``) move to −x, just above the
cutoff; their outcome is drawn at the new x, so τ is unchanged.

Batch arrays: ``x`` (R, n) the running variable, ``y`` (R, n) the outcome,
``takeup`` (the take-up; 1(x ≥ 0) in the sharp design), ``cluster`` (ids,
zeros without clusters), ``covariate`` (z, zeros without covariates).
Truths: the design's effect for the estimand ``effect`` and for each row of
the ``rd`` estimator (``conventional``, ``bias_corrected``, ``robust``); the
first stage's jump (fuzzy) or kink (kink design; 1 when sharp) for the rows
``first_stage_*``; the density jump 2π·f(0) for ``density_jump``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from causalmc.estimators.rd.conventions import FIRST_STAGE_TERMS, TERMS
from causalmc.estimators.rd.density_constants import TERM as DENSITY_TERM
from causalmc.estimators.spec import Setting

from . import TRUTH_PREFIX, Dgp, rd_designs

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


def _plain(p):
    """Every further design's option at its default: the sharp design's own draws."""
    return all(p[s.name] == s.default for s in DESIGN_PARAMS)


def _check(p):
    """The further designs' constraints; manipulation only in the sharp design with no further option."""
    problems = rd_designs.check(p)
    if p["manipulation"] > 0 and not _plain(p):
        problems.append((("manipulation",), "manipulation needs the sharp design with design, mass_points, "
                         "covariates and clusters at their defaults"))  # fmt: skip
    return problems


def generate(rng, n_reps, p):
    n = p["n"]
    manipulation = p.get("manipulation", 0.0)  # absent (a caller's own parameters): none
    if _plain(p):
        batch = {"x": np.empty((n_reps, n)), "y": np.empty((n_reps, n))}
        width = p["manipulation_width"] if manipulation > 0 else 0.0
        uniform = p["running"] == "uniform"
        _draw(rng, MODELS[p["model"]], uniform, p["sigma"], manipulation, width, batch["x"], batch["y"])
        batch |= {"takeup": (batch["x"] >= 0).astype(float), "cluster": np.zeros((n_reps, n))}
        batch["covariate"] = np.zeros((n_reps, n))
        main, first = truth(p["model"]), 1.0
    else:
        batch, main, first = rd_designs.arrays(rng, n_reps, p, MODELS[p["model"]])
    batch["truth"] = np.full(n_reps, main)
    for term in TERMS:  # the rows of the ``rd`` estimator all estimate the design's effect
        batch[TRUTH_PREFIX + term] = batch["truth"]
    for term in FIRST_STAGE_TERMS:
        batch[TRUTH_PREFIX + term] = np.full(n_reps, first)
    batch[TRUTH_PREFIX + DENSITY_TERM] = np.full(n_reps, 2.0 * manipulation * DENSITY_AT_CUTOFF[p["running"]])
    return batch


DESIGN_PARAMS = (
    Setting(
        "design", "sharp", "sharp, fuzzy (compliance types) or kink (a kinked take-up)", choices=rd_designs.DESIGNS
    ),
    Setting("always_takers", 0.1, "fuzzy: share of always-takers", minimum=0.0, maximum=1.0, max_exclusive=True),
    Setting("never_takers", 0.1, "fuzzy: share of never-takers", minimum=0.0, maximum=1.0, max_exclusive=True),
    Setting("complier_shift", 0.0, "fuzzy: the compliers' effect minus τ"),
    Setting("kink_slope", 1.0, "kink: the take-up's change of slope κ at the cutoff"),
    Setting("kink_effect", 1.0, "kink: the effect β of the take-up on y (the truth)"),
    Setting("takeup_noise", 0.1, "kink: sd of the take-up's noise", minimum=0.0),
    Setting("mass_points", 0, "number of equal bins of (−1, 1) x is coarsened to (0: continuous; even)", minimum=0),
    Setting("covariates", "none", "CCFT (2019)'s covariate model z (ccft1 … ccft4)", choices=rd_designs.COVARIATES),
    Setting("clusters", 0, "number of clusters G with a shared shock (0: none)", minimum=0),
    Setting("cluster_sd", 0.1, "sd of the clusters' shared shock", minimum=0.0),
)


DGPS = (
    Dgp(
        name="rd",
        summary="sharp regression discontinuity at 0: CCT (2014)'s Lee, Ludwig–Miller and third quintic designs",
        params=(
            Setting("n", 500, "number of units", minimum=2),
            Setting("model", "lee", "the conditional mean on each side (CCT 2014 Section 5)", choices=tuple(MODELS)),
            Setting("running", "beta", "running variable: beta (2·Beta(2, 4) − 1) or uniform(−1, 1)", choices=RUNNING),
            Setting("sigma", 0.1295, "sd of the outcome error", minimum=0.0),
            Setting("manipulation", 0.0, "share π of units in [−δ, 0) that move to −x, above the cutoff (sharp "
                    "design only)", minimum=0.0, maximum=1.0),  # fmt: skip
            Setting("manipulation_width", 0.1, "δ: the manipulators' range below the cutoff", minimum=0.0,
                    maximum=1.0, min_exclusive=True),  # fmt: skip
            *DESIGN_PARAMS,
        ),
        provides=("x", "y", "takeup", "cluster", "covariate"),
        generate=generate,
        check=_check,
        examples=(
            {"n": 200},
            {"n": 120, "model": "ludwig_miller", "running": "uniform"},
            {"n": 150, "model": "cct3", "manipulation": 0.5},
            {"n": 200, "design": "fuzzy", "covariates": "ccft2", "clusters": 20},
            {"n": 200, "design": "kink", "mass_points": 40},
        ),
    ),
)
