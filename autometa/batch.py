"""Build or extend a knowledge base: every portfolio configuration on every dataset of a suite.

The runner is resumable by construction: each finished evaluation is appended to a journal
file in the knowledge-base directory (flushed and fsynced) the moment it arrives, and a
restarted run skips every (dataset, configuration) pair that the knowledge base already
holds. Killed at any moment, even with ``kill -9``, a run loses at most the evaluations in
flight and repeats none that finished.

Work runs in worker processes: a local pool (loky, through joblib) by default, or a
``dask.distributed`` cluster when a scheduler address is given, which is how a batch goes
beyond one machine. Each evaluation inside a worker is further isolated by
:func:`autometa.evaluate.evaluate` (time and memory limits).

Example
-------
>>> from autometa import batch
>>> summary = batch.run("dir:../shared/corpus/pmlb/classification", "my_kb",
...                     configs=20, cv=3, max_rows=500, n_jobs=2)  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa import space
from autometa._constants import METAFEATURE_MAX_ROWS, TASKS
from autometa.evaluate import call_with_limits, evaluate, kill_evaluations_with_parent, make_splits
from autometa.kb import (
    JOURNAL_DIR,
    Journal,
    config_record,
    dataset_record,
    error_record,
    evaluation_record,
    metafeatures_record,
    write_header,
    writer_lock,
)
from autometa.metrics import DEFAULT_METRIC

#: Meta-feature groups stored in a knowledge base (a superset of what recommend() extracts).
KB_METAFEATURE_GROUPS = "all"


@dataclasses.dataclass
class BatchSummary:
    """What a :func:`run` did: per dataset, evaluations done now and before, and failures."""

    kb_dir: Path
    done: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    failed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    dataset_errors: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_evaluations(self) -> int:
        return sum(self.done.values())

    def table(self):
        """A rich table: one row per dataset with counts and failure reasons."""
        from rich.table import Table

        table = Table(title=f"batch into {self.kb_dir}")
        for column in ("dataset", "evaluated now", "already in KB", "failed", "reason"):
            table.add_column(column)
        names = sorted(set(self.done) | set(self.skipped) | set(self.dataset_errors))
        for name in names:
            reasons = self.failed.get(name, [])
            reason = self.dataset_errors.get(name) or (
                reasons[0].splitlines()[0] if reasons else ""
            )
            table.add_row(
                name,
                str(self.done.get(name, 0)),
                str(self.skipped.get(name, 0)),
                str(len(reasons) + (name in self.dataset_errors)),
                reason[:80],
            )
        return table


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


def _interleave(lists: list[list[str]]) -> list[str]:
    """Round-robin merge, dropping repeats: ``[[a, b, c], [x]] -> [a, x, b, c]``."""
    merged: dict[str, None] = {}
    for i in range(max(map(len, lists), default=0)):
        for items in lists:
            if i < len(items):
                merged.setdefault(items[i], None)
    return list(merged)


def _openml_settings() -> tuple | None:
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


def _apply_openml_settings(settings: tuple | None) -> None:
    if not settings:
        return
    import openml

    settings = dict(settings)
    openml.config.set_root_cache_directory(settings["cachedir"])
    openml.config.server = settings["server"]
    openml.config.connection_n_retries = settings["connection_n_retries"]


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

    _apply_openml_settings(openml_settings)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's notes were seen when the suite was made
        return subsample(load_dataset(source, target=target), max_rows, random_state)


def _describe(
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


def _evaluate_job(
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


class _Executor:
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


@dataclasses.dataclass
class _KBState:
    """What a knowledge base already holds, for resuming."""

    # (dataset, config_id, repeat, n_rows_used) evaluated; repeat r holds folds
    # [r * cv_folds, (r+1) * cv_folds) at that size
    evaluated: set = dataclasses.field(default_factory=set)
    n_rows: dict = dataclasses.field(default_factory=dict)  # dataset -> rows in full
    base_size: dict = dataclasses.field(default_factory=dict)  # dataset -> smallest size run
    base_scores: dict = dataclasses.field(default_factory=dict)  # task -> datasets x configs
    own_splits: set = dataclasses.field(default_factory=set)  # datasets with their own splits
    described: dict = dataclasses.field(default_factory=dict)  # source -> (dataset, task)
    with_metafeatures: set = dataclasses.field(default_factory=set)
    # dataset records of KBs written before ``cv_folds`` was recorded, completed from the
    # folds on record (such KBs hold one repeat)
    completed_records: list = dataclasses.field(default_factory=list)


def _kb_state(kb_dir: Path, with_scores: bool = False) -> _KBState:
    """What the KB at ``kb_dir`` holds; ``with_scores``: also each dataset's scores at its
    smallest size (only ``--top-configs`` needs them, and they cost a pass over the results)."""
    from autometa.kb import KnowledgeBase

    state = _KBState()
    if not (kb_dir / "kb.json").exists() and not (kb_dir / JOURNAL_DIR).exists():
        return state
    kb = KnowledgeBase.load(kb_dir)
    for task in TASKS:
        datasets = kb.datasets(task)
        results = kb.results(task, fidelity="all")[["dataset", "n_rows_used"]]
        folds_per_repeat = kb.folds_per_repeat(task)
        unknown = datasets["cv_folds"].isna() & datasets["dataset"].isin(folds_per_repeat.index)
        for row in datasets[unknown].to_dict("records"):
            row = {k: (None if pd.isna(v) else v) for k, v in row.items()}
            state.completed_records.append(
                dataset_record(**{**row, "cv_folds": int(folds_per_repeat[row["dataset"]])})
            )
        # A cell counts as evaluated only with every fold of its repeat on record (journals
        # of older versions wrote one line per fold, so a kill could leave a cell partial).
        complete = kb.complete_repeats(task, fidelity="all")
        state.evaluated |= set(complete.index[complete.to_numpy()])
        state.own_splits |= set(datasets.loc[datasets["openml_task_id"].notna(), "dataset"])
        state.n_rows.update(zip(datasets["dataset"], datasets["n_rows"]))
        state.base_size.update(results.groupby("dataset")["n_rows_used"].min().dropna().items())
        if with_scores:
            state.base_scores[task] = kb.performance(task, DEFAULT_METRIC[task])
        state.described.update(
            {s: (d, task) for s, d in zip(datasets["source"], datasets["dataset"])}
        )
        mf = kb.metafeatures(task)
        # metafeatures() reindexes to every dataset of the task; rows of NaN were never
        # described and must be described again.
        state.with_metafeatures |= set(mf.index[mf.notna().any(axis=1)])
    return state


def run(
    suite: str | Sequence[str],
    kb_dir: str | os.PathLike,
    *,
    configs: int = 100,
    cv: int = 5,
    repeats: int = 1,
    max_rows: int | None = None,
    n_jobs: int = 1,
    scheduler: Any = None,
    time_limit: float = 60.0,
    memory_limit_mb: float = 4096,
    random_state: int = 0,
    tasks: Iterable[str] = TASKS,
    top_configs: int | None = None,
    target: str | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Evaluate the portfolio on every dataset of ``suite`` into the KB at ``kb_dir``.

    Parameters
    ----------
    suite : a suite spec for :func:`autometa.load_suite` (``dir:PATH``, ``openml-suite:99``,
        ``openml-task:1,2``, a dataset source), or a list of them; several suites are
        interleaved so that each progresses from the start.
    kb_dir : the knowledge-base directory; created if needed, extended if it exists.
    configs : portfolio size per task (algorithm defaults first, then seeded samples).
    cv : cross-validation folds (a dataset's own OpenML splits take precedence).
    repeats : repeated cross-validation: each repeat deals the ``cv`` folds anew (seed
        ``random_state + r``) on the same subsample, and its folds are recorded after the
        earlier repeats' (folds ``r * cv_folds`` on). Rerunning an existing KB with a larger
        ``repeats`` evaluates only the new repeats, which halves the variance of every
        stored score from one repeat to two. Datasets with their own splits get one.
    max_rows : subsample larger datasets to this many rows, deterministically.
    n_jobs : local worker processes (ignored with ``scheduler``).
    scheduler : a ``dask.distributed`` scheduler address or ``Client``.
    time_limit, memory_limit_mb : per-evaluation limits (see :func:`autometa.evaluate.evaluate`).
    random_state : seed of the portfolio, the subsamples and the folds.
    tasks : which task types of the suite to run.
    top_configs : evaluate at a larger size (``max_rows``) only the algorithm defaults and
        the ``top_configs`` best configurations of each dataset by its results at its
        smallest size on record (the default metric of the task). Each result records
        ``n_rows_used``, so one dataset holds several fidelities; datasets whose smallest
        size already used this many rows are skipped.
    target : the target column of every dataset of the suite, passed to
        :func:`autometa.load_dataset` (default: what it finds -- a corpus manifest's, or a
        column named ``target``).

    Returns
    -------
    BatchSummary
    """

    from autometa.data import load_suite
    from autometa.errors import InvalidParameterError

    for name, value in (
        ("configs", configs),
        ("cv", cv),
        ("repeats", repeats),
        ("top_configs", 1 if top_configs is None else top_configs),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}")
    start = time.perf_counter()
    kb_dir = Path(kb_dir)
    # the suite first: a bad suite path must not leave an empty knowledge-base folder
    sources = _interleave(
        [
            load_suite(spec).sources
            for spec in ([suite] if isinstance(suite, (str, os.PathLike)) else suite)
        ]
    )
    kb_dir.mkdir(parents=True, exist_ok=True)
    with writer_lock(kb_dir, timeout=0, purpose="batch"):
        return _run_locked(
            sources,
            kb_dir,
            configs=configs,
            cv=cv,
            repeats=repeats,
            max_rows=max_rows,
            n_jobs=n_jobs,
            scheduler=scheduler,
            time_limit=time_limit,
            memory_limit_mb=memory_limit_mb,
            random_state=random_state,
            tasks=tuple(tasks),
            progress=progress,
            start=start,
            top_configs=top_configs,
            target=target,
        )


def _top_and_defaults(portfolio: list[dict], scores: pd.Series, top: int, task: str) -> list[dict]:
    """The algorithm defaults and the ``top`` best-scoring configurations of the portfolio."""
    best = set(scores.dropna().sort_values(ascending=False, kind="stable").index[:top])
    defaults = {space.config_id(c) for c in space.defaults(task)}
    return [c for c in portfolio if space.config_id(c) in best | defaults]


def _run_locked(
    sources,
    kb_dir,
    *,
    configs,
    cv,
    repeats,
    max_rows,
    n_jobs,
    scheduler,
    time_limit,
    memory_limit_mb,
    random_state,
    tasks,
    progress,
    start,
    top_configs,
    target=None,
):
    """:func:`run` once it holds the directory's writer lock."""
    from rich.console import Console
    from tqdm.auto import tqdm

    state = _kb_state(kb_dir, with_scores=top_configs is not None)
    journal = Journal(kb_dir)
    write_header(kb_dir, notes="built by autometa.batch.run")
    for record in state.completed_records:
        journal.write(record)
    portfolios = {task: space.portfolio(task, configs, random_state) for task in tasks}
    for task, portfolio in portfolios.items():
        for config in portfolio:
            journal.write(config_record(task, space.config_id(config), config))

    summary = BatchSummary(kb_dir)
    openml_settings = _openml_settings()
    executor = _Executor(n_jobs, scheduler)
    work: deque = deque(("describe", source) for source in sources)
    pending: dict[Any, tuple] = {}
    limit = 4 * executor.n_workers  # few jobs in flight: a kill loses little
    # the total grows as datasets are described and their evaluations queued
    bar = tqdm(total=0, desc="evaluations", unit="eval", disable=not progress, smoothing=0.05)

    def evaluations_for(source: str, name: str, task: str, own_splits: bool, n_rows: Any) -> None:
        if task not in portfolios:
            return
        chosen = portfolios[task]
        size = int(n_rows) if max_rows is None or pd.isna(n_rows) else min(int(n_rows), max_rows)
        if top_configs is not None:
            if name not in state.base_scores.get(task, pd.DataFrame()).index:
                summary.dataset_errors[name] = (
                    "no results at a smaller size to choose the top configurations from; "
                    "run the portfolio first (without --top-configs)"
                )
                return
            if size <= state.base_size.get(name, size):
                return  # the portfolio already ran on this many rows
            chosen = _top_and_defaults(
                portfolios[task], state.base_scores[task].loc[name], top_configs, task
            )
        # A dataset's own splits (an OpenML task's) are the same in every repeat.
        dataset_repeats = 1 if own_splits else repeats
        queued = 0
        for config in chosen:
            cid = space.config_id(config)
            for repeat in range(dataset_repeats):
                if (name, cid, repeat, size) in state.evaluated:
                    summary.skipped[name] = summary.skipped.get(name, 0) + 1
                else:
                    work.append(("evaluate", source, cid, config, repeat))
                    queued += 1
        bar.total += queued
        bar.refresh()

    try:
        while work or pending:
            while work and len(pending) < limit:
                job = work.popleft()
                if job[0] == "describe" and job[1] in state.described:
                    name, task = state.described[job[1]]
                    evaluations_for(
                        job[1], name, task, name in state.own_splits, state.n_rows.get(name)
                    )
                    if name in state.with_metafeatures:
                        continue  # else describe again: its meta-features are missing
                if job[0] == "describe":
                    future = executor.submit(
                        _describe,
                        job[1],
                        max_rows,
                        random_state,
                        KB_METAFEATURE_GROUPS,
                        cv,
                        openml_settings,
                        time_limit,
                        memory_limit_mb,
                        target,
                    )
                else:
                    future = executor.submit(
                        _evaluate_job,
                        job[1],
                        job[2],
                        job[3],
                        cv,
                        max_rows,
                        time_limit,
                        memory_limit_mb,
                        random_state,
                        openml_settings,
                        job[4],
                        target,
                    )
                pending[future] = job
            if not pending:
                continue
            finished, _ = executor.wait_first(set(pending))
            for future in finished:
                job = pending.pop(future)
                source = job[1]
                try:
                    output = future.result()
                except Exception as exc:  # noqa: BLE001 - a dataset that cannot load is recorded
                    name = Path(source).name.split(".")[0] if job[0] == "describe" else source
                    summary.dataset_errors[name] = f"{type(exc).__name__}: {exc}"
                    journal.write(error_record(source, job[0], summary.dataset_errors[name]))
                    continue
                if job[0] == "describe":
                    record = output["dataset"]
                    journal.write(record)
                    if output["metafeatures"] is not None:
                        journal.write(output["metafeatures"])
                    else:
                        summary.dataset_errors[record["dataset"]] = output["error"]
                    if source not in state.described:  # else its evaluations are queued
                        evaluations_for(
                            source,
                            record["dataset"],
                            record["task"],
                            record["openml_task_id"] is not None,
                            record["n_rows"],
                        )
                else:
                    journal.write(output)
                    name = output["dataset"]
                    summary.done[name] = summary.done.get(name, 0) + 1
                    failed = [r for r in output["folds"] if r["status"] != "ok"]
                    if failed:
                        summary.failed.setdefault(name, []).append(
                            f"{job[2]}: {failed[0]['status']}: {failed[0]['error']}"
                        )
                    bar.update(1)
    finally:
        bar.close()
        journal.close()
        executor.close()
    summary.seconds = time.perf_counter() - start
    if progress:
        Console().print(summary.table())
    return summary
