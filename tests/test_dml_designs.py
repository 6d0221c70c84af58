"""The DML designs (plr_ccddhnr, plr_sparse, irm_dml) against DoubleML's generators and their truths.

Distribution checks compare moments of our draws with DoubleML 0.11's
``make_plr_CCDDHNR2018`` and ``make_irm_data`` (numpy's legacy global stream,
seeded): each moment's difference within 4 of its Monte Carlo standard
error √(se₁² + se₂²), each se the iid standard error of a mean of unit
values.  The draws cannot coincide (DoubleML draws x by an SVD of Σ from
the legacy generator, we by Cholesky from a Generator).
"""

from __future__ import annotations

import numpy as np
import pytest
from doubleml.irm.datasets import make_irm_data
from doubleml.plm.datasets import make_plr_CCDDHNR2018

import causalmc
from causalmc.sims.dgps import registry
from causalmc.sims.dgps.irm import att, coefficients
from causalmc.sims.dgps.plr import sparse_coefficients

from conftest import write_scenario

REPS, N = 40, 500  # 20,000 units per sample


def _ours(name, params):
    dgp = registry()[name]
    p = {s.name: s.default for s in dgp.params} | params
    batch = dgp.generate(np.random.default_rng(20261207), REPS, p)
    x = np.transpose(batch["controls"], (0, 2, 1)).reshape(REPS * p["n"], -1)
    return x, batch["y"].ravel(), batch.get("d", batch.get("treatment")).ravel(), batch


def _theirs(maker, **kwargs):
    np.random.seed(20261207)
    parts = [maker(n_obs=N, return_type="array", **kwargs) for _ in range(REPS)]
    return (np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def _unit_values(x, y, d):
    """Per-unit products whose means are the compared moments."""
    return {
        "d": d, "y": y, "d²": d * d, "y²": y * y, "dy": d * y, "x1d": x[:, 0] * d, "x1y": x[:, 0] * y,
        "x3d": x[:, 2] * d, "x3y": x[:, 2] * y, "x1x2": x[:, 0] * x[:, 1], "x1²": x[:, 0] ** 2,
        "x1x3": x[:, 0] * x[:, 2], "x_last²": x[:, -1] ** 2,
    }


def _assert_same_moments(ours, theirs):
    a, b = _unit_values(*ours), _unit_values(*theirs)
    for key in a:
        se = np.sqrt(a[key].var() / a[key].size + b[key].var() / b[key].size)
        assert abs(a[key].mean() - b[key].mean()) <= 4 * se, (key, a[key].mean(), b[key].mean(), se)


def test_plr_ccddhnr_draws_doubleml_distribution():
    """plr_ccddhnr ≡ make_plr_CCDDHNR2018 in 13 moments (means, second moments, x–d and x–y cross moments), at
    the defaults and at α = 1, dim_x = 5; the truth is α."""
    for params in ({"n": N}, {"n": N, "alpha": 1.0, "dim_x": 5}):
        x, y, d, batch = _ours("plr_ccddhnr", params)
        _assert_same_moments((x, y, d), _theirs(make_plr_CCDDHNR2018, alpha=params.get("alpha", 0.5),
                                                dim_x=params.get("dim_x", 20)))
        assert (batch["truth"] == params.get("alpha", 0.5)).all()


def test_irm_dml_draws_doubleml_distribution_and_its_att():
    """irm_dml ≡ make_irm_data in the same moments (θ = 0.5, R²_d = 0.3, R²_y = 0.6, dim_x = 10); the ATE truth
    is θ; the ATT truth θ + c_y·E[d x'β]/P(d = 1): E[d·c_y x'β] = (ATT − θ)/2 and P(d = 1) = 1/2 within 4 MCSE on
    DoubleML's own draws."""
    kw = {"theta": 0.5, "R2_d": 0.3, "R2_y": 0.6, "dim_x": 10}
    x, y, d, batch = _ours("irm_dml", {"n": N, **kw})
    tx, ty, td = _theirs(make_irm_data, **kw)
    _assert_same_moments((x, y, d), (tx, ty, td))
    truth_att = att(0.5, 10, 0.3, 0.6)
    assert (batch["truth"] == 0.5).all() and np.allclose(batch["truth:att"], truth_att)
    beta, _, c_y, _ = coefficients(10, 0.3, 0.6)
    lift = td * c_y * (tx @ beta)
    assert abs(lift.mean() - (truth_att - 0.5) / 2) <= 4 * lift.std() / np.sqrt(lift.size)
    assert abs(td.mean() - 0.5) <= 4 * td.std() / np.sqrt(td.size)


def test_plr_sparse_explains_its_r2_shares():
    """plr_sparse: the covariates explain R²_d of Var(d) and R²_y of Var(y − θd) (population values from the
    coefficients; the sample variances within 4 MCSE), and only the first s covariates enter."""
    params = {"n": N, "p": 50, "s": 5, "rho": 0.5, "R2_d": 0.4, "R2_y": 0.7, "theta": 0.5}
    x, y, d, batch = _ours("plr_sparse", params)
    coef_d = sparse_coefficients(50, 5, 0.5, 0.4)
    index = x[:, :5] @ coef_d
    v = d - index
    assert abs(np.var(index) / (np.var(index) + 1.0) - 0.4) < 0.02  # the design's R² at 20,000 units
    assert abs(v.mean()) <= 4 * v.std() / np.sqrt(v.size) and abs(v.var() - 1.0) <= 4 * np.sqrt(2 / v.size)
    resid = y - 0.5 * d - x[:, :5] @ sparse_coefficients(50, 5, 0.5, 0.7)
    assert abs(resid.var() - 1.0) <= 4 * np.sqrt(2 / resid.size)
    assert abs(np.corrcoef(resid, x[:, 10])[0, 1]) <= 4 / np.sqrt(resid.size)


SEAM = """dgp = "{dgp}"
estimators = ["{estimator}"]
[params]
n = 50
{extra}
"""


@pytest.mark.parametrize(
    ("dgp", "estimator", "extra", "truths"),
    [
        ("plr_ccddhnr", "dml_plr", "alpha = 0.7\ndim_x = 4", {"theta": 0.7}),
        ("plr_sparse", "dml_plr", "p = 12\ns = 3\ntheta = -1.0", {"theta": -1.0}),
        ("pliv_sparse", "dml_pliv", "p = 6\ntheta = 2.0", {"theta": 2.0}),
        ("irm_dml", "dml_irm", "theta = 0.25\ndim_x = 6", {"ate": 0.25, "att": att(0.25, 6, 0.5, 0.5)}),
    ],
)
def test_designs_through_the_seam(tmp_path, dgp, estimator, extra, truths):
    """Scenario text → causalmc.sample: n rows with y, the treatment and the covariates, and the truths."""
    path = write_scenario(tmp_path, dgp, SEAM.format(dgp=dgp, estimator=estimator, extra=extra))
    frame = causalmc.sample(path)
    assert len(frame) == 50 and "y" in frame.columns and ({"d", "treatment"} & set(frame.columns))
    for term, value in truths.items():
        assert frame.attrs["truths"][term] == pytest.approx(value, abs=1e-12)
