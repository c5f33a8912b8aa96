"""The balanced-accuracy decision (:mod:`autometa._balanced`) and where it is used."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from autometa import space
from autometa._balanced import BalancedPriorClassifier, training_prior


def _imbalanced(n=600, seed=0):
    """Two overlapping Gaussian classes, 9 to 1: argmax rarely predicts the rare one."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    X = rng.normal(size=(n, 3)) + y[:, None] * 0.9
    return X, y


@parametrize_with_checks([BalancedPriorClassifier(LogisticRegression())])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_prior_is_the_training_share_and_uniform_for_class_weighted_models():
    X, y = _imbalanced()
    plain = BalancedPriorClassifier(LogisticRegression()).fit(X, y)
    np.testing.assert_allclose(plain.class_prior_, np.bincount(y) / len(y))
    weighted = BalancedPriorClassifier(LogisticRegression(class_weight="balanced")).fit(X, y)
    np.testing.assert_allclose(weighted.class_prior_, [0.5, 0.5])
    inner = LogisticRegression(class_weight="balanced").fit(X, y)
    # a class-weighted model is left as it is
    np.testing.assert_allclose(weighted.predict_proba(X), inner.predict_proba(X))
    np.testing.assert_array_equal(weighted.predict(X), inner.predict(X))


def test_sample_weight_enters_the_prior():
    X, y = _imbalanced()
    w = np.where(y == 1, 9.0, 1.0)
    model = BalancedPriorClassifier(LogisticRegression()).fit(X, y, sample_weight=w)
    share = np.array([(y == 0).sum(), 9.0 * (y == 1).sum()])
    np.testing.assert_allclose(model.class_prior_, share / share.sum())


def test_the_decision_raises_balanced_accuracy_on_imbalanced_classes():
    X, y = _imbalanced(4000)
    Xt, yt = _imbalanced(4000, seed=1)
    plain = LogisticRegression().fit(X, y)
    balanced = BalancedPriorClassifier(LogisticRegression()).fit(X, y)
    assert balanced_accuracy_score(yt, balanced.predict(Xt)) > (
        balanced_accuracy_score(yt, plain.predict(Xt)) + 0.1
    )
    proba = balanced.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(balanced.predict(Xt), proba.argmax(axis=1))


def test_string_labels_and_models_without_probabilities():
    X, y = _imbalanced()
    labels = np.array(["common", "rare"])[y]
    model = BalancedPriorClassifier(LogisticRegression()).fit(X, labels)
    assert set(model.predict(X)) <= {"common", "rare"}
    svm = BalancedPriorClassifier(LinearSVC()).fit(X, labels)
    assert not hasattr(svm, "predict_proba")
    np.testing.assert_array_equal(svm.predict(X), clone(LinearSVC()).fit(X, labels).predict(X))


@pytest.mark.parametrize("algorithm", ["random_forest", "xgboost", "logistic_regression"])
def test_build_wraps_the_classifier_only_for_balanced_accuracy(algorithm):
    config = {"task": "classification", "algorithm": algorithm, "params": {}}
    plain = space.build(config)
    assert not isinstance(plain.steps[-1][1], BalancedPriorClassifier)
    assert not isinstance(
        space.build(config, metric="accuracy").steps[-1][1], BalancedPriorClassifier
    )
    pipe = space.build(config, metric="balanced_accuracy")
    assert isinstance(pipe.steps[-1][1], BalancedPriorClassifier)
    X, y = _imbalanced(300)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    pipe.fit(frame, np.array(["no", "yes"])[y])
    assert list(pipe.classes_) == ["no", "yes"]
    assert pipe.predict_proba(frame).shape == (300, 2)


def test_build_for_a_regression_metric_is_unchanged():
    config = {"task": "regression", "algorithm": "ridge", "params": {}}
    model = space.build(config, metric="r2").steps[-1][1]
    assert type(model).__name__ == "TransformedTargetRegressor"


def test_training_prior_counts_only_the_classes_of_the_estimator():
    X, y = _imbalanced()
    model = LogisticRegression().fit(X, y)
    assert training_prior(model, y).shape == (2,)
