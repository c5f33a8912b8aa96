"""Meta-models follow scikit-learn's conventions: parameters from the constructor's
signature (the cache key cannot miss one), clone, a not-fitted guard, one query at a time."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from autometa._testing import synthetic_kb
from autometa.errors import InvalidParameterError
from autometa.metamodel import MODELS, KNNModel, get_model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_get_params_is_the_constructor_signature_and_clone_works(name):
    model = get_model(name)
    names = [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]
    assert sorted(model.get_params()) == sorted(names)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin is not model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_an_unfitted_model_says_so(name):
    with pytest.raises(NotFittedError):
        get_model(name).rank(pd.Series({"a": 1.0}))


@pytest.fixture(scope="module")
def kb():
    return synthetic_kb(n_datasets=30, seed=2)


def test_several_rows_are_refused_with_a_clear_error(kb):
    model = KNNModel().fit(kb, "classification", "balanced_accuracy")
    frame = kb.metafeatures("classification")
    with pytest.raises(InvalidParameterError, match="got a DataFrame of 30 rows"):
        model.select(frame, 3)
    with pytest.raises(InvalidParameterError, match="call once per row"):
        model.rank(frame)
    assert model.select(frame.iloc[[0]], 3) == model.select(frame.iloc[0], 3)


def test_knn_n_neighbors_decides_which_datasets_select_visits(kb):
    query = kb.metafeatures("classification").iloc[0]
    one = KNNModel(n_neighbors=1).fit(kb, "classification", "balanced_accuracy")
    many = KNNModel(n_neighbors=30).fit(kb, "classification", "balanced_accuracy")
    nearest = one.neighbours(query, 1)[0][0]
    best_of_nearest = list(
        pd.Series(one.U_[nearest]).sort_values(ascending=False, kind="stable").index[:3]
    )
    assert one.select(query, 3) == best_of_nearest  # the nearest dataset's three best
    assert many.select(query, 3) != one.select(query, 3)  # the three nearest datasets' best
