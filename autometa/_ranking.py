"""The ranking step of :func:`autometa.recommend`: from a fitted meta-model's predictions
for a dataset to the ranked :class:`~autometa.recommendation.Recommendation` items.

:func:`rank` predicts, leaves out what cannot be used on the dataset (an optional
algorithm this installation lacks, one that does not apply to the table, one expected to
take longer than the time budget) and picks the top ``k``; :func:`recommendation_items`
dresses the picks with their evidence (how they did on the nearest knowledge-base
datasets). :func:`reference` and :func:`neighbour_metafeatures` compute what ``plot()``
and ``explain()`` show, from what the ranking used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autometa._recommendations import Recommendation

__all__ = [
    "Neighbours",
    "Ranking",
    "applicable",
    "nearest",
    "neighbour_metafeatures",
    "rank",
    "recommendation_items",
    "reference",
]

#: A user's final fit trains on all rows, a CV fold on 80%: scale the stored fold times.
FULL_FIT_FACTOR = 1.25
#: The nearest knowledge-base datasets a recommendation's evidence shows.
N_NEIGHBOURS = 5


@dataclass
class Ranking:
    """What :func:`rank` found; arrays are in the meta-model's configuration order."""

    #: Predicted normalised scores (1: the best of the portfolio, 0: its median).
    scores: np.ndarray
    #: Their standard deviations, inflated by the dataset's novelty.
    std: np.ndarray
    #: The same two in the metric's units.
    raw: np.ndarray
    raw_std: np.ndarray
    #: Predicted seconds of a fit on the whole dataset.
    fit_time: np.ndarray
    #: The recommended configurations (indices), best first.
    picks: list[int]
    #: What the caller should know about the ranking.
    notes: list[str]


@dataclass
class Neighbours:
    """The knowledge-base datasets nearest to the query, and their scores."""

    #: Their rows in the meta-model's training data, and their distances.
    idx: np.ndarray
    distances: np.ndarray
    names: list[Any]
    #: Their scores of every configuration (datasets x config ids), and ranks among them.
    performance: pd.DataFrame
    ranks: pd.DataFrame


def rank(
    fitted: Any,
    configs: dict,
    dataset: Any,
    mf: pd.Series,
    *,
    k: int,
    time_budget: float | None,
    novelty_factor: float,
    probes: dict[str, float],
) -> Ranking:
    """Rank ``fitted``'s configurations for ``dataset`` (meta-features ``mf``) and pick the
    top ``k`` of those that may be used on it (see :func:`applicable`); with a
    ``time_budget``, configurations expected to fit on all rows within it come first."""
    with_probes = {"probes": probes} if probes else {}
    scores, std = fitted.rank(mf, **with_probes)
    std = std * novelty_factor
    fit_time = fitted.predict_fit_time(len(dataset.X), dataset.X.shape[1]) * FULL_FIT_FACTOR
    usable, notes = applicable(fitted, configs, dataset)
    n_usable = int(usable.sum())
    allowed = None if usable.all() else usable
    if time_budget is not None:
        allowed = ~(fit_time > time_budget) & usable  # unknown (NaN) times are allowed
        if not allowed.any():
            notes.append(
                f"no configuration is expected to fit within time_budget={time_budget:g}s; "
                "the fastest are ranked first"
            )
            order = np.argsort(np.nan_to_num(fit_time, nan=np.inf), kind="stable")
            order = order[usable[order]]
            allowed = np.zeros(len(fit_time), bool)
            allowed[order[: max(k, 1)]] = True
    if k > n_usable:
        notes.append(
            f"k={k} is more than the knowledge base's {n_usable} "
            f"{dataset.task} configurations{'' if usable.all() else ' that apply here'}; "
            "all of them are returned"
        )
    picks = fitted.select(mf, min(k, n_usable), allowed=allowed, **with_probes) if n_usable else []
    # allowed= ranks the others last; a configuration that cannot be used here never comes
    picks = [c for c in picks if usable[c]]
    notes += caveats(fitted, configs, picks, dataset)
    raw, raw_std = fitted.to_raw(scores, std, mf, n_rows=len(dataset.y))
    return Ranking(scores, std, raw, raw_std, fit_time, picks, notes)


def _config_of(fitted: Any, configs: dict, c: int) -> tuple[Any, str | None]:
    """The ``c``-th configuration of ``fitted`` (the knowledge base's, else the model's own)
    and its algorithm's name (``None`` for an opaque configuration)."""
    cid = fitted.config_ids_[c]
    config = configs.get(cid, fitted.configs_.get(cid))
    name = config.get("algorithm") if isinstance(config, dict) else None
    return config, name if isinstance(name, str) else None


def applicable(fitted: Any, configs: dict, dataset: Any) -> tuple[np.ndarray, list[str]]:
    """Which of the meta-model's configurations may be recommended for ``dataset``, and
    notes on the others: not one of an optional algorithm this installation lacks (the
    few-shot learner without PyTorch), nor one that does not apply to the table
    (:func:`autometa.space.not_applicable`: the few-shot learner beyond 1,000 rows or 100
    features after preprocessing). Every other configuration (opaque ones of a
    ``from_frames`` knowledge base included) is allowed, without any work."""
    from autometa import space
    from autometa.errors import ConfigError

    task = dataset.task
    mask = np.ones(len(fitted.config_ids_), dtype=bool)
    reasons: dict[str, str] = {}
    for c in range(len(fitted.config_ids_)):
        config, name = _config_of(fitted, configs, c)
        if name is None:
            continue
        algorithm = space.ALGORITHMS[task].get(name)
        if algorithm is None:
            why = space.unavailable(task, name)
            if why is not None:
                mask[c] = False
                reasons.setdefault(name, why)
            continue
        if not algorithm.limited:
            continue
        try:
            why = space.not_applicable(
                dict(config, task=task), dataset.X, dataset.y, dataset.categorical
            )
        except ConfigError:  # not a valid configuration: make_pipeline says so
            continue
        if why is not None:
            mask[c] = False
            reasons.setdefault(name, why)
    notes = [
        f"configurations of {name!r} are not recommended: {why}" for name, why in reasons.items()
    ]
    return mask, notes


def caveats(fitted: Any, configs: dict, picks: list[int], dataset: Any) -> list[str]:
    """What a user should know about the picked configurations on ``dataset``
    (:func:`autometa.space.caveat`), one note per algorithm."""
    from autometa import space
    from autometa.errors import ConfigError

    said: dict[str, str | None] = {}
    for c in picks:
        config, name = _config_of(fitted, configs, c)
        if name is None or name in said:
            continue
        algorithm = space.ALGORITHMS[dataset.task].get(name)
        if algorithm is None or algorithm.caveat is None:
            continue
        try:
            said[name] = space.caveat(dict(config, task=dataset.task), dataset.y)
        except ConfigError:  # not a valid configuration: make_pipeline says so
            continue
    return [f"{name!r}: {why}" for name, why in said.items() if why is not None]


def nearest(fitted: Any, kb: Any, mf: pd.Series, *, task: str, metric: str) -> Neighbours:
    """The :data:`N_NEIGHBOURS` knowledge-base datasets nearest to the query's ``mf``."""
    idx, dist = fitted.neighbours(mf, N_NEIGHBOURS)
    names = [fitted.datasets_[i] for i in idx]
    perf = kb.performance(task, metric).reindex(index=names)
    ranks = perf.rank(axis=1, ascending=not kb.greater_is_better(metric), method="min")
    return Neighbours(idx, dist, names, perf, ranks)


def recommendation_items(
    fitted: Any,
    configs: dict,
    ranking: Ranking,
    neighbours: Neighbours,
    *,
    dataset: Any,
    metric: str,
) -> list[Recommendation]:
    """One :class:`Recommendation` per pick of ``ranking``, best first, with its evidence
    on the ``neighbours``."""
    perf, perf_rank = neighbours.performance, neighbours.ranks
    items = []
    for r, c in enumerate(ranking.picks, start=1):
        cid = fitted.config_ids_[c]
        config = dict(configs.get(cid, fitted.configs_.get(cid, {"algorithm": cid})))
        evidence = pd.DataFrame(
            {
                "dataset": neighbours.names,
                "distance": neighbours.distances,
                "score": perf[cid].to_numpy() if cid in perf.columns else np.nan,
                "rank": perf_rank[cid].to_numpy() if cid in perf_rank.columns else np.nan,
                "n_configs": perf.notna().sum(axis=1).to_numpy(),
            }
        )
        items.append(
            Recommendation(
                config=config,
                config_id=cid,
                algorithm=str(config.get("algorithm", cid)),
                rank=r,
                predicted_score=float(ranking.raw[c]),
                predicted_std=float(ranking.raw_std[c]),
                predicted_normalised=float(ranking.scores[c]),
                predicted_fit_time=float(ranking.fit_time[c]),
                evidence=evidence,
                metric=metric,
                task=dataset.task,
                categorical=list(dataset.categorical),
            )
        )
    return items


def reference(model: Any, ranking: Ranking) -> dict[str, Any] | None:
    """The single best configuration of the knowledge base (``sbs_``: best mean normalised
    score over its datasets) with the prediction the same model made for it here."""
    sbs = getattr(model, "sbs_", None)
    if sbs is None or not len(sbs) or not np.isfinite(sbs).any():
        return None
    c = int(np.nanargmax(sbs))
    cid = model.config_ids_[c]
    return {
        "config_id": cid,
        "algorithm": str(model.configs_.get(cid, {}).get("algorithm", cid)),
        "predicted_score": float(ranking.raw[c]),
        "predicted_std": float(ranking.raw_std[c]),
        "rank": next((r for r, p in enumerate(ranking.picks, start=1) if p == c), None),
    }


def neighbour_metafeatures(
    model: Any, kb: Any, mf: pd.Series, idx: np.ndarray, names: Sequence[str]
) -> pd.DataFrame | None:
    """The query's and its nearest datasets' meta-features (those the distance uses), and
    the mean scaled gap to those datasets and to the whole knowledge base
    (:attr:`Recommendations.neighbour_metafeatures`)."""
    cols = list(getattr(model.scaler_, "columns_", []))
    if not cols or not len(idx):
        return None
    x = model.scaler_.transform(mf.reindex(cols).to_frame().T)[0]
    gaps = np.abs(model.X_ - x)
    try:
        values = kb.metafeatures(model.task_).reindex(index=list(names), columns=cols)
    except Exception:  # noqa: BLE001 - an unusual KB only loses the raw values
        values = pd.DataFrame(np.nan, index=list(names), columns=cols)
    frame = pd.DataFrame({"query": mf.reindex(cols).to_numpy(dtype=float)}, index=cols)
    for name in names:
        frame[str(name)] = values.loc[name].to_numpy(dtype=float)
    frame["gap_neighbours"] = gaps[idx].mean(axis=0)
    frame["gap_kb"] = gaps.mean(axis=0)
    frame.index.name = "metafeature"
    return frame
