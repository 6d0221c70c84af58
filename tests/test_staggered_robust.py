"""The heterogeneity-robust staggered estimators against their outside oracles, and published examples.

Each kernel equals its reference twin (``kernel_and_twin``) and, to 1e-8,
the package that defines its convention, on panels drawn from
``did_staggered`` with effects that grow and differ by cohort, rescaled
per replication:

- ``cs``: csdid 0.4.3 ``ATTgt(...).fit(est_method="reg", bstrap=False)``
  and ``aggte``: SE √(Σ IF²)/n, no n/(n − 1), normal critical value;
- ``sunab``: pyfixest ``event_study(estimator="saturated")``, CRV1 with
  K = coefficients + T, shares fixed; its aggregate's interval uses the
  normal critical value, ours t(G − 1) (the interval is checked as
  estimate ± t(G − 1)·SE);
- ``imputation``: diff-diff 3.13 ``ImputationDiD`` (cohort × horizon
  partition, no small-sample factor, normal), with ``leave_one_out``;
- ``did2s``: pyfixest ``did2s`` (GMM sandwich, no small-sample factor);
  pyfixest's interval uses t(N − k₂), ours the normal critical value
  (checked as estimate ± z·SE);
- ``twfe_staggered``'s ``forbidden_weight``: diff-diff
  ``BaconDecomposition(weights="exact")``, the weights of its
  ``later_vs_earlier`` comparisons.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from conftest import assert_close, kernel_and_twin, run_estimator, st
from csdid.att_gt import ATTgt
from diff_diff import BaconDecomposition, ImputationDiD
from scipy import stats
from test_staggered import long_frame, staggered_batch

from causalmc.sims import plugins

FIXTURES = Path(__file__).parent / "fixtures" / "staggered_examples"
HETEROGENEOUS = {"n_cohorts": 3, "first_cohort": 4, "cohort_spacing": 2, "tau_growth": 0.4, "tau_cohort_gap": -0.5}
PANELS = [(30, 10, HETEROGENEOUS), (24, 9, HETEROGENEOUS | {"n_cohorts": 2, "never_share": 0.4, "rho": 0.7})]
Z90 = stats.norm.ppf(0.95)


def terms_of(name, shape, options):
    spec = plugins.estimator_registry()[name]
    return spec.terms({"panel_y": shape}, spec.default_options() | options)


def quiet(function, *args, **kwargs):
    """Call an oracle that prints tables and warns."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def kernel(name, batch, options, level=0.9):
    """The kernel's output (checked against its twin) and the term names."""
    terms = terms_of(name, batch["panel_y"].shape[1:], options)
    truth = np.zeros((batch["panel_y"].shape[0], len(terms)))
    out, _ = kernel_and_twin(name, batch, options, level=level, truth=truth)
    return out, terms


# -- Callaway & Sant'Anna --------------------------------------------------------------------------


def csdid_terms(frame, control, base, aggregation):
    """csdid's number and SE per term name (att, group, dynamic, e=k)."""
    fit = quiet(
        ATTgt(yname="y", tname="period", idname="unit", gname="cohort", data=frame.copy(),
              control_group={"never": "nevertreated", "notyet": "notyettreated"}[control]).fit,
        est_method="reg", base_period=base, bstrap=False,
    )  # fmt: skip
    found = {}
    for typec, name in (("simple", "att"), ("group", "group"), ("dynamic", "dynamic")):
        quiet(fit.aggte, typec=typec)
        found[name] = (fit.atte["overall_att"], fit.atte["overall_se"])
        if typec == "dynamic":
            for e, att, se in zip(fit.atte["egt"], fit.atte["att_egt"], fit.atte["se_egt"], strict=True):
                found[f"e={int(e)}"] = (att, se)
    return found


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("base", ["varying", "universal"])
@pytest.mark.parametrize("g, t, design", PANELS)
def test_cs_matches_csdid(rng, control, base, g, t, design):
    """Every aggregation and event time of csdid (analytic SEs: √(mean IF²/n), normal), estimates, SEs, 90 % CIs."""
    batch, _ = staggered_batch(rng, 3, g, t, design)
    outs = {
        aggregation: kernel("cs", batch, {"control": control, "base": base, "aggregation": aggregation,
                                          "leads": 3, "lags": 4})
        for aggregation in ("simple", "group", "dynamic", "event")
    }  # fmt: skip
    for r in range(3):
        oracle = csdid_terms(long_frame(batch, r), control, base, None)
        for out, terms in outs.values():
            for j, term in enumerate(terms):
                estimate, se = oracle[term]
                assert_close(out[r, j, :2], [estimate, se], what=f"{term} rep {r}")
                assert_close(out[r, j, 2:4], [estimate - Z90 * se, estimate + Z90 * se], what=f"{term} CI")


def test_cs_without_comparison_units_is_a_status(rng):
    """No never-treated unit: control = never fails every term.  Not yet treated: a lead e = −k of the last cohort
    (adopting 2 periods after the one before) has comparison units only when k > 2; the post-adoption terms need
    the last cohort's cells and fail (csdid instead drops the periods from the last adoption on, which silently
    changes the estimand)."""
    batch, _ = staggered_batch(rng, 2, 12, 9, HETEROGENEOUS | {"never_share": 0.0})
    for control in ("never", "notyet"):
        options = {"control": control, "aggregation": "event", "leads": 4, "lags": 2}
        terms = terms_of("cs", (12, 9), options)
        for reference in (False, True):
            out, status = run_estimator("cs", batch, options, truth=np.zeros((2, len(terms))), reference=reference)
            expected = [
                st.OK if control == "notyet" and term in ("e=-4", "e=-3") else st.NO_COMPARISON for term in terms
            ]
            assert (status == expected).all(), (control, reference, status)
            assert np.isnan(out[status != st.OK]).all()


# -- Sun & Abraham ---------------------------------------------------------------------------------


@pytest.mark.parametrize("g, t, design", PANELS)
def test_sunab_matches_pyfixest_saturated(rng, g, t, design):
    """pyfixest's saturated event study: its aggregate per event time (shares fixed), and att = w'β with
    w'V w from its CRV1 covariance (K = A(T − 1) + T); intervals t(G − 1)."""
    batch, _ = staggered_batch(rng, 3, g, t, design)
    out, terms = kernel("sunab", batch, {"leads": 3, "lags": 4})
    crit = stats.t.ppf(0.95, g - 1)
    for r in range(3):
        frame = long_frame(batch, r)
        fit = quiet(pf.event_study, frame, yname="y", idname="unit", tname="period", gname="cohort",
                    estimator="saturated")  # fmt: skip
        aggregate = quiet(fit.aggregate)
        coef, cov = fit.coef(), pd.DataFrame(fit._vcov, index=fit.coef().index, columns=fit.coef().index)
        for j, term in enumerate(terms):
            if term == "att":  # every post-adoption cell, weighted by its cohort's size
                weights = pd.Series(0.0, index=coef.index)
                for name in coef.index:
                    e = float(name.split("::")[1].split(":")[0])
                    cohort = int(float(name.split("::")[2]))
                    if e >= 0:
                        weights[name] = (batch["cohort"][r] == cohort).sum()
                weights /= weights.sum()
                estimate, se = weights @ coef, np.sqrt(weights @ cov @ weights)
            else:
                row = aggregate.loc[float(term[2:])]
                estimate, se = row["Estimate"], row["Std. Error"]
            assert_close(out[r, j, :2], [estimate, se], what=f"{term} rep {r}")
            assert_close(out[r, j, 2:4], [estimate - crit * se, estimate + crit * se], what=f"{term} CI")


def test_sunab_needs_never_treated_units(rng):
    batch, _ = staggered_batch(rng, 2, 12, 9, HETEROGENEOUS | {"never_share": 0.0})
    for reference in (False, True):
        out, status = run_estimator("sunab", batch, {"leads": 2, "lags": 2}, truth=np.zeros((2, 4)),
                                    reference=reference)  # fmt: skip
        assert (status == st.NO_COMPARISON).all() and np.isnan(out).all()


# -- imputation and did2s ----------------------------------------------------------------------------


@pytest.mark.parametrize("variance", ["bjs", "leave_out"])
@pytest.mark.parametrize("g, t, design", PANELS)
def test_imputation_matches_diff_diff(rng, variance, g, t, design):
    """diff-diff ImputationDiD: overall ATT and horizons 0 … lags−1, Theorem 3 variance with the cohort × horizon
    partition (and its leave-one-out version), no small-sample factor, normal 90 % intervals."""
    batch, _ = staggered_batch(rng, 3, g, t, design)
    out, terms = kernel("imputation", batch, {"lags": 4, "variance": variance})
    for r in range(3):
        fit = quiet(
            ImputationDiD(alpha=0.1, leave_one_out=variance == "leave_out").fit,
            long_frame(batch, r), outcome="y", unit="unit", time="period", first_treat="cohort",
        )  # fmt: skip
        horizons = quiet(fit.aggregate, "event_study").to_dataframe().set_index("event_time")
        for j, term in enumerate(terms):
            if term == "att":
                estimate, se = fit.overall_att, fit.overall_se
            else:
                estimate, se = horizons.loc[int(term[2:]), ["att", "se"]]
            assert_close(out[r, j, :2], [estimate, se], what=f"{term} rep {r}")
            assert_close(out[r, j, 2:4], [estimate - Z90 * se, estimate + Z90 * se], what=f"{term} CI")


@pytest.mark.parametrize("g, t, design", PANELS)
def test_did2s_matches_pyfixest(rng, g, t, design):
    """pyfixest did2s: static (second stage ~ treat) and event study (~ i(rel, ref=-1), never treated at −1);
    its GMM SE without a small-sample factor; our intervals normal."""
    batch, _ = staggered_batch(rng, 3, g, t, design)
    out, terms = kernel("did2s", batch, {"lags": 4})
    for r in range(3):
        frame = long_frame(batch, r)
        frame["treat"] = frame["D"].astype(int)
        frame["rel"] = np.where(frame["cohort"] > 0, frame["period"] - frame["cohort"], -1).astype(int)
        static = quiet(pf.did2s, frame, yname="y", first_stage="~ 0 | unit + period", second_stage="~ treat",
                       treatment="treat", cluster="unit")  # fmt: skip
        dynamic = quiet(pf.did2s, frame, yname="y", first_stage="~ 0 | unit + period",
                        second_stage="~ i(rel, ref=-1)", treatment="treat", cluster="unit")  # fmt: skip
        for j, term in enumerate(terms):
            fit, name = (static, "treat") if term == "att" else (dynamic, f"rel::{term[2:]}")
            estimate, se = fit.coef()[name], fit.se()[name]
            assert_close(out[r, j, :2], [estimate, se], what=f"{term} rep {r}")
            assert_close(out[r, j, 2:4], [estimate - Z90 * se, estimate + Z90 * se], what=f"{term} CI")


def test_imputation_without_comparison_units_is_a_status(rng):
    """Every unit adopts: the periods from the last adoption on have no untreated unit, so the att and the
    horizons that reach the last cohort cannot be imputed (diff-diff drops those cells, changing the estimand)."""
    batch, _ = staggered_batch(rng, 2, 12, 9, HETEROGENEOUS | {"never_share": 0.0})
    for name in ("imputation", "did2s"):
        for reference in (False, True):
            out, status = run_estimator(name, batch, {"lags": 3}, truth=np.zeros((2, 4)), reference=reference)
            assert (status == st.NO_COMPARISON).all() and np.isnan(out).all(), (name, reference)


# -- Goodman-Bacon ------------------------------------------------------------------------------------


@pytest.mark.parametrize("g, t, design", PANELS + [(20, 8, HETEROGENEOUS | {"never_share": 0.0})])
def test_forbidden_weight_matches_diff_diff_bacon(rng, g, t, design):
    """The weight of the later-vs-earlier comparisons, Goodman-Bacon's Theorem 1 (diff-diff exact weights), and
    the TWFE coefficient it decomposes."""
    batch, truth = staggered_batch(rng, 3, g, t, design)
    out, _ = kernel_and_twin("twfe_staggered", batch, {"se": "cluster"}, truth=truth)
    for r in range(3):
        fit = quiet(BaconDecomposition(weights="exact").fit, long_frame(batch, r), outcome="y", unit="unit",
                    time="period", first_treat="cohort")  # fmt: skip
        forbidden = sum(c.weight for c in fit.comparisons if c.comparison_type == "later_vs_earlier")
        assert_close(out[r, [0, 7]], [fit.twfe_estimate, forbidden], what=f"rep {r}")


# -- published examples --------------------------------------------------------------------------------


def panel_batch(frame, unit, period, outcome, cohort):
    """A balanced long table as a one-replication batch; cohorts as 1-indexed periods (0 never)."""
    wide = frame.pivot(index=unit, columns=period, values=outcome).sort_index(axis=1)
    periods = list(wide.columns)
    first = frame.groupby(unit)[cohort].first().loc[wide.index]
    g = first.map(lambda year: periods.index(year) + 1 if year in periods else 0).to_numpy(dtype=float)
    return {"panel_y": wide.to_numpy()[None], "cohort": g[None]}


def test_mpdta_reproduces_the_did_package_readme():
    """R did's README on mpdta (never-treated controls, varying base): the dynamic aggregation's overall −0.0772 and
    event study e = −3 … 3, and the group aggregation −0.031, to their four published decimals."""
    batch = panel_batch(pd.read_csv(FIXTURES / "mpdta.csv"), "countyreal", "year", "lemp", "first_treat")
    event, terms = kernel("cs", batch, {"aggregation": "event", "leads": 3, "lags": 4})
    values = dict(zip(terms, event[0, :, 0], strict=True))
    published = {"e=-3": 0.0305, "e=-2": -0.0006, "e=-1": -0.0245, "e=0": -0.0199, "e=1": -0.0510,
                 "e=2": -0.1373, "e=3": -0.1008, "dynamic": -0.0772}  # fmt: skip
    for term, value in published.items():
        assert round(values[term], 4) == value, term
    group, _ = kernel("cs", batch, {"aggregation": "group"})
    assert round(group[0, 0, 0], 3) == -0.031


def test_math_reform_reproduces_the_bacondecomp_readme():
    """bacondecomp's README (2021, after its aggregation fix) on math_reform: TWFE 0.00246 and the
    later-vs-earlier ("forbidden") comparisons' weight 0.05265."""
    frame = pd.read_csv(FIXTURES / "math_reform.csv")
    batch = panel_batch(frame, "state", "class", "incearn_ln", "reformyr_math")
    out, _ = kernel_and_twin("twfe_staggered", batch, {"se": "cluster"}, truth=np.zeros(1))
    assert round(out[0, 0], 5) == 0.00246 and round(out[0, 7], 5) == 0.05265


def test_df_het_with_unit_effects_matches_pyfixest_and_the_readme_model_reproduces():
    """did2s's README estimates 2.152 (SE 0.0476) on df_het with state and year effects, clustered by state: the
    fixture reproduces it with pyfixest.  Our did2s absorbs unit effects (a unit panel), so on the same data it is
    held to pyfixest's did2s with unit and year effects, clustered by unit."""
    frame = pd.read_parquet(FIXTURES / "df_het.parquet")
    frame["treat"] = ((frame["g"] > 0) & (frame["year"] >= frame["g"])).astype(int)
    readme = quiet(pf.did2s, frame, yname="dep_var", first_stage="~ 0 | state + year", second_stage="~ treat",
                   treatment="treat", cluster="state")  # fmt: skip
    assert round(readme.coef()["treat"], 3) == 2.152 and round(readme.se()["treat"], 4) == 0.0476
    units = quiet(pf.did2s, frame, yname="dep_var", first_stage="~ 0 | unit + year", second_stage="~ treat",
                  treatment="treat", cluster="unit")  # fmt: skip
    batch = panel_batch(frame, "unit", "year", "dep_var", "g")
    # The kernel alone: its twin solves the 46,500 × 1,530 dummy regression densely (90 s); the two are held
    # together on the random panels above.
    terms = terms_of("did2s", batch["panel_y"].shape[1:], {"lags": 1})
    out, status = run_estimator("did2s", batch, {"lags": 1}, level=0.9, truth=np.zeros((1, len(terms))))
    assert terms[0] == "att" and (status == st.OK).all()
    # pyfixest sweeps 1,500 unit effects out of 46,500 rows by alternating projections to its tolerance 1e-8
    # (did2s takes no fixef_tol), so here the agreement is 1e-6; the random panels above hold 1e-8.
    assert_close(out[0, 0, :2], [units.coef()["treat"], units.se()["treat"]], rtol=1e-6, what="df_het")
