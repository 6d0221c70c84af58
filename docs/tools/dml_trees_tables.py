"""Print the numbers docs/dml.md quotes from the full runs of `dml_coverage_trees` and `dml_coverage_trees_irm`.

Usage::

    python docs/tools/dml_trees_tables.py [--plr /work/runs/dml_coverage_trees] [--irm /work/runs/dml_coverage_trees_irm]

Per estimator: coverage, CI length, bias and SE ratio from the run's ``summary.parquet`` (as the gallery pages show
them, `causalmc.sims.report.page.value_and_mcse`), and the mean absolute error |θ̂ − θ| from its records (DoubleML's
"Bias" column; MCSE: the standard deviation over √R), then the paired difference of the two estimators' estimates.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from causalmc.sims.report.page import value_and_mcse


def pm(value: float, mcse: float) -> str:
    shown, error = value_and_mcse(float(value), float(mcse))
    return f"{shown} ± {error}".replace("-", "−")


def tables(folder: Path) -> None:
    summary = pd.read_parquet(folder / "summary.parquet")
    records = pd.read_parquet(folder / "records")
    records = records[records["status"].astype(str) == "ok"]
    print(f"## {folder.name}: replications per cell {sorted(summary['reps'].unique())}")
    print("| estimator | coverage | CI length | bias | mean |error| | SE ratio |")
    print("|---|---|---|---|---|---|")
    for _, row in summary.iterrows():
        errors = (records.loc[records["estimator"].astype(str) == str(row["estimator"]), "estimate"]
                  - records.loc[records["estimator"].astype(str) == str(row["estimator"]), "truth"]).abs()
        mae = pm(errors.mean(), errors.std(ddof=1) / math.sqrt(len(errors)))
        print(f"| {row['estimator']} | {pm(row['coverage'], row['coverage_mcse'])} | "
              f"{pm(row['ci_width'], row['ci_width_mcse'])} | {pm(row['bias'], row['bias_mcse'])} | {mae} | "
              f"{pm(row['se_ratio'], row['se_ratio_mcse'])} |")
    wide = records.pivot_table(index="rep", columns="estimator", values="estimate", observed=True)
    first, second = wide.columns[:2]
    difference = (wide[first] - wide[second]).dropna()
    print(f"paired {first} − {second}: {pm(difference.mean(), difference.std(ddof=1) / math.sqrt(len(difference)))} "
          f"over {len(difference)} replications")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plr", type=Path, default=Path("/work/runs/dml_coverage_trees"))
    parser.add_argument("--irm", type=Path, default=Path("/work/runs/dml_coverage_trees_irm"))
    args = parser.parse_args()
    tables(args.plr)
    print()
    tables(args.irm)


if __name__ == "__main__":
    main()
