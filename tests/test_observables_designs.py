"""The selection-on-observables designs: what each DGP draws, and its truths.

Monte Carlo claims are |simulated − expected| ≤ 4·MCSE, the MCSE that of a
mean of the simulated units (or replications) drawn.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, special, stats

from causalmc.sims import dgps
from causalmc.sims.dgps import kidney_stones


def draw(name, rng, n_reps, **params):
    dgp = dgps.registry()[name]
    chosen = {p.name: p.default for p in dgp.params} | params
    batch = dgp.generate(rng, n_reps, chosen)
    return batch, dgps.pop_truths(batch, dgp.estimand)


def assert_within_mcse(simulated, expected, mcse):
    simulated, expected, mcse = map(np.asarray, (simulated, expected, mcse))
    assert (np.abs(simulated - expected) <= 4 * mcse).all(), (simulated, expected, mcse)


def test_kidney_stones_reproduce_the_published_table(rng):
    # Julious & Mullee (1994): patients per (stone size, treatment) and the success rate of each.
    batch, truths = draw("kidney_stones", rng, 400, n=700)
    size, treated, success = batch["stone_size"].ravel(), batch["treatment"].ravel(), batch["y"].ravel()
    units = size.size
    for s in (0, 1):
        for a in (0, 1):
            cell = (size == s) & (treated == a)
            share = kidney_stones.COUNTS[s, a, 1] / kidney_stones.COUNTS[:, :, 1].sum()
            assert_within_mcse(cell.mean(), share, np.sqrt(share * (1 - share) / units))
            rate = kidney_stones.SUCCESS[s, a]
            assert_within_mcse(success[cell].mean(), rate, np.sqrt(rate * (1 - rate) / cell.sum()))
    # The paradox: A better within each size and worse overall (in the population the table describes).
    assert (kidney_stones.SUCCESS[:, 1] > kidney_stones.SUCCESS[:, 0]).all()
    overall = kidney_stones.COUNTS[:, :, 0].sum(axis=0) / kidney_stones.COUNTS[:, :, 1].sum(axis=0)
    assert overall[1] < overall[0]
    # Truths: the sample ATE averages to Σ P(s)(p(A, s) − p(B, s)); it is the mean of Y(1) − Y(0) per replication.
    ate = truths["ate"]
    assert_within_mcse(ate.mean(), kidney_stones.EXPECTED_ATE, ate.std(ddof=1) / np.sqrt(ate.size))
    assert np.isclose(kidney_stones.EXPECTED_ATE, 0.0536712, atol=1e-7)


def test_observables_truths_are_the_sample_effects(rng):
    batch, truths = draw("observables", rng, 50, n=300, tau=0.7, tau_het=1.3, alpha=-0.4, gamma=1.5)
    x1, t = batch["controls"][:, 0], batch["treatment"]
    np.testing.assert_allclose(truths["ate"], 0.7 + 1.3 * x1.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(truths["att"], 0.7 + 1.3 * (x1 * t).sum(axis=1) / t.sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(batch["x"], batch["treatment"])


def test_observables_draws_its_logit_score(rng):
    alpha, gamma = -1.0, 2.0
    batch, _ = draw("observables", rng, 200, n=500, alpha=alpha, gamma=gamma, nonlinear=0.5, sigma=2.0)
    t = batch["treatment"].ravel()
    expected, _ = integrate.quad(lambda x: special.expit(alpha + gamma * x) * stats.norm.pdf(x), -12, 12)
    assert_within_mcse(t.mean(), expected, np.sqrt(expected * (1 - expected) / t.size))
    x = batch["controls"]
    assert_within_mcse(x.mean(axis=(0, 2)), 0.0, 1 / np.sqrt(x.shape[0] * x.shape[2]))
    # Y(0) of the controls: its residual after the known mean has the stated sd
    controls = t == 0
    x1, rest = x[:, 0].ravel(), x[:, 1:].sum(axis=1).ravel()
    noise = (batch["y"].ravel() - x1 - 0.5 * rest - 0.5 * x1**2)[controls]
    assert_within_mcse(noise.var(), 4.0, np.sqrt(2 * 16 / noise.size))


def test_kang_schafer_transforms_and_score(rng):
    batch, truths = draw("kang_schafer", rng, 100, n=400, tau=3.0)
    z = np.stack([batch[f"z{j}"] for j in range(1, 5)], axis=1)
    x = np.stack(
        [
            np.exp(z[:, 0] / 2),
            z[:, 1] / (1 + np.exp(z[:, 0])) + 10,
            (z[:, 0] * z[:, 2] / 25 + 0.6) ** 3,
            (z[:, 1] + z[:, 3] + 20) ** 2,
        ],
        axis=1,
    )
    np.testing.assert_allclose(batch["controls"], x, rtol=1e-14)
    for j in range(4):
        np.testing.assert_array_equal(batch[f"x{j + 1}"], batch["controls"][:, j])
    np.testing.assert_array_equal(truths["ate"], 3.0)
    np.testing.assert_array_equal(truths["att"], 3.0)
    # P(T = 1) = E expit(−Z1 + 0.5 Z2 − 0.25 Z3 − 0.1 Z4) = 1/2 by symmetry; the outcome's noise is N(0, 1)
    t = batch["treatment"].ravel()
    assert_within_mcse(t.mean(), 0.5, np.sqrt(0.25 / t.size))
    mean = 210 + 27.4 * z[:, 0] + 13.7 * z[:, 1:].sum(axis=1) + 3.0 * batch["treatment"]
    noise = (batch["y"] - mean).ravel()
    assert_within_mcse([noise.mean(), noise.var()], [0.0, 1.0], [1 / np.sqrt(noise.size), np.sqrt(2 / noise.size)])


def test_lunceford_davidian_moments(rng):
    from causalmc.sims.dgps import lunceford_davidian as ld

    batch, truths = draw("lunceford_davidian", rng, 100, n=1000)
    np.testing.assert_array_equal(truths["ate"], 2.0)
    x = batch["controls"].transpose(1, 0, 2).reshape(6, -1)
    x1, x2, x3, v1, v2, v3 = x
    units = x3.size
    assert_within_mcse(x3.mean(), 0.2, np.sqrt(0.16 / units))
    for group, sign in ((x3 == 1, 1.0), (x3 == 0, -1.0)):
        block = np.stack([x1, v1, x2, v2])[:, group]
        m = group.sum()
        assert_within_mcse(block.mean(axis=1), sign * ld.TAU1, np.sqrt(np.diag(ld.SIGMA) / m))
        cov = np.cov(block)
        # MCSE of a sample covariance of normals: √((σ_ab² + σ_aa σ_bb)/m)
        s = ld.SIGMA
        assert_within_mcse(cov, s, np.sqrt((s**2 + np.outer(np.diag(s), np.diag(s))) / m))
        p3 = 0.75 if sign > 0 else 0.25
        assert_within_mcse(v3[group].mean(), p3, np.sqrt(p3 * (1 - p3) / m))
    # the outcome's residual given its stated mean is N(0, 1); the treatment follows the stated logit
    t, y = batch["treatment"].ravel(), batch["y"].ravel()
    beta, xi, nu = ld.BETA["strong"], ld.XI["strong"], ld.NU
    residual = y - (nu[1] * x1 + nu[2] * x2 + nu[3] * x3 + nu[4] * t + xi[0] * v1 + xi[1] * v2 + xi[2] * v3)
    assert_within_mcse([residual.mean(), residual.var()], [0.0, 1.0], [1 / np.sqrt(units), np.sqrt(2 / units)])
    score = special.expit(beta[1] * x1 + beta[2] * x2 + beta[3] * x3)
    assert_within_mcse(t.mean(), score.mean(), np.sqrt(np.mean(score * (1 - score)) / units))
