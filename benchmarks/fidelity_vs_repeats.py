"""More repeats at 500 rows, or larger sizes? Measured on the knowledge base itself.

For every dataset that holds the two fidelities (the base size, and the real size up to
10,000 rows for the algorithm defaults and the 25 best configurations), compare two
sources of error in the choice among the configurations evaluated at both sizes:

* **noise** -- choose by one cross-validation repeat at the base size, score the choice by
  the other repeat at the base size (datasets with two base repeats): what one more repeat
  would fix;
* **size** -- choose by the mean of the base-size folds, score the choice at the real size:
  what evaluating at the real size fixes (the base size ranks configurations for 500 rows,
  not for the user's table).

Both are regrets in the metric's units (balanced accuracy, R²), against the best choice
on the scoring side, over the same candidate configurations. Where the size regret is the
larger, larger sizes buy more than repeats.

    python benchmarks/fidelity_vs_repeats.py --kb data/kb

Writes ``benchmarks/results/fidelity_vs_repeats.{csv,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.kb import KnowledgeBase
from autometa.metrics import DEFAULT_METRIC

RESULTS = Path(__file__).resolve().parent / "results"


def _regret(choose: pd.Series, score: pd.Series) -> float:
    """Best of ``score`` minus the ``score`` of the config ``choose`` ranks first."""
    both = pd.concat([choose, score], axis=1, keys=["choose", "score"]).dropna()
    if len(both) < 2:
        return np.nan
    return float(both["score"].max() - both["score"][both["choose"].idxmax()])


def dataset_regrets(kb: KnowledgeBase, task: str) -> pd.DataFrame:
    """One row per dataset with two fidelities: its noise and size regrets."""
    metric = DEFAULT_METRIC[task]
    results = kb.results(task, fidelity="all")
    results = results[results["status"] == "ok"]
    rows = []
    for dataset, frame in results.groupby("dataset"):
        sizes = sorted(frame["n_rows_used"].dropna().unique())
        if len(sizes) < 2:
            continue
        base, large = (
            frame[frame["n_rows_used"] == sizes[0]],
            frame[frame["n_rows_used"] == sizes[-1]],
        )
        at_large = large.groupby("config_id")[metric].mean()
        at_base = base[base["config_id"].isin(at_large.index)]
        by_repeat = at_base.groupby(["repeat", "config_id"])[metric].mean().unstack(0)
        noise = (
            np.nanmean([_regret(by_repeat[0], by_repeat[1]), _regret(by_repeat[1], by_repeat[0])])
            if by_repeat.shape[1] >= 2
            else np.nan
        )
        rows.append(
            {
                "dataset": dataset,
                "task": task,
                "base_rows": int(sizes[0]),
                "large_rows": int(sizes[-1]),
                "n_configs": int(at_large.size),
                "noise_regret": noise,
                "size_regret": _regret(at_base.groupby("config_id")[metric].mean(), at_large),
            }
        )
    return pd.DataFrame(rows)


def summary(regrets: pd.DataFrame) -> pd.DataFrame:
    """Mean regrets per task, on the datasets that have both measures and on all."""
    out = []
    for task, frame in regrets.groupby("task"):
        paired = frame.dropna(subset=["noise_regret", "size_regret"])
        out.append(
            {
                "task": task,
                "datasets": len(frame),
                "size_regret (all)": frame["size_regret"].mean(),
                "datasets with 2 base repeats": len(paired),
                "noise_regret": paired["noise_regret"].mean(),
                "size_regret": paired["size_regret"].mean(),
                "size larger on": f"{(paired['size_regret'] > paired['noise_regret']).mean():.0%}"
                if len(paired)
                else "-",
            }
        )
    return pd.DataFrame(out).set_index("task")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    kb = KnowledgeBase.load(args.kb)
    regrets = pd.concat([dataset_regrets(kb, t) for t in kb.tasks], ignore_index=True)
    table = summary(regrets)
    args.out.mkdir(parents=True, exist_ok=True)
    regrets.to_csv(args.out / "fidelity_vs_repeats.csv", index=False, float_format="%.4f")
    text = table.to_string(float_format="{:.4f}".format)
    (args.out / "fidelity_vs_repeats.md").write_text(
        "# More repeats at the base size, or larger sizes?\n\n"
        f"Knowledge base: {kb.path} (fingerprint {kb.fingerprint()}). Regrets in the "
        "metric's units (see the script's docstring).\n\n```\n" + text + "\n```\n"
    )
    print(text)


if __name__ == "__main__":
    main()
