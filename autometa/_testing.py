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
