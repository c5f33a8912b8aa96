"""Helpers for autometa's own tests (not part of the public API).

* Misbehaving estimators for testing the evaluator's isolation.
* Synthetic knowledge bases with a known structure, for meta-model tests: performance
  depends on the meta-features through the algorithm family (family "lin" is best when
  ``signal`` is high, "tree" when it is low, "knn" on small datasets; each family has
  variants of differing quality, and a little noise). A meta-model that reads the
  meta-features can beat the single best config; one that does not, cannot.

Kept in the package (as ``optuna.testing`` is) so that tests import them by name instead
of through pytest's path insertion.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

from autometa.kb import KnowledgeBase


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


# --------------------------------------------------------------------------------------
# synthetic knowledge bases
# --------------------------------------------------------------------------------------


def synthetic_frames(
    n_datasets: int = 60, n_variants: int = 4, seed: int = 0, task: str = "classification"
):
    rng = np.random.default_rng(seed)
    names = [f"ds{i:03d}" for i in range(n_datasets)]
    rows = np.exp(rng.uniform(np.log(50), np.log(50_000), n_datasets)).round()
    feats = np.exp(rng.uniform(np.log(2), np.log(500), n_datasets)).round()
    signal = rng.uniform(-1, 1, n_datasets)
    mf = pd.DataFrame(
        {
            "general.n_instances": rows,
            "general.n_features": feats,
            "general.n_classes": rng.integers(2, 10, n_datasets).astype(float)
            if task == "classification"
            else np.nan,
            "general.pct_numeric": rng.uniform(0, 100, n_datasets),
            "stat.signal": signal,
            "stat.noise1": rng.normal(size=n_datasets),
            "stat.noise2": rng.normal(size=n_datasets),
        },
        index=names,
    )
    mf.loc[names[::7], "stat.noise1"] = np.nan  # missing meta-features are normal
    base = rng.uniform(0.6, 0.8, n_datasets)
    perf = {}
    small = (np.log(rows) < np.log(500)).astype(float)
    for family, effect in (
        ("lin", 0.15 * signal),
        ("tree", -0.15 * signal),
        ("knn", 0.2 * small - 0.05),
    ):
        for v in range(n_variants):
            quality = -0.03 * v
            perf[f"{family}_{v}"] = base + effect + quality + rng.normal(0, 0.01, n_datasets)
    perf = pd.DataFrame(perf, index=names).clip(0, 1)
    perf.iloc[3, 2] = np.nan  # one failure
    return mf, perf


def synthetic_kb(
    n_datasets: int = 60, n_variants: int = 4, seed: int = 0, task: str = "classification"
) -> KnowledgeBase:
    mf, perf = synthetic_frames(n_datasets, n_variants, seed, task)
    metric = "balanced_accuracy" if task == "classification" else "r2"
    ft = perf * 0 + np.outer(mf["general.n_instances"] / 1000, np.ones(perf.shape[1]))
    return KnowledgeBase.from_frames(mf, perf, task=task, metric=metric, fit_times=ft)


def space_kb(
    n_datasets: int = 30,
    seed: int = 1,
    fit_time: float = 0.1,
    fast: tuple[str, ...] = (),
    fast_time: float = 0.01,
) -> KnowledgeBase:
    """A classification KB whose configs are the search space's algorithm defaults (so
    recommendations build real pipelines), with random scores; ``fast`` algorithms take
    ``fast_time`` seconds to fit, the others ``fit_time``."""
    from autometa import space

    mf, _ = synthetic_frames(n_datasets=n_datasets, seed=seed)
    configs = space.defaults("classification")
    ids = [space.config_id(c) for c in configs]
    rng = np.random.default_rng(seed)
    perf = pd.DataFrame(rng.uniform(0.6, 0.9, (len(mf), len(ids))), index=mf.index, columns=ids)
    times = pd.DataFrame(fit_time, index=mf.index, columns=ids)
    times[[i for i, c in zip(ids, configs) if c["algorithm"] in fast]] = fast_time
    return KnowledgeBase.from_frames(
        mf,
        perf,
        task="classification",
        metric="balanced_accuracy",
        configs=dict(zip(ids, configs)),
        fit_times=times,
    )
