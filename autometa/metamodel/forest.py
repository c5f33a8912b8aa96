"""A forest over meta-features whose leaves define which training datasets are alike.

Extremely randomised trees are fitted to predict a dataset's whole vector of normalised
config scores from its meta-features (one multi-output forest, not one model per config).
Two training datasets that keep landing in the same leaves respond alike to the
portfolio, so the forest's *proximity* -- the share of trees in which a training dataset
falls in the query's leaf, divided by that leaf's size -- is a learned, adaptive
neighbourhood: unlike the L1 distance of :mod:`~autometa.metamodel.knn` it ignores
meta-features that say nothing about which configs win. The forest's prediction is
exactly the proximity-weighted mean of the training datasets' scores
(:func:`weighted_prediction`), and the same weights drive the hedged best-of-k choice of
:func:`hedged_picks`.

Trees are kept as plain arrays (split feature, threshold, children) and routed with numpy,
so the fitted state is JSON: nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._arrays import array_from_json, array_to_json
from autometa.metamodel._base import MetaModel, best_first
from autometa.metamodel._families import dataset_family
from autometa.metamodel._training import TrainingData
from autometa.metamodel._trees import _Trees, grow_forest, proximity, weighted_prediction
from autometa.metamodel.portfolio import greedy_portfolio
from autometa.metamodel.probing import (
    PRIOR_UNIFORM,
    ProbePlan,
    choose_probes,
    probe_weights,
    profiles,
)
from autometa.metrics import is_bounded


def hedged_picks(
    mu: np.ndarray,
    U: np.ndarray,
    w: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    prefer: np.ndarray | None = None,
) -> list[int]:
    """First the best ``mu``; then greedily the config that most raises the weighted mean
    over training datasets of the best score among the picks (ties by ``mu``, then by
    ``prefer``).

    Parameters
    ----------
    mu : ndarray (n_configs,)
        Predicted score of each config on the query (decides the first pick).
    U : ndarray (n_datasets, n_configs)
        Normalised scores of the training datasets (floor 0).
    w : ndarray (n_datasets,)
        Weight of each training dataset as a scenario for the query.
    k : number of picks.
    allowed : boolean mask; the other configs come only once every allowed one is taken.
    prefer : ndarray (n_configs,), optional
        Decides ties (the higher first; the meta-models pass the single-best score);
        the lower index decides the rest.

    Examples
    --------
    >>> U = np.array([[1.0, 0.0, 0.8], [0.0, 1.0, 0.8]])
    >>> hedged_picks(np.array([0.5, 0.4, 0.8]), U, np.array([0.5, 0.5]), 2)
    [2, 0]
    """
    if k <= 0 or len(mu) == 0:
        return []
    pool = None if allowed is None or not np.any(allowed) else np.asarray(allowed, bool)
    first = int(best_first(mu, prefer, pool)[0])
    # greedy_portfolio scales its tie-break by 1e-9: ties go to the higher mu
    return [first] + greedy_portfolio(
        U,
        k - 1,
        weights=w,
        allowed=allowed,
        tie_break=1e3 * np.asarray(mu, float),
        prefer=prefer,
        taken=[first],
    )


class ForestModel(MetaModel):
    """Extra-trees on meta-features predicting every config's normalised score at once.

    ``rank`` is the forest's prediction (the proximity-weighted mean score of the training
    datasets) with the proximity-weighted spread as ``std``; ``select`` takes the best
    prediction first, then hedges: each further pick most raises the expected best score
    over the training datasets weighted by ``(1 - uniform) * proximity + uniform / n``.

    Parameters
    ----------
    n_estimators : int
        Trees.
    min_samples_leaf : int
        Smallest leaf (datasets).
    max_features : float
        Share of the meta-features tried at each split.
    uniform : float
        Share of uniform weight mixed into the hedging weights.
    n_probes : int
        Cheap configurations to probe on the new dataset, chosen at fit time
        (:func:`~autometa.metamodel.probing.choose_probes`, listed in ``probe_configs_``);
        ``rank``/``select`` given their measured scores (``probes=``) update the proximity
        weights by them. 0: no probing.
    n_jobs : int
        Threads used to grow the trees.
    random_state : int

    Examples
    --------
    >>> ForestModel(n_estimators=200).fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    """

    name = "forest"

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 2,
        max_features: float = 0.3,
        uniform: float = 0.0,
        n_probes: int = 4,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        super().__init__(random_state)
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.uniform = uniform
        self.n_probes = n_probes
        self.n_jobs = n_jobs

    def _grow(self, X: np.ndarray, U: np.ndarray) -> _Trees:
        return grow_forest(
            X,
            U,
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def _tree_targets(self, data: TrainingData) -> np.ndarray:
        """What the trees learn to predict (subclasses denoise it); the leaves they make
        then weight the measured scores ``U_``."""
        return self.U_

    def _fit(self, data: TrainingData) -> None:
        self.U_ = np.nan_to_num(data.utility(0.0), nan=0.0)
        self.trees_ = self._grow(self.X_, self._tree_targets(data))
        self.leaves_ = self.trees_.apply(self.X_)
        self._fit_probes(data)

    def _fit_probes(self, data: TrainingData) -> None:
        """Mine the probe plan from the training datasets (none when ``n_probes`` is 0)."""
        self.probe_plan_: ProbePlan | None = None
        self.probe_profiles_ = np.zeros((len(data.datasets), 0))
        probed = data.probe_scores()
        raw = probed if data.greater_is_better else -probed
        bounded = is_bounded(data.metric)
        plan = choose_probes(
            raw,
            self.U_,
            data.fit_times,
            [dataset_family(d) for d in data.datasets],
            int(self.n_probes),
            bounded,
        )
        if plan is not None:
            self.probe_plan_ = plan
            self.probe_profiles_ = profiles(raw[:, list(plan.configs)], bounded)

    @property
    def probe_configs_(self) -> list[str]:
        """Config ids to probe on a new dataset, in the order they were chosen."""
        plan = getattr(self, "probe_plan_", None)
        return [] if plan is None else [self.config_ids_[c] for c in plan.configs]

    @property
    def probes_used(self) -> bool:
        """Whether measured probes change the ranking: not where the inner folds found that
        they do not improve the first pick (``probe_trust_["used"]``)."""
        return bool((getattr(self, "probe_trust_", None) or {}).get("used", 1.0))

    def _measured_probes(self, probes: Mapping[str, float] | None) -> dict[int, float]:
        """The finite ``probes`` of the plan's configs, by config position; none where
        probes are not used (:attr:`probes_used`)."""
        plan = getattr(self, "probe_plan_", None)
        if not probes or plan is None or not self.probes_used:
            return {}
        position = {c: i for i, c in enumerate(self.config_ids_)}
        return {
            position[c]: float(v)
            for c, v in probes.items()
            if c in position and position[c] in plan.configs and np.isfinite(v)
        }

    def weights(self, x: np.ndarray, probes: Mapping[str, float] | None = None) -> np.ndarray:
        """Proximity of each training dataset to the query with scaled meta-features ``x``,
        updated by the ``probes`` measured on it (config id -> raw score)."""
        w = proximity(self.leaves_, self.trees_.apply(x[None, :])[0])
        measured = self._measured_probes(probes)
        if not measured:
            return w
        trust = getattr(self, "probe_trust_", None) or {}
        return probe_weights(
            w,
            self.probe_profiles_,
            measured,
            self.probe_plan_,
            is_bounded(self.metric_),
            self.greater_is_better_,
            sigma=trust.get("sigma"),
            prior_uniform=trust.get("prior_uniform", PRIOR_UNIFORM),
        )

    def _first_pick_scores(
        self,
        forest: np.ndarray,
        probed: bool = False,
        x: np.ndarray | None = None,
        spread: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores that decide the first pick, from the forest's prediction and its
        proximity-weighted ``spread`` (subclasses shrink it, discount the spread or blend
        in another model's prediction for the scaled query ``x``; ``probed``: the weights
        were updated by probes)."""
        return forest

    def _hedge_uniform(self) -> float:
        return float(self.uniform)

    def _predict(
        self,
        x: np.ndarray,
        probes: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First-pick scores, the proximity-weighted spread and the proximity weights."""
        w = self.weights(x, probes)
        forest, std = weighted_prediction(w, self.U_)
        probed = bool(self._measured_probes(probes))
        return self._first_pick_scores(forest, probed, x, std), std, w

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        mu, std, _ = self._predict(x)
        return mu, std

    def rank(
        self,
        metafeatures: pd.Series | Mapping[str, float],
        probes: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`MetaModel.rank`; ``probes`` (config id -> raw score measured on the
        query, see ``probe_configs_``) update which training datasets count as alike."""
        x, _ = self._query(metafeatures)
        mu, std, _ = self._predict(x, probes)
        return mu, std

    def select(
        self,
        metafeatures: pd.Series | Mapping[str, float],
        k: int,
        *,
        allowed: np.ndarray | None = None,
        probes: Mapping[str, float] | None = None,
    ) -> list[int]:
        x, _ = self._query(metafeatures)
        mu, _, w = self._predict(x, probes)
        uniform = self._hedge_uniform()
        w = (1.0 - uniform) * w + uniform / len(w)
        return hedged_picks(mu, self.U_, w, k, allowed, prefer=self.sbs_)

    def _get_state(self) -> dict[str, Any]:
        plan = self.probe_plan_
        return {
            "U": array_to_json(self.U_),
            "trees": self.trees_.get_state(),
            "leaves": self.leaves_.tolist(),
            "probes": None
            if plan is None
            else {
                "configs": list(plan.configs),
                "sigma": plan.sigma,
                "inner_score": plan.inner_score,
                "profiles": array_to_json(self.probe_profiles_),
            },
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.U_ = array_from_json(state["U"]).reshape(len(self.datasets_), -1)
        self.trees_ = _Trees.from_state(state["trees"])
        self.leaves_ = np.asarray(state["leaves"], dtype=np.int64)
        probes = state.get("probes")
        self.probe_plan_ = (
            None
            if probes is None
            else ProbePlan(
                tuple(int(c) for c in probes["configs"]),
                float(probes["sigma"]),
                float(probes["inner_score"]),
            )
        )
        self.probe_profiles_ = (
            np.zeros((len(self.datasets_), 0))
            if probes is None
            else array_from_json(probes["profiles"]).reshape(len(self.datasets_), -1)
        )
