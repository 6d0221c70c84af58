"""Solving for the design (`causalmc.solve`, ``run_bench.py solve``, `sims.solve`).

Through the seam: a scenario file → the command line or the API → solve.json,
the report and the figure; the same command gives the same answer bit for
bit, an interrupted solve resumes to it, and a rerun computes nothing.  The
interval's coverage is checked in a batch of solves of a known curve drawn
with the binomial (rates) or normal (means) error the records would have:
the two closed forms of examples/solve_checks.py, where the end-to-end
coverage over 100 seeded solves per design is measured (docs/solve.md).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

import causalmc
from causalmc.sims import records
from causalmc.sims.cli import main
from causalmc.sims.solve.search import Point, find_roots

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCENARIO = """
name = "solve_small"
description = "rct: the n at which the t test reaches 80 % power"
dgp = "rct"
reps = 100
seed = 7
chunk_size = 100
estimators = ["ols"]
[params]
tau = 4.0
r2 = 0.0
[grid]
n = [40, 600]
"""
ARGS = ["--param", "n", "--target", "power=0.80", "--budget", "1200", "--jobs", "1"]


def _checks():
    spec = importlib.util.spec_from_file_location("solve_checks", EXAMPLES / "solve_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("solve") / "solve_small.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def solved(scenario_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("solved")
    assert main(["solve", str(scenario_file), *ARGS, "--out", str(out)]) == 0
    return out / "solve_small"


def _answer(run_dir: Path) -> dict:
    result = json.loads((run_dir / "solve.json").read_text())
    return {"roots": result["roots"], "evaluations": result["evaluations"], "reps": result["reps"]}


def test_a_solve_writes_its_answer_figure_and_report(solved):
    result = json.loads((solved / "solve.json").read_text())
    root = result["roots"]["ols"]
    assert root["status"] == "budget" and root["ci_low"] < root["root"] < root["ci_high"]
    assert root["design_value"] == math.ceil(root["root"]) and root["design_ci"][0] <= root["ci_low"]
    assert result["integer"] and result["reps"] <= 1200
    points = result["evaluations"]
    assert {p["n"] for p in points} >= {40, 600} and all(p["reps"] % 100 == 0 for p in points)
    assert all(math.isfinite(p["power"]) and p["mcse"] >= 0 for p in points)
    assert sum(p["reps"] for p in points) == result["reps"]
    assert (solved / "figures" / "solve.png").stat().st_size > 0
    assert "### Solve: n at which power = 0.8" in (solved / "report.md").read_text()
    assert causalmc.open(solved).summary["reps"].sum() == result["reps"]  # the cells are an ordinary run's


def test_the_api_gives_the_same_answer_and_computes_nothing_again(solved, scenario_file):
    files = {p.name: p.stat().st_mtime_ns for p in (solved / "records").glob("*.parquet")}
    result = causalmc.solve(
        scenario_file, param="n", target="power=0.80", budget=1200, jobs=1, out=solved.parent, figures=False
    )
    assert {p.name: p.stat().st_mtime_ns for p in (solved / "records").glob("*.parquet")} == files
    assert json.loads(json.dumps(result.as_dict()))["roots"] == json.loads((solved / "solve.json").read_text())["roots"]
    assert list(result.table()["estimator"]) == ["ols"]


def test_an_interrupted_solve_resumes_to_the_same_answer(solved, scenario_file, tmp_path, monkeypatch):
    written, original = [], records.write_atomic

    def dies_after_four(table, path):
        if len(written) == 4:
            raise KeyboardInterrupt
        original(table, path)
        written.append(path)

    monkeypatch.setattr(records, "write_atomic", dies_after_four)
    assert main(["solve", str(scenario_file), *ARGS, "--out", str(tmp_path), "--no-figures"]) == 130
    monkeypatch.setattr(records, "write_atomic", original)
    assert len(list((tmp_path / "solve_small" / "records").glob("*.parquet"))) == 4
    assert main(["solve", str(scenario_file), *ARGS, "--out", str(tmp_path), "--no-figures"]) == 0
    assert _answer(tmp_path / "solve_small") == _answer(solved)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "n", "--target", "powr=0.8"], "MEASURE=VALUE"),
        (["--param", "size", "--target", "power=0.8", "--interval", "0", "1"], "not a numeric parameter of 'rct'"),
        (["--param", "mu0", "--target", "power=0.8", "--interval", "0", "1"], "the grid also varies n"),
        (["--param", "n", "--target", "power=0.8", "--interval", "2", "50"], "--interval 2 50"),
        (["--param", "n", "--target", "power=0.8", "--estimator", "liml"], "allowed: ols"),
    ],
)
def test_bad_solve_input_exits_2(scenario_file, tmp_path, capsys, args, message):
    assert main(["solve", str(scenario_file), *args, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "solve_small" / "records").exists()


class KnownCurve:
    """An evaluator of `find_roots` drawing each batch from a known curve, as the records would.

    A rate: Binomial(batch, f(x)) successes per batch; a mean: its batch mean
    ~ N(f(x), sd²/batch).  Integer parameter values, one estimator ``e``.
    """

    def __init__(self, curve, rng, rate: bool, sd: float = 0.0, chunk: int = 100):
        self.curve, self.rng, self.rate, self.sd, self.chunk = curve, rng, rate, sd, chunk
        self.counts, self.sums = {}, {}

    @property
    def total(self):
        return sum(self.counts.values())

    def value(self, x):
        return int(round(x))

    def evaluate(self, values):
        for x in values:
            f = self.curve(x)
            draw = self.rng.binomial(self.chunk, f) if self.rate else self.rng.normal(f * self.chunk, self.sd * math.sqrt(self.chunk))
            self.counts[x] = self.counts.get(x, 0) + self.chunk
            self.sums[x] = self.sums.get(x, 0.0) + draw

    def point(self, label, x, measure):
        reps, mean = self.counts[x], self.sums[x] / self.counts[x]
        mcse = math.sqrt(mean * (1 - mean) / reps) if self.rate else self.sd / math.sqrt(reps)
        return Point(x, mean, mcse, reps, reps)


def test_the_root_interval_covers_the_exact_root_at_its_rate():
    """250 solves of each closed form (rct's t-test power, confounding's interval width, examples/solve_checks.py),
    each batch drawn with the error of its records; the 95 % interval covers the exact root within 4 MCSE of 95 %."""
    checks = _checks()
    rng = np.random.default_rng(20261207)
    power = {n: checks.rct_power(n) for n in range(40, 601)}
    cases = [
        ("power", 0.8, lambda n: power[n], True, 0.0, 40, 600, checks.exact_root("rct")),
        # the width's replication sd at n ≈ 1,540: about 0.1/√n ≈ 0.0026 (σ̂ and 1/√SSX each vary by 1/√(2n))
        ("ci_width", 0.1, checks.confounding_width, False, 0.0026, 200, 6000, checks.exact_root("confounding")),
    ]
    solves = 250
    for measure, goal, curve, rate, sd, lo, hi, truth in cases:
        covered = bounded = 0
        for _ in range(solves):
            known = KnownCurve(curve, rng, rate, sd)
            root = find_roots(known, ["e"], measure, goal, lo, hi, True, 3000, None, 0.95)["e"]
            covered += root.ci_low <= truth <= root.ci_high
            bounded += math.isfinite(root.ci_low) and math.isfinite(root.ci_high)
        share = covered / solves
        assert abs(share - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / solves), (measure, share)
        assert bounded >= 0.95 * solves, (measure, bounded)  # an unbounded interval covers trivially


def test_a_reversal_of_the_measure_is_reported():
    """A curve rising then falling well beyond its MCSE is reported as not monotone."""
    rng = np.random.default_rng(1)
    known = KnownCurve(lambda n: 0.2 + 0.7 * math.sin(math.pi * (n - 40) / 560), rng, True, chunk=400)
    root = find_roots(known, ["e"], "power", 0.5, 40, 500, True, 8000, None, 0.95)["e"]
    assert not root.monotone and root.reversals
