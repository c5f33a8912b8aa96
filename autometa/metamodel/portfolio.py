"""A static portfolio built greedily to minimise regret over the training datasets
(auto-sklearn 2.0, FLAML zero-shot and TabRepo build theirs this way)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._arrays import array_from_json, array_to_json
from autometa.metamodel._base import MetaModel
from autometa.metamodel._training import TrainingData


def greedy_portfolio(
    U: np.ndarray,
    k: int,
    weights: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    tie_break: np.ndarray | None = None,
    start: np.ndarray | None = None,
    virtual: tuple[float, np.ndarray] | None = None,
    taken: Sequence[int] = (),
    *,
    prefer: np.ndarray | None = None,
) -> list[int]:
    """Greedy maximisation of the (weighted) mean over datasets of the best normalised
    score within the chosen set -- i.e. minimal mean regret of the best of the set.

    Parameters
    ----------
    U : ndarray (n_datasets, n_configs)
        Normalised scores, NaN treated as 0 (no better than the median).
    k : number of configs to choose.
    weights : per-dataset weights (uniform by default).
    allowed : boolean mask; disallowed configs come only after every allowed one.
    tie_break : small per-config preference among equal gains (e.g. the mean score).
    virtual : ``(weight, scores)`` of one more, predicted dataset to include in the sum.
    taken : configs already chosen: never chosen again, and the best of them is where the
        sum starts (unless ``start`` is given).
    prefer : per-config preference among exactly equal gains (tie-break included), the
        higher first; the lower index decides the rest.

    Examples
    --------
    >>> greedy_portfolio(np.array([[1.0, 0.0, 0.9], [0.0, 1.0, 0.9]]), 2)
    [2, 0]
    """
    U = np.nan_to_num(np.asarray(U, float), nan=0.0, posinf=0.0, neginf=0.0)
    n_d, n_c = U.shape
    w = np.full(n_d, 1.0 / max(n_d, 1)) if weights is None else np.asarray(weights, float)
    tb = np.zeros(n_c) if tie_break is None else 1e-9 * np.asarray(tie_break, float)
    taken = [int(c) for c in taken]
    if start is not None:
        cur = np.asarray(start, float).copy()
    else:
        cur = U[:, taken].max(axis=1) if taken else np.zeros(n_d)
    vw, vs = (
        (0.0, np.zeros(n_c))
        if virtual is None
        else (float(virtual[0]), np.asarray(virtual[1], float))
    )
    vcur = -np.inf
    chosen: list[int] = []
    avail = np.ones(n_c, bool)
    avail[taken] = False
    allowed = np.ones(n_c, bool) if allowed is None else np.asarray(allowed, bool)
    for _ in range(min(k, int(avail.sum()))):
        gain = w @ np.maximum(U, cur[:, None]) + vw * np.maximum(vs, vcur) + tb
        pool = avail & allowed if (avail & allowed).any() else avail
        gain = np.where(pool, gain, -np.inf)
        c = int(np.argmax(gain))  # the first of equal gains, unless prefer says otherwise
        if prefer is not None:
            equal = np.flatnonzero(gain == gain[c])
            c = int(equal[np.argmax(np.asarray(prefer, float)[equal])])
        chosen.append(c)
        avail[c] = False
        cur = np.maximum(cur, U[:, c])
        vcur = max(vcur, vs[c])
    return chosen


class PortfolioModel(MetaModel):
    """Static greedy portfolio: the same ordered list for every dataset, each config added
    for what it adds to the best of the ones before it.

    ``rank`` returns the single-best scores (mean normalised score); ``select`` returns the
    portfolio order, which is what the portfolio is for.

    Examples
    --------
    >>> PortfolioModel().fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    """

    name = "portfolio"

    def _fit(self, data: TrainingData) -> None:
        U = data.utility(0.0)
        self.U_ = np.nan_to_num(U, nan=0.0)
        self.order_ = greedy_portfolio(self.U_, len(self.config_ids_), tie_break=self.sbs_)
        self.std_ = self.U_.std(axis=0)

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        return self.sbs_.copy(), self.std_.copy()

    def select(
        self,
        metafeatures: pd.Series | Mapping[str, float],
        k: int,
        *,
        allowed: np.ndarray | None = None,
    ) -> list[int]:
        if allowed is None or np.all(allowed):
            return list(self.order_[:k])
        return greedy_portfolio(self.U_, k, allowed=allowed, tie_break=self.sbs_)

    def _get_state(self) -> dict[str, Any]:
        return {
            "U": array_to_json(self.U_),
            "order": list(self.order_),
            "std": array_to_json(self.std_),
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.U_ = array_from_json(state["U"]).reshape(len(self.datasets_), -1)
        self.order_ = [int(i) for i in state["order"]]
        self.std_ = array_from_json(state["std"])
