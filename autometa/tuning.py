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
``n_trials`` is the *study's* budget: ``tune`` tops the study up to ``n_trials`` queued
trials (numbers ``0 .. n_trials - 1``) and its workers run only those. So several
processes or machines sharing one storage (``sqlite:///tune.db``, a PostgreSQL/MySQL URL,
``journal:PATH`` for an Optuna JournalStorage file) finish the study with exactly
``n_trials`` trials, and running the same call again after a crash resumes it without
repeating finished trials. On database storages created from a URL, workers send
heartbeats; a trial whose worker died is marked failed after :data:`GRACE_PERIOD` seconds
by Optuna's stale-trial check.

Every trial keeps ``user_attrs``: ``config`` (the configuration, as
:func:`autometa.recommendation.learn_from` expects), ``config_id``, ``folds`` (per-fold records),
``status`` (``ok``/``timeout``/``memory``/``error``), ``error``, ``metric``, ``categorical``,
and ``warm_start_rank`` for enqueued recommendations. A configuration that times out or
runs out of memory ends ``PRUNED``; one that raises ends ``FAIL``; neither stops the study.

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
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from autometa import space
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

#: Seconds between heartbeats of a running trial on database storages made from a URL.
HEARTBEAT_INTERVAL = 30
#: Seconds without a heartbeat after which a running trial is considered lost (failed).
GRACE_PERIOD = 120
#: Study user attribute holding what the study tunes (dataset, task, metric, cv).
STUDY_ATTR = "autometa"
#: Trial user attribute marking an enqueued recommendation (its rank, 1 = first).
WARM_START_ATTR = "warm_start_rank"

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
        heartbeats), ``journal:PATH`` or a path ending in ``.log``/``.journal`` (a
        ``JournalStorage`` file, safe for several processes on one machine or NFS), or any
        ``optuna.storages.BaseStorage`` (used as given).

    Raises
    ------
    ConfigError
        The URL is not one of the above.

    Examples
    --------
    >>> make_storage(None) is None
    True
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

    path = _journal_path(storage)
    if path is not None:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(Path(path).expanduser())))
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
                storage, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD,
                **kwargs,
            )
    except Exception as exc:  # sqlalchemy raises many kinds
        raise ConfigError(f"cannot open storage {storage!r}: {exc}") from exc


def _journal_path(url: str) -> str | None:
    if url.startswith("journal:"):
        path = url[len("journal:"):]
        return path.removeprefix("//")
    if "://" not in url and url.endswith((".log", ".journal")):
        return url
    return None


def _lock_path(url: Any) -> Path | None:
    """A file next to a local storage (SQLite, journal file) to serialise study setup."""
    if not isinstance(url, (str, Path)):
        return None
    url = str(url)
    path = _journal_path(url)
    if path is None and url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().with_name(Path(path).name + ".autometa-lock")


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
    path.parent.mkdir(parents=True, exist_ok=True)
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
            seed=random_state, multivariate=True, group=True, constant_liar=True,
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
    config["params"] = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
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
    return space.build(config, categorical=list(categorical), task=task,
                       random_state=random_state)


def fit_best(study: Any, data: Any, target: str | None = None, *,
             random_state: int | None = 0) -> Any:
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
    pipeline = pipeline_from_trial(study.best_trial, task=dataset.task,
                                   categorical=dataset.categorical, random_state=random_state)
    with space.quiet_fit_warnings():
        return pipeline.fit(dataset.X, dataset.y)


# --------------------------------------------------------------------------------------
# warm start
# --------------------------------------------------------------------------------------


def _load(data: Any, target: str | None) -> Any:
    from autometa.data import Dataset, load_dataset

    return data if isinstance(data, Dataset) else load_dataset(data, target=target)


def _recommended_configs(dataset: Any, n: int, *, metric: str | None, kb: Any, model: Any,
                         random_state: int) -> list[dict[str, Any]]:
    from autometa.recommendation import recommend

    recs = recommend(dataset, k=n, metric=metric, kb=kb, model=model, random_state=random_state)
    configs = []
    for rec in recs:
        try:
            space.to_trial_params(rec.config)
        except ConfigError as exc:
            warnings.warn(f"recommendation {rec.config_id!r} is not in the search space and is "
                          f"not enqueued: {exc}", UserWarning, stacklevel=3)
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
    configs = _recommended_configs(dataset, n, metric=metric, kb=kb, model=model,
                                   random_state=random_state)
    for rank, config in enumerate(configs, start=1):
        study.enqueue_trial(space.to_trial_params(config),
                            user_attrs={WARM_START_ATTR: rank, "config": config},
                            skip_if_exists=True)
    return configs


# --------------------------------------------------------------------------------------
# tune
# --------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _jsonable_folds(folds: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for record in folds:
        row = {}
        for key, value in record.items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None  # strict JSON in every storage
            elif hasattr(value, "item"):
                value = value.item()
            if key == "error" and isinstance(value, str):
                value = value[-_MAX_ERROR_CHARS:]
            row[key] = value
        out.append(row)
    return out


class _Objective:
    """Draw a configuration, cross-validate it, return the state and value to tell."""

    def __init__(self, dataset: Any, metric: str, *, cv: int, time_limit: float | None,
                 memory_limit_mb: float | None, random_state: int,
                 cache: MutableMapping[str, Any] | None) -> None:
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
        if self.cache is not None and cid in self.cache:
            folds = self.cache[cid]
        else:
            result = evaluate(config, self.dataset, cv=self.cv, metrics=self.metrics,
                              time_limit=self.time_limit, memory_limit_mb=self.memory_limit_mb,
                              random_state=self.random_state)
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
        trial.set_user_attr("status", status)
        trial.set_user_attr("error", error[-_MAX_ERROR_CHARS:])
        if status == "ok":
            return State.COMPLETE, value
        # Resource limits prune (the sampler learns they are bad); exceptions fail.
        return (State.PRUNED if status in ("timeout", "memory") else State.FAIL), None


def _study_info(dataset: Any, metric: str, cv: int) -> dict[str, Any]:
    from autometa import __version__

    return {"dataset": dataset.name, "task": dataset.task, "metric": metric, "cv": cv,
            "n_rows": len(dataset.X), "autometa_version": __version__}


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


def _heartbeat_interval(storage: Any) -> int | None:
    get = getattr(storage, "get_heartbeat_interval", None)
    try:
        return get() if get is not None else None
    except Exception:  # noqa: BLE001 - a storage without heartbeat support
        return None


@contextlib.contextmanager
def _heartbeat(storage: Any, trial_id: int, interval: int | None) -> Iterator[None]:
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):
                storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True, name=f"autometa-heartbeat-{trial_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _claim_trial(study: Any, n_trials: int) -> Any | None:
    """Atomically take the next queued trial numbered below ``n_trials`` (None when none
    is left). Unlike ``study.ask()``, this never creates a trial beyond the budget, which
    is what makes several workers finish exactly ``n_trials``."""
    import optuna

    State = optuna.trial.TrialState
    storage = study._storage
    waiting = storage.get_all_trials(study._study_id, deepcopy=False, states=(State.WAITING,))
    for frozen in sorted(waiting, key=lambda t: t.number):
        if frozen.number >= n_trials:
            break
        try:
            if not storage.set_trial_state_values(frozen._trial_id, state=State.RUNNING):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        # what ``study.ask`` does: let the sampler see the latest trials
        study._thread_local.cached_all_trials = None
        return optuna.Trial(study, frozen._trial_id)
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


def _top_up(study: Any, n_trials: int, recommended: Callable[[int], list[dict[str, Any]]],
            warm: int, narrow: int | None = None) -> None:
    """Queue trials until the study holds ``n_trials``: recommendations first (only on a
    study that has none yet), then open trials for the sampler -- those numbered below
    ``n_trials // 2`` with their algorithm fixed to one of the top ``narrow`` families."""
    existing = len(study.get_trials(deepcopy=False))
    missing = n_trials - existing
    if missing <= 0:
        return
    if existing == 0 and warm > 0:
        for rank, config in enumerate(recommended(min(warm, missing)), start=1):
            study.enqueue_trial(space.to_trial_params(config),
                                user_attrs={WARM_START_ATTR: rank})
        missing = n_trials - len(study.get_trials(deepcopy=False))
    first = n_trials - max(missing, 0)
    families: list[str] = []
    if narrow is not None and first < n_trials // 2:
        families = _top_families(recommended(max(NARROW_POOL, warm)), narrow)
    for number in range(first, n_trials):
        # Optuna allows one set of choices per parameter in a study, so the narrowed trials
        # fix "algorithm" (in turn over the families) and the sampler draws the rest.
        narrowed = bool(families) and number < n_trials // 2
        params = {"algorithm": families[(number - first) % len(families)]} if narrowed else {}
        study.enqueue_trial(params)


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
) -> Any:
    """Tune a pipeline for ``data`` with Optuna, warm-started by the recommendations.

    Parameters
    ----------
    data : DataFrame, path, ``"openml:<id>"``, (X, y) or Dataset
        Anything :func:`autometa.load_dataset` accepts.
    target : str, optional
        Target column (for tables and files).
    n_trials : int
        The study's budget: it ends with this many trials (a resumed or shared study
        counts the trials it already has).
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
        (see :func:`make_storage`).
    study_name : str, optional
        Default ``"autometa-<dataset name>"`` with a storage. An existing study of that name
        is continued (it must tune the same dataset, task and metric).
    sampler : optuna sampler, optional
        Default :func:`make_sampler` ``(random_state)``: multivariate TPE.
    timeout : float, optional
        Stop starting new trials after this many seconds.
    n_jobs : int
        Trials evaluated at once in this process (each in its own worker process).
    random_state : int
        Seed of the sampler, the folds and the estimators: the same seed gives the same
        trials.
    kb, model : knowledge base and meta-model of the recommendations (see
        :func:`autometa.recommend`).
    time_limit : float, optional
        Seconds one trial (all its folds) may take; beyond it the trial is pruned.
    memory_limit_mb : float, optional
        Extra memory one trial may use; beyond it the trial is pruned.
    callbacks : list of callables, optional
        ``callback(study, frozen_trial)`` after each finished trial (Optuna's signature).
    cache : dict, optional
        ``{config_id: folds}`` of earlier evaluations with the same data, ``cv`` and
        ``random_state`` (e.g. across sampler seeds in a benchmark); a config found there is
        not evaluated again, new evaluations are added.
    narrow_space : int, optional
        Transfer beyond the warm start: the sampler's trials numbered below
        ``n_trials // 2`` stay within the first ``narrow_space`` distinct algorithm
        families among the top :data:`NARROW_POOL` recommendations -- they are queued with
        their algorithm fixed, in turn over those families, and the sampler draws the
        preprocessing and hyperparameters -- and the later trials search the whole space.
        ``None`` (default): the whole space throughout. Set when the study's trials are
        queued (a resumed study keeps its queue).

    Returns
    -------
    optuna.Study
        An ordinary Optuna study (``optuna.load_study`` and optuna-dashboard work on its
        storage). ``study.best_trial.user_attrs["config"]`` is the best configuration.

    Raises
    ------
    InvalidParameterError
        A count is not a non-negative integer.
    ConfigError
        Unknown metric or storage, or an existing study tunes another problem.

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
    if timeout is not None and not timeout > 0:
        raise InvalidParameterError(f"timeout must be a positive number of seconds, got {timeout!r}")
    dataset = _load(data, target)
    metric = metric or DEFAULT_METRIC[dataset.task]
    direction = "maximize" if get_metric(metric, dataset.task).greater_is_better else "minimize"
    if study_name is None and storage is not None:
        study_name = f"autometa-{dataset.name}"
    sampler = sampler if sampler is not None else make_sampler(random_state)
    info = _study_info(dataset, metric, cv)
    callbacks = list(callbacks or [])

    def recommended(k: int) -> list[dict[str, Any]]:
        return _recommended_configs(dataset, k, metric=metric, kb=kb, model=model,
                                    random_state=random_state)

    # One process at a time sets up a study on a local file (creating the SQLite tables,
    # queueing the trials); the trials themselves run concurrently.
    with _file_lock(_lock_path(storage)):
        storage_obj = make_storage(storage)
        study = optuna.create_study(storage=storage_obj, study_name=study_name, sampler=sampler,
                                    direction=direction, load_if_exists=True)
        if study.direction.name.lower() != direction:
            raise ConfigError(
                f"study {study.study_name!r} is set to {study.direction.name.lower()}, but "
                f"metric {metric!r} needs {direction}"
            )
        _check_same_problem(study, info)
        interval = _heartbeat_interval(study._storage)
        if interval:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        _top_up(study, n_trials, recommended, warm_start, narrow_space)

    objective = _Objective(dataset, metric, cv=cv, time_limit=time_limit,
                           memory_limit_mb=memory_limit_mb, random_state=random_state,
                           cache=cache)
    deadline = None if timeout is None else time.monotonic() + timeout
    lock = threading.Lock()  # callbacks and the shared cache see one trial at a time
    State = optuna.trial.TrialState

    def work() -> None:
        while deadline is None or time.monotonic() < deadline:
            trial = _claim_trial(study, n_trials)
            if trial is None:
                return
            state, value = State.FAIL, None
            try:
                with _heartbeat(study._storage, trial._trial_id, interval):
                    state, value = objective(trial)
            except Exception as exc:  # noqa: BLE001 - a broken trial never ends the study
                trial.set_user_attr("status", "error")
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[-_MAX_ERROR_CHARS:])
            except BaseException:
                study.tell(trial, state=State.FAIL)
                raise
            frozen = study.tell(trial, value if state == State.COMPLETE else None, state=state)
            with lock:
                for callback in callbacks:
                    callback(study, frozen)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if n_jobs == 1:
            work()
        else:
            with ThreadPoolExecutor(n_jobs) as pool:
                for future in [pool.submit(work) for _ in range(n_jobs)]:
                    future.result()
    return study
