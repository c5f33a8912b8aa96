"""Write the knowledge base's missing-value variants of PMLB datasets (deterministic).

One dataset per near-duplicate family (so that variants spread over the corpus instead of
piling up in the Friedman or GAMETES families), up to ``--per-task`` per task, seeded. Each
gets one variant: MCAR or value-dependent MNAR (alternating), 5-40 % of the cells of 20-60 %
of its columns. A variant is named ``{parent}~{mechanism}{percent}``; ``dataset_family``
maps it to its parent's family, so grouped evaluation holds parent and variant out together.

    python scripts/make_missing_variants.py ../shared/corpus/pmlb OUT_DIR
    autometa batch --suite dir:OUT_DIR/classification --suite dir:OUT_DIR/regression ...

OUT_DIR gets the PMLB layout (``{task}/{name}.parquet`` and ``manifest.csv``).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.data import load_dataset
from autometa.data._missing import inject_missing
from autometa.metamodel.evaluation import dataset_family

RATES = (0.05, 0.1, 0.2, 0.3, 0.4)


def choose_parents(manifest: pd.DataFrame, per_task: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    manifest = manifest.assign(family=manifest["name"].map(dataset_family))
    chosen = []
    for _task, rows in manifest.groupby("task", sort=True):
        families = sorted(rows["family"].unique())
        for family in rng.permutation(families)[:per_task]:
            members = sorted(rows.loc[rows["family"] == family, "name"])
            chosen.append(rows[rows["name"] == members[rng.integers(len(members))]])
    return pd.concat(chosen, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="PMLB corpus directory (with manifest.csv)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-task", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    manifest = pd.read_csv(args.corpus / "manifest.csv", keep_default_na=False)
    parents = choose_parents(manifest, args.per_task, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    rows = []
    for i, parent in enumerate(parents.itertuples()):
        path = next((args.corpus / parent.task).glob(f"{parent.name}.*"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = load_dataset(path)
        mechanism = ("mcar", "mnar")[i % 2]
        rate = float(rng.choice(RATES))
        X = inject_missing(
            data.X,
            mechanism=mechanism,
            cell_fraction=rate,
            column_fraction=float(rng.uniform(0.2, 0.6)),
            random_state=args.seed + i,
        )
        name = f"{parent.name}~{mechanism}{round(rate * 100)}"
        out = args.out / parent.task
        out.mkdir(parents=True, exist_ok=True)
        table = pd.concat([X, pd.Series(data.y.to_numpy(), name="target")], axis=1)
        table.to_parquet(out / f"{name}.parquet", index=False)
        rows.append(
            {
                "name": name,
                "task": parent.task,
                "n_rows": len(X),
                "n_features": X.shape[1],
                "categorical": ";".join(map(str, data.categorical)),
                "parent": parent.name,
                "mechanism": mechanism,
                "cell_fraction": rate,
                "missing_fraction": round(float(X.isna().to_numpy().mean()), 4),
            }
        )
    pd.DataFrame(rows).to_csv(args.out / "manifest.csv", index=False)
    print(f"{len(rows)} variants written to {args.out}")


if __name__ == "__main__":
    main()
