"""Per-file metadata from a corpus ``manifest.csv`` (the PMLB layout).

A manifest sits in the data files' directory or its parent and has one row per dataset:
``name`` (the file stem) and optionally ``task``, ``categorical`` (``;``-separated
column names) and ``openml_id``. Loading a single corpus file and loading the whole
directory as a suite both go through :func:`manifest_entry`, so they agree.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from autometa._constants import TASKS
from autometa.errors import FileParseError

MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class ManifestEntry:
    """What a manifest says about one data file."""

    name: str
    manifest: str
    task: str | None = None
    categorical: tuple[str, ...] = ()
    openml_id: int | None = None


def _key(name: str) -> str:
    # PMLB spells some names differently in the manifest and on disk
    # ("wine-quality-red" vs "wine_quality_red"); compare without separators or case.
    return re.sub(r"[\s_\-.]", "", name.lower())


def _parse_int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value and value.strip() else None
    except ValueError:
        return None


@functools.lru_cache(maxsize=16)
def _read_manifest(path: str, mtime_ns: int) -> dict[str, ManifestEntry]:
    """Parse a manifest once per process (``mtime_ns`` invalidates the cache on edits)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            fields = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FileParseError(f"cannot read manifest {path}: {exc}") from exc
    if "name" not in fields:
        return {}  # a manifest.csv of some other kind: not ours to interpret
    entries: dict[str, ManifestEntry] = {}
    for row in rows:
        name = (row.get("name") or "").strip()
        if not name:
            continue
        task = (row.get("task") or "").strip().lower()
        categorical = tuple(
            c.strip() for c in (row.get("categorical") or "").split(";") if c.strip()
        )
        entry = ManifestEntry(
            name=name,
            manifest=path,
            task=task if task in TASKS else None,
            categorical=categorical,
            openml_id=_parse_int(row.get("openml_id")),
        )
        entries[name] = entry
        entries.setdefault(_key(name), entry)
    return entries


def manifest_entry(path: Path, stem: str) -> ManifestEntry | None:
    """The manifest row describing data file ``path`` (named ``stem``), if any.

    Looks for ``manifest.csv`` in the file's directory, then in its parent; matches the
    ``name`` column exactly, then ignoring case, ``-``, ``_`` and spaces.
    """
    for directory in (path.parent, path.parent.parent):
        manifest = directory / MANIFEST_NAME
        try:
            mtime = manifest.stat().st_mtime_ns
        except OSError:
            continue
        entries = _read_manifest(str(manifest), mtime)
        entry = entries.get(stem) or entries.get(_key(stem))
        if entry is not None:
            return entry
    return None
