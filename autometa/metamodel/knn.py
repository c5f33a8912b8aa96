"""auto-sklearn 1.0 style meta-learning: L1 distance on normalised meta-features, the best
configurations of the nearest datasets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._arrays import array_from_json, array_to_json
from autometa.metamodel._base import TIE_DECIMALS, MetaModel
from autometa.metamodel._training import TrainingData


class KNNModel(MetaModel):
    """Nearest training datasets in meta-feature space (L1 on [0, 1]-scaled features).

    ``rank`` scores each config by its distance-weighted mean normalised score over the
    ``n_neighbors`` nearest datasets; ``select`` is auto-sklearn's warm start: the best
    config of the nearest dataset, then of the second nearest, and so on through the
    ``n_neighbors`` nearest, then their second-best configs, and so on.

    Parameters
    ----------
    n_neighbors : int
        Neighbours averaged by ``rank`` and visited round by round by ``select``.
    random_state : int

    Examples
    --------
    >>> KNNModel(n_neighbors=5).fit(kb, "regression", "r2")  # doctest: +SKIP
    """

    name = "knn"

    def __init__(self, n_neighbors: int = 10, random_state: int = 0) -> None:
        super().__init__(random_state)
        self.n_neighbors = n_neighbors

    def _fit(self, data: TrainingData) -> None:
        u = data.utility(0.0)
        self.U_ = np.where(np.isnan(u), -1.0, u)

    def _distances(self, x: np.ndarray) -> np.ndarray:
        return np.abs(self.X_ - x).sum(axis=1)

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        d = self._distances(x)
        idx = np.argsort(d, kind="stable")[: self.n_neighbors]
        w = 1.0 / (d[idx] + 1e-3)
        w /= w.sum()
        U = self.U_[idx]
        mean = w @ U
        std = np.sqrt(w @ (U - mean) ** 2)
        return mean, std

    def select(
        self,
        metafeatures: pd.Series | Mapping[str, float],
        k: int,
        *,
        allowed: np.ndarray | None = None,
    ) -> list[int]:
        x, _ = self._query(metafeatures)
        order = np.argsort(self._distances(x), kind="stable")
        n_c = len(self.config_ids_)
        allowed = np.ones(n_c, bool) if allowed is None else np.asarray(allowed, bool)
        # each dataset's configs best first, equal scores by the single-best score
        U = np.round(self.U_, TIE_DECIMALS)
        ranked = np.lexsort((np.broadcast_to(-self.sbs_, U.shape), -U), axis=1)
        chosen: list[int] = []
        seen = np.zeros(n_c, bool)
        # Round r takes the r-th best config of each of the n_neighbors nearest datasets,
        # nearest first; farther datasets only once those are used up, and configs outside
        # ``allowed`` only once no allowed one is left.
        for only_allowed in (True, False):
            for neighbours in (order[: self.n_neighbors], order):
                for r in range(n_c):
                    for i in neighbours:
                        c = int(ranked[i, r])
                        if not seen[c] and (allowed[c] or not only_allowed):
                            seen[c] = True
                            chosen.append(c)
                            if len(chosen) >= k:
                                return chosen
        return chosen

    def _get_state(self) -> dict[str, Any]:
        return {"U": array_to_json(self.U_)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.U_ = array_from_json(state["U"]).reshape(len(self.datasets_), -1)
