"""Extend a knowledge base to real sizes: the defaults and top configurations of every
dataset that has more rows than its base fidelity, smallest datasets first.

The order matters on a small machine: the run can stop at any time (it resumes where it
stopped), and whatever has finished by then covers as many datasets as possible.

    python scripts/extend_real_size.py KB_DIR --max-rows 10000 --top-configs 25 -j 2

Missing-value variants (``parent~...``) are left out: their parents carry the fidelity.
"""

from __future__ import annotations

import argparse
from itertools import chain, zip_longest

import pandas as pd

from autometa import KnowledgeBase, batch

TASKS = ("classification", "regression")


def sources_by_size(kb: KnowledgeBase, min_rows: int, tasks=TASKS) -> list[str]:
    """Sources of datasets with more than ``min_rows`` rows, smallest first, the tasks
    alternating so that each progresses from the start."""
    per_task = []
    for task in tasks:
        datasets = kb.datasets(task)
        datasets = datasets[
            ~datasets["dataset"].str.contains("~", regex=False)
            & (pd.to_numeric(datasets["n_rows"]) > min_rows)
        ]
        per_task.append(
            datasets.reset_index(drop=True).sort_values(["n_rows", "dataset"])["source"].tolist()
        )
    return [s for s in chain.from_iterable(zip_longest(*per_task)) if s is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kb", help="knowledge-base directory to extend (holds the base runs)")
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--top-configs", type=int, default=25)
    parser.add_argument("--configs", type=int, default=100)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("-j", "--n-jobs", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--base-rows", type=int, default=500)
    parser.add_argument("--retry", nargs="*", default=[], help="statuses to evaluate again")
    parser.add_argument(
        "--include-balanced",
        action="store_true",
        help="also the class-weighted defaults (evaluated like the other defaults)",
    )
    parser.add_argument(
        "--include-library",
        action="store_true",
        help="also scikit-learn's regression defaults (evaluated like the other defaults)",
    )
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    args = parser.parse_args()
    sources = sources_by_size(KnowledgeBase.load(args.kb), args.base_rows, args.tasks)
    print(f"{len(sources)} datasets with more than {args.base_rows} rows", flush=True)
    batch.run(
        sources,
        args.kb,
        configs=args.configs,
        cv=args.cv,
        max_rows=args.max_rows,
        top_configs=args.top_configs,
        n_jobs=args.n_jobs,
        time_limit=args.time_limit,
        retry=tuple(args.retry),
        include_balanced=args.include_balanced,
        include_library=args.include_library,
        tasks=tuple(args.tasks),
    )


if __name__ == "__main__":
    main()
