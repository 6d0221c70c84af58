"""California's Proposition 99 (the shipped `california_prop99` dataset) through `causalmc.estimate`.

R's synthdid 0.0.9 on this panel (its vignette; pinned in synthdid-py 0.1.0's tests): SDID −15.60383, SC −19.61966,
DID −27.34911, printed to five decimals, so each is held to half a unit in the fifth decimal.  Conventions: the
paper's estimators with synthdid's defaults (SDID: ζ_ω = (N₁T₁)^¼·σ̂, SC: no intercept, no time weights); DID is
the two-way fixed-effects estimate, equal to synthdid's did_estimate on a block design.  The point estimates do
not depend on the variance, so the placebo variance (the only one defined with one treated unit) is used.
"""

import pandas as pd
import pytest

import causalmc
from causalmc.sims.dgps.datasets import DATASETS

R_ESTIMATES = {"sdid": -15.60383, "sc": -19.61966, "twfe": -27.34911}


@pytest.fixture(scope="module")
def prop99():
    """The README's frame: the shipped file in the panel convention (unit, period, y, treated, start)."""
    data = pd.read_csv(DATASETS["california_prop99"].path)
    frame = data.rename(columns={"state": "unit", "year": "period", "packs_per_capita": "y"})
    frame["treated"] = (frame["unit"] == "California").astype(float)
    frame["start"] = 1989
    return frame


@pytest.mark.parametrize("name", list(R_ESTIMATES))
def test_estimate_reproduces_rs_california_numbers(prop99, name):
    options = {"se": "placebo", "draws": 50} if name != "twfe" else {}
    result = causalmc.estimate(name, data=prop99, **options)
    assert result["status"] == "ok"
    assert abs(result["estimate"] - R_ESTIMATES[name]) <= 5e-6


def test_bootstrap_and_jackknife_are_undefined_with_one_treated_state(prop99):
    """As R's vcov returns NA for one treated unit: a status, not a number."""
    for se in ("bootstrap", "jackknife"):
        assert causalmc.estimate("sdid", data=prop99, se=se)["status"] == "one_treated"


def test_the_dataset_is_registered_with_its_licence():
    dataset = DATASETS["california_prop99"]
    assert dataset.path.is_file() and (dataset.path.parent / "california_prop99_LICENSE.txt").is_file()
    frame = pd.read_csv(dataset.path)
    assert frame.shape == (39 * 31, 4) and frame.loc[frame["treated"] == 1, "state"].unique().tolist() == ["California"]
