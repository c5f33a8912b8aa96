"""A knowledge-base directory: where it is, who may write it, reading and writing its files.

Ownership: one process at a time writes a directory (:func:`writer_lock`, an OS file lock
released even on ``kill -9``); any number read it at any time. Readers never see half a
file: every file is written to a temporary name and renamed (:func:`autometa._io.write_atomic`),
``kb.json`` last, with a checksum of each data file that :func:`read_directory` verifies.
The journal (:mod:`._journal`) is the exception that makes a running batch readable: it is
appended to, and its reader tolerates a truncated last line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from autometa._io import json_default, write_atomic
from autometa.errors import KnowledgeBaseError, KnowledgeBaseLockedError
from autometa.kb._schema import (
    DATA_FILES,
    DATASET_DTYPES,
    REQUIRED_COLUMNS,
    RESULT_DTYPES,
    SCHEMA_VERSION,
    TASKS,
    autometa_version,
    check_schema,
    coerce,
    empty,
    to_float_frame,
)

#: The environment variable that points :meth:`KnowledgeBase.load` at another directory.
ENV_VAR = "AUTOMETA_KB"
#: The lock file that gives one process at a time the right to write a KB directory.
LOCK_NAME = ".lock"


def default_kb_path() -> Path:
    """Where :meth:`KnowledgeBase.load` looks when no path is given.

    ``$AUTOMETA_KB`` when set, else the knowledge base shipped with the package
    (``<repo>/data/kb``).

    Examples
    --------
    >>> default_kb_path().name
    'kb'
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from autometa._resources import shipped_path

    return shipped_path("kb")


@contextlib.contextmanager
def writer_lock(root: Path, timeout: float, purpose: str) -> Iterator[None]:
    """Hold the directory's writer lock (an OS file lock, released even on ``kill -9``).

    Everything that writes a knowledge-base directory takes it: ``batch`` for its whole
    run, :meth:`KnowledgeBase.save` and :meth:`~KnowledgeBase.compact` while they write.
    ``timeout`` seconds to wait (0: fail at once); a second writer gets
    :class:`~autometa.errors.KnowledgeBaseLockedError` naming the holder.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(root / LOCK_NAME, timeout=timeout, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        holder = _read_holder(root)
        raise KnowledgeBaseLockedError(
            f"knowledge base {root} is being written by another process{holder}; {purpose} "
            f"waited {timeout:g}s. Wait for it to finish (a batch run holds the directory "
            "until it ends) or use another directory"
        ) from None
    try:
        # Who holds it, for the second writer's message (the lock file stays in place:
        # deleting a lock file another process waits on would break the lock).
        (root / LOCK_NAME).write_text(f"pid {os.getpid()} on {socket.gethostname()} ({purpose})")
        yield
    finally:
        lock.release()


def _read_holder(root: Path) -> str:
    try:
        holder = (root / LOCK_NAME).read_text().strip()
        return f" ({holder})" if holder else ""
    except OSError:
        return ""


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KnowledgeBaseError(f"{path}: not readable JSON ({exc})") from exc


def _read_parquet(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise KnowledgeBaseError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS[path.name] if c not in df.columns]
    if missing:
        raise KnowledgeBaseError(f"{path}: required columns {missing} are missing")
    return df


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _verify_checksums(root: Path, info: Mapping[str, Any]) -> None:
    """Refuse a knowledge base whose data files differ from what ``kb.json`` recorded."""
    for name, expected in (info.get("checksums") or {}).items():
        path = root / name
        if not path.exists():
            raise KnowledgeBaseError(f"{path}: listed in kb.json but missing")
        if _sha256(path) != expected:
            raise KnowledgeBaseError(
                f"{path} is corrupted: its checksum differs from the one kb.json recorded "
                "when it was saved (restore the file, or rebuild the knowledge base)"
            )


def read_info(root: Path, *, has_journal: bool) -> dict[str, Any]:
    """``kb.json``, checked (schema version, checksums). A directory with only a journal
    (a batch that has only started writing) is a valid knowledge base: ``{}``."""
    info_file = root / "kb.json"
    if info_file.exists():
        info = read_json(info_file)
        if not isinstance(info, dict):
            raise KnowledgeBaseError(f"{info_file}: expected a JSON object")
        check_schema(info, info_file)
        _verify_checksums(root, info)
        return info
    if has_journal:
        return {}
    raise KnowledgeBaseError(
        f"{root} is not a knowledge base: neither kb.json nor journal/*.jsonl found"
    )


def read_configs(root: Path) -> dict[str, dict[str, dict]]:
    """``configs.json``: ``{task: {config_id: config}}`` (every task present, maybe empty)."""
    configs: dict[str, dict[str, dict]] = {t: {} for t in TASKS}
    cfg_file = root / "configs.json"
    if not cfg_file.exists():
        return configs
    raw = read_json(cfg_file)
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise KnowledgeBaseError(f"{cfg_file}: expected {{task: {{config_id: config}}}}")
    for task, cfgs in raw.items():
        bad = [cid for cid, config in cfgs.items() if not isinstance(config, dict)]
        if bad:
            raise KnowledgeBaseError(
                f"{cfg_file}: {task} configuration {bad[0]!r} is not a JSON object "
                f"({type(cfgs[bad[0]]).__name__}); each config is a dict"
            )
        configs.setdefault(task, {}).update(cfgs)
    return configs


def read_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``datasets``, ``metafeatures`` (indexed by dataset) and ``results`` from the parquet
    files, in the schema's dtypes; empty tables for files that do not exist."""
    datasets = _read_parquet(root / "datasets.parquet")
    mf = _read_parquet(root / "metafeatures.parquet")
    results = _read_parquet(root / "results.parquet")
    datasets = coerce(
        datasets if datasets is not None else empty(DATASET_DTYPES),
        DATASET_DTYPES,
        where=str(root / "datasets.parquet"),
    )
    results = coerce(
        results if results is not None else empty(RESULT_DTYPES),
        RESULT_DTYPES,
        where=str(root / "results.parquet"),
    )
    mf = mf.set_index("dataset") if mf is not None else pd.DataFrame()
    mf = to_float_frame(mf, where=str(root / "metafeatures.parquet"))
    return datasets, mf, results


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def write_directory(
    root: Path,
    datasets: pd.DataFrame,
    metafeatures: pd.DataFrame,
    results: pd.DataFrame,
    configs: Mapping[str, Mapping[str, Any]],
    info: Mapping[str, Any],
) -> None:
    """Write the tables, ``configs.json`` and, last, ``kb.json`` (whose presence marks a
    complete knowledge base) with a checksum of each data file. The caller holds the
    directory's :func:`writer_lock`."""
    info = dict(info)
    info["schema_version"] = SCHEMA_VERSION
    info.setdefault("autometa_version", autometa_version())
    info["saved"] = datetime.now(UTC).isoformat(timespec="seconds")
    mf = metafeatures.reset_index()
    mf.columns = ["dataset", *map(str, metafeatures.columns)]
    tables = {
        "datasets.parquet": datasets,
        "metafeatures.parquet": mf,
        "results.parquet": results,
    }
    for name, table in tables.items():
        write_atomic(root / name, lambda tmp, t=table: t.to_parquet(tmp, index=False))
    configs = {t: dict(sorted(c.items())) for t, c in configs.items()}
    write_atomic(
        root / "configs.json",
        lambda tmp: Path(tmp).write_text(
            json.dumps(configs, indent=1, sort_keys=True, default=json_default)
        ),
    )
    # Parquet pages carry no checksum: kb.json records one per file, load verifies.
    info["checksums"] = {name: _sha256(root / name) for name in DATA_FILES}
    # kb.json last: its presence marks a complete knowledge base.
    write_atomic(
        root / "kb.json",
        lambda tmp: Path(tmp).write_text(json.dumps(info, indent=1, default=json_default)),
    )
