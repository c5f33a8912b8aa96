"""The on-disk schema of a knowledge base: its version, vocabularies, tables and keys.

Everything that decides what a knowledge-base file may contain is here; the modules that
read and write files (:mod:`._storage`, :mod:`._journal`) and the one that builds tables
(:mod:`._base`) use these definitions and define none of their own.

Change the layout only together with :data:`SCHEMA_VERSION` (and teach the reader the old
version, as :func:`fill_n_rows_used` does for version 1), and add a frozen directory of the
old version to ``tests/assets/`` so that ``tests/test_kb_compatibility.py`` keeps loading it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa._constants import STATUSES, TASKS
from autometa._io import json_default
from autometa.errors import KnowledgeBaseError
from autometa.metrics import METRICS

__all__ = [
    "DATASET_DTYPES",
    "FIDELITIES",
    "RESULT_DTYPES",
    "RESULT_KEY",
    "SCHEMA_VERSION",
    "STATUSES",
    "TASKS",
]

#: Version of the on-disk layout. Bump it (and teach the reader the old one) whenever a
#: file or column changes meaning; a reader refuses anything newer than it knows.
SCHEMA_VERSION = 2
# 1: the first layout (``tests/assets/kb_v1``).
# 2: results carry n_rows_used (several fidelities per dataset); version 1 files are read
#    with n_rows_used taken from their dataset record (``fill_n_rows_used``).

#: Which rows of a dataset's results a query reads: its smallest evaluation size (the
#: complete portfolio), its largest, or every size.
FIDELITIES = ("base", "largest", "all")

METRIC_COLUMNS = list(METRICS)

# Column -> dtype of each table. Columns beyond these are kept (e.g. a user's own metric),
# columns missing from a file on disk make it unreadable.
DATASET_DTYPES: dict[str, str] = {
    "dataset": "object",
    "task": "object",
    "source": "object",
    "n_rows": "Int64",
    "n_features": "Int64",
    "n_classes": "Int64",
    "openml_dataset_id": "Int64",
    "openml_task_id": "Int64",
    "n_rows_used": "Int64",
    "cv_folds": "Int64",
    "group": "object",
}
RESULT_DTYPES: dict[str, str] = {
    "dataset": "object",
    "config_id": "object",
    "task": "object",
    "fold": "int64",
    "status": "object",
    "error": "object",
    "fit_time": "float64",
    "predict_time": "float64",
    # rows the evaluation used: one dataset can hold results at several fidelities
    "n_rows_used": "Int64",
    **{m: "float64" for m in METRIC_COLUMNS},
}
#: One result per key: later records win on it.
RESULT_KEY = ["dataset", "config_id", "n_rows_used", "fold"]
#: Columns each file must have (the others are optional and filled with missing values).
REQUIRED_COLUMNS: dict[str, list[str]] = {
    "datasets.parquet": ["dataset", "task"],
    "metafeatures.parquet": ["dataset"],
    "results.parquet": ["dataset", "config_id", "task", "fold", "status"],
}
#: The data files of a saved knowledge base (``kb.json`` records a checksum of each).
DATA_FILES = ("datasets.parquet", "metafeatures.parquet", "results.parquet", "configs.json")


# --------------------------------------------------------------------------------------
# tables in the schema's dtypes
# --------------------------------------------------------------------------------------


def empty(dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A table with the given columns and no rows."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in dtypes.items()})


def coerce(df: pd.DataFrame, dtypes: Mapping[str, str], *, where: str) -> pd.DataFrame:
    """Add missing optional columns and cast to the schema's dtypes (object for strings,
    so that the same table hashes identically whatever pandas' default string dtype is)."""
    df = df.copy()
    for col, dtype in dtypes.items():
        if col not in df.columns:
            if dtype == "object":
                df[col] = pd.Series([None] * len(df), index=df.index, dtype=object)
            elif dtype == "float64":
                df[col] = pd.Series(np.nan, index=df.index, dtype="float64")
            elif dtype == "Int64":
                df[col] = pd.Series(pd.NA, index=df.index, dtype="Int64")
            else:
                raise KnowledgeBaseError(f"{where}: required column {col!r} is missing")
            continue
        try:
            if dtype == "object":
                s = df[col].astype(object)
                df[col] = s.where(s.notna(), None)
            elif dtype == "Int64":
                df[col] = pd.to_numeric(df[col], errors="raise").astype("Int64")
            elif dtype == "int64":
                df[col] = pd.to_numeric(df[col], errors="raise").astype("int64")
            else:
                df[col] = pd.to_numeric(df[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"{where}: column {col!r} cannot be read as {dtype}: {exc}"
            ) from exc
    return df


def coerce_results(df: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """:func:`coerce` for result rows: columns beyond the schema (a user's own metric) are
    kept as float64."""
    extra = {c: "float64" for c in df.columns if c not in RESULT_DTYPES}
    return coerce(df, {**RESULT_DTYPES, **extra}, where=where)


def to_float_frame(df: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Every column as float64 (meta-features, performance tables)."""
    out = {}
    for col in df.columns:
        try:
            out[str(col)] = pd.to_numeric(df[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"{where}: meta-feature column {col!r} is not numeric ({df[col].dtype}); "
                "meta-features must be numbers (NaN allowed)"
            ) from exc
    return pd.DataFrame(out, index=df.index)


def fill_n_rows_used(results: pd.DataFrame, datasets: pd.DataFrame) -> pd.DataFrame:
    """Results without ``n_rows_used`` (schema 1, or :meth:`add_results` without it) were
    evaluated at their dataset's one size: take it from the dataset record."""
    if not results["n_rows_used"].isna().any():
        return results
    size = results["dataset"].map(datasets.set_index("dataset")["n_rows_used"])
    return results.assign(n_rows_used=results["n_rows_used"].fillna(size).astype("Int64"))


# --------------------------------------------------------------------------------------
# kb.json and configuration ids
# --------------------------------------------------------------------------------------


def autometa_version() -> str:
    """The running autometa's version, recorded in ``kb.json``."""
    try:
        import autometa

        return str(autometa.__version__)
    except (ImportError, AttributeError):  # pragma: no cover - partial installs
        return "unknown"


def check_schema(info: Mapping[str, Any], path: Path) -> None:
    """Refuse a ``kb.json`` without a valid ``schema_version`` or with a newer one."""
    version = info.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise KnowledgeBaseError(
            f"{path}: 'schema_version' is missing or not an integer ({version!r})"
        )
    if version > SCHEMA_VERSION:
        raise KnowledgeBaseError(
            f"{path}: schema_version {version} is newer than this autometa understands "
            f"({SCHEMA_VERSION}); upgrade autometa to read this knowledge base"
        )
    if version < 1:
        raise KnowledgeBaseError(f"{path}: schema_version {version} is not a valid version")


def canonical_json(obj: Any) -> str:
    """Key-sorted compact JSON: equal contents give equal text (fingerprints, config ids)."""
    return json.dumps(obj, sort_keys=True, default=json_default, separators=(",", ":"))


def hash_config(config: Mapping[str, Any]) -> str:
    """Stable id of a config: ``autometa.space.config_id`` when it understands the config,
    else a hash of its canonical JSON (for configs from elsewhere, e.g. ``from_frames``)."""
    try:
        from autometa import space

        return str(space.config_id(dict(config)))
    except (ImportError, ValueError, TypeError, KeyError):  # config outside the space
        return hashlib.sha1(canonical_json(config).encode()).hexdigest()[:12]
