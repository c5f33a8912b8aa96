"""Type a raw table's columns the way :func:`autometa.load_dataset` does, inside a pipeline.

:func:`load_dataset` cleans a table once (dates become seconds, text becomes categories,
infinities become missing). A recommended pipeline is fitted on the user's *raw* table,
and later applied to new raw rows that may disagree with the training rows (a stray string
in a numeric column, a category never seen before). :class:`ColumnTyper` learns each
column's kind at ``fit`` and applies the same conversion to every later table, so that the
rest of the pipeline always sees float64 numeric columns and string categorical columns.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from autometa.data._validate import (
    _is_categorical,
    _is_text,
    _looks_like_dates,
    _to_numeric_time,
)
from autometa.errors import DataValidationError

#: The text a missing categorical value becomes: encoders then treat it as one more level.
MISSING_CATEGORY = "__missing__"

_KINDS = ("numeric", "categorical", "datetime", "date_text")


def _kind(col: pd.Series, declared_categorical: bool) -> str:
    if declared_categorical:
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        return "datetime"
    if _is_text(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        inferred = col.infer_objects()
        if pd.api.types.is_numeric_dtype(inferred) and not pd.api.types.is_bool_dtype(inferred):
            return "numeric"  # an object column of numbers, as load_dataset's infer_objects
        if _looks_like_dates(col):
            parsed = pd.to_datetime(col, errors="coerce", format="ISO8601")
            if parsed.notna().sum() >= 0.9 * col.notna().sum():  # load_dataset's rule
                return "date_text"
    if _is_categorical(col):
        return "categorical"
    return "numeric"


def _as_numeric(col: pd.Series, kind: str) -> pd.Series:
    if kind == "date_text":
        col = pd.to_datetime(col, errors="coerce", format="ISO8601")
    if kind in ("datetime", "date_text"):
        if not (
            pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col)
        ):
            col = pd.to_datetime(col, errors="coerce", format="ISO8601")
        return _to_numeric_time(col)
    if pd.api.types.is_bool_dtype(col):
        col = col.astype("float64")
    # A stray string (or anything else non-numeric) at predict time becomes missing.
    values = pd.to_numeric(col, errors="coerce").astype("float64")
    return values.mask(np.isinf(values.to_numpy()))


def _as_category_strings(col: pd.Series) -> pd.Series:
    text = col.astype(object).where(col.notna(), MISSING_CATEGORY)
    return text.map(str).astype(object)


class ColumnTyper(TransformerMixin, BaseEstimator):
    """First step of every autometa pipeline: raw columns -> float64 or string columns.

    Parameters
    ----------
    categorical : sequence of column names, default=()
        Columns to treat as categorical whatever their dtype (e.g. numerically coded
        categories named by a corpus manifest). Text, category and boolean columns are
        categorical anyway; text columns whose values are ISO dates become seconds since
        1970, as in :func:`autometa.load_dataset`.

    Attributes
    ----------
    kinds_ : dict
        Column name -> ``"numeric"``, ``"categorical"``, ``"datetime"`` or ``"date_text"``.
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    """

    def __init__(self, categorical: Sequence[Hashable] = ()) -> None:
        self.categorical = categorical

    def fit(self, X, y=None):
        X = self._frame(X)
        declared = set(self.categorical)
        self.kinds_ = {name: _kind(col, name in declared) for name, col in X.items()}
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self._columns = list(X.columns)
        return self

    def transform(self, X):
        check_is_fitted(self, "kinds_")
        X = self._frame(X)
        missing = [c for c in self._columns if c not in X.columns]
        if missing:
            raise DataValidationError(
                f"the table lacks columns the pipeline was fitted on: {missing[:10]}"
                f"{' ...' if len(missing) > 10 else ''}"
            )
        columns = {}
        for name in self._columns:
            kind = self.kinds_[name]
            col = X[name]
            columns[name] = (
                _as_category_strings(col) if kind == "categorical" else _as_numeric(col, kind)
            )
        return pd.DataFrame(columns, index=X.index)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "kinds_")
        return self.feature_names_in_.copy()

    def _frame(self, X) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        array = np.asarray(X)
        if array.ndim != 2:
            raise DataValidationError(
                f"X must be a 2-D table, got an array with {array.ndim} dimension(s)"
            )
        return pd.DataFrame(array)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
