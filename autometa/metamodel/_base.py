"""What every meta-model shares: the training matrices, the score scale, the interface.

A meta-model learns from a knowledge base which configurations do well on which datasets.
The common interface is small:

* ``fit(kb, task, metric)`` -- learn from a :class:`~autometa.kb.KnowledgeBase`;
* ``rank(metafeatures) -> (scores, std)`` -- one predicted *normalised score* per config
  of the portfolio (``config_ids_``), with its uncertainty;
* ``select(metafeatures, k)`` -- the indices of the ``k`` configs to try, best first. By
  default the ``k`` best by ``rank``; models that pick *sets* (portfolio, default) override
  it, because the best set of ``k`` is not the ``k`` individually best.

The normalised score of config ``c`` on dataset ``d`` puts every dataset on one scale:
1 for the best config of the portfolio on ``d`` and 0 for the portfolio's median there
(``(s - median) / (best - median)``, the TabRepo convention), so that an easy dataset
where everything scores 0.99 and a hard one where the best scores 0.6 weigh the same.
A failed run scores the floor. Models are trained on this scale with floor -1 (so that they
still see which below-median configs are worse); the evaluation clips at 0.

State is plain JSON (see :mod:`autometa.metamodel._cache`): no pickle.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from autometa._constants import NOT_APPLICABLE
from autometa.errors import InvalidParameterError, KnowledgeBaseError

#: Bump when the meaning of a saved state changes; cached models of other versions are
#: ignored and retrained.
STATE_VERSION = 5

#: Floor of the normalised score used for training targets (evaluation uses 0).
TRAIN_FLOOR = -1.0

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


# --------------------------------------------------------------------------------------
# training data
# --------------------------------------------------------------------------------------


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

    @classmethod
    def from_kb(cls, kb: Any, task: str, metric: str) -> TrainingData:
        """Collect the matrices of one task and metric from ``kb``."""
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
        )

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


# --------------------------------------------------------------------------------------
# meta-feature preprocessing
# --------------------------------------------------------------------------------------


class FeatureScaler:
    """Log-compress heavy-tailed meta-features, impute with the training median and scale
    robustly to about [0, 1] (auto-sklearn's normalisation for its L1 distance, made robust).

    A column is log-compressed (``sign(x) * log1p(|x|)``) when its training values span
    more than two orders of magnitude: sizes such as the number of rows would otherwise
    dominate any distance. The scale is the 5th-95th percentile range of the training
    values, and scaled values are clipped to ``[-CLIP, 1 + CLIP]``: a query far outside the
    knowledge base on one meta-feature (or one heavy-tailed outlier in the knowledge base)
    then moves a distance by at most ``1 + 2 * CLIP`` instead of by thousands. Columns that
    are constant over the training datasets carry no information and are dropped.
    """

    #: How far beyond the training range (in units of its scale) a value still counts.
    CLIP = 0.5

    def fit(self, frame: pd.DataFrame) -> FeatureScaler:
        X = frame.to_numpy(dtype=float)
        keep = np.isfinite(X).sum(axis=0) >= max(2, int(0.2 * len(X)))
        with np.errstate(all="ignore"):
            absx = np.abs(np.where(np.isfinite(X), X, np.nan))
            hi = np.nanmax(absx, axis=0) if len(X) else np.zeros(X.shape[1])
            lo = np.nanpercentile(absx, 10, axis=0) if len(X) else np.zeros(X.shape[1])
        self.log_ = np.nan_to_num(hi, nan=0.0) > 100 * np.maximum(np.nan_to_num(lo, nan=0.0), 1.0)
        T = self._compress(X)
        if len(T) and T.shape[1]:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                q05, q95 = np.nanpercentile(T, [5, 95], axis=0)
                low, high = np.nanmin(T, axis=0), np.nanmax(T, axis=0)
        else:
            q05 = low = np.zeros(T.shape[1])
            q95 = high = np.ones(T.shape[1])
        robust = q95 - q05 > 1e-12
        self.min_ = np.where(robust, q05, low)
        self.span_ = np.where(robust, q95 - q05, high - low)
        keep &= np.nan_to_num(self.span_, nan=0.0) > 1e-12  # constant columns: no information
        self.columns_ = [c for c, k in zip(frame.columns, keep) if k]
        self.log_, self.min_, self.span_, T = (
            self.log_[keep],
            self.min_[keep],
            self.span_[keep],
            T[:, keep],
        )
        self.median_ = (
            np.nan_to_num(np.nanmedian(T, axis=0), nan=0.0) if len(T) else np.zeros(T.shape[1])
        )
        return self

    def _compress(self, X: np.ndarray) -> np.ndarray:
        X = np.where(np.isfinite(X), X, np.nan)
        return np.where(self.log_, np.sign(X) * np.log1p(np.abs(X)), X)

    def transform(self, frame: pd.DataFrame | pd.Series) -> np.ndarray:
        """Scaled matrix ``(n, len(columns_))``; unknown and missing values -> median."""
        if isinstance(frame, pd.Series):
            frame = frame.to_frame().T
        X = frame.reindex(columns=self.columns_).to_numpy(dtype=float)
        T = self._compress(X)
        T = np.where(np.isfinite(T), T, self.median_)
        return np.clip((T - self.min_) / self.span_, -self.CLIP, 1.0 + self.CLIP)

    def missing(self, frame: pd.DataFrame | pd.Series) -> np.ndarray:
        """Boolean mask of the values :meth:`transform` had to impute."""
        if isinstance(frame, pd.Series):
            frame = frame.to_frame().T
        return ~np.isfinite(frame.reindex(columns=self.columns_).to_numpy(dtype=float))

    def get_state(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns_),
            "log": self.log_.tolist(),
            "median": self.median_.tolist(),
            "min": self.min_.tolist(),
            "span": self.span_.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureScaler:
        self = cls()
        self.columns_ = list(state["columns"])
        self.log_ = np.asarray(state["log"], dtype=bool)
        self.median_ = np.asarray(state["median"], dtype=float)
        self.min_ = np.asarray(state["min"], dtype=float)
        self.span_ = np.asarray(state["span"], dtype=float)
        return self


def as_query(metafeatures: pd.Series | Mapping[str, float] | pd.DataFrame) -> pd.DataFrame:
    """One dataset's meta-features as a one-row float frame; a frame of several rows is
    refused (a meta-model ranks for one dataset at a time)."""
    if isinstance(metafeatures, pd.DataFrame):
        if len(metafeatures) != 1:
            raise InvalidParameterError(
                f"meta-features of one dataset expected, got a DataFrame of "
                f"{len(metafeatures)} rows; call once per row (e.g. frame.iloc[i])"
            )
        return metafeatures.astype(float)
    s = pd.Series(metafeatures, dtype=float)
    return s.to_frame().T


def _arr(x: Any) -> Any:
    """JSON-friendly copy of arrays (NaN -> None so the file stays strict JSON)."""
    if isinstance(x, np.ndarray):
        return (
            [_arr(row) for row in x]
            if x.ndim > 1
            else [None if (isinstance(v, float) and not np.isfinite(v)) else v for v in x.tolist()]
        )
    return x


def _unarr(x: Any) -> np.ndarray:
    return np.asarray(
        [[np.nan if v is None else v for v in row] for row in x]
        if x and isinstance(x[0], list)
        else [np.nan if v is None else v for v in x],
        dtype=float,
    )


# --------------------------------------------------------------------------------------
# the interface
# --------------------------------------------------------------------------------------


class MetaModel(BaseEstimator, metaclass=abc.ABCMeta):
    """Base class of the meta-models.

    Subclasses implement :meth:`_fit` (from a :class:`TrainingData`), :meth:`_rank`
    (scaled meta-features of one query -> scores and std over ``config_ids_``) and the
    ``_get_state``/``_set_state`` pair. As in scikit-learn, every constructor argument is
    stored unchanged under its own name and :meth:`get_params` reads them from the
    constructor's signature (so the on-disk cache key, which is ``get_params()``, cannot
    miss one); fitted attributes end in ``_``. A model is not safe to fit from two threads
    at once; a fitted model's ``rank``/``select`` only read it. The base class keeps what they all need: the
    portfolio, the meta-feature scaler, the training datasets' neighbourhoods (for
    evidence and novelty), a fit-time model and the per-dataset score scale.

    Parameters
    ----------
    random_state : int
        Seed for anything random (ties, bagging).

    Examples
    --------
    >>> from autometa.metamodel import get_model
    >>> model = get_model("knn").fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    >>> scores, std = model.rank(kb.metafeatures("classification").iloc[0])  # doctest: +SKIP
    """

    name: ClassVar[str] = "base"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    # -------------------------------------------------------------- fitting
    def fit(self, kb: Any, task: str, metric: str) -> MetaModel:
        """Learn from the knowledge base ``kb`` (one task, one metric), and from its
        results at several sizes how each algorithm's score grows with rows."""
        from autometa.metamodel._size import fit_slopes, size_pairs
        from autometa.metrics import is_bounded

        self.fit_data(TrainingData.from_kb(kb, task, metric))
        if is_bounded(metric):
            pairs = size_pairs(kb, task, metric, self.greater_is_better_)
            self.size_model_ = fit_slopes(
                pairs, {c: str(cfg.get("algorithm", c)) for c, cfg in self.configs_.items()}
            )
        return self

    def fit_data(self, data: TrainingData) -> MetaModel:
        """Learn from prepared matrices (what :meth:`fit` and the evaluation call)."""
        keep = data.usable()
        if keep.sum() < 1:
            raise KnowledgeBaseError(
                f"no {data.task} dataset has at least two successful configurations for "
                f"{data.metric!r}; nothing to learn from"
            )
        data = data.subset(np.flatnonzero(keep))
        self.task_ = data.task
        self.metric_ = data.metric
        self.greater_is_better_ = data.greater_is_better
        self.config_ids_ = list(data.config_ids)
        self.configs_ = {c: data.configs[c] for c in self.config_ids_}
        self.datasets_ = list(data.datasets)
        self.scaler_ = FeatureScaler().fit(data.metafeatures)
        self.X_ = self.scaler_.transform(data.metafeatures)
        self.metafeature_columns_ = list(data.kb_metafeature_columns)
        s = data.scores if data.greater_is_better else -data.scores
        with np.errstate(all="ignore"):
            self.best_raw_ = np.nanmax(np.where(np.isfinite(s), s, -np.inf), axis=1)
            self.median_raw_ = np.array([np.median(r[np.isfinite(r)]) for r in s])
        u = data.utility(0.0)
        n_known = np.isfinite(u).sum(axis=0)
        # mean over the datasets where the config was run; never run -> -1 (last)
        self.sbs_ = np.where(n_known > 0, np.nansum(u, axis=0) / np.maximum(n_known, 1), -1.0)
        self.size_model_: dict[str, Any] = {}  # fit() learns it from the KB's fidelities
        self._fit_time_model(data)
        self._fit(data)
        return self

    @abc.abstractmethod
    def _fit(self, data: TrainingData) -> None:
        """Learn from ``data`` (the base class has set the common fitted attributes)."""

    # -------------------------------------------------------------- predicting
    def rank(self, metafeatures: pd.Series | Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted normalised score (1 = best of the portfolio, 0 = its median) of each
        config in ``config_ids_`` on the dataset described by ``metafeatures``, and its
        standard deviation."""
        x, raw = self._query(metafeatures)
        scores, std = self._rank(x, raw)
        return np.asarray(scores, dtype=float), np.asarray(std, dtype=float)

    @abc.abstractmethod
    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Scores and std of every config for one query (scaled ``x``, unscaled ``raw``)."""

    def _query(
        self,
        metafeatures: pd.Series | Mapping[str, float] | pd.DataFrame,
    ) -> tuple[np.ndarray, pd.Series]:
        """A fitted model's view of one query: scaled and as given."""
        check_is_fitted(self, "config_ids_")
        frame = as_query(metafeatures)
        return self.scaler_.transform(frame)[0], frame.iloc[0]

    def select(
        self,
        metafeatures: pd.Series | Mapping[str, float],
        k: int,
        *,
        allowed: np.ndarray | None = None,
    ) -> list[int]:
        """Indices into ``config_ids_`` of the ``k`` configs to try, best first.

        Parameters
        ----------
        metafeatures : the query dataset's meta-features.
        k : how many.
        allowed : optional boolean mask over configs (e.g. those expected to fit in a time
            budget); the others are only used once the allowed ones are exhausted.
        """
        scores, _ = self.rank(metafeatures)
        return _top_k(scores, k, allowed)

    # -------------------------------------------------------------- shared helpers
    def neighbours(
        self, metafeatures: pd.Series | Mapping[str, float], n: int = 5
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into ``datasets_``) and L1 distances of the ``n`` training datasets
        nearest to the query in scaled meta-feature space."""
        x, _ = self._query(metafeatures)
        d = np.abs(self.X_ - x).sum(axis=1)
        order = np.argsort(d, kind="stable")[:n]
        return order, d[order]

    def _fit_time_model(self, data: TrainingData) -> None:
        """log fit time ~ a_c + b_c log(rows) + g_c log(features), per config, shrunk to
        the pooled slopes (a few dozen points per config would otherwise give wild
        extrapolations)."""
        t = data.fit_times
        logn = np.log1p(
            np.nan_to_num(
                data.n_rows,
                nan=np.nanmedian(data.n_rows) if np.isfinite(data.n_rows).any() else 1000.0,
            )
        )
        logp = np.log1p(
            np.nan_to_num(
                data.n_features,
                nan=np.nanmedian(data.n_features) if np.isfinite(data.n_features).any() else 10.0,
            )
        )
        n_c = t.shape[1]
        self.time_coef_ = np.full((n_c, 3), np.nan)
        ok = np.isfinite(t) & (t > 0)
        if ok.sum() < 3:
            return
        rows, cols = np.nonzero(ok)
        y_all = np.log(t[rows, cols])
        # pooled: per-config intercepts + shared slopes (by centring within config)
        Xs = np.column_stack([logn[rows], logp[rows]])
        means_x = np.zeros((n_c, 2))
        means_y = np.zeros(n_c)
        for c in range(n_c):
            m = cols == c
            if m.any():
                means_x[c] = Xs[m].mean(axis=0)
                means_y[c] = y_all[m].mean()
        Xc = Xs - means_x[cols]
        yc = y_all - means_y[cols]
        pooled = np.linalg.lstsq(Xc.T @ Xc + 1e-6 * np.eye(2), Xc.T @ yc, rcond=None)[0]
        lam = 5.0
        for c in range(n_c):
            m = cols == c
            if not m.any():
                continue
            xc = Xs[m] - means_x[c]
            slope = np.linalg.solve(
                xc.T @ xc + lam * np.eye(2), xc.T @ (y_all[m] - means_y[c]) + lam * pooled
            )
            self.time_coef_[c] = [means_y[c] - means_x[c] @ slope, *slope]

    def predict_fit_time(self, n_rows: float, n_features: float) -> np.ndarray:
        """Expected fit time (seconds, per CV fold as stored in the KB) of each config;
        NaN where the knowledge base has no fit times."""
        x = np.array(
            [1.0, np.log1p(max(float(n_rows), 1.0)), np.log1p(max(float(n_features), 1.0))]
        )
        with np.errstate(all="ignore"):
            return np.exp(self.time_coef_ @ x)

    def to_raw(
        self,
        scores: np.ndarray,
        std: np.ndarray,
        metafeatures: pd.Series | Mapping[str, float],
        n: int = 5,
        *,
        n_rows: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Translate normalised scores into the metric's units, using the best and median
        scores of the nearest training datasets as the query's likely scale, then apply the
        model's calibration (``calibration_``: a shift and a scale of the standard
        deviation measured on held-out families; none for models without one) and, given
        the query's ``n_rows``, each algorithm's expected gain from the knowledge base's
        base size to that many rows (``size_model_``, :mod:`~autometa.metamodel._size`)."""
        from autometa.metamodel._size import gains

        x, _ = self._query(metafeatures)
        raw, raw_std = raw_prediction(
            self.X_, self.best_raw_, self.median_raw_, x, np.asarray(scores), np.asarray(std), n
        )
        calibration = getattr(self, "calibration_", None) or {}
        raw = raw + calibration.get("shift", 0.0) * raw_std
        raw_std = raw_std * calibration.get("scale", 1.0)
        if n_rows is not None:
            algorithms = [str(self.configs_[c].get("algorithm", c)) for c in self.config_ids_]
            raw = raw + gains(getattr(self, "size_model_", {}), algorithms, float(n_rows))
        if not self.greater_is_better_:
            raw = -raw
        return raw, raw_std

    # -------------------------------------------------------------- state
    def get_state(self) -> dict[str, Any]:
        """Everything needed to predict, as JSON-able values."""
        return {
            "state_version": STATE_VERSION,
            "model": self.name,
            "params": self.get_params(),
            "task": self.task_,
            "metric": self.metric_,
            "greater_is_better": self.greater_is_better_,
            "config_ids": self.config_ids_,
            "configs": self.configs_,
            "datasets": self.datasets_,
            "scaler": self.scaler_.get_state(),
            "X": _arr(self.X_),
            "metafeature_columns": self.metafeature_columns_,
            "best_raw": _arr(self.best_raw_),
            "median_raw": _arr(self.median_raw_),
            "sbs": _arr(self.sbs_),
            "time_coef": _arr(self.time_coef_),
            "size_model": getattr(self, "size_model_", {}),
            "model_state": self._get_state(),
        }

    def set_state(self, state: Mapping[str, Any]) -> MetaModel:
        self.task_ = state["task"]
        self.metric_ = state["metric"]
        self.greater_is_better_ = bool(state["greater_is_better"])
        self.config_ids_ = list(state["config_ids"])
        self.configs_ = dict(state["configs"])
        self.datasets_ = list(state["datasets"])
        self.scaler_ = FeatureScaler.from_state(state["scaler"])
        self.X_ = _unarr(state["X"]).reshape(len(self.datasets_), -1)
        self.metafeature_columns_ = list(state["metafeature_columns"])
        self.best_raw_ = _unarr(state["best_raw"])
        self.median_raw_ = _unarr(state["median_raw"])
        self.sbs_ = _unarr(state["sbs"])
        self.time_coef_ = _unarr(state["time_coef"]).reshape(len(self.config_ids_), 3)
        self.size_model_ = dict(state.get("size_model") or {})
        self._set_state(state["model_state"])
        return self

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def raw_prediction(
    X: np.ndarray,
    best_raw: np.ndarray,
    median_raw: np.ndarray,
    x: np.ndarray,
    scores: np.ndarray,
    std: np.ndarray,
    n: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised predictions (``scores`` ± ``std``) in the metric's units (greater is
    better): the query's best and median are taken from its ``n`` nearest training datasets
    (L1 in scaled meta-features ``X``), whose disagreement adds to the standard deviation."""
    d = np.abs(X - x).sum(axis=1)
    idx = np.argsort(d, kind="stable")[:n]
    w = 1.0 / (d[idx] + 1e-3)
    w /= w.sum()
    best = float(w @ best_raw[idx])
    med = float(w @ median_raw[idx])
    spread = float(np.sqrt(w @ (best_raw[idx] - best) ** 2))
    raw = med + scores * (best - med)
    return raw, np.sqrt((std * abs(best - med)) ** 2 + spread**2)


def _top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    """Indices of the ``k`` highest scores (stable: ties keep portfolio order); configs
    outside ``allowed`` only after all allowed ones."""
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    key = s.copy()
    if allowed is not None:
        key = np.where(allowed, key, key - 1e6)
    order = np.argsort(-key, kind="stable")
    return [int(i) for i in order[:k]]
