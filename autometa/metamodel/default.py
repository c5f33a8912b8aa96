"""The default meta-model: a learned ranker for the first pick, then picks that maximise
the expected best of k -- hedging against the ranker being wrong -- rather than the k
individually best (which tend to be near-copies of one config)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._base import MetaModel, TrainingData, _arr, _unarr, as_query
from autometa.metamodel.portfolio import greedy_portfolio
from autometa.metamodel.ranker import RankerModel


class DefaultModel(MetaModel):
    """Ranker + greedy expected-best-of-k selection.

    The ranker (:class:`~autometa.metamodel.ranker.RankerModel`) predicts a normalised score
    ``mu`` for every config on the new dataset. Where it is wrong, it is wrong in a
    structured way: configs of one family rise and fall together. Each training dataset
    ``d`` supplies one such pattern, its deviation from the average normalised scores, and
    so one plausible scenario for the new dataset::

        scenario_d = mu + lam_j * (u_d - mean(u))        lam_j = lam * (1 + lam_growth * j)

    Pick ``j`` (0-based) is the config that most increases the weighted mean over
    scenarios of the best score among the picks so far. The first pick is therefore the
    ranker's top prediction (with uniform weights); later picks cover the scenarios where
    the first ones fall short. Scenario weights mix a uniform share with a softmax over
    how close each training dataset's scores are to ``mu`` (neighbours in *performance*
    space, where the ranker has already discounted meta-features that do not matter).

    ``mode="virtual"`` is the simpler variant kept for comparison: a greedy portfolio over
    the weighted training datasets plus ``mu`` as one more dataset of weight ``gamma``.

    Parameters
    ----------
    lam, lam_growth : float
        Scale of the scenario deviations, and its growth per pick.
    uniform : float
        Share of the scenario weight spread uniformly over all training datasets.
    temperature : float
        Softmax temperature of the neighbour weights, relative to the median distance.
    neighbourhood : {"performance", "metafeatures"}
        Where neighbour distances are measured.
    mode : {"scenarios", "virtual"}
    gamma : float
        Weight of ``mu`` in ``mode="virtual"``.
    ranker_params : dict, optional
        Passed to :class:`~autometa.metamodel.ranker.RankerModel`.
    random_state : int

    Examples
    --------
    >>> model = DefaultModel().fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    >>> model.select(kb.metafeatures("classification").iloc[0], k=5)  # doctest: +SKIP
    [12, 40, 3, 77, 5]
    """

    name = "default"

    def __init__(self, gamma: float = 1.0, uniform: float = 0.5, temperature: float = 0.5,
                 neighbourhood: str = "performance", ranker_params: Mapping[str, Any] | None = None,
                 mode: str = "scenarios", lam: float = 0.5, lam_growth: float = 0.5,
                 random_state: int = 0) -> None:
        super().__init__(random_state)
        self.gamma = gamma
        self.uniform = uniform
        self.temperature = temperature
        self.neighbourhood = neighbourhood
        self.ranker_params = dict(ranker_params or {})
        self.mode = mode
        self.lam = lam
        self.lam_growth = lam_growth

    def get_params(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "uniform": self.uniform, "temperature": self.temperature,
                "neighbourhood": self.neighbourhood, "ranker_params": self.ranker_params,
                "mode": self.mode, "lam": self.lam, "lam_growth": self.lam_growth, "random_state": self.random_state}

    def _fit(self, data: TrainingData) -> None:
        from autometa.errors import ConfigError

        if self.mode not in ("scenarios", "virtual"):
            raise ConfigError(f"mode must be 'scenarios' or 'virtual', got {self.mode!r}")
        if self.neighbourhood not in ("performance", "metafeatures"):
            raise ConfigError(
                f"neighbourhood must be 'performance' or 'metafeatures', got {self.neighbourhood!r}"
            )
        override = getattr(self, "_ranker_override", None)
        if override is not None:  # the evaluation harness shares one fitted ranker per fold
            self.ranker_ = override
            del self._ranker_override
        else:
            self.ranker_ = RankerModel(random_state=self.random_state, **self.ranker_params).fit_data(data)
        self.U_ = np.nan_to_num(data.utility(0.0), nan=0.0)

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        return self.ranker_._rank(x, raw)

    def weights(self, x: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Weights of the training datasets for the query (sum to one)."""
        if self.neighbourhood == "metafeatures":
            d = np.abs(self.X_ - x).sum(axis=1)
        else:
            d = np.abs(self.U_ - np.clip(mu, 0.0, 1.0)).mean(axis=1)
        scale = max(float(np.median(d)) * self.temperature, 1e-9)
        z = -(d - d.min()) / scale
        w = np.exp(z)
        w /= w.sum()
        n = len(w)
        return (1.0 - self.uniform) * w + self.uniform / n

    def select(self, metafeatures: pd.Series | Mapping[str, float], k: int, *, allowed: np.ndarray | None = None) -> list[int]:
        q = as_query(metafeatures)
        x = self.scaler_.transform(q)[0]
        mu, _ = self._rank(x, q.iloc[0])
        w = self.weights(x, mu)
        if self.mode == "scenarios":
            return self._select_scenarios(mu, w, k, allowed)
        return greedy_portfolio(self.U_, k, weights=w, allowed=allowed, tie_break=self.sbs_,
                                virtual=(self.gamma, mu))

    def _select_scenarios(self, mu: np.ndarray, w: np.ndarray, k: int, allowed: np.ndarray | None) -> list[int]:
        """Greedy expected best-of-k over scenarios ``mu + lam_j * (u_d - mean_d u)``: each
        training dataset's deviation from the average says how configs move *together*
        (a whole family under-performing), which is what a second pick must hedge. Later
        picks hedge harder (``lam_j`` grows with the pick index ``j``) because by then the
        ranker's favourites are covered and only the surprises are left."""
        dev = self.U_ - self.U_.mean(axis=0)[None, :]
        n_c = len(mu)
        allowed_mask = np.ones(n_c, bool) if allowed is None else np.asarray(allowed, bool)
        chosen: list[int] = []
        for j in range(min(k, n_c)):
            lam = self.lam * (1.0 + self.lam_growth * j)
            S = mu[None, :] + lam * dev
            cur = S[:, chosen].max(axis=1) if chosen else np.full(len(S), -np.inf)
            gain = w @ np.maximum(S, cur[:, None]) + 1e-9 * mu
            pool = allowed_mask.copy()
            pool[chosen] = False
            if not pool.any():
                pool = np.ones(n_c, bool)
                pool[chosen] = False
            chosen.append(int(np.argmax(np.where(pool, gain, -np.inf))))
        return chosen

    def _get_state(self) -> dict[str, Any]:
        return {"ranker": self.ranker_.get_state(), "U": _arr(self.U_)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.ranker_ = RankerModel(random_state=self.random_state, **self.ranker_params)
        self.ranker_.set_state(state["ranker"])
        self.U_ = _unarr(state["U"]).reshape(len(self.datasets_), -1)
