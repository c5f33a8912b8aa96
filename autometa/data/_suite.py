"""Collections of datasets, loaded lazily one source at a time."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from autometa.data._dataset import Dataset
from autometa.data._load import load_dataset, parse_ids, split_prefix
from autometa.errors import DatasetFileNotFoundError, DataTypeError, DataValidationError


class Suite:
    """An ordered collection of dataset sources; iterating loads one Dataset at a time.

    Only the source strings are held, so a Suite is cheap to create, pickle and send
    to worker processes; each worker calls :meth:`load` on its share.

    Parameters
    ----------
    sources : iterable of str or path-like
        Anything :func:`autometa.load_dataset` accepts as a string.
    name : str, optional
        What the suite was made from, for display.

    Examples
    --------
    >>> suite = Suite(["openml-task:31", "data/iris.csv"])
    >>> len(suite), suite.sources[0]
    (2, 'openml-task:31')
    """

    def __init__(self, sources: Iterable[str | os.PathLike[str]], name: str | None = None):
        self.sources: list[str] = [os.fspath(s) for s in sources]
        self.name = name

    def __len__(self) -> int:
        return len(self.sources)

    def __iter__(self) -> Iterator[Dataset]:
        for source in self.sources:
            yield self.load(source)

    def load(self, source: str | int, **kwargs: Any) -> Dataset:
        """Load one member: a source string, or a position in :attr:`sources`.

        Keyword arguments (``target``, ``task``, ``name``) go to :func:`load_dataset`.
        """
        if isinstance(source, int):
            source = self.sources[source]
        return load_dataset(source, **kwargs)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Suite({label}{len(self)} sources)"


def _directory_sources(directory: Path) -> list[str]:
    """Data files under ``directory`` (recursively, hidden ones skipped), sorted."""
    from autometa.data._files import SUFFIXES, is_data_file

    if not directory.exists():
        raise DatasetFileNotFoundError(f"no such directory: {directory}")
    files = sorted(
        p
        for p in directory.rglob("*")
        if is_data_file(p)
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    if not files:
        raise DataValidationError(
            f"no data files in {directory} (looked for {', '.join(SUFFIXES)})"
        )
    return [str(p.resolve()) for p in files]


def load_suite(spec: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Suite:
    """A lazily loaded collection of datasets.

    Parameters
    ----------
    spec : str, path-like or iterable of sources
        - ``"dir:PATH"`` or a directory path: every data file below it (recursively,
          sorted by path); a ``manifest.csv`` beside the files or one level up supplies
          each file's task and categorical columns;
        - ``"openml-suite:99"`` or ``"openml-suite:OpenML-CC18"``: the suite's tasks, as
          ``"openml-task:<id>"`` sources (the suite listing is fetched now);
        - ``"openml-task:1,2,3"`` or ``"openml:1,2"``: those tasks or datasets;
        - a single file path, or a list of sources.

    Returns
    -------
    Suite
        ``.sources`` lists the source strings; iteration loads them one by one.

    Examples
    --------
    >>> import autometa
    >>> suite = autometa.load_suite("openml-task:3,31")
    >>> suite.sources
    ['openml-task:3', 'openml-task:31']
    >>> for dataset in autometa.load_suite("dir:corpus/classification"):  # doctest: +SKIP
    ...     print(dataset.name, dataset.n_rows)
    """
    if not isinstance(spec, (str, os.PathLike)):
        if isinstance(spec, Iterable):
            return Suite(spec)
        raise DataTypeError(
            f"cannot make a suite from a {type(spec).__name__}; pass 'dir:PATH', "
            "'openml-suite:ID', 'openml-task:1,2,3' or a list of sources"
        )
    text = os.fspath(spec)
    kind, rest = split_prefix(text)
    if kind == "dir":
        return Suite(_directory_sources(Path(rest)), name=text)
    if kind == "openml-suite":
        from autometa.data._openml import suite_task_ids

        ids = suite_task_ids(rest)
        if not ids:
            raise DataValidationError(f"OpenML suite {rest} has no tasks")
        return Suite([f"openml-task:{i}" for i in ids], name=text)
    if kind is not None:  # openml / openml-task, one id or a comma list
        return Suite([f"{kind}:{i}" for i in parse_ids(kind, rest)], name=text)
    path = Path(text)
    if path.is_dir():
        return Suite(_directory_sources(path), name=text)
    if not path.exists():
        raise DatasetFileNotFoundError(f"no such file or directory: {path}")
    return Suite([text], name=text)
