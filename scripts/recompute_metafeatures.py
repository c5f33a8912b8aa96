"""Recompute some meta-feature groups of every dataset of a knowledge base, in place.

For a meta-feature added to the extractor after the KB's evaluations ran: the
evaluations stay, the datasets are described again from their recorded sources as
``autometa batch`` describes them (the full table, ``METAFEATURE_MAX_ROWS`` rows for the
quadratic measures, the batch's seed). Each dataset's values go to a JSON-lines journal
first, so a stopped run resumes where it stopped; ``--check`` reports how far the
recomputed values of columns the KB already has moved (0 when the extractor is
unchanged for them).

    python scripts/recompute_metafeatures.py data/kb --groups landmarking \
        --journal /tmp/mf.jsonl --check

Missing-value variants (``parent~...``) are read from where ``make_missing_variants.py``
wrote them; their recorded source must exist (write them again with the same seed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from autometa import KnowledgeBase
from autometa._batch_workers import describe as batch_describe
from autometa.kb._journal import _records as journal_records


def describe(source: str, groups: list[str], random_state: int) -> dict[str, float | None]:
    """The groups' meta-features of the dataset at ``source``, as batch computes them (by
    batch's own describe job: the full table, no time or memory limit)."""
    out = batch_describe(source, None, random_state, groups, cv=3)
    if out["metafeatures"] is None:
        raise RuntimeError(f"{source}: {out['error']}")
    return out["metafeatures"]["values"]


def read_journal(path: Path) -> tuple[dict[str, dict[str, float | None]], bool]:
    """The values recorded in the journal at ``path``, by dataset (a last line cut by a
    kill is skipped, as the knowledge base's own journals skip it: that dataset is
    described again), and whether the file ends in the middle of a line."""
    data = path.read_bytes() if path.exists() else b""
    done = {rec["dataset"]: rec["values"] for _, rec in journal_records(path, data)}
    return done, bool(data) and not data.endswith(b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kb", type=Path, help="knowledge-base directory (rewritten)")
    parser.add_argument("--groups", nargs="+", required=True, help="meta-feature groups")
    parser.add_argument("--journal", type=Path, required=True, help="JSON-lines progress file")
    parser.add_argument("--random-state", type=int, default=0, help="the batch's seed")
    parser.add_argument("--check", action="store_true", help="report changes of old columns")
    args = parser.parse_args()

    kb = KnowledgeBase.load(args.kb)
    datasets = kb.datasets().set_index("dataset")
    old = kb.metafeatures()
    done, cut = read_journal(args.journal)
    todo = [name for name in datasets.index if name in old.index]
    with args.journal.open("a") as journal:
        if cut:
            journal.write("\n")  # ends a line cut by a kill
        for i, name in enumerate(todo, 1):
            if name in done:
                continue
            done[name] = describe(str(datasets.at[name, "source"]), args.groups, args.random_state)
            journal.write(json.dumps({"dataset": name, "values": done[name]}) + "\n")
            journal.flush()
            print(f"[{i}/{len(todo)}] {name}", flush=True)

    new = pd.DataFrame.from_dict({n: done[n] for n in todo}, orient="index").astype("float64")
    if args.check:
        shared = [c for c in new.columns if c in old.columns]
        moved = (new[shared] - old.loc[new.index, shared]).abs().max()
        print("largest change of an existing column:")
        print(moved[moved > 1e-9].sort_values(ascending=False).to_string() or "  none")
    stale = [c for c in old.columns if c.split(".", 1)[0] in args.groups]
    merged = pd.concat([old.drop(columns=stale), new], axis=1)
    rebuilt = kb.merge(KnowledgeBase(metafeatures=merged))  # merged rows replace the old
    rebuilt.info = dict(kb.info)
    rebuilt.save(args.kb)
    print(f"{len(new)} datasets, {new.shape[1]} columns of {args.groups} written to {args.kb}")


if __name__ == "__main__":
    main()
