"""Should the default meta-model's first pick listen to the learned ranker?

Grouped leave-one-family-out (``evaluate_recommender``, families dealt into ``--n-folds``
folds) of ``DefaultModel(ranker_share=s)`` for every ``--shares`` value (a number, or
``tune``: chosen by the model's inner folds), next to the ranker alone. Per task and k: the
share of the single-best-to-oracle gap closed, and each share's paired difference to the
forest alone (share 0) over the held-out datasets with its standard error.

Writes ``benchmarks/results/ranker_share.csv`` and ``.md``.

Usage::

    python benchmarks/ranker_share.py --kb data/kb --n-folds 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.kb import KnowledgeBase
from autometa.metamodel.evaluation import evaluate_recommender

KS = (1, 3, 5, 10)
RESULTS = Path(__file__).resolve().parent / "results"


def _share(text: str) -> float | str:
    return text if text == "tune" else float(text)


def evaluate_share(kb: KnowledgeBase, task: str, share: float | str, n_folds: int) -> tuple:
    """The gap table and the per-dataset picks of the default model with ``share``."""
    models = ("default", "ranker") if share == 0.0 else ("default",)
    table, picks = evaluate_recommender(
        kb,
        task=task,
        models=models,
        ks=KS,
        n_folds=n_folds,
        model_params={"default": {"ranker_share": share}},
        return_picks=True,
        n_bootstrap=200,
    )
    label = f"default (ranker_share={share})"
    for frame in (table, picks):
        frame["model"] = frame["model"].replace({"default": label})
    return table, picks


def paired(picks: pd.DataFrame, model: str, base: str, k: int) -> tuple[float, float]:
    """Mean and standard error of ``model``'s best-of-k minus ``base``'s, paired by dataset
    (normalised scores)."""
    wide = picks.pivot_table(index="dataset", columns="model", values=f"best_of_{k}")
    diff = (wide[model] - wide[base]).dropna().to_numpy()
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="data/kb")
    parser.add_argument("--tasks", nargs="+", default=["classification", "regression"])
    parser.add_argument("--shares", nargs="+", type=_share, default=[0.0, 0.5, "tune"])
    parser.add_argument("--n-folds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "ranker_share")
    args = parser.parse_args(argv)
    kb = KnowledgeBase.load(args.kb)
    rows = []
    for task in args.tasks:
        tables, picks = [], []
        for share in args.shares:
            start = time.perf_counter()
            table, detail = evaluate_share(kb, task, share, args.n_folds)
            print(f"{task} ranker_share={share}: {time.perf_counter() - start:.0f} s", flush=True)
            tables.append(table)
            picks.append(detail)
        table, detail = pd.concat(tables), pd.concat(picks)
        base = "default (ranker_share=0.0)"
        for _, row in table.iterrows():
            diff, se = (
                paired(detail, row["model"], base, int(row["k"]))
                if base in set(detail["model"])
                else (np.nan, np.nan)
            )
            rows.append(
                {
                    "task": task,
                    "model": row["model"],
                    "k": int(row["k"]),
                    "gap_closed": row["gap_closed"],
                    "gap_closed_se": row["gap_closed_se"],
                    "minus_share_0": diff,
                    "minus_share_0_se": se,
                }
            )
    result = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(args.out.with_suffix(".csv"), index=False)
    lines = [
        "# The ranker in the default meta-model's first pick",
        "",
        f"- knowledge base: {args.kb} (fingerprint {kb.fingerprint()})",
        f"- grouped leave-one-family-out, families dealt into {args.n_folds} folds",
        (
            "- gap closed: share of the single-best-to-oracle gap closed by the best of the"
            " top k; `minus share 0`: paired difference of the normalised best-of-k score to"
            " the forest alone, mean ± standard error over the held-out datasets"
        ),
        "",
        "| task | model | k | gap closed | minus share 0 |",
        "|---|---|---:|---:|---:|",
    ]
    for r in result.itertuples():
        lines.append(
            f"| {r.task} | {r.model} | {r.k} | {r.gap_closed:.3f} ± {r.gap_closed_se:.3f} | "
            f"{r.minus_share_0:+.4f} ± {r.minus_share_0_se:.4f} |"
        )
    text = "\n".join(lines) + "\n"
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
