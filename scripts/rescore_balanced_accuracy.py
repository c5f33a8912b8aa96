"""Score a knowledge base's balanced accuracy again on the balanced decision, most
imbalanced datasets first.

The evaluator now scores balanced accuracy on the decision of the models
autometa builds for it (the training class prior removed from the probabilities,
:mod:`autometa._balanced`); knowledge bases evaluated before scored the plain ``argmax``,
which under-rates every configuration with probabilities and no class weights on
imbalanced tables. This drops, one classification dataset at a time, the results that the
change moves (configurations with probabilities and without ``class_weight="balanced"``)
and runs the batch again with the knowledge base's own protocol: PMLB two repeats, the
rest one, 3-fold CV on at most 500 rows; datasets that hold real-size results get their
defaults and 25 best configurations again at up to 10,000 rows (``batch.run(top_configs=)``,
chosen on the new scores):

    python scripts/make_missing_variants.py ../shared/corpus/pmlb /work/kbv2/missing
    python scripts/rescore_balanced_accuracy.py data/kb --work kb_rescore -j 2 --until 01:00
    python scripts/rescore_balanced_accuracy.py data/kb --work kb_rescore --finish

Datasets are taken in order of their class imbalance (minority over majority class size,
smallest first), where the decision matters most, so a run stopped early has rescored the
datasets that move most. ``--until`` (a wall-clock time, ``HH:MM``) starts no dataset after
it; a killed run resumes the dataset it was in. ``--finish`` replaces ``KB`` with the work
and records the rescored datasets in its ``kb.json`` (``info["balanced_decision_datasets"]``,
and a sentence in its notes); a later run skips them, so the rescoring goes on across
sessions from the shipped knowledge base alone (those left keep the plain scores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
from extend_portfolio import holds_balanced  # scripts/ is on the path of a script

from autometa import KnowledgeBase, batch, space

TASK = "classification"
CONFIGS, BASE_ROWS, REAL_ROWS, TOP_CONFIGS = 100, 500, 10_000, 25
PROGRESS = "rescore_progress.json"
RECORD = "balanced_decision_datasets"  # kb.info key: the datasets already rescored
NOTE = "; balanced accuracy scored on the balanced decision on"


def by_imbalance(kb: KnowledgeBase) -> list[str]:
    """Classification datasets, most imbalanced first (minority / majority class size)."""
    mf = kb.metafeatures()
    ratio = mf["general.minority_class_size"] / mf["general.majority_class_size"]
    datasets = kb.datasets(TASK)
    order = pd.DataFrame(
        {"ratio": ratio.reindex(datasets.index).fillna(1.0), "rows": datasets["n_rows"]}
    )
    return order.sort_values(["ratio", "rows"]).index.tolist()


def moved_configs(kb: KnowledgeBase) -> list[str]:
    """Configurations whose balanced accuracy the decision can change: with probabilities,
    without class weights."""
    moved = []
    for config_id, config in kb.configs(TASK).items():
        if config["params"].get("class_weight") == "balanced":
            continue
        if hasattr(space.build(config, task=TASK), "predict_proba"):
            moved.append(config_id)
    return moved


def rescore(work: Path, name: str, progress: dict, moved: list[str], common: dict) -> None:
    """Drop ``name``'s results of the ``moved`` configurations (once: a resumed run keeps
    what it redid) and run the batch on it at both fidelities (``common``: the options of
    both batch runs)."""
    kb = KnowledgeBase.load(work)
    results = kb.results(TASK, fidelity="all")
    results = results[results["dataset"] == name]
    real_size = bool((results["n_rows_used"] > BASE_ROWS).any())
    if progress.get("started") != name:
        held = set(results["config_id"])
        kb.without_results([c for c in moved if c in held], datasets=name).save(work)
        progress.update(started=name, real_size=real_size)
        _save(work, progress)
    source = kb.datasets(TASK).loc[name, "source"]
    batch.run(
        [source],
        work,
        repeats=2 if "/pmlb/" in source else 1,
        max_rows=BASE_ROWS,
        time_limit=30,
        include_optional=True,
        **common,
    )
    if progress["real_size"]:
        batch.run(
            [source], work, max_rows=REAL_ROWS, top_configs=TOP_CONFIGS, time_limit=120, **common
        )
    progress["done"].append(name)
    progress["started"] = None
    _save(work, progress)


def _save(work: Path, progress: dict) -> None:
    (work / PROGRESS).write_text(json.dumps(progress, indent=1))


def deadline(until: str | None, now: dt.datetime) -> dt.datetime | None:
    """The next time of day ``until`` (``HH:MM``) after ``now`` (tomorrow's if past)."""
    if until is None:
        return None
    hour, minute = (int(x) for x in until.split(":"))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + dt.timedelta(days=1)


def finish(kb_dir: str, work: Path) -> None:
    progress = json.loads((work / PROGRESS).read_text())
    if progress.get("started"):
        raise SystemExit(f"{progress['started']} is half rescored: run again without --finish")
    kb = KnowledgeBase.load(work)
    done = sorted(progress["done"])
    mf = kb.metafeatures().loc[done]
    worst = (mf["general.minority_class_size"] / mf["general.majority_class_size"]).max()
    left = len(kb.datasets(TASK)) - len(done)
    notes = kb.info.get("notes", "").split(NOTE)[0]
    rest = f", plain argmax on the other {left}" if left else ""
    kb.info["notes"] = (
        f"{notes}{NOTE} {len(done)} classification datasets (minority/majority class size "
        f"up to {worst:.3f}){rest}"
    )
    kb.info[RECORD] = done
    kb.save(kb_dir)
    shutil.rmtree(work)
    print(f"saved {kb_dir}: {len(done)} datasets rescored (ratio up to {worst:.3f})")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kb", help="knowledge-base directory (replaced by --finish)")
    p.add_argument("--work", required=True, help="directory of the knowledge base at work")
    p.add_argument("-j", "--n-jobs", type=int, default=1)
    p.add_argument("--until", help="HH:MM: start no dataset after this wall-clock time")
    p.add_argument("--max-datasets", type=int, help="stop after this many datasets")
    p.add_argument("--finish", action="store_true", help="replace KB with the work and stop")
    args = p.parse_args(argv)
    work = Path(args.work)
    if args.finish:
        finish(args.kb, work)
        return
    if (work / "kb.json").is_file():
        kb = KnowledgeBase.load(work)
    else:  # a fresh work folder: the knowledge base as shipped, and what it says is done
        kb = KnowledgeBase.load(args.kb)
        kb.save(work)
        _save(work, {"done": list(kb.info.get(RECORD, [])), "started": None})
    progress = json.loads((work / PROGRESS).read_text())
    # the portfolio stays as it is through the run: what moves and the batch's options once
    moved = moved_configs(kb)
    common = {
        "configs": CONFIGS,
        "cv": 3,
        "n_jobs": args.n_jobs,
        "tasks": (TASK,),
        "include_balanced": holds_balanced(work),
        "progress": False,
    }
    order = [n for n in by_imbalance(kb) if n not in progress["done"]]
    if progress.get("started") in order:  # resume the dataset a killed run was in
        order.remove(progress["started"])
        order.insert(0, progress["started"])
    stop = deadline(args.until, dt.datetime.now())
    for count, name in enumerate(order):
        late = stop is not None and dt.datetime.now() >= stop
        if late or (args.max_datasets is not None and count >= args.max_datasets):
            break
        start = dt.datetime.now()
        rescore(work, name, progress, moved, common)
        seconds = (dt.datetime.now() - start).total_seconds()
        print(f"{len(progress['done'])}: {name} rescored in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
