"""The default meta-model: a learned ranker for the first pick, then a *local* greedy
portfolio for the rest, so that the top k maximise the expected best of k rather than
being k near-copies of one good config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._base import MetaModel, TrainingData, _arr, _unarr, as_query
from autometa.metamodel.portfolio import greedy_portfolio
from autometa.metamodel.ranker import RankerModel


class DefaultModel(MetaModel):
    """Ranker + neighbourhood-weighted greedy portfolio.

    For a new dataset the ranker predicts a normalised score ``mu`` for every config. The
    training datasets are weighted by how close their observed score vectors are to
    ``mu`` (neighbours in *performance* space, where meta-features that do not matter
    have already been discounted by the ranker), mixed with a uniform share so that the
    whole corpus still counts. The picks then maximise, greedily,

        ``gamma * max_{c in S} mu_c + sum_d w_d * max_{c in S} u_{d,c}``

    i.e. the expected best of the set over the predicted dataset and its weighted
    neighbours: the first pick is the config predicted best there, each later pick the
    one that best covers the cases where the earlier ones fall short.

    Parameters
    ----------
    gamma : float
        Weight of the ranker's own prediction against the neighbours (whose weights sum
        to one).
    uniform : float
        Share of the neighbour weight spread uniformly over all training datasets.
    temperature : float
        Softmax temperature of the neighbour weights, relative to the median distance.
    neighbourhood : {"performance", "metafeatures"}
        Where distances are measured.
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

    def __init__(self, gamma: float = 1.0, uniform: float = 0.3, temperature: float = 0.5,
                 neighbourhood: str = "performance", ranker_params: Mapping[str, Any] | None = None,
                 random_state: int = 0) -> None:
        super().__init__(random_state)
        self.gamma = gamma
        self.uniform = uniform
        self.temperature = temperature
        self.neighbourhood = neighbourhood
        self.ranker_params = dict(ranker_params or {})

    def get_params(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "uniform": self.uniform, "temperature": self.temperature,
                "neighbourhood": self.neighbourhood, "ranker_params": self.ranker_params,
                "random_state": self.random_state}

    def _fit(self, data: TrainingData) -> None:
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
        return greedy_portfolio(self.U_, k, weights=w, allowed=allowed, tie_break=self.sbs_,
                                virtual=(self.gamma, mu))

    def _get_state(self) -> dict[str, Any]:
        return {"ranker": self.ranker_.get_state(), "U": _arr(self.U_)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.ranker_ = RankerModel(random_state=self.random_state, **self.ranker_params)
        self.ranker_.set_state(state["ranker"])
        self.U_ = _unarr(state["U"]).reshape(len(self.datasets_), -1)
