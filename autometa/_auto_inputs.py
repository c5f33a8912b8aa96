"""How :class:`autometa.AutoClassifier` and :class:`autometa.AutoRegressor` check the
``X`` and ``y`` they are given, with scikit-learn's messages where scikit-learn has one.

Raw tables are welcome (strings, dates, categories, missing values): only what no
pipeline can use is refused -- sparse input, no rows or columns, complex numbers, a
missing or too short target, missing target values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from autometa.errors import DataValidationError

__all__ = ["check_features", "check_target"]


def check_features(estimator: Any, X: Any, *, reset: bool) -> pd.DataFrame:
    """``X`` as a DataFrame with the column names ``estimator``'s pipelines were fitted on.

    With ``reset`` (in ``fit``), records the number and names of the features
    (``n_features_in_``, ``feature_names_in_``, the pipelines' column names); otherwise
    checks ``X`` against them.
    """
    import scipy.sparse as sp

    name = type(estimator).__name__
    if sp.issparse(X):
        raise TypeError(
            f"{name} does not accept sparse input (got {type(X).__name__}); "
            "pass a dense array or a DataFrame, e.g. X.toarray()"
        )
    if isinstance(X, pd.DataFrame):
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        frame = X
        for count, what in ((frame.shape[0], "sample"), (frame.shape[1], "feature")):
            if count == 0:
                raise DataValidationError(
                    f"Found array with 0 {what}(s) (shape={frame.shape}) while a minimum "
                    f"of 1 is required by {name}."
                )
        if any(pd.api.types.is_complex_dtype(t) for t in frame.dtypes):
            raise DataValidationError("Complex data not supported")
    else:
        array = validate_data(
            estimator, X, reset=reset, dtype=None, ensure_all_finite=False, accept_sparse=False
        )
        frame = pd.DataFrame(array)
    if reset:
        names = list(frame.columns)
        if not all(isinstance(c, str) for c in names):
            names = [f"x{i}" for i in range(frame.shape[1])]
        estimator._columns = names
    frame = frame.set_axis(estimator._columns, axis=1)
    return frame


def check_target(estimator: Any, X: pd.DataFrame, y: Any) -> np.ndarray:
    """``y`` as a 1-d array, one value per row of ``X`` and none missing; records its name
    (the column ``autometa predict`` writes)."""
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None."
        )
    name = getattr(y, "name", None)
    estimator._target_name = name if isinstance(name, str) else None  # the CLI's column
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    if len(y) < 2:
        raise DataValidationError(
            f"Found array with {len(y)} sample(s) while a minimum of 2 is required by "
            f"{type(estimator).__name__}."
        )
    missing = int(pd.isna(y).sum()) if y.dtype.kind in "fcOUSmM" else 0
    if missing:
        raise DataValidationError(
            f"Input y contains NaN: {missing} of {len(y)} target values are missing; "
            "drop those rows before fit"
        )
    return y
