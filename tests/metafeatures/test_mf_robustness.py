"""Edge cases that must never crash, emit inf, or leave a NaN unexplained."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metafeatures as mf


def _check(X, y=None, **kw) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a group crashing would warn
        s, info = mf.extract(X, y, groups="all", return_info=True, **kw)
    assert list(s.index) == mf.output_names("all")
    assert not np.isinf(s.to_numpy()).any()
    assert set(s.index[s.isna()]) == set(info["nan_reasons"])
    return s


rng = np.random.default_rng(0)


def test_constant_columns() -> None:
    X = pd.DataFrame({"c": np.ones(30), "d": np.zeros(30), "e": rng.normal(size=30)})
    s = _check(X, np.arange(30) % 2)
    assert s["general.n_constant"] == 2


def test_all_constant() -> None:
    _check(np.ones((20, 3)), np.arange(20) % 2)


def test_single_feature() -> None:
    _check(rng.normal(size=(25, 1)), np.arange(25) % 3)


def test_two_rows_per_class() -> None:
    _check(rng.normal(size=(10, 3)), np.repeat(np.arange(5), 2))


def test_thousand_classes() -> None:
    s = _check(rng.normal(size=(2000, 3)), np.repeat(np.arange(1000), 2), task="classification")
    assert s["general.n_classes"] == 1000


def test_all_categorical() -> None:
    X = pd.DataFrame({c: rng.choice(list("abcd"), 40) for c in "pqr"})
    s = _check(X, rng.choice(["u", "v"], 40))
    assert s["general.n_numeric"] == 0 and s["general.pct_numeric"] == 0.0


def test_ninety_percent_missing() -> None:
    X = pd.DataFrame({"a": rng.normal(size=50), "b": rng.choice(["x", "y"], 50).astype(object)})
    X.loc[X.index[5:], "a"] = np.nan
    X.loc[X.index[5:], "b"] = None
    s = _check(X, np.arange(50) % 2)
    assert s["general.pct_missing"] == 90.0


def test_infinite_values() -> None:
    X = rng.normal(size=(30, 3))
    X[0, 0], X[1, 1] = np.inf, -np.inf
    s, info = mf.extract(X, np.arange(30) % 2, groups="all", return_info=True)
    assert info["n_infinite"] == 2
    assert not np.isinf(s.to_numpy()).any()


def test_column_with_one_category() -> None:
    X = pd.DataFrame({"only": ["z"] * 20, "n": rng.normal(size=20)})
    _check(X, np.arange(20) % 2)


def test_huge_integers() -> None:
    X = pd.DataFrame(
        {
            "big": [10**30 + i for i in range(20)],
            "i64": np.full(20, np.iinfo(np.int64).max) - np.arange(20),
        }
    )
    _check(X, np.arange(20) % 2)
    _check(X, np.arange(20) * 1e300, task="regression")


def test_regression_and_unsupervised() -> None:
    X = rng.normal(size=(40, 3))
    _check(X, X[:, 0] * 2 + 1, task="regression")
    s = _check(X)
    assert np.isnan(s["landmarking.one_nn.mean"])


def test_missing_target_rows_are_dropped() -> None:
    y = pd.Series(["a", "b", None, "a", "b", "a"] * 5)
    s, info = mf.extract(rng.normal(size=(30, 2)), y, return_info=True)
    assert s["general.n_instances"] == 25 and info["n_rows_dropped_missing_y"] == 5


def test_single_row_and_single_class() -> None:
    _check(np.array([[1.0, 2.0]]), [1])
    _check(rng.normal(size=(10, 2)), np.zeros(10, dtype=int))


def test_numpy_object_and_bool_input() -> None:
    X = np.array(
        [[1, "a", True], [2, "b", False], [3, "a", True], [4, "b", False]] * 5, dtype=object
    )
    s = _check(X, [0, 1] * 10)
    assert s["general.n_categorical"] == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 30),
    n_num=st.integers(0, 3),
    n_cat=st.integers(0, 2),
    k=st.integers(1, 4),
    miss=st.floats(0, 0.95),
    regression=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_random_frames_never_crash(n, n_num, n_cat, k, miss, regression, seed) -> None:
    r = np.random.default_rng(seed)
    cols = {}
    for j in range(n_num):
        v = (
            r.choice([r.normal(size=n), np.round(r.normal(size=n)), np.full(n, 3.0)], axis=0)
            if n
            else np.empty(0)
        )
        cols[f"n{j}"] = np.where(r.random(n) < miss, np.nan, v)
    for j in range(n_cat):
        cols[f"c{j}"] = pd.Series(r.choice(["a", "b", "c"], n), dtype=object).where(
            r.random(n) >= miss, None
        )
    if not cols:
        cols["only"] = r.normal(size=n)
    X = pd.DataFrame(cols)
    y = r.normal(size=n) if regression else r.integers(0, k, n)
    s = _check(X, y, task="regression" if regression else "classification", random_state=seed)
    again = mf.extract(
        X, y, task="regression" if regression else "classification", groups="all", random_state=seed
    )
    pd.testing.assert_series_equal(s, again)
