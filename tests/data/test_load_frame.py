"""In-memory sources: DataFrames, (X, y) tuples, task and categorical inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa.data import MAX_INFERRED_CLASSES, Dataset, infer_task
from autometa.errors import (
    DataTypeError,
    DataValidationError,
    DataWarning,
    InvalidParameterError,
    TargetNotFoundError,
)


def mixed_frame(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "count": rng.integers(0, 5, size=n),
            "colour": pd.Series(["red", "green", "blue"] * (n // 3)),
            "grade": pd.Categorical(["a", "b"] * (n // 2)),
            "flag": [True, False] * (n // 2),
            "label": ["yes", "no", "no"] * (n // 3),
        }
    )


def test_frame_classification() -> None:
    ds = autometa.load_dataset(mixed_frame(), target="label")
    assert isinstance(ds, Dataset)
    assert ds.task == "classification"
    assert list(ds.X.columns) == ["num", "count", "colour", "grade", "flag"]
    assert ds.categorical == ["colour", "grade", "flag"]
    assert ds.y.name == "label" and ds.n_classes == 2
    assert (ds.name, ds.source, ds.splits) == ("frame", "frame", None)
    assert ds.metadata["n_rows_original"] == 12


def test_frame_regression_and_name() -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "t": np.linspace(0, 1, 40) ** 2})
    ds = autometa.load_dataset(frame, target="t", name="curve")
    assert ds.task == "regression" and ds.name == "curve"
    assert ds.y.dtype == np.float64 and ds.n_classes is None


def test_index_is_reset_and_aligned() -> None:
    frame = pd.DataFrame({"a": [3.0, 1.0, 2.0], "t": [0, 1, 0]}, index=[10, 5, 7])
    ds = autometa.load_dataset(frame, target="t")
    assert list(ds.X.index) == [0, 1, 2] and list(ds.y.index) == [0, 1, 2]
    assert ds.X["a"].tolist() == [3.0, 1.0, 2.0] and ds.y.tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([1.0, 2.0, 2.0, 3.0], "classification"),  # integer-valued floats
        (list(range(MAX_INFERRED_CLASSES)), "classification"),
        (list(range(MAX_INFERRED_CLASSES + 1)), "regression"),
        ([0.5, 1.5, 2.25], "regression"),
    ],
)
def test_infer_task(values: list, expected: str) -> None:
    assert infer_task(pd.Series(values)) == expected


def test_task_override() -> None:
    frame = pd.DataFrame({"a": np.arange(8.0), "t": [1, 2, 3, 4, 1, 2, 3, 4]})
    assert autometa.load_dataset(frame, target="t").task == "classification"
    ds = autometa.load_dataset(frame, target="t", task="regression")
    assert ds.task == "regression" and ds.y.dtype == np.float64
    frame["t"] = np.linspace(0, 1, 8)
    assert autometa.load_dataset(frame, target="t", task="classification").n_classes == 8


def test_invalid_task_argument() -> None:
    with pytest.raises(InvalidParameterError, match="clustering"):
        autometa.load_dataset(mixed_frame(), target="label", task="clustering")


def test_float_labels_become_integers() -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "t": [0.0, 1.0, np.nan, 1.0]})
    with pytest.warns(DataWarning, match="missing"):
        ds = autometa.load_dataset(frame, target="t")
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [0, 1, 1]


def test_default_target_column_is_used_with_warning() -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "target": [0, 1, 0, 1]})
    with pytest.warns(DataWarning, match="using column 'target'"):
        ds = autometa.load_dataset(frame)
    assert ds.y.name == "target"


def test_no_target_and_no_target_column() -> None:
    with pytest.raises(TargetNotFoundError, match="pass target=.*'num'.*'label'"):
        autometa.load_dataset(mixed_frame())


def test_missing_target_lists_columns_and_suggests() -> None:
    with pytest.raises(TargetNotFoundError) as info:
        autometa.load_dataset(mixed_frame(), target="lable")
    message = str(info.value)
    assert "'lable'" in message and "did you mean 'label'" in message
    assert "available columns: 'num', 'count', 'colour', 'grade', 'flag', 'label'" in message
    assert isinstance(info.value, ValueError)


def test_caller_frame_is_not_modified() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, np.inf, 3.0, -np.inf, 5.0, 6.0],
            "empty": [np.nan] * 6,
            "when": pd.date_range("2020-01-01", periods=6),
            "id": [f"row{i}" for i in range(6)],
            "mixed": np.array([1, "a", 2, "b", None, "a"], dtype=object),
            "t": [0, 1, np.nan, 1, 0, 1],
        },
        index=list("abcdef"),
    )
    before = frame.copy(deep=True)
    with pytest.warns(DataWarning):
        ds = autometa.load_dataset(frame, target="t")
    pd.testing.assert_frame_equal(frame, before)
    assert ds.X is not frame
    ds.X.iloc[0, 0] = -1.0  # and the dataset does not share memory with the caller
    pd.testing.assert_frame_equal(frame, before)
    assert ds.X["mixed"].dropna().map(type).eq(str).all()


def test_tuple_of_arrays() -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.array([0, 1] * 5)
    ds = autometa.load_dataset((X, y))
    assert list(ds.X.columns) == ["x0", "x1"] and ds.y.name == "target"
    assert (ds.source, ds.name, ds.task) == ("arrays", "arrays", "classification")


def test_tuple_of_frame_and_series_matches_by_position() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]}, index=[3, 2, 1, 0])
    y = pd.Series([0.1, 0.2, 0.3, 0.4], name="price")
    before = X.copy()
    ds = autometa.load_dataset((X, y), name="prices")
    assert ds.y.name == "price" and ds.task == "regression"
    assert ds.X["a"].tolist() == [1.0, 2.0, 3.0, 4.0]
    pd.testing.assert_frame_equal(X, before)


def test_tuple_of_lists() -> None:
    ds = autometa.load_dataset(([[1, 2], [3, 4], [5, 6]], ["a", "b", "a"]))
    assert ds.X.shape == (3, 2) and ds.n_classes == 2


@pytest.mark.parametrize(
    ("pair", "error", "match"),
    [
        ((np.arange(4.0), [0, 1, 0, 1]), DataTypeError, "2-dimensional"),
        ((np.ones((4, 2)), np.ones((4, 2))), DataTypeError, "1-dimensional"),
        ((np.ones((4, 2)), [0, 1, 0]), DataValidationError, "4 rows but y has 3"),
        ((np.ones((4, 2)),), DataTypeError, r"\(X, y\)"),
    ],
)
def test_bad_tuples(pair: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        autometa.load_dataset(pair)


def test_target_argument_with_tuple_is_refused() -> None:
    with pytest.raises(DataValidationError, match="already holds the target"):
        autometa.load_dataset((np.ones((4, 2)), [0, 1, 0, 1]), target="t")


@pytest.mark.parametrize("source", [42, None, {"a": [1, 2]}, [[1, 2], [3, 4]], b"csv"])
def test_unsupported_python_types(source: object) -> None:
    with pytest.raises(DataTypeError, match="cannot load a"):
        autometa.load_dataset(source)
    assert issubclass(DataTypeError, TypeError)


def test_summary_classification() -> None:
    frame = mixed_frame()
    frame.loc[0, "num"] = np.nan
    text = autometa.load_dataset(frame, target="label", name="demo").summary()
    lines = text.splitlines()
    assert lines[0] == "demo (frame)"
    assert "rows: 12, features: 5 (3 categorical)" in text
    assert "2 classes (no: 8, yes: 4)" in text
    assert "missing values: 1 of 60 cells" in text


def test_summary_regression_and_repr() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": [0.5, 1.5, 4.0]})
    ds = autometa.load_dataset(frame, target="t")
    assert "target 't' in [0.5, 4]" in ds.summary()
    assert "missing values: none" in ds.summary()
    assert repr(ds) == (
        "Dataset(name='frame', source='frame', task='regression', n_rows=3, "
        "n_features=1, n_categorical=0, splits=None)"
    )


def test_dataset_constructor_checks() -> None:
    X, y = pd.DataFrame({"a": [1, 2]}), pd.Series([0, 1])
    with pytest.raises(InvalidParameterError):
        Dataset(X, y, task="ranking", categorical=[], name="d", source="s")
    with pytest.raises(DataValidationError, match="aligned"):
        Dataset(X, y.iloc[:1], task="regression", categorical=[], name="d", source="s")
    with pytest.raises(DataValidationError, match="not in X"):
        Dataset(X, y, task="regression", categorical=["b"], name="d", source="s")
