"""The staggered-adoption DGP: its truths are the averages its docstring defines, of the effects it draws.

The effects are recovered exactly as the difference between the panel drawn
with them and the same draws without them (the effects change no draw), and
every term's truth (att, e=k, dynamic, group) is recomputed from those
differences and the drawn cohorts.  Selection on the unit effect is checked
within 4 MCSE.
"""

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm
from scipy import stats
import twowayfeweights
from conftest import assert_close, kernel_and_twin, run_estimator, st

import causalmc
from causalmc.sims import dgps, frames, plugins
from causalmc.estimators.did.staggered import event_terms
from causalmc.sims.cli import main

DGP = dgps.registry()["did_staggered"]
DESIGNS = [
    {"n_units": 30, "n_periods": 12, "n_cohorts": 3, "first_cohort": 4, "cohort_spacing": 3,
     "tau": 1.0, "tau_growth": 0.4, "tau_cohort_gap": -0.6, "anticipation": 1, "rho": 0.5},
    {"n_units": 20, "n_periods": 10, "n_cohorts": 2, "first_cohort": 3, "cohort_spacing": 5,
     "never_share": 0.0, "tau": -0.5, "tau_growth": 0.1, "trend_gap": 0.3},
]  # fmt: skip


def params(**values):
    return {p.name: p.default for p in DGP.params} | values


@pytest.mark.parametrize("design", DESIGNS)
def test_truths_are_the_averages_of_the_drawn_effects(design):
    with_effects = DGP.generate(np.random.default_rng(4), 3, params(**design))
    no_effects = params(**design) | {"tau": 0.0, "tau_growth": 0.0, "tau_cohort_gap": 0.0}
    without = DGP.generate(np.random.default_rng(4), 3, no_effects)
    np.testing.assert_array_equal(with_effects["cohort"], without["cohort"])
    tau = with_effects["panel_y"] - without["panel_y"]  # (R, G, T): each unit-period's effect
    t_periods = tau.shape[2]
    period = np.arange(1, t_periods + 1)
    for r in range(3):
        g = with_effects["cohort"][r]
        adopters = g > 0
        event = period[None, :] - g[:, None]  # (G, T)
        treated_cells = adopters[:, None] & (event >= 0)
        assert np.isclose(with_effects["truth"][r], tau[r][treated_cells].mean(), rtol=1e-12)
        att_e = {}
        for e in range(int(1 - g[adopters].max()), int(t_periods - g[adopters].min()) + 1):
            cells = adopters[:, None] & (event == e)
            att_e[e] = tau[r][cells].mean()
            assert np.isclose(with_effects[f"truth:e={e}"][r], att_e[e], rtol=1e-12, atol=1e-12), e
        assert np.isclose(with_effects["truth:dynamic"][r], np.mean([v for e, v in att_e.items() if e >= 0]))
        cohorts = np.unique(g[adopters])
        group = sum(
            (g == c).mean() / adopters.mean() * tau[r][(g == c)[:, None] & (event >= 0)].mean() for c in cohorts
        )
        assert np.isclose(with_effects["truth:group"][r], group, rtol=1e-12)
        # Never-treated units and periods before (anticipated) adoption carry no effect.
        anticipation = design.get("anticipation", 0)
        assert (tau[r][~adopters] == 0).all() and (tau[r][adopters[:, None] & (event < -anticipation)] == 0).all()


def test_cohort_sizes_and_the_frame():
    p = params(n_units=10, n_periods=8, n_cohorts=3, first_cohort=3, cohort_spacing=2, never_share=0.3)
    batch = DGP.generate(np.random.default_rng(1), 4, p)
    for r in range(4):
        assert sorted(np.unique(batch["cohort"][r], return_counts=True)[1].tolist()) == [2, 2, 3, 3]
        assert {0.0, 3.0, 5.0, 7.0} == set(batch["cohort"][r])
    frame = frames.frame_of({name: batch[name][0] for name in DGP.provides})
    expected = ((frame["cohort"] > 0) & (frame["period"] >= frame["cohort"])).astype(float)
    assert (frame["D"] == expected).all() and len(frame) == 80


@pytest.mark.parametrize("selection, relation", [(0.0, "equal"), (2.0, "above")])
def test_selection_puts_high_unit_effects_in_early_cohorts(selection, relation):
    """Mean outcome before any adoption: first cohort minus never treated (unit effects, which selection sorts)."""
    p = params(n_units=40, n_periods=6, n_cohorts=2, first_cohort=4, cohort_spacing=1, selection=selection)
    batch = DGP.generate(np.random.default_rng(7), 3000, p)
    pre = batch["panel_y"][:, :, :3].mean(axis=2)  # periods 1-3: before every adoption
    gap = np.array(
        [pre[r][batch["cohort"][r] == 4].mean() - pre[r][batch["cohort"][r] == 0].mean() for r in range(3000)]
    )
    mean, mcse = gap.mean(), gap.std(ddof=1) / np.sqrt(len(gap))
    if relation == "equal":
        assert abs(mean) <= 4 * mcse
    else:
        assert mean - 4 * mcse > 0


def test_a_cohort_after_the_panel_is_a_scenario_error(tmp_path, capsys):
    with plugins.isolated():
        causalmc.estimator(name="treated_share", needs=("cohort",))(lambda data, *, level: (data["cohort"] > 0).mean())
        path = tmp_path / "s.toml"
        path.write_text(
            'name = "s"\ndgp = "did_staggered"\nreps = 10\nseed = 1\nestimators = ["treated_share"]\n'
            "[params]\nn_periods = 10\nfirst_cohort = 6\ncohort_spacing = 4\n"
        )
        assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the last cohort adopts in period 14, after the panel's last period 10" in err
    assert "params.first_cohort and params.cohort_spacing and params.n_cohorts and params.n_periods" in err
    assert not (tmp_path / "out").exists()


# -- twfe_staggered -----------------------------------------------------------------------------------


def staggered_batch(rng, n_reps, g, t, design):
    """Panels from did_staggered with heterogeneous effects, plus noise of varying scale per replication."""
    batch = DGP.generate(rng, n_reps, params(n_units=g, n_periods=t, **design))
    truth = batch.pop("truth")
    batch = {k: v for k, v in batch.items() if not k.startswith(dgps.TRUTH_PREFIX)}
    batch["panel_y"] = batch["panel_y"] * rng.uniform(0.5, 3.0, size=(n_reps, 1, 1)) + rng.normal(size=(n_reps, 1, 1))
    return batch, truth


def long_frame(batch, r):
    g, t = batch["panel_y"].shape[1:]
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(g), t),
            "period": np.tile(np.arange(1, t + 1), g),
            "y": batch["panel_y"][r].reshape(-1),
            "cohort": np.repeat(batch["cohort"][r], t),
        }
    )
    frame["D"] = ((frame["cohort"] > 0) & (frame["period"] >= frame["cohort"])).astype(float)
    return frame


STAGGERED = {"n_cohorts": 3, "first_cohort": 3, "cohort_spacing": 2, "tau_growth": 0.5, "tau_cohort_gap": -0.3}


@pytest.mark.parametrize("se", ["classical", "cluster", "cluster_nested"])
@pytest.mark.parametrize(
    "g, t, design",
    [
        (12, 8, STAGGERED),
        (30, 10, STAGGERED | {"never_share": 0.0}),
        (9, 5, {"n_cohorts": 2, "first_cohort": 2, "cohort_spacing": 2}),
    ],
)
def test_twfe_staggered_matches_statsmodels_pyfixest_and_twowayfeweights(rng, se, g, t, design):
    """Conventions: classical SSR/(GT − G − T), t on that df (statsmodels OLS with unit and period
    dummies); cluster: CR1 with K = G + T, t(G − 1) (statsmodels dummies, cov_type="cluster");
    cluster_nested: K = T + 1 (pyfixest CRV1); weights: twowayfeweights(type="feTR"), groups = units."""
    batch, truth = staggered_batch(rng, 5, g, t, design)
    out, _ = kernel_and_twin("twfe_staggered", batch, {"se": se}, level=0.9, truth=truth)
    for r in range(5):
        f = long_frame(batch, r)
        if se == "cluster_nested":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = pf.feols("y ~ D | unit + period", data=f, vcov={"CRV1": "unit"})
            ci = fit.confint(alpha=0.1).loc["D"].to_numpy()
            assert_close(out[r, [0, 1, 2, 3]], [fit.coef()["D"], fit.se()["D"], *ci], what=f"pyfixest rep {r}")
        else:
            dummies = pd.get_dummies(f[["unit", "period"]].astype(str), drop_first=True, dtype=float)
            X = sm.add_constant(pd.concat([f[["D"]], dummies], axis=1))
            fit = sm.OLS(f["y"], X)
            fit = (
                fit.fit()
                if se == "classical"
                else fit.fit(cov_type="cluster", cov_kwds={"groups": f["unit"]}, use_t=True)
            )
            ci = fit.conf_int(alpha=0.1).loc["D"].to_numpy()
            assert_close(out[r, [0, 1, 2, 3]], [fit.params["D"], fit.bse["D"], *ci], what=f"statsmodels rep {r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weights = twowayfeweights.twowayfeweights(f, Y="y", G="unit", T="period", D="D", type="feTR")
        assert_close(out[r, [0, 5, 6]], [weights.beta, weights.nr_minus / weights.nr_weights, weights.sum_minus])


def test_twfe_staggered_without_within_variation_is_a_status(rng):
    batch, truth = staggered_batch(rng, 3, 6, 5, {"n_cohorts": 1, "first_cohort": 3, "never_share": 0.0})
    batch["cohort"][1, :] = 0.0  # nobody adopts
    batch["cohort"][2, :3] = 0.0  # a never-treated group: identified
    for reference in (False, True):
        out, status = run_estimator("twfe_staggered", batch, truth=truth, reference=reference)
        assert list(status) == [st.NO_VARIATION, st.NO_VARIATION, st.OK]
        assert np.isnan(out[:2]).all()


@pytest.mark.slow
def test_twfe_staggered_is_biased_only_when_effects_vary(tmp_path):
    """Constant effects: TWFE unbiased for the ATT (4 MCSE); effects growing after adoption: biased beyond 4 MCSE,
    with negative weights on the long-treated cells of early cohorts."""
    results = {}
    for growth in (0.0, 0.5):
        with plugins.isolated():
            scenario = {
                "name": f"twfe{growth}", "dgp": "did_staggered", "reps": 2000, "seed": 3,
                "estimators": ["twfe_staggered"], "params": {"tau_growth": growth, "never_share": 0.0},
            }  # fmt: skip
            results[growth] = causalmc.run(scenario, out=tmp_path, jobs=2, progress=False, figures=False).summary.iloc[
                0
            ]
    constant, dynamic = results[0.0], results[0.5]
    assert abs(constant["bias"]) <= 4 * constant["bias_mcse"]
    assert abs(dynamic["bias"]) > 4 * dynamic["bias_mcse"]


# -- event_study ----------------------------------------------------------------------------------------


def bin_columns(frame, leads, lags):
    """The binned event-time indicators, built literally: e ≤ −leads, each of −leads+1 … −2 and 0 … lags−1, e ≥ lags."""
    e = frame["period"] - frame["cohort"]
    adopter = frame["cohort"] > 0
    bounds = (
        [(-1000, -leads)] + [(k, k) for k in range(-leads + 1, -1)] + [(k, k) for k in range(lags)] + [(lags, 1000)]
    )
    names = []
    for j, (lo, hi) in enumerate(bounds):
        frame[f"bin{j}"] = (adopter & (e >= lo) & (e <= hi)).astype(float)
        names.append(f"bin{j}")
    return names


@pytest.mark.parametrize("se, pretest", [("cluster", "f"), ("cluster_nested", "hotelling")])
@pytest.mark.parametrize("g, t, leads, lags", [(20, 10, 3, 3), (40, 12, 2, 5), (15, 14, 5, 2)])
def test_event_study_matches_pyfixest_and_statsmodels(rng, se, pretest, g, t, leads, lags):
    """Clustered by unit, t(G − 1): cluster_nested is pyfixest CRV1 (K = k + T); cluster is statsmodels with
    unit and period dummies (K = G + T − 1 + k), every binned event-time coefficient to 1e-8.  The pretrend
    term: W/q = b_L'V_L⁻¹b_L/q of the q = leads − 1 lead bins with the oracle's covariance, rejecting
    above F(q, G − 1) (f) or, for Hotelling, when W(G − q)/(q(G − 1)) exceeds F(q, G − q)."""
    batch, truth = staggered_batch(rng, 4, g, t, STAGGERED)
    options = {"leads": leads, "lags": lags, "se": se, "pretest": pretest}
    event_names = event_terms(leads, lags)
    k = leads + lags
    truths = np.tile(truth[:, None], (1, k + 1))
    truths[:, k] = np.nan
    out, _ = kernel_and_twin("event_study", batch, options, level=0.9, truth=truths)
    assert out.shape == (4, k + 1, 5)
    for r in range(4):
        f = long_frame(batch, r)
        names = bin_columns(f, leads, lags)
        if se == "cluster_nested":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = pf.feols(f"y ~ {' + '.join(names)} | unit + period", data=f, vcov={"CRV1": "unit"})
            coef, bse, ci = fit.coef()[names], fit.se()[names], fit.confint(alpha=0.1).loc[names].to_numpy()
            cov = pd.DataFrame(fit._vcov, index=fit.coef().index, columns=fit.coef().index).loc[names, names]
        else:
            dummies = pd.get_dummies(f[["unit", "period"]].astype(str), drop_first=True, dtype=float)
            X = sm.add_constant(pd.concat([f[names], dummies], axis=1))
            fit = sm.OLS(f["y"], X).fit(cov_type="cluster", cov_kwds={"groups": f["unit"]}, use_t=True)
            coef, bse, ci = fit.params[names], fit.bse[names], fit.conf_int(alpha=0.1).loc[names].to_numpy()
            cov = fit.cov_params().loc[names, names]
        assert_close(out[r, :k, 0], coef.to_numpy(), what=f"{se} coefficients")
        assert_close(out[r, :k, 1], bse.to_numpy(), what=f"{se} standard errors")
        assert_close(out[r, :k, 2:4], ci, what=f"{se} intervals")
        q = leads - 1  # e <= -leads, -leads+1 ... -2 (names are in bin order)
        assert names[:q] == [f"bin{j}" for j in range(q)] and q == sum(
            1 for e in event_names if e.startswith("e<=") or e.startswith("e=-")
        )
        lead_coef, lead_cov = coef.to_numpy()[:q], cov.to_numpy()[:q, :q]
        f_stat = lead_coef @ np.linalg.solve(lead_cov, lead_coef) / q
        assert_close(out[r, k, 0], f_stat, what="pre-trend W/q")
        threshold = stats.f.ppf(0.9, q, g - 1) if pretest == "f" else stats.f.ppf(0.9, q, g - q) * (g - 1) / (g - q)
        assert out[r, k, 4] == float(f_stat > threshold) and np.isnan(out[r, k, 1:4]).all()


def test_event_study_terms_and_window():
    spec = causalmc.sims.plugins.estimator_registry()["event_study"]
    options = spec.default_options()
    assert spec.terms({"panel_y": (50, 20)}, options) == (
        "e<=-4", "e=-3", "e=-2", "e=0", "e=1", "e=2", "e=3", "e=4", "e>=5", "pretrend",
    )  # fmt: skip
    assert spec.terms({"panel_y": (50, 20)}, options | {"pretest": "none"})[-1] == "e>=5"
    assert "need more than this panel's 9 periods" in spec.applies({"panel_y": (50, 9)}, options)


@pytest.mark.slow
def test_event_study_per_term_truths_and_contaminated_leads(tmp_path):
    """Constant effects: every event-time term unbiased with nominal coverage (4 MCSE); the binned ends have
    no truth (coverage not measured).  Effects growing after adoption, pooled in the e ≥ lags bin, contaminate
    the leads: e = −3 biased beyond 4 MCSE (Sun & Abraham 2021)."""
    summaries = {}
    for growth in (0.0, 0.5):
        scenario = {
            "name": f"es{growth}", "dgp": "did_staggered", "reps": 2000, "seed": 8,
            "estimators": ["event_study"], "params": {"tau_growth": growth},
        }  # fmt: skip
        run = causalmc.run(scenario, out=tmp_path, jobs=2, progress=False, figures=False)
        summaries[growth] = run.summary.set_index("term")
    constant = summaries[0.0]
    interior = [term for term in constant.index if term.startswith("e=")]
    assert len(interior) == 7
    for term in interior:
        row = constant.loc[term]
        assert abs(row["bias"]) <= 4 * row["bias_mcse"], term
        assert abs(row["coverage"] - 0.95) <= 4 * row["coverage_mcse"], term
    assert constant.loc[["e<=-4", "e>=5"], "coverage"].isna().all()
    assert constant.loc[["e<=-4", "e>=5"], "rejection"].isna().all()
    lead = summaries[0.5].loc["e=-3"]
    assert lead["truth"] == 0.0 and lead["bias"] - 4 * lead["bias_mcse"] > 0
