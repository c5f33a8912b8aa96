"""Every pipeline of the search space fits any raw table load_dataset accepts.

``make_pipeline().fit(X_raw, y).predict(X_raw_new)`` must work on the user's raw columns
(numbers, booleans, categories, text, high-cardinality text, ISO date strings, datetimes,
all-missing columns), on new rows with unseen categories or a stray string in a numeric
column, type the columns as :func:`autometa.load_dataset` does, emit no FutureWarning and
keep BLAS to the pipeline's thread bound.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autometa
from autometa import space
from autometa._pipeline import BoundedPipeline
from autometa.data._columns import ColumnTyper

COLUMN_KINDS = (
    "float_nan",
    "int",
    "bool",
    "category",
    "text",
    "high_card",
    "iso_text",
    "datetime",
    "all_nan",
    "numeric_coded",
)
ALL_CONFIGS = [
    (task, name, encoding)
    for task in space.TASKS
    for name in space.ALGORITHMS[task]
    for encoding in space.PREPROCESSING["encoding"]
]


def make_column(kind: str, n: int, rng: np.random.Generator) -> pd.Series:
    if kind == "float_nan":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.2] = np.nan
        return pd.Series(values)
    if kind == "int":
        return pd.Series(rng.integers(-3, 50, n))
    if kind == "bool":
        return pd.Series(rng.random(n) < 0.5)
    if kind == "category":
        return pd.Series(pd.Categorical(rng.choice(["lo", "mid", "hi"], n)))
    if kind == "text":
        return pd.Series(rng.choice(["red", "green", "blue", None], n), dtype=object)
    if kind == "high_card":
        return pd.Series([f"name{i}" for i in rng.integers(0, max(2, n // 2), n)], dtype=object)
    if kind == "iso_text":
        stamps = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), "s")
        return pd.Series(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), dtype=object)
    if kind == "datetime":
        return pd.Series(pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"))
    if kind == "all_nan":
        return pd.Series(np.full(n, np.nan))
    return pd.Series(rng.integers(1, 4, n))  # numeric_coded: declared categorical


def make_table(kinds, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"{kind}_{i}": make_column(kind, n, rng) for i, kind in enumerate(kinds)})


def new_rows(X: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Rows to predict: unseen categories, a stray string in a numeric column, NaN."""
    rng = np.random.default_rng(seed + 1)
    new = X.sample(n=min(len(X), 15), random_state=seed, replace=False).reset_index(drop=True)
    for name in new.columns:
        col = new[name]
        if name.startswith(("text", "high_card")):
            new[name] = col.where(rng.random(len(col)) < 0.5, "never-seen")
        elif name.startswith(("float_nan", "int")):
            values = col.astype(object)
            values.iloc[0] = "n/a"  # a stray string in a numeric column
            new[name] = values
    return new


def target(task: str, n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed + 2)
    if task == "classification":
        return pd.Series(np.resize(["yes", "no", "maybe"], n)[rng.permutation(n)])
    return pd.Series(rng.normal(size=n))


def fit_predict(task, algorithm, encoding, X, y, seed):
    config = dict(
        space.defaults(task, include_optional=True)[list(space.ALGORITHMS[task]).index(algorithm)],
        encoding=encoding,
    )
    categorical = [c for c in X.columns if c.startswith("numeric_coded")]
    # An algorithm for small tables (the few-shot learner) is checked where it applies.
    if space.not_applicable(config, X, y, categorical, task=task) is not None:
        return None
    pipeline = space.build(config, categorical=categorical, task=task)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        pipeline.fit(X, y)
        predictions = pipeline.predict(new_rows(X, seed))
    assert len(predictions) == min(len(X), 15)
    if task == "regression":
        assert np.isfinite(predictions).all()
    else:
        assert set(predictions) <= set(y)
    return pipeline


@pytest.mark.parametrize(("task", "algorithm", "encoding"), ALL_CONFIGS)
def test_every_algorithm_fits_every_column_kind(task, algorithm, encoding):
    X = make_table(COLUMN_KINDS, 60, seed=0)
    fit_predict(task, algorithm, encoding, X, target(task, 60, 0), 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=st.sampled_from(ALL_CONFIGS),
    kinds=st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=6),
    n=st.integers(30, 80),
    seed=st.integers(0, 2**16),
)
def test_random_raw_tables_fit_and_predict(config, kinds, n, seed):
    if all(kind == "all_nan" for kind in kinds):
        kinds = [*kinds, "float_nan"]
    task, algorithm, encoding = config
    fit_predict(task, algorithm, encoding, make_table(kinds, n, seed), target(task, n, seed), seed)


def test_timestamp_table_from_the_issue():
    """The reported failure: ISO timestamps reached the numeric imputer as strings."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"when": ["2012-01-01T06:16:41Z", "2012-01-02T07:00:00Z"] * 20, "x": rng.normal(size=40)}
    )
    y = pd.Series(rng.integers(0, 2, 40))
    for config in space.defaults("classification"):
        space.build(config).fit(X, y).predict(X)


@settings(max_examples=30, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_typer_agrees_with_load_dataset(kinds, seed):
    X = make_table([*kinds, "float_nan"], 40, seed)
    declared = [c for c in X.columns if c.startswith("numeric_coded")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = autometa.load_dataset((X, target("classification", 40, seed)))
    typer = ColumnTyper(categorical=declared).fit(X)
    kept = list(dataset.X.columns)
    expected = set(dataset.categorical) | set(declared)
    assert {c for c in kept if typer.kinds_[c] == "categorical"} == expected & set(kept)
    typed = typer.transform(X)
    for column in kept:
        if column not in expected:  # numeric in both: the same values
            np.testing.assert_allclose(
                typed[column].to_numpy(float), dataset.X[column].to_numpy(float), equal_nan=True
            )


def test_pipeline_bounds_blas_threads(monkeypatch):
    seen = []
    import autometa._pipeline as module

    real = module.threadpool_limits

    def spy(limits=None, user_api=None):
        seen.append((limits, user_api))
        return real(limits=limits, user_api=user_api)

    monkeypatch.setattr(module, "threadpool_limits", spy)
    X = make_table(("float_nan", "text"), 40, 0)
    pipeline = space.build(space.defaults("classification")[0])
    assert isinstance(pipeline, BoundedPipeline) and pipeline.get_params()["blas_threads"] == 1
    pipeline.fit(X, target("classification", 40, 0)).predict(X)
    assert seen and all(s == (1, "blas") for s in seen)


def test_typer_refuses_a_table_without_its_columns():
    X = make_table(("float_nan", "text"), 30, 0)
    typer = ColumnTyper().fit(X)
    with pytest.raises(autometa.errors.DataValidationError, match="float_nan_0"):
        typer.transform(X.drop(columns="float_nan_0"))
