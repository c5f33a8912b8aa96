"""Tuning (:func:`autometa.tune`): Optuna searches that start where good configurations are.

:func:`tune` runs an ordinary Optuna study over the one search space
(:func:`autometa.space.suggest`); its objective is the cross-validated score of a
configuration on the data (the dataset's own splits when it has them), computed by
:func:`autometa.evaluate` in an isolated worker with time and memory limits. The first
``warm_start`` trials are the top recommendations of :func:`autometa.recommend` (enqueued),
then the sampler (multivariate TPE, seeded) continues. With ``narrow_space=N`` the
sampler's trials in the first half of the budget stay within the ``N`` algorithm families
that rank highest among the recommendations, then search the whole space.
:func:`warm_start` does the enqueueing for a study and objective of your own.

Budget and storage
------------------
``n_trials`` is the *study's* budget: ``tune`` queues one trial for each slot ``0 ..
n_trials - 1`` and its workers run only those. So several processes or machines sharing one
storage (``sqlite:///tune.db``, a PostgreSQL/MySQL URL, ``journal:PATH`` for an Optuna
JournalStorage file) finish the study with exactly ``n_trials`` evaluated trials, and
running the same call again after a crash resumes it without repeating finished trials.
Running trials send heartbeats on every storage (Optuna's own too on database storages); a
trial silent for :data:`GRACE_PERIOD` seconds (its process was killed) is marked ``FAIL``
and its slot is queued again with the same parameters (Optuna's ``failed_trial`` and
``retry_history`` system attributes link the retry to it), by the next ``tune`` call on
the study or by a process still working on it -- ``tune`` returns only when every slot is
done. A process that joins or resumes a study draws with a sampler seed of its own, and a
configuration an earlier trial evaluated is never evaluated again (the trial reuses its
result and records ``duplicate_of``). The evaluation's worker process ends with its parent.

Every trial keeps ``user_attrs``: ``config`` (the configuration, as
:func:`autometa.recommendation.learn_from` expects), ``config_id``, ``folds`` (per-fold records),
``status`` (``ok``/``timeout``/``memory``/``error``), ``error``, ``metric``, ``categorical``,
``warm_start_rank`` for enqueued recommendations and ``duplicate_of`` for a reused result.
A configuration that times out or runs out of memory ends ``PRUNED``; one that raises ends
``FAIL`` (with ``status`` ``error``); neither stops the study. A ``FAIL`` without a
``status`` is a lost trial (its process died) that was run again in another trial.

Example
-------
>>> import autometa
>>> study = autometa.tune("train.csv", target="label", n_trials=30, warm_start=10)  # doctest: +SKIP
>>> study.best_value, study.best_trial.user_attrs["config"]["algorithm"]  # doctest: +SKIP
(0.91, 'hist_gradient_boosting')
>>> model = autometa.fit_best(study, "train.csv", target="label")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autometa import _optuna_compat, space
from autometa._io import json_safe
from autometa.errors import ConfigError, InvalidParameterError

__all__ = [
    "GRACE_PERIOD",
    "HEARTBEAT_INTERVAL",
    "config_from_trial",
    "fit_best",
    "make_sampler",
    "make_storage",
    "pipeline_from_trial",
    "tune",
    "warm_start",
]

#: Seconds between heartbeats of a running trial (on every storage; the heartbeat
#: interval of an ``RDBStorage`` you pass with heartbeats enabled takes precedence).
HEARTBEAT_INTERVAL = 30
#: Seconds without a heartbeat after which a running trial is considered lost: it is marked
#: failed and its slot of the budget is queued again (the ``grace_period`` of an
#: ``RDBStorage`` you pass with heartbeats enabled takes precedence).
GRACE_PERIOD = 120
#: Study user attribute holding what the study tunes (dataset, task, metric, cv).
STUDY_ATTR = "autometa"
#: Trial user attribute marking an enqueued recommendation (its rank, 1 = first).
WARM_START_ATTR = "warm_start_rank"
#: Trial user attribute of a trial whose configuration an earlier trial of the study had
#: already evaluated: that trial's number (its result is reused, nothing is evaluated).
DUPLICATE_ATTR = "duplicate_of"
#: Trial system attribute: the slot of the budget (``0 .. n_trials - 1``) a trial fills; the
#: retry of a lost trial fills the same slot.
SLOT_ATTR = "autometa_slot"
#: Trial system attribute: ``time.time()`` of the last heartbeat of a running trial.
BEAT_ATTR = "autometa_heartbeat"

_MAX_ERROR_CHARS = 1000


# --------------------------------------------------------------------------------------
# storage and sampler
# --------------------------------------------------------------------------------------


def make_storage(storage: Any) -> Any:
    """An Optuna storage from a URL, a path or a storage object (``None``: in memory).

    Parameters
    ----------
    storage : str, path, optuna storage or None
        ``sqlite:///tune.db``, ``postgresql://...``, ``mysql://...`` (an ``RDBStorage`` with
        heartbeats every :data:`HEARTBEAT_INTERVAL` seconds and a grace period of
        :data:`GRACE_PERIOD` seconds), ``journal:PATH`` or a path ending in
        ``.log``/``.journal`` (a ``JournalStorage`` file, safe for several processes on one
        machine or NFS), or any ``optuna.storages.BaseStorage`` (used as given). The
        directory of a SQLite or journal file must exist; ``sqlite:///:memory:`` asks for
        an in-memory database explicitly.

    Raises
    ------
    ConfigError
        The URL is not one of the above, names no file (``sqlite:///``, ``journal:``: they
        would silently keep the study in memory), or the file's directory does not exist.

    Examples
    --------
    >>> make_storage(None) is None
    True
    >>> make_storage("sqlite:///")
    Traceback (most recent call last):
    ...
    autometa.errors.ConfigError: storage 'sqlite:///' names no database file ...
    """
    import optuna

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, Path):
        storage = str(storage)
    if not isinstance(storage, str):
        raise ConfigError(
            f"storage must be a URL string, a path or an optuna storage, not {type(storage).__name__}"
        )
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    local = _local_file(storage)  # checks the path of a SQLite or journal file
    if _journal_path(storage) is not None:
        assert local is not None
        return JournalStorage(JournalFileBackend(str(local)))
    if "://" not in storage:
        raise ConfigError(
            f"storage {storage!r} is not a storage URL; use e.g. 'sqlite:///tune.db', "
            "'postgresql://user@host/db' or 'journal:tune.log'"
        )
    kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        # several processes on one SQLite file wait for each other's writes
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=GRACE_PERIOD,
                **kwargs,
            )
    except Exception as exc:  # sqlalchemy raises many kinds
        raise ConfigError(f"cannot open storage {storage!r}: {exc}") from exc


def _journal_path(url: str) -> str | None:
    if url.startswith("journal:"):
        path = url[len("journal:") :]
        return path.removeprefix("//")
    if "://" not in url and url.endswith((".log", ".journal")):
        return url
    return None


def _sqlite_database(url: str) -> str | None:
    """The database of a ``sqlite`` URL (``""`` when it names none, which SQLite takes as
    "in memory"); ``None`` for other URLs."""
    if not url.startswith("sqlite"):
        return None
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError and friends
        raise ConfigError(f"storage {url!r} is not a valid database URL: {exc}") from exc
    if parsed.get_backend_name() != "sqlite":
        return None
    return parsed.database or ""


def _local_file(url: Any) -> Path | None:
    """The file of a SQLite or journal storage URL, checked: it names a file whose directory
    exists. ``None`` for other storages and for an explicit ``sqlite:///:memory:``.

    Raises
    ------
    ConfigError
        The URL names no file, or the file's directory does not exist (nothing is created).
    """
    if not isinstance(url, (str, Path)):
        return None
    url = str(url)
    journal = _journal_path(url)
    if journal is not None:
        if not journal.strip():
            raise ConfigError(f"storage {url!r} names no journal file; use e.g. 'journal:tune.log'")
        path = Path(journal).expanduser()
    else:
        database = _sqlite_database(url)
        if database is None:
            return None
        if not database.strip():
            raise ConfigError(
                f"storage {url!r} names no database file (SQLite would keep the study in "
                "memory and lose it when the process ends); use e.g. 'sqlite:///tune.db', or "
                "'sqlite:///:memory:' for an in-memory database on purpose"
            )
        if database == ":memory:" or database.startswith("file:"):
            return None  # in memory on purpose, or a SQLite URI filename: left to SQLite
        path = Path(database)
    if path.is_dir():
        raise ConfigError(f"storage {url!r} names a directory, not a file: {str(path)!r}")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(
            f"storage {url!r}: directory {str(parent)!r} does not exist (it is not created "
            "for you); create it or choose another path"
        )
    return path


def _lock_path(url: Any) -> Path | None:
    """A file next to a local storage (SQLite, journal file) to serialise study setup."""
    path = _local_file(url)
    return None if path is None else path.with_name(path.name + ".autometa-lock")


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: best effort
        yield
        return
    # No mkdir: _local_file checked that the directory exists.
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_sampler(random_state: int = 0) -> Any:
    """The default sampler: seeded multivariate TPE over the conditional space.

    ``group=True`` models each algorithm's hyperparameters jointly; the constant liar keeps
    parallel workers from proposing the same point.

    Examples
    --------
    >>> make_sampler(0).__class__.__name__
    'TPESampler'
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=random_state,
            multivariate=True,
            group=True,
            constant_liar=True,
        )


# --------------------------------------------------------------------------------------
# configs and pipelines from trials
# --------------------------------------------------------------------------------------


def config_from_trial(trial: Any, task: str | None = None) -> dict[str, Any]:
    """The configuration a trial evaluated.

    ``trial.user_attrs["config"]`` when present (trials of :func:`tune`), else rebuilt from
    the parameters :func:`autometa.space.suggest` drew (then ``task`` is needed, because
    algorithm names such as ``knn`` exist for both tasks).

    Raises
    ------
    ConfigError
        Neither a stored config nor suggest-style parameters (or ``task``) are available.

    Examples
    --------
    >>> config_from_trial(study.best_trial)["algorithm"]  # doctest: +SKIP
    'random_forest'
    """
    attrs = getattr(trial, "user_attrs", {}) or {}
    if isinstance(attrs.get("config"), dict):
        return dict(attrs["config"])
    params = dict(getattr(trial, "params", {}) or {})
    number = getattr(trial, "number", "?")
    if "algorithm" not in params:
        raise ConfigError(
            f"trial {number} has no 'config' user attribute and no 'algorithm' parameter; "
            "it was not drawn with autometa.space.suggest"
        )
    task = task or attrs.get("task")
    if task is None:
        raise ConfigError(
            f"trial {number} carries no config; pass task='classification' or 'regression' "
            "to rebuild it from its parameters"
        )
    algorithm = params["algorithm"]
    prefix = space.param_key(algorithm, "")
    config = {"task": task, "algorithm": algorithm}
    for step, choices in space.PREPROCESSING.items():
        config[step] = params.get(step, choices[0])
    config["params"] = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
    return space.validate(config)


def pipeline_from_trial(
    trial: Any,
    *,
    task: str | None = None,
    categorical: Sequence[str] | None = None,
    random_state: int | None = 0,
) -> Any:
    """A new, unfitted scikit-learn pipeline for the configuration of ``trial``.

    Parameters
    ----------
    trial : optuna.trial.FrozenTrial
        A trial of :func:`tune` (or of a study whose objective uses
        :func:`autometa.space.suggest`; then pass ``task``).
    task : str, optional
        Needed only for trials without a stored config.
    categorical : list of str, optional
        Categorical column names; default the ones stored with the trial.
    random_state : int, optional
        Seed of the estimator.

    Examples
    --------
    >>> pipe = autometa.pipeline_from_trial(study.best_trial)  # doctest: +SKIP
    >>> pipe.fit(X, y)  # doctest: +SKIP
    """
    config = config_from_trial(trial, task)
    if categorical is None:
        categorical = (getattr(trial, "user_attrs", {}) or {}).get("categorical", [])
    return space.build(config, categorical=list(categorical), task=task, random_state=random_state)


def fit_best(
    study: Any, data: Any, target: str | None = None, *, random_state: int | None = 0
) -> Any:
    """The best trial's pipeline, fitted on all of ``data``.

    Parameters
    ----------
    study : optuna.Study
        A study of :func:`tune` (or one whose objective uses ``space.suggest``).
    data : anything :func:`autometa.load_dataset` accepts.
    target : target column (for tables and files).
    random_state : seed of the estimator.

    Raises
    ------
    ConfigError
        The study has no complete trial.

    Examples
    --------
    >>> model = autometa.fit_best(study, "train.csv", target="label")  # doctest: +SKIP
    >>> model.predict(X_new)  # doctest: +SKIP
    """
    import optuna

    dataset = _load(data, target)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise ConfigError(
            f"study {study.study_name!r} has no complete trial yet ({len(study.trials)} trials); "
            "nothing to fit"
        )
    pipeline = pipeline_from_trial(
        study.best_trial,
        task=dataset.task,
        categorical=dataset.categorical,
        random_state=random_state,
    )
    with space.quiet_fit_warnings():
        return pipeline.fit(dataset.X, dataset.y)


# --------------------------------------------------------------------------------------
# warm start
# --------------------------------------------------------------------------------------


def _load(data: Any, target: str | None) -> Any:
    from autometa.data import Dataset, load_dataset

    return data if isinstance(data, Dataset) else load_dataset(data, target=target)


def _recommended_configs(
    dataset: Any, n: int, *, metric: str | None, kb: Any, model: Any, random_state: int
) -> list[dict[str, Any]]:
    from autometa.recommendation import recommend

    recs = recommend(dataset, k=n, metric=metric, kb=kb, model=model, random_state=random_state)
    configs = []
    for rec in recs:
        try:
            space.to_trial_params(rec.config)
        except ConfigError as exc:
            warnings.warn(
                f"recommendation {rec.config_id!r} is not in the search space and is "
                f"not enqueued: {exc}",
                UserWarning,
                stacklevel=3,
            )
            continue
        configs.append(dict(rec.config))
    return configs


def warm_start(
    study: Any,
    data: Any,
    target: str | None = None,
    *,
    n: int = 10,
    metric: str | None = None,
    kb: Any = None,
    model: Any = "default",
    random_state: int = 0,
) -> list[dict[str, Any]]:
    """Enqueue the top ``n`` recommendations for ``data`` into your own Optuna study.

    The study's objective must draw its configuration with
    ``autometa.space.suggest(trial, task)``: the enqueued parameters then make ``suggest``
    return exactly the recommended configurations, in rank order, as the next trials.

    Parameters
    ----------
    study : optuna.Study
    data : anything :func:`autometa.load_dataset` accepts (or a Dataset).
    target : target column.
    n : number of recommendations to enqueue.
    metric, kb, model, random_state : passed to :func:`autometa.recommend`.

    Returns
    -------
    list of dict
        The enqueued configurations, best first.

    Examples
    --------
    >>> study = optuna.create_study(direction="maximize")  # doctest: +SKIP
    >>> autometa.warm_start(study, df, target="y", n=5)  # doctest: +SKIP
    >>> study.optimize(my_objective, n_trials=30)  # doctest: +SKIP
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise InvalidParameterError(f"n must be a non-negative integer, got {n!r}")
    if n == 0:
        return []
    dataset = _load(data, target)
    configs = _recommended_configs(
        dataset, n, metric=metric, kb=kb, model=model, random_state=random_state
    )
    for rank, config in enumerate(configs, start=1):
        study.enqueue_trial(
            space.to_trial_params(config),
            user_attrs={WARM_START_ATTR: rank, "config": config},
            skip_if_exists=True,
        )
    return configs


# --------------------------------------------------------------------------------------
# tune
# --------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_seconds(name: str, value: Any) -> float | None:
    """``None`` or a positive, finite number of seconds (not a bool or a string)."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidParameterError(
            f"{name} must be a positive number of seconds or None, got {value!r}"
        )
    return float(value)


def _jsonable_folds(folds: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold records as strict JSON (NaN as null: every storage accepts them), each error
    cut to its last :data:`_MAX_ERROR_CHARS` characters."""
    out = []
    for record in folds:
        row = json_safe(dict(record))
        if isinstance(row.get("error"), str):
            row["error"] = row["error"][-_MAX_ERROR_CHARS:]
        out.append(row)
    return out


def _evaluated(trial: Any) -> bool:
    """The trial ended with a result of its configuration: it fills its slot of the budget.
    (A ``FAIL`` without an ``error`` status is a lost trial: its worker died or was
    interrupted, or it went stale.)"""
    import optuna

    State = optuna.trial.TrialState
    if trial.state in (State.COMPLETE, State.PRUNED):
        return True
    return trial.state == State.FAIL and (trial.user_attrs or {}).get("status") == "error"


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
            and _evaluated(other)
        ):
            return other
    return None


class _Objective:
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

    def __call__(self, trial: Any) -> tuple[Any, float | None]:
        import optuna

        from autometa.evaluate import evaluate

        State = optuna.trial.TrialState
        config = space.suggest(trial, self.dataset.task)
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
        trial.set_user_attr("error", error[-_MAX_ERROR_CHARS:])
        trial.set_user_attr("status", status)  # last: a trial with a status has a result
        if status == "ok":
            return State.COMPLETE, value
        # Resource limits prune (the sampler learns they are bad); exceptions fail.
        return (State.PRUNED if status in ("timeout", "memory") else State.FAIL), None


def _study_info(dataset: Any, metric: str, cv: int) -> dict[str, Any]:
    from autometa import __version__

    return {
        "dataset": dataset.name,
        "task": dataset.task,
        "metric": metric,
        "cv": cv,
        "n_rows": len(dataset.X),
        "autometa_version": __version__,
    }


def _check_same_problem(study: Any, info: dict[str, Any]) -> None:
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


# --- liveness: heartbeats, stale trials ------------------------------------------------


@dataclass(frozen=True)
class _Liveness:
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


def _liveness(storage: Any) -> _Liveness:
    interval = _heartbeat_interval(storage)
    if interval:
        grace = _optuna_compat.rdb_grace_period(storage) or 2 * interval
        return _Liveness(float(interval), float(grace), True)
    return _Liveness(float(HEARTBEAT_INTERVAL), float(GRACE_PERIOD), False)


@contextlib.contextmanager
def _heartbeat(storage: Any, trial_id: int, live: _Liveness) -> Iterator[None]:
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


def _fail_stale_trials(study: Any, live: _Liveness) -> None:
    """Mark running trials that stopped beating as failed (they are then lost, and
    :func:`_top_up` queues their slots again). Only one process wins each trial."""
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


# --- the budget: slots ----------------------------------------------------------------


def _slot(trial: Any) -> int:
    """The slot of the budget a trial fills: :data:`SLOT_ATTR`; for trials of older
    versions, the original trial of an Optuna retry (``failed_trial``) or the number."""
    attrs = trial.system_attrs or {}
    slot = attrs.get(SLOT_ATTR, attrs.get("failed_trial", trial.number))
    return slot if isinstance(slot, int) and not isinstance(slot, bool) else trial.number


@dataclass
class _Budget:
    """The study's trials by slot ``0 .. n_trials - 1``."""

    done: set[int] = field(default_factory=set)  # an evaluated trial fills the slot
    running: dict[int, list[Any]] = field(default_factory=dict)
    waiting: dict[int, list[Any]] = field(default_factory=dict)
    lost: dict[int, list[Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, trials: Sequence[Any], n_trials: int) -> _Budget:
        import optuna

        State = optuna.trial.TrialState
        budget = cls()
        for trial in sorted(trials, key=lambda t: t.number):
            slot = _slot(trial)
            if not 0 <= slot < n_trials:
                continue  # beyond the budget (e.g. a larger earlier n_trials)
            if _evaluated(trial):
                budget.done.add(slot)
            elif trial.state == State.RUNNING:
                budget.running.setdefault(slot, []).append(trial)
            elif trial.state == State.WAITING:
                budget.waiting.setdefault(slot, []).append(trial)
            elif trial.state == State.FAIL:
                budget.lost.setdefault(slot, []).append(trial)
        return budget

    def claimable(self) -> list[Any]:
        """The first waiting trial of every slot that is neither done nor running."""
        return [
            trials[0]
            for slot, trials in sorted(self.waiting.items())
            if slot not in self.done and slot not in self.running
        ]

    def empty(self, n_trials: int) -> list[int]:
        """Slots with no trial that is waiting, running or done (new or lost ones)."""
        return [
            s
            for s in range(n_trials)
            if s not in self.done and s not in self.running and s not in self.waiting
        ]

    def pending(self, n_trials: int) -> set[int]:
        return set(range(n_trials)) - self.done


def _claim_trial(study: Any, n_trials: int) -> Any | None:
    """Atomically take the first queued trial of a slot below ``n_trials`` that no one runs
    (None when there is none). Unlike ``study.ask()``, this never creates a trial beyond the
    budget, which is what makes several workers finish exactly ``n_trials``."""
    budget = _Budget.of(study.get_trials(deepcopy=False), n_trials)
    for frozen in budget.claimable():
        trial = _optuna_compat.claim_waiting_trial(study, frozen)
        if trial is not None:
            return trial
    return None


#: Recommendations looked at to find the ``narrow_space`` top algorithm families.
NARROW_POOL = 50


def _top_families(configs: Sequence[dict[str, Any]], n: int) -> list[str]:
    """The first ``n`` distinct algorithms of ``configs`` (in rank order)."""
    families: list[str] = []
    for config in configs:
        if config["algorithm"] not in families:
            families.append(config["algorithm"])
    return families[:n]


def _queue(
    study: Any,
    slot: int,
    params: dict[str, Any],
    *,
    user_attrs: dict[str, Any] | None = None,
    system_attrs: dict[str, Any] | None = None,
) -> None:
    """``study.enqueue_trial(params)`` for ``slot`` (one write: a crash cannot leave a
    queued trial without its slot)."""
    import optuna

    attrs = {**(system_attrs or {}), "fixed_params": params, SLOT_ATTR: slot}
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING, system_attrs=attrs, user_attrs=user_attrs or {}
        )
    )


def _top_up(
    study: Any,
    n_trials: int,
    recommended: Callable[[int], list[dict[str, Any]]],
    warm: int,
    narrow: int | None = None,
) -> None:
    """Queue a trial for every slot below ``n_trials`` that has none waiting, running or
    done: the retry of a lost trial (same parameters, Optuna's ``failed_trial`` and
    ``retry_history`` system attributes) for a slot whose trial was lost; for new slots,
    recommendations first (only on a study that has no trial yet), then open trials for the
    sampler -- those in slots below ``n_trials // 2`` with their algorithm fixed to one of
    the top ``narrow`` families."""
    trials = study.get_trials(deepcopy=False)
    budget = _Budget.of(trials, n_trials)
    empty = budget.empty(n_trials)
    if not empty:
        return
    new = [slot for slot in empty if slot not in budget.lost]
    warm_configs: list[dict[str, Any]] = []
    if not trials and warm > 0:
        warm_configs = recommended(min(warm, n_trials))
    open_slots = new[len(warm_configs) :]
    families: list[str] = []
    if narrow is not None and any(slot < n_trials // 2 for slot in open_slots):
        families = _top_families(recommended(max(NARROW_POOL, warm)), narrow)
    planned: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
    for rank, (slot, config) in enumerate(zip(new, warm_configs), start=1):
        planned[slot] = (space.to_trial_params(config), {WARM_START_ATTR: rank}, {})
    for index, slot in enumerate(open_slots):
        # Optuna allows one set of choices per parameter in a study, so the narrowed trials
        # fix "algorithm" (in turn over the families) and the sampler draws the rest.
        narrowed = bool(families) and slot < n_trials // 2
        planned[slot] = ({"algorithm": families[index % len(families)]} if narrowed else {}, {}, {})
    for slot in empty:
        if slot in budget.lost:  # retry what the lost trial was evaluating
            last = budget.lost[slot][-1]
            params = {**last.system_attrs.get("fixed_params", {}), **last.params}
            user = {k: v for k, v in last.user_attrs.items() if k == WARM_START_ATTR}
            history = [*last.system_attrs.get("retry_history", []), last.number]
            system = {
                "failed_trial": last.system_attrs.get("failed_trial", last.number),
                "retry_history": history,
            }
            planned[slot] = (params, user, system)
    for slot in sorted(planned):
        params, user, system = planned[slot]
        _queue(study, slot, params, user_attrs=user, system_attrs=system)


def _recover(
    study: Any,
    n_trials: int,
    live: _Liveness,
    recommended: Callable[[int], list[dict[str, Any]]],
    warm: int,
    narrow: int | None,
) -> None:
    """Fail stale trials, then queue what the budget misses (their retries included)."""
    _fail_stale_trials(study, live)
    _top_up(study, n_trials, recommended, warm, narrow)


def _process_seed(random_state: int, n_existing: int) -> int:
    """A sampler seed of its own for a process joining (or resuming) a study."""
    text = f"{random_state}:{n_existing}:{os.getpid()}:{time.time_ns()}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def tune(
    data: Any,
    target: str | None = None,
    *,
    n_trials: int = 50,
    warm_start: int = 10,
    metric: str | None = None,
    cv: int = 5,
    storage: Any = None,
    study_name: str | None = None,
    sampler: Any = None,
    timeout: float | None = None,
    n_jobs: int = 1,
    random_state: int = 0,
    kb: Any = None,
    model: Any = "default",
    time_limit: float | None = 300.0,
    memory_limit_mb: float | None = 4096,
    callbacks: Sequence[Callable[[Any, Any], None]] | None = None,
    cache: MutableMapping[str, Any] | None = None,
    narrow_space: int | None = None,
    show_progress_bar: bool = False,
) -> Any:
    """Tune a pipeline for ``data`` with Optuna, warm-started by the recommendations.

    Parameters
    ----------
    data : DataFrame, path, ``"openml:<id>"``, (X, y) or Dataset
        Anything :func:`autometa.load_dataset` accepts.
    target : str, optional
        Target column (for tables and files).
    n_trials : int
        The study's budget: it ends with exactly this many *evaluated* trials (``COMPLETE``,
        or ``PRUNED``/``FAIL`` with a ``status`` user attribute), counting the ones a
        resumed or shared study already has. A trial whose process died (killed, crashed,
        interrupted) is marked ``FAIL`` once it has sent no heartbeat for the grace period
        (:data:`GRACE_PERIOD`) and is run again in a new trial; such lost trials do not
        count, so the study may hold a few more trials than ``n_trials``. ``tune`` returns
        when the budget is spent: it waits for trials other processes are running, and
        re-runs those whose process died.
    warm_start : int
        How many of the top recommendations to enqueue as the first trials; ``0`` is a
        cold start (plain sampler).
    metric : str, optional
        Objective: the mean CV score of this metric (default balanced accuracy for
        classification, R² for regression); the study's direction follows the metric.
    cv : int
        Folds (stratified for classification) when the dataset has no splits of its own.
    storage : str, path or optuna storage, optional
        In memory by default; ``sqlite:///tune.db``, a PostgreSQL/MySQL URL or
        ``journal:tune.log`` to resume after a crash and share one study between processes
        (see :func:`make_storage`; the directory of a file must exist).
    study_name : str, optional
        Default ``"autometa-<dataset name>"`` with a storage. An existing study of that name
        is continued (it must tune the same dataset, task and metric).
    sampler : optuna sampler, optional
        Default :func:`make_sampler` ``(random_state)``: multivariate TPE. On a study that
        already has trials (a resume, or a second process), the default sampler gets a seed
        of its own process and a given sampler is reseeded (``sampler.reseed_rng()``), so
        processes do not draw the same configurations.
    timeout : float, optional
        Stop starting new trials (and waiting for other processes' trials) after this
        many seconds.
    n_jobs : int
        Trials evaluated at once in this process (each in its own worker process).
    random_state : int
        Seed of the sampler, the folds and the estimators: the same seed gives the same
        trials on a new study run by one process.
    kb, model : knowledge base and meta-model of the recommendations (see
        :func:`autometa.recommend`).
    time_limit : float, optional
        Seconds one trial (all its folds) may take; beyond it the trial is pruned. ``None``
        for no limit. The evaluation's worker process never outlives this process.
    memory_limit_mb : float, optional
        Extra memory one trial may use; beyond it the trial is pruned.
    callbacks : list of callables, optional
        ``callback(study, frozen_trial)`` after each finished trial (Optuna's signature).
    cache : dict, optional
        ``{config_id: folds}`` of earlier evaluations with the same data, ``cv`` and
        ``random_state`` (e.g. across sampler seeds in a benchmark); a config found there is
        not evaluated again, new evaluations are added. Within the study, a configuration
        an earlier trial evaluated is never evaluated again either: the trial reuses that
        result and records its number as the ``duplicate_of`` user attribute.
    narrow_space : int, optional
        Transfer beyond the warm start: the sampler's trials numbered below
        ``n_trials // 2`` stay within the first ``narrow_space`` distinct algorithm
        families among the top :data:`NARROW_POOL` recommendations -- they are queued with
        their algorithm fixed, in turn over those families, and the sampler draws the
        preprocessing and hyperparameters -- and the later trials search the whole space.
        ``None`` (default): the whole space throughout. Set when the study's trials are
        queued (a resumed study keeps its queue).
    show_progress_bar : bool, default=False
        Show a progress bar (tqdm, on stderr) of the evaluated trials out of ``n_trials``
        and the best value so far, as ``study.optimize(show_progress_bar=True)`` does.

    Returns
    -------
    optuna.Study
        An ordinary Optuna study (``optuna.load_study`` and optuna-dashboard work on its
        storage). ``study.best_trial.user_attrs["config"]`` is the best configuration.

    Raises
    ------
    InvalidParameterError
        A count is not a non-negative integer, or ``time_limit``/``timeout`` is not a
        positive number of seconds.
    ConfigError
        Unknown metric or storage, a storage file without a name or in a directory that
        does not exist, or an existing study tunes another problem.

    Examples
    --------
    >>> study = autometa.tune(df, target="y", n_trials=30, warm_start=10,
    ...                       storage="sqlite:///tune.db")  # doctest: +SKIP
    >>> autometa.pipeline_from_trial(study.best_trial)  # doctest: +SKIP
    """
    import optuna

    from autometa.metrics import DEFAULT_METRIC, get_metric

    _check_int("n_trials", n_trials, 0)
    _check_int("warm_start", warm_start, 0)
    if narrow_space is not None:
        _check_int("narrow_space", narrow_space, 1)
    _check_int("n_jobs", n_jobs, 1)
    _check_int("cv", cv, 2)
    timeout = _check_seconds("timeout", timeout)
    time_limit = _check_seconds("time_limit", time_limit)
    lock_path = _lock_path(storage)  # checks a SQLite/journal path before anything is created
    dataset = _load(data, target)
    metric = metric or DEFAULT_METRIC[dataset.task]
    direction = "maximize" if get_metric(metric, dataset.task).greater_is_better else "minimize"
    if study_name is None and storage is not None:
        study_name = f"autometa-{dataset.name}"
    info = _study_info(dataset, metric, cv)
    callbacks = list(callbacks or [])
    if not isinstance(show_progress_bar, bool):
        raise InvalidParameterError(
            f"show_progress_bar must be True or False, got {show_progress_bar!r}"
        )

    def recommended(k: int) -> list[dict[str, Any]]:
        return _recommended_configs(
            dataset, k, metric=metric, kb=kb, model=model, random_state=random_state
        )

    # One process at a time sets up a study on a local file (creating the SQLite tables,
    # queueing the trials); the trials themselves run concurrently.
    with _file_lock(lock_path):
        storage_obj = make_storage(storage)
        study = optuna.create_study(
            storage=storage_obj,
            study_name=study_name,
            sampler=sampler if sampler is not None else make_sampler(random_state),
            direction=direction,
            load_if_exists=True,
        )
        if study.direction.name.lower() != direction:
            raise ConfigError(
                f"study {study.study_name!r} is set to {study.direction.name.lower()}, but "
                f"metric {metric!r} needs {direction}"
            )
        _check_same_problem(study, info)
        n_existing = len(study.get_trials(deepcopy=False))
        if n_existing:
            # A resumed study or a second process: draw other configurations than the
            # process that started the study with the same random_state did.
            if sampler is None:
                study.sampler = make_sampler(_process_seed(random_state, n_existing))
            else:
                study.sampler.reseed_rng()
        live = _liveness(_optuna_compat.storage_of(study))
        _recover(study, n_trials, live, recommended, warm_start, narrow_space)

    objective = _Objective(
        dataset,
        metric,
        cv=cv,
        time_limit=time_limit,
        memory_limit_mb=memory_limit_mb,
        random_state=random_state,
        cache=cache,
    )
    deadline = None if timeout is None else time.monotonic() + timeout
    lock = threading.Lock()  # callbacks and the shared cache see one trial at a time
    claim_lock = threading.Lock()  # a claimed trial is in ``mine`` before anyone looks
    recover_lock = threading.Lock()  # one thread of this process recovers at a time
    mine: set[int] = set()  # ids of the trials this process is running
    State = optuna.trial.TrialState
    storage_ = _optuna_compat.storage_of(study)
    poll = min(max(live.interval / 2, 0.2), 5.0)

    def claim() -> tuple[Any | None, bool]:
        """A trial to run, or None and whether a slot of the budget is left that this
        process does not run (then wait: another process runs it, or it is lost)."""
        with claim_lock:
            trial = _claim_trial(study, n_trials)
            if trial is not None:
                mine.add(_optuna_compat.trial_id(trial))
                return trial, True
            budget = _Budget.of(study.get_trials(deepcopy=False), n_trials)
            return None, any(
                not any(_optuna_compat.trial_id(t) in mine for t in budget.running.get(slot, []))
                for slot in budget.pending(n_trials)
            )

    def run_one(trial: Any) -> None:
        state, value = State.FAIL, None
        try:
            with _heartbeat(storage_, _optuna_compat.trial_id(trial), live):
                state, value = objective(trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # declared lost (stale) meanwhile; its retry belongs to the budget
        except Exception as exc:  # noqa: BLE001 - a broken trial never ends the study
            state, value = State.FAIL, None
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[-_MAX_ERROR_CHARS:])
                trial.set_user_attr("status", "error")
        except BaseException:
            with contextlib.suppress(Exception):
                study.tell(trial, state=State.FAIL, skip_if_finished=True)
            raise
        try:
            frozen = study.tell(
                trial,
                value if state == State.COMPLETE else None,
                state=state,
                skip_if_finished=True,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            return
        if frozen.state != state:
            return  # declared lost meanwhile: not this process's result any more
        with lock:
            for callback in callbacks:
                callback(study, frozen)

    def work() -> None:
        while deadline is None or time.monotonic() < deadline:
            trial, left = claim()
            if trial is None:
                if not left:
                    return  # the budget is spent, or the rest is this process's own
                # Wait for other processes' trials, and re-run those whose process died.
                wait = poll if deadline is None else min(poll, deadline - time.monotonic())
                time.sleep(max(wait, 0.0))
                with recover_lock, _file_lock(lock_path):
                    _recover(study, n_trials, live, recommended, warm_start, narrow_space)
                continue
            try:
                run_one(trial)
            finally:
                with claim_lock:
                    mine.discard(_optuna_compat.trial_id(trial))

    bar = _ProgressBar(study, n_trials) if show_progress_bar else None
    if bar is not None:
        callbacks.append(bar.callback)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if n_jobs == 1:
                work()
            else:
                with ThreadPoolExecutor(n_jobs) as pool:
                    for future in [pool.submit(work) for _ in range(n_jobs)]:
                        future.result()
    finally:
        if bar is not None:
            bar.close()
    return study


class _ProgressBar:
    """A tqdm bar of the study's evaluated trials out of ``n_trials`` and the best value.

    Counts the study's evaluated trials rather than this process's finished ones, so a
    resumed study or one shared by several processes shows where the whole study is.
    """

    def __init__(self, study: Any, n_trials: int) -> None:
        from tqdm.auto import tqdm

        self.n_trials = n_trials
        self.bar = tqdm(total=n_trials, unit="trial", desc=f"tuning {study.study_name}")
        self.callback(study, None)

    def callback(self, study: Any, trial: Any) -> None:
        done = sum(_evaluated(t) for t in study.get_trials(deepcopy=False))
        self.bar.n = min(done, self.n_trials)
        try:
            best = study.best_trial
            self.bar.set_postfix_str(f"best {best.value:.4g} (trial {best.number})", refresh=False)
        except ValueError:  # no successful trial yet
            pass
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
