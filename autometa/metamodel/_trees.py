"""Extra-trees kept as plain arrays (split feature, threshold, children) and routed with
numpy, so a fitted forest's state is JSON and nothing is unpickled; and the forest
*proximity* that turns a query's leaves into weights over the training datasets.

Shared by the meta-models' forest (:mod:`~autometa.metamodel.forest`) and the score level
(:mod:`~autometa.metamodel._level`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class _Trees:
    """A fitted scikit-learn forest flattened into one node table, routed with numpy."""

    def __init__(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        roots: np.ndarray,
    ) -> None:
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=float)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.roots = np.asarray(roots, dtype=np.int64)

    @classmethod
    def from_sklearn(cls, forest: Any) -> _Trees:
        feats, thrs, lefts, rights, roots = [], [], [], [], []
        offset = 0
        for est in forest.estimators_:
            t = est.tree_
            leaf = t.children_left < 0
            roots.append(offset)
            feats.append(np.where(leaf, 0, t.feature))
            thrs.append(np.where(leaf, 0.0, t.threshold))
            # a leaf points to itself, so routing can run a fixed number of steps
            own = np.arange(t.node_count) + offset
            lefts.append(np.where(leaf, own, t.children_left + offset))
            rights.append(np.where(leaf, own, t.children_right + offset))
            offset += t.node_count
        return cls(
            np.concatenate(feats),
            np.concatenate(thrs),
            np.concatenate(lefts),
            np.concatenate(rights),
            np.asarray(roots),
        )

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Leaf (global node id) of each row in each tree, shape ``(n_rows, n_trees)``."""
        # scikit-learn compares float32 features with float64 thresholds: do the same
        X = _with_a_column(np.atleast_2d(np.asarray(X, dtype=np.float32)).astype(float))
        node = np.broadcast_to(self.roots, (X.shape[0], len(self.roots))).copy()
        rows = np.arange(X.shape[0])[:, None]
        while True:
            nxt = np.where(
                X[rows, self.feature[node]] <= self.threshold[node],
                self.left[node],
                self.right[node],
            )
            if np.array_equal(nxt, node):
                return node
            node = nxt

    def get_state(self) -> dict[str, Any]:
        return {
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "roots": self.roots.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _Trees:
        return cls(
            state["feature"], state["threshold"], state["left"], state["right"], state["roots"]
        )


def grow_forest(
    X: np.ndarray,
    U: np.ndarray,
    *,
    n_estimators: int,
    min_samples_leaf: int,
    max_features: float,
    random_state: int,
    n_jobs: int = 1,
) -> _Trees:
    """Extra-trees predicting the score matrix ``U`` (n_datasets, n_configs) from the
    scaled meta-features ``X`` (n_datasets, n_features), as routable arrays."""
    from sklearn.ensemble import ExtraTreesRegressor

    forest = ExtraTreesRegressor(
        n_estimators=n_estimators,
        min_samples_leaf=min_samples_leaf,
        max_features=max_features,
        random_state=random_state,
        n_jobs=n_jobs,
    ).fit(_with_a_column(X), U)
    return _Trees.from_sklearn(forest)


def _with_a_column(X: np.ndarray) -> np.ndarray:
    """A knowledge base without meta-features still gets a (constant) column: every tree
    is then one leaf and the forest predicts the single best solver's mean scores."""
    return X if X.shape[1] else np.zeros((X.shape[0], 1))


def proximity(train_leaves: np.ndarray, query_leaves: np.ndarray) -> np.ndarray:
    """Forest proximity weights of the training datasets for one query (they sum to 1).

    Parameters
    ----------
    train_leaves : ndarray (n_datasets, n_trees)
    query_leaves : ndarray (n_trees,)
    """
    same = train_leaves == np.asarray(query_leaves)[None, :]
    w = (same / np.maximum(same.sum(axis=0), 1)).sum(axis=1)
    total = w.sum()
    return w / total if total > 0 else np.full(len(w), 1.0 / len(w))


def weighted_prediction(w: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forest's prediction for one query from its proximity weights ``w`` (training
    datasets) and the training datasets' scores ``U``: the weighted mean score of each
    config, and the weighted spread around it (its standard deviation)."""
    mean = w @ U
    return mean, np.sqrt(w @ (U - mean) ** 2)
