"""How the ``default`` meta-model should decide between the single best config and the
forest's pick for its first recommendation: rules compared on the same held-out datasets.

For every outer fold a ``DefaultModel`` is fitted on the other datasets; its inner
cross-validation gives each training dataset's out-of-fold first-pick score under every
candidate shrinkage (``inner_scores_``). Then, without refitting:

* **choice rules** pick a candidate from those inner scores: the best mean (``argmax``), the
  most conservative within 1 or 2 paired standard errors over datasets (2 is what
  ``DefaultModel`` does), or within 1, 1.5 or 2 standard errors *clustered by near-duplicate
  family* (a family's datasets are not independent draws);
* **per-query evidence rules** take the forest's pick instead of the single best config only
  where the forest's neighbours of the query (proximity weights ``w``) favour it by ``z``
  standard errors: ``w @ d > z * sqrt(w @ (d - w @ d)**2 / n_eff)``, ``d`` the neighbours'
  score differences between the two configs, ``n_eff = 1 / sum(w**2)``.

Each rule's first pick is scored on the held-out datasets as in
``autometa.evaluate_recommender`` (fraction of the SBS-VBS gap closed at k=1), paired with
the shipped rule (bootstrap over families).

Writes ``benchmarks/results/first_pick_rules.csv`` and ``.md``.

Usage::

    python benchmarks/first_pick_rules.py --task regression             # one fold per family
    python benchmarks/first_pick_rules.py --task classification --n-folds 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.kb import KnowledgeBase
from autometa.metamodel import TrainingData
from autometa.metamodel.default import FIRST_PICK_SE, DefaultModel, _one_se_choice, _shrunk
from autometa.metamodel.evaluation import dataset_family, make_folds
from autometa.metrics import DEFAULT_METRIC

RESULTS = Path(__file__).resolve().parent / "results"
SHIPPED = f"{FIRST_PICK_SE:g} SE over datasets (shipped)"
CHOICE_RULES = {
    "argmax": (0.0, False),
    "1 SE over datasets": (1.0, False),
    SHIPPED: (FIRST_PICK_SE, False),
    "1 SE over families": (1.0, True),
    "1.5 SE over families": (1.5, True),
    "2 SE over families": (2.0, True),
}
EVIDENCE_Z = (0.0, 0.5, 1.0, 2.0, 3.0)


def conservative_choice(inner: pd.DataFrame, n_se: float, by_family: bool) -> int:
    """Column of ``inner`` (datasets x candidates, most conservative first) chosen by the
    n-standard-error rule, with standard errors over datasets or clustered by family."""
    groups = [dataset_family(d) for d in inner.index] if by_family else None
    return _one_se_choice([inner[c].to_numpy() for c in inner.columns], n_se, groups)


def first_picks(kb: KnowledgeBase, task: str, n_folds: int | None) -> pd.DataFrame:
    """One row per held-out dataset: its normalised score under every rule's first pick."""
    data = TrainingData.from_kb(kb, task, DEFAULT_METRIC[task])
    data = data.subset(np.flatnonzero(data.usable()))
    U = np.nan_to_num(data.utility(0.0), nan=0.0)
    labels = make_folds(data.datasets, n_folds=n_folds)
    fold = np.array([labels[d] for d in data.datasets])
    rows = []
    for f in pd.unique(fold):
        test, train = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        model = DefaultModel(ranker_share=0.0).fit_data(data.subset(train))
        inner = model.inner_scores_
        chosen = {
            name: inner.columns[conservative_choice(inner, *rule)]
            for name, rule in CHOICE_RULES.items()
        }
        sbs = int(np.argmax(model.sbs_))
        for i in test:
            w = model.weights(model.scaler_.transform(data.metafeatures.iloc[[i]])[0])
            forest = w @ model.U_
            row = {
                "fold": f,
                "family": dataset_family(data.datasets[i]),
                "dataset": data.datasets[i],
                "single best": U[i, sbs],
            }
            for name, (a, bonus, *_) in chosen.items():
                mu = _shrunk(model.sbs_, forest, a, bonus) + 1e-6 * model.sbs_
                row[name] = U[i, int(np.argmax(mu))]
            pick = int(np.argmax(forest + 1e-6 * model.sbs_))
            diff = model.U_[:, pick] - model.U_[:, sbs]
            gain = w @ diff
            se = np.sqrt((w @ (diff - gain) ** 2) * np.sum(w**2))
            for z in EVIDENCE_Z:
                row[f"neighbours favour forest by {z:g} SE"] = U[i, pick if gain > z * se else sbs]
            rows.append(row)
    return pd.DataFrame(rows)


def summarise(picks: pd.DataFrame, n_bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Gap closed at k=1 per rule, per dataset and per family, paired with the shipped rule."""
    rules = [c for c in picks.columns if c not in ("fold", "family", "dataset", "single best")]
    families = picks["family"].to_numpy()
    unique = pd.unique(families)
    members = {f: np.flatnonzero(families == f) for f in unique}
    rng = np.random.default_rng(seed)
    draws = [
        np.concatenate([members[f] for f in rng.choice(unique, len(unique))])
        for _ in range(n_bootstrap)
    ]
    per_family = 1.0 / pd.Series(families).map(pd.Series(families).value_counts()).to_numpy()
    sbs = picks["single best"].to_numpy()

    def gap(u: np.ndarray, rows: np.ndarray | slice = slice(None), weights=None) -> float:
        s = np.average(sbs[rows], weights=weights)
        return (np.average(u[rows], weights=weights) - s) / max(1.0 - s, 1e-12)

    ref = picks[SHIPPED].to_numpy()
    out = []
    for rule in rules:
        u = picks[rule].to_numpy()
        paired = [gap(u, d) - gap(ref, d) for d in draws]
        out.append(
            {
                "rule": rule,
                "gap_closed_k1": gap(u),
                "gap_closed_k1_se": np.std([gap(u, d) for d in draws], ddof=1),
                "minus_shipped": gap(u) - gap(ref),
                "minus_shipped_se": np.std(paired, ddof=1),
                "family_weighted": gap(u, weights=per_family),
            }
        )
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=None, help="knowledge-base directory (default: shipped)")
    parser.add_argument("--task", choices=["classification", "regression"], required=True)
    parser.add_argument(
        "--n-folds",
        type=int,
        default=None,
        help="deal families into this many outer folds (default: one per family)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    kb = KnowledgeBase.load(args.kb)
    start = time.perf_counter()
    table = summarise(first_picks(kb, args.task, args.n_folds))
    seconds = time.perf_counter() - start
    table.insert(0, "task", args.task)
    print(table.to_string(index=False, float_format="%.3f"))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"first_pick_rules_{args.task}"
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4f")
    folds = f"{args.n_folds} grouped folds" if args.n_folds else "one fold per family"
    lines = [
        f"# First-pick rules: {args.task}",
        "",
        f"- knowledge base: {kb.path or 'in memory'} (fingerprint {kb.fingerprint()[:16]})",
        f"- outer folds: {folds}; {seconds:.0f} s",
        "",
        "| rule | gap closed, k=1 | minus shipped (paired) | family-weighted |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.rule} | {r.gap_closed_k1:.3f} ± {r.gap_closed_k1_se:.3f} | "
        f"{r.minus_shipped:+.3f} ± {r.minus_shipped_se:.3f} | {r.family_weighted:.3f} |"
        for r in table.itertuples()
    ]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
