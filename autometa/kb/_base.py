"""The :class:`KnowledgeBase`: building, loading, saving and combining knowledge bases.

Its queries are in :mod:`._queries`, the on-disk schema in :mod:`._schema`, the directory's
files and lock in :mod:`._storage`, the journal in :mod:`._journal`, and the making of
table rows from frames and evaluated folds in :mod:`._building`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from autometa._constants import TASKS
from autometa.errors import KnowledgeBaseError, TaskMismatchError
from autometa.kb import _journal, _storage
from autometa.kb._building import dataset_row, fold_records, tables_from_frames
from autometa.kb._queries import TableQueries
from autometa.kb._schema import (
    DATASET_DTYPES,
    RESULT_DTYPES,
    RESULT_KEY,
    SCHEMA_VERSION,
    autometa_version,
    canonical_json,
    coerce,
    coerce_results,
    empty,
    fill_n_rows_used,
    hash_config,
    to_float_frame,
)


class KnowledgeBase(TableQueries):
    """Results of configurations on datasets, with the datasets' meta-features.

    Build one with :meth:`load` (a directory written by ``autometa batch`` or :meth:`save`),
    :meth:`from_frames` (your own meta-data) or :meth:`add_results`; combine two with
    :meth:`merge`. The tables are read-only views: change a knowledge base through its
    methods so that :meth:`fingerprint` stays right.

    A ``KnowledgeBase`` object is not thread-safe: share one between threads only to read.
    A directory has one writer at a time (:meth:`save` and ``autometa batch`` hold its
    writer lock) and any number of readers; :meth:`load` sees what the files and the
    journal hold at that moment.

    Parameters
    ----------
    datasets, metafeatures, results : pandas.DataFrame, optional
        Tables in the on-disk layout (``metafeatures`` indexed by dataset name).
    configs : dict, optional
        ``{task: {config_id: config}}``.
    info : dict, optional
        The contents of ``kb.json``.

    Examples
    --------
    >>> import pandas as pd
    >>> mf = pd.DataFrame({"rows": [100.0, 2000.0]}, index=["a", "b"])
    >>> perf = pd.DataFrame({"rf": [0.9, 0.8], "knn": [0.7, 0.85]}, index=["a", "b"])
    >>> kb = KnowledgeBase.from_frames(mf, perf, task="classification", metric="accuracy")
    >>> kb.summary("classification")["n_configs"]
    2
    """

    def __init__(
        self,
        datasets: pd.DataFrame | None = None,
        metafeatures: pd.DataFrame | None = None,
        results: pd.DataFrame | None = None,
        configs: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        info: Mapping[str, Any] | None = None,
        *,
        path: str | os.PathLike | None = None,
    ) -> None:
        self._datasets = coerce(
            datasets if datasets is not None else empty(DATASET_DTYPES),
            DATASET_DTYPES,
            where="datasets",
        )
        mf = metafeatures if metafeatures is not None else pd.DataFrame()
        if "dataset" in mf.columns:
            mf = mf.set_index("dataset")
        mf = to_float_frame(mf, where="metafeatures")
        mf.index = mf.index.astype(object).map(str)
        mf.index.name = "dataset"
        self._metafeatures = mf
        self._results = coerce(
            results if results is not None else empty(RESULT_DTYPES),
            RESULT_DTYPES,
            where="results",
        )
        self._configs: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TASKS}
        for task, cfgs in (configs or {}).items():
            self._configs.setdefault(task, {}).update({str(k): dict(v) for k, v in cfgs.items()})
        self.info: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "autometa_version": autometa_version(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "notes": "",
        }
        self.info.update(dict(info or {}))
        self.info["schema_version"] = SCHEMA_VERSION
        self.path = Path(path) if path is not None else None
        self._journal_read: dict[Path, int] = {}
        self._normalise()

    def _normalise(self) -> None:
        """Deduplicate (last wins) and sort every table canonically, so that equal contents
        give equal tables, equal files and an equal fingerprint whatever the history."""
        d = self._datasets.drop_duplicates("dataset", keep="last")
        self._datasets = d.sort_values("dataset", kind="stable").reset_index(drop=True)
        mf = self._metafeatures
        mf = mf[~mf.index.duplicated(keep="last")]
        mf = mf.sort_index(kind="stable")
        mf.index = mf.index.astype(object).map(str)
        mf.index.name = "dataset"
        self._metafeatures = mf
        r = fill_n_rows_used(self._results, self._datasets)
        r = r.drop_duplicates(RESULT_KEY, keep="last")
        self._results = r.sort_values(RESULT_KEY, kind="stable").reset_index(drop=True)
        self._fingerprints: dict[str | None, str] = {}
        self._cache: dict[Any, Any] = {}

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> KnowledgeBase:
        """Read a knowledge base directory and fold in its journal.

        Parameters
        ----------
        path : str or path-like, optional
            The directory. Default: ``$AUTOMETA_KB`` if set, else the shipped ``data/kb``.

        Returns
        -------
        KnowledgeBase

        Raises
        ------
        KnowledgeBaseError
            The directory is missing, a file is unreadable or lacks required columns, or the
            schema is newer than this version of autometa understands. The message names the
            file.

        Examples
        --------
        >>> kb = KnowledgeBase.load("data/kb")  # doctest: +SKIP
        >>> kb.summary("classification")  # doctest: +SKIP
        """
        root = Path(path).expanduser() if path is not None else _storage.default_kb_path()
        if not root.is_dir():
            hint = f" (set ${_storage.ENV_VAR} or pass a path)" if path is None else ""
            raise KnowledgeBaseError(
                f"no knowledge base directory at {root}{hint}; build one with the batch "
                "runner or KnowledgeBase.from_frames"
            )
        journal_files = _journal.journal_files(root)
        info = _storage.read_info(root, has_journal=bool(journal_files))
        configs = _storage.read_configs(root)
        datasets, mf, results = _storage.read_tables(root)
        journal_read: dict[Path, int] = {}
        if journal_files:
            datasets, mf, results, configs, journal_read = _journal.fold_journal(
                journal_files, datasets, mf, results, configs
            )
        kb = cls(datasets, mf, results, configs, info, path=root)
        kb._journal_read = journal_read
        return kb

    # ---------------------------------------------------------------- saving
    def save(self, path: str | os.PathLike, *, lock_timeout: float = 60.0) -> Path:
        """Write the knowledge base as parquet + JSON, folding the directory's journal in.

        Saving holds the directory's writer lock. Saved back into the directory it was
        loaded from, the knowledge base is merged with what that directory holds *now*
        (this one's records win on the same key), so two processes that each ``load``,
        ``add_results`` and ``save`` keep both their results. Saved anywhere else, it
        replaces what the directory held.

        Parameters
        ----------
        path : str or path-like
            Directory to write (created if needed).
        lock_timeout : float, default=60.0
            Seconds to wait for another writer (e.g. a running ``autometa batch``).

        Returns
        -------
        pathlib.Path
            The directory.

        Raises
        ------
        KnowledgeBaseLockedError
            Another process kept the directory's writer lock for ``lock_timeout`` seconds.

        Examples
        --------
        >>> kb.save("my_kb")  # doctest: +SKIP
        """
        root = Path(path).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        with _storage.writer_lock(root, lock_timeout, "save"):
            same_dir = self.path is not None and self.path.resolve() == root.resolve()
            on_disk = None
            if same_dir and ((root / "kb.json").exists() or (root / _journal.JOURNAL_DIR).is_dir()):
                on_disk = KnowledgeBase.load(root)
            merged = on_disk.merge(self) if on_disk is not None else self
            _storage.write_directory(
                root,
                merged._datasets,
                merged._metafeatures,
                merged._results,
                merged._configs,
                self.info,
            )
            folded = on_disk._journal_read if on_disk is not None else {}
            _journal.remove_journal(root, folded, keep_foreign=same_dir)
        if merged is not self:
            self._datasets, self._metafeatures = merged._datasets, merged._metafeatures
            self._results, self._configs = merged._results, merged._configs
        self.path = root
        self._journal_read = {}
        return root

    def compact(self, path: str | os.PathLike | None = None) -> Path:
        """Save in place (or to ``path``), folding the journal into the parquet files."""
        target = path if path is not None else self.path
        if target is None:
            raise KnowledgeBaseError("compact() needs a path for a knowledge base made in memory")
        return self.save(target)

    # ---------------------------------------------------------------- building
    @classmethod
    def from_frames(
        cls,
        metafeatures: pd.DataFrame,
        performance: pd.DataFrame,
        *,
        task: str,
        metric: str,
        configs: Mapping[str, Mapping[str, Any]] | None = None,
        fit_times: pd.DataFrame | None = None,
        greater_is_better: bool | None = None,
    ) -> KnowledgeBase:
        """Make a knowledge base from your own meta-data.

        Parameters
        ----------
        metafeatures : pandas.DataFrame
            One row per dataset (the index, or a ``"dataset"`` column), any numeric columns.
        performance : pandas.DataFrame
            Datasets x algorithms (or config ids): the score of each; NaN where not run or
            failed.
        task : {"classification", "regression"}
        metric : str
            The name of the score in ``performance``. A metric autometa knows (see
            ``autometa.metrics.METRICS``) or any other name together with
            ``greater_is_better``.
        configs : dict, optional
            ``{column: config}``. Without it every column becomes the opaque config
            ``{"algorithm": column}``.
        fit_times : pandas.DataFrame, optional
            Same shape as ``performance``: seconds to fit.
        greater_is_better : bool, optional
            Direction of an unknown ``metric`` (default True).

        Returns
        -------
        KnowledgeBase

        Examples
        --------
        >>> mf = pd.DataFrame({"n": [10.0, 20.0, 30.0]}, index=["d1", "d2", "d3"])
        >>> perf = pd.DataFrame({"A": [0.1, 0.5, 0.9], "B": [0.3, 0.2, 0.8]}, index=mf.index)
        >>> kb = KnowledgeBase.from_frames(mf, perf, task="regression", metric="r2")
        >>> float(kb.performance("regression", "r2").loc["d2", "A"])
        0.5
        """
        return cls(
            *tables_from_frames(
                metafeatures,
                performance,
                task=task,
                metric=metric,
                configs=configs,
                fit_times=fit_times,
                greater_is_better=greater_is_better,
            )
        )

    def add_results(
        self,
        dataset: Any,
        config: Mapping[str, Any],
        folds: Any,
        *,
        task: str | None = None,
        metafeatures: Mapping[str, float] | pd.Series | None = None,
        config_id: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> KnowledgeBase:
        """Record a configuration you evaluated yourself (e.g. while tuning), in place.

        Parameters
        ----------
        dataset : str or autometa.Dataset
            The dataset's name, or the dataset itself (its size and task are recorded).
        config : dict
            The configuration (``autometa.space`` format, or any JSON dict with an
            ``"algorithm"`` key).
        folds : list of dict, dict, or an ``Evaluation``
            Per-fold records ``{"fold", "status", "fit_time", <metric>: value, ...}`` (the
            ``.folds`` of ``autometa.evaluate``); a single dict is one fold.
        task : str, optional
            Required when ``dataset`` is a name not yet in the knowledge base.
        metafeatures : mapping or pandas.Series, optional
            The dataset's meta-features (replace any stored ones). Without them the dataset
            can only inform models that do not look at meta-features.
        config_id : str, optional
            Default: ``autometa.space.config_id(config)``.
        info : dict, optional
            Extra ``datasets.parquet`` fields (``source``, ``n_rows``, ...).

        Returns
        -------
        KnowledgeBase
            ``self``, for chaining.

        Examples
        --------
        >>> kb.add_results("my_data", {"algorithm": "rf"}, [{"fold": 0, "accuracy": 0.9}],
        ...                task="classification", metafeatures={"rows": 500.0})  # doctest: +SKIP
        """
        name, task, row = dataset_row(self._datasets, dataset, task, info)
        fold_rows = fold_records(folds)
        cid = config_id or hash_config(config)
        res = pd.DataFrame(fold_rows)
        res["dataset"], res["config_id"], res["task"] = name, cid, task
        res = coerce_results(res, where="add_results folds")

        self._datasets = pd.concat(
            [self._datasets, coerce(row, DATASET_DTYPES, where="add_results dataset")],
            ignore_index=True,
        )
        self._results = pd.concat([self._results, res], ignore_index=True)
        self._configs.setdefault(task, {})[cid] = dict(config)
        if metafeatures is not None:
            mf_row = pd.DataFrame([dict(pd.Series(metafeatures, dtype="float64"))], index=[name])
            mf = self._metafeatures.drop(index=name, errors="ignore")
            self._metafeatures = pd.concat([mf, mf_row.astype("float64")])
        self._normalise()
        return self

    def merge(self, other: KnowledgeBase) -> KnowledgeBase:
        """A new knowledge base with the records of both; ``other`` wins where both have
        the same dataset, meta-features row, config id or (dataset, config, fold).

        Examples
        --------
        >>> both = kb_a.merge(kb_b)  # doctest: +SKIP
        """
        if not isinstance(other, KnowledgeBase):
            raise TypeError(f"can only merge a KnowledgeBase, not {type(other).__name__}")
        mine = self._datasets.set_index("dataset")["task"]
        theirs = other._datasets.set_index("dataset")["task"]
        common = mine.index.intersection(theirs.index)
        clash = [d for d in common if mine[d] != theirs[d]]
        if clash:
            raise TaskMismatchError(
                f"datasets {clash[:5]} have different tasks in the two knowledge bases"
            )
        configs = {t: dict(c) for t, c in self._configs.items()}
        for t, c in other._configs.items():
            configs.setdefault(t, {}).update(c)
        mf = pd.concat(
            [
                self._metafeatures.drop(index=other._metafeatures.index, errors="ignore"),
                other._metafeatures,
            ]
        )
        info = dict(self.info)
        metrics = {**self.info.get("metrics", {}), **other.info.get("metrics", {})}
        if metrics:
            info["metrics"] = metrics
        info["notes"] = "merged"
        return KnowledgeBase(
            pd.concat([self._datasets, other._datasets], ignore_index=True),
            mf,
            pd.concat([self._results, other._results], ignore_index=True),
            configs,
            info,
        )

    def without(self, datasets: str | Iterable[str]) -> KnowledgeBase:
        """A new knowledge base without ``datasets``: their dataset records, meta-features
        and results are left out, everything else is kept as it is.

        This is how a dataset is held out of what a meta-model learns from (leave one
        dataset, or one family of near-duplicates, out). The configurations stay, also
        those that only the left-out datasets evaluated: they are the portfolio, not a
        property of a dataset, so a meta-model fitted on the result ranks the same
        candidates. ``self`` is not changed.

        Parameters
        ----------
        datasets : str or iterable of str
            Names of datasets in the knowledge base (a dataset record, a meta-features row
            or a result). An empty iterable gives an equal copy.

        Returns
        -------
        KnowledgeBase
            In memory (``path`` is None); ``info`` is this one's without the file
            ``checksums``.

        Raises
        ------
        KnowledgeBaseError
            A name is not in the knowledge base (the message names the first ones).

        See Also
        --------
        merge : the records of two knowledge bases in one.

        Examples
        --------
        >>> mf = pd.DataFrame({"rows": [100.0, 2000.0, 500.0]}, index=["a", "b", "c"])
        >>> perf = pd.DataFrame({"rf": [0.9, 0.8, 0.7]}, index=mf.index)
        >>> kb = KnowledgeBase.from_frames(mf, perf, task="classification", metric="accuracy")
        >>> list(kb.without(["b"]).metafeatures().index)
        ['a', 'c']
        >>> len(kb.without("a")), len(kb)
        (2, 3)
        """
        known = (
            set(self._datasets["dataset"])
            | set(self._metafeatures.index)
            | set(self._results["dataset"])
        )
        names = _known_names(datasets, known, "without: datasets {} are not in the knowledge base")
        d, r = self._datasets, self._results
        return self._derived(
            d[~d["dataset"].isin(names)],
            self._metafeatures[~self._metafeatures.index.isin(names)],
            r[~r["dataset"].isin(names)],
        )

    def without_results(
        self, config_ids: str | Iterable[str], datasets: str | Iterable[str] | None = None
    ) -> KnowledgeBase:
        """A new knowledge base without the results of the configurations ``config_ids``
        (every fold and fidelity; of every dataset, or of ``datasets``); the
        configurations themselves stay.

        How results that a change made stale (new few-shot weights behind the ``fewshot``
        configuration, a fixed bug in one algorithm) are dropped: save the result and run
        the same batch on it, which evaluates exactly the missing cells again. ``self`` is
        not changed.

        Parameters
        ----------
        config_ids : str or iterable of str
            Configuration ids of the knowledge base (``configs(task)``'s keys).
        datasets : str or iterable of str, default=None
            Drop only these datasets' results of ``config_ids`` (names of datasets with
            results); ``None`` drops them on every dataset.

        Returns
        -------
        KnowledgeBase
            In memory (``path`` is None); ``info`` is this one's without the file
            ``checksums``.

        Raises
        ------
        KnowledgeBaseError
            An id is not a configuration of the knowledge base, or a name in ``datasets``
            has no results (the message names the first ones).

        See Also
        --------
        without : leave datasets out.

        Examples
        --------
        >>> mf = pd.DataFrame({"rows": [100.0, 2000.0]}, index=["a", "b"])
        >>> perf = pd.DataFrame({"rf": [0.9, 0.8], "lr": [0.7, 0.6]}, index=mf.index)
        >>> kb = KnowledgeBase.from_frames(mf, perf, task="classification", metric="accuracy")
        >>> perf = kb.without_results("lr").performance("classification", "accuracy")
        >>> bool(perf["lr"].isna().all()), bool(perf["rf"].notna().all())
        (True, True)
        >>> sorted(kb.without_results("lr").configs("classification"))
        ['lr', 'rf']
        """
        known = {c for task_configs in self._configs.values() for c in task_configs}
        ids = _known_names(
            config_ids, known, "without_results: configurations {} are not in the knowledge base"
        )
        r = self._results
        dropped = r["config_id"].isin(ids)
        if datasets is not None:
            message = "without_results: datasets {} have no results in the knowledge base"
            dropped &= r["dataset"].isin(_known_names(datasets, set(r["dataset"]), message))
        return self._derived(self._datasets, self._metafeatures, r[~dropped])

    def _derived(
        self, datasets: pd.DataFrame, metafeatures: pd.DataFrame, results: pd.DataFrame
    ) -> KnowledgeBase:
        """An in-memory knowledge base of these tables with this one's configurations and
        ``info`` (less the file ``checksums``, which describe files it does not have)."""
        info = {k: v for k, v in self.info.items() if k != "checksums"}
        return KnowledgeBase(datasets, metafeatures, results, self._configs, info)

    # ---------------------------------------------------------------- identity
    def fingerprint(self, task: str | None = None) -> str:
        """A short hash of the contents (not of the files or history): equal knowledge
        bases give equal fingerprints. Cached models are keyed by it.

        Parameters
        ----------
        task : str, default=None
            Hash only what the knowledge base holds for this task (its configurations,
            datasets, meta-features and results at every size, and the metrics): all a
            meta-model of the task is fitted on, so adding results of another task leaves
            it unchanged. ``None``: the whole knowledge base.

        Examples
        --------
        >>> kb.fingerprint()  # doctest: +SKIP
        '3f2a9c0d1b7e4a55'
        >>> kb.fingerprint(task="regression")  # doctest: +SKIP
        '974aae05ad16c2e1'
        """
        if task not in self._fingerprints:
            self._fingerprints[task] = (
                self._whole_fingerprint() if task is None else self._task_fingerprint(task)
            )
        return self._fingerprints[task]

    def _whole_fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str(SCHEMA_VERSION).encode())
        h.update(canonical_json(self._configs).encode())
        h.update(canonical_json(self.info.get("metrics", {})).encode())
        mf = self._metafeatures.reset_index()
        _hash_tables(h, (self._datasets, mf, self._results))
        return h.hexdigest()[:16]

    def _task_fingerprint(self, task: str) -> str:
        h = hashlib.sha256(canonical_json(self.configs(task)).encode())
        h.update(canonical_json(self.info.get("metrics", {})).encode())
        tables = [self.datasets(task), self.metafeatures(task), self.results(task, fidelity="all")]
        # the named index (dataset) is part of the contents; a default RangeIndex is not
        tables = [t.reset_index(drop=t.index.name is None or t.index.name in t) for t in tables]
        _hash_tables(h, tables)
        return h.hexdigest()[:16]

    def __len__(self) -> int:
        return int(self._datasets.shape[0])

    def __repr__(self) -> str:
        parts = []
        for task in self.tasks:
            parts.append(
                f"{task}: {len(self._dataset_names(task))} datasets x {len(self.configs(task))} configs"
            )
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"KnowledgeBase({'; '.join(parts) or 'empty'}{where})"


def _hash_tables(h: Any, tables: Iterable[pd.DataFrame]) -> None:
    """Feed each table's column names and values, columns sorted, into the hash ``h``."""
    for table in tables:
        t = table.reindex(columns=sorted(table.columns))
        h.update(canonical_json(list(t.columns)).encode())
        # Tables are in canonical dtypes (see coerce), so hashing them directly is both
        # stable and ~10x faster than going through object columns.
        h.update(pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes())


def _known_names(names: str | Iterable[str], known: set[str], message: str) -> set[str]:
    """``names`` (one or many) as a set, refused with ``message`` (``{}``: the first
    unknown names) when some are not ``known``."""
    wanted = {names} if isinstance(names, str) else {str(n) for n in names}
    unknown = sorted(wanted - known)
    if unknown:
        raise KnowledgeBaseError(
            f"{message.format(unknown[:5])} ({len(unknown)} unknown of {len(wanted)})"
        )
    return wanted
