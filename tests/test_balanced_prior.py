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


# ---- where the decision is used -------------------------------------------------------


def _imbalanced_dataset(n=900):
    import autometa

    X, y = _imbalanced(n, seed=3)
    return autometa.load_dataset((pd.DataFrame(X, columns=["a", "b", "c"]), pd.Series(y)))


def test_evaluate_builds_for_the_metric_it_is_told_and_plain_by_default():
    from autometa.evaluate import evaluate

    dataset = _imbalanced_dataset()
    config = {"task": "classification", "algorithm": "logistic_regression", "params": {}}
    kw = {"cv": 3, "metrics": ["accuracy", "balanced_accuracy", "roc_auc"], "isolate": False}
    plain = evaluate(config, dataset, **kw)
    built = evaluate(config, dataset, built_for="balanced_accuracy", **kw)
    # the plain model predicts the majority class more often: higher accuracy ...
    assert plain.mean("accuracy") > built.mean("accuracy") + 0.05
    # ... but balanced accuracy is scored on the decision either way
    assert built.mean("balanced_accuracy") == pytest.approx(plain.mean("balanced_accuracy"))
    # binary ROC AUC ranks by one class's probability: the prior shift leaves it alone
    assert built.mean("roc_auc") == pytest.approx(plain.mean("roc_auc"))


@pytest.mark.parametrize(
    ("algorithm", "params", "decision"),
    [
        ("random_forest", {}, "prior removed"),
        ("logistic_regression", {"class_weight": "balanced"}, "predict"),
        ("linear_svm", {}, "predict"),
    ],
)
def test_evaluate_scores_balanced_accuracy_on_the_balanced_decision(algorithm, params, decision):
    """What the knowledge base records: balanced accuracy of the plain model's probabilities
    with the training prior removed (fold by fold, computed here by hand); a class-weighted
    model and one without probabilities as they predict. Accuracy stays the plain one."""
    from autometa.evaluate import evaluate, make_splits

    dataset = _imbalanced_dataset()
    config = {"task": "classification", "algorithm": algorithm, "params": params}
    result = evaluate(config, dataset, cv=3, isolate=False)
    model = space.build(config, task="classification", random_state=0)
    X, y = dataset.X, np.asarray(dataset.y)
    for fold, (train, test) in zip(result.folds, make_splits(dataset, 3, 0), strict=True):
        fitted = clone(model).fit(X.iloc[train], y[train])
        predicted = fitted.predict(X.iloc[test])
        if decision == "prior removed":
            prior = np.bincount(y[train]) / len(train)
            predicted_ba = fitted.classes_[
                np.argmax(fitted.predict_proba(X.iloc[test]) / prior, axis=1)
            ]
        else:
            predicted_ba = predicted
        assert fold["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y[test], predicted_ba)
        )
        assert fold["accuracy"] == pytest.approx(np.mean(predicted == y[test]))
    if decision == "prior removed":  # the case that matters: the two decisions differ
        plain_ba = [
            balanced_accuracy_score(
                y[test], clone(model).fit(X.iloc[train], y[train]).predict(X.iloc[test])
            )
            for train, test in make_splits(dataset, 3, 0)
        ]
        assert result.mean("balanced_accuracy") > np.mean(plain_ba) + 0.02


def test_pipeline_from_trial_is_built_for_the_trials_metric():
    from types import SimpleNamespace

    from autometa import pipeline_from_trial

    config = {"task": "classification", "algorithm": "random_forest", "params": {}}

    def final(metric):
        attrs = {"config": config} if metric is None else {"config": config, "metric": metric}
        return pipeline_from_trial(SimpleNamespace(user_attrs=attrs, params={})).steps[-1][1]

    assert isinstance(final("balanced_accuracy"), BalancedPriorClassifier)
    assert not isinstance(final("accuracy"), BalancedPriorClassifier)
    assert not isinstance(final(None), BalancedPriorClassifier)  # studies before the change


def test_auto_classifier_and_recommendations_build_for_their_metric():
    import dataclasses

    import autometa
    from autometa._testing import space_kb

    dataset = _imbalanced_dataset(300)
    kb = space_kb()
    recs = autometa.recommend(dataset, k=1, kb=kb, use_cache=False)
    assert recs.metric == "balanced_accuracy"
    assert isinstance(recs[0].make_pipeline().steps[-1][1], BalancedPriorClassifier)
    for_accuracy = dataclasses.replace(recs[0], metric="accuracy")
    assert not isinstance(for_accuracy.make_pipeline().steps[-1][1], BalancedPriorClassifier)
    auto = autometa.AutoClassifier(kb=kb).fit(dataset.X, dataset.y)
    assert isinstance(auto.model_.steps[-1][1], BalancedPriorClassifier)


def test_tune_evaluates_its_trials_built_for_the_metric(monkeypatch, tmp_path):
    import autometa
    import autometa.evaluate as evaluate_module

    seen = []
    real = evaluate_module.evaluate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("built_for"))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate", spy)
    study = autometa.tune(
        _imbalanced_dataset(200), n_trials=1, n_warm_start=0, cv=2, random_state=0
    )
    assert seen == ["balanced_accuracy"]
    assert study.best_trial.user_attrs["metric"] == "balanced_accuracy"


def test_a_metric_autometa_does_not_know_builds_the_plain_estimator():
    import dataclasses

    import autometa
    from autometa._testing import space_kb

    recs = autometa.recommend(_imbalanced_dataset(300), k=1, kb=space_kb(), use_cache=False)
    custom = dataclasses.replace(recs[0], metric="my_f1")  # a from_frames KB's own metric
    assert not isinstance(custom.make_pipeline().steps[-1][1], BalancedPriorClassifier)
