"""Evaluate configurations appended to the portfolio on every dataset of a knowledge base.

The seeded portfolio of 100 configurations per task stays the same; what is appended after
it (the class-weighted defaults, ``batch.run(include_balanced=True)``; scikit-learn's
regression defaults, ``include_library=True``; the optional algorithms' defaults,
``include_optional=True``) is evaluated here with each corpus's own protocol, as the rest
of the knowledge base (PMLB two repeats, the rest one; 3-fold CV on at most 500 rows):

    python scripts/make_missing_variants.py ../shared/corpus/pmlb /work/kbv2/missing
    python scripts/extend_portfolio.py data/kb --work kb_extend --n-jobs 1

Then ``scripts/extend_real_size.py`` evaluates the appended defaults at the larger sizes.

The missing-value variants must exist where the knowledge base's ``source`` column says
(the first command writes them, deterministically). ``--work`` keeps the partial knowledge
base, so running the same command again resumes; the result replaces ``KB`` at the end.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

from autometa import KnowledgeBase, batch, space

TASKS = ("classification", "regression")


def holds_balanced(kb_dir: Path) -> bool:
    """Whether the knowledge base already holds the class-weighted defaults."""
    ids = {space.config_id(c) for c in space.balanced_defaults("classification")}
    return bool(ids & set(KnowledgeBase.load(kb_dir).configs("classification")))


def holds_library(kb_dir: Path) -> bool:
    """Whether the knowledge base already holds scikit-learn's regression defaults."""
    ids = {space.config_id(c) for c in space.library_defaults("regression")}
    return bool(ids & set(KnowledgeBase.load(kb_dir).configs("regression")))


def run_by_corpus(
    work: Path,
    n_jobs: int,
    *,
    include_balanced: bool,
    include_library: bool = False,
    tasks: tuple[str, ...] = ("classification",),
) -> None:
    """Run the batch on every dataset of ``tasks`` in the knowledge base at ``work``, with
    each corpus's protocol; what the portfolio (with its appended configurations) still
    lacks is evaluated, the rest is skipped."""
    kb = KnowledgeBase.load(work)
    for task in tasks:
        sources = kb.datasets(task).sort_values("n_rows")["source"]
        missing = [s for s in sources if not Path(s).exists()]
        if missing:
            raise SystemExit(f"{len(missing)} dataset sources do not exist, e.g. {missing[:3]}")
        pmlb = [s for s in sources if "/pmlb/" in s]
        other = [s for s in sources if "/pmlb/" not in s]
        for group, repeats in ((other, 1), (pmlb, 2)):
            summary = batch.run(
                group,
                work,
                configs=100,
                cv=3,
                repeats=repeats,
                max_rows=500,
                n_jobs=n_jobs,
                time_limit=30,
                include_optional=True,
                include_balanced=include_balanced,
                include_library=include_library,
                tasks=(task,),
            )
            print(summary)


def run_script(
    argv: list[str] | None,
    description: str,
    *,
    prepare: Callable[[KnowledgeBase], KnowledgeBase] = lambda kb: kb,
    include_balanced: bool | None = None,
    include_library: bool | None = None,
) -> None:
    """The command line of this script and of ``reevaluate_fewshot.py``: copy ``KB`` into
    ``--work`` through ``prepare`` (once: a rerun resumes), run the batch
    (:func:`run_by_corpus`; ``include_balanced``/``include_library`` ``None``: as the
    knowledge base already does), then replace ``KB`` with the result."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("kb", help="knowledge-base directory (replaced by the result)")
    p.add_argument("--work", required=True, help="directory of the partial knowledge base")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=["classification"])
    args = p.parse_args(argv)
    work = Path(args.work)
    if not (work / "kb.json").is_file():
        prepare(KnowledgeBase.load(args.kb)).save(work)
    if include_balanced is None:
        include_balanced = holds_balanced(work)
    if include_library is None:
        include_library = holds_library(work)
    run_by_corpus(
        work,
        args.n_jobs,
        include_balanced=include_balanced,
        include_library=include_library,
        tasks=tuple(args.tasks),
    )
    KnowledgeBase.load(work).save(args.kb)
    shutil.rmtree(work)
    print(f"saved {args.kb}")


def main(argv: list[str] | None = None) -> None:
    run_script(argv, __doc__.split("\n")[0], include_balanced=True, include_library=True)


if __name__ == "__main__":
    main()
