"""Loading and validating datasets: every input becomes one :class:`Dataset`.

Sources are DataFrames, ``(X, y)`` tuples, files (CSV/TSV, gzipped or not, ARFF,
Parquet), OpenML datasets and tasks (``"openml:31"``, ``"openml-task:31"``) and, through
:func:`load_suite`, directories and OpenML suites.

Examples
--------
>>> import autometa
>>> ds = autometa.load_dataset("corpus/classification/iris.tsv.gz")  # doctest: +SKIP
>>> print(ds.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from autometa.data._dataset import TASKS, Dataset
from autometa.data._load import load_dataset
from autometa.data._suite import Suite, load_suite
from autometa.data._validate import MAX_COLUMNS, MAX_INFERRED_CLASSES, infer_task

__all__ = [
    "MAX_COLUMNS",
    "MAX_INFERRED_CLASSES",
    "TASKS",
    "Dataset",
    "Suite",
    "infer_task",
    "load_dataset",
    "load_suite",
]
