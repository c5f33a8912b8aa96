"""Few-shot quality per CPU-minute: meta-validation ROC AUC of training snapshots.

``python -m autometa.fewshot.train --snapshot-minutes 10`` writes the weights every ten
minutes of training to ``{out}/snapshots/{name}_{minutes}min.pt``. This script scores every
snapshot on meta-validation episodes (``benchmarks/fewshot.py``, same episodes for every
snapshot and for logistic regression) and writes, per run and training minute, the mean
ROC AUC at each k and its difference from logistic regression: the curve that decides which
model size buys the most quality per CPU-minute.

    python benchmarks/fewshot_curve.py --snapshots .fewshot_runs/stretch1/snapshots \
        --k 1,2,5,20 --episodes 5 --max-datasets 36 --n-jobs 2

Writes ``benchmarks/results/fewshot_curve.{csv,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SNAPSHOT = re.compile(r"^(?P<run>.+)_(?P<minutes>\d{4})min$")


def run_benchmark(argv: list[str], out: Path) -> dict:
    """Run ``benchmarks/fewshot.py`` in its own process (its joblib workers import it by
    path) and read back the JSON it writes to ``out``."""
    command = [sys.executable, str(ROOT / "benchmarks" / "fewshot.py"), *argv, "--out", str(out)]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def snapshot_names(folder: Path, runs: list[str] | None) -> list[str]:
    """Snapshot names (file stems) in ``folder``, optionally only of the given runs."""
    names = []
    for path in sorted(folder.glob("*.pt")):
        match = SNAPSHOT.match(path.stem)
        if match and (not runs or match["run"] in runs):
            names.append(path.stem)
    if not names:
        raise SystemExit(f"no snapshots (NAME_0010min.pt) in {folder}")
    return names


def curve_table(summary: dict, names: list[str]) -> pd.DataFrame:
    """One row per snapshot and k: ROC AUC, logistic regression's, and the difference."""
    rows = []
    for key, block in summary.items():
        variant, k = key.split("/k=")
        if variant != "balanced":
            continue
        learners = block["learners"]
        for name in names:
            if name not in learners:
                continue
            match = SNAPSHOT.match(name)
            rows.append(
                {
                    "run": match["run"],
                    "minutes": int(match["minutes"]),
                    "k": int(k),
                    "roc_auc": learners[name]["roc_auc"],
                    "logreg_roc_auc": learners["logreg"]["roc_auc"],
                    "diff_vs_logreg": learners[name]["roc_auc"] - learners["logreg"]["roc_auc"],
                    "n_datasets": block["n_datasets"],
                }
            )
    return pd.DataFrame(rows).sort_values(["run", "minutes", "k"], ignore_index=True)


def _markdown_rows(wide: pd.DataFrame) -> list[str]:
    head = ["run", "minutes", *wide.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (run, minutes), row in wide.iterrows():
        cells = [f"{v:+.4f}" for v in row]
        lines.append(f"| {run} | {minutes} | " + " | ".join(cells) + " |")
    return lines


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted(table["k"].unique())
    fig, axes = plt.subplots(1, len(ks), figsize=(4 * len(ks), 3.4), sharey=True, squeeze=False)
    for ax, k in zip(axes[0], ks):
        part = table[table["k"] == k]
        for run, g in part.groupby("run"):
            ax.plot(g["minutes"], g["diff_vs_logreg"], marker="o", label=run)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.axhline(-0.005, color="red", lw=0.8, ls="--")
        ax.set_title(f"k = {k}")
        ax.set_xlabel("CPU minutes of training (1 thread)")
    axes[0][0].set_ylabel("ROC AUC minus logistic regression")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_losses(folder: Path, path: Path, window: int = 50) -> list[str]:
    """Training loss of every ``*_loss.csv`` in ``folder`` against training minutes, as a
    share of chance (cross-entropy / ln(classes), so that the curriculum's growing class
    counts do not read as a rising loss), rolling mean over ``window`` logged steps;
    returns the runs drawn."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    runs = []
    for csv_path in sorted(folder.glob("*_loss.csv")):
        log = pd.read_csv(csv_path)
        if log.empty:
            continue
        run = csv_path.stem.removesuffix("_loss")
        relative = log["loss"] / np.log(log["n_classes"].clip(lower=2))
        smooth = relative.rolling(window, min_periods=1).mean()
        ax.plot(log["elapsed_s"] / 60.0, smooth, label=run)
        runs.append(run)
    ax.set_xlabel("training minutes")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_ylabel(f"cross-entropy / ln(classes), rolling mean of {window}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return runs


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--snapshots", type=Path, required=True)
    p.add_argument("--runs", default="", help="comma list of run names (default: all)")
    p.add_argument("--k", default="1,2,5,20")
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--max-datasets", type=int, default=None)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS / "fewshot_curve")
    p.add_argument(
        "--loss-plot",
        action="store_true",
        help="also plot the loss logs (*_loss.csv) of the snapshots' run folder",
    )
    args = p.parse_args(argv)
    if args.loss_plot:
        plot_losses(args.snapshots.parent, args.out.with_name("fewshot_loss.png"))

    names = snapshot_names(args.snapshots, [r for r in args.runs.split(",") if r])
    argv_bench = [
        "--split",
        "val",
        "--weights",
        str(args.snapshots),
        "--models",
        ",".join(names),
        "--baselines",
        "logreg",
        "--k",
        args.k,
        "--episodes",
        str(args.episodes),
        "--n-jobs",
        str(args.n_jobs),
    ]
    if args.max_datasets:
        argv_bench += ["--max-datasets", str(args.max_datasets)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = run_benchmark(argv_bench, args.out.with_name(args.out.name + "_bench.json"))
    table = curve_table(result["summary"], names)
    table.to_csv(args.out.with_suffix(".csv"), index=False, float_format="%.4f")
    wide = table.pivot_table(index=["run", "minutes"], columns="k", values="diff_vs_logreg")
    wide.columns = [f"k={k}" for k in wide.columns]
    md = [
        "# Few-shot: meta-validation ROC AUC minus logistic regression, by training minutes",
        "",
        (
            f"{args.episodes} episodes per dataset and k, {int(table['n_datasets'].max())} "
            "meta-val datasets, balanced support. The gate at k <= 5 is >= -0.005."
        ),
        "",
        *_markdown_rows(wide),
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md))
    plot(table, args.out.with_suffix(".png"))
    print("\n".join(md))
    return table


if __name__ == "__main__":
    main()
