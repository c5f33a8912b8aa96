"""Wide tables: the column sample (``max_columns``), the time budget inside groups, and
duplicate column names.  No timing assertions (the 50 x 20,000 target is measured by
``benchmarks/metafeatures_wide.py``)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import metafeatures as mf
from metafeatures._extract import COLUMN_SAMPLED
from metafeatures._prepare import BudgetExceeded, Prepared, prepare

rng = np.random.default_rng(0)


def _wide(n: int, p: int, n_cat: int = 0, levels: int = 4, seed: int = 0) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    X = pd.DataFrame(r.normal(size=(n, p)), columns=[f"x{j}" for j in range(p)])
    for j in range(n_cat):
        X[f"c{j}"] = r.choice([f"l{i}" for i in range(levels)], n)
    return X


def test_wide_table_is_column_sampled_and_flagged() -> None:
    X = _wide(40, 120, n_cat=3)
    y = np.arange(40) % 2
    s, info = mf.extract(X, y, groups="all", max_columns=30, return_info=True)
    assert info["sampled_columns"] is True
    assert info["max_columns"] == 30
    assert info["n_features"] == 123
    assert 1 <= info["n_columns_sampled"] <= 30
    # counts are exact, computed on the full table
    assert s["general.n_features"] == 123
    assert s["general.n_numeric"] == 120 and s["general.n_categorical"] == 3
    assert s["complexity.t2"] == pytest.approx(123 / 40)
    # the flagged names are exactly the outputs of the column-sampled meta-features
    flagged = set(info["column_sampled"])
    assert flagged <= set(s.index)
    assert {"landmarking.one_nn.mean", "statistical.cor.mean", "model_based.nodes"} <= flagged
    assert not flagged & {
        "general.n_features",
        "statistical.mean.mean",
        "info_theory.attr_ent.mean",
    }
    # the design matrix has at most max_columns columns
    nodes, per_attr = s["model_based.nodes"], s["model_based.nodes_per_attr"]
    if nodes > 0:
        assert nodes / per_attr <= 30


def test_wide_result_has_the_same_keys_as_a_narrow_one() -> None:
    y = np.arange(30) % 3
    narrow, info_n = mf.extract(_wide(30, 5), y, groups="all", return_info=True)
    wide, info_w = mf.extract(_wide(30, 1200), y, groups="all", return_info=True)  # default cap
    assert list(wide.index) == list(narrow.index) == mf.output_names("all")
    assert not info_n["sampled_columns"] and info_n["column_sampled"] == []
    assert info_w["sampled_columns"] and info_w["n_columns_sampled"] == 1000
    assert not np.isinf(wide.to_numpy()).any()
    assert set(wide.index[wide.isna()]) == set(info_w["nan_reasons"])


def test_no_sampling_at_or_below_max_columns() -> None:
    X = _wide(30, 20)
    y = np.arange(30) % 2
    a, info = mf.extract(X, y, groups="all", max_columns=20, return_info=True)
    b = mf.extract(X, y, groups="all")
    assert not info["sampled_columns"] and info["n_columns_sampled"] == 20
    pd.testing.assert_series_equal(a, b)


def test_column_sample_is_seeded() -> None:
    X = _wide(30, 80)
    y = np.arange(30) % 2
    a = mf.extract(X, y, groups="statistical", max_columns=10, random_state=1)
    b = mf.extract(X, y, groups="statistical", max_columns=10, random_state=1)
    c = mf.extract(X, y, groups="statistical", max_columns=10, random_state=2)
    pd.testing.assert_series_equal(a, b)
    assert a["statistical.cor.mean"] != c["statistical.cor.mean"]
    # per-feature statistics use every column whatever the sample
    assert a["statistical.mean.mean"] == c["statistical.mean.mean"]


def test_categorical_one_hot_width_counts_against_max_columns() -> None:
    X = _wide(60, 0, n_cat=10, levels=8)  # each feature is 8 design-matrix columns
    prep = prepare(X, np.arange(60) % 2, max_columns=20)
    assert prep.col_idx.size == 2  # 16 columns fit, a third feature would make 24
    assert prep.Z.shape[1] == 16
    # a single feature wider than max_columns is still used (the sample is never empty)
    prep = prepare(X, np.arange(60) % 2, max_columns=4)
    assert prep.col_idx.size == 1 and prep.Z.shape[1] == 8


def test_sample_without_numeric_features_explains_the_nans() -> None:
    X = _wide(40, 3, n_cat=30, levels=5)
    y = np.arange(40) % 2
    # a seed whose column sample (one categorical feature) has no numeric feature
    seed = next(
        r for r in range(50) if prepare(X, y, max_columns=2, random_state=r).num_idx.size == 0
    )
    s, info = mf.extract(
        X, y, groups="statistical", max_columns=2, random_state=seed, return_info=True
    )
    assert "column sample" in info["nan_reasons"]["statistical.cor.mean"]
    assert np.isfinite(s["statistical.mean.mean"])  # per-feature measures use every column
    assert set(s.index[s.isna()]) == set(info["nan_reasons"])


def test_list_metafeatures_flags_column_sampled() -> None:
    df = mf.list_metafeatures().set_index("name")
    assert df.loc["statistical.cor", "column_sampled"]
    assert df.loc["landmarking.one_nn", "column_sampled"]
    assert not df.loc["statistical.mean", "column_sampled"]
    assert not df.loc["general.n_features", "column_sampled"]
    assert not df.loc["complexity.t2", "column_sampled"]
    assert set(df.index[df.column_sampled]) == set(COLUMN_SAMPLED)


@pytest.mark.parametrize("bad", [1, 0, -5, 2.5, True, "10"])
def test_bad_max_columns(bad) -> None:
    with pytest.raises(mf.InvalidParameterError, match="max_columns"):
        mf.extract(_wide(20, 3), np.arange(20) % 2, max_columns=bad)


# ------------------------------------------------------------------- time budget
def test_check_time_raises_only_after_the_deadline() -> None:
    prep = prepare(_wide(20, 3), np.arange(20) % 2)
    prep.check_time()  # no budget: never raises
    prep.deadline = float("inf")
    prep.check_time()
    prep.deadline = 0.0  # long past
    with pytest.raises(BudgetExceeded):
        prep.check_time()


def test_group_stopped_by_the_deadline_keeps_the_others(monkeypatch) -> None:
    """A group that reaches the deadline mid-way stops at its next check: its missing
    values are NaN with a reason, the groups before it keep theirs (deterministic: the
    deadline is made to pass inside landmarking only)."""
    real = Prepared.check_time

    def check_time(self: Prepared) -> None:
        if sys._getframe(1).f_globals.get("__name__") == "metafeatures.landmarking":
            raise BudgetExceeded
        real(self)

    monkeypatch.setattr(Prepared, "check_time", check_time)
    X = _wide(60, 6)
    y = np.arange(60) % 2
    s, info = mf.extract(X, y, groups="default", time_budget=1e6, return_info=True)
    assert "landmarking" in info["skipped_groups"]
    why = info["nan_reasons"]["landmarking.one_nn.mean"]
    assert why.startswith("skipped: time_budget") and "during group landmarking" in why
    assert s.filter(like="landmarking.").isna().all()
    assert s[["statistical.cor.mean", "model_based.nodes"]].notna().all()
    assert set(s.index[s.isna()]) == set(info["nan_reasons"])


# ------------------------------------------------------------- duplicate columns
def test_duplicate_column_names_raise_a_named_error() -> None:
    X = pd.DataFrame(rng.normal(size=(10, 3)), columns=["a", "b", "a"])
    with pytest.raises(mf.DuplicateColumnError, match=r"duplicate column names \['a'\]") as e:
        mf.extract(X, np.arange(10) % 2)
    assert isinstance(e.value, ValueError) and isinstance(e.value, mf.MetafeatureError)


def test_column_names_equal_as_strings_raise() -> None:
    X = pd.DataFrame(rng.normal(size=(10, 2)), columns=[1, "1"])
    with pytest.raises(mf.DuplicateColumnError, match="equal as strings"):
        mf.extract(X)
