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

from extend_portfolio import run_script  # scripts/ is on the path of a script

from autometa import KnowledgeBase

TASK = "classification"


def _without_fewshot_results(kb: KnowledgeBase) -> KnowledgeBase:
    stale = [c for c, cfg in kb.configs(TASK).items() if cfg["algorithm"] == "fewshot"]
    print(f"dropping the results of {stale}")
    return kb.without_results(stale)


def main(argv: list[str] | None = None) -> None:
    # the rest of the portfolio as the knowledge base holds it (the class-weighted defaults
    # only where it has them): only the dropped few-shot cells are missing
    run_script(argv, __doc__.split("\n")[0], prepare=_without_fewshot_results)


if __name__ == "__main__":
    main()
