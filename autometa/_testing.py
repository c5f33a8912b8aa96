"""Misbehaving estimators for testing the evaluator's isolation (not part of the public API)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier


class SleepingClassifier(ClassifierMixin, BaseEstimator):
    """Sleeps ``seconds`` in ``fit``: stands in for a configuration that hangs."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.model_ = DummyClassifier().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


class CrashingClassifier(ClassifierMixin, BaseEstimator):
    """Raises in ``fit``: stands in for a configuration that is broken on some data."""

    def __init__(self, message: str = "boom") -> None:
        self.message = message

    def fit(self, X, y):
        raise RuntimeError(self.message)


class MemoryHogClassifier(ClassifierMixin, BaseEstimator):
    """Allocates ``megabytes`` in ``fit``: stands in for a configuration that eats memory."""

    def __init__(self, megabytes: int = 8192) -> None:
        self.megabytes = megabytes

    def fit(self, X, y):
        self.buffer_ = np.ones(self.megabytes * 2**20 // 8)
        self.classes_ = np.unique(y)
        return self


class AbortingClassifier(ClassifierMixin, BaseEstimator):
    """Kills its own process in ``fit``: stands in for a segfault in compiled code."""

    def fit(self, X, y):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)


def write_toy_suite(folder, n_datasets: int = 2, n_rows: int = 80):
    """Small mixed-type tables as CSV files (``toy_{i}.csv``, target column ``target``):
    even ``i`` classification (text labels, a categorical and a holed numeric column), odd
    ``i`` regression. For tests and the fault-injection benchmark of the batch runner."""
    from pathlib import Path

    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n_datasets):
        X = pd.DataFrame(
            {
                "a": rng.normal(size=n_rows),
                "b": rng.normal(size=n_rows),
                "colour": rng.choice(["red", "green", "blue"], size=n_rows),
            }
        )
        X.loc[::9, "a"] = np.nan
        if i % 2 == 0:
            target = (X["b"] + (X["colour"] == "red") > 0.3).map({True: "yes", False: "no"})
        else:
            target = 2.0 * X["b"] + rng.normal(scale=0.1, size=n_rows)
        X.assign(target=target).to_csv(folder / f"toy_{i}.csv", index=False)
    return folder


def breast_cancer_sample(n_features: int):
    """120 rows of scikit-learn's breast-cancer table (60 per class, shuffled) with its first
    ``n_features`` features and ``target``: 60 rows per fold with cv=2, more than any k-NN
    configuration's neighbours. For the tuning tests."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame
    cols = list(df.columns[:n_features]) + ["target"]
    parts = [g.sample(60, random_state=0) for _, g in df.groupby("target")]
    return pd.concat(parts).sample(frac=1.0, random_state=0)[cols].reset_index(drop=True)
