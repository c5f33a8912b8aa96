"""How far outside its knowledge base a dataset lies (:func:`autometa.recommend`'s
:class:`~autometa.recommendation.NoveltyWarning`).

Two looks at the fitted meta-model's training data: the dataset's size meta-features
against the knowledge base's range, and its nearest-neighbour distance against the
knowledge-base datasets' own nearest-neighbour distances. A dataset far out on either
gets its ``predicted_std`` inflated by :func:`novelty`'s factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["novelty"]

#: A size meta-feature this many times above the knowledge base's largest (or below its
#: smallest) value is outside its range.
RANGE_MARGIN = 1.5
#: Above this share of imputed meta-features, the dataset is unlike the knowledge base.
MAX_IMPUTED_SHARE = 0.5
#: The typical nearest-neighbour distance between knowledge-base datasets: this quantile
#: of their nearest-neighbour distances.
TYPICAL_QUANTILE = 0.9
#: A nearest knowledge-base dataset this many times farther away than typical is novel.
FAR_FACTOR = 1.5
#: The factor a dataset with any reason to be novel inflates the std by at least.
MIN_NOVEL_FACTOR = 2.0


def novelty(model: Any, mf: pd.Series, dataset: Any) -> tuple[float, list[str]]:
    """How far outside the knowledge base the dataset lies: a factor >= 1 for the std, and
    reasons. Compares the size meta-features with the training range and the nearest
    neighbour distance with the training datasets' own nearest-neighbour distances."""
    cols = list(model.scaler_.columns_)
    q = mf.reindex(cols).to_frame().T
    x = model.scaler_.transform(q)[0]
    X = model.X_
    reasons = _size_reasons(model, cols, dataset)
    missing = float(model.scaler_.missing(q).mean()) if cols else 1.0
    if missing > MAX_IMPUTED_SHARE:
        reasons.append(
            f"{missing:.0%} of the knowledge base's meta-features could not be "
            "computed for this dataset and were imputed"
        )
    d = np.abs(X - x).sum(axis=1)
    nn = float(d.min()) if len(d) else np.inf
    if len(X) >= 3:
        D = np.abs(X[:, None, :] - X[None, :, :]).sum(axis=2)
        np.fill_diagonal(D, np.inf)
        typical = float(np.quantile(D.min(axis=1), TYPICAL_QUANTILE))
    else:
        typical = nn
    factor = max(1.0, nn / max(typical, 1e-9))
    if factor > FAR_FACTOR and not reasons:
        reasons.append(
            f"its nearest knowledge-base dataset is {factor:.1f}x farther away "
            "than is typical between knowledge-base datasets"
        )
    if reasons:
        factor = max(factor, MIN_NOVEL_FACTOR)
    return factor, reasons


def _size_reasons(model: Any, cols: list[str], dataset: Any) -> list[str]:
    """The dataset's sizes (rows, features, classes) outside the knowledge base's range."""
    from autometa.metamodel._base import find_feature

    reasons: list[str] = []
    lo, hi = model.X_.min(axis=0), model.X_.max(axis=0)
    sizes = {"n_instances": len(dataset.X), "n_features": dataset.X.shape[1]}
    if dataset.task == "classification":
        sizes["n_classes"] = int(pd.Series(dataset.y).nunique())
    for kind, value in sizes.items():
        col = find_feature(cols, kind)
        if col is None:
            continue
        j = cols.index(col)
        raw_lo = _unscale(model, j, lo[j])
        raw_hi = _unscale(model, j, hi[j])
        if value > raw_hi * RANGE_MARGIN or value < raw_lo / RANGE_MARGIN:
            reasons.append(
                f"{kind.replace('n_', 'number of ')} = {value:g} is outside the "
                f"knowledge base's range [{raw_lo:.3g}, {raw_hi:.3g}]"
            )
    return reasons


def _unscale(model: Any, j: int, v: float) -> float:
    """Meta-feature ``j``'s scaled value ``v`` on its raw axis."""
    s = model.scaler_
    t = v * s.span_[j] + s.min_[j]
    if s.log_[j]:
        t = np.sign(t) * np.expm1(abs(t))
    return float(t)
