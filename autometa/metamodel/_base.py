"""What every meta-model shares: the interface (:class:`MetaModel`) and its saved state.

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

The pieces have modules of their own: the training matrices and the score scale
(:mod:`~autometa.metamodel._training`), the meta-feature scaler
(:mod:`~autometa.metamodel._scaler`) and arrays in the saved state
(:mod:`~autometa.metamodel._arrays`). State is plain JSON (see
:mod:`autometa.metamodel._cache`): no pickle.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from autometa.errors import KnowledgeBaseError
from autometa.metamodel._arrays import array_from_json, array_to_json
from autometa.metamodel._level import NEAREST, ScoreLevel, in_metric_units, nearest_level
from autometa.metamodel._scaler import FeatureScaler, as_query
from autometa.metamodel._training import (
    SIZE_FEATURES,
    TrainingData,
    find_feature,
    normalised_scores,
)

# The training matrices and the scaler live in their own modules; their names stay
# importable from here, where the meta-models and older code look for them.
__all__ = [
    "SIZE_FEATURES",
    "STATE_VERSION",
    "TRAIN_FLOOR",
    "FeatureScaler",
    "MetaModel",
    "TrainingData",
    "as_query",
    "find_feature",
    "normalised_scores",
]

#: Bump when the meaning of a saved state changes; cached models of other versions are
#: ignored and retrained.
STATE_VERSION = 11  # 11: calibrated on the hedged picks, ±2 aimed at 95 %; 10: score level from a forest (_level); 9: ±1 std calibrated to 70 % on inner folds; 8: real-size training (small-table algorithms not applicable at the real size); 7: probes gated

#: The fidelity :meth:`MetaModel.fit` learns from unless told otherwise: every dataset at
#: its largest evaluated size (see :meth:`TrainingData.from_kb`). On the shipped knowledge
#: base's 217 datasets with real-size results, held out in 10 grouped folds and scored at
#: their real size, it lowered the default's first-pick normalised regret from 0.355 to
#: 0.290 on classification (-0.065, 95 % CI [-0.098, -0.036]); on regression top-1 moved
#: by +0.023 [-0.012, +0.061] and top-3 by -0.030 [-0.071, -0.006]
#: (benchmarks/results/kb_v2/real_size_training.md).
TRAINING_FIDELITY = "real_size"

#: Floor of the normalised score used for training targets (evaluation uses 0).
TRAIN_FLOOR = -1.0

#: Ridge weight (in squared centred log-sizes) pulling each config's fit-time slopes to the
#: pooled ones, so that a config timed on a few datasets does not extrapolate wildly.
FIT_TIME_SHRINKAGE = 5.0

#: Scores equal to this many decimals are ties in an ordering: what differs beyond is
#: floating-point rounding of one value (a score normalised along two paths).
TIE_DECIMALS = 12


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
    def fit(
        self, kb: Any, task: str, metric: str, *, fidelity: str = TRAINING_FIDELITY
    ) -> MetaModel:
        """Learn from the knowledge base ``kb`` (one task, one metric), and from its
        results at several sizes how each algorithm's score grows with rows.

        ``fidelity`` (default :data:`TRAINING_FIDELITY`): which of a dataset's sizes the
        targets come from, ``"real_size"`` or ``"base"`` (:meth:`TrainingData.from_kb`).
        """
        from autometa.metamodel._size import size_model

        slopes = size_model(kb, task, metric, kb.configs(task))
        self.fit_data(TrainingData.from_kb(kb, task, metric, fidelity=fidelity, size_model=slopes))
        self.size_model_ = slopes
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
        self.level_ = ScoreLevel.fit(self.X_, self.best_raw_, self.median_raw_, self.random_state)
        u = data.utility(0.0)
        n_known = np.isfinite(u).sum(axis=0)
        # mean over the datasets where the config was run; never run -> -1 (last)
        self.sbs_ = np.where(n_known > 0, np.nansum(u, axis=0) / np.maximum(n_known, 1), -1.0)
        self.size_model_: dict[str, Any] = {}  # fit() learns it from the KB's fidelities
        self.fidelity_ = data.fidelity
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
        """Indices into ``config_ids_`` of the ``k`` configs to try, best first: by
        :meth:`rank`'s score, equal scores by the single-best score ``sbs_``.

        Parameters
        ----------
        metafeatures : the query dataset's meta-features.
        k : how many.
        allowed : optional boolean mask over configs (e.g. those expected to fit in a time
            budget); the others are only used once the allowed ones are exhausted.
        """
        scores, _ = self.rank(metafeatures)
        return _top_k(scores, k, allowed, prefer=self.sbs_)

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
        lam = FIT_TIME_SHRINKAGE
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
        n: int = NEAREST,
        *,
        n_rows: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Translate normalised scores into the metric's units at the query's likely best
        and median score (:class:`~autometa.metamodel._level.ScoreLevel`; the ``n`` nearest
        training datasets' for states saved without a level forest), then apply the
        model's calibration (``calibration_``: a shift and a scale of the standard
        deviation measured on held-out families; none for models without one) and, given
        the query's ``n_rows``, each algorithm's expected gain from the knowledge base's
        base size to that many rows (``size_model_``, :mod:`~autometa.metamodel._size`)."""
        from autometa.metamodel._size import gains

        x, _ = self._query(metafeatures)
        raw, raw_std = in_metric_units(self._level(x, n), scores, std)
        calibration = getattr(self, "calibration_", None) or {}
        raw = raw + calibration.get("shift", 0.0) * raw_std
        raw_std = raw_std * calibration.get("scale", 1.0)
        # Real-size targets are already at the training datasets' own sizes (meta-feature
        # neighbours are of similar size); the gains move base-size predictions only.
        if n_rows is not None and getattr(self, "fidelity_", "base") == "base":
            algorithms = [str(self.configs_[c].get("algorithm", c)) for c in self.config_ids_]
            raw = raw + gains(getattr(self, "size_model_", {}), algorithms, float(n_rows))
        if not self.greater_is_better_:
            raw = -raw
        return raw, raw_std

    def _level(self, x: np.ndarray, n: int = NEAREST) -> tuple[float, float, float]:
        """The query's best, median and their spread: the level forest's, or for a state
        saved without one, the ``n`` nearest training datasets'."""
        level = getattr(self, "level_", None)
        if level is not None:
            return level.predict(x)
        return nearest_level(self.X_, self.best_raw_, self.median_raw_, x, n)

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
            "X": array_to_json(self.X_),
            "metafeature_columns": self.metafeature_columns_,
            "best_raw": array_to_json(self.best_raw_),
            "median_raw": array_to_json(self.median_raw_),
            "level": self.level_.get_state() if getattr(self, "level_", None) else None,
            "sbs": array_to_json(self.sbs_),
            "time_coef": array_to_json(self.time_coef_),
            "size_model": getattr(self, "size_model_", {}),
            "fidelity": getattr(self, "fidelity_", "base"),
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
        self.X_ = array_from_json(state["X"]).reshape(len(self.datasets_), -1)
        self.metafeature_columns_ = list(state["metafeature_columns"])
        self.best_raw_ = array_from_json(state["best_raw"])
        self.median_raw_ = array_from_json(state["median_raw"])
        level = state.get("level")  # states of version 9 and before have none
        self.level_ = (
            None
            if level is None
            else ScoreLevel.from_state(level, self.X_, self.best_raw_, self.median_raw_)
        )
        self.sbs_ = array_from_json(state["sbs"])
        self.time_coef_ = array_from_json(state["time_coef"]).reshape(len(self.config_ids_), 3)
        self.size_model_ = dict(state.get("size_model") or {})
        self.fidelity_ = str(state.get("fidelity", "base"))
        self._set_state(state["model_state"])
        return self

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def best_first(
    scores: np.ndarray, prefer: np.ndarray | None = None, allowed: np.ndarray | None = None
) -> np.ndarray:
    """Config indices best first: every config in ``allowed`` before the others, then the
    higher score (NaN lowest), equal scores (to :data:`TIE_DECIMALS` decimals) by the
    higher ``prefer`` (the single-best score in the meta-models), then the lower index.

    Examples
    --------
    >>> best_first(np.array([0.5, 0.9, 0.5]), prefer=np.array([0.1, 0.0, 0.2])).tolist()
    [1, 2, 0]
    """
    s = np.round(np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf), TIE_DECIMALS)
    keys = [-s]
    if prefer is not None:
        keys.insert(0, -np.asarray(prefer, dtype=float))
    if allowed is not None:
        keys.append(~np.asarray(allowed, dtype=bool))
    # np.lexsort sorts by the last key first and is stable, so the index breaks what is left
    return np.lexsort(keys)


def _top_k(
    scores: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    prefer: np.ndarray | None = None,
) -> list[int]:
    """Indices of the ``k`` best configs in :func:`best_first`'s order."""
    return [int(i) for i in best_first(scores, prefer, allowed)[:k]]
