"""``load_dataset``: dispatch a source to the frame, file or OpenML reader."""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Any

import pandas as pd

from autometa._constants import check_task
from autometa.data._dataset import Dataset
from autometa.errors import DataTypeError, UnsupportedSourceError

#: String prefixes that name a source rather than a path.
PREFIXES = ("openml:", "openml-task:", "openml-suite:", "dir:")


def split_prefix(source: str) -> tuple[str | None, str]:
    """``("openml-task", "3")`` for ``"openml-task:3"``; ``(None, source)`` for a path."""
    lower = source.lower()
    for prefix in PREFIXES:
        if lower.startswith(prefix):
            return prefix[:-1], source[len(prefix) :].strip()
    return None, source


def parse_ids(kind: str, rest: str) -> list[int]:
    """The integer ids of ``"openml:1,2"`` style sources."""
    parts = [p.strip() for p in rest.split(",")]
    if not rest or not all(p.isdigit() for p in parts):
        raise UnsupportedSourceError(
            f"{kind}:{rest!s} is not a valid source; expected {kind}:<integer id>, e.g. {kind}:31"
        )
    return [int(p) for p in parts]


def load_dataset(
    source: Any,
    target: Hashable | None = None,
    *,
    task: str | None = None,
    name: str | None = None,
) -> Dataset:
    """Load and validate a supervised-learning dataset from any supported source.

    Parameters
    ----------
    source : DataFrame, (X, y) tuple, str or path-like
        - a :class:`pandas.DataFrame` holding the target column (see ``target``);
        - an ``(X, y)`` tuple of arrays, lists, DataFrames or Series (matched by position);
        - a path to a ``.csv``, ``.tsv`` (optionally ``.gz``), ``.arff`` or ``.parquet``
          file; a ``manifest.csv`` beside it or one directory up (PMLB layout) supplies
          the task, categorical columns and OpenML id;
        - ``"openml:<dataset id>"`` (the dataset's default target) or
          ``"openml-task:<task id>"`` (the task's target and folds, kept in ``splits``).
          ``openml.config``'s cache is used, so cached objects load offline.
    target : str, optional
        Target column of a table. For tables and files without ``target=``, a column
        named ``"target"`` is used with a :class:`~autometa.errors.DataWarning`.
    task : {"classification", "regression"}, optional
        Overrides inference (see :func:`autometa.data.infer_task`) and manifest/OpenML.
    name : str, optional
        Dataset name; defaults to the file stem, the OpenML name, or ``"frame"``.

    Returns
    -------
    Dataset
        Cleaned copy of the data: rows with a missing target dropped, infinite values
        made missing, all-missing and identifier-like text columns dropped, datetimes
        converted to seconds, each with a ``DataWarning``. The input is never modified.

    Raises
    ------
    TargetNotFoundError, DataValidationError, FileParseError
        The data is unusable as given (``ValueError`` subclasses).
    UnsupportedSourceError, InvalidParameterError
        Unknown source kind or file type, or a bad ``task=`` (``ValueError``).
    DataTypeError
        ``source`` is of a type that is not a table (``TypeError``).
    DatasetFileNotFoundError
        The path does not exist (``FileNotFoundError``).
    OpenMLUnavailableError
        OpenML is unreachable and the object is not cached (``ConnectionError``).

    Examples
    --------
    >>> import pandas as pd
    >>> import autometa
    >>> frame = pd.DataFrame({"x": [0.1, 0.4, 0.3, 0.9], "y": ["a", "b", "a", "b"]})
    >>> autometa.load_dataset(frame, target="y").task
    'classification'
    >>> autometa.load_dataset("openml-task:31")  # doctest: +SKIP
    """
    check_task(task, allow_none=True)  # None: inferred from the target
    if isinstance(source, pd.DataFrame):
        from autometa.data._frame import from_frame

        return from_frame(source, target, task=task, name=name)
    if isinstance(source, tuple):
        from autometa.data._frame import from_arrays

        return from_arrays(source, target, task=task, name=name)
    if isinstance(source, (str, os.PathLike)):
        return _load_string(os.fspath(source), target, task=task, name=name)
    raise DataTypeError(
        f"cannot load a {type(source).__name__} as a dataset; pass a DataFrame, an (X, y) "
        "tuple, a file path, 'openml:<id>' or 'openml-task:<id>'"
    )


def _load_string(
    source: str, target: Hashable | None, *, task: str | None, name: str | None
) -> Dataset:
    kind, rest = split_prefix(source)
    if kind is None:
        from autometa.data._files import load_file

        return load_file(source, target, task=task, name=name)
    if kind in ("openml-suite", "dir"):
        raise UnsupportedSourceError(
            f"{source!r} names several datasets; use autometa.load_suite({source!r})"
        )
    ids = parse_ids(kind, rest)
    if len(ids) > 1:
        raise UnsupportedSourceError(
            f"{source!r} names {len(ids)} datasets; use autometa.load_suite({source!r})"
        )
    from autometa.data import _openml

    loader = _openml.load_openml_dataset if kind == "openml" else _openml.load_openml_task
    return loader(ids[0], target, task=task, name=name)
