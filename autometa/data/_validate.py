"""Turn a raw table into a :class:`Dataset`: checks, cleaning, task and categorical inference.

Every source (frame, file, OpenML) ends here, so each rule is written once. Nothing
the caller passed in is modified: the functions below only build new objects.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import warnings
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autometa._constants import check_task
from autometa.data._dataset import Dataset
from autometa.errors import DataValidationError, DataWarning, TargetNotFoundError

#: Tables wider than this are refused: one-hot encoding and meta-feature extraction
#: would not finish in reasonable time or memory.
MAX_COLUMNS = 100_000

#: A numeric, integer-valued target with at most this many distinct values is taken as
#: classification. 30 keeps every classification dataset of the PMLB corpus (up to 26
#: classes, ``letter``) a classification; ordinal regression targets with fewer levels
#: need ``task="regression"`` (or a manifest entry).
MAX_INFERRED_CLASSES = 30

#: The column used as target when none is named.
DEFAULT_TARGET = "target"

# ISO-like dates ("2021-03-04", "2021/03/04 12:00") in text columns.
_DATE_RE = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn(message: str) -> None:
    """Emit a :class:`~autometa.errors.DataWarning` attributed to the caller's code.

    The stack level is found by walking out of the autometa package, so the warning
    points at the user's ``load_dataset`` line whichever source path raised it.
    """
    # stacklevel=2 is warn()'s caller, frame 1 above this one.
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level += 1
        frame = frame.f_back
    warnings.warn(message, DataWarning, stacklevel=level)


def _names(columns: Iterable[Any], limit: int = 20) -> str:
    """Column names for a message, truncated so a 10,000-column table stays readable."""
    columns = list(columns)
    shown = ", ".join(repr(c) for c in columns[:limit])
    if len(columns) > limit:
        shown += f", ... ({len(columns) - limit} more)"
    return shown


def check_n_columns(n_columns: int, where: str) -> None:
    """Refuse tables with more than :data:`MAX_COLUMNS` columns."""
    if n_columns > MAX_COLUMNS:
        raise DataValidationError(
            f"{where} has {n_columns:,} columns, more than the limit of {MAX_COLUMNS:,}; "
            "select or aggregate features before loading"
        )


def check_unique_columns(columns: Sequence[Hashable], where: str) -> None:
    """Refuse duplicate column names: they make name-based column selection ambiguous."""
    index = pd.Index(columns)
    if not index.is_unique:
        dups = list(dict.fromkeys(index[index.duplicated()]))
        raise DataValidationError(
            f"{where} has duplicate column names: {_names(dups)}; rename them to be unique"
        )


def split_target(
    frame: pd.DataFrame, target: Hashable | None, where: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Split ``frame`` into features and target column.

    With ``target=None`` a column named ``"target"`` is used (with a warning saying so);
    otherwise the error lists the available columns.
    """
    if not isinstance(frame, pd.DataFrame):  # pragma: no cover - internal misuse
        raise TypeError(f"expected a DataFrame, got {type(frame).__name__}")
    check_n_columns(frame.shape[1], where)
    check_unique_columns(frame.columns, where)
    if frame.shape[1] == 0:
        raise DataValidationError(f"{where} is empty: it has no columns")
    if target is None:
        if DEFAULT_TARGET not in frame.columns:
            raise TargetNotFoundError(
                f"no target given for {where} and it has no column named "
                f"{DEFAULT_TARGET!r}; pass target= one of: {_names(frame.columns)}"
            )
        target = DEFAULT_TARGET
        warn(f"no target given; using column {DEFAULT_TARGET!r} of {where} as the target")
    elif target not in frame.columns:
        close = difflib.get_close_matches(str(target), [str(c) for c in frame.columns], n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise TargetNotFoundError(
            f"target column {target!r} is not in {where}{hint}; "
            f"available columns: {_names(frame.columns)}"
        )
    return frame.drop(columns=[target]), frame[target]


def infer_task(y: pd.Series) -> str:
    """Infer the learning task from the target values.

    Rule: booleans and non-numeric targets (text, categories) are classification; a
    numeric target is classification when every value is an integer and there are at
    most :data:`MAX_INFERRED_CLASSES` distinct values; anything else is regression.

    Parameters
    ----------
    y : pandas.Series
        Target without missing values.

    Returns
    -------
    str
        ``"classification"`` or ``"regression"``.

    Examples
    --------
    >>> import pandas as pd
    >>> infer_task(pd.Series([0, 1, 1, 0])), infer_task(pd.Series([0.5, 1.2, 3.0]))
    ('classification', 'regression')
    """
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=float, na_value=np.nan)
    values = values[~np.isnan(values)]
    if np.all(np.mod(values, 1) == 0) and len(np.unique(values)) <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _is_text(col: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)


def _is_categorical(col: pd.Series) -> bool:
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(col)
        or _is_text(col)
    )


def _uniform_labels(col: pd.Series) -> pd.Series:
    """Text columns holding a mix of Python types (``1``, ``"a"``) become all ``str``.

    scikit-learn's encoders refuse mixed-type columns; for a categorical column the
    string form carries the same information.
    """
    if not pd.api.types.is_object_dtype(col):
        return col
    kinds = {type(v) for v in col.dropna()}
    if len(kinds) <= 1:
        return col
    return col.map(lambda v: v if pd.isna(v) else str(v))


def _looks_like_dates(col: pd.Series) -> bool:
    sample = col.dropna().head(20)
    return len(sample) > 0 and all(isinstance(v, str) and _DATE_RE.match(v) for v in sample)


def _to_numeric_time(col: pd.Series) -> pd.Series:
    """Datetimes become seconds since the Unix epoch, durations seconds; NaT -> NaN."""
    if pd.api.types.is_timedelta64_dtype(col):
        return col.dt.total_seconds()
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    seconds = (col - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    return seconds.astype("float64")


def _clean_features(X: pd.DataFrame, dropped: dict[str, str], where: str) -> pd.DataFrame:
    """Convert dates, treat infinities as missing, drop empty and ID columns (with warnings)."""
    n = len(X)
    converted, infinite, empty, ids = [], [], [], []
    columns: dict[Hashable, pd.Series] = {}
    changed = False
    for name, original in X.items():
        col = original
        if _is_text(col) and _looks_like_dates(col):
            parsed = pd.to_datetime(col, errors="coerce", format="ISO8601")
            # Keep the column as text unless (almost) everything parses as a date.
            if parsed.notna().sum() >= 0.9 * col.notna().sum():
                col = parsed
        if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
            col = _to_numeric_time(col)
            converted.append(name)
        if pd.api.types.is_float_dtype(col) and np.isinf(col.to_numpy(dtype=float)).any():
            col = col.mask(np.isinf(col.to_numpy(dtype=float)))
            infinite.append(name)
        if col.isna().all():
            empty.append(name)
            continue
        if _is_text(col) and not isinstance(col.dtype, pd.CategoricalDtype):
            if n > 1 and col.notna().all() and col.nunique() == n:
                ids.append(name)
                continue
            col = _uniform_labels(col)
        changed = changed or col is not original
        columns[name] = col
    if converted:
        warn(f"{where}: datetime columns converted to seconds since 1970: {_names(converted)}")
    if infinite:
        warn(f"{where}: infinite values treated as missing in columns: {_names(infinite)}")
    if empty:
        warn(f"{where}: dropped columns with no values (all missing): {_names(empty)}")
        dropped.update({str(c): "all missing" for c in empty})
    if ids:
        warn(f"{where}: dropped identifier columns (a distinct text value per row): {_names(ids)}")
        dropped.update({str(c): "identifier" for c in ids})
    if not (changed or empty or ids):
        return X  # nothing changed: skip rebuilding a possibly large frame
    return pd.DataFrame(columns, index=X.index) if columns else X.iloc[:, :0]


def _clean_target(y: pd.Series, where: str) -> tuple[pd.Series, np.ndarray | None]:
    """Infinite targets are missing; rows with a missing target are dropped (warning).

    Returns the target and the boolean mask of kept rows (``None`` when all are kept).
    """
    name = y.name
    if pd.api.types.is_float_dtype(y):
        y = y.mask(np.isinf(y.to_numpy(dtype=float)))
    missing = y.isna().to_numpy()
    if missing.all():
        raise DataValidationError(
            f"target column {name!r} of {where} has no values: all {len(y)} are missing"
        )
    if not missing.any():
        return y, None
    warn(f"{where}: dropped {int(missing.sum())} of {len(y)} rows whose target {name!r} is missing")
    return y[~missing], ~missing


def _integer_valued(y: pd.Series) -> bool:
    """Float values that are all integers exactly representable as int64."""
    if not pd.api.types.is_float_dtype(y):
        return False
    values = y.to_numpy(dtype=float)
    return bool(np.all(np.mod(values, 1) == 0) and np.all(np.abs(values) < 2**53))


def _finish_target(y: pd.Series, task: str, where: str) -> pd.Series:
    """Type the target for its task and refuse targets a model cannot learn from."""
    name = y.name
    if task == "classification":
        if isinstance(y.dtype, pd.CategoricalDtype):
            y = y.cat.remove_unused_categories()  # e.g. levels only seen in dropped rows
        elif _integer_valued(y):
            y = y.astype("int64")  # 0.0/1.0 labels (floats only because of NaN) -> 0/1
        elif pd.api.types.is_float_dtype(y) and np.any(np.mod(y.to_numpy(float), 1) != 0):
            # Fractional class codes (0, 0.5, 1): scikit-learn reads a float target that is
            # not integer-valued as continuous, so such labels become their text form.
            y = y.map(repr).astype(object).rename(name)
        else:
            y = _uniform_labels(y)
        classes = y.unique()
        if len(classes) < 2:
            only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
            raise DataValidationError(
                f"target column {name!r} of {where} has a single class {only!r}; "
                "classification needs at least two"
            )
        return y
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        raise DataValidationError(
            f"target column {name!r} of {where} is not numeric ({y.dtype}); it cannot be "
            "used for regression (use task='classification')"
        )
    y = y.astype("float64")
    if y.nunique() < 2:
        raise DataValidationError(
            f"target column {name!r} of {where} is constant ({y.iloc[0]!r}); there is "
            "nothing to learn"
        )
    return y


def _remap_splits(
    splits: list[tuple[np.ndarray, np.ndarray]], kept: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Translate positional split indices to the rows that survived cleaning."""
    new_position = np.cumsum(kept) - 1
    out = []
    for train, test in splits:
        train, test = np.asarray(train), np.asarray(test)
        out.append((new_position[train[kept[train]]], new_position[test[kept[test]]]))
    return out


def make_dataset(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    name: str,
    source: str,
    task: str | None = None,
    categorical: Iterable[Hashable] = (),
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Dataset:
    """Validate and clean features and target into a :class:`Dataset`.

    Parameters
    ----------
    X, y : DataFrame and Series
        Features and target with equal length. They are not modified.
    name, source : str
        Stored on the Dataset; ``source`` also names the data in messages.
    task : str, optional
        Overrides :func:`infer_task`.
    categorical : iterable of column names
        Extra categorical columns declared by the source (ARFF nominal, OpenML feature
        types, a corpus manifest); text, category and boolean columns are added anyway.
        Names that are not (or no longer) columns are ignored.
    splits : list of (train_idx, test_idx), optional
        Positional folds; remapped when rows are dropped.
    metadata : dict, optional
        Source provenance; cleaning statistics are added.

    Returns
    -------
    Dataset
    """
    check_task(task, allow_none=True)  # None: inferred from the target
    where = source
    if len(X) != len(y):
        raise DataValidationError(
            f"{where}: X has {len(X)} rows but y has {len(y)}; they must have the same length"
        )
    check_n_columns(X.shape[1], where)
    check_unique_columns(X.columns, where)
    if X.shape[1] == 0:
        raise DataValidationError(f"{where} has no feature columns besides the target")
    if len(X) == 0:
        raise DataValidationError(f"{where} is empty: it has no rows")
    metadata = dict(metadata or {})
    metadata.setdefault("n_rows_original", len(X))
    metadata.setdefault("n_features_original", int(X.shape[1]))

    # Positional from here on: splits and the evaluator index by position.
    # infer_objects: object columns that hold only numbers become numeric columns.
    X = X.reset_index(drop=True).infer_objects()
    y = y.reset_index(drop=True).infer_objects()
    y, kept = _clean_target(y, where)
    if kept is not None:
        X = X.loc[kept].reset_index(drop=True)
        y = y.reset_index(drop=True)
        if splits is not None:
            splits = _remap_splits(splits, kept)
        metadata["n_rows_dropped_missing_target"] = int((~kept).sum())
    if len(y) < 2:
        raise DataValidationError(
            f"{where} has a single row (after dropping rows with a missing target); "
            "at least two are needed"
        )

    dropped: dict[str, str] = {}
    X = _clean_features(X, dropped, where)
    if dropped:
        metadata["dropped_columns"] = dropped
    if X.shape[1] == 0:
        raise DataValidationError(
            f"{where} has no usable feature columns left after dropping: {_names(dropped)}"
        )

    task = task or infer_task(y)
    y = _finish_target(y, task, where)
    declared = set(categorical)
    categorical_columns = [c for c in X.columns if c in declared or _is_categorical(X[c])]
    return Dataset(
        X=X,
        y=y,
        task=task,
        categorical=categorical_columns,
        name=name,
        source=source,
        splits=splits,
        metadata=metadata,
    )
