"""Tuning (:func:`autometa.tune`): Optuna searches that start where good configurations are.

:func:`tune` runs an ordinary Optuna study over the one search space
(:func:`autometa.space.suggest`); its objective is the cross-validated score of a
configuration on the data (the dataset's own splits when it has them), computed by
:func:`autometa.evaluate` in an isolated worker with time and memory limits. The first
``n_warm_start`` trials are the top recommendations of :func:`autometa.recommend` (enqueued),
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

Algorithms
----------
Each study draws from one list of algorithms, fixed when it starts and stored with it
(user attribute ``autometa_algorithms``, :data:`ALGORITHMS_ATTR`): the default ones, plus
an optional algorithm (the few-shot learner, where PyTorch is installed) when the
recommendations the study starts with hold a configuration of it that applies to the
table (at most 1,000 rows and 100 features). Resumed and parallel workers read the stored
list, since Optuna refuses other choices for a parameter within one study; a study without
it (started by an older version) keeps the default list.

Every trial keeps ``user_attrs``: ``config`` (the configuration, as
:func:`autometa.recommendation.learn_from` expects), ``config_id``, ``folds`` (per-fold records),
``status`` (``ok``/``timeout``/``memory``/``not_applicable``/``error``), ``error``,
``metric``, ``categorical``, ``warm_start_rank`` for enqueued recommendations and
``duplicate_of`` for a reused result. A configuration that times out or runs out of memory
ends ``PRUNED``, and so does one that does not apply to the table (not run); one that
raises ends ``FAIL`` (with ``status`` ``error``); none stops the study. A ``FAIL`` without
a ``status`` is a lost trial (its process died) that was run again in another trial.

Example
-------
>>> import autometa
>>> study = autometa.tune("train.csv", target="label", n_trials=30, n_warm_start=10)  # doctest: +SKIP
>>> study.best_value, study.best_trial.user_attrs["config"]["algorithm"]  # doctest: +SKIP
(0.91, 'hist_gradient_boosting')
>>> model = autometa.fit_best(study, "train.csv", target="label")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from autometa import (
    _optuna_compat,
    _tune_algorithms,
    _tune_budget,
    _tune_liveness,
    _tune_objective,
    _tune_storage,
    _tune_study,
    space,
)
from autometa._tune_algorithms import enqueueable, study_algorithms
from autometa._tune_budget import WARM_START_ATTR, QueuePlan
from autometa._tune_liveness import liveness
from autometa._tune_objective import Objective
from autometa._tune_results import config_from_trial, pipeline_from_trial
from autometa._tune_study import open_study, study_info
from autometa._tune_workers import Workers, recover
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

# The pieces of tune live in private modules: ``_tune_storage`` (storage URLs, the setup
# lock), ``_tune_study`` (opening the study, checking it tunes the same problem),
# ``_tune_algorithms`` (the study's algorithm list, what it can enqueue), ``_tune_budget``
# (slots, queueing, claiming), ``_tune_liveness`` (heartbeats, lost trials),
# ``_tune_objective`` (one trial's evaluation), ``_tune_workers`` (the trial loop),
# ``_tune_results`` (trials back to configurations and pipelines); Optuna's private API is
# in ``_optuna_compat``. ``tune`` reads HEARTBEAT_INTERVAL, GRACE_PERIOD, make_storage,
# make_sampler and _recommended_configs from this module at call time (it passes them on),
# so that setting them here (as the tests do) changes what it does: keep those reads in
# this module.

#: Seconds between heartbeats of a running trial (on every storage; the heartbeat
#: interval of an ``RDBStorage`` you pass with heartbeats enabled takes precedence).
HEARTBEAT_INTERVAL = 30
#: Seconds without a heartbeat after which a running trial is considered lost: it is marked
#: failed and its slot of the budget is queued again (the ``grace_period`` of an
#: ``RDBStorage`` you pass with heartbeats enabled takes precedence).
GRACE_PERIOD = 120
# Defined with the code that uses them, read here too:
#: Study user attribute holding the algorithm names its trials draw from (fixed when the
#: study starts; see :func:`autometa._tune_algorithms.study_algorithms`).
ALGORITHMS_ATTR = _tune_algorithms.ALGORITHMS_ATTR  # "autometa_algorithms"
STUDY_ATTR = _tune_study.STUDY_ATTR  # "autometa"
DUPLICATE_ATTR = _tune_objective.DUPLICATE_ATTR  # "duplicate_of"
SLOT_ATTR = _tune_budget.SLOT_ATTR  # "autometa_slot"
BEAT_ATTR = _tune_liveness.BEAT_ATTR  # "autometa_heartbeat"
NARROW_POOL = _tune_budget.NARROW_POOL
_evaluated = _tune_budget.evaluated  # tests read it here


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
    return _tune_storage.open_storage(
        storage, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD
    )


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
# fitting the best trial
# --------------------------------------------------------------------------------------


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
    """The top ``n`` recommendations' configurations that this installation's search space
    holds (optional algorithms included; :func:`enqueueable` checks them against a
    study's own list)."""
    from autometa.recommendation import recommend

    recs = recommend(dataset, k=n, metric=metric, kb=kb, model=model, random_state=random_state)
    names = space.algorithm_names(dataset.task, include_optional=True)
    configs = []
    for rec in recs:
        try:
            space.to_trial_params(rec.config, algorithms=names)
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

    On a study without trials, the algorithms ``suggest`` draws from are fixed here (as
    :func:`tune` does): the default ones, plus the few-shot learner where a recommendation
    of it applies to the table (PyTorch installed, at most 1,000 rows and 100 features).
    The list is stored with the study (user attribute ``autometa_algorithms``), and
    ``space.suggest(trial, task)`` reads it from there: pass ``algorithms=`` to ``suggest``
    only with that same list (:func:`autometa.space.study_algorithms`). A study that
    already has trials keeps the default list; a recommendation it cannot draw is not
    enqueued (with a warning).

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
    algorithms = study_algorithms(study, dataset, lambda: configs)
    configs = enqueueable(configs, algorithms, dataset)
    for rank, config in enumerate(configs, start=1):
        study.enqueue_trial(
            space.to_trial_params(config, algorithms=algorithms),
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


def _renamed_keyword(old: str, new: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: accept the keyword ``old`` as the deprecated spelling of ``new`` (with a
    FutureWarning). A decorator rather than a second parameter, so that giving both is
    told apart from ``new``'s default, and the signature shows only ``new``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(
                        f"{func.__name__}() got both {new}= and its deprecated name {old}=; "
                        f"give only {new}="
                    )
                warnings.warn(
                    f"{func.__name__}({old}=...) is deprecated; use {new}= instead",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


# warm_start= named the count the same as the function warm_start()
@_renamed_keyword("warm_start", "n_warm_start")
def tune(
    data: Any,
    target: str | None = None,
    *,
    n_trials: int = 50,
    n_warm_start: int = 10,
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
    n_warm_start : int, default=10
        How many of the top recommendations to enqueue as the first trials; ``0`` is a
        cold start (plain sampler). ``warm_start=`` is its deprecated name (a
        ``FutureWarning``; giving both is a ``TypeError``).
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
    TypeError
        Both ``n_warm_start`` and its deprecated name ``warm_start`` are given.
    ConfigError
        Unknown metric or storage, a storage file without a name or in a directory that
        does not exist, or an existing study tunes another problem.

    Examples
    --------
    >>> study = autometa.tune(df, target="y", n_trials=30, n_warm_start=10,
    ...                       storage="sqlite:///tune.db")  # doctest: +SKIP
    >>> autometa.pipeline_from_trial(study.best_trial)  # doctest: +SKIP
    """
    from autometa.metrics import DEFAULT_METRIC, get_metric

    _check_int("n_trials", n_trials, 0)
    _check_int("n_warm_start", n_warm_start, 0)
    if narrow_space is not None:
        _check_int("narrow_space", narrow_space, 1)
    _check_int("n_jobs", n_jobs, 1)
    _check_int("cv", cv, 2)
    timeout = _check_seconds("timeout", timeout)
    time_limit = _check_seconds("time_limit", time_limit)
    # checks a SQLite/journal path before anything is created
    lock_path = _tune_storage.lock_path(storage)
    dataset = _load(data, target)
    metric = metric or DEFAULT_METRIC[dataset.task]
    direction = "maximize" if get_metric(metric, dataset.task).greater_is_better else "minimize"
    if study_name is None and storage is not None:
        study_name = f"autometa-{dataset.name}"
    info = study_info(dataset, metric, cv)
    callbacks = list(callbacks or [])
    if not isinstance(show_progress_bar, bool):
        raise InvalidParameterError(
            f"show_progress_bar must be True or False, got {show_progress_bar!r}"
        )
    recommended = _memoized(
        lambda k: _recommended_configs(
            dataset, k, metric=metric, kb=kb, model=model, random_state=random_state
        )
    )

    # One process at a time sets up a study on a local file (creating the SQLite tables,
    # queueing the trials); the trials themselves run concurrently.
    with _tune_storage.file_lock(lock_path):
        study = open_study(
            make_storage(storage),
            study_name,
            sampler,
            direction,
            info,
            random_state,
            make_sampler=make_sampler,
        )
        algorithms = study_algorithms(
            study,
            dataset,
            lambda: _first_recommendations(recommended, n_trials, n_warm_start, narrow_space),
        )
        warned: set[str] = set()
        plan = QueuePlan(
            n_trials,
            n_warm_start,
            narrow_space,
            recommended=lambda k: enqueueable(recommended(k), algorithms, dataset, warned),
            algorithms=tuple(algorithms),
        )
        storage_ = _optuna_compat.storage_of(study)
        live = liveness(storage_, HEARTBEAT_INTERVAL, GRACE_PERIOD)
        recover(study, plan, live)

    objective = Objective(
        dataset,
        metric,
        cv=cv,
        time_limit=time_limit,
        memory_limit_mb=memory_limit_mb,
        random_state=random_state,
        cache=cache,
        # None is suggest's default list, the same thing (and what a patched suggest sees)
        algorithms=None if algorithms == space.algorithm_names(dataset.task) else algorithms,
    )
    workers = Workers(
        study, objective, plan, live, lock_path=lock_path, timeout=timeout, callbacks=callbacks
    )
    workers.run(n_jobs, show_progress_bar=show_progress_bar)
    return study


def _memoized(
    recommended: Callable[[int], list[dict[str, Any]]],
) -> Callable[[int], list[dict[str, Any]]]:
    """``recommended(k)`` computed once per ``k`` (choosing the study's algorithms and
    queueing its trials look at the same recommendations)."""
    done: dict[int, list[dict[str, Any]]] = {}

    def get(k: int) -> list[dict[str, Any]]:
        if k not in done:
            done[k] = recommended(k)
        return list(done[k])

    return get


def _first_recommendations(
    recommended: Callable[[int], list[dict[str, Any]]],
    n_trials: int,
    warm: int,
    narrow: int | None,
) -> list[dict[str, Any]]:
    """The recommendations a new study's trials are queued from: the warm start's and,
    with ``narrow_space``, the pool of its families (none on a cold start)."""
    configs: list[dict[str, Any]] = []
    k_warm = min(warm, n_trials)
    if k_warm > 0:
        configs += recommended(k_warm)
    if narrow is not None and k_warm < n_trials // 2:
        configs += recommended(_tune_budget.narrow_pool(warm))
    return configs
