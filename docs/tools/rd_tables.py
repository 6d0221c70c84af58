"""Print the numbers docs/rd.md quotes from the full runs of `rd_coverage`, `rd_coverage_large_n` and `rd_manipulation`.

Usage::

    python docs/tools/rd_tables.py [--coverage /work/runs/rd_coverage] [--large-n /work/runs/rd_coverage_large_n]
                                   [--manipulation /work/runs/rd_manipulation]

Reads each run folder's ``summary.parquet`` (and its records, for the bandwidths, which the summary does not
hold) and prints the tables and the prose numbers of docs/rd.md.  Values carry their MCSE as the gallery pages
show them (`causalmc.sims.report.page.value_and_mcse`), except in the comparison with Bartalotti, Calhoun & He
(2017), which rounds to the three decimals they print.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from causalmc.sims.report.page import value_and_mcse

MODELS = {"lee": "Lee", "ludwig_miller": "Ludwig–Miller", "cct3": "model 3"}
# each model's infeasible MSE-optimal bandwidth at n = 500 (sims/figures/rd.py's infeasible_bandwidth)
H_MSE = {"lee": "rd_h0.1655", "ludwig_miller": "rd_h0.0825", "cct3": "rd_h0.2601"}
BANDWIDTHS = [("mserd", "rd_mserd"), ("cerrd", "rd_cerrd"), ("infeasible h_MSE", None)]
MEASURES = [("bias", "bias"), ("RMSE", "rmse"), ("coverage", "coverage"), ("length", "ci_width")]


def pm(row, measure: str) -> str:
    """``value ± mcse`` as the gallery pages print it, with a true minus sign."""
    value, mcse = value_and_mcse(float(row[measure]), float(row[f"{measure}_mcse"]))
    return f"{value} ± {mcse}".replace("-", "−")


def fixed(row, measure: str, decimals: int, with_mcse: bool = True) -> str:
    """``value ± mcse`` both rounded to `decimals` (the comparison with a table printed to that precision)."""
    text = f"{row[measure]:.{decimals}f}"
    if with_mcse:
        text += f" ± {row[f'{measure}_mcse']:.{decimals}f}"
    return text.replace("-", "−")


def read_run(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    summary = pd.read_parquet(folder / "summary.parquet")
    records = pd.read_parquet(folder / "records")
    manifest = json.loads((folder / "manifest.json").read_text())
    return summary, records, manifest


def provenance(name: str, manifest: dict, summary: pd.DataFrame) -> None:
    scenario = manifest["scenario_source"]
    print(f"## {name}: revision {manifest['git_revision']}, fingerprint {manifest['fingerprint']}, "
          f"seed {scenario.get('seed', '?')}, reps per cell {sorted(summary['reps'].unique())}, "
          f"wall {manifest['timings']['wall_seconds']:.0f} s on {manifest['jobs']} worker(s)\n")


def coverage_tables(folder: Path) -> None:
    summary, records, manifest = read_run(folder)
    provenance("rd_coverage", manifest, summary)
    mean_h = records[records["term"] == "robust"].groupby(["model", "estimator"])["h"].mean()
    get = lambda m, e, t: summary.loc[(summary["model"] == m) & (summary["estimator"] == e)  # noqa: E731
                                      & (summary["term"] == t)].iloc[0]

    print("| model | bandwidth | mean h | interval | bias | RMSE | coverage | length |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for model, label in MODELS.items():
        for bw_label, estimator in BANDWIDTHS:
            estimator = estimator or H_MSE[model]
            for term in ("conventional", "robust"):
                r = get(model, estimator, term)
                cells = " | ".join(pm(r, m) for _, m in MEASURES)
                print(f"| {label} | {bw_label} | {mean_h[(model, estimator)]:.3f} | {term} | {cells} |")

    print("\nBCH comparison (causalmc column):")
    for term in ("robust", "conventional"):
        for model, label in MODELS.items():
            r = get(model, "rd_mserd", term)
            print(f"| {label} | {term} | {fixed(r, 'bias', 3)}, {fixed(r, 'rmse', 3)}, "
                  f"{fixed(r, 'coverage', 3)}, {fixed(r, 'ci_width', 3, with_mcse=False)} |")

    print("\nrd_global4 beside rd_mserd's robust row:")
    print("| model | estimator | bias | RMSE | coverage | length |")
    print("|---|---|---:|---:|---:|---:|")
    for model, label in MODELS.items():
        for estimator, term, name in (("rd_global4", "effect", "global quartic, HC1"),
                                      ("rd_mserd", "robust", "local linear, mserd, robust")):
            r = get(model, estimator, term)
            print(f"| {label} | {name} | " + " | ".join(pm(r, m) for _, m in MEASURES) + " |")

    print("\nProse numbers:")
    for term in ("conventional", "robust"):
        for bw in ("rd_mserd", "rd_cerrd"):
            cov = [get(m, bw, term)["coverage"] for m in MODELS]
            print(f"  {bw} {term} coverage over models: {min(cov):.4f}–{max(cov):.4f}")
    ratio = [mean_h[(m, "rd_cerrd")] / mean_h[(m, "rd_mserd")] for m in MODELS]
    print(f"  mean h cerrd / mserd: {min(ratio):.3f}–{max(ratio):.3f}")
    longer = [get(m, "rd_cerrd", "robust")["ci_width"] / get(m, "rd_mserd", "robust")["ci_width"] - 1 for m in MODELS]
    print(f"  robust length cerrd / mserd − 1: {min(longer):.3f}–{max(longer):.3f}")
    short = []
    for model in MODELS:
        for _, estimator in BANDWIDTHS:
            r = get(model, estimator or H_MSE[model], "robust")
            short.append(((0.95 - r["coverage"]) * 100, (0.95 - r["coverage"]) / r["coverage_mcse"]))
    print(f"  robust rows short of 95 %: {min(s for s, _ in short):.1f}–{max(s for s, _ in short):.1f} points, "
          f"{min(z for _, z in short):.1f}–{max(z for _, z in short):.1f} MCSE")
    print("  Ludwig–Miller against h / h_MSE (h_MSE = 0.0825):")
    for h in ("0.05", "0.0825", "0.12", "0.1655", "0.2", "0.2601", "0.33", "0.4", "0.5"):
        estimator = "rd" if h == "0.2" else f"rd_h{h}"
        conv, rob = (get("ludwig_miller", estimator, t) for t in ("conventional", "robust"))
        print(f"    h = {h} ({float(h) / 0.0825:.2f} h_MSE): conventional {pm(conv, 'coverage')}, "
              f"robust {pm(rob, 'coverage')}")
    g = get("cct3", "rd_global4", "effect")
    print(f"  rd_global4, model 3: bias {pm(g, 'bias')}, coverage {pm(g, 'coverage')}")


def large_n_table(folder: Path) -> None:
    """Coverage by n, and the data-driven bandwidths' medians against the infeasible MSE-optimal one."""
    from causalmc.sims.figures.rd import infeasible_bandwidth
    from causalmc.sims.scenario import load

    summary, records, manifest = read_run(folder)
    provenance("rd_coverage_large_n", manifest, summary)
    robust = records[records["term"] == "robust"]
    columns = [(e, t) for e in ("rd_mserd", "rd_cerrd") for t in ("conventional", "robust")]
    print("| model | n | h_MSE (infeasible) | mserd h (median) | cerrd h (median) | mserd conventional | mserd robust "
          "| cerrd conventional | cerrd robust |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cell in load(Path(__file__).resolve().parents[2] / "scenarios" / "rd_coverage_large_n.toml").cells():
        model, n = cell.params["model"], cell.params["n"]
        h_mse = infeasible_bandwidth(cell.params)
        at = (summary["model"] == model) & (summary["n"] == n)
        in_cell = robust[(robust["model"] == model) & (robust["n"] == n)]
        median = {e: in_cell.loc[in_cell["estimator"] == e, "h"].median() for e in ("rd_mserd", "rd_cerrd")}
        rows = [summary.loc[at & (summary["estimator"] == e) & (summary["term"] == t)].iloc[0] for e, t in columns]
        print(f"| {model} | {n:,} | {h_mse:.4f} | "
              + " | ".join(f"{median[e]:.4f} ({median[e] / h_mse:.2f}×)" for e in ("rd_mserd", "rd_cerrd"))
              + " | " + " | ".join(fixed(row, "coverage", 3) for row in rows) + " |")


def manipulation_tables(folder: Path) -> None:
    summary, records, manifest = read_run(folder)
    provenance("rd_manipulation", manifest, summary)
    get = lambda n, p, e: summary.loc[(summary["n"] == n) & (summary["manipulation"] == p)  # noqa: E731
                                      & (summary["estimator"] == e)].iloc[0]
    print("| n | π | jump 2πf(0) | jackknife | plug-in | bias of f̂₊ − f̂₋ (jackknife row) |")
    print("|---|---|---|---|---|---|")
    for n in sorted(summary["n"].unique()):
        for p in sorted(summary["manipulation"].unique()):
            jk, pl = get(n, p, "rd_density"), get(n, p, "rd_density_plugin")
            print(f"| {n:,} | {p:g} | {2 * p * 0.625:g} | {pm(jk, 'rejection')} | {pm(pl, 'rejection')} "
                  f"| {pm(jk, 'bias')} |")
    print("\nProse numbers:")
    for estimator in ("rd_density", "rd_density_plugin"):
        size = summary[(summary["manipulation"] == 0) & (summary["estimator"] == estimator)]
        z = (0.05 - size["rejection"]) / size["rejection_mcse"]
        print(f"  size {estimator}: {', '.join(f'{v:.4f}' for v in size['rejection'])} "
              f"({', '.join(f'{v:.1f}' for v in z)} MCSE below 5 %)")
    jk = records[(records["estimator"] == "rd_density") & (records["status"] == "ok")]
    medians = jk.groupby(["n", "manipulation"])[["h_left", "h_right"]].median()
    for n, block in medians.groupby(level="n"):
        print(f"  n = {n}: median comb bandwidths {block.min().min():.3f}–{block.max().max():.3f}")
        print(block.round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coverage", type=Path, default=Path("/work/runs/rd_coverage"))
    parser.add_argument("--large-n", type=Path, default=Path("/work/runs/rd_coverage_large_n"))
    parser.add_argument("--manipulation", type=Path, default=Path("/work/runs/rd_manipulation"))
    args = parser.parse_args()
    coverage_tables(args.coverage)
    print()
    large_n_table(args.large_n)
    print()
    manipulation_tables(args.manipulation)


if __name__ == "__main__":
    main()
