"""What the budgeted search (:mod:`autometa._search`) knows about each configuration.

A :class:`Candidate` is one configuration with its source (a recommendation or a tuning
trial) and what was measured of it. :func:`from_recommendations` and
:meth:`Candidate.from_trial` make them; :func:`leaderboard` is the table
:class:`autometa.AutoClassifier` and :class:`autometa.AutoRegressor` show as
``leaderboard_``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Candidate", "as_suggested", "from_recommendations", "leaderboard"]


@dataclass
class Candidate:
    """A configuration and what is known about it."""

    config: dict[str, Any]
    config_id: str
    source: str
    predicted_score: float = float("nan")
    predicted_fit_time: float = float("nan")
    rows: int = 0
    folds: int = 0
    score: float = float("nan")
    status: str = "pending"
    error: str = ""
    fold_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    oof: np.ndarray | None = None
    fits: list[tuple[int, float]] = field(default_factory=list)  # (training rows, seconds)
    #: Score at each fidelity measured, ``{(rows, folds): score}`` (the race's history).
    scores: dict[tuple[int, int], float] = field(default_factory=dict)
    weight: float = 0.0
    folds_total: int = 5

    @classmethod
    def from_recommendation(cls, rec: Any, config: dict[str, Any] | None = None) -> Candidate:
        """The candidate of recommendation ``rec`` (with ``config`` instead of its own,
        e.g. as :func:`as_suggested` writes it; its own keeps its knowledge-base id)."""
        from autometa import space

        if config is None:
            config, config_id = dict(rec.config), rec.config_id
        else:
            config_id = space.config_id(config)
        return cls(
            config=config,
            config_id=config_id,
            source=f"recommendation {rec.rank}",
            predicted_score=rec.predicted_score,
            predicted_fit_time=rec.predicted_fit_time,
        )

    @classmethod
    def from_trial(cls, trial: Any, *, n_rows: int, splits: Sequence) -> Candidate:
        """The candidate of a finished tuning trial (complete, pruned or failed) whose
        ``user_attrs`` hold its ``config`` and ``config_id``; a complete trial was
        cross-validated on all ``n_rows`` rows with ``splits``."""
        import optuna

        attrs = trial.user_attrs or {}
        cand = cls(
            config=attrs["config"],
            config_id=attrs["config_id"],
            source=f"tuning trial {trial.number}",
            folds_total=len(splits),
        )
        folds = attrs.get("folds") or []
        complete = trial.state == optuna.trial.TrialState.COMPLETE
        cand.status = "ok" if complete else attrs.get("status", "error")
        cand.error = attrs.get("error", "")
        if complete:
            cand.score, cand.rows, cand.folds = float(trial.value), n_rows, len(folds)
            cand.scores[(n_rows, len(folds))] = cand.score
            cand.fold_records = {int(f["fold"]): f for f in folds}
            cand.fits = [
                (len(splits[int(f["fold"])][0]), float(f["fit_time"]))
                for f in folds
                if f.get("fit_time") is not None
            ]
        return cand

    @property
    def algorithm(self) -> str:
        return str(self.config.get("algorithm", "?"))

    def complete(self, n: int, n_splits: int) -> bool:
        """Cross-validated on all rows and folds."""
        return self.status == "ok" and self.rows == n and self.folds == n_splits

    def eval_seconds(self) -> float:
        """Seconds one full cross-validation took (NaN when not measured)."""
        if not self.fold_records:
            return float("nan")
        per_fold = [
            r["fit_time"] + r["predict_time"]
            for r in self.fold_records.values()
            if r.get("fit_time") is not None
        ]
        return float(np.mean(per_fold) * self.folds_total) if per_fold else float("nan")


def as_suggested(config: dict, task: str) -> dict | None:
    """``config`` exactly as :func:`autometa.space.suggest` rebuilds it from its enqueued
    parameters (so the race's config ids are the ones ``tune`` looks up); None when it is
    not in the search space."""
    import optuna

    from autometa import space
    from autometa.errors import ConfigError

    # Optional algorithms (the few-shot learner) are raced like any other recommendation;
    # tune draws them where its recommendations hold one that applies to the table.
    names = space.algorithm_names(task, include_optional=True)
    try:
        params = space.to_trial_params(dict(config, task=task), algorithms=names)
    except ConfigError:
        return None
    study = optuna.create_study()
    study.enqueue_trial(params)
    return space.suggest(study.ask(), task, algorithms=names)


def from_recommendations(recs: Any, task: str, log: Callable[[str], None]) -> list[Candidate]:
    """The race's candidates: the recommendations in the search space (:func:`as_suggested`),
    in their order; ``log`` says which were skipped."""

    candidates = []
    for rec in recs:
        config = as_suggested(rec.config, task)
        if config is None:
            log(f"recommendation {rec.rank} is not in the search space; skipped")
            continue
        candidates.append(Candidate.from_recommendation(rec, config))
    return candidates


def leaderboard(cands: list, metric: str) -> pd.DataFrame:
    """The ``leaderboard_`` table of ``cands`` (in the order given)."""
    rows = []
    for c in cands:
        fit_times = [s for _, s in c.fits]
        rows.append(
            {
                "source": c.source,
                "algorithm": c.algorithm,
                "status": c.status,
                "score": c.score,
                "rows": c.rows or np.nan,
                "folds": c.folds or np.nan,
                "fit_time": float(np.mean(fit_times)) if fit_times else np.nan,
                "predicted_score": c.predicted_score,
                "weight": c.weight,
                "config_id": c.config_id,
                "config": c.config,
                "error": c.error,
            }
        )
    board = pd.DataFrame(rows)
    board.index = pd.RangeIndex(1, len(board) + 1, name="rank")
    board.attrs["metric"] = metric
    return board
