"""DiD kernels ≡ twins ≡ statsmodels / linearmodels / pyfixest on random balanced panels.

Degrees-of-freedom conventions held, per estimator:
- did / before_after / post_gap: statsmodels OLS on the stacked rows with
  the saturated design; classical σ̂² = SSR/(N − K); HC0 … HC3 as
  statsmodels ``cov_type="HC0"`` … ``"HC3"`` (HC1 = HC0·N/(N − K));
  cluster (by unit) CR1 = CR0·G/(G − 1)·(N − 1)/(N − K); intervals t(N − K),
  or t(G − 1) with clusters (statsmodels ``use_t=True``).
- twfe classical: SSR/(NT − G − T), t on the same df = statsmodels OLS with
  unit and period dummies, and pyfixest ``vcov="iid"``.
- twfe cluster: K = G + T (every fixed effect counted) = statsmodels with
  dummies ``cov_type="cluster"`` and linearmodels ``PanelOLS(...,
  entity_effects=True, time_effects=True).fit(cov_type="clustered",
  cluster_entity=True, debiased=True, group_debias=True)``.
- twfe cluster_nested: K = 1 + T (unit effects nested in the clusters count
  as one) = pyfixest ``feols("y ~ D | unit + period", vcov={"CRV1": "unit"})``,
  intervals t(G − 1).
- pretrend: the same conventions with the leads; the joint test W/q against
  F(q, G − 1) = statsmodels ``f_test`` after clustering; pyfixest's
  ``wald_test`` of the leads returns W.
- twfe_collapsed: BDM's procedure done literally with statsmodels (residualise
  on unit and period dummies, collapse, two-period regression with unit dummies).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, assert_close, kernel_and_twin, run_estimator, st
from linearmodels.panel import PanelOLS
from scipy import stats

pf = pytest.importorskip("pyfixest")


def random_panel(rng, n_reps, g, t, start_range, share=0.5, rho=0.5):
    """Unit, period and AR(1) error components with heteroskedasticity across units."""
    n_treated = max(1, round(share * g))
    treated = np.zeros((n_reps, g))
    treated[:, :n_treated] = 1.0
    start = rng.integers(start_range[0], start_range[1] + 1, size=n_reps)
    y = np.empty((n_reps, g, t))
    for r in range(n_reps):
        eps = np.zeros((g, t))
        scale = rng.uniform(0.5, 2.0, size=g)
        for s in range(t):
            eps[:, s] = (rho * eps[:, s - 1] if s else 0) + scale * rng.normal(size=g)
        post = np.arange(1, t + 1) >= start[r]
        trend = 0.1 * (np.arange(1, t + 1) - start[r])
        y[r] = (
            rng.normal(size=(g, 1)) + rng.normal(size=(1, t)) + 0.4 * treated[r][:, None] * (post + trend) + eps + 10.0
        )
    return {"panel_y": y, "treated": treated, "start": start}


def long_frame(batch, r):
    y = batch["panel_y"][r]
    g, t = y.shape
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(g), t),
            "period": np.tile(np.arange(1, t + 1), g),
            "y": y.reshape(-1),
            "treated": np.repeat(batch["treated"][r], t),
        }
    )
    frame["post"] = (frame["period"] >= batch["start"][r]).astype(float)
    frame["D"] = frame["treated"] * frame["post"]
    return frame


def statsmodels_fit(y, X, groups, se):
    model = sm.OLS(y, X)
    if se == "classical":
        return model.fit()
    if se.startswith("hc"):
        return model.fit(cov_type=se.upper(), use_t=True)
    return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)


@pytest.mark.parametrize("name", ["did", "before_after", "post_gap"])
@pytest.mark.parametrize("se", ["classical", "hc0", "hc1", "hc2", "hc3", "cluster"])
@pytest.mark.parametrize("g, t, starts", [(10, 2, (2, 2)), (30, 6, (2, 6)), (12, 9, (3, 8))])
def test_pooled_comparisons_match_statsmodels(rng, name, se, g, t, starts):
    batch = random_panel(rng, 8, g, t, starts)
    truth = np.full(8, 0.4)
    out, _ = kernel_and_twin(name, batch, {"se": se}, level=0.9, truth=truth)
    for r in range(8):
        f = long_frame(batch, r)
        if name == "did":
            X, rows, column = sm.add_constant(f[["treated", "post", "D"]]), f, "D"
        elif name == "before_after":
            rows = f[f["treated"] == 1]
            X, column = sm.add_constant(rows[["post"]]), "post"
        else:
            rows = f[f["post"] == 1]
            X, column = sm.add_constant(rows[["treated"]]), "treated"
        fit = statsmodels_fit(rows["y"], X.loc[rows.index], rows["unit"], se)
        ci = fit.conf_int(alpha=0.1).loc[column]
        assert_close(
            out[r, [ESTIMATE, SE, CI_LOW, CI_HIGH]],
            [fit.params[column], fit.bse[column], ci[0], ci[1]],
            what=f"{name} {se} rep {r}",
        )
        assert out[r, REJECT] == float(not ci[0] <= 0.4 <= ci[1])


def test_did_pooled_estimate_is_the_difference_of_differences(rng):
    batch = random_panel(rng, 5, 20, 2, (2, 2))
    out, _ = run_estimator("did", batch)
    y, d = batch["panel_y"], batch["treated"][0] == 1
    expected = (y[:, d, 1].mean(1) - y[:, d, 0].mean(1)) - (y[:, ~d, 1].mean(1) - y[:, ~d, 0].mean(1))
    assert_close(out[:, ESTIMATE], expected)


@pytest.mark.parametrize("se", ["classical", "cluster", "cluster_nested"])
@pytest.mark.parametrize("g, t, starts, share", [(10, 2, (2, 2), 0.5), (20, 8, (3, 7), 0.3), (50, 20, (6, 15), 0.5)])
def test_twfe_matches_statsmodels_linearmodels_pyfixest(rng, se, g, t, starts, share):
    batch = random_panel(rng, 5, g, t, starts, share)
    truth = np.full(5, 0.4)
    out, _ = kernel_and_twin("twfe", batch, {"se": se}, level=0.95, truth=truth)
    for r in range(5):
        f = long_frame(batch, r)
        dummies = pd.get_dummies(f[["unit", "period"]].astype(str), drop_first=True, dtype=float)
        X = sm.add_constant(pd.concat([f[["D"]], dummies], axis=1))
        if se in ("classical", "cluster"):
            fit = statsmodels_fit(f["y"], X, f["unit"], se)
            ci = fit.conf_int(alpha=0.05).loc["D"]
            assert_close(
                out[r, [ESTIMATE, SE, CI_LOW, CI_HIGH]],
                [fit.params["D"], fit.bse["D"], ci[0], ci[1]],
                what=f"statsmodels {se}",
            )
        if se == "cluster":
            panel = f.set_index(["unit", "period"])
            lm = PanelOLS(panel["y"], panel[["D"]], entity_effects=True, time_effects=True).fit(
                cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True
            )
            assert_close(out[r, [ESTIMATE, SE]], [lm.params["D"], lm.std_errors["D"]], what="PanelOLS")
        if se in ("classical", "cluster_nested"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fx = pf.feols("y ~ D | unit + period", data=f, vcov="iid" if se == "classical" else {"CRV1": "unit"})
            ci = fx.confint(alpha=0.05).loc["D"]
            assert_close(
                out[r, [ESTIMATE, SE, CI_LOW, CI_HIGH]],
                [fx.coef()["D"], fx.se()["D"], ci.iloc[0], ci.iloc[1]],
                what=f"pyfixest {se}",
            )


@pytest.mark.parametrize("se", ["cluster", "cluster_nested"])
def test_pretrend_event_study_matches_statsmodels_and_pyfixest(rng, se):
    g, t = 30, 10
    batch = random_panel(rng, 6, g, t, (4, 9))
    truth = np.full(6, 0.4)
    out, _ = kernel_and_twin("pretrend", batch, {"se": se}, level=0.95, truth=truth)
    hot, _ = kernel_and_twin("pretrend", batch, {"se": se, "test": "hotelling"}, level=0.95, truth=truth)
    for r in range(6):
        f = long_frame(batch, r)
        t0 = batch["start"][r]
        leads = []
        for e in range(-2, -t0, -1):
            f[f"lead{-e}"] = f["treated"] * (f["period"] == t0 + e)
            leads.append(f"lead{-e}")
        assert out[r, 6] == len(leads) == t0 - 2
        if se == "cluster":
            dummies = pd.get_dummies(f[["unit", "period"]].astype(str), drop_first=True, dtype=float)
            X = sm.add_constant(pd.concat([f[["D", *leads]], dummies], axis=1))
            fit = statsmodels_fit(f["y"], X, f["unit"], "cluster")
            test = fit.f_test(np.eye(X.shape[1])[[X.columns.get_loc(c) for c in leads]])
            assert_close([out[r, ESTIMATE], out[r, SE], out[r, 5]], [fit.params["D"], fit.bse["D"], test.fvalue])
            assert out[r, REJECT] == float(test.pvalue < 0.05)
            # Hotelling scaling of the same statistic: F = W(G − q)/(q(G − 1)) against F(q, G − q).
            q = len(leads)
            scaled = test.fvalue * (g - q) / (g - 1)
            assert hot[r, REJECT] == float(stats.f.sf(scaled, q, g - q) < 0.05)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fx = pf.feols(f"y ~ D + {' + '.join(leads)} | unit + period", data=f, vcov={"CRV1": "unit"})
                R = np.eye(1 + len(leads))[1:]
                wald = fx.wald_test(R=R)
            assert_close([out[r, ESTIMATE], out[r, SE]], [fx.coef()["D"], fx.se()["D"]])
            assert_close(out[r, 5] * len(leads), wald["statistic"], what="pyfixest W")
            assert out[r, REJECT] == float(out[r, 5] > stats.f.ppf(0.95, len(leads), g - 1))


@pytest.mark.parametrize("se", ["classical", "hc1"])
def test_collapsed_is_bdm_done_literally(rng, se):
    g, t = 16, 8
    batch = random_panel(rng, 6, g, t, (3, 7), share=0.4)
    truth = np.full(6, 0.4)
    out, _ = kernel_and_twin("twfe_collapsed", batch, {"se": se}, level=0.9, truth=truth)
    twfe, _ = run_estimator("twfe", batch)
    assert_close(out[:, ESTIMATE], twfe[:, ESTIMATE], what="collapsing keeps the TWFE estimate")
    for r in range(6):
        f = long_frame(batch, r)
        fe = pd.get_dummies(f[["unit", "period"]].astype(str), drop_first=True, dtype=float)
        f["resid"] = sm.OLS(f["y"], sm.add_constant(fe)).fit().resid
        two = f.groupby(["unit", "post"], as_index=False).agg(resid=("resid", "mean"), treated=("treated", "first"))
        two["D"] = two["treated"] * two["post"]
        X = sm.add_constant(
            pd.concat(
                [two[["D", "post"]], pd.get_dummies(two["unit"].astype(str), drop_first=True, dtype=float)], axis=1
            )
        )
        fit = statsmodels_fit(two["resid"], X, None, se)
        ci = fit.conf_int(alpha=0.1).loc["D"]
        assert_close(out[r, [ESTIMATE, SE, CI_LOW, CI_HIGH]], [fit.params["D"], fit.bse["D"], ci[0], ci[1]])


@pytest.mark.parametrize(
    "name, se",
    [
        ("did", "cluster"),
        ("before_after", "classical"),
        ("post_gap", "hc1"),
        ("twfe", "cluster"),
        ("twfe_collapsed", "classical"),
        ("pretrend", "cluster"),
    ],
)
def test_degenerate_panels_are_statuses(rng, name, se):
    batch = random_panel(rng, 5, 8, 6, (3, 5))
    batch["start"][:] = [7, 1, 4, 4, 2]  # after the panel; every period treated; fine; fine; no lead
    batch["treated"][3] = 1.0  # every unit treated
    for reference in (False, True):
        out, status = run_estimator(name, batch, {"se": se}, reference=reference)
        assert status[0] == st.NO_VARIATION, (name, status)
        assert status[1] == (st.OK if name == "post_gap" else st.NO_VARIATION)  # post_gap needs no pre-period
        assert status[2] == st.OK
        if name in ("did", "post_gap", "twfe", "twfe_collapsed", "pretrend"):
            assert status[3] == st.NO_VARIATION
        if name == "pretrend":
            assert status[4] == st.NO_VARIATION
        assert np.isnan(out[status != st.OK, :5]).all()


def test_pretrend_does_not_apply_to_two_periods():
    from causalmc import estimators

    spec = estimators.registry()["pretrend"]
    assert "3 periods" in spec.applies({"panel_y": (100, 2)}, {})
    assert spec.applies({"panel_y": (100, 3)}, {}) is None


@pytest.mark.parametrize("se", ["hc2", "hc3"])
def test_a_cell_of_one_row_has_leverage_one(rng, se):
    """Two periods, one treated unit: each treated cell is one row, fitted exactly (h = 1)."""
    batch = random_panel(rng, 2, 6, 2, (2, 2))
    batch["treated"][0] = 0.0
    batch["treated"][0, 0] = 1.0
    for reference in (False, True):
        out, status = run_estimator("did", batch, {"se": se}, reference=reference)
        assert status[0] == st.LEVERAGE_ONE and np.isnan(out[0]).all()
    out, status = run_estimator("did", batch, {"se": "hc1"})
    assert status[0] == st.OK
