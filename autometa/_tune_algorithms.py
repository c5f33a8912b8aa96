"""The algorithms a :func:`autometa.tune` study draws from, and what it can enqueue.

Each study draws from one list of algorithms, decided when it starts and stored with it
(:func:`study_algorithms`): Optuna refuses other choices for a parameter within one
study, so resumed and parallel workers must read the same list. A recommendation is
enqueued only where the study can draw it and it applies to the table
(:func:`enqueueable`); the others are left out with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from autometa import space
from autometa.errors import ConfigError

__all__ = [
    "ALGORITHMS_ATTR",
    "enqueueable",
    "not_enqueueable",
    "optional_applies",
    "study_algorithms",
]

#: Study user attribute holding the algorithm names its trials draw from.
ALGORITHMS_ATTR = space.STUDY_ALGORITHMS_ATTR  # "autometa_algorithms"


def not_enqueueable(config: dict[str, Any], algorithms: Sequence[str], dataset: Any) -> str | None:
    """Why ``config`` cannot be a trial of a study that draws from ``algorithms`` on
    ``dataset`` (its algorithm is not one of them, or it does not apply to the table:
    :func:`autometa.space.not_applicable`), or ``None``."""
    name = config.get("algorithm")
    try:
        why = space.not_applicable(config, dataset.X, dataset.y, dataset.categorical)
    except ConfigError as exc:  # e.g. an algorithm this installation lacks
        why = (space.unavailable(dataset.task, name) if isinstance(name, str) else None) or str(exc)
    if why is None and name not in algorithms:
        why = (
            f"this study's trials draw from the algorithms {list(algorithms)} (fixed when "
            "the study started)"
        )
    return why


def enqueueable(
    configs: Sequence[dict[str, Any]],
    algorithms: Sequence[str],
    dataset: Any,
    warned: set[str] | None = None,
) -> list[dict[str, Any]]:
    """``configs`` that a study drawing from ``algorithms`` can run on ``dataset``, in
    order; a UserWarning for each other one (once per config id in ``warned``)."""
    kept = []
    for config in configs:
        why = not_enqueueable(config, algorithms, dataset)
        if why is None:
            kept.append(config)
            continue
        cid = space.config_id(config)
        if warned is None or cid not in warned:
            if warned is not None:
                warned.add(cid)
            warnings.warn(
                f"recommendation {cid!r} is not enqueued: {why}", UserWarning, stacklevel=4
            )
    return kept


def optional_applies(config: dict[str, Any], dataset: Any) -> bool:
    """Whether ``config`` is of an optional algorithm (the few-shot learner) that this
    installation has and that applies to the table."""
    algorithm = space.ALGORITHMS[dataset.task].get(config.get("algorithm"))
    if algorithm is None or not algorithm.optional:
        return False
    try:
        return space.not_applicable(config, dataset.X, dataset.y, dataset.categorical) is None
    except ConfigError:
        return False


def study_algorithms(
    study: Any, dataset: Any, candidates: Callable[[], Sequence[dict[str, Any]]]
) -> list[str]:
    """The algorithm names the trials of ``study`` draw from, decided once per study.

    The list stored with the study (:data:`ALGORITHMS_ATTR`) when it has one; for a study
    that has trials but no list (started by an older autometa, or by your own objective)
    suggest's default (no optional algorithm). A new study draws from the default list
    plus every optional algorithm (the few-shot learner) of which ``candidates()`` (the
    recommendations the study starts with) hold a configuration that applies to the table;
    the list is stored with it, so resumed and parallel workers draw from the same one
    (Optuna refuses other choices for a parameter within one study).

    Raises
    ------
    ConfigError
        The study's list names an algorithm this installation lacks (the few-shot learner
        without PyTorch).
    """
    task = dataset.task
    stored = study.user_attrs.get(ALGORITHMS_ATTR)
    if stored is not None:
        names = space.study_algorithms(study, task)
        if names != stored:
            raise ConfigError(
                f"study {study.study_name!r} holds a malformed {ALGORITHMS_ATTR!r} user "
                f"attribute: {stored!r}"
            )
        missing = [n for n in names if n not in space.ALGORITHMS[task]]
        if missing:
            why = "; ".join(
                f"{n!r}: {space.unavailable(task, n) or 'unknown algorithm'}" for n in missing
            )
            raise ConfigError(
                f"study {study.study_name!r} draws from algorithms this installation "
                f"lacks ({why}); run it where they are installed, or use another study"
            )
        return names
    default = space.algorithm_names(task)
    if study.get_trials(deepcopy=False):
        return default
    wanted = {c["algorithm"] for c in candidates() if optional_applies(c, dataset)}
    names = [
        n for n in space.algorithm_names(task, include_optional=True) if n in default or n in wanted
    ]
    study.set_user_attr(ALGORITHMS_ATTR, names)
    return names
