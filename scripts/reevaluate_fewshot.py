"""Evaluate the knowledge base's ``fewshot`` configuration again, after new few-shot weights.

The ``fewshot`` cells of a knowledge base record what the weights shipped at the time scored;
new weights (or a new head) make them stale. This drops them
(:meth:`KnowledgeBase.without_results`) and runs the same batch again, which evaluates
exactly the missing cells, with each corpus's own protocol (PMLB two repeats, the rest
one; 3-fold CV on at most 500 rows, as the rest of the knowledge base):

    python scripts/make_missing_variants.py ../shared/corpus/pmlb /work/kbv2/missing
    python scripts/reevaluate_fewshot.py data/kb --work kb_fewshot --n-jobs 1

The variants must exist where the knowledge base's ``source`` column says (the first
command writes them, deterministically). ``--work`` keeps the partial knowledge base, so
running the same command again resumes; the result replaces ``KB`` at the end.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from extend_portfolio import run_by_corpus  # scripts/ is on the path of a script

from autometa import KnowledgeBase

TASK = "classification"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kb", help="knowledge-base directory (replaced by the result)")
    p.add_argument("--work", required=True, help="directory of the partial knowledge base")
    p.add_argument("--n-jobs", type=int, default=1)
    args = p.parse_args(argv)
    work = Path(args.work)
    if not (work / "kb.json").is_file():
        kb = KnowledgeBase.load(args.kb)
        stale = [c for c, cfg in kb.configs(TASK).items() if cfg["algorithm"] == "fewshot"]
        print(f"dropping the results of {stale}")
        kb.without_results(stale).save(work)
    # the knowledge base's portfolio as it stands (the class-weighted defaults included)
    run_by_corpus(work, args.n_jobs, include_balanced=True)
    KnowledgeBase.load(work).save(args.kb)
    shutil.rmtree(work)
    print(f"saved {args.kb}")


if __name__ == "__main__":
    main()
