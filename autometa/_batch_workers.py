"""The worker side of :func:`autometa.batch.run`: the jobs, and where they run.

Jobs run in worker processes: :func:`describe` (a dataset record and its meta-features)
and :func:`evaluate_job` (one configuration cross-validated; one journal record with every
fold), each loading its dataset once per process (:func:`subsample`d to the run's size).
:class:`Executor` puts the two places they can run behind one ``submit``/``wait_first``
interface: a reusable loky pool (through joblib) whose workers -- and the evaluations they
start -- end with this process, or a ``dask.distributed`` client (whose workers must be
allowed to start the isolated process each evaluation runs in).
:func:`current_openml_settings` carries the caller's ``openml.config`` to the workers.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from functools import lru_cache, partial
from typing import Any

import numpy as np

from autometa._constants import METAFEATURE_MAX_ROWS
from autometa.evaluate import call_with_limits, evaluate, kill_evaluations_with_parent, make_splits
from autometa.kb import dataset_record, evaluation_record, metafeatures_record

__all__ = ["Executor", "current_openml_settings", "describe", "evaluate_job", "subsample"]


def subsample(dataset: Any, max_rows: int | None, random_state: int = 0) -> Any:
    """A deterministic row subsample of ``dataset`` (stratified for classification).

    Returns the dataset itself when it is small enough. Subsampling drops the dataset's own
    splits (they index the full table); the number of rows used is recorded by the caller.
    """
    n = len(dataset.y)
    if max_rows is None or n <= max_rows:
        return dataset
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    stratify = dataset.y if dataset.task == "classification" else None
    if stratify is not None and dataset.y.value_counts().min() < 2:
        stratify = None
    try:
        keep, _ = train_test_split(
            index, train_size=max_rows, stratify=stratify, random_state=random_state
        )
    except ValueError:  # more classes than max_rows, or similar: plain random rows
        keep, _ = train_test_split(index, train_size=max_rows, random_state=random_state)
    keep = np.sort(keep)
    return dataclasses.replace(
        dataset,
        X=dataset.X.iloc[keep].reset_index(drop=True),
        y=dataset.y.iloc[keep].reset_index(drop=True),
        splits=None,
    )


@lru_cache(maxsize=4)
def _load(
    source: str,
    max_rows: int | None,
    random_state: int,
    openml_settings: tuple | None = None,
    target: str | None = None,
) -> Any:
    """Load (and subsample) a dataset once per worker process."""
    import warnings

    from autometa.data import load_dataset

    apply_openml_settings(openml_settings)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's notes were seen when the suite was made
        return subsample(load_dataset(source, target=target), max_rows, random_state)


def describe(
    source: str,
    max_rows: int | None,
    random_state: int,
    groups: Any,
    cv: int,
    openml_settings: tuple | None = None,
    time_limit: float | None = None,
    memory_limit_mb: float | None = None,
    target: str | None = None,
) -> dict:
    """Worker job: the dataset record and its meta-features, computed under the time and
    memory limits of an evaluation (the extractor also gets most of the time as its budget,
    so it returns what it has instead of being stopped)."""
    import warnings

    full = _load(source, None, random_state, openml_settings, target)
    data = _load(source, max_rows, random_state, openml_settings, target)
    y = data.y
    meta = getattr(full, "metadata", {}) or {}
    record = dataset_record(
        dataset=data.name,
        task=data.task,
        source=source,
        n_rows=len(full.y),
        n_features=int(full.X.shape[1]),
        n_classes=int(y.nunique()) if data.task == "classification" else None,
        openml_dataset_id=meta.get("openml_dataset_id"),
        openml_task_id=meta.get("openml_task_id"),
        n_rows_used=len(y),
        # as evaluated: the dataset's own splits, or fewer folds where a class is rare
        cv_folds=len(make_splits(data, cv, random_state)),
        group="",
    )
    try:
        import metafeatures

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Described in full (the extractor samples rows itself where a measure is
            # quadratic), as recommend() describes a new dataset.
            extract = partial(
                metafeatures.extract,
                task=full.task,
                categorical=list(full.categorical),
                groups=groups,
                random_state=random_state,
                max_rows=METAFEATURE_MAX_ROWS,
                time_budget=None if time_limit is None else 0.8 * time_limit,
            )
            values = call_with_limits(
                extract, full.X, full.y, time_limit=time_limit, memory_limit_mb=memory_limit_mb
            )
    except Exception as exc:  # noqa: BLE001 - evaluations go on; a later run retries
        return {
            "dataset": record,
            "metafeatures": None,
            "error": f"meta-features failed: {type(exc).__name__}: {exc}",
        }
    return {"dataset": record, "metafeatures": metafeatures_record(data.name, values)}


def evaluate_job(
    source: str,
    config_id: str,
    config: dict,
    cv: int,
    max_rows: int | None,
    time_limit: float,
    memory_limit_mb: float,
    random_state: int,
    openml_settings: tuple | None = None,
    repeat: int = 0,
    target: str | None = None,
) -> dict:
    """Worker job: cross-validate one configuration; one journal record with every fold.

    Repeat ``r`` deals the folds (and seeds the estimator) with ``random_state + r`` on the
    same subsample, and numbers its folds after those of the earlier repeats.
    """
    data = _load(source, max_rows, random_state, openml_settings, target)
    evaluation = evaluate(
        config,
        data,
        cv=cv,
        time_limit=time_limit,
        memory_limit_mb=memory_limit_mb,
        random_state=random_state + repeat,
    )
    offset = repeat * len(make_splits(data, cv, random_state)) if repeat else 0
    # All folds in one journal line, so that a kill or a full disk cannot leave a cell
    # half recorded; n_rows_used per result: a dataset can hold several fidelities.
    return evaluation_record(
        data.name,
        config_id,
        data.task,
        [
            {**fold, "fold": fold["fold"] + offset, "n_rows_used": len(data.y)}
            for fold in evaluation.folds
        ],
    )


def current_openml_settings() -> tuple | None:
    """The caller's ``openml.config`` (cache directory, server, retries) as a hashable
    tuple, for worker processes.

    Workers are fresh processes: without this, a cache the user pointed ``openml.config``
    at (e.g. a populated offline cache) would be ignored where the datasets are loaded.
    """
    import sys

    if "openml" not in sys.modules:
        return None
    config = sys.modules["openml"].config.get_config_as_dict()
    return tuple((key, config[key]) for key in ("cachedir", "server", "connection_n_retries"))


def apply_openml_settings(settings: tuple | None) -> None:
    if not settings:
        return
    import openml

    settings = dict(settings)
    openml.config.set_root_cache_directory(settings["cachedir"])
    openml.config.server = settings["server"]
    openml.config.connection_n_retries = settings["connection_n_retries"]


class Executor:
    """The two places work can run, behind one submit/wait interface."""

    def __init__(self, n_jobs: int, scheduler: str | None) -> None:
        self.client = None
        if scheduler:
            try:
                from distributed import Client
            except ImportError as exc:  # an optional extra
                raise ImportError(
                    "a dask scheduler needs dask.distributed; install it with: "
                    'pip install "autometa[distributed]"'
                ) from exc

            self.client = Client(scheduler) if isinstance(scheduler, str) else scheduler
            self._owns_client = isinstance(scheduler, str)
            self.n_workers = max(1, sum(self.client.nthreads().values()))
            self._check_workers_can_fork()
        else:
            from joblib.externals.loky import get_reusable_executor

            self.n_workers = max(1, n_jobs if n_jobs > 0 else os.cpu_count() or 1)
            # Workers (and the evaluations they run) end with this process, even on kill -9.
            self.pool = get_reusable_executor(
                max_workers=self.n_workers,
                timeout=60,
                initializer=kill_evaluations_with_parent,
                initargs=(os.getpid(),),
            )

    def _check_workers_can_fork(self) -> None:
        """Each evaluation runs in a child process of the worker (for its limits), which
        daemonic processes (dask's default for nanny-managed workers) may not start."""
        import multiprocessing

        daemonic = self.client.run(lambda: multiprocessing.current_process().daemon)
        if any(daemonic.values()):
            from autometa.errors import InvalidParameterError

            if self._owns_client:
                self.client.close()
            raise InvalidParameterError(
                f"dask workers {sorted(a for a, d in daemonic.items() if d)} are daemonic "
                "processes and cannot start the isolated process each evaluation runs in; "
                "start them with DASK_DISTRIBUTED__WORKER__DAEMON=False (e.g. "
                "`DASK_DISTRIBUTED__WORKER__DAEMON=False dask worker ADDRESS`), or call "
                "dask.config.set({'distributed.worker.daemon': False}) before LocalCluster()"
            )

    def submit(self, fn, *args):
        if self.client is not None:
            return self.client.submit(fn, *args, pure=False)
        return self.pool.submit(fn, *args)

    def wait_first(self, pending: set) -> tuple[set, set]:
        if self.client is not None:
            from distributed import wait

            done, not_done = wait(list(pending), return_when="FIRST_COMPLETED")
            return set(done), set(not_done)
        return concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)

    def close(self) -> None:
        # A client we created is closed; a pool stays reusable for the next run.
        if self.client is not None and self._owns_client:
            self.client.close()
