"""File sources: CSV/TSV (optionally gzipped), ARFF and Parquet."""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Hashable
from pathlib import Path

import pandas as pd

from autometa.data._dataset import Dataset
from autometa.data._manifest import MANIFEST_NAME, manifest_entry
from autometa.data._validate import (
    check_n_columns,
    check_unique_columns,
    make_dataset,
    split_target,
)
from autometa.errors import (
    DatasetFileNotFoundError,
    DataValidationError,
    FileParseError,
    UnsupportedSourceError,
)

#: Recognised endings, longest first so ``.tsv.gz`` wins over ``.gz``.
SUFFIXES: dict[str, str] = {
    ".csv.gz": "csv",
    ".tsv.gz": "tsv",
    ".arff.gz": "arff",
    ".csv": "csv",
    ".tsv": "tsv",
    ".arff": "arff",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# Read errors that mean "this file is not a table of the expected format". Anything
# else (MemoryError, KeyboardInterrupt, bugs) propagates unchanged.
_PARSE_ERRORS = (ValueError, TypeError, OSError, EOFError, zlib.error, NotImplementedError)
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


def file_format(path: Path) -> tuple[str, str] | None:
    """``(format, stem)`` for a supported data file name, else ``None``.

    Examples
    --------
    >>> file_format(Path("corpus/adult.tsv.gz"))
    ('tsv', 'adult')
    """
    lower = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return kind, path.name[: -len(suffix)]
    return None


def is_data_file(path: Path) -> bool:
    """Whether ``path`` is a file :func:`load_file` reads (manifests excluded)."""
    return (
        path.is_file()
        and path.name != MANIFEST_NAME
        and not path.name.startswith(".")
        and file_format(path) is not None
    )


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _header_and_sample(path: Path) -> tuple[str, str]:
    """The first line (whole, however wide) and up to 64 KiB from the start."""
    with _open_text(path) as fh:
        header = fh.readline()
        sample = header + fh.read(_SNIFF_BYTES)
    return header, sample


def _sniff_delimiter(header: str, sample: str) -> str:
    """The delimiter of a ``.csv`` file: a fast path when the header is unambiguous."""
    present = [d for d in _DELIMITERS if d in header]
    if len(present) == 1:
        return present[0]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","  # one column, or too irregular to tell: the CSV default


def _read_delimited(path: Path, kind: str) -> pd.DataFrame:
    header, sample = _header_and_sample(path)
    if not header.strip():
        raise DataValidationError(f"{path} is empty: it has no header line")
    sep = "\t" if kind == "tsv" else _sniff_delimiter(header, sample)
    # Check the header before parsing the body: a 100,001-column or duplicate-name file
    # is refused without reading it, and pandas would silently rename duplicates "a.1".
    names = next(csv.reader([header], delimiter=sep))
    check_n_columns(len(names), str(path))
    check_unique_columns([n.strip() for n in names], str(path))
    # "?" is the conventional missing marker of UCI/ARFF-derived tables.
    return pd.read_csv(path, sep=sep, na_values=["?"], low_memory=False)


def _read_arff(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Read ARFF with liac-arff (an openml dependency); nominal attributes -> categorical."""
    import arff  # liac-arff; imported here to keep ``import autometa`` light

    try:
        with _open_text(path) as fh:
            decoded = arff.load(fh)
    except arff.ArffException as exc:
        raise FileParseError(f"cannot read {path} as ARFF: {exc}") from exc
    attributes = decoded["attributes"]
    names = [a[0] for a in attributes]
    check_n_columns(len(names), str(path))
    check_unique_columns(names, str(path))
    rows = decoded["data"]
    columns: dict[str, pd.Series] = {}
    nominal: list[str] = []
    for i, (name, kind) in enumerate(attributes):
        values = [row[i] for row in rows]
        if isinstance(kind, list):  # nominal: keep the declared level order
            columns[name] = pd.Series(pd.Categorical(values, categories=kind))
            nominal.append(name)
        elif str(kind).upper() in ("NUMERIC", "REAL", "INTEGER"):
            columns[name] = pd.to_numeric(pd.Series(values, dtype=object))
        elif str(kind).upper().startswith("DATE"):
            columns[name] = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")
        else:  # STRING
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows))), nominal


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    # The schema is in the footer: check width and names before reading any data.
    names = [n for n in pq.read_schema(path).names if not n.startswith("__index_level_")]
    check_n_columns(len(names), str(path))
    check_unique_columns(names, str(path))
    return pd.read_parquet(path)


def read_table(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a data file into a DataFrame plus the columns its format declares categorical.

    Raises
    ------
    DatasetFileNotFoundError, UnsupportedSourceError, FileParseError, DataValidationError
    """
    if not path.exists():
        raise DatasetFileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise UnsupportedSourceError(
            f"{path} is a directory; load its files with autometa.load_suite({str(path)!r})"
        )
    fmt = file_format(path)
    if fmt is None:
        raise UnsupportedSourceError(
            f"cannot read {path}: unsupported file type; supported endings are "
            f"{', '.join(SUFFIXES)}"
        )
    kind = fmt[0]
    try:
        if kind == "arff":
            return _read_arff(path)
        if kind == "parquet":
            return _read_parquet(path), []
        return _read_delimited(path, kind), []
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"{path} is empty: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise FileParseError(
            f"cannot read {path} as {kind}: it is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}); convert it to UTF-8"
        ) from exc
    except (DataValidationError, FileParseError):
        raise
    except _PARSE_ERRORS as exc:
        raise FileParseError(f"cannot read {path} as {kind}: {exc}") from exc


def load_file(
    path: str | os.PathLike[str],
    target: Hashable | None,
    *,
    task: str | None,
    name: str | None,
) -> Dataset:
    """Load one data file; a corpus ``manifest.csv`` beside it adds task and categoricals."""
    path = Path(path)
    frame, categorical = read_table(path)
    fmt = file_format(path)
    stem = fmt[1] if fmt else path.stem
    metadata: dict = {}
    entry = manifest_entry(path, stem)
    if entry is not None:
        categorical = [*categorical, *entry.categorical]
        task = task or entry.task
        metadata["manifest"] = entry.manifest
        if entry.openml_id is not None:
            # "openml_id" as the manifest calls it; "openml_dataset_id" as the KB reads it.
            metadata["openml_id"] = metadata["openml_dataset_id"] = entry.openml_id
    where = str(path)
    X, y = split_target(frame, target, where)
    return make_dataset(
        X,
        y,
        name=name or stem,
        source=where,
        task=task,
        categorical=categorical,
        metadata=metadata,
    )
