"""The matrices a meta-model learns from, and the score scale they share.

The normalised score of config ``c`` on dataset ``d`` puts every dataset on one scale:
1 for the best config of the portfolio on ``d`` and 0 for the portfolio's median there
(``(s - median) / (best - median)``, the TabRepo convention), so that an easy dataset
where everything scores 0.99 and a hard one where the best scores 0.6 weigh the same
(:func:`normalised_scores`). :class:`TrainingData` collects one task's and one metric's
scores, failures, meta-features and fit times from a knowledge base, aligned on datasets x
configs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autometa._constants import NOT_APPLICABLE
from autometa.errors import KnowledgeBaseError

__all__ = [
    "SIZE_FEATURES",
    "TRAINING_FIDELITIES",
    "TrainingData",
    "find_feature",
    "normalised_scores",
    "real_size_scores",
]

#: Which of a dataset's sizes a meta-model learns from (see :meth:`TrainingData.from_kb`).
TRAINING_FIDELITIES: tuple[str, ...] = ("base", "real_size")

# Names of the four "general" meta-features under the names the metafeatures package and
# OpenML use; used by the FLAML-style baseline, the fit-time model and novelty warnings.
SIZE_FEATURES: dict[str, tuple[str, ...]] = {
    "n_instances": ("general.n_instances", "NumberOfInstances", "n_instances", "nr_inst"),
    "n_features": ("general.n_features", "NumberOfFeatures", "n_features", "nr_attr"),
    "n_classes": ("general.n_classes", "NumberOfClasses", "n_classes", "nr_class"),
    "pct_numeric": ("general.pct_numeric", "PercentageOfNumericFeatures", "pct_numeric"),
}


def find_feature(columns: Sequence[str], kind: str) -> str | None:
    """The column of ``columns`` that holds the size feature ``kind`` (or None)."""
    for name in SIZE_FEATURES[kind]:
        if name in columns:
            return name
    return None


def normalised_scores(
    scores: np.ndarray,
    greater_is_better: bool,
    failed: np.ndarray | None = None,
    *,
    floor: float = 0.0,
) -> np.ndarray:
    """Per-dataset normalised scores: 1 = best config, 0 = median config, clipped to
    ``[floor, 1]``; failed cells get ``floor``, unknown cells stay NaN.

    Parameters
    ----------
    scores : ndarray of shape (n_datasets, n_configs)
        Raw metric values (NaN where failed or not run).
    greater_is_better : bool
        Direction of the metric.
    failed : ndarray of bool, optional
        Cells that were run and failed (otherwise NaN means "not run").
    floor : float
        Lower clip.

    Examples
    --------
    >>> normalised_scores(np.array([[0.5, 0.7, 0.9]]), True).round(2).tolist()
    [[0.0, 0.0, 1.0]]
    """
    s = np.asarray(scores, dtype=float)
    s = s if greater_is_better else -s
    with np.errstate(all="ignore"):
        ok = np.isfinite(s)
        best = np.where(ok.any(axis=1), np.nanmax(np.where(ok, s, -np.inf), axis=1), np.nan)
        med = np.full(s.shape[0], np.nan)
        for i in range(s.shape[0]):  # nanmedian warns on empty rows; loop is ~1e2 rows
            if ok[i].any():
                med[i] = np.median(s[i, ok[i]])
        span = best - med
        # Where half the portfolio ties with the best, any ok config is as good as the best.
        span = np.where(span > 1e-12 * np.maximum(1.0, np.abs(best)), span, np.nan)
        u = (s - med[:, None]) / span[:, None]
        u = np.where(
            np.isnan(span)[:, None] & ok, np.where(s >= best[:, None] - 1e-12, 1.0, 0.0), u
        )
        u = np.clip(u, floor, 1.0)
    u = np.where(ok, u, np.nan)
    if failed is not None:
        u = np.where(failed & ~ok, floor, u)
    return u


def real_size_scores(
    kb: Any,
    task: str,
    metric: str,
    base: pd.DataFrame,
    configs: dict[str, dict[str, Any]],
    size_model: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every dataset's scores at its largest evaluated size, aligned with ``base``.

    The knowledge base runs the whole portfolio at a base size and only the most promising
    configs again at the dataset's real size. A config with a real-size result keeps it; one
    without gets its base score plus its algorithm's expected gain from the base size to the
    real one (:mod:`autometa.metamodel._size`), so that the configs not rerun are neither
    dropped nor compared at a size that flatters or penalises them. A config that failed
    at the real size (an error or a timeout there) counts as failed, and one whose
    algorithm does not apply to that many rows (the few-shot learner on more than 1,000
    training rows) as not applicable there. Metrics without common units across datasets
    (:func:`autometa.metrics.is_bounded`) get no gain. ``size_model``: the knowledge base's
    size slopes if already fitted (:func:`autometa.metamodel._size.size_model`).

    Returns the scores (datasets x configs, NaN where unknown) and two bool matrices: the
    cells that failed at the real size and those that do not apply to it.
    """
    from autometa.metamodel._size import gains
    from autometa.metamodel._size import size_model as fit_size_model

    large = kb.performance(task, metric, fidelity="largest").reindex_like(base)
    results = kb.results(task, fidelity="largest")
    sizes = kb.rows_used(task).reindex(base.index).astype(float)
    n_large = sizes["largest"].to_numpy()
    rerun = n_large > sizes["base"].to_numpy()
    bad = results[~results["status"].isin(["ok", NOT_APPLICABLE])]
    failed_cells = pd.crosstab(bad["dataset"], bad["config_id"]).reindex_like(base) > 0
    failed = failed_cells.fillna(False).to_numpy(dtype=bool) & rerun[:, None]

    scores = base.to_numpy(dtype=float).copy()
    greater = kb.greater_is_better(metric)
    model = fit_size_model(kb, task, metric, configs) if size_model is None else size_model
    algorithms = [str(configs.get(str(c), {}).get("algorithm", c)) for c in base.columns]
    measured = large.to_numpy(dtype=float)
    info = kb.datasets(task)
    folds = pd.to_numeric(info.get("cv_folds", pd.Series(dtype=float)), errors="coerce")
    folds = folds.reindex(base.index)
    train_share = 1.0 - 1.0 / folds.fillna(3.0).clip(lower=2.0).to_numpy(dtype=float)
    inapplicable = np.zeros_like(failed)
    for i in np.flatnonzero(rerun):
        gain = gains(model, algorithms, n_large[i]) * (1.0 if greater else -1.0)
        scores[i] = np.where(np.isfinite(measured[i]), measured[i], scores[i] + gain)
        inapplicable[i] = _inapplicable(task, algorithms, n_large[i] * train_share[i])
    inapplicable &= ~np.isfinite(measured)
    scores[failed | inapplicable] = np.nan
    return scores, failed, inapplicable


def _inapplicable(task: str, algorithms: Sequence[str], train_rows: float) -> np.ndarray:
    """Which of ``algorithms`` do not apply to ``train_rows`` training rows (an algorithm
    the search space does not know here, e.g. an optional one, is taken to apply)."""
    from autometa.space import ALGORITHMS

    known = ALGORITHMS.get(task, {})
    return np.array(
        [a in known and not known[a].applies(int(train_rows)) for a in algorithms], dtype=bool
    )


@dataclass
class TrainingData:
    """The matrices a meta-model learns from, aligned on datasets x configs.

    Built once from a knowledge base (:meth:`from_kb`); the evaluation harness slices it
    with :meth:`subset` instead of copying knowledge bases.
    """

    task: str
    metric: str
    greater_is_better: bool
    datasets: list[str]
    config_ids: list[str]
    configs: dict[str, dict[str, Any]]
    scores: np.ndarray  # raw metric, (n_datasets, n_configs), NaN = failed or not run
    failed: np.ndarray  # bool, recorded but not ok
    metafeatures: pd.DataFrame  # (n_datasets, n_metafeatures), index = datasets
    fit_times: np.ndarray  # seconds, NaN unknown
    n_rows: np.ndarray  # float, NaN unknown
    n_features: np.ndarray
    kb_metafeature_columns: list[str] = field(default_factory=list)
    # standard error of each cell's mean over its folds (raw metric), NaN where unknown
    score_se: np.ndarray | None = None
    # bool, recorded as not applicable (not run: an algorithm for small tables on a larger
    # one); None where the knowledge base has no such cell
    not_applicable: np.ndarray | None = None
    # which of each dataset's sizes the scores are from (see from_kb)
    fidelity: str = "base"
    # raw scores at the base size where ``scores`` are from another fidelity (what probes,
    # run on a base-size sample of the user's data, compare with); None: ``scores``
    base_scores: np.ndarray | None = None

    @classmethod
    def from_kb(
        cls,
        kb: Any,
        task: str,
        metric: str,
        *,
        fidelity: str = "base",
        size_model: Mapping[str, Any] | None = None,
    ) -> TrainingData:
        """Collect the matrices of one task and metric from ``kb``.

        ``fidelity="base"`` takes every dataset's scores at its base size (the whole
        portfolio on a subsample); ``"real_size"`` the scores at each dataset's largest
        size where it has them, the other configs' base scores moved by their algorithm's
        expected gain to that size (:func:`real_size_scores`; ``size_model``: its slopes
        where the caller already fitted them).
        """
        if fidelity not in TRAINING_FIDELITIES:
            raise KnowledgeBaseError(
                f"fidelity must be one of {TRAINING_FIDELITIES}, got {fidelity!r}"
            )
        perf = kb.performance(task, metric)
        if perf.shape[0] == 0 or perf.shape[1] == 0:
            raise KnowledgeBaseError(
                f"the knowledge base has no {task} results for metric {metric!r} "
                f"({perf.shape[0]} datasets x {perf.shape[1]} configs)"
            )
        status = kb.status_matrix(task).reindex(index=perf.index, columns=perf.columns)
        # A configuration that does not apply to a dataset was not run there: unknown.
        failed = (status.notna() & ~status.isin(["ok", NOT_APPLICABLE])).to_numpy()
        not_applicable = (status == NOT_APPLICABLE).to_numpy()
        # An ok run without a value for this metric (e.g. roc_auc not computed) is unknown.
        mf = kb.metafeatures(task).reindex(perf.index)
        ft = kb.fit_times(task).reindex(index=perf.index, columns=perf.columns)
        info = kb.datasets(task).reindex(perf.index)
        n_rows = pd.to_numeric(info["n_rows"], errors="coerce").to_numpy(dtype=float)
        n_feat = pd.to_numeric(info["n_features"], errors="coerce").to_numpy(dtype=float)
        col = find_feature(list(mf.columns), "n_instances")
        if col is not None:
            n_rows = np.where(np.isnan(n_rows), mf[col].to_numpy(dtype=float), n_rows)
        col = find_feature(list(mf.columns), "n_features")
        if col is not None:
            n_feat = np.where(np.isnan(n_feat), mf[col].to_numpy(dtype=float), n_feat)
        configs = kb.configs(task)
        base_scores = None
        if fidelity == "real_size":
            base_scores = perf.to_numpy(dtype=float)
            scores, large_failed, inapplicable = real_size_scores(
                kb, task, metric, perf, configs, size_model
            )
            failed = (failed | large_failed) & ~inapplicable
            not_applicable = not_applicable | inapplicable
            perf = pd.DataFrame(scores, index=perf.index, columns=perf.columns)
        folds = kb.fold_performance(task, metric).reindex(columns=perf.columns)
        grouped = folds.groupby(level="dataset")
        score_se = (grouped.std(ddof=1) / np.sqrt(grouped.count())).reindex(perf.index)
        return cls(
            task=task,
            metric=metric,
            greater_is_better=kb.greater_is_better(metric),
            datasets=[str(d) for d in perf.index],
            config_ids=[str(c) for c in perf.columns],
            configs={str(c): configs.get(str(c), {"algorithm": str(c)}) for c in perf.columns},
            scores=perf.to_numpy(dtype=float),
            failed=failed,
            metafeatures=mf.astype(float),
            fit_times=ft.to_numpy(dtype=float),
            n_rows=n_rows,
            n_features=n_feat,
            kb_metafeature_columns=list(mf.columns),
            score_se=score_se.to_numpy(dtype=float),
            not_applicable=not_applicable if not_applicable.any() else None,
            fidelity=fidelity,
            base_scores=base_scores,
        )

    def subset(self, rows: Sequence[int] | np.ndarray) -> TrainingData:
        """The same data restricted to the datasets at positions ``rows``."""
        rows = np.asarray(rows, dtype=int)
        return TrainingData(
            task=self.task,
            metric=self.metric,
            greater_is_better=self.greater_is_better,
            datasets=[self.datasets[i] for i in rows],
            config_ids=list(self.config_ids),
            configs=self.configs,
            scores=self.scores[rows],
            failed=self.failed[rows],
            metafeatures=self.metafeatures.iloc[rows],
            fit_times=self.fit_times[rows],
            n_rows=self.n_rows[rows],
            n_features=self.n_features[rows],
            kb_metafeature_columns=self.kb_metafeature_columns,
            score_se=None if self.score_se is None else self.score_se[rows],
            not_applicable=None if self.not_applicable is None else self.not_applicable[rows],
            fidelity=self.fidelity,
            base_scores=None if self.base_scores is None else self.base_scores[rows],
        )

    def probe_scores(self) -> np.ndarray:
        """Raw scores at the base size: what a probe on the user's data compares with."""
        return self.scores if self.base_scores is None else self.base_scores

    def utility(self, floor: float = 0.0) -> np.ndarray:
        """Normalised scores (see :func:`normalised_scores`)."""
        return normalised_scores(self.scores, self.greater_is_better, self.failed, floor=floor)

    def utility_noise(self) -> np.ndarray:
        """Measurement-noise variance of each normalised score (NaN where unknown): the
        squared standard error of the cell's mean over its folds, in units of the
        dataset's best-minus-median span (the scale of :func:`normalised_scores`)."""
        if self.score_se is None:
            return np.full(self.scores.shape, np.nan)
        s = self.scores if self.greater_is_better else -self.scores
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # datasets without ok cells
            span = np.nanmax(s, axis=1) - np.nanmedian(s, axis=1)
            span = np.where(span > 1e-12, span, np.nan)
            return (self.score_se / span[:, None]) ** 2

    def usable(self) -> np.ndarray:
        """Datasets with at least two ok configs (the others teach nothing about ranking)."""
        return np.isfinite(self.scores).sum(axis=1) >= 2
