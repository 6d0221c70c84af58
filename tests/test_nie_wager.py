"""The `nie_wager` DGP (Nie & Wager 2021, setups A–D): its formulas, moments and truths, and through the seam.

Monte Carlo claims are |simulated − expected| ≤ 4·MCSE, the MCSE that of a
mean (or variance) of the independent units or replications drawn; the
expected values are computed here independently of the module (scipy
quadrature, closed forms), not read from it, except `POPULATION_ATE`, which
is itself held to them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import write_scenario
from scipy import integrate, special, stats

import causalmc
from causalmc.sims import dgps
from causalmc.sims.dgps import nie_wager


def within_4_mcse(simulated, expected, mcse):
    assert abs(simulated - expected) <= 4 * mcse, (simulated, expected, mcse)


def nuisances(setup: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(b, e, τ) of the paper's setups for covariates x of shape (p, …), written from the paper and run_simu.R."""
    x1, x2, x3, x4, x5 = x[:5]
    if setup == "A":
        s = np.sin(np.pi * x1 * x2)
        return s + 2 * (x3 - 0.5) ** 2 + x4 + 0.5 * x5, np.clip(s, 0.1, 0.9), (x1 + x2) / 2
    if setup == "B":
        b = np.maximum.reduce([np.zeros_like(x1), x1 + x2, x3]) + np.maximum(0, x4 + x5)
        return b, np.full_like(x1, 0.5), x1 + np.logaddexp(0, x2)
    if setup == "C":
        return 2 * np.logaddexp(0, x1 + x2 + x3), special.expit(-(x2 + x3)), np.ones_like(x1)
    h3, h2 = np.maximum(x1 + x2 + x3, 0), np.maximum(x4 + x5, 0)
    return (h3 + h2) / 2, 1 / (1 + np.exp(-x1) + np.exp(-x2)), h3 - h2


def test_population_ates_are_the_expectations_of_tau():
    """A: E(X1 + X2)/2 = 1/2; B: E log(1 + e^Z), Z ~ N(0, 1), by quadrature; C: 1; D: E max(S3, 0) − E max(S2, 0)
    with S_k ~ N(0, k), each by quadrature."""

    def hinge(var):
        return integrate.quad(lambda s: max(s, 0.0) * stats.norm.pdf(s, scale=math.sqrt(var)), 0, 60)[0]

    softplus = integrate.quad(lambda z: np.logaddexp(0, z) * stats.norm.pdf(z), -40, 40, epsabs=1e-13)[0]
    expected = {"A": 0.5, "B": softplus, "C": 1.0, "D": hinge(3.0) - hinge(2.0)}
    for setup, value in expected.items():
        assert nie_wager.POPULATION_ATE[setup] == pytest.approx(value, abs=1e-7), setup


@pytest.mark.parametrize("setup", nie_wager.SETUPS)
def test_each_setup_draws_its_formulas_and_its_truths_average_to_the_population_ate(setup, rng):
    n_reps, n, p, sigma = 60, 400, 6, 2.0
    batch = dgps.registry()["nie_wager"].generate(rng, n_reps, {"setup": setup, "n": n, "p": p, "sigma": sigma})
    x, w, y = batch["controls"], batch["treatment"], batch["y"]
    assert x.shape == (n_reps, p, n) and (batch["x"] == w).all() and set(np.unique(w)) <= {0.0, 1.0}
    units = n_reps * n
    # covariates: U(0, 1) in A (mean 1/2, variance 1/12), N(0, 1) otherwise; every column, pooled
    flat = x.transpose(1, 0, 2).reshape(p, -1)
    if setup == "A":
        assert flat.min() >= 0 and flat.max() < 1
        mean, var = 0.5, 1 / 12
        var_mcse = math.sqrt((1 / 80 - var**2) / units)  # fourth central moment of U(0, 1): 1/80
    else:
        mean, var = 0.0, 1.0
        var_mcse = math.sqrt(2 / units)
    for column in flat:
        within_4_mcse(column.mean(), mean, math.sqrt(var / units))
        within_4_mcse(column.var(), var, var_mcse)
    # the provided nuisances are the paper's functions of the drawn covariates
    b, e, tau = nuisances(setup, x.transpose(1, 0, 2))
    for name, value in (("baseline", b), ("propensity", e), ("cate", tau)):
        np.testing.assert_allclose(batch[name], value, rtol=1e-12, atol=1e-12, err_msg=name)
    # W ~ Bernoulli(e(X)); Y = b + (W − 1/2)τ + σε with ε ~ N(0, 1)
    within_4_mcse((w - e).mean(), 0.0, math.sqrt((e * (1 - e)).mean() / units))
    noise = (y - b - (w - 0.5) * tau).ravel() / sigma
    within_4_mcse(noise.mean(), 0.0, 1 / math.sqrt(units))
    within_4_mcse(noise.var(), 1.0, math.sqrt(2 / units))
    # truths: the sample ATE and ATT of each replication; the sample ATE averages to the population ATE
    truths = dgps.pop_truths(batch, "ate")
    np.testing.assert_allclose(truths["ate"], tau.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(truths["att"], (tau * w).sum(axis=1) / w.sum(axis=1), rtol=1e-12)
    ate = truths["ate"]
    if setup == "C":
        assert (ate == 1.0).all()
    else:
        within_4_mcse(ate.mean(), nie_wager.POPULATION_ATE[setup], ate.std(ddof=1) / math.sqrt(n_reps))


SCENARIO = (
    'dgp = "nie_wager"\nestimators = ["diff_means", "ipw", "aipw", "dml_plr"]\n'
    '[params]\nn = 300\nsigma = 0.5\n[grid]\nsetup = ["A", "B", "C", "D"]\n'
)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nie_wager")
    path = write_scenario(folder, "nie_wager", SCENARIO, reps=3)
    return path, causalmc.run(path, out=folder / "runs", jobs=1, progress=False, figures=False)


def test_sample_shows_the_covariates_the_oracle_nuisances_and_the_sample_truths(scenario):
    path, _ = scenario
    for setup in nie_wager.SETUPS:
        frame = causalmc.sample(path, cell={"setup": setup}, rep=1)
        controls = [f"w{j}" for j in range(1, 7)]  # the default p = 6
        assert list(frame.columns) == ["y", "x", "treatment", "d", *controls, "propensity", "baseline", "cate"]
        assert len(frame) == 300 and (frame["x"] == frame["treatment"]).all() and (frame["d"] == frame["x"]).all()
        b, e, tau = nuisances(setup, frame[controls].to_numpy().T)
        np.testing.assert_allclose(frame[["baseline", "propensity", "cate"]].to_numpy(), np.c_[b, e, tau], rtol=1e-12)
        treated = frame["treatment"].to_numpy() == 1
        truths = frame.attrs["truths"]
        assert truths["ate"] == pytest.approx(tau.mean(), rel=1e-12)
        assert truths["att"] == pytest.approx(tau[treated].mean(), rel=1e-12)
        noise = (frame["y"] - b - (frame["treatment"] - 0.5) * tau).to_numpy()  # N(0, σ² = 0.25)
        within_4_mcse(noise.mean(), 0.0, 0.5 / math.sqrt(noise.size))
        within_4_mcse(noise.var(), 0.25, 0.25 * math.sqrt(2 / noise.size))


def test_a_run_records_the_sample_truths_and_the_weighting_estimators_run_on_its_arrays(scenario):
    """ipw and aipw read y, treatment and the controls (the default `adjust`), dml_plr y, d and the controls;
    `estimate` on a sample repeats a record."""
    path, run = scenario
    records = run.records()
    assert len(records) == 4 * 3 * 4 and (records["status"] == "ok").all(), records["status"].value_counts()
    for (setup, rep), rows in records.groupby(["setup", "rep"], observed=True):
        frame = causalmc.sample(path, cell={"setup": setup}, rep=int(rep))
        assert (rows["term"] == "ate").all() and (rows["truth"] == frame.attrs["truths"]["ate"]).all()
        record = rows.set_index("estimator").loc["aipw", "estimate"]
        again = causalmc.estimate("aipw", frame).set_index("term").loc["ate", "estimate"]
        assert again == record
