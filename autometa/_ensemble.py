"""Greedy ensemble selection (Caruana et al. 2004), the fitted ensemble it produces,
:func:`choose`: what an AutoClassifier/AutoRegressor refits at the end of its search, and
:func:`final_model`: the model those refits make.

:func:`select` picks members from a library of out-of-fold predictions, with replacement:
start from the best single model, then repeatedly add the model (possibly one already in)
whose addition improves the metric of the averaged predictions most. Counts become
weights. It is what auto-sklearn and AutoGluon do after their search; it never does worse
than the best single model on the out-of-fold predictions, because the iteration with the
best score is kept and the first iteration is that model alone.

Classifiers are averaged as probabilities over class *indices* ``0 .. n_classes - 1``
(autometa fits its pipelines on integer-coded labels); a member without ``predict_proba``
(linear or RBF SVM) contributes the softmax of its decision function, an uncalibrated
but order-preserving score.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "WeightedEnsemble",
    "choose",
    "final_model",
    "member_output",
    "score_predictions",
    "select",
]

#: Rounds of greedy selection (auto-sklearn uses 50; the gain beyond ~25 is small).
ROUNDS = 25


def member_output(estimator: Any, X: Any, task: str, n_classes: int | None) -> np.ndarray:
    """Predictions of one fitted pipeline: a ``(n, n_classes)`` probability matrix over
    class indices for classification (classes absent from its training data get 0), the
    predicted values for regression."""
    if task == "regression":
        return np.asarray(estimator.predict(X), dtype=float).ravel()
    fitted = np.asarray(estimator.classes_).astype(int)
    if hasattr(estimator, "predict_proba"):
        scores = np.asarray(estimator.predict_proba(X), dtype=float)
    else:
        decision = np.asarray(estimator.decision_function(X), dtype=float)
        if decision.ndim == 1:  # binary: the score of classes_[1]
            decision = np.column_stack([-decision, decision]) / 2
        decision = decision - decision.max(axis=1, keepdims=True)
        scores = np.exp(decision)
        scores /= scores.sum(axis=1, keepdims=True)
    full = np.zeros((scores.shape[0], int(n_classes)))
    full[:, fitted] = scores[:, : len(fitted)]
    return full


def score_predictions(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """``metric`` of predictions ``pred`` (probabilities over class indices, or values)
    against ``y`` (class indices, or values). NaN where the metric is undefined."""
    from sklearn import metrics as skm

    y = np.asarray(y)
    if pred.ndim == 2:
        if metric in ("accuracy", "balanced_accuracy"):
            labels = pred.argmax(axis=1)
            if metric == "accuracy":
                return float(np.mean(labels == y))
            return float(skm.balanced_accuracy_score(y, labels))
        if metric == "log_loss":
            p = np.clip(pred, 1e-15, 1.0)
            p /= p.sum(axis=1, keepdims=True)
            return float(skm.log_loss(y, p, labels=np.arange(pred.shape[1])))
        if metric == "roc_auc":
            from autometa.evaluate import _macro_ovr_auc

            return _macro_ovr_auc(y, pred, np.arange(pred.shape[1]))
    else:
        if metric == "r2":
            return float(skm.r2_score(y, pred)) if len(y) > 1 else float("nan")
        if metric == "rmse":
            return float(np.sqrt(np.mean((y - pred) ** 2)))
        if metric == "mae":
            return float(np.mean(np.abs(y - pred)))
    raise ValueError(f"metric {metric!r} does not apply to these predictions")


def select(
    predictions: Sequence[np.ndarray],
    score: Callable[[np.ndarray], float],
    *,
    greater_is_better: bool = True,
    rounds: int = ROUNDS,
) -> np.ndarray:
    """Greedy ensemble selection with replacement.

    Parameters
    ----------
    predictions : sequence of ndarray
        Out-of-fold predictions of each library model, all of one shape, best-ranked
        model first (ties go to the earlier model).
    score : callable
        ``score(averaged_predictions) -> float`` (against the out-of-fold targets).
    greater_is_better : bool, default=True
    rounds : int, default=ROUNDS
        Models added, counting the first.

    Returns
    -------
    ndarray of float
        One weight per library model, summing to 1 (zeros for models not selected).
    """
    n = len(predictions)
    sign = 1.0 if greater_is_better else -1.0
    stack = np.stack([np.asarray(p, dtype=float) for p in predictions])
    counts = np.zeros(n)
    total = np.zeros_like(stack[0])
    best_counts, best_score = None, -np.inf
    for r in range(rounds):
        values = np.full(n, -np.inf)
        for j in range(n):
            value = score((total + stack[j]) / (r + 1))
            if np.isfinite(value):
                values[j] = sign * value
        if not np.isfinite(values).any():
            break
        j = int(np.argmax(values))  # first maximum: the better-ranked model wins ties
        counts[j] += 1
        total += stack[j]
        # Strictly better only: a tie keeps the smaller (earlier) ensemble.
        if values[j] > best_score + 1e-12:
            best_score, best_counts = values[j], counts.copy()
    if best_counts is None:
        best_counts = np.eye(n)[0]
    return best_counts / best_counts.sum()


class WeightedEnsemble(BaseEstimator):
    """A weighted average of fitted autometa pipelines (the output of :func:`select`).

    Built already fitted by :class:`autometa.AutoClassifier` /
    :class:`autometa.AutoRegressor`; it has no ``fit`` of its own.

    Parameters
    ----------
    estimators : list of (name, estimator) tuples
        Fitted pipelines (trained on class indices for classification).
    weights : list of float
        One per estimator, summing to 1.
    task : {"classification", "regression"}, default="classification"
    n_classes : int or None, default=None
        Number of classes (classification).
    """

    def __init__(self, estimators=None, weights=None, task="classification", n_classes=None):
        self.estimators = estimators
        self.weights = weights
        self.task = task
        self.n_classes = n_classes

    def _average(self, X: Any) -> np.ndarray:
        total = None
        for (_, estimator), weight in zip(self.estimators, self.weights):
            out = weight * member_output(estimator, X, self.task, self.n_classes)
            total = out if total is None else total + out
        return total

    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted mean of the members' class probabilities (columns: class indices)."""
        return self._average(X)

    def predict(self, X: Any) -> np.ndarray:
        """Class index of the highest mean probability, or the weighted mean prediction."""
        if self.task == "regression":
            return self._average(X)
        return self._average(X).argmax(axis=1)

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.estimators)


def final_model(fitted: list, task: str, n_classes: int | None) -> Any:
    """The model of the refitted ``(candidate, pipeline)`` pairs: the one pipeline, or the
    :class:`WeightedEnsemble` of all; the candidates' weights are scaled to sum to 1."""
    total = sum(c.weight for c, _ in fitted) or 1.0
    for c, _ in fitted:
        c.weight = c.weight / total
    if len(fitted) == 1:
        return fitted[0][1]
    return WeightedEnsemble(
        estimators=[(f"{c.algorithm}-{i}", p) for i, (c, p) in enumerate(fitted)],
        weights=[c.weight for c, _ in fitted],
        task=task,
        n_classes=n_classes,
    )


def choose(search: Any, ensemble: bool, log: Any) -> tuple[list, float]:
    """The models to refit, with weights, and their cross-validated score: an ensemble
    selected over the out-of-fold predictions when it beats the best single model and its
    refits fit in the time left, else the best model whose refit fits."""
    n, n_splits, metric = search.n, len(search.splits), search.metric
    complete = search.ranked([c for c in search.candidates if c.complete(n, n_splits)])
    left = search.deadline - time.monotonic() - search.overhead()

    def fits(cands: list) -> bool:
        return sum(e if np.isfinite(e := search.refit_estimate(c)) else 0.0 for c in cands) <= left

    library = [c for c in complete if c.oof is not None]
    if ensemble and len(library) >= 2:
        weights = select(
            [c.oof for c in library],
            lambda p: score_predictions(metric, search.y, p),
            greater_is_better=search.sign > 0,
        )
        chosen = [(c, w) for c, w in zip(library, weights) if w > 0]
        blend = sum(w * c.oof for c, w in chosen)
        score = float(
            np.mean(
                [
                    score_predictions(metric, search.y[test], blend[test])
                    for _, test in search.splits
                ]
            )
        )
        if (
            len(chosen) > 1
            and search.sign * score >= search.sign * complete[0].score
            and fits([c for c, _ in chosen])
        ):
            for c, w in chosen:
                c.weight = float(w)
            log(
                f"ensemble of {len(chosen)}: cv {metric} {score:.4f} "
                f"(best single {complete[0].score:.4f})"
            )
            return chosen, score
    # Without a complete evaluation: the best score at the fidelity the candidates share
    # (whatever stopped them later), then the eliminated ones and the rest.
    eliminated = [c for c in search.candidates if c.status == "eliminated"]
    pool = complete or search.by_common_fidelity(search.contenders()) + search.ranked(eliminated)
    if not pool:
        return [], float("nan")
    pick = next((c for c in pool if fits([c])), None)
    if pick is None:  # nothing fits: the fastest, to overrun as little as possible
        pick = min(pool, key=lambda c: np.nan_to_num(search.refit_estimate(c), nan=np.inf))
    pick.weight = 1.0
    return [(pick, 1.0)], pick.score if pick in complete else float("nan")
