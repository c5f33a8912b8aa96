"""Synthetic knowledge bases with a known structure, for meta-model tests.

Performance depends on the meta-features through the algorithm family: family "lin" is
best when ``signal`` is high, "tree" when it is low, "knn" on small datasets; each family
has variants of differing quality, and a little noise. A meta-model that reads the
meta-features can beat the single best config; one that does not, cannot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autometa.kb import KnowledgeBase


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
