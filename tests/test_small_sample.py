"""Small-sample robust inference: Bell–McCaffrey degrees of freedom, leverage one, the Angrist–Pischke DGP.

Conventions: ``se = "hc2", df = "bm"`` is HC2 (Σ aᵢ²êᵢ²/(1 − hᵢ)) with t(ν)
intervals, ν the Bell–McCaffrey (2002) degrees of freedom under independent
homoskedastic errors (Imbens & Kolesár 2016).  Oracle: R clubSandwich 0.5.8,
``coef_test(lm(...), vcov = "CR2", cluster = 1:n, test = "Satterthwaite")``,
whose CR2 with one observation per cluster is HC2; the fixtures and the
script that made them are in tests/fixtures/bell_mccaffrey/.
HC0–HC3 against statsmodels are in test_ols.py, Welch in test_diff_means.py.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_close, kernel_and_twin, run_estimator, st
from scipy import stats

import causalmc
from causalmc.sims import dgps
from causalmc.sims.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "bell_mccaffrey"


def test_bell_mccaffrey_matches_clubsandwich():
    data = pd.read_csv(FIXTURES / "datasets.csv")
    expected = pd.read_csv(FIXTURES / "clubsandwich.csv")
    assert len(expected) == 18
    for row in expected.itertuples():
        frame = data[data["dataset"] == row.dataset].dropna(axis=1).drop(columns="dataset")
        name = "ols_adjusted" if row.p > 0 else "ols"
        batch = causalmc.sims.frames.arrays_of(frame, ("y", "x", "controls") if row.p > 0 else ("y", "x"))
        out, _ = kernel_and_twin(name, batch, {"se": "hc2", "df": "bm"}, level=0.95)
        assert_close(out[0, [0, 1, 5]], [row.estimate, row.se, row.df], what=f"dataset {row.dataset}")
        p_value = 2 * stats.t.sf(abs(out[0, 0] / out[0, 1]), out[0, 5])
        assert_close(p_value, row.p_value, what=f"dataset {row.dataset} p-value")
        # The interval is the t(ν) interval.
        crit = stats.t.ppf(0.975, row.df)
        assert_close(out[0, [2, 3]], [row.estimate - crit * row.se, row.estimate + crit * row.se])


def test_bm_goes_with_hc2_only(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\ndgp = "angrist_pischke"\nreps = 10\nseed = 1\nestimators = [{ name = "ols", se = "hc1", df = "bm" }]\n'
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "key 'estimators[0]'" in err and "df = 'bm' goes with se = 'hc2'" in err
    assert not (tmp_path / "out").exists()
    frame = causalmc.sample(path.read_text().replace('se = "hc1", df = "bm"', 'se = "hc2"'))
    with pytest.raises(causalmc.sims.api.UsageError, match="goes with se = 'hc2'"):
        causalmc.estimate("ols", frame, se="hc3", df="bm")


@pytest.mark.parametrize("options", [{"se": "hc2"}, {"se": "hc3"}, {"se": "hc2", "df": "bm"}])
def test_leverage_one_is_a_status(rng, options):
    """A control that is 1 for a single observation gives it leverage 1: HC2, HC3 and BM divide by 1 − h."""
    n = 15
    batch = {"y": rng.normal(size=(3, n)), "x": rng.normal(size=(3, n)), "controls": np.zeros((3, 1, n))}
    batch["controls"][0, 0, 4] = 1.0  # replication 0: observation 4 is fitted exactly
    batch["controls"][1:, 0] = rng.normal(size=(2, n))
    for reference in (False, True):
        out, status = run_estimator("ols_adjusted", batch, options, reference=reference)
        assert list(status) == [st.LEVERAGE_ONE, st.OK, st.OK] and np.isnan(out[0]).all()
    out, status = run_estimator("ols_adjusted", batch, {"se": "hc1"})
    assert (status == st.OK).all()  # HC1 has no 1 − h to divide by


def test_angrist_pischke_draws_the_stated_variances():
    """Error variances σ₀² = 1 and σ₁² = sigma_ratio², normal or unit-variance t, each within 4 MCSE."""
    dgp = dgps.registry()["angrist_pischke"]
    for tails_df in (0.0, 5.0):
        params = dgp.example_params()[0] | {"n": 40, "n_treated": 10, "sigma_ratio": 2.0, "tails_df": tails_df}
        batch = dgp.generate(np.random.default_rng(3), 4000, params)
        assert (batch["treatment"][:, :10] == 1).all() and (batch["treatment"][:, 10:] == 0).all()
        for values, variance in ((batch["y"][:, :10].ravel(), 4.0), (batch["y"][:, 10:].ravel(), 1.0)):
            s2 = values.var()
            mcse = np.sqrt(np.mean((values**2 - s2) ** 2) / len(values))  # mean zero: Var(e²)/N
            assert abs(s2 - variance) <= 4 * mcse, (tails_df, s2, variance, mcse)
