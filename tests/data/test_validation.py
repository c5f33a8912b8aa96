"""Bad and dirty input: every documented error and every cleaning step with its warning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa.data import MAX_COLUMNS
from autometa.data._validate import make_dataset
from autometa.errors import (
    AutometaError,
    DatasetFileNotFoundError,
    DataTypeError,
    DataValidationError,
    DataWarning,
    FileParseError,
    OpenMLUnavailableError,
    TargetNotFoundError,
    UnsupportedSourceError,
)


def load(frame: pd.DataFrame, target: str = "t", **kwargs) -> autometa.Dataset:
    return autometa.load_dataset(frame, target=target, **kwargs)


def test_error_classes_subclass_builtins() -> None:
    assert issubclass(TargetNotFoundError, DataValidationError)
    assert issubclass(FileParseError, ValueError)
    assert issubclass(UnsupportedSourceError, ValueError)
    assert issubclass(DataTypeError, TypeError)
    assert issubclass(DatasetFileNotFoundError, FileNotFoundError)
    assert issubclass(OpenMLUnavailableError, ConnectionError)
    assert issubclass(DataWarning, UserWarning)


def test_empty_table() -> None:
    with pytest.raises(DataValidationError, match="no rows"):
        load(pd.DataFrame({"a": [], "t": []}))
    with pytest.raises(DataValidationError, match="no columns"):
        load(pd.DataFrame())


def test_target_only() -> None:
    with pytest.raises(DataValidationError, match="no feature columns"):
        load(pd.DataFrame({"t": [0, 1, 0]}))


def test_one_row() -> None:
    with pytest.raises(DataValidationError, match="single row"):
        load(pd.DataFrame({"a": [1.0], "t": [1]}))


def test_one_row_left_after_dropping_missing_targets() -> None:
    with pytest.warns(DataWarning), pytest.raises(DataValidationError, match="single row"):
        load(pd.DataFrame({"a": [1.0, 2.0], "t": [1, None]}))


def test_single_class() -> None:
    with pytest.raises(DataValidationError, match="single class 'yes'"):
        load(pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": ["yes"] * 3}))


def test_constant_regression_target() -> None:
    with pytest.raises(DataValidationError, match="constant"):
        load(pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": [0.5] * 3}), task="regression")


def test_text_target_cannot_be_regression() -> None:
    with pytest.raises(DataValidationError, match="not numeric"):
        load(pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": ["x", "y", "z"]}), task="regression")


def test_target_all_missing() -> None:
    with pytest.raises(DataValidationError, match="'t' .* all 3 are missing"):
        load(pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": [np.nan] * 3}))


def test_rows_with_missing_target_are_dropped() -> None:
    frame = pd.DataFrame({"a": np.arange(6.0), "t": ["x", None, "y", "x", np.nan, "y"]})
    with pytest.warns(DataWarning, match="dropped 2 of 6 rows whose target 't' is missing"):
        ds = load(frame)
    assert ds.X["a"].tolist() == [0.0, 2.0, 3.0, 5.0]
    assert ds.y.tolist() == ["x", "y", "x", "y"]
    assert ds.metadata["n_rows_dropped_missing_target"] == 2
    assert ds.metadata["n_rows_original"] == 6


def test_duplicate_column_names() -> None:
    frame = pd.DataFrame([[1, 2, 3, 0], [4, 5, 6, 1]], columns=["a", "b", "a", "t"])
    with pytest.raises(DataValidationError, match="duplicate column names: 'a'"):
        load(frame)
    X = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    with pytest.raises(DataValidationError, match="duplicate"):
        autometa.load_dataset((X, [0, 1]))


def test_all_missing_columns_are_dropped() -> None:
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "gone": [np.nan] * 3, "none": [None] * 3, "t": [0, 1, 0]}
    )
    with pytest.warns(DataWarning, match="no values .*'gone', 'none'"):
        ds = load(frame)
    assert list(ds.X.columns) == ["a"]
    assert ds.metadata["dropped_columns"] == {"gone": "all missing", "none": "all missing"}


def test_infinite_values_become_missing() -> None:
    frame = pd.DataFrame({"a": [1.0, np.inf, -np.inf, 4.0], "b": [1.0] * 4, "t": [0, 1, 0, 1]})
    with pytest.warns(DataWarning, match="infinite values .*'a'"):
        ds = load(frame)
    assert ds.X["a"].isna().tolist() == [False, True, True, False]
    assert frame["a"].isin([np.inf]).any()  # the caller's frame still has them


def test_infinite_target_rows_are_dropped() -> None:
    frame = pd.DataFrame({"a": np.arange(5.0), "t": [0.5, np.inf, 1.5, 2.5, 3.5]})
    with pytest.warns(DataWarning, match="dropped 1 of 5 rows"):
        ds = load(frame)
    assert ds.task == "regression" and len(ds.y) == 4


def test_column_made_only_of_infinities_is_dropped() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "inf": [np.inf, -np.inf], "t": [0, 1]})
    with pytest.warns(DataWarning):
        ds = load(frame)
    assert list(ds.X.columns) == ["a"]


def test_too_many_columns(tmp_path) -> None:
    frame = pd.DataFrame(np.zeros((2, MAX_COLUMNS + 1)))
    frame["t"] = [0, 1]
    with pytest.raises(DataValidationError, match="more than the limit of 100,000"):
        load(frame)
    with pytest.raises(DataValidationError, match="limit of 100,000"):
        autometa.load_dataset((np.zeros((2, MAX_COLUMNS + 1)), [0, 1]))


def test_datetime_columns_become_seconds() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["1970-01-01", "1970-01-02", None]),
            "utc": pd.date_range("1970-01-01", periods=3, freq="h", tz="Europe/Paris"),
            "took": pd.to_timedelta([1, 2, 3], unit="min"),
            "iso": ["2020-01-01", "2020-01-02 10:00", "2020-01-03"],
            "t": [0, 1, 0],
        }
    )
    with pytest.warns(DataWarning, match="datetime columns .*'when', 'utc', 'took', 'iso'"):
        ds = load(frame)
    assert ds.X["when"].tolist()[:2] == [0.0, 86400.0] and np.isnan(ds.X["when"].iloc[2])
    assert ds.X["utc"].iloc[0] == -3600.0  # midnight in Paris is 23:00 UTC
    assert ds.X["took"].tolist() == [60.0, 120.0, 180.0]
    assert ds.X.dtypes.eq(np.float64).all() and ds.categorical == []


def test_identifier_columns_are_dropped() -> None:
    frame = pd.DataFrame(
        {
            "id": ["u1", "u2", "u3", "u4"],
            "n": [1.5, 2.5, 3.5, 4.5],  # unique but numeric: a feature
            "c": ["a", "b", "a", "b"],
            "t": [0, 1, 0, 1],
        }
    )
    with pytest.warns(DataWarning, match="identifier columns .*'id'"):
        ds = load(frame)
    assert list(ds.X.columns) == ["n", "c"] and ds.categorical == ["c"]
    assert ds.metadata["dropped_columns"] == {"id": "identifier"}


def test_nothing_left_after_dropping() -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], "gone": [np.nan] * 3, "t": [0, 1, 0]})
    with pytest.warns(DataWarning), pytest.raises(DataValidationError, match="no usable feature"):
        load(frame)


def test_unused_categories_are_removed_from_target() -> None:
    y = pd.Categorical(["a", "b", "a", "b"], categories=["a", "b", "never"])
    ds = load(pd.DataFrame({"x": [1.0, 2, 3, 4], "t": y}))
    assert list(ds.y.cat.categories) == ["a", "b"] and ds.n_classes == 2


def test_splits_follow_dropped_rows() -> None:
    X = pd.DataFrame({"a": np.arange(6.0)})
    y = pd.Series([0, 1, None, 0, 1, 0], name="t")
    splits = [
        (np.array([0, 1, 2]), np.array([3, 4, 5])),
        (np.array([3, 4, 5]), np.array([0, 1, 2])),
    ]
    with pytest.warns(DataWarning):
        ds = make_dataset(X, y, name="s", source="s", splits=splits)
    (tr0, te0), (tr1, te1) = ds.splits
    assert tr0.tolist() == [0, 1] and te0.tolist() == [2, 3, 4]
    assert tr1.tolist() == [2, 3, 4] and te1.tolist() == [0, 1]


def test_errors_from_loading_are_autometa_errors() -> None:
    bad = [
        (pd.DataFrame({"a": [1.0, 2.0]}), "missing"),
        (pd.DataFrame({"a": [], "missing": []}), "missing"),
    ]
    for frame, target in bad:
        with pytest.raises(AutometaError):
            autometa.load_dataset(frame, target=target)


def test_huge_integer_valued_float_labels_stay_float() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": [1e300, 0.0, 1e300]})
    ds = load(frame, task="classification")
    assert ds.y.dtype == np.float64 and ds.y.tolist() == [1e300, 0.0, 1e300]


def test_fractional_class_codes_become_labels():
    """A classification target coded 0 / 0.5 / 1 is not 'continuous' to scikit-learn."""
    import warnings

    from autometa.evaluate import make_splits

    X = pd.DataFrame({"x": np.arange(30.0)})
    y = pd.Series([0.0, 0.5, 1.0] * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = autometa.load_dataset((X, y), task="classification")
    assert sorted(dataset.y.unique()) == ["0.0", "0.5", "1.0"]
    assert len(make_splits(dataset, 3, 0)) == 3
