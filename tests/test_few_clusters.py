"""Inference for few clusters and few treated units: twfe's ``se = cr2 | wild | ri | pairs``, and ``twfe_ar1``.

- The kernel equals its twin (full dummy design, explicit matrices) on
  random panels, from one treated unit to all but one, with Rademacher
  enumeration and random draws, Webb weights and permutations.
- CR2 and its degrees of freedom equal R clubSandwich's ``coef_test(vcov =
  "CR2", test = "Satterthwaite")`` on ``lm`` with unit and period dummies
  (fixtures made once by tests/fixtures/twfe_cr2/make_fixtures.R): no
  further small-sample factor; df under the working model of independent
  homoskedastic errors.
- The wild bootstrap's t statistics and p-value equal wildboottest's
  (``bootstrap_type = "11"``, null imposed) on the same weights; its CR1
  counts every fixed effect in K, as statsmodels with dummies does, and the
  factor cancels in the p-value.
- Randomization inference's t statistics equal statsmodels' clustered t
  (CR1, K = all columns) on each permuted design.
- The pairs bootstrap's t statistics equal statsmodels' on each stacked
  panel; Prais–Winsten FGLS equals statsmodels GLS with Ω = I ⊗ V(ρ̂).
- Randomization inference is exact: with units exchangeable its rejection
  rate under the null is α within 4 MCSE; on iid panels every method
  rejects 5 % within 4 MCSE, but FGLS with its own GLS errors over-rejects
  (ρ̂ biased down by the unit effects).
- The draws come from the estimator's own stream: adding a resampling
  estimator changes no other estimator's numbers.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from wildboottest import wildboottest

from causalmc.estimators.did.conventions import panel_dummies
from causalmc.estimators.did.few_clusters import (
    P_VALUE,
    PAIRS,
    RI,
    WILD,
    reference_draws,
    reference_pairs,
    reference_resampling_parts,
)
from causalmc.sims import api
from conftest import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, assert_close, kernel_and_twin, st

FIXTURES = Path(__file__).parent / "fixtures" / "twfe_cr2"
DOF = 5


def panel(rng, g, t, n_treated, start, reps=1, rho=0.6):
    """A batch of AR(1) panels with unit-specific scales, `n_treated` treated units and a common start."""
    e = np.empty((reps, g, t))
    e[:, :, 0] = rng.standard_normal((reps, g))
    for s in range(1, t):
        e[:, :, s] = rho * e[:, :, s - 1] + rng.standard_normal((reps, g))
    y = (
        rng.standard_normal((reps, g, 1))
        + rng.standard_normal((reps, 1, t))
        + np.exp(rng.standard_normal((reps, g, 1))) * e
    )
    treated = np.zeros((reps, g))
    for r in range(reps):
        treated[r, rng.choice(g, n_treated, replace=False)] = 1.0
    return {"panel_y": y, "treated": treated, "start": np.full(reps, start, dtype=np.int64)}


@pytest.mark.parametrize(
    ("se", "weights", "g", "t", "n_treated", "draws"),
    [
        ("cr2", "rademacher", 6, 4, 1, 99),
        ("cr2", "rademacher", 12, 7, 5, 99),
        ("cr2", "rademacher", 9, 5, 8, 99),
        ("wild", "rademacher", 5, 6, 2, 99),  # 2^5 ≤ B: every sign pattern
        ("wild", "rademacher", 14, 6, 3, 199),
        ("wild", "webb", 6, 5, 1, 99),
        ("wild", "webb", 11, 8, 6, 99),
        ("ri", "rademacher", 10, 6, 1, 99),
        ("ri", "rademacher", 13, 5, 4, 149),
        ("pairs", "rademacher", 8, 5, 2, 99),
        ("pairs", "rademacher", 15, 6, 7, 199),
    ],
)
def test_kernel_equals_twin(rng, se, weights, g, t, n_treated, draws):
    batch = panel(rng, g, t, n_treated, start=int(rng.integers(2, t + 1)), reps=4)
    truth = rng.normal(scale=0.5, size=4)
    out, _ = kernel_and_twin("twfe", batch, {"se": se, "weights": weights, "draws": draws}, truth=truth)
    if se != "cr2":
        p = out[:, P_VALUE]
        assert ((0 < p) & (p <= 1)).all() and (out[:, REJECT] == (p <= 0.05)).all()
        assert (out[:, CI_LOW] < out[:, ESTIMATE]).all() and (out[:, ESTIMATE] < out[:, CI_HIGH]).all()


def test_cr2_matches_clubsandwich():
    """CR2 by unit, no further factor; ν = Bell–McCaffrey under the identity working model (clubSandwich 0.5.8)."""
    data = pd.read_csv(FIXTURES / "datasets.csv")
    expected = pd.read_csv(FIXTURES / "clubsandwich.csv", skipinitialspace=True).set_index("dataset")
    for k, frame in data.groupby("dataset"):
        g, t = frame["unit"].nunique(), frame["period"].nunique()
        batch = {
            "panel_y": frame["y"].to_numpy().reshape(1, g, t),
            "treated": frame.groupby("unit")["treated"].first().to_numpy(float)[None, :],
            "start": np.array([frame["start"].iloc[0]]),
        }
        out, _ = kernel_and_twin("twfe", batch, {"se": "cr2"})
        row = expected.loc[k]
        assert_close(out[0, [ESTIMATE, SE, DOF]], row[["estimate", "se", "df"]].to_numpy(float), what=f"dataset {k}")


def _design(batch):
    g, t = batch["panel_y"].shape[1:]
    unit, period, dummies = panel_dummies(g, t)
    post = (period >= batch["start"][0]).astype(float)
    d = np.repeat(batch["treated"][0], t) * post
    return np.column_stack([d, dummies]), batch["panel_y"][0].reshape(-1), unit, post


@pytest.mark.parametrize(("g", "weights", "n_treated"), [(8, "rademacher", 3), (15, "webb", 4), (20, "rademacher", 9)])
def test_wild_matches_wildboottest(rng, g, weights, n_treated):
    """Same weights: wildboottest's WCR11 t statistics and two-tailed p-value (H0: β = 0)."""
    batch = panel(rng, g, 6, n_treated, start=4)
    X, y, unit, post = _design(batch)
    draws = reference_draws(np.random.default_rng(7), WILD, weights, 99, g)
    parts, observed = reference_resampling_parts(X, y, unit, batch["treated"][0], post, WILD, draws)
    n, k = X.shape
    factor = (n - 1) / (n - k) * g / (g - 1)
    boot = wildboottest.WildboottestCL(X=X, Y=y, cluster=unit, R=np.eye(k)[0], B=len(draws), seed=1, parallel=False)
    boot.get_scores(bootstrap_type="11", impose_null=True)
    boot.v, boot.B = draws.T, len(draws)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    assert_close(parts[:, 0] / np.sqrt(factor * parts[:, 2]), np.ravel(boot.t_boot), what="bootstrap t")
    assert_close(observed[0] / np.sqrt(factor * observed[2]), np.ravel(boot.t_stat), what="t")
    out, _ = kernel_and_twin("twfe", batch, {"se": "wild", "weights": weights, "draws": 99}, truth=np.zeros(1))
    # run_estimator seeds the estimator's stream with 0: draw the same weights for the p-value
    same = reference_draws(np.random.default_rng(0), WILD, weights, 99, g)
    boot.v = same.T
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_pvalue(pval_type="two-tailed")
    assert out[0, P_VALUE] == pytest.approx(boot.pvalue, abs=1e-12)


def test_ri_matches_statsmodels(rng):
    """Each permutation's t = statsmodels' clustered t (CR1, K = every column) of y − β0·D on the permuted design."""
    g, beta0 = 10, 0.3
    batch = panel(rng, g, 5, 3, start=3)
    X, y, unit, post = _design(batch)
    treated = batch["treated"][0]
    draws = reference_draws(np.random.default_rng(0), RI, "rademacher", 39, g)
    parts, observed = reference_resampling_parts(X, y, unit, treated, post, RI, draws)
    n, k = X.shape
    factor = (n - 1) / (n - k) * g / (g - 1)

    def t_of(a, b, q0, q1, q2):
        return (a - beta0 * b) / np.sqrt(factor * (q0 - 2 * beta0 * q1 + beta0**2 * q2))

    adjusted = y - beta0 * X[:, 0]
    ts = []
    for draw in draws:
        permuted = X.copy()
        permuted[:, 0] = treated[draw][unit] * post
        fit = sm.OLS(adjusted, permuted).fit(cov_type="cluster", cov_kwds={"groups": unit})
        ts.append(fit.tvalues[0])
    assert_close(t_of(*parts.T), np.array(ts), what="permutation t")
    t0 = sm.OLS(adjusted, X).fit(cov_type="cluster", cov_kwds={"groups": unit}).tvalues[0]
    assert_close(t_of(*observed), t0, what="t")
    out, _ = kernel_and_twin("twfe", batch, {"se": "ri", "draws": 39}, truth=np.full(1, beta0))
    assert out[0, P_VALUE] == pytest.approx((1 + np.sum(np.abs(ts) >= abs(t0) * (1 - 1e-10))) / 40, abs=1e-12)


def test_pairs_matches_statsmodels(rng):
    """Each usable draw's |t*| = statsmodels' clustered |t| (CR1, K = every column, times √factor) of the stacked panel
    of the drawn units, each copy its own unit and cluster, centred at β̂."""
    g, t = 9, 5
    batch = panel(rng, g, t, 3, start=3)
    X, y, unit, post = _design(batch)
    draws = reference_draws(np.random.default_rng(0), PAIRS, "rademacher", 30, g)
    t_draws, estimate, _ = reference_pairs(X, y, unit, draws)
    _, _, dummies = panel_dummies(g, t)
    factor = (g * t - 1) / (g * t - X.shape[1]) * g / (g - 1)
    expected = []
    for draw in draws:
        d_rows = X[:, 0].reshape(g, t)[draw].reshape(-1)
        if np.ptp(d_rows.reshape(g, t).sum(axis=1)) == 0:
            continue  # every drawn unit treated, or none: no D left beside the period effects
        fit = sm.OLS(y.reshape(g, t)[draw].reshape(-1), np.column_stack([d_rows, dummies])).fit(
            cov_type="cluster", cov_kwds={"groups": unit}
        )
        expected.append(abs(fit.params[0] - estimate) / fit.bse[0] * np.sqrt(factor))
    assert len(expected) == len(t_draws) > 20
    assert_close(t_draws, np.array(expected), what="pairs |t*|")


def test_randomization_inference_is_exact():
    """Units exchangeable, treatment assigned at random: P(p ≤ α) = α (α(B + 1) an integer), within 4 MCSE."""
    rng = np.random.default_rng(2026)
    reps, g = 4000, 16
    batch = panel(rng, g, 6, 8, start=4, reps=reps, rho=0.9)
    # exchangeable units: one scale for all (panel() gives unit-specific ones; the permutation test needs none)
    batch["panel_y"] = rng.standard_normal((reps, g, 1)) + np.cumsum(rng.standard_normal((reps, g, 6)), axis=2)
    from conftest import run_estimator

    out, status = run_estimator("twfe", batch, {"se": "ri", "draws": 99}, truth=np.zeros(reps))
    assert (status == st.OK).all()
    rate = out[:, REJECT].mean()
    mcse = np.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) <= 4 * mcse, (rate, mcse)


def test_resampling_has_its_own_stream(tmp_path):
    """Adding twfe with se = wild leaves the other estimators' records as they were."""
    text = (
        'name = "s"\ndgp = "did_panel"\nreps = 40\nseed = 5\nchunk_size = 20\n'
        "[params]\nn_units = 12\nn_periods = 6\nstart_min = 3\nstart_max = 5\n"
    )
    alone = tmp_path / "alone.toml"
    alone.write_text(text + '[[estimators]]\nname = "twfe"\nse = "cluster"\n')
    both = tmp_path / "both.toml"
    both.write_text(
        text + '[[estimators]]\nname = "twfe"\nse = "cluster"\n'
        '[[estimators]]\nname = "twfe"\nlabel = "twfe_wild"\nse = "wild"\ndraws = 99\n'
    )
    first = api.run(alone, out=tmp_path / "a", progress=False, figures=False).records()
    second = api.run(both, out=tmp_path / "b", progress=False, figures=False).records()
    keep = second[second["estimator"] == first["estimator"].iloc[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        first.drop(columns="estimator").reset_index(drop=True), keep.drop(columns="estimator"), check_dtype=False
    )
    wild = second[second["estimator"] == "twfe_wild"]
    assert (wild["status"] == "ok").all() and wild["p_value"].between(0, 1).all()
    again = api.run(both, out=tmp_path / "c", jobs=2, progress=False, figures=False).records()
    pd.testing.assert_frame_equal(second.reset_index(drop=True), again.reset_index(drop=True))


def test_size_on_iid_panels():
    """On synthetic panels with iid normal errors (G = 30, T = 8, half treated, a placebo law), every method's
    rejection rate of the true null is 5 % within 4 MCSE (RI is exact; the others asymptotically right and, here,
    close); Prais–Winsten FGLS with clustered errors too, with its own GLS errors not (ρ̂'s Nickell bias)."""
    from conftest import run_estimator

    rng = np.random.default_rng(20261201)
    reps, g, t = 3000, 30, 8
    batch = {
        "panel_y": rng.standard_normal((reps, g, 1)) + rng.standard_normal((reps, g, t)),
        "treated": np.tile(np.repeat([1.0, 0.0], g // 2), (reps, 1)),
        "start": rng.integers(3, t, size=reps),
    }
    mcse = np.sqrt(0.05 * 0.95 / reps)
    # FGLS: with unit effects ρ̂ is biased down by about (1 + ρ)/(T − 1) (Nickell 1981; here −0.15 for ρ = 0), so
    # its own GLS errors over-reject even on iid panels (8 %); clustered by unit it holds 5 %.
    out, status = run_estimator("twfe_ar1", batch, {"se": "classical"}, truth=np.zeros(reps))
    assert (status == st.OK).all() and out[:, REJECT].mean() - 4 * mcse > 0.05
    assert out[:, DOF].mean() < -0.1  # the rho column: ρ̂ averages −0.15
    out, status = run_estimator("twfe_ar1", batch, {"se": "cluster"}, truth=np.zeros(reps))
    assert abs(out[:, REJECT].mean() - 0.05) <= 4 * mcse, ("twfe_ar1 cluster", out[:, REJECT].mean(), mcse)
    for se in ("cluster", "cr2", "wild", "ri", "pairs"):
        for weights in ("rademacher", "webb") if se == "wild" else ("rademacher",):
            out, status = run_estimator(
                "twfe", batch, {"se": se, "weights": weights, "draws": 199}, truth=np.zeros(reps)
            )
            assert (status == st.OK).all(), se
            rate = out[:, REJECT].mean()
            assert abs(rate - 0.05) <= 4 * mcse, (se, weights, rate, mcse)


@pytest.mark.parametrize("se", ["classical", "cluster"])
def test_twfe_ar1_matches_statsmodels_gls(rng, se):
    """Prais–Winsten FGLS = statsmodels GLS with Ω = I ⊗ V(ρ̂), V_ts = ρ̂^|t−s|/(1 − ρ̂²), ρ̂ the pooled no-intercept
    AR(1) coefficient of the dummy-variable OLS residuals; classical: df NT − G − T; cluster: CR1, K = every column."""
    from scipy import linalg

    g, t = 12, 7
    batch = panel(rng, g, t, 5, start=4, reps=3, rho=0.7)
    batch["start"] = np.array([2, 4, 6])
    out, _ = kernel_and_twin("twfe_ar1", batch, {"se": se})
    unit, period, dummies = panel_dummies(g, t)
    for r in range(3):
        d = np.repeat(batch["treated"][r], t) * (period >= batch["start"][r])
        X, y = np.column_stack([d, dummies]), batch["panel_y"][r].reshape(-1)
        resid = sm.OLS(y, X).fit().resid.reshape(g, t)
        rho = np.sum(resid[:, 1:] * resid[:, :-1]) / np.sum(resid[:, :-1] ** 2)
        lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
        model = sm.GLS(y, X, sigma=linalg.block_diag(*[rho**lags / (1 - rho**2)] * g))
        fit = model.fit() if se == "classical" else model.fit(cov_type="cluster", cov_kwds={"groups": unit})
        assert_close(out[r, [ESTIMATE, SE, DOF]], [fit.params[0], fit.bse[0], rho], what=f"rep {r}")
