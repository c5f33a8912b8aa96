"""The journal: append-only JSON-lines files a batch run writes while it works.

Writer and reader of one format live here together: :class:`Journal` and the record
builders write it, :func:`fold_journal` reads it into the tables on
:meth:`KnowledgeBase.load`, :func:`remove_journal` deletes what a save folded into the
parquet files.

Format
------
``<kb_dir>/journal/<time>-<host>-<pid>.jsonl``, one file per writing process, one JSON
object per line (``NaN`` allowed in metric values; ``null`` for missing ones)::

    {"kind": "dataset", ...datasets.parquet fields}
    {"kind": "metafeatures", "dataset": name, "values": {name: float | null}}
    {"kind": "config", "task": task, "config_id": id, "config": {...}}
    {"kind": "evaluation", "dataset", "config_id", "task", "folds": [{...result fields}]}
    {"kind": "result", ...results.parquet fields}        (one fold; older writers)
    {"kind": "error", "source", "job", "error"}          (a dataset that failed to load)

Records fold in file-name order, then line order; later records win on the same key
(dataset; dataset; (task, config_id); (dataset, config_id, n_rows_used, fold)). A result
without ``n_rows_used`` (schema 1) takes its dataset record's, one without ``task`` its
dataset's task. Kinds this reader does not know (a newer writer's) are skipped. Only the
last line of a file may be truncated (a writer killed mid-line); it is ignored.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa._io import finite_or_none, json_default
from autometa.errors import KnowledgeBaseError
from autometa.kb._schema import (
    DATASET_DTYPES,
    SCHEMA_VERSION,
    autometa_version,
    coerce,
    coerce_results,
    to_float_frame,
)

#: The journal's directory inside a knowledge-base directory.
JOURNAL_DIR = "journal"


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------


def dataset_record(**fields: Any) -> dict[str, Any]:
    """A ``dataset`` record: the ``datasets.parquet`` fields of one dataset."""
    return {"kind": "dataset", **fields}


def metafeatures_record(dataset: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A ``metafeatures`` record; NaN and infinite values are stored as ``null``."""
    return {
        "kind": "metafeatures",
        "dataset": dataset,
        "values": {k: finite_or_none(v) for k, v in values.items()},
    }


def config_record(task: str, config_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A ``config`` record: one configuration of the task's portfolio."""
    return {"kind": "config", "task": task, "config_id": config_id, "config": config}


def evaluation_record(
    dataset: str, config_id: str, task: str, folds: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """An ``evaluation`` record: every fold of one cross-validation in one line, so that a
    kill or a full disk cannot leave a cell half recorded."""
    return {
        "kind": "evaluation",
        "dataset": dataset,
        "config_id": config_id,
        "task": task,
        "folds": list(folds),
    }


def error_record(source: str, job: str, error: str) -> dict[str, Any]:
    """An ``error`` record: a job that failed as a whole (e.g. a dataset that cannot load).
    The reader skips it; it is there for people reading the journal."""
    return {"kind": "error", "source": source, "job": job, "error": error}


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


class Journal:
    """Append-only JSON-lines file inside ``kb_dir/journal``; one file per writing process.

    Every record is flushed and fsynced before :meth:`write` returns, so a killed process
    leaves at most a truncated last line, which readers ignore. The caller holds the
    directory's writer lock.
    """

    def __init__(self, kb_dir: Path) -> None:
        directory = Path(kb_dir) / JOURNAL_DIR
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.path = directory / f"{stamp}-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(record, default=json_default, allow_nan=True) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            # What reached the disk is at most a truncated last line, which readers skip.
            raise KnowledgeBaseError(
                f"cannot write the journal {self.path} ({os.strerror(exc.errno or 0) or exc}); "
                "every finished evaluation is kept: free space and rerun the same command "
                "to resume"
            ) from exc

    def close(self) -> None:
        self._file.close()


def write_header(kb_dir: Path, notes: str) -> None:
    """Create ``kb.json`` for a new knowledge base (existing ones are left alone)."""
    header = Path(kb_dir) / "kb.json"
    if header.exists():
        return
    header.write_text(
        json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "autometa_version": autometa_version(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "notes": notes,
            },
            indent=2,
        )
    )


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def journal_files(root: Path) -> list[Path]:
    """The journal files of the directory ``root``, in the order they fold in."""
    journal = root / JOURNAL_DIR
    return sorted(journal.glob("*.jsonl")) if journal.is_dir() else []


def fold_journal(
    files: Iterable[Path],
    datasets: pd.DataFrame,
    mf: pd.DataFrame,
    results: pd.DataFrame,
    configs: dict[str, dict[str, dict]],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict, dict[Path, int]]:
    """Apply the journal records to the tables, later records winning on the same key.

    Returns the tables, the configs and, per file, the bytes read (see
    :func:`remove_journal`). Deduplication by key happens when the knowledge base is built
    from the returned tables.
    """
    ds_rows: list[dict] = []
    mf_rows: dict[str, dict] = {}
    res_rows: list[dict] = []
    read: dict[Path, int] = {}
    for f in files:
        try:
            data = f.read_bytes()
        except OSError as exc:
            raise KnowledgeBaseError(f"{f}: cannot read journal ({exc})") from exc
        read[f] = len(data)
        for i, rec in _records(f, data):
            kind = rec.get("kind")
            try:
                if kind == "dataset":
                    ds_rows.append({k: v for k, v in rec.items() if k != "kind"})
                elif kind == "metafeatures":
                    mf_rows.pop(rec["dataset"], None)  # re-insert: keep "later wins" order
                    mf_rows[str(rec["dataset"])] = {
                        k: (np.nan if v is None else v)
                        for k, v in (rec.get("values") or {}).items()
                    }
                elif kind == "config":
                    configs.setdefault(rec["task"], {})[str(rec["config_id"])] = rec["config"]
                elif kind == "result":
                    res_rows.append({k: v for k, v in rec.items() if k != "kind"})
                elif kind == "evaluation":  # all folds of one evaluation, one atomic line
                    cell = {k: v for k, v in rec.items() if k not in ("kind", "folds")}
                    res_rows.extend({**cell, **fold} for fold in rec["folds"])
                # Unknown kinds come from a newer writer; they carry nothing this reader
                # would use, so they are skipped rather than refused.
            except KeyError as exc:
                raise KnowledgeBaseError(
                    f"{f}: line {i + 1}: {kind!r} record lacks the field {exc.args[0]!r}"
                ) from exc
    if ds_rows:
        new = coerce(pd.DataFrame(ds_rows), DATASET_DTYPES, where="journal dataset records")
        datasets = pd.concat([datasets, new], ignore_index=True)
    if res_rows:
        results = pd.concat([results, _result_frame(res_rows, datasets)], ignore_index=True)
    if mf_rows:
        new_mf = pd.DataFrame.from_dict(mf_rows, orient="index")
        new_mf = to_float_frame(new_mf, where="journal metafeatures records")
        mf = pd.concat([mf.drop(index=list(mf_rows), errors="ignore"), new_mf])
    return datasets, mf, results, configs, read


def _records(f: Path, data: bytes) -> Iterable[tuple[int, dict]]:
    """(line index, record) of one journal file's bytes; a truncated last line is skipped."""
    lines = data.split(b"\n")
    # The last element is b"" when the file ends with a newline; otherwise it is a line
    # the writer was still writing (or was killed writing) and may be incomplete.
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            is_last = all(not rest.strip() for rest in lines[i + 1 :])
            if is_last:
                continue  # a truncated last line from a killed writer
            raise KnowledgeBaseError(
                f"{f}: line {i + 1} is not valid JSON ({exc}); only the last line of a "
                "journal may be truncated"
            ) from exc
        if not isinstance(rec, dict):
            raise KnowledgeBaseError(f"{f}: line {i + 1} is not a JSON object")
        yield i, rec


def _result_frame(rows: list[dict], datasets: pd.DataFrame) -> pd.DataFrame:
    """Result records as a results table; a result without a task takes its dataset's."""
    frame = pd.DataFrame(rows)
    missing = [c for c in ("dataset", "config_id", "fold", "status") if c not in frame.columns]
    if missing:
        raise KnowledgeBaseError(f"journal result records lack fields {missing}")
    if "task" not in frame.columns or frame["task"].isna().any():
        known = datasets[["dataset", "task"]].drop_duplicates("dataset", keep="last")
        task_of = dict(zip(known["dataset"], known["task"]))
        frame["task"] = frame.get("task", pd.Series([None] * len(frame))).fillna(
            frame["dataset"].map(task_of)
        )
    return coerce_results(frame, where="journal result records")


def remove_journal(root: Path, folded: Mapping[Path, int], keep_foreign: bool) -> None:
    """Delete journal files whose records are now in the parquet files.

    Only files folded in at exactly the size they have now are deleted: a file that grew
    (a writer without the lock, e.g. an older autometa) is kept and folded again later,
    which is harmless because the same records win again. A journal in a directory this
    knowledge base replaced (``keep_foreign=False``) belongs to the old contents.
    """
    journal = root / JOURNAL_DIR
    if not journal.is_dir():
        return
    for f in sorted(journal.glob("*.jsonl")):
        if keep_foreign and f not in folded:
            continue
        try:
            if keep_foreign and f.stat().st_size != folded[f]:
                continue
            f.unlink()
        except FileNotFoundError:
            continue
