"""Property tests: random messy frames either load into a valid Dataset or raise a
documented autometa error; they are never modified, and nothing else escapes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autometa
from autometa.errors import AutometaError

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0]),
)
texts = st.one_of(
    st.none(), st.sampled_from(["a", "b", "c", "", "2020-01-01"]), st.text(max_size=3)
)
values_by_kind = {
    "float": floats,
    "int": st.integers(-5, 5),
    "text": texts,
    "bool": st.booleans(),
    "mixed": st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["x", "y"]), floats),
}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n_rows = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(sorted(values_by_kind)), min_size=1, max_size=5))
    columns = {}
    for i, kind in enumerate(kinds):
        values = draw(st.lists(values_by_kind[kind], min_size=n_rows, max_size=n_rows))
        columns[f"{kind}{i}"] = pd.Series(values, dtype=object if kind == "mixed" else None)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    if draw(st.booleans()) and n_rows:
        frame["when"] = pd.date_range("2000-01-01", periods=n_rows)
    return frame


def check_dataset(ds: autometa.Dataset) -> None:
    assert ds.task in ("classification", "regression")
    assert len(ds.X) == len(ds.y) >= 2 and ds.X.shape[1] >= 1
    assert not ds.y.isna().any()
    assert not ds.X.isna().all().any()
    assert set(ds.categorical) <= set(ds.X.columns)
    numeric = ds.X.select_dtypes("number").to_numpy(dtype=float, na_value=np.nan)
    assert not np.isinf(numeric).any()
    assert list(ds.X.index) == list(range(len(ds.X)))
    if ds.task == "classification":
        assert ds.y.nunique() >= 2
    else:
        assert ds.y.dtype == np.float64


@SETTINGS
@given(
    frame=frames(),
    target_pos=st.integers(0, 10),
    task=st.sampled_from([None, None, "classification", "regression"]),
)
def test_random_frames_load_or_raise_documented_errors(
    frame: pd.DataFrame, target_pos: int, task: str | None
) -> None:
    target = frame.columns[target_pos % frame.shape[1]]
    before = frame.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = autometa.load_dataset(frame, target=target, task=task)
        except AutometaError:
            pass
        else:
            check_dataset(ds)
    pd.testing.assert_frame_equal(frame, before)


@SETTINGS
@given(frame=frames(), y=st.lists(st.one_of(floats, st.integers(0, 2), texts), max_size=12))
def test_random_pairs_load_or_raise_documented_errors(frame: pd.DataFrame, y: list) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = autometa.load_dataset((frame, pd.Series(y, dtype=object)))
        except AutometaError:
            pass
        else:
            check_dataset(ds)


@SETTINGS
@given(frame=frames())
@pytest.mark.filterwarnings("ignore")
def test_random_frames_round_trip_through_csv(frame: pd.DataFrame, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("csv") / "random.csv"
    frame.to_csv(path, index=False)
    target = frame.columns[0] if frame.shape[1] else "missing"
    try:
        ds = autometa.load_dataset(path, target=target)
    except AutometaError:
        return
    check_dataset(ds)
