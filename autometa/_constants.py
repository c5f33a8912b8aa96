"""Names and limits the whole of autometa shares, each defined once.

This module imports nothing from autometa but :mod:`autometa.errors`, so that every layer
(``data``, ``space``, ``evaluate``, the knowledge base, ``batch``, ``recommendation``) can
use it without reaching upwards. The knowledge base's on-disk schema
(:mod:`autometa.kb._schema`) stores these vocabularies; they live here because ``data`` and
``space`` sit below the knowledge base and must not import it.
"""

from __future__ import annotations

from typing import Any

from autometa.errors import InvalidParameterError

__all__ = ["METAFEATURE_MAX_ROWS", "NOT_APPLICABLE", "STATUSES", "TASKS", "check_task"]

#: The learning tasks autometa knows, in the order tables and listings show them.
TASKS: tuple[str, ...] = ("classification", "regression")

#: The status of every fold of a configuration that does not apply to the dataset (an
#: algorithm for small tables on a large one, see ``autometa.space.not_applicable``): it
#: was not run. Not a failure: meta-models treat such a cell as unknown.
NOT_APPLICABLE = "not_applicable"

#: How one cross-validation fold of an evaluation can end: what ``evaluate`` records and
#: the knowledge base's ``status`` column holds. Ordered from best to worst: a dataset x
#: configuration cell whose folds ended differently shows the worst (see
#: ``KnowledgeBase.status_matrix``).
STATUSES: tuple[str, ...] = ("ok", NOT_APPLICABLE, "error", "timeout", "memory")

#: Rows the meta-feature extractor may use for its sampled (quadratic, landmarking)
#: measures when autometa describes a dataset -- for the knowledge base (``batch``) and for
#: a new dataset (``recommend``) alike, so that both are described the same way.
METAFEATURE_MAX_ROWS = 5000


def check_task(task: Any, *, allow_none: bool = False) -> str | None:
    """Return ``task`` if it is one of :data:`TASKS` (or ``None`` where ``allow_none``).

    The one check of a task name; every function that takes ``task=`` calls it.

    Raises
    ------
    InvalidParameterError
        ``task`` is anything else. The message lists the choices and names the value.

    Examples
    --------
    >>> check_task("regression")
    'regression'
    >>> check_task(None, allow_none=True) is None
    True
    >>> check_task("clustering")
    Traceback (most recent call last):
    ...
    autometa.errors.InvalidParameterError: task must be one of 'classification', 'regression', got 'clustering'
    """
    if task is None and allow_none:
        return None
    if not isinstance(task, str) or task not in TASKS:
        choices = ", ".join(repr(t) for t in TASKS) + (" or None (infer)" if allow_none else "")
        raise InvalidParameterError(f"task must be one of {choices}, got {task!r}")
    return task
