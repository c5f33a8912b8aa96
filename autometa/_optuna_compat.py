"""Every use of Optuna's private API in autometa, in one place.

Checked on Optuna 5.1.0 (the version the test suite runs on); ``pyproject.toml`` bounds the
dependency to ``optuna>=4.0,<6``. When a new Optuna major version comes out, read the
private names below against its source (``optuna/study/study.py``: ``Study._storage``,
``Study._thread_local``, ``Study.ask``, ``Study._pop_waiting_trial_id``;
``optuna/trial/_frozen.py`` and ``optuna/trial/_trial.py``: ``_trial_id``;
``optuna/storages/_cached_storage.py``: ``_CachedStorage._backend``), run
``tests/test_tune.py`` and ``tests/reliability/test_tune_reliability.py``, then widen the
bound.

Why autometa needs them: :func:`autometa.tune` runs exactly the trials it queued, one per
slot of its budget, from several processes sharing one storage. ``Study.ask()`` would
create a new trial when no queued one is left, so the queue is popped here the way
``Study.ask`` pops it, but only the trial chosen; heartbeats and stale-trial failure write
to the storage (a public ``BaseStorage`` interface) by trial id. Everything else in
:mod:`autometa.tuning` and its private modules (``autometa._tune_*``) uses Optuna's public
API (``study.get_trials``, ``study.tell``, ``study.add_trial``,
``optuna.storages.fail_stale_trials``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["claim_waiting_trial", "rdb_grace_period", "storage_of", "trial_id"]


def storage_of(study: Any) -> Any:
    """The study's storage (an ``optuna.storages.BaseStorage``; an ``RDBStorage`` comes
    wrapped in Optuna's cache)."""
    return study._storage


def trial_id(trial: Any) -> int:
    """The storage's id of a ``Trial`` or ``FrozenTrial`` (what ``BaseStorage`` methods take;
    unlike ``trial.number`` it is unique across the studies of a storage)."""
    return trial._trial_id


def rdb_grace_period(storage: Any) -> float | None:
    """The ``grace_period`` of an ``RDBStorage`` (seen through Optuna's cache wrapper), or
    ``None`` for storages without one."""
    backend = getattr(storage, "_backend", storage)
    return getattr(backend, "grace_period", None)


def claim_waiting_trial(study: Any, frozen: Any) -> Any | None:
    """Take the ``WAITING`` trial ``frozen`` for this process: a ``Trial`` to run, or
    ``None`` when another process or thread took or finished it first.

    What ``Study.ask`` does with the first waiting trial (``Study._pop_waiting_trial_id``),
    for the trial chosen by the caller: set it ``RUNNING`` (the storage lets one caller win)
    and drop the study's per-thread cache of trials, so that the sampler sees the latest.
    """
    import optuna

    storage = storage_of(study)
    try:
        if not storage.set_trial_state_values(
            trial_id(frozen), state=optuna.trial.TrialState.RUNNING
        ):
            return None
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    study._thread_local.cached_all_trials = None
    return optuna.Trial(study, trial_id(frozen))
