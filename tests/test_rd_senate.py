"""rd on rdrobust's own Senate data (Cattaneo, Frandsen & Titiunik 2015; ``rdrobust_RDsenate``, shipped inside the
rdrobust package of the test extra, GPL-3.0, read from there: nothing downloaded, nothing copied into causalmc).

Conventions: rdrobust 2.1.1's defaults (p = 1, triangular kernel, mserd, masspoints adjust, vce nn) and a few
options; units with a missing vote dropped as rdrobust drops them; the state as cluster ids 0 … G − 1.  The
default call reproduces rdrobust's printed output (its help pages and CCFT 2017's Stata Journal article):
Conventional 7.414 (se 1.459, CI [4.555, 10.273]), Robust CI [4.094, 10.919], h = 17.754, b = 28.028, N_h = 360,
323 — at the printed precision — and every call equals rdrobust run on the same data to 1e-8.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from rdrobust import rdrobust
from rdrobust.datasets import rdrobust_RDsenate

import causalmc

from causalmc.estimators.rd.conventions import TERMS


@pytest.fixture(scope="module")
def senate():
    data = rdrobust_RDsenate().dropna(subset=["vote", "margin"])
    return pd.DataFrame(
        {
            "x": data["margin"].to_numpy(),
            "y": data["vote"].to_numpy(),
            "cluster": pd.factorize(data["state"])[0],
            "covariate": data["demvoteshlag1"].to_numpy(),
        }
    ).dropna()


def test_the_default_call_prints_rdrobusts_published_numbers(senate):
    full = rdrobust_RDsenate().dropna(subset=["vote", "margin"])
    got = causalmc.estimate("rd", full.rename(columns={"margin": "x", "vote": "y"})[["x", "y"]], bwselect="mserd")
    got = got.set_index("term")
    assert got.loc["conventional", "estimate"] == pytest.approx(7.414, abs=5e-4)
    assert got.loc["conventional", "se"] == pytest.approx(1.459, abs=5e-4)
    assert got.loc["conventional", ["ci_low", "ci_high"]].to_numpy(float) == pytest.approx([4.555, 10.273], abs=5e-4)
    assert got.loc["robust", ["ci_low", "ci_high"]].to_numpy(float) == pytest.approx([4.094, 10.919], abs=5e-4)
    assert got.loc["robust", ["h", "b"]].to_numpy(float) == pytest.approx([17.754, 28.028], abs=5e-4)
    assert list(got.loc["robust", ["n_h_left", "n_h_right"]]) == [360, 323]


@pytest.mark.parametrize(
    "options, kwargs",
    [
        ({"bwselect": "mserd"}, {}),
        (
            {"bwselect": "cerrd", "kernel": "uniform", "vce": "hc1"},
            {"bwselect": "cerrd", "kernel": "uniform", "vce": "hc1"},
        ),
        ({"bwselect": "msetwo", "p": 2}, {"bwselect": "msetwo", "p": 2}),
        ({"bwselect": "mserd", "cluster": "cluster"}, {"cluster": "cluster"}),
        ({"bwselect": "mserd", "covs": ["covariate"]}, {"covs": "covariate"}),
        ({"h": 10.0, "b": 20.0, "vce": "hc3"}, {"h": 10.0, "b": 20.0, "vce": "hc3"}),
    ],
)
def test_options_on_the_senate_data_equal_rdrobust(senate, options, kwargs):
    """The rows, h and b equal rdrobust's on the same frame (estimates to 1e-8·(|τ̂| + se))."""
    got = causalmc.estimate({"name": "rd", **options}, senate).set_index("term").loc[list(TERMS)]
    for key in ("cluster", "covs"):
        if key in kwargs:
            kwargs = kwargs | {key: senate[kwargs[key]].to_numpy()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = rdrobust(senate["y"].to_numpy(), senate["x"].to_numpy(), c=0, **kwargs)
    scale = np.abs(fit.coef.values[:, 0]) + fit.se.values[:, 0]
    assert (np.abs(got["estimate"].to_numpy() - fit.coef.values[:, 0]) <= 1e-8 * scale).all()
    np.testing.assert_allclose(got["se"], fit.se.values[:, 0], rtol=1e-8)
    np.testing.assert_allclose(got.iloc[0][["h", "h_right", "b", "b_right"]].to_numpy(float),
                               fit.bws.values.ravel(), rtol=1e-8)  # fmt: skip
