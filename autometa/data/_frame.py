"""In-memory sources: a DataFrame with a target column, or an ``(X, y)`` pair."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from autometa.data._dataset import Dataset
from autometa.data._validate import check_n_columns, make_dataset, split_target
from autometa.errors import DataTypeError, DataValidationError


def from_frame(
    frame: pd.DataFrame, target: Hashable | None, *, task: str | None, name: str | None
) -> Dataset:
    """Load a DataFrame whose column ``target`` is the label.

    The frame is copied first, so the caller's object is never changed.
    """
    X, y = split_target(frame, target, "the DataFrame")
    return make_dataset(X.copy(), y.copy(), name=name or "frame", source="frame", task=task)


def _as_features(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.copy()
    if isinstance(X, pd.Series):
        return X.to_frame().copy()
    try:
        array = np.asarray(X)
    except Exception as exc:  # ragged lists and other non-array input
        raise DataTypeError(f"X cannot be read as a 2-d array: {exc}") from exc
    if array.ndim != 2:
        raise DataTypeError(
            f"X must be 2-dimensional (rows x features), got an array of shape {array.shape}"
        )
    check_n_columns(array.shape[1], "X")
    # Arrays have no column names; "x0", "x1", ... are stable and safe as str keys.
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def _as_target(y: Any) -> pd.Series:
    if isinstance(y, pd.Series):
        return y.copy() if y.name is not None else y.rename("target")
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataTypeError(f"y must be a single column, got a DataFrame with {y.shape[1]}")
        return y.iloc[:, 0].copy()
    try:
        array = np.asarray(y)
    except Exception as exc:
        raise DataTypeError(f"y cannot be read as a 1-d array: {exc}") from exc
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataTypeError(f"y must be 1-dimensional, got an array of shape {array.shape}")
    return pd.Series(array, name="target")


def from_arrays(
    pair: tuple[Any, Any], target: Hashable | None, *, task: str | None, name: str | None
) -> Dataset:
    """Load an ``(X, y)`` pair of arrays, DataFrames, Series or lists.

    Rows are matched by position (indexes are ignored), as in scikit-learn.
    """
    if len(pair) != 2:
        raise DataTypeError(f"a tuple source must be (X, y), got a tuple of {len(pair)} items")
    if target is not None:
        raise DataValidationError(
            "target= names a column of a table; an (X, y) tuple already holds the target"
        )
    X, y = _as_features(pair[0]), _as_target(pair[1])
    return make_dataset(X, y, name=name or "arrays", source="arrays", task=task)
