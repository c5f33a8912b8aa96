"""Should meta-models learn from base-size or real-size scores? Measured on the KB itself.

The knowledge base scores the whole portfolio on a 500-row subsample of every dataset (its
base fidelity) and the defaults and 25 best configurations again at the dataset's real
size (up to 10,000 rows). A meta-model can learn from either
(:meth:`autometa.metamodel.TrainingData.from_kb`, ``fidelity="base"`` or
``"real_size"``). Users bring tables at their real size, so the picks are scored at the
real size: grouped leave-family-out (``--n-folds`` folds of near-duplicate families), on
the datasets that hold real-size results, normalised regret of the best of the first k
picks (0 = the best config of the dataset, 1 = its median config; lower is better).

The picks of each training fidelity come from :func:`autometa.metamodel.evaluate_recommender`
with ``return_picks=True``; both are scored against the same real-size matrix, and the
difference is paired by dataset (bootstrap CI over the held-out folds, each a group of families).

    python benchmarks/real_size_training.py --kb data/kb --n-folds 10

Writes ``benchmarks/results/kb_v2/real_size_training.{csv,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.kb import KnowledgeBase
from autometa.metamodel import TrainingData, normalised_scores
from autometa.metamodel.evaluation import evaluate_recommender
from autometa.metrics import DEFAULT_METRIC

RESULTS = Path(__file__).resolve().parent / "results" / "kb_v2"
FIDELITIES = ("base", "real_size")


def real_size_datasets(kb: KnowledgeBase, task: str) -> set[str]:
    """Datasets evaluated at a size above their base size."""
    sizes = kb.rows_used(task)
    return set(sizes.index[sizes["largest"] > sizes["base"]])


def regrets(picks: pd.DataFrame, truth: TrainingData, ks: list[int]) -> pd.DataFrame:
    """Per (model, dataset): normalised regret (1 - normalised score) of the best of k."""
    u = normalised_scores(truth.scores, truth.greater_is_better, truth.failed, floor=0.0)
    row = {d: i for i, d in enumerate(truth.datasets)}
    col = {c: j for j, c in enumerate(truth.config_ids)}
    records = []
    for p in picks.itertuples():
        i = row[p.dataset]
        scored = [u[i, col[c]] for c in p.picks]
        scored = [0.0 if not np.isfinite(s) else s for s in scored]
        for k in ks:
            records.append(
                {
                    "model": p.model,
                    "dataset": p.dataset,
                    "fold": p.fold,
                    "k": k,
                    "regret": 1.0 - max(scored[:k]),
                }
            )
    return pd.DataFrame(records)


def paired_ci(diff: pd.Series, folds: pd.Series, n_boot: int, seed: int) -> tuple[float, float]:
    """95 % bootstrap CI of the mean of ``diff``, resampling held-out folds (groups of
    families) as units."""
    rng = np.random.default_rng(seed)
    groups = [diff[folds == f].to_numpy() for f in pd.unique(folds)]
    means = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(groups), len(groups))
        means.append(np.concatenate([groups[g] for g in pick]).mean())
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def run_task(kb: KnowledgeBase, task: str, args: argparse.Namespace) -> pd.DataFrame:
    metric = DEFAULT_METRIC[task]
    truth = TrainingData.from_kb(kb, task, metric, fidelity="real_size")
    keep = real_size_datasets(kb, task)
    per = []
    for fidelity in FIDELITIES:
        _, picks = evaluate_recommender(
            kb,
            task=task,
            models=tuple(args.models),
            ks=tuple(args.ks),
            n_folds=args.n_folds,
            return_picks=True,
            n_bootstrap=0,
            random_state=args.seed,
            progress=True,
            fidelity=fidelity,
        )
        picks = picks[picks["dataset"].isin(keep)]
        per.append(regrets(picks, truth, args.ks).assign(train=fidelity))
    per = pd.concat(per, ignore_index=True)
    wide = per.pivot_table(
        index=["model", "k", "dataset", "fold"], columns="train", values="regret"
    )
    rows = []
    for (model, k), block in wide.groupby(level=["model", "k"]):
        diff = block["real_size"] - block["base"]
        folds = pd.Series(block.index.get_level_values("fold"), index=block.index)
        lo, hi = paired_ci(diff, folds, args.n_bootstrap, args.seed)
        rows.append(
            {
                "task": task,
                "model": model,
                "k": k,
                "datasets": len(block),
                "regret_base": block["base"].mean(),
                "regret_real_size": block["real_size"].mean(),
                "difference": diff.mean(),
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, args: argparse.Namespace, fingerprint: str) -> str:
    lines = [
        "# Meta-models trained on base-size or real-size scores",
        "",
        (
            f"- command: `python benchmarks/real_size_training.py --kb {args.kb} "
            f"--n-folds {args.n_folds}`"
        ),
        (
            f"- knowledge base fingerprint `{fingerprint}`; grouped by family into "
            f"{args.n_folds} folds; scored at the real size on the datasets that have real-size "
            "results"
        ),
        (
            "- regret: 1 - normalised score of the best of the first k picks (0 = the dataset's "
            "best config, 1 = its median); difference = real_size - base (negative: real-size "
            f"training is better), 95 % bootstrap CI over the held-out folds ({args.n_bootstrap} resamples)"
        ),
        "",
        (
            "| task | model | k | datasets | regret, base-trained | regret, real-size-trained "
            "| difference [95% CI] |"
        ),
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.task} | {r.model} | {r.k} | {r.datasets} | {r.regret_base:.3f} "
            f"| {r.regret_real_size:.3f} | {r.difference:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="data/kb")
    parser.add_argument("--tasks", nargs="+", default=["classification", "regression"])
    parser.add_argument("--models", nargs="+", default=["default", "forest", "sbs"])
    parser.add_argument("--ks", nargs="+", type=int, default=[1, 3, 5])
    parser.add_argument("--n-folds", type=int, default=10)
    parser.add_argument("--n-bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    kb = KnowledgeBase.load(args.kb)
    table = pd.concat([run_task(kb, t, args) for t in args.tasks], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "real_size_training.csv", index=False, float_format="%.5f")
    markdown = to_markdown(table, args, kb.fingerprint())
    (args.out / "real_size_training.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
