"""The study of a :func:`autometa.tune` call: opened, and checked to tune the same problem.

A study records what it tunes (user attribute :data:`STUDY_ATTR`: dataset, task, metric,
cv, number of rows, autometa version); another ``tune`` call on it must tune the same
dataset, task and metric. A process that joins a study with trials, or resumes one, draws
with a sampler seed of its own (:func:`process_seed`), so that processes sharing a study do
not all propose the same configurations.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

from autometa.errors import ConfigError

__all__ = ["STUDY_ATTR", "check_same_problem", "open_study", "process_seed", "study_info"]

#: Study user attribute holding what the study tunes (dataset, task, metric, cv).
STUDY_ATTR = "autometa"


def study_info(dataset: Any, metric: str, cv: int) -> dict[str, Any]:
    """What a study of ``dataset`` tunes (its :data:`STUDY_ATTR` user attribute)."""
    from autometa import __version__

    return {
        "dataset": dataset.name,
        "task": dataset.task,
        "metric": metric,
        "cv": cv,
        "n_rows": len(dataset.X),
        "autometa_version": __version__,
    }


def check_same_problem(study: Any, info: dict[str, Any]) -> None:
    """Record ``info`` with a new study; an existing one must tune the same dataset, task
    and metric (a :class:`~autometa.errors.ConfigError` otherwise)."""
    stored = study.user_attrs.get(STUDY_ATTR)
    if not stored:
        study.set_user_attr(STUDY_ATTR, info)
        return
    for key in ("task", "metric", "dataset"):
        if stored.get(key) != info[key]:
            raise ConfigError(
                f"study {study.study_name!r} tunes {key}={stored.get(key)!r}, not {info[key]!r}; "
                "use another study_name (or storage) for a different problem"
            )


def process_seed(random_state: int, n_existing: int) -> int:
    """A sampler seed of its own for a process joining (or resuming) a study."""
    text = f"{random_state}:{n_existing}:{os.getpid()}:{time.time_ns()}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def open_study(
    storage: Any,
    study_name: str | None,
    sampler: Any,
    direction: str,
    info: dict[str, Any],
    random_state: int,
    *,
    make_sampler: Callable[[int], Any],
) -> Any:
    """The study to tune on the Optuna ``storage``: created, or loaded and checked to tune
    the same problem (``info``). A study that already has trials (a resume, or a second
    process) draws with a sampler seed of this process's own (``make_sampler(seed)``, the
    default sampler, when ``sampler`` is None)."""
    import optuna

    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        sampler=sampler if sampler is not None else make_sampler(random_state),
        direction=direction,
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {study.study_name!r} is set to {study.direction.name.lower()}, but "
            f"metric {info['metric']!r} needs {direction}"
        )
    check_same_problem(study, info)
    n_existing = len(study.get_trials(deepcopy=False))
    if n_existing:
        # A resumed study or a second process: draw other configurations than the
        # process that started the study with the same random_state did.
        if sampler is None:
            study.sampler = make_sampler(process_seed(random_state, n_existing))
        else:
            study.sampler.reseed_rng()
    return study
