"""The :class:`Dataset` container every other module consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autometa._constants import TASKS, check_task
from autometa.errors import DataValidationError

__all__ = ["TASKS", "Dataset"]


@dataclass(eq=False, repr=False)
class Dataset:
    """A validated supervised-learning table.

    Build one with :func:`autometa.load_dataset` rather than by hand: the loader
    cleans the data and infers ``task`` and ``categorical``; the constructor only
    checks that the fields agree with each other.

    Parameters
    ----------
    X : pandas.DataFrame
        Features, with the source's original column names and a ``0..n-1`` index.
    y : pandas.Series
        Target, aligned with ``X``.
    task : {"classification", "regression"}
        Learning task.
    categorical : list of str
        Columns of ``X`` to treat as categorical.
    name : str
        Short name, e.g. the file stem or the OpenML dataset name.
    source : str
        Where the data came from, e.g. ``"openml:2"``, ``"/path/file.csv"``, ``"frame"``.
    splits : list of (ndarray, ndarray), optional
        Positional ``(train_idx, test_idx)`` pairs to evaluate on (e.g. an OpenML task's
        folds of repeat 0); ``None`` lets the evaluator choose.
    metadata : dict
        Provenance: ``openml_dataset_id``, ``openml_task_id``, ``n_rows_original``,
        ``n_features_original``, ``dropped_columns`` and the like.

    Examples
    --------
    >>> import pandas as pd
    >>> import autometa
    >>> frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "label": ["x", "y", "x", "y"]})
    >>> ds = autometa.load_dataset(frame, target="label")
    >>> ds.task, ds.n_rows, ds.n_classes
    ('classification', 4, 2)
    """

    X: pd.DataFrame
    y: pd.Series
    task: str
    categorical: list[str]
    name: str
    source: str
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Cheap consistency checks only; content validation lives in the loader.
        check_task(self.task)
        if len(self.X) != len(self.y):
            raise DataValidationError(
                f"X has {len(self.X)} rows but y has {len(self.y)}; they must be aligned"
            )
        unknown = [c for c in self.categorical if c not in self.X.columns]
        if unknown:
            raise DataValidationError(f"categorical columns not in X: {unknown}")

    @property
    def n_rows(self) -> int:
        """Number of rows (samples)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of distinct target values for classification, ``None`` for regression."""
        if self.task != "classification":
            return None
        return int(self.y.nunique(dropna=True))

    def __repr__(self) -> str:
        # The default dataclass repr would print both tables in full.
        return (
            f"Dataset(name={self.name!r}, source={self.source!r}, task={self.task!r}, "
            f"n_rows={self.n_rows}, n_features={self.n_features}, "
            f"n_categorical={len(self.categorical)}, splits={_count(self.splits)})"
        )

    def summary(self) -> str:
        """A short human-readable description.

        Returns
        -------
        str
            Several lines: name and source, rows and features, task with the class
            counts or the target range, categorical columns and missing values.

        Examples
        --------
        >>> import pandas as pd
        >>> import autometa
        >>> frame = pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "t": [0.5, 1.5, 2.5, 3.5]})
        >>> print(autometa.load_dataset(frame, target="t", name="demo").summary())
        demo (frame)
          rows: 4, features: 1 (0 categorical)
          task: regression, target 't' in [0.5, 3.5], mean 2
          missing values: 1 of 4 cells (25.0%) in 1 column
        """
        lines = [f"{self.name} ({self.source})"]
        lines.append(
            f"  rows: {self.n_rows}, features: {self.n_features} "
            f"({len(self.categorical)} categorical)"
        )
        target = self.y.name
        if self.task == "classification":
            counts = self.y.value_counts()
            shown = ", ".join(f"{k}: {v}" for k, v in counts.head(5).items())
            more = f", ... ({len(counts) - 5} more)" if len(counts) > 5 else ""
            lines.append(
                f"  task: classification, target {target!r} with {len(counts)} classes "
                f"({shown}{more})"
            )
        else:
            lines.append(
                f"  task: regression, target {target!r} in [{self.y.min():.4g}, "
                f"{self.y.max():.4g}], mean {self.y.mean():.4g}"
            )
        missing = self.X.isna().sum()
        n_missing = int(missing.sum())
        cells = self.X.size
        if n_missing:
            n_cols = int((missing > 0).sum())
            lines.append(
                f"  missing values: {n_missing} of {cells} cells "
                f"({100 * n_missing / cells:.1f}%) in {n_cols} column{'s' * (n_cols != 1)}"
            )
        else:
            lines.append("  missing values: none")
        if self.splits:
            lines.append(f"  splits: {len(self.splits)} predefined folds")
        return "\n".join(lines)


def _count(splits: list | None) -> int | None:
    return None if splits is None else len(splits)
