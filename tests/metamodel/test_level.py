"""The score level (the query's likely best and median score, in the metric's units) that
turns normalised predictions into ``predicted_score``: learnt by a forest, saved as JSON,
and the nearest-neighbour level for states saved before it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autometa._testing import synthetic_kb
from autometa.metamodel import DefaultModel, get_model
from autometa.metamodel._level import ScoreLevel, in_metric_units, nearest_level


def _levels(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column 0 sets how predictable a dataset is; ten wide noise columns say nothing."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(0, 1, n), rng.normal(0, 5, (n, 10))])
    best = 0.2 + 0.7 * X[:, 0]
    return X, best, best - 0.1


def test_the_forest_finds_the_meta_feature_that_sets_the_level():
    X, best, median = _levels(300, seed=0)
    Q, q_best, _ = _levels(100, seed=1)
    level = ScoreLevel.fit(X, best, median, random_state=0)
    forest = np.array([level.predict(q)[0] for q in Q])
    nearest = np.array([nearest_level(X, best, median, q)[0] for q in Q])
    # the L1 neighbours are decided by the noise columns: the diabetes failure
    assert np.abs(forest - q_best).mean() < 0.5 * np.abs(nearest - q_best).mean()
    b, m, spread = level.predict(Q[0])
    assert b - m == pytest.approx(0.1) and spread >= 0


def test_in_metric_units_maps_one_to_the_best_and_zero_to_the_median():
    raw, std = in_metric_units((0.9, 0.7, 0.03), np.array([1.0, 0.0, 0.5]), np.full(3, 0.5))
    assert np.allclose(raw, [0.9, 0.7, 0.8])
    assert np.allclose(std, np.hypot(0.5 * 0.2, 0.03))


def test_the_level_travels_in_the_json_state():
    kb = synthetic_kb(n_datasets=40, seed=5, task="regression")
    model = get_model("sbs").fit(kb, "regression", "r2")
    state = json.loads(json.dumps(model.get_state()))
    back = get_model("sbs").set_state(state)
    query = kb.metafeatures("regression").iloc[3]
    scores, std = model.rank(query)
    assert np.allclose(back.to_raw(scores, std, query), model.to_raw(scores, std, query))


def test_a_state_saved_without_a_level_uses_the_nearest_datasets():
    kb = synthetic_kb(n_datasets=40, seed=5)
    model = DefaultModel(n_estimators=30, tune=False).fit(kb, "classification", "balanced_accuracy")
    state = model.get_state()
    del state["level"]  # as saved before the level forest (state version 9)
    old = DefaultModel().set_state(state)
    old.calibration_ = {}
    query = kb.metafeatures("classification").iloc[0]
    scores, std = old.rank(query)
    x, _ = old._query(query)
    expected = in_metric_units(
        nearest_level(old.X_, old.best_raw_, old.median_raw_, x), scores, std
    )
    assert old.level_ is None
    assert np.allclose(old.to_raw(scores, std, query), expected)
    model.calibration_ = {}
    assert not np.allclose(model.to_raw(scores, std, query), expected)  # the forest's level
