"""API contract of metafeatures: names, counts, errors, info, determinism, time budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metafeatures as mf


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    n = 120
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "skewed": rng.exponential(size=n),
            "cat": rng.choice(["a", "b", "c"], size=n),
            "flag": rng.random(n) > 0.5,
        }
    )
    X.loc[::7, "num"] = np.nan
    y = pd.Series(np.where(X["skewed"] > 1, "yes", "no"))
    return X, y


def test_name_counts_cover_pymfe_default_and_all() -> None:
    assert len(mf.output_names("default")) >= 111
    assert len(mf.output_names("all")) >= 170


def test_required_general_names_exist() -> None:
    names = set(mf.output_names("default"))
    for n in (
        "general.n_instances",
        "general.n_features",
        "general.n_classes",
        "general.pct_numeric",
        "general.n_missing",
        "general.n_categorical",
        "statistical.skewness.mean",
        "landmarking.one_nn.mean",
    ):
        assert n in names


def test_index_is_stable_and_task_independent(mixed) -> None:
    X, y = mixed
    cls = mf.extract(X, y, groups="all")
    reg = mf.extract(X, X["skewed"] * 2.5, task="regression", groups="all")
    unsup = mf.extract(X, groups="all")
    assert list(cls.index) == list(reg.index) == list(unsup.index) == mf.output_names("all")
    assert cls.dtype == np.float64


def test_list_metafeatures_columns() -> None:
    df = mf.list_metafeatures()
    assert {"name", "group", "description", "cost", "needs_y", "summarised", "categorical"} <= set(
        df.columns
    )
    assert set(df.group) == set(mf.GROUPS)
    assert df.name.is_unique
    assert not df.loc[df.name == "general.n_instances", "needs_y"].item()
    assert df.loc[df.name == "landmarking.one_nn", "needs_y"].item()
    assert len(mf.list_metafeatures("general")) < len(df)


def test_no_inf_and_every_nan_explained(mixed) -> None:
    X, y = mixed
    s, info = mf.extract(X, y, groups="all", return_info=True)
    assert not np.isinf(s.to_numpy()).any()
    nan_names = set(s.index[s.isna()])
    assert nan_names == set(info["nan_reasons"])
    assert all(isinstance(r, str) and r for r in info["nan_reasons"].values())


def test_deterministic_for_random_state(mixed) -> None:
    X, y = mixed
    a = mf.extract(X, y, groups="all", random_state=3)
    b = mf.extract(X, y, groups="all", random_state=3)
    pd.testing.assert_series_equal(a, b)


def test_task_inference(mixed) -> None:
    X, y = mixed
    assert mf.extract(X, y, return_info=True)[1]["task"] == "classification"
    assert mf.extract(X, np.arange(len(X)) % 3, return_info=True)[1]["task"] == "classification"
    assert mf.extract(X, X["skewed"], return_info=True)[1]["task"] == "regression"
    assert np.isnan(mf.extract(X, X["skewed"])["general.n_classes"])


def test_summaries_parameter(mixed) -> None:
    X, y = mixed
    s = mf.extract(X, y, groups=["statistical"], summaries=("min", "max", "median"))
    assert "statistical.skewness.median" in s.index and "statistical.skewness.mean" not in s.index
    assert s["statistical.mean.min"] <= s["statistical.mean.median"] <= s["statistical.mean.max"]


def test_max_rows_sampling_is_recorded() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] > 0).astype(int)
    s, info = mf.extract(X, y, groups="all", max_rows=100, return_info=True)
    assert info["sampled"] and info["n_rows_sampled"] == 100
    assert s["general.n_instances"] == 600  # linear measures still use every row
    assert s["model_based.nodes_per_inst"] <= 1


def test_time_budget_skips_expensive_groups(mixed) -> None:
    X, y = mixed
    s, info = mf.extract(X, y, groups="all", time_budget=0.0, return_info=True)
    assert s["general.n_instances"] == len(X)
    assert "complexity" in info["skipped_groups"] and "landmarking" in info["skipped_groups"]
    assert info["nan_reasons"]["landmarking.one_nn.mean"].startswith("skipped: time_budget")


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"groups": ["nope"]}, mf.UnknownGroupError),
        ({"summaries": ("mode",)}, mf.UnknownSummaryError),
        ({"task": "clustering"}, mf.InvalidTaskError),
        ({"categorical": ["missing_col"]}, mf.InvalidParameterError),
        ({"max_rows": 3}, mf.InvalidParameterError),
        ({"time_budget": -1}, mf.InvalidParameterError),
    ],
)
def test_bad_arguments_raise_named_errors(mixed, kwargs, exc) -> None:
    X, y = mixed
    with pytest.raises(exc):
        mf.extract(X, y, **kwargs)
    assert issubclass(exc, ValueError)


def test_bad_input_types() -> None:
    with pytest.raises(mf.InputTypeError):
        mf.extract({"a": [1, 2]})
    with pytest.raises(mf.InputShapeError, match="reshape"):
        mf.extract(np.arange(5.0))
    with pytest.raises(mf.InputShapeError, match="rows"):
        mf.extract(np.ones((4, 2)), [0, 1, 0])
    with pytest.raises(mf.InvalidTaskError):
        mf.extract(np.ones((4, 2)), ["a", "b", "a", "b"], task="regression")


def test_package_is_standalone() -> None:
    import ast
    from pathlib import Path

    pkg = Path(mf.__file__).parent
    for f in pkg.glob("*.py"):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "autometa" for a in node.names), f
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "autometa", f
