"""Data through the seam: placebo_panel's data files, a user's own panel through `estimate`, and what a run's
identity sees against what the DGP sees.

- `placebo_panel` from a scenario file: the shipped castle panel by default
  (50 × 2000–2010); ``data = "cps"`` BDM's 1979–1999 unless the scenario
  gives a slice (21 periods, 25 of 50 states treated, laws starting in
  1985–1995 with min_pre = 6, min_post = 5), either end of the slice given
  alone; an explicit slice; a CSV or Parquet file of the user's, whole; and
  `estimate("twfe", …)` of its sample with the residual degrees of freedom of
  that panel (NT − G − T, the classical t's).
- A panel of the user's with years for periods: ``start`` and ``cohort`` are
  read in the units of its ``period`` column, so `estimate` gives what it
  gives on the same panel numbered 1..T.
- ``adjust`` naming a block (``controls``) adjusts for its variables.
- Identity: parameters that give different data must give different cell
  keys (a cell key picks the random stream and the records' file names):
  two grid values naming one table are refused, close floats keep their own
  cell labels, an adaptive scenario's first round is in its fingerprint,
  and a reopened run reads its data files from where they were first read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_scenario

import causalmc
from causalmc.sims.api import as_scenario
from causalmc.sims.dgps import placebo_panel
from causalmc.sims.scenario import ScenarioError

DATA = Path(placebo_panel.__file__).parent / "data"  # the shipped files
CPS = 'data = "cps"\noutcome = "log_wage"\nmin_pre = 6\nmin_post = 5\n'  # BDM's design (bdm_cps.toml)


def placebo(folder: Path, name: str, params: str, reps: int = 60, extra: str = "") -> Path:
    """A placebo_panel scenario with these [params] lines and twfe."""
    body = f'dgp = "placebo_panel"\nestimators = ["twfe", "twfe_collapsed"]\n[params]\n{params}{extra}'
    return write_scenario(folder, name, body, reps)


def samples(path: Path, reps: int, cell=None) -> list[pd.DataFrame]:
    scenario = as_scenario(path)  # parsed once
    return [causalmc.sample(scenario, cell=cell, rep=r) for r in range(reps)]


def panel_shape(frame: pd.DataFrame) -> tuple[int, int]:
    return frame["unit"].nunique(), frame["period"].nunique()


def starts_of(frames: list[pd.DataFrame]) -> set[int]:
    return {int(f["start"].iloc[0]) for f in frames}


def treated_units(frame: pd.DataFrame) -> int:
    return int(frame.groupby("unit")["treated"].first().sum())


# -- placebo_panel: the shipped panels ------------------------------------------------------------------------------


def test_without_data_the_castle_panel_is_used_whole(tmp_path):
    """The default data is castle: 50 states × 2000–2010; half treated; a start leaving min_pre = min_post = 1."""
    frames = samples(placebo(tmp_path, "castle_default", "tau = 0.0\n"), 30)
    for frame in frames:
        assert list(frame.columns) == ["unit", "period", "y", "treated", "start", "post", "D"]
        assert len(frame) == 50 * 11 and panel_shape(frame) == (50, 11) and treated_units(frame) == 25
        assert frame.attrs["truth"] == 0.0
    starts = starts_of(frames)
    assert starts <= set(range(2, 12)) and len(starts) > 1, starts


def test_a_slice_of_castle_is_that_slice(tmp_path):
    frames = samples(
        placebo(tmp_path, "castle_slice", 'data = "castle"\nfirst_period = 2002\nlast_period = 2008\n'), 20
    )
    assert {panel_shape(f) for f in frames} == {(50, 7)}
    assert starts_of(frames) <= set(range(2, 8))


def test_cps_by_name_is_bdms_50_states_by_1979_1999(tmp_path):
    """Fails while the loader hands the DGP the file's path instead of the name "cps" (40 periods, 1979–2018)."""
    frame = causalmc.sample(placebo(tmp_path, "cps", CPS), rep=3)
    assert panel_shape(frame) == (50, 21), f"{panel_shape(frame)[1]} periods: not BDM's 1979–1999"
    assert len(frame) == 1050 and treated_units(frame) == 25


def test_cps_laws_start_only_in_1985_1995(tmp_path):
    """min_pre = 6, min_post = 5 on 21 years: starts in periods 7–17 (1985–1995), across many replications."""
    starts = starts_of(samples(placebo(tmp_path, "cps_starts", CPS), 60))
    assert starts <= set(range(7, 18)), f"laws start in periods {sorted(starts)} (1979 + start − 1)"
    assert len(starts) > 1


def test_cps_with_only_a_first_period_keeps_bdms_last(tmp_path):
    """first_period alone: 1985 … 1999, BDM's last year still the default (15 periods)."""
    frame = causalmc.sample(placebo(tmp_path, "cps_from_1985", CPS + "first_period = 1985\n"), rep=0)
    assert panel_shape(frame) == (50, 15), f"{panel_shape(frame)[1]} periods, not 1985–1999"


def test_cps_with_only_a_last_period_starts_in_1979(tmp_path):
    frame = causalmc.sample(placebo(tmp_path, "cps_to_1990", CPS + "last_period = 1990\n"), rep=0)
    assert panel_shape(frame) == (50, 12)


def test_cps_with_an_explicit_slice_is_that_slice(tmp_path):
    frames = samples(placebo(tmp_path, "cps_slice", CPS + "first_period = 1985\nlast_period = 2000\n"), 20)
    assert {panel_shape(f) for f in frames} == {(50, 16)}
    assert starts_of(frames) <= set(range(7, 13))  # 16 − 5 + 1 = 12


def test_a_grid_over_the_shipped_panels_gives_each_cell_its_own_columns_and_slice(tmp_path):
    """Each cell's dataset fills its own unset parameters: castle's l_homicide on 2000–2010, cps's log_wage on
    BDM's 1979–1999."""
    path = placebo(tmp_path, "both", 'min_pre = 6\nmin_post = 5\n[grid]\ndata = ["castle", "cps"]\n', reps=3)
    castle, cps = (causalmc.sample(path, cell={"data": name}, rep=0) for name in ("castle", "cps"))
    assert panel_shape(castle) == (50, 11) and panel_shape(cps) == (50, 21)
    assert castle["y"].mean() < 3 < cps["y"].mean()  # log homicide rates about 1.5, log weekly wages about 6
    keys = [c.key for c in as_scenario(path).cells()]
    assert len(set(keys)) == 2


@pytest.mark.parametrize(
    ("params", "rows", "dof"),
    [('data = "castle"\n', 550, 550 - 50 - 11), (CPS, 1050, 1050 - 50 - 21)],
    ids=["castle", "cps"],
)
def test_the_sample_reaches_estimate_with_its_panels_degrees_of_freedom(tmp_path, params, rows, dof):
    """Classical twfe: t with NT − G − T residual degrees of freedom (G + T − 1 effects and the treatment).
    The cps case fails while the slice is lost (2,000 rows, 1,910)."""
    frame = causalmc.sample(placebo(tmp_path, "to_estimate", params + "tau = 0.5\n"), rep=1)
    result = causalmc.estimate("twfe", frame)
    assert (len(frame), result["dof"]) == (rows, dof)
    assert result["status"] == "ok"


def test_a_placebo_run_writes_its_records_with_the_truth_tau(tmp_path):
    path = placebo(tmp_path, "castle_run", "tau = 0.1\n[grid]\nn_treated = [1, 5]\n", reps=4)
    run = causalmc.run(path, out=tmp_path / "out", jobs=1, progress=False, figures=False)
    records = run.records()
    assert len(records) == 2 * 4 * 2 and not records.duplicated(["cell", "rep", "estimator", "term"]).any()
    assert set(records["term"]) == {"effect"} and (records["truth"] == 0.1).all()
    assert set(records["n_treated"]) == {1, 5}
    frame = causalmc.sample(path, cell={"n_treated": 5}, rep=2)
    assert treated_units(frame) == 5 and frame.attrs["truth"] == 0.1


# -- placebo_panel: the user's own file -------------------------------------------------------------------------------


def own_panel(units=8, periods=6) -> pd.DataFrame:
    rng = np.random.default_rng(20261203)
    rows = [(f"s{i}", 2000 + t, float(rng.normal() + i)) for i in range(units) for t in range(periods)]
    return pd.DataFrame(rows, columns=["id", "t", "y"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_of_ones_own_is_used_whole_and_each_unit_is_one_of_its_rows(tmp_path, suffix):
    table = own_panel()
    (table.to_csv if suffix == ".csv" else table.to_parquet)(tmp_path / f"panel{suffix}", index=False)
    params = f'data = "panel{suffix}"\nunit = "id"\nperiod = "t"\noutcome = "y"\nmin_pre = 2\nmin_post = 2\n'
    rows = table.pivot(index="id", columns="t", values="y").to_numpy()
    for tau, units, n_treated in ((0.0, 0, 0), (0.5, 5, 2)):
        path = placebo(tmp_path, "own", params + f"tau = {tau}\nunits = {units}\nn_treated = {n_treated}\n", reps=20)
        frames = samples(path, 20)
        for frame in frames:
            assert panel_shape(frame) == ((units or 8), 6)  # the whole file: 8 units × 2000–2005
            assert treated_units(frame) == (n_treated or 4)  # round(treated_share 0.5 × 8)
            untreated = (frame["y"] - tau * frame["D"]).to_numpy().reshape(-1, 6)
            for unit in untreated:  # a row of the file, plus tau from the start on if treated (to rounding)
                assert np.abs(rows - unit).max(axis=1).min() <= 1e-12 * np.abs(unit).max()
        assert starts_of(frames) <= set(range(3, 6))  # 6 periods, two before the start and two from it


def test_the_shipped_cps_named_by_its_path_or_its_name_differ_only_with_their_keys(tmp_path):
    """The same identity must mean the same numbers: "cps" and the path of the shipped cps.csv give the same
    panel, or different cell keys (so different streams and records)."""
    by_name = as_scenario(placebo(tmp_path, "by_name", CPS))
    by_path = as_scenario(placebo(tmp_path, "by_path", CPS.replace('"cps"', f'"{DATA / "cps.csv"}"')))
    a, b = causalmc.sample(by_name, rep=0), causalmc.sample(by_path, rep=0)
    if a.shape == b.shape and (a["y"].to_numpy() == b["y"].to_numpy()).all():
        assert by_name.cells()[0].key == by_path.cells()[0].key  # the same table gives the same numbers
    else:
        assert by_name.cells()[0].key != by_path.cells()[0].key, "different data under one cell key"


# -- a user's own panel through estimate: periods in years -----------------------------------------------------------


def test_estimate_reads_start_in_the_units_of_the_period_column(tmp_path):
    """Periods 2000–2010 (castle's years) or 0–10 with the start in the same units: the same estimate as the
    frame's own 1–11.  Before, start was read as a position whatever the periods (0-indexed: a silently shifted
    law and another estimate, status ok; years: no treated period)."""
    frame = causalmc.sample(placebo(tmp_path, "years", "tau = 0.5\n"), rep=2)
    expected = causalmc.estimate("twfe", frame)
    for shift in (1999, -1):
        moved = frame.assign(period=frame["period"] + shift, start=frame["start"] + shift)
        got = causalmc.estimate("twfe", moved)
        assert (
            got[["estimate", "se", "dof", "status"]].tolist() == expected[["estimate", "se", "dof", "status"]].tolist()
        )


def test_estimate_reads_cohorts_in_the_units_of_the_period_column(tmp_path):
    """A staggered panel in years with cohorts as first treated years and 0 for never (csdid's mpdta layout)."""
    path = write_scenario(
        tmp_path, "staggered", 'dgp = "did_staggered"\nestimators = ["cs"]\n[params]\ntau_growth = 0.25\n'
    )
    frame = causalmc.sample(path, rep=0)
    in_years = frame.assign(
        period=frame["period"] + 2003, cohort=np.where(frame["cohort"] > 0, frame["cohort"] + 2003, 0.0)
    )
    for entry in ({"name": "cs", "aggregation": "event"}, "imputation"):
        expected, got = causalmc.estimate(entry, frame), causalmc.estimate(entry, in_years)
        pd.testing.assert_frame_equal(got, expected)


def test_a_start_needs_numeric_periods(tmp_path):
    frame = causalmc.sample(placebo(tmp_path, "labels", "tau = 0.5\n"), rep=0)
    labelled = frame.assign(period="p" + frame["period"].astype(str).str.zfill(2))
    with pytest.raises(causalmc.sims.frames.FrameError, match="'period' is not numeric"):
        causalmc.estimate("twfe", labelled)


# -- adjust naming a block --------------------------------------------------------------------------------------------


def test_adjust_naming_the_controls_block_adjusts_for_its_variables(tmp_path):
    """adjust = ["controls"] is the default adjustment (six controls of lunceford_davidian here); before, a
    scenario naming it crashed with a broadcasting error."""
    body = (
        'dgp = "lunceford_davidian"\nestimators = [\n    { name = "ols_adjusted", label = "default" },\n'
        '    { name = "ols_adjusted", adjust = ["controls"], label = "block" },\n]\n[params]\nn = 200\n'
    )
    path = write_scenario(tmp_path, "block", body)
    records = causalmc.run(path, out=tmp_path / "out", jobs=1, progress=False, figures=False).records()
    by = records.pivot(index="rep", columns="estimator", values="estimate")
    assert (by["block"] == by["default"]).all()
    frame = causalmc.sample(path, rep=1)
    assert causalmc.estimate("ols_adjusted", frame, adjust=["controls"])["estimate"] == by.loc[1, "default"]


# -- identity: what changes the numbers must change the keys ---------------------------------------------------------



def test_two_grid_values_naming_one_table_keep_two_cells(tmp_path):
    """data = ["castle", its path]: two cells with one cell key share one stream and one set of record files,
    so the run keeps one cell's records (4 of 8 here).  Either refuse the grid or keep the cells apart."""
    body = f'dgp = "placebo_panel"\nestimators = ["twfe"]\n[grid]\ndata = ["castle", "{DATA / "castle.csv"}"]\n'
    path = write_scenario(tmp_path, "one_table_twice", body, reps=4)
    try:
        run = causalmc.run(path, out=tmp_path / "out", jobs=1, progress=False, figures=False)
    except ScenarioError as exc:
        assert exc.key == "grid.data"
        return
    assert run.records().groupby("cell", observed=True).size().tolist() == [4, 4]


def test_grid_values_equal_to_six_digits_keep_their_own_summary_rows(tmp_path):
    body = 'dgp = "confounding"\nestimators = ["ols"]\n[params]\nn = 20\n[grid]\nbeta = [0.1234561, 0.1234562]\n'
    run = causalmc.run(write_scenario(tmp_path, "close", body), out=tmp_path / "out", jobs=1, progress=False,
                       figures=False)  # fmt: skip
    assert len(run.summary) == 2 and (run.summary["reps"] == 3).all()


def test_an_adaptive_scenarios_first_round_is_part_of_its_identity(tmp_path):
    """With target_mcse the chunk is at most `reps`, so --reps changes which draws make replication 60; the
    fingerprint must then change too (or the numbers must not)."""
    body = (
        'dgp = "confounding"\ntarget_mcse = { bias = 0.001 }\nmax_reps = 1000\nestimators = ["ols"]\n[params]\nn = 20\n'
    )
    path = write_scenario(tmp_path, "adaptive", body, reps=100)
    first, second = as_scenario(path), as_scenario(path, reps=50)
    same_numbers = (causalmc.sample(first, rep=60)["y"] == causalmc.sample(second, rep=60)["y"]).all()
    assert same_numbers or first.fingerprint() != second.fingerprint()



def test_a_run_from_a_toml_string_with_a_relative_data_file_reopens_from_elsewhere(tmp_path, monkeypatch):
    """The manifest records the file each data value resolved to; reopening re-reads the source instead, and
    resolves "panel.csv" of a scenario given as text against the current folder."""
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    own_panel().to_csv(tmp_path / "here" / "panel.csv", index=False)
    text = (
        'name = "relative"\ndgp = "placebo_panel"\nreps = 3\nseed = 1\nestimators = ["twfe"]\n'
        '[params]\ndata = "panel.csv"\nunit = "id"\nperiod = "t"\noutcome = "y"\n'
    )
    monkeypatch.chdir(tmp_path / "here")
    run = causalmc.run(text, out=tmp_path / "out", jobs=1, progress=False, figures=False)
    monkeypatch.chdir(tmp_path / "elsewhere")
    again = causalmc.open(run.run_dir)
    assert [c.key for c in again.scenario.cells()] == [c.key for c in run.scenario.cells()]
