"""Size-aware predictions: how much each algorithm gains from more rows.

The knowledge base scores every configuration on a subsample (its base fidelity, 500
rows) and the best ones again at the dataset's real size (up to 10,000 rows; the
``n_rows_used`` of each result). From the datasets that hold both, a slope per algorithm
of score gain against ``log(rows / base rows)`` -- shrunk towards the slope of all
algorithms pooled, as a few dozen pairs per algorithm would otherwise give wild values --
turns a prediction made at the base size into one for the user's row count.
Only metrics with the same units on every dataset (:attr:`autometa.metrics.Metric.bounded`)
get a gain; for RMSE or log loss a gain in one dataset's units means nothing on another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Weight, in units of ``sum(log-ratio^2)``, of the pooled slope in each algorithm's.
SHRINK = 5.0

#: Quantiles of all pairs' gains to which each gain is clipped before the slopes are fitted:
#: an unbounded metric such as R² can drop by 15 on one dataset (a linear model extrapolating
#: wildly at the real size), and one such dataset would otherwise turn a whole algorithm's
#: slope negative.
WINSORISE = (0.05, 0.95)


def size_pairs(kb: Any, task: str, metric: str, greater_is_better: bool) -> pd.DataFrame:
    """Per (dataset, config) with results at two sizes: the base and the largest size, and
    the gain in ``metric`` (greater is better) from one to the other."""
    columns = ["dataset", "config_id", "n_base", "n_large", "gain"]
    results = kb.results(task, fidelity="all")
    if "n_rows_used" not in results or metric not in results:
        return pd.DataFrame(columns=columns)
    ok = results[
        (results["status"] == "ok") & results[metric].notna() & results["n_rows_used"].notna()
    ]
    cells = ok.groupby(["dataset", "config_id", "n_rows_used"], as_index=False)[metric].mean()
    sizes = kb.rows_used(task).rename(columns={"base": "n_base", "largest": "n_large"})
    cells = cells.join(sizes, on="dataset")
    base = cells[cells["n_rows_used"] == cells["n_base"]]
    large = cells[(cells["n_rows_used"] == cells["n_large"]) & (cells["n_large"] > cells["n_base"])]
    pairs = large.merge(
        base[["dataset", "config_id", metric]],
        on=["dataset", "config_id"],
        suffixes=("_large", "_base"),
    )
    gain = pairs[f"{metric}_large"] - pairs[f"{metric}_base"]
    pairs["gain"] = gain if greater_is_better else -gain
    return pairs[columns].reset_index(drop=True)


def fit_slopes(pairs: pd.DataFrame, algorithm_of: Mapping[str, str]) -> dict[str, Any]:
    """Gain per unit of ``log(rows / base rows)``, per algorithm, shrunk to the pooled slope
    (least squares through the origin, on gains clipped to :data:`WINSORISE`).

    Returns ``{"slopes": {algorithm: slope}, "pooled": slope, "base_rows": rows,
    "max_rows": rows}``, or ``{}`` without pairs.
    """
    if pairs.empty:
        return {}
    x = np.log(pairs["n_large"].to_numpy(float) / pairs["n_base"].to_numpy(float))
    y = pairs["gain"].to_numpy(float)
    y = np.clip(y, *np.quantile(y, WINSORISE))
    pooled = float(x @ y / (x @ x))
    algorithms = pairs["config_id"].map(lambda c: algorithm_of.get(c, c)).to_numpy()
    slopes = {}
    for algorithm in np.unique(algorithms):
        mine = algorithms == algorithm
        slopes[str(algorithm)] = float(
            (x[mine] @ y[mine] + SHRINK * pooled) / (x[mine] @ x[mine] + SHRINK)
        )
    return {
        "slopes": slopes,
        "pooled": pooled,
        "base_rows": float(pairs["n_base"].median()),
        "max_rows": float(pairs["n_large"].max()),
    }


def size_model(
    kb: Any, task: str, metric: str, configs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The knowledge base's per-algorithm size slopes for ``metric`` (:func:`fit_slopes` on
    :func:`size_pairs`); ``{}`` for a metric without common units across datasets
    (:func:`autometa.metrics.is_bounded`), where a gain in one dataset's units means nothing
    on another."""
    from autometa.metrics import is_bounded

    if not is_bounded(metric):
        return {}
    pairs = size_pairs(kb, task, metric, kb.greater_is_better(metric))
    return fit_slopes(pairs, {c: str(cfg.get("algorithm", c)) for c, cfg in configs.items()})


def gains(model: Mapping[str, Any], algorithms: list[str], n_rows: float) -> np.ndarray:
    """Expected gain of each config (by algorithm) at ``n_rows`` over its base-size score;
    no gain below the base size, none beyond the largest size measured (no extrapolation)."""
    if not model or not np.isfinite(n_rows) or n_rows <= model["base_rows"]:
        return np.zeros(len(algorithms))
    ratio = np.log(min(float(n_rows), model["max_rows"]) / model["base_rows"])
    return np.array([model["slopes"].get(a, model["pooled"]) for a in algorithms]) * ratio
