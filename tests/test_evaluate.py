"""The evaluator: metrics per fold, the dataset's own splits, and isolation of bad configs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import autometa
from autometa import space
from autometa._testing import (
    AbortingClassifier,
    CrashingClassifier,
    MemoryHogClassifier,
    SleepingClassifier,
)
from autometa.evaluate import evaluate, make_splits


@pytest.fixture(scope="module")
def cancer():
    frame = load_breast_cancer(as_frame=True).frame.sample(200, random_state=0)
    return autometa.load_dataset(frame, target="target", name="cancer")


@pytest.fixture(scope="module")
def diabetes():
    frame = load_diabetes(as_frame=True).frame.sample(150, random_state=0)
    return autometa.load_dataset(frame, target="target", name="diabetes", task="regression")


def test_classification_records_every_metric_per_fold(cancer):
    config = space.defaults("classification")[0]  # logistic regression
    result = evaluate(config, cancer, cv=3)
    assert result.status == "ok" and len(result.folds) == 3
    for fold in result.folds:
        assert fold["status"] == "ok" and fold["fit_time"] > 0
        assert 0.85 < fold["accuracy"] <= 1.0
        assert 0.85 < fold["balanced_accuracy"] <= 1.0
        assert 0.9 < fold["roc_auc"] <= 1.0
        assert 0 < fold["log_loss"] < 0.5
    assert result.mean("accuracy") == pytest.approx(np.mean([f["accuracy"] for f in result.folds]))


def test_models_without_probabilities_still_get_roc_auc(cancer):
    linear_svm = next(c for c in space.defaults("classification") if c["algorithm"] == "linear_svm")
    fold = evaluate(linear_svm, cancer, cv=3).folds[0]
    assert fold["roc_auc"] > 0.9 and np.isnan(fold["log_loss"])


def test_regression_metrics(diabetes):
    ridge = space.defaults("regression")[0]
    result = evaluate(ridge, diabetes, cv=3)
    assert result.status == "ok"
    fold = result.folds[0]
    assert 0.2 < fold["r2"] < 0.8
    assert fold["rmse"] >= fold["mae"] > 0


def test_own_splits_are_used(cancer):
    n = len(cancer.y)
    splits = [
        (np.arange(0, n // 2), np.arange(n // 2, n)),
        (np.arange(n // 2, n), np.arange(0, n // 2)),
    ]
    with_splits = autometa.load_dataset((cancer.X, cancer.y), name="s")
    with_splits.splits = splits
    assert [len(te) for _, te in make_splits(with_splits, 5, 0)] == [n - n // 2, n // 2]
    assert len(evaluate(space.defaults("classification")[0], with_splits).folds) == 2


def test_folds_shrink_when_a_class_is_rare():
    X = pd.DataFrame({"a": np.arange(20.0)})
    y = pd.Series(["x"] * 17 + ["y"] * 3)
    data = autometa.load_dataset((X, y), name="rare")
    assert len(make_splits(data, 5, 0)) == 3


def test_a_hanging_config_times_out_and_keeps_nothing_running(cancer):
    result = evaluate(None, cancer, cv=2, time_limit=1.0, estimator=SleepingClassifier(30))
    assert result.status == "timeout"
    assert [f["status"] for f in result.folds] == ["timeout", "timeout"]
    assert "time limit of 1 s" in result.error


def test_a_crashing_config_is_recorded_with_its_message(cancer):
    result = evaluate(None, cancer, cv=2, estimator=CrashingClassifier("bad luck"))
    assert result.status == "error"
    assert "RuntimeError: bad luck" in result.error
    assert np.isnan(result.mean("accuracy"))


def test_a_config_that_eats_memory_is_stopped(cancer):
    result = evaluate(None, cancer, cv=2, memory_limit_mb=256, estimator=MemoryHogClassifier(2048))
    assert result.status == "memory"


def test_a_worker_that_dies_is_recorded(cancer):
    result = evaluate(None, cancer, cv=2, estimator=AbortingClassifier())
    assert result.status == "error"
    assert "died" in result.error


def test_a_class_missing_from_a_training_fold_keeps_the_fold_ok():
    """A decision-function model never saw one class in a training fold: that class ranks
    below the others for ROC AUC (an infinite score there used to fail the whole fold)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    frame["y"] = np.where(frame["a"] > 0, "up", "down")
    frame.loc[0, "y"] = "rare"  # one row: in one test fold, in no training fold of it
    data = autometa.load_dataset(frame, target="y", name="rare")
    for algorithm in ("linear_svm", "rbf_svm"):
        config = next(c for c in space.defaults("classification") if c["algorithm"] == algorithm)
        result = evaluate(config, data, cv=3)
        assert result.status == "ok", result.error
        assert all(np.isfinite(f["roc_auc"]) for f in result.folds)
