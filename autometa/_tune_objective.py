"""The objective of :func:`autometa.tune`: one trial's configuration, cross-validated.

:class:`Objective` draws the configuration with :func:`autometa.space.suggest`, evaluates
it with :func:`autometa.evaluate.evaluate` (an isolated worker with time and memory
limits), records the trial's ``user_attrs`` (``config``, ``config_id``, ``folds``,
``status``, ``error``, ``metric``, ``categorical``) and returns the state and value to
tell: ``COMPLETE``; ``PRUNED`` for a timeout, running out of memory or a configuration
that does not apply to the table (``not_applicable``, not run); ``FAIL`` for an error.
A configuration that a finished trial of the study already evaluated is not evaluated
again (:data:`DUPLICATE_ATTR`).
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from typing import Any

from autometa import space
from autometa._constants import NOT_APPLICABLE
from autometa._io import json_safe
from autometa._tune_budget import evaluated

__all__ = ["DUPLICATE_ATTR", "MAX_ERROR_CHARS", "PRUNED_STATUSES", "Objective"]

#: Trial user attribute of a trial whose configuration an earlier trial of the study had
#: already evaluated: that trial's number (its result is reused, nothing is evaluated).
DUPLICATE_ATTR = "duplicate_of"
#: Characters of an error message a trial keeps (the last ones).
MAX_ERROR_CHARS = 1000
#: Evaluation statuses that end a trial PRUNED rather than FAIL: stopped at a resource
#: limit, or not run because the configuration does not apply to the table.
PRUNED_STATUSES = ("timeout", "memory", NOT_APPLICABLE)


def _jsonable_folds(folds: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold records as strict JSON (NaN as null: every storage accepts them), each error
    cut to its last :data:`MAX_ERROR_CHARS` characters."""
    out = []
    for record in folds:
        row = json_safe(dict(record))
        if isinstance(row.get("error"), str):
            row["error"] = row["error"][-MAX_ERROR_CHARS:]
        out.append(row)
    return out


def _earlier_result(study: Any, config_id: str, number: int) -> Any | None:
    """The first finished trial of ``study`` that evaluated ``config_id`` (None if none)."""
    import optuna

    State = optuna.trial.TrialState
    finished = study.get_trials(deepcopy=False, states=(State.COMPLETE, State.PRUNED, State.FAIL))
    for other in sorted(finished, key=lambda t: t.number):
        attrs = other.user_attrs or {}
        if (
            other.number != number
            and attrs.get("config_id") == config_id
            and isinstance(attrs.get("folds"), list)
            and evaluated(other)
        ):
            return other
    return None


class Objective:
    """Draw a configuration, cross-validate it, return the state and value to tell.

    A configuration that a finished trial of the study already evaluated is not evaluated
    again: its folds are reused and the trial records :data:`DUPLICATE_ATTR`."""

    def __init__(
        self,
        dataset: Any,
        metric: str,
        *,
        cv: int,
        time_limit: float | None,
        memory_limit_mb: float | None,
        random_state: int,
        cache: MutableMapping[str, Any] | None,
        algorithms: Sequence[str] | None = None,
    ) -> None:
        from autometa.metrics import metrics_for

        self.dataset = dataset
        self.metric = metric
        self.metrics = metrics_for(dataset.task)
        self.cv = cv
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb
        self.random_state = random_state
        self.cache = cache
        self.categorical = list(dataset.categorical)
        #: The study's algorithm names (``space.suggest``'s ``algorithms``; None: its default).
        self.algorithms = None if algorithms is None else list(algorithms)

    def __call__(self, trial: Any) -> tuple[Any, float | None]:
        import optuna

        from autometa.evaluate import evaluate

        State = optuna.trial.TrialState
        config = space.suggest(trial, self.dataset.task, algorithms=self.algorithms)
        cid = space.config_id(config)
        trial.set_user_attr("config", config)
        trial.set_user_attr("config_id", cid)
        trial.set_user_attr("metric", self.metric)
        trial.set_user_attr("categorical", self.categorical)
        earlier = _earlier_result(trial.study, cid, trial.number)
        if earlier is not None:
            folds = earlier.user_attrs["folds"]
            trial.set_user_attr(DUPLICATE_ATTR, earlier.number)
        elif self.cache is not None and cid in self.cache:
            folds = self.cache[cid]
        else:
            result = evaluate(
                config,
                self.dataset,
                cv=self.cv,
                metrics=self.metrics,
                time_limit=self.time_limit,
                memory_limit_mb=self.memory_limit_mb,
                random_state=self.random_state,
                built_for=self.metric,
            )
            folds = _jsonable_folds(result.folds)
            if self.cache is not None:
                self.cache[cid] = folds
        trial.set_user_attr("folds", folds)
        status = next((f["status"] for f in folds if f["status"] != "ok"), "ok")
        error = next((f.get("error") or "" for f in folds if f["status"] != "ok"), "")
        values = [f.get(self.metric) for f in folds]
        value = None
        if status == "ok":
            if values and all(v is not None and math.isfinite(v) for v in values):
                value = float(sum(values) / len(values))
            else:
                status, error = "error", f"metric {self.metric!r} is undefined on some fold"
        trial.set_user_attr("error", error[-MAX_ERROR_CHARS:])
        trial.set_user_attr("status", status)  # last: a trial with a status has a result
        if status == "ok":
            return State.COMPLETE, value
        # Resource limits prune (the sampler learns they are bad), and so does a
        # configuration that does not apply to the table (the few-shot learner beyond its
        # feature limit after the drawn preprocessing: not run); exceptions fail.
        return (State.PRUNED if status in PRUNED_STATUSES else State.FAIL), None
