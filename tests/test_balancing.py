"""Entropy balancing (``entropy_balancing``), the ATT.

Conventions, stated once and asserted below:
- the weights: the controls' weights of least Kullback–Leibler divergence from uniform whose weighted means of the
  moment functions c(x) (x; or x and x², no cross-products) equal the treated means, normalised to sum to 1
  (Hainmueller 2012; ``empirical_calibration.calibrate(objective=ENTROPY)``).  They are unique: the balance
  conditions together with log wᵢ affine in c(xᵢ) are an exact oracle of them;
- the estimate: the treated mean of y minus the weighted control mean;
- ``se = "sandwich"``: the M-estimation sandwich of the stacked equations for the treated means, the dual's
  first-order conditions and the two means (Zhao & Percival 2017), no degrees-of-freedom correction, normal interval;
  held to the complex-step twin and to the coverage of the population ATT;
- ``se = "fixed_weights"``: HC0 of weighted least squares of y on (1, d), weight 1 for the treated and the balancing
  weights for the controls (statsmodels ``WLS(...).fit(cov_type="HC0")``), the weights treated as known.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import RTOL
from conftest import kernel_and_twin_single_term as kernel_and_twin
from conftest import run_single_term as run_estimator
from scipy import stats

from causalmc.estimators import status as st
from causalmc.estimators.observables.balancing import (
    ESS0,
    MAX_SHARE,
    MAX_SMD,
    _interior,
    _moment_columns,
    entropy_weights,
)
from causalmc.estimators.spec import CI_HIGH, CI_LOW, ESTIMATE, SE

NAME = "entropy_balancing"


def selection_batch(rng, n_reps, n, p, strength=0.7):
    """Covariates N(μⱼ, σⱼ²) of assorted locations and scales, a logit treatment on their standardised values, a
    nonlinear outcome with a heterogeneous effect."""
    loc = rng.uniform(-5, 5, size=(1, p, 1))
    scale = rng.uniform(0.1, 10, size=(1, p, 1))
    z = rng.normal(size=(n_reps, p, n))
    index = 0.2 + strength * z[:, 0] - 0.5 * strength * z[:, -1]
    d = (rng.random((n_reps, n)) < 1 / (1 + np.exp(-index))).astype(float)
    y = 1 + (2 + 0.5 * z[:, 0]) * d + z[:, 0] + 0.5 * z[:, -1] ** 2 + rng.normal(size=(n_reps, n))
    return {"y": y, "treatment": d, "controls": loc + scale * z}


def raw_moments(x, order):
    """c(x) of every unit, shape (n, K): x, then x² when order = 2."""
    return np.vstack([x, x**2][:order]).T


def kernel_weights(x, d, order):
    cc, w = np.empty((order * x.shape[0], d.size)), np.empty(d.size)
    assert _moment_columns(x, d, order, cc)
    return entropy_weights(cc, d, w), w


OPTIONS = [
    {},
    {"se": "fixed_weights"},
    {"moments": 2},
    {"moments": 2, "se": "fixed_weights"},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_kernel_equals_twin(rng, options):
    # The twin: raw moments, a linear program for feasibility, scipy on the dual, the sandwich by complex step.
    for n, p in ((40, 1), (150, 2), (400, 4)):
        batch = selection_batch(rng, 4, n, p, strength=rng.uniform(0.2, 1.0))
        # the treated means (variances above all) can lie beyond what reweighting the controls reaches, more often
        # in small samples: no_overlap, the twin's linear program agreeing
        _, status = kernel_and_twin(NAME, batch, options, all_ok=False)
        assert (status == st.OK).any()
    batch = selection_batch(rng, 3, 200, 3)
    batch |= {f"c{j}": batch["controls"][:, j] for j in range(3)}
    kernel_and_twin(NAME, batch, options | {"adjust": ("c2", "c0")})


@pytest.mark.parametrize("order", [1, 2])
def test_weights_balance_exactly(rng, order):
    # The exact oracle: Σ wᵢc(xᵢ) over the controls equals the treated means (to 1e-10 of the control s.d.), the
    # weights sum to 1 and log wᵢ is affine in c(xᵢ): these determine the entropy-balancing weights uniquely.
    for _ in range(10):
        batch = selection_batch(rng, 1, int(rng.integers(60, 600)), int(rng.integers(1, 5)))
        x, d = batch["controls"][0], batch["treatment"][0]
        code, w = kernel_weights(x, d, order)
        c, treated = raw_moments(x, order), d > 0.5
        if code != st.OK:  # infeasible balance (small samples, variances): the twin's linear program must agree
            assert code == st.NO_OVERLAP and not _interior((c[~treated] - c[treated].mean(axis=0)) / c.std(axis=0))
            continue
        gap = w[~treated] @ c[~treated] - c[treated].mean(axis=0)
        assert np.all(np.abs(gap) <= 1e-10 * c[~treated].std(axis=0))
        assert abs(w.sum() - 1) <= 1e-12 and np.all(w[treated] == 0)
        design = np.column_stack([np.ones((~treated).sum()), c[~treated]])
        log_w = np.log(w[~treated])
        fit = design @ np.linalg.lstsq(design, log_w, rcond=None)[0]
        np.testing.assert_allclose(fit, log_w, rtol=RTOL, atol=1e-10)


@pytest.mark.parametrize("order", [1, 2])
def test_estimate_matches_empirical_calibration(rng, order):
    # Convention: empirical_calibration's entropy balancing (uniform base weights, target = the treated means).
    # Its MINPACK solver stops at its default xtol (1.49e-8, not exposed), so its balance gap reaches 1e-8 of the
    # covariates' s.d.: it is given the columns centred at the treated means and scaled by the control s.d. (the
    # weights do not change; its ``autoscale`` when its solver fails), and τ̂ is held to it at RTOL.
    ec = pytest.importorskip("empirical_calibration")
    batch = selection_batch(rng, 8, 500, 3)
    out, _ = kernel_and_twin(NAME, batch, {"moments": order})
    for r in range(8):
        x, d, y = batch["controls"][r], batch["treatment"][r], batch["y"][r]
        treated = d > 0.5
        c = raw_moments(x, order)
        c = (c - c[treated].mean(axis=0)) / c[~treated].std(axis=0)
        for autoscale in (False, True):  # its Powell solver, undamped from λ = 0, can stall: then its own rescaling
            w, success = ec.calibrate(c[~treated], c[treated], objective=ec.Objective.ENTROPY, autoscale=autoscale)
            if success:
                break
        assert success
        np.testing.assert_allclose(out[r, ESTIMATE], y[treated].mean() - w @ y[~treated], rtol=RTOL)
        np.testing.assert_allclose(out[r, MAX_SHARE], w.max(), rtol=1e-6)  # ec's weights to its own accuracy


@pytest.mark.parametrize("order", [1, 2])
def test_fixed_weights_se_matches_statsmodels_wls(rng, order):
    # Convention: HC0 of WLS of y on (1, d), weight 1 for the treated, the balancing weights for the controls
    # (scaled to sum to n₁ as ebal's; HC0 of this saturated regression does not depend on the scaling).
    batch = selection_batch(rng, 5, 300, 2)
    out, _ = kernel_and_twin(NAME, batch, {"se": "fixed_weights", "moments": order})
    for r in range(5):
        x, d, y = batch["controls"][r], batch["treatment"][r], batch["y"][r]
        code, w = kernel_weights(x, d, order)
        assert code == st.OK
        weights = np.where(d > 0.5, 1.0, w * rng.uniform(0.5, 500))
        fit = sm.WLS(y, sm.add_constant(d), weights=weights).fit(cov_type="HC0")
        np.testing.assert_allclose(out[r, [ESTIMATE, SE]], [fit.params[1], fit.bse[1]], rtol=RTOL)


def test_diagnostics(rng):
    # ess_control = 1/Σw² (Kish), max_weight_share = max w, max_smd ≈ 0 after exact balance (NaN without covariates).
    batch = selection_batch(rng, 4, 300, 3)
    out, _ = kernel_and_twin(NAME, batch)
    for r in range(4):
        code, w = kernel_weights(batch["controls"][r], batch["treatment"][r], 1)
        np.testing.assert_allclose(out[r, [ESS0, MAX_SHARE]], [1 / (w**2).sum(), w.max()], rtol=RTOL)
        assert out[r, MAX_SMD] < 1e-10
    out, _ = kernel_and_twin(NAME, batch, {"adjust": ()})
    assert np.isnan(out[:, MAX_SMD]).all()


def test_no_covariates_is_the_difference_in_means(rng):
    # With nothing to balance the weights are uniform: τ̂ = ȳ₁ − ȳ₀ and both standard errors are
    # √(s₁²/n₁ + s₀²/n₀) with variances on n (no df correction).
    batch = selection_batch(rng, 5, 80, 1)
    for se in ("sandwich", "fixed_weights"):
        out, _ = kernel_and_twin(NAME, batch, {"adjust": (), "se": se})
        for r in range(5):
            y, treated = batch["y"][r], batch["treatment"][r] > 0.5
            y1, y0 = y[treated], y[~treated]
            expected = [y1.mean() - y0.mean(), np.sqrt(y1.var() / y1.size + y0.var() / y0.size)]
            np.testing.assert_allclose(out[r, [ESTIMATE, SE]], expected, rtol=RTOL)
            np.testing.assert_allclose(out[r, ESS0], y0.size, rtol=RTOL)


@pytest.mark.parametrize("options", OPTIONS)
def test_invariant_to_affine_maps_of_each_covariate(rng, options):
    # Balancing a + b·x (and its square) is balancing x (and x²): the same weights, estimate and standard errors.
    batch = selection_batch(rng, 3, 200, 3)
    out, _ = kernel_and_twin(NAME, batch, options)
    moved = batch | {
        "controls": rng.uniform(-100, 100, (1, 3, 1)) + rng.uniform(-50, 50, (1, 3, 1)) * batch["controls"]
    }
    out_moved, _ = kernel_and_twin(NAME, moved, options)
    np.testing.assert_allclose(out_moved[:, :MAX_SMD], out[:, :MAX_SMD], rtol=1e-7)


def test_failures_are_statuses(rng):
    batch = selection_batch(rng, 8, 200, 2)
    d, x = batch["treatment"], batch["controls"]
    d[0] = 1.0  # everyone treated
    d[1] = 0.0
    d[1, 0] = 1.0  # one treated unit
    d[2] = 1.0
    d[2, 0] = 0.0  # one control
    d[3] = (x[3, 0] > np.quantile(x[3, 0], 0.8)).astype(float)  # treated beyond every control: infeasible
    x[4, 1] = np.where(d[4] > 0.5, x[4, 1], 3.0)  # a covariate constant among the controls
    x[5, 1] = 2 * x[5, 0] - 1  # collinear covariates
    x[6, 0] = (np.arange(200) % 2).astype(float)  # binary: its treated mean on the hull's boundary when ...
    d[6] = np.where(x[6, 0] > 0.5, d[6], 0.0)  # ... every treated unit has x = 1
    d[6, 1:8:2] = 1.0
    x[7, 0] = (x[7, 0] > np.median(x[7, 0])).astype(float)  # binary, so with moments = 2 (below) x² = x
    expected = [st.NO_VARIATION, st.NO_OVERLAP, st.NO_OVERLAP, st.NO_OVERLAP, st.SINGULAR, st.SINGULAR, st.NO_OVERLAP]
    for se in ("sandwich", "fixed_weights"):
        _, status = kernel_and_twin(NAME, batch, {"se": se}, all_ok=False)
        assert list(status[:7]) == expected and status[7] == st.OK
        _, status = kernel_and_twin(NAME, batch, {"se": se, "moments": 2}, all_ok=False)
        assert list(status[:6]) == expected[:6] and status[6] == status[7] == st.SINGULAR


# The coverage design: x ~ N(0, I₃), a probit treatment dᵢ = 1{α + b'xᵢ + uᵢ > 0} (so E[x | d = 1] is closed-form),
# y = 1 + x₁ + x₂/2 − x₃/2 [+ x₃²/2] + d(2 + x₁/2) + ε: the control outcome is linear in the balanced moments, so
# entropy balancing is consistent for the population ATT 2 + E[x₁ | d = 1]/2 = 2 + b₁φ(a)/(2sΦ(a)), s = √(1 + b'b),
# a = α/s.  Selection is moderate (about 38 % treated, ESS of the controls ≈ 0.8 n₀), n = 1000: the sandwich's
# coverage is ≈ 0.947 here (32,000 replications), 0.943 at n = 500 (a finite-sample shortfall too close to 4 MCSE
# for a test), ≈ 0.92 at n = 500 with stronger selection (α = 0.3, b = (0.5, −0.4, 0.3), 61 % treated).
ALPHA, SLOPES = -0.3, np.array([0.4, -0.3, 0.2])


def probit_batch(rng, n_reps, n, quadratic):
    x = rng.normal(size=(n_reps, 3, n))
    d = (ALPHA + np.einsum("j,rjn->rn", SLOPES, x) + rng.normal(size=(n_reps, n)) > 0).astype(float)
    y = 1 + x[:, 0] + 0.5 * x[:, 1] - 0.5 * x[:, 2] + d * (2 + 0.5 * x[:, 0]) + rng.normal(size=(n_reps, n))
    if quadratic:
        y += 0.5 * x[:, 2] ** 2
    return {"y": y, "treatment": d, "controls": x}


@pytest.mark.parametrize("moments", [1, 2])
def test_sandwich_covers_the_population_att(rng, moments):
    # R = 4000, n = 1000: |coverage − 0.95| ≤ 4·MCSE (0.014) for the sandwich; fixed_weights, ignoring that the
    # balancing removes the covariates' part of the variance, is conservative (coverage ≥ 0.95 − 4·MCSE).
    n_reps, level = 4000, 0.95
    s = np.sqrt(1 + SLOPES @ SLOPES)
    att = 2 + 0.5 * SLOPES[0] * stats.norm.pdf(ALPHA / s) / (s * stats.norm.cdf(ALPHA / s))
    batch = probit_batch(rng, n_reps, 1000, quadratic=moments == 2)
    mcse = np.sqrt(level * (1 - level) / n_reps)
    for se in ("sandwich", "fixed_weights"):
        out, status = run_estimator(NAME, batch, {"se": se, "moments": moments}, truth=np.full((n_reps, 1), att))
        assert (status == st.OK).all()
        coverage = np.mean((out[:, CI_LOW] <= att) & (att <= out[:, CI_HIGH]))
        if se == "sandwich":
            assert abs(coverage - level) <= 4 * mcse, coverage
        else:
            assert coverage >= level - 4 * mcse, coverage
