"""Liveness of running :func:`autometa.tune` trials: heartbeats, and failing the silent.

A running trial beats every ``interval`` seconds (system attribute :data:`BEAT_ATTR` on
every storage, plus Optuna's own heartbeat on an ``RDBStorage`` with heartbeats); one
silent for ``grace`` seconds -- its process was killed -- is set ``FAIL`` by
:func:`fail_stale_trials` and is then *lost*: :func:`autometa._tune_budget.top_up` queues
its slot again.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from autometa import _optuna_compat
from autometa._tune_budget import SLOT_ATTR

__all__ = ["BEAT_ATTR", "Liveness", "fail_stale_trials", "heartbeat", "liveness"]

#: Trial system attribute: ``time.time()`` of the last heartbeat of a running trial.
BEAT_ATTR = "autometa_heartbeat"


@dataclass(frozen=True)
class Liveness:
    """How running trials show they are alive: a heartbeat every ``interval`` seconds;
    one silent for ``grace`` seconds is lost. ``optuna``: the storage also keeps Optuna's
    own heartbeats (an ``RDBStorage`` with ``heartbeat_interval``)."""

    interval: float
    grace: float
    optuna: bool


def _heartbeat_interval(storage: Any) -> int | None:
    get = getattr(storage, "get_heartbeat_interval", None)
    try:
        return get() if get is not None else None
    except Exception:  # noqa: BLE001 - a storage without heartbeat support
        return None


def liveness(storage: Any, interval: float, grace: float) -> Liveness:
    """The liveness of trials on ``storage``: Optuna's heartbeat interval and grace period
    where the storage keeps heartbeats (an ``RDBStorage`` with ``heartbeat_interval``),
    else ``interval`` and ``grace``."""
    optuna_interval = _heartbeat_interval(storage)
    if optuna_interval:
        optuna_grace = _optuna_compat.rdb_grace_period(storage) or 2 * optuna_interval
        return Liveness(float(optuna_interval), float(optuna_grace), True)
    return Liveness(float(interval), float(grace), False)


@contextlib.contextmanager
def heartbeat(storage: Any, trial_id: int, live: Liveness) -> Iterator[None]:
    """Beat for a running trial until the block ends: :data:`BEAT_ATTR` on every storage
    (journal files have no heartbeat of their own), plus Optuna's on RDB storages."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a reclaimed trial, a busy database
                storage.set_trial_system_attr(trial_id, BEAT_ATTR, time.time())
            if live.optuna:
                with contextlib.suppress(Exception):
                    storage.record_heartbeat(trial_id)
            if stop.wait(live.interval):
                return

    thread = threading.Thread(target=beat, daemon=True, name=f"autometa-heartbeat-{trial_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def fail_stale_trials(study: Any, live: Liveness) -> None:
    """Mark running trials that stopped beating as failed (they are then lost, and
    :func:`~autometa._tune_budget.top_up` queues their slots again). Only one process wins
    each trial."""
    import optuna

    State = optuna.trial.TrialState
    storage = _optuna_compat.storage_of(study)
    if live.optuna:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            with contextlib.suppress(Exception):
                optuna.storages.fail_stale_trials(study)
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(State.RUNNING,)):
        if SLOT_ATTR not in trial.system_attrs:
            continue  # not queued by tune (e.g. your own study.optimize): not ours to judge
        seen = [trial.system_attrs.get(BEAT_ATTR)]
        if trial.datetime_start is not None:  # also covers a worker killed before its first beat
            seen.append(trial.datetime_start.timestamp())
        seen = [t for t in seen if isinstance(t, (int, float))]
        if not seen or now - max(seen) <= live.grace:
            continue
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_state_values(_optuna_compat.trial_id(trial), state=State.FAIL)
