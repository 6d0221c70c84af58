"""The placebo_panel DGP: a user's panel as the design.

- Bad data files are refused before any work (exit 2, the file and the
  problem named, nothing written), one test per problem.
- The draw kernel equals its plain twin; every drawn row is a row of the
  panel, plus tau on the treated periods from the start on.
- The file enters the run's identity by content: the same table under
  another path gives identical records; an edited table is refused in the
  old run folder.
- Micro data collapse to unit-period means; the panel is read once per
  process; `sample` gives the tidy panel.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalmc.sims import api
from causalmc.sims.cli import main
from causalmc.sims.dgps import placebo_panel
from causalmc.sims.dgps.placebo_panel import SHIPPED, load_panel
from causalmc.sims.scenario import load


def small_panel(units=8, periods=6, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"u{i}", 2000 + t, float(rng.normal() + i)) for i in range(units) for t in range(periods)]
    return pd.DataFrame(rows, columns=["id", "t", "y"])


def scenario_text(data, extra="") -> str:
    return (
        f'name = "mine"\ndgp = "placebo_panel"\nreps = 40\nseed = 3\nchunk_size = 20\nestimators = ["twfe"]\n'
        f'[params]\ndata = "{data}"\nunit = "id"\nperiod = "t"\noutcome = "y"\n{extra}'
    )


def write(tmp_path, frame, name="panel.csv", extra="") -> Path:
    data = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(data)
    else:
        frame.to_csv(data, index=False)
    path = tmp_path / "mine.toml"
    path.write_text(scenario_text(name, extra))
    return path


def refused(tmp_path, capsys, path) -> str:
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    assert not out.exists()
    return capsys.readouterr().err


def test_a_missing_file_is_refused_with_where_it_was_looked_for(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text(scenario_text("nowhere.csv"))
    err = refused(tmp_path, capsys, path)
    assert "key 'params.data'" in err and f"data file not found: {tmp_path / 'nowhere.csv'}" in err
    assert "shipped: castle" in err


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda f: f.drop(columns="y"), "has no column 'y'; its columns: id, t"),
        (lambda f: f.iloc[1:], "is not balanced: 1 of 8 units lack some of the 6 periods (e.g. id 'u0' has 5)"),
        (lambda f: pd.concat([f, f.iloc[[3]]]), "repeats (id, t) = (u0, 2003) and others"),
        (
            lambda f: f.assign(y=f["y"].astype(object).where(f.index != 4, "twelve")),
            "outcome 'y' is not numeric (row 5: 'twelve')",
        ),
        (lambda f: f.assign(y=f["y"].where(f.index != 4)), "outcome 'y' is missing in 1 rows"),
    ],
    ids=["missing column", "unbalanced", "duplicated", "non-numeric", "missing values"],
)
def test_a_bad_panel_is_refused_naming_the_file_and_the_problem(tmp_path, capsys, change, says):
    path = write(tmp_path, change(small_panel()))
    err = refused(tmp_path, capsys, path)
    assert "key 'params.data'" in err and str((tmp_path / "panel.csv").resolve()) in err and says in err


def test_too_few_periods_for_the_start_window_is_refused(tmp_path, capsys):
    path = write(tmp_path, small_panel(periods=4), extra="min_pre = 3\nmin_post = 2\n")
    err = refused(tmp_path, capsys, path)
    assert "key 'params.min_pre and params.min_post'" in err
    assert "4 periods leave no start with 3 periods before it and 2 from it on; allowed: min_pre + min_post ≤ 4" in err


def test_an_unreadable_parquet_file_is_refused(tmp_path, capsys):
    (tmp_path / "panel.parquet").write_bytes(b"not parquet at all")
    path = tmp_path / "mine.toml"
    path.write_text(scenario_text("panel.parquet"))
    err = refused(tmp_path, capsys, path)
    assert "cannot be read as Parquet" in err


@pytest.mark.parametrize("replace", ["no", "yes"])
def test_the_draw_equals_its_twin_and_draws_rows_of_the_panel(replace):
    panel = np.arange(30.0).reshape(6, 5) ** 1.5
    y, treated, start = (np.empty((50, 4, 5)), np.empty((50, 4)), np.empty(50, np.int64))
    placebo_panel._draw(np.random.default_rng(7), panel, 2, replace == "yes", 2, 4, 0.5, y, treated, start)
    twin = reference_draw(np.random.default_rng(7), panel, 4, 2, replace == "yes", 2, 4, 0.5, 50)
    np.testing.assert_array_equal(y, twin[0])
    np.testing.assert_array_equal(treated, twin[1])
    np.testing.assert_array_equal(start, twin[2])
    assert ((start >= 2) & (start <= 4)).all() and (treated.sum(axis=1) == 2).all()
    effect = treated[:, :, None] * (np.arange(1, 6)[None, None, :] >= start[:, None, None]) * 0.5
    untreated = y - effect
    for r in range(50):
        for row in untreated[r]:
            assert any(np.array_equal(row, p) for p in panel)
        if replace == "no":
            assert len({tuple(row) for row in untreated[r]}) == 4


def reference_draw(rng, panel, drawn, n_treated, with_replacement, start_min, start_max, tau, n_reps):
    """Plain numpy twin of `placebo_panel._draw` (same draws in the same order)."""
    g, t = panel.shape
    y, treated, start = np.empty((n_reps, drawn, t)), np.zeros((n_reps, drawn)), np.empty(n_reps, np.int64)
    for r in range(n_reps):
        if with_replacement:
            chosen = [rng.integers(0, g) for _ in range(drawn)]
        else:
            order = list(range(g))
            for i in range(drawn):
                j = rng.integers(i, g)
                order[i], order[j] = order[j], order[i]
            chosen = order[:drawn]
        start[r] = rng.integers(start_min, start_max + 1)
        treated[r, :n_treated] = 1.0
        post = np.arange(1, t + 1) >= start[r]
        y[r] = panel[chosen] + tau * treated[r][:, None] * post[None, :]
    return y, treated, start


def test_the_file_is_identified_by_its_content_not_its_path(tmp_path, capsys):
    frame = small_panel()
    (tmp_path / "a").mkdir()
    first = write(tmp_path / "a", frame)
    other = tmp_path / "b"
    other.mkdir()
    shutil.copy(tmp_path / "a" / "panel.csv", other / "elsewhere.csv")
    (other / "mine.toml").write_text(scenario_text("elsewhere.csv"))
    a, b = load(first), load(other / "mine.toml")
    assert a.fingerprint() == b.fingerprint() and a.cells()[0].key == b.cells()[0].key
    out = tmp_path / "out"
    assert main(["run", str(first), "--out", str(out / "1"), "--quiet", "--no-figures"]) == 0
    assert main(["run", str(other / "mine.toml"), "--out", str(out / "2"), "--quiet", "--no-figures"]) == 0
    records = [pd.read_parquet(out / k / "mine" / "records").drop(columns="cell") for k in "12"]
    pd.testing.assert_frame_equal(*records)
    frame.loc[7, "y"] += 1.0  # an edited table is another experiment
    frame.to_csv(tmp_path / "a" / "panel.csv", index=False)
    assert load(first).fingerprint() != a.fingerprint()
    assert main(["run", str(first), "--out", str(out / "1"), "--quiet", "--no-figures"]) == 2
    assert "holds results of another version" in capsys.readouterr().err


def test_micro_data_collapse_to_unit_period_means(tmp_path):
    panel = small_panel()
    spread = panel.assign(y=panel["y"] - 1.0)
    micro = pd.concat([spread, panel.assign(y=panel["y"] + 1.0)])
    micro.to_csv(tmp_path / "micro.csv", index=False)
    panel.to_csv(tmp_path / "panel.csv", index=False)
    means = load_panel(tmp_path / "micro.csv", "id", "t", "y", aggregate="mean")[0]
    np.testing.assert_allclose(means, load_panel(tmp_path / "panel.csv", "id", "t", "y")[0], rtol=1e-14)


def test_the_panel_is_read_once_per_process(tmp_path, monkeypatch):
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    reads = []
    original = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: reads.append(a) or original(*a, **k))
    params = {
        **{s.name: s.default for s in placebo_panel.DGPS[0].params},
        "data": str(tmp_path / "panel.csv"), "unit": "id", "period": "t", "outcome": "y",
    }  # fmt: skip
    for seed in range(3):
        placebo_panel.generate(np.random.default_rng(seed), 5, params)
    assert len(reads) == 1


def test_the_shipped_castle_panel_and_its_sample(tmp_path):
    y, states, years = load_panel(SHIPPED["castle"].path, "state", "year", "l_homicide")
    assert y.shape == (50, 11) and years == tuple(range(2000, 2011))
    frame = api.sample(load(runner_scenario(tmp_path)), rep=2)
    assert len(frame) == 50 * 11 and frame.attrs["truth"] == 0.0


def runner_scenario(tmp_path):
    path = tmp_path / "castle.toml"
    path.write_text(
        'name = "c"\ndgp = "placebo_panel"\nreps = 10\nseed = 1\nestimators = ["twfe"]\n[params]\ndata = "castle"\n'
    )
    return path


def test_castle_placebo_scenario_is_in_the_suite():
    scenario = load(Path(__file__).resolve().parents[1] / "scenarios" / "castle_placebo.toml")
    assert scenario.suite_reps and scenario.data_files["castle"]["path"].endswith("castle.csv")


def test_the_shipped_cps_panel_is_bdms():
    """50 states × 1979–2018; sliced to 1979–1999 by default; its two-way residuals' first three autocorrelations
    are near BDM's 0.51, 0.44, 0.33 (0.52, 0.45, 0.35 here: aggregated data, not BDM's micro residuals)."""
    y, states, years = load_panel(SHIPPED["cps"].path, "state", "year", "log_wage")
    assert y.shape == (50, 40) and years[0] == 1979 and years[-1] == 2018 and len(set(states)) == 50
    dgp = placebo_panel.DGPS[0]
    params = dgp.with_dataset_defaults({s.name: s.default for s in dgp.params} | {"data": "cps"})
    panel = placebo_panel._shape(params)[0]
    assert panel.shape == (50, 21)
    np.testing.assert_array_equal(panel, y[:, :21])
    resid = panel - panel.mean(1, keepdims=True) - panel.mean(0, keepdims=True) + panel.mean()
    rho = [np.corrcoef(resid[:, lag:].ravel(), resid[:, :-lag].ravel())[0, 1] for lag in (1, 2, 3)]
    assert np.allclose(rho, [0.51, 0.44, 0.33], atol=0.02), rho


def shipped_cps_scenario(folder: Path, data: str, extra: str = "") -> Path:
    path = folder / f"cps_{len(list(folder.glob('cps_*.toml')))}.toml"
    path.write_text(
        f'name = "c"\ndgp = "placebo_panel"\nreps = 10\nseed = 1\nestimators = ["twfe"]\n'
        f'[params]\ndata = "{data}"\nmin_pre = 6\nmin_post = 5\n{extra}'
    )
    return path


def test_the_cps_dataset_by_name_by_path_or_as_a_copy_is_one_dataset_with_bdms_slice(tmp_path):
    """The shipped dataset is known by its content: its columns and 1979–1999 slice fill the unset parameters in
    every case, before the cell's identity, so the three scenarios are one experiment (same keys, same data)."""
    shutil.copy(SHIPPED["cps"].path, tmp_path / "copy.csv")
    named, by_path, copy = (
        load(shipped_cps_scenario(tmp_path, data)) for data in ("cps", str(SHIPPED["cps"].path), "copy.csv")
    )
    for scenario in (named, by_path, copy):
        (cell,) = scenario.cells()
        assert {k: cell.params[k] for k in ("unit", "period", "outcome", "first_period", "last_period")} == {
            "unit": "state", "period": "year", "outcome": "log_wage", "first_period": 1979, "last_period": 1999
        }  # fmt: skip
        assert cell.key == named.cells()[0].key and scenario.fingerprint() == named.fingerprint()
        frame = api.sample(scenario, rep=1)
        assert frame["period"].nunique() == 21 and frame["unit"].nunique() == 50
    pd.testing.assert_frame_equal(api.sample(named, rep=4), api.sample(copy, rep=4))


def test_an_explicit_slice_or_outcome_overrides_the_datasets_and_changes_the_identity(tmp_path):
    default = load(shipped_cps_scenario(tmp_path, "cps"))
    whole = load(shipped_cps_scenario(tmp_path, "cps", "first_period = 1979\nlast_period = 2018\n"))
    hours = load(shipped_cps_scenario(tmp_path, "cps", 'outcome = "hours"\n'))
    assert api.sample(whole, rep=0)["period"].nunique() == 40
    assert whole.cells()[0].key != default.cells()[0].key and whole.fingerprint() != default.fingerprint()
    assert hours.cells()[0].params["outcome"] == "hours" and hours.cells()[0].params["last_period"] == 1999
    assert hours.cells()[0].key != default.cells()[0].key


def test_a_file_of_ones_own_needs_its_columns_named(tmp_path, capsys):
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    path = tmp_path / "mine.toml"
    path.write_text('name = "m"\ndgp = "placebo_panel"\nreps = 4\nseed = 1\nestimators = ["twfe"]\n'
                    '[params]\ndata = "panel.csv"\nperiod = "t"\n')  # fmt: skip
    err = refused(tmp_path, capsys, path)
    assert "key 'params.unit and params.outcome'" in err
    assert "is not a shipped dataset, so its columns must be given; allowed: its columns id, t, y" in err


def test_data_as_a_grid_parameter_takes_each_datasets_definition(tmp_path):
    path = tmp_path / "both.toml"
    path.write_text('name = "b"\ndgp = "placebo_panel"\nreps = 4\nseed = 1\nestimators = ["twfe"]\n'
                    '[grid]\ndata = ["castle", "cps"]\n')  # fmt: skip
    castle, cps = load(path).cells()
    assert (castle.params["outcome"], castle.params["first_period"]) == ("l_homicide", None)
    assert (cps.params["outcome"], cps.params["first_period"], cps.params["last_period"]) == ("log_wage", 1979, 1999)
    assert api.sample(load(path), cell={"data": "cps"})["period"].nunique() == 21
