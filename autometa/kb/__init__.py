"""The knowledge base: what every configuration of the portfolio scored on every dataset.

A :class:`KnowledgeBase` is a directory of parquet and JSON files (never pickle, so that a
knowledge base downloaded from anywhere is data, not code), laid out as in
``docs/CONTRACTS.md``::

    kb.json               {"schema_version": 2, "autometa_version": ..., "created": ..., "notes": ...}
    configs.json          {"classification": {config_id: config}, "regression": {...}}
    datasets.parquet      one row per dataset (name, task, size, OpenML ids, group)
    metafeatures.parquet  "dataset" + one float64 column per meta-feature
    results.parquet       one row per (dataset, config_id, n_rows_used, fold): status, times, metrics
    journal/*.jsonl       append-only records written by the batch runner while it works

Loading folds the journal into the tables (later records win on the same key), so a
knowledge base that is still being computed can be read at any time. The knowledge base
stores results; it does not compute them (``autometa.batch`` does).

Modules: ``_schema`` (the on-disk schema: version, vocabularies, dtypes, keys), ``_journal``
(the journal's writer and reader), ``_storage`` (the directory: lock, reading, writing),
``_queries`` (the table queries), ``_building`` (table rows from frames and evaluated
folds), ``_base`` (:class:`KnowledgeBase`).
"""

from __future__ import annotations

from autometa.kb._base import KnowledgeBase
from autometa.kb._journal import (
    JOURNAL_DIR,
    Journal,
    config_record,
    dataset_record,
    error_record,
    evaluation_record,
    metafeatures_record,
    write_header,
)
from autometa.kb._schema import FIDELITIES, SCHEMA_VERSION, STATUSES, TASKS
from autometa.kb._storage import ENV_VAR, LOCK_NAME, default_kb_path, writer_lock

__all__ = [
    "ENV_VAR",
    "FIDELITIES",
    "JOURNAL_DIR",
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "STATUSES",
    "TASKS",
    "Journal",
    "KnowledgeBase",
    "config_record",
    "dataset_record",
    "default_kb_path",
    "error_record",
    "evaluation_record",
    "metafeatures_record",
    "write_header",
    "writer_lock",
]
