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

import dataclasses
import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa import space
from autometa._batch_workers import (
    Executor,
    current_openml_settings,
    describe,
    evaluate_job,
    subsample,
)
from autometa._constants import NOT_APPLICABLE, STATUSES, TASKS
from autometa.kb import (
    JOURNAL_DIR,
    Journal,
    config_record,
    dataset_record,
    error_record,
    write_header,
    writer_lock,
)
from autometa.metrics import DEFAULT_METRIC

__all__ = ["KB_METAFEATURE_GROUPS", "BatchSummary", "run", "subsample"]

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
    #: per dataset, configurations recorded as not applicable (not run; e.g. the few-shot
    #: learner on a large table)
    not_applicable: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_evaluations(self) -> int:
        return sum(self.done.values())

    def table(self):
        """A rich table: one row per dataset with counts and failure reasons."""
        from rich.table import Table

        table = Table(title=f"batch into {self.kb_dir}")
        columns = ["dataset", "evaluated now", "already in KB", "failed", "reason"]
        if self.not_applicable:  # only runs with optional algorithms have the column
            columns.insert(3, "not applicable")
        for column in columns:
            table.add_column(column)
        names = sorted(
            set(self.done) | set(self.skipped) | set(self.dataset_errors) | set(self.not_applicable)
        )
        for name in names:
            reasons = self.failed.get(name, [])
            reason = self.dataset_errors.get(name) or (
                reasons[0].splitlines()[0] if reasons else ""
            )
            row = [
                name,
                str(self.done.get(name, 0)),
                str(self.skipped.get(name, 0)),
                str(len(reasons) + (name in self.dataset_errors)),
                reason[:80],
            ]
            if self.not_applicable:
                row.insert(3, str(self.not_applicable.get(name, 0)))
            table.add_row(*row)
        return table


def _interleave(lists: list[list[str]]) -> list[str]:
    """Round-robin merge, dropping repeats: ``[[a, b, c], [x]] -> [a, x, b, c]``."""
    merged: dict[str, None] = {}
    for i in range(max(map(len, lists), default=0)):
        for items in lists:
            if i < len(items):
                merged.setdefault(items[i], None)
    return list(merged)


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


def _kb_state(kb_dir: Path, with_scores: bool = False, retry: tuple[str, ...] = ()) -> _KBState:
    """What the KB at ``kb_dir`` holds; ``with_scores``: also each dataset's scores at its
    smallest size (only ``--top-configs`` needs them, and they cost a pass over the results);
    ``retry``: statuses whose cells count as not evaluated (run again, last result wins)."""
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
        evaluated = set(complete.index[complete.to_numpy()])
        if retry:
            every = kb.results(task, fidelity="all")
            failed = every.loc[every["status"].isin(retry), list(complete.index.names)]
            evaluated -= set(failed.itertuples(index=False, name=None))
        state.evaluated |= evaluated
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
    include_optional: bool = False,
    retry: Iterable[str] = (),
    progress: bool = True,
    include_balanced: bool = False,
    include_library: bool = False,
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
    include_optional : also evaluate the default configuration of each optional algorithm
        of the space (the few-shot learner ``fewshot``, where PyTorch is installed), after
        the ``configs`` of the portfolio, which stay the same. On a dataset it does not
        apply to (more than 1,000 training rows or 100 features after preprocessing) its
        folds are recorded as ``not_applicable`` without running it. Pass it again when
        resuming or extending such a knowledge base.
    include_balanced : also evaluate the class-weighted default of every classifier with a
        ``class_weight`` (:func:`autometa.space.balanced_defaults`), after the ``configs``
        of the portfolio, which stay the same. Pass it again when resuming or extending.
    include_library : also evaluate scikit-learn's own regression defaults of the forests
        and gradient boosting on ordinal codes (:func:`autometa.space.library_defaults`),
        after the ``configs`` of the portfolio, which stay the same. Pass it again when
        resuming or extending.
    retry : statuses (of :data:`autometa.kb.STATUSES`, e.g. ``("error", "timeout")``) whose
        evaluations are run again, for instance after a bug fix or with a longer
        ``time_limit``; the new result replaces the old one (fold by fold). By default a
        recorded failure counts as done.

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
    retry = tuple([retry] if isinstance(retry, str) else retry)
    retryable = [s for s in STATUSES if s not in ("ok", NOT_APPLICABLE)]
    unknown = [s for s in retry if s not in retryable]
    if unknown:
        raise InvalidParameterError(f"retry must name statuses among {retryable}, got {unknown}")
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
    settings = _Settings(
        cv=cv,
        repeats=repeats,
        max_rows=max_rows,
        time_limit=time_limit,
        memory_limit_mb=memory_limit_mb,
        random_state=random_state,
        top_configs=top_configs,
        target=target,
        include_optional=include_optional,
        retry=retry,
        include_balanced=include_balanced,
        include_library=include_library,
    )
    with writer_lock(kb_dir, timeout=0, purpose="batch"):
        return _run_locked(
            sources,
            kb_dir,
            settings,
            configs=configs,
            n_jobs=n_jobs,
            scheduler=scheduler,
            tasks=tuple(tasks),
            progress=progress,
            start=start,
        )


def _top_and_defaults(portfolio: list[dict], scores: pd.Series, top: int, task: str) -> list[dict]:
    """The algorithm defaults (the class-weighted and the library ones too, where the
    portfolio has them) and the ``top`` best-scoring configurations of the portfolio."""
    best = set(scores.dropna().sort_values(ascending=False, kind="stable").index[:top])
    every_default = (
        space.defaults(task) + space.balanced_defaults(task) + space.library_defaults(task)
    )
    defaults = {space.config_id(c) for c in every_default}
    return [c for c in portfolio if space.config_id(c) in best | defaults]


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What :func:`run` was asked for, as its jobs need it."""

    cv: int
    repeats: int
    max_rows: int | None
    time_limit: float
    memory_limit_mb: float
    random_state: int
    top_configs: int | None
    target: str | None
    include_optional: bool
    retry: tuple[str, ...] = ()
    include_balanced: bool = False
    include_library: bool = False


@dataclasses.dataclass(frozen=True)
class _DescribeJob:
    """Load a dataset of the suite and record it with its meta-features."""

    source: str


@dataclasses.dataclass(frozen=True, eq=False)
class _EvaluateJob:
    """Cross-validate one configuration (one repeat) on a dataset of the suite."""

    source: str
    config_id: str
    config: dict
    repeat: int


def _run_locked(
    sources: list[str],
    kb_dir: Path,
    settings: _Settings,
    *,
    configs: int,
    n_jobs: int,
    scheduler: Any,
    tasks: tuple[str, ...],
    progress: bool,
    start: float,
) -> BatchSummary:
    """:func:`run` once it holds the directory's writer lock."""
    from rich.console import Console

    state = _kb_state(kb_dir, with_scores=settings.top_configs is not None, retry=settings.retry)
    journal = Journal(kb_dir)
    write_header(kb_dir, notes="built by autometa.batch.run")
    for record in state.completed_records:
        journal.write(record)
    portfolios = {
        task: space.portfolio(
            task,
            configs,
            settings.random_state,
            include_optional=settings.include_optional,
            include_balanced=settings.include_balanced,
            include_library=settings.include_library,
        )
        for task in tasks
    }
    for task, portfolio in portfolios.items():
        for config in portfolio:
            journal.write(config_record(task, space.config_id(config), config))

    summary = BatchSummary(kb_dir)
    runner = _Runner(
        state, journal, portfolios, summary, settings, Executor(n_jobs, scheduler), progress
    )
    try:
        runner.run(sources)
    finally:
        runner.bar.close()
        journal.close()
        runner.executor.close()
    summary.seconds = time.perf_counter() - start
    if progress:
        Console().print(summary.table())
    return summary


class _Runner:
    """The work of one :func:`run`: describe every source, queue the evaluations each
    dataset still needs, and journal every result the moment it arrives.

    Few jobs are in flight at a time (four per worker), so that a kill loses little.
    """

    def __init__(
        self,
        state: _KBState,
        journal: Journal,
        portfolios: dict[str, list[dict]],
        summary: BatchSummary,
        settings: _Settings,
        executor: Executor,
        progress: bool,
    ) -> None:
        from tqdm.auto import tqdm

        self.state = state
        self.journal = journal
        self.portfolios = portfolios
        self.summary = summary
        self.settings = settings
        self.openml_settings = current_openml_settings()
        self.executor = executor
        self.work: deque[_DescribeJob | _EvaluateJob] = deque()
        self.pending: dict[Any, _DescribeJob | _EvaluateJob] = {}
        self.limit = 4 * executor.n_workers
        # the total grows as datasets are described and their evaluations queued
        self.bar = tqdm(
            total=0, desc="evaluations", unit="eval", disable=not progress, smoothing=0.05
        )

    def run(self, sources: Sequence[str]) -> None:
        """Describe every source and run the evaluations that follow, until none is left."""
        self.work.extend(_DescribeJob(source) for source in sources)
        while self.work or self.pending:
            while self.work and len(self.pending) < self.limit:
                job = self.work.popleft()
                if isinstance(job, _DescribeJob) and not self._needs_describing(job.source):
                    continue
                self.pending[self._submit(job)] = job
            if not self.pending:
                continue
            finished, _ = self.executor.wait_first(set(self.pending))
            for future in finished:
                self._finish(self.pending.pop(future), future)

    def _needs_describing(self, source: str) -> bool:
        """Whether ``source`` must be described; a source the KB already describes has its
        evaluations queued now (and is described again only without meta-features)."""
        state = self.state
        if source not in state.described:
            return True
        name, task = state.described[source]
        self._queue_evaluations(
            source, name, task, name in state.own_splits, state.n_rows.get(name)
        )
        return name not in state.with_metafeatures

    def _submit(self, job: _DescribeJob | _EvaluateJob) -> Any:
        s = self.settings
        if isinstance(job, _DescribeJob):
            return self.executor.submit(
                describe,
                job.source,
                s.max_rows,
                s.random_state,
                KB_METAFEATURE_GROUPS,
                s.cv,
                self.openml_settings,
                s.time_limit,
                s.memory_limit_mb,
                s.target,
            )
        return self.executor.submit(
            evaluate_job,
            job.source,
            job.config_id,
            job.config,
            s.cv,
            s.max_rows,
            s.time_limit,
            s.memory_limit_mb,
            s.random_state,
            self.openml_settings,
            job.repeat,
            s.target,
        )

    def _finish(self, job: _DescribeJob | _EvaluateJob, future: Any) -> None:
        """Journal what a job returned (or the error it raised)."""
        summary = self.summary
        try:
            output = future.result()
        except Exception as exc:  # noqa: BLE001 - a dataset that cannot load is recorded
            kind = "describe" if isinstance(job, _DescribeJob) else "evaluate"
            name = Path(job.source).name.split(".")[0] if kind == "describe" else job.source
            summary.dataset_errors[name] = f"{type(exc).__name__}: {exc}"
            self.journal.write(error_record(job.source, kind, summary.dataset_errors[name]))
            return
        if isinstance(job, _DescribeJob):
            self._described(job.source, output)
            return
        self.journal.write(output)
        name = output["dataset"]
        if all(r["status"] == NOT_APPLICABLE for r in output["folds"]):
            # recorded (a resumed run skips it), but nothing was run
            summary.not_applicable[name] = summary.not_applicable.get(name, 0) + 1
        else:
            summary.done[name] = summary.done.get(name, 0) + 1
        failed = [r for r in output["folds"] if r["status"] not in ("ok", NOT_APPLICABLE)]
        if failed:
            summary.failed.setdefault(name, []).append(
                f"{job.config_id}: {failed[0]['status']}: {failed[0]['error']}"
            )
        self.bar.update(1)

    def _described(self, source: str, output: dict) -> None:
        """Journal a described dataset and queue its evaluations."""
        record = output["dataset"]
        self.journal.write(record)
        if output["metafeatures"] is not None:
            self.journal.write(output["metafeatures"])
        else:
            self.summary.dataset_errors[record["dataset"]] = output["error"]
        if source not in self.state.described:  # else its evaluations are queued
            self._queue_evaluations(
                source,
                record["dataset"],
                record["task"],
                record["openml_task_id"] is not None,
                record["n_rows"],
            )

    def _queue_evaluations(
        self, source: str, name: str, task: str, own_splits: bool, n_rows: Any
    ) -> None:
        """Queue the evaluations of dataset ``name`` that the KB does not hold yet."""
        chosen = self._chosen_configs(name, task, n_rows)
        if chosen is None:
            return
        size = self._size(n_rows)
        # A dataset's own splits (an OpenML task's) are the same in every repeat.
        dataset_repeats = 1 if own_splits else self.settings.repeats
        queued = 0
        for config in chosen:
            cid = space.config_id(config)
            for repeat in range(dataset_repeats):
                if (name, cid, repeat, size) in self.state.evaluated:
                    self.summary.skipped[name] = self.summary.skipped.get(name, 0) + 1
                else:
                    self.work.append(_EvaluateJob(source, cid, config, repeat))
                    queued += 1
        self.bar.total += queued
        self.bar.refresh()

    def _size(self, n_rows: Any) -> int:
        """The rows a dataset of ``n_rows`` is evaluated on."""
        max_rows = self.settings.max_rows
        return int(n_rows) if max_rows is None or pd.isna(n_rows) else min(int(n_rows), max_rows)

    def _chosen_configs(self, name: str, task: str, n_rows: Any) -> list[dict] | None:
        """The configurations to run on dataset ``name``: the task's portfolio, or with
        ``top_configs`` its best ones and the defaults (None: none to run)."""
        if task not in self.portfolios:
            return None
        top_configs = self.settings.top_configs
        if top_configs is None:
            return self.portfolios[task]
        state = self.state
        if name not in state.base_scores.get(task, pd.DataFrame()).index:
            self.summary.dataset_errors[name] = (
                "no results at a smaller size to choose the top configurations from; "
                "run the portfolio first (without --top-configs)"
            )
            return None
        size = self._size(n_rows)
        if size <= state.base_size.get(name, size):
            return None  # the portfolio already ran on this many rows
        return _top_and_defaults(
            self.portfolios[task], state.base_scores[task].loc[name], top_configs, task
        )
