"""The knowledge base: what every configuration of the portfolio scored on every dataset.

A :class:`KnowledgeBase` is a directory of parquet and JSON files (never pickle, so that a
knowledge base downloaded from anywhere is data, not code), laid out as in
``docs/CONTRACTS.md``::

    kb.json               {"schema_version": 1, "autometa_version": ..., "created": ..., "notes": ...}
    configs.json          {"classification": {config_id: config}, "regression": {...}}
    datasets.parquet      one row per dataset (name, task, size, OpenML ids, group)
    metafeatures.parquet  "dataset" + one float64 column per meta-feature
    results.parquet       one row per (dataset, config_id, fold): status, times, metrics
    journal/*.jsonl       append-only records written by the batch runner while it works

Loading folds the journal into the tables (later records win on the same key), so a
knowledge base that is still being computed can be read at any time. The knowledge base
stores results; it does not compute them (``autometa.batch`` does).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import KnowledgeBaseError, KnowledgeBaseLockedError, TaskMismatchError
from autometa.metrics import METRICS

__all__ = ["SCHEMA_VERSION", "KnowledgeBase", "default_kb_path"]

#: Version of the on-disk layout. Bump it (and teach ``_upgrade`` the old one) whenever a
#: file or column changes meaning; a reader refuses anything newer than it knows.
SCHEMA_VERSION = 2
# 2: results carry n_rows_used (several fidelities per dataset); version 1 files are read
#    with n_rows_used taken from their dataset record.

TASKS = ("classification", "regression")
STATUSES = ("ok", "timeout", "memory", "error")

#: The environment variable that points :meth:`KnowledgeBase.load` at another directory.
ENV_VAR = "AUTOMETA_KB"

_METRIC_COLUMNS = list(METRICS)

# Column -> dtype of each table. Columns beyond these are kept (e.g. a user's own metric),
# columns missing from a file on disk make it unreadable.
_DATASET_DTYPES: dict[str, str] = {
    "dataset": "object",
    "task": "object",
    "source": "object",
    "n_rows": "Int64",
    "n_features": "Int64",
    "n_classes": "Int64",
    "openml_dataset_id": "Int64",
    "openml_task_id": "Int64",
    "n_rows_used": "Int64",
    "cv_folds": "Int64",
    "group": "object",
}
_RESULT_DTYPES: dict[str, str] = {
    "dataset": "object",
    "config_id": "object",
    "task": "object",
    "fold": "int64",
    "status": "object",
    "error": "object",
    "fit_time": "float64",
    "predict_time": "float64",
    # rows the evaluation used: one dataset can hold results at several fidelities
    "n_rows_used": "Int64",
    **{m: "float64" for m in _METRIC_COLUMNS},
}
_RESULT_KEY = ["dataset", "config_id", "n_rows_used", "fold"]
#: Which rows of a dataset's results a query reads: its smallest evaluation size (the
#: complete portfolio), its largest, or every size.
FIDELITIES = ("base", "largest", "all")


def default_kb_path() -> Path:
    """Where :meth:`KnowledgeBase.load` looks when no path is given.

    ``$AUTOMETA_KB`` when set, else the knowledge base shipped with the package
    (``<repo>/data/kb``).

    Examples
    --------
    >>> default_kb_path().name
    'kb'
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from autometa._resources import shipped_path

    return shipped_path("kb")


# --------------------------------------------------------------------------------------
# table helpers
# --------------------------------------------------------------------------------------


def _empty(dtypes: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in dtypes.items()})


def _coerce(df: pd.DataFrame, dtypes: Mapping[str, str], *, where: str) -> pd.DataFrame:
    """Add missing optional columns and cast to the schema's dtypes (object for strings,
    so that the same table hashes identically whatever pandas' default string dtype is)."""
    df = df.copy()
    for col, dtype in dtypes.items():
        if col not in df.columns:
            if dtype == "object":
                df[col] = pd.Series([None] * len(df), index=df.index, dtype=object)
            elif dtype == "float64":
                df[col] = pd.Series(np.nan, index=df.index, dtype="float64")
            elif dtype == "Int64":
                df[col] = pd.Series(pd.NA, index=df.index, dtype="Int64")
            else:
                raise KnowledgeBaseError(f"{where}: required column {col!r} is missing")
            continue
        try:
            if dtype == "object":
                s = df[col].astype(object)
                df[col] = s.where(s.notna(), None)
            elif dtype == "Int64":
                df[col] = pd.to_numeric(df[col], errors="raise").astype("Int64")
            elif dtype == "int64":
                df[col] = pd.to_numeric(df[col], errors="raise").astype("int64")
            else:
                df[col] = pd.to_numeric(df[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"{where}: column {col!r} cannot be read as {dtype}: {exc}"
            ) from exc
    return df


def _to_float_frame(df: pd.DataFrame, *, where: str) -> pd.DataFrame:
    out = {}
    for col in df.columns:
        try:
            out[str(col)] = pd.to_numeric(df[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"{where}: meta-feature column {col!r} is not numeric ({df[col].dtype}); "
                "meta-features must be numbers (NaN allowed)"
            ) from exc
    return pd.DataFrame(out, index=df.index)


def _json_default(value: Any) -> Any:
    """Make numpy scalars and arrays JSON-serialisable (configs often carry them)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))


def _hash_config(config: Mapping[str, Any]) -> str:
    """Stable id of a config: ``autometa.space.config_id`` when it understands the config,
    else a hash of its canonical JSON (for configs from elsewhere, e.g. ``from_frames``)."""
    try:
        from autometa import space

        return str(space.config_id(dict(config)))
    except (ImportError, ValueError, TypeError, KeyError):  # config outside the space
        return hashlib.sha1(_canonical_json(config).encode()).hexdigest()[:12]


def _write_atomic(path: Path, write) -> None:
    """Write via a temporary file in the same directory and rename, so that a reader (or a
    crash) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


#: The lock file that gives one process at a time the right to write a KB directory.
LOCK_NAME = ".lock"


@contextlib.contextmanager
def writer_lock(root: Path, timeout: float, purpose: str) -> Iterator[None]:
    """Hold the directory's writer lock (an OS file lock, released even on ``kill -9``).

    Everything that writes a knowledge-base directory takes it: ``batch`` for its whole
    run, :meth:`KnowledgeBase.save` and :meth:`~KnowledgeBase.compact` while they write.
    ``timeout`` seconds to wait (0: fail at once); a second writer gets
    :class:`~autometa.errors.KnowledgeBaseLockedError` naming the holder.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(root / LOCK_NAME, timeout=timeout, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        holder = _read_holder(root)
        raise KnowledgeBaseLockedError(
            f"knowledge base {root} is being written by another process{holder}; {purpose} "
            f"waited {timeout:g}s. Wait for it to finish (a batch run holds the directory "
            "until it ends) or use another directory") from None
    try:
        # Who holds it, for the second writer's message (the lock file stays in place:
        # deleting a lock file another process waits on would break the lock).
        (root / LOCK_NAME).write_text(f"pid {os.getpid()} on {socket.gethostname()} ({purpose})")
        yield
    finally:
        lock.release()


def _read_holder(root: Path) -> str:
    try:
        holder = (root / LOCK_NAME).read_text().strip()
        return f" ({holder})" if holder else ""
    except OSError:
        return ""


# --------------------------------------------------------------------------------------
# the knowledge base
# --------------------------------------------------------------------------------------


class KnowledgeBase:
    """Results of configurations on datasets, with the datasets' meta-features.

    Build one with :meth:`load` (a directory written by ``autometa batch`` or :meth:`save`),
    :meth:`from_frames` (your own meta-data) or :meth:`add_results`; combine two with
    :meth:`merge`. The tables are read-only views: change a knowledge base through its
    methods so that :meth:`fingerprint` stays right.

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
        self._datasets = _coerce(
            datasets if datasets is not None else _empty(_DATASET_DTYPES),
            _DATASET_DTYPES,
            where="datasets",
        )
        mf = metafeatures if metafeatures is not None else pd.DataFrame()
        if "dataset" in mf.columns:
            mf = mf.set_index("dataset")
        mf = _to_float_frame(mf, where="metafeatures")
        mf.index = mf.index.astype(object).map(str)
        mf.index.name = "dataset"
        self._metafeatures = mf
        self._results = _coerce(
            results if results is not None else _empty(_RESULT_DTYPES),
            _RESULT_DTYPES,
            where="results",
        )
        self._configs: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TASKS}
        for task, cfgs in (configs or {}).items():
            self._configs.setdefault(task, {}).update(
                {str(k): dict(v) for k, v in cfgs.items()}
            )
        self.info: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "autometa_version": _version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "notes": "",
        }
        self.info.update(dict(info or {}))
        self.info["schema_version"] = SCHEMA_VERSION
        self.path = Path(path) if path is not None else None
        self._journal_read: dict[Path, int] = {}
        self._normalise()

    # ---------------------------------------------------------------- internals
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
        r = self._results
        if r["n_rows_used"].isna().any():  # results of schema 1: the dataset's one size
            size = r["dataset"].map(self._datasets.set_index("dataset")["n_rows_used"])
            r = r.assign(n_rows_used=r["n_rows_used"].fillna(size).astype("Int64"))
        r = r.drop_duplicates(_RESULT_KEY, keep="last")
        self._results = r.sort_values(_RESULT_KEY, kind="stable").reset_index(drop=True)
        self._fingerprint: str | None = None
        self._cache: dict[Any, Any] = {}

    def _check_task(self, task: str) -> str:
        if task not in TASKS:
            raise KnowledgeBaseError(f"unknown task {task!r}; use one of {list(TASKS)}")
        return task

    def _task_results(self, task: str, fidelity: str = "base") -> pd.DataFrame:
        if fidelity not in FIDELITIES:
            raise KnowledgeBaseError(f"fidelity must be one of {FIDELITIES}, got {fidelity!r}")
        key = ("results", task, fidelity)
        if key not in self._cache:
            r = self._results
            r = r[r["task"] == task]
            if fidelity != "all" and len(r):
                size = r["n_rows_used"].astype("Float64").fillna(-1.0)
                pick = size.groupby(r["dataset"]).transform("min" if fidelity == "base" else "max")
                r = r[(size == pick).to_numpy(dtype=bool)]
            self._cache[key] = r
        return self._cache[key]

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
        root = Path(path).expanduser() if path is not None else default_kb_path()
        if not root.is_dir():
            hint = (
                f" (set ${ENV_VAR} or pass a path)" if path is None else ""
            )
            raise KnowledgeBaseError(
                f"no knowledge base directory at {root}{hint}; build one with the batch "
                "runner or KnowledgeBase.from_frames"
            )
        journal_files = sorted((root / "journal").glob("*.jsonl")) if (root / "journal").is_dir() else []
        info_file = root / "kb.json"
        if info_file.exists():
            info = _read_json(info_file)
            if not isinstance(info, dict):
                raise KnowledgeBaseError(f"{info_file}: expected a JSON object")
            _check_schema(info, info_file)
            _verify_checksums(root, info)
        elif journal_files:
            # A batch that has only started writing: the journal alone is a valid KB.
            info = {}
        else:
            raise KnowledgeBaseError(
                f"{root} is not a knowledge base: neither kb.json nor journal/*.jsonl found"
            )

        configs: dict[str, dict[str, dict]] = {t: {} for t in TASKS}
        cfg_file = root / "configs.json"
        if cfg_file.exists():
            raw = _read_json(cfg_file)
            if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
                raise KnowledgeBaseError(
                    f"{cfg_file}: expected {{task: {{config_id: config}}}}"
                )
            for task, cfgs in raw.items():
                bad = [cid for cid, config in cfgs.items() if not isinstance(config, dict)]
                if bad:
                    raise KnowledgeBaseError(
                        f"{cfg_file}: {task} configuration {bad[0]!r} is not a JSON object "
                        f"({type(cfgs[bad[0]]).__name__}); each config is a dict")
                configs.setdefault(task, {}).update(cfgs)

        datasets = _read_parquet(root / "datasets.parquet", required=["dataset", "task"])
        mf = _read_parquet(root / "metafeatures.parquet", required=["dataset"])
        results = _read_parquet(
            root / "results.parquet", required=["dataset", "config_id", "task", "fold", "status"]
        )
        where = {
            "datasets": root / "datasets.parquet",
            "metafeatures": root / "metafeatures.parquet",
            "results": root / "results.parquet",
        }
        datasets = _coerce(datasets if datasets is not None else _empty(_DATASET_DTYPES),
                           _DATASET_DTYPES, where=str(where["datasets"]))
        results = _coerce(results if results is not None else _empty(_RESULT_DTYPES),
                          _RESULT_DTYPES, where=str(where["results"]))
        mf = mf.set_index("dataset") if mf is not None else pd.DataFrame()
        mf = _to_float_frame(mf, where=str(where["metafeatures"]))

        journal_read: dict[Path, int] = {}
        if journal_files:
            datasets, mf, results, configs, journal_read = _fold_journal(
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
        with writer_lock(root, lock_timeout, "save"):
            same_dir = self.path is not None and self.path.resolve() == root.resolve()
            on_disk = None
            if same_dir and ((root / "kb.json").exists() or (root / "journal").is_dir()):
                on_disk = KnowledgeBase.load(root)
            merged = on_disk.merge(self) if on_disk is not None else self
            merged._write_tables(root, self.info)
            folded = on_disk._journal_read if on_disk is not None else {}
            _remove_journal(root, folded, keep_foreign=same_dir)
        if merged is not self:
            self._datasets, self._metafeatures = merged._datasets, merged._metafeatures
            self._results, self._configs = merged._results, merged._configs
        self.path = root
        self._journal_read = {}
        return root

    def _write_tables(self, root: Path, info: Mapping[str, Any]) -> None:
        info = dict(info)
        info["schema_version"] = SCHEMA_VERSION
        info.setdefault("autometa_version", _version())
        info["saved"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        mf = self._metafeatures.reset_index()
        mf.columns = ["dataset", *map(str, self._metafeatures.columns)]
        tables = {
            "datasets.parquet": self._datasets,
            "metafeatures.parquet": mf,
            "results.parquet": self._results,
        }
        for name, table in tables.items():
            _write_atomic(root / name, lambda tmp, t=table: t.to_parquet(tmp, index=False))
        configs = {t: dict(sorted(c.items())) for t, c in self._configs.items()}
        _write_atomic(
            root / "configs.json",
            lambda tmp: Path(tmp).write_text(
                json.dumps(configs, indent=1, sort_keys=True, default=_json_default)
            ),
        )
        # Parquet pages carry no checksum: kb.json records one per file, load verifies.
        info["checksums"] = {name: _sha256(root / name) for name in (*tables, "configs.json")}
        # kb.json last: its presence marks a complete knowledge base.
        _write_atomic(
            root / "kb.json",
            lambda tmp: Path(tmp).write_text(json.dumps(info, indent=1, default=_json_default)),
        )

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
        if task not in TASKS:
            raise KnowledgeBaseError(f"unknown task {task!r}; use one of {list(TASKS)}")
        info: dict[str, Any] = {"notes": "made with KnowledgeBase.from_frames"}
        if metric in METRICS:
            if METRICS[metric].task != task:
                raise TaskMismatchError(
                    f"metric {metric!r} is for {METRICS[metric].task}, not {task}"
                )
        else:
            info["metrics"] = {
                metric: {"task": task, "greater_is_better": bool(
                    True if greater_is_better is None else greater_is_better
                )}
            }
        mf = metafeatures.set_index("dataset") if "dataset" in metafeatures.columns else metafeatures
        mf = _to_float_frame(mf, where="from_frames metafeatures")
        mf.index = mf.index.map(str)
        perf = performance.set_index("dataset") if "dataset" in performance.columns else performance
        perf = _to_float_frame(perf, where="from_frames performance")
        perf.index = perf.index.map(str)
        unknown = sorted(set(perf.index) - set(mf.index))
        if unknown:
            raise KnowledgeBaseError(
                f"from_frames: datasets {unknown[:5]} have performance but no meta-features row"
            )
        names = sorted(set(mf.index) | set(perf.index))
        datasets = pd.DataFrame(
            {"dataset": names, "task": task, "source": "frame", "cv_folds": 1, "group": ""}
        )
        long = perf.rename_axis(index="dataset", columns="config_id").stack(future_stack=True)
        long = long.dropna().rename(metric).reset_index()
        long["task"] = task
        long["fold"] = 0
        long["status"] = "ok"
        long["error"] = ""
        if fit_times is not None:
            ft = fit_times.set_index("dataset") if "dataset" in fit_times.columns else fit_times
            ft = _to_float_frame(ft, where="from_frames fit_times")
            ft.index = ft.index.map(str)
            ft_long = ft.rename_axis(index="dataset", columns="config_id").stack(future_stack=True)
            long = long.merge(
                ft_long.rename("fit_time").reset_index(), on=["dataset", "config_id"], how="left"
            )
        cfgs: dict[str, dict[str, Any]] = {}
        for name in map(str, perf.columns):
            given = (configs or {}).get(name)
            cfgs[name] = dict(given) if given is not None else {"algorithm": name}
        extra = {metric: "float64"} if metric not in _RESULT_DTYPES else {}
        results = _coerce(long, {**_RESULT_DTYPES, **extra}, where="from_frames performance")
        return cls(datasets, mf, results, {task: cfgs}, info)

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
        row: dict[str, Any] = {}
        if isinstance(dataset, str):
            name = dataset
        else:  # an autometa Dataset
            name = str(getattr(dataset, "name", None) or "dataset")
            X = getattr(dataset, "X", None)
            y = getattr(dataset, "y", None)
            ds_task = getattr(dataset, "task", None)
            if task is not None and ds_task is not None and task != ds_task:
                raise TaskMismatchError(f"task={task!r} but dataset {name!r} is {ds_task}")
            task = task or ds_task
            row.update(
                source=getattr(dataset, "source", None),
                n_rows=None if X is None else len(X),
                n_features=None if X is None else X.shape[1],
                n_classes=(
                    int(pd.Series(y).nunique()) if y is not None and task == "classification"
                    else None
                ),
            )
            meta = getattr(dataset, "metadata", {}) or {}
            for k in ("openml_dataset_id", "openml_task_id"):
                if meta.get(k) is not None:
                    row[k] = meta[k]
        known = self._datasets.loc[self._datasets["dataset"] == name]
        if task is None:
            if known.empty:
                raise KnowledgeBaseError(
                    f"dataset {name!r} is not in the knowledge base; pass task="
                )
            task = str(known["task"].iloc[0])
        self._check_task(task)
        if not known.empty and known["task"].iloc[0] != task:
            raise TaskMismatchError(
                f"dataset {name!r} is stored as {known['task'].iloc[0]}, not {task}"
            )
        row.update(dataset=name, task=task, **dict(info or {}))
        if known.empty:
            row.setdefault("group", "")
            new_ds = pd.DataFrame([row])
        else:
            merged = known.iloc[0].to_dict()
            merged.update({k: v for k, v in row.items() if v is not None})
            new_ds = pd.DataFrame([merged])

        if hasattr(folds, "folds"):
            folds = folds.folds
        if isinstance(folds, Mapping):
            folds = [folds]
        fold_rows = []
        for i, f in enumerate(folds):
            r = dict(f)
            r.setdefault("fold", i)
            r.setdefault("status", "ok")
            r.setdefault("error", "")
            fold_rows.append(r)
        if not fold_rows:
            raise KnowledgeBaseError("add_results: no fold records given")
        cid = config_id or _hash_config(config)
        res = pd.DataFrame(fold_rows)
        res["dataset"], res["config_id"], res["task"] = name, cid, task
        extra = {c: "float64" for c in res.columns if c not in _RESULT_DTYPES}
        res = _coerce(res, {**_RESULT_DTYPES, **extra}, where="add_results folds")

        self._datasets = pd.concat(
            [self._datasets, _coerce(new_ds, _DATASET_DTYPES, where="add_results dataset")],
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
        mf = pd.concat([
            self._metafeatures.drop(index=other._metafeatures.index, errors="ignore"),
            other._metafeatures,
        ])
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

    # ---------------------------------------------------------------- queries
    @property
    def tasks(self) -> list[str]:
        """Tasks with at least one dataset."""
        present = set(self._datasets["task"]) | set(self._results["task"])
        return [t for t in TASKS if t in present]

    def datasets(self, task: str | None = None) -> pd.DataFrame:
        """The ``datasets.parquet`` table (of one task), indexed by dataset name.

        Datasets that have results but no dataset record still appear (with NA fields).

        Examples
        --------
        >>> kb.datasets("classification").index[:3]  # doctest: +SKIP
        """
        d = self._datasets.set_index("dataset", drop=False)
        if task is None:
            return d
        self._check_task(task)
        names = self._dataset_names(task)
        d = d[d["task"] == task].reindex(names)
        d["dataset"] = d.index
        d["task"] = task
        return d

    def _dataset_names(self, task: str) -> list[str]:
        key = ("names", task)
        if key not in self._cache:
            d = self._datasets
            names = set(d.loc[d["task"] == task, "dataset"])
            names |= set(self._task_results(task)["dataset"])
            self._cache[key] = sorted(names)
        return self._cache[key]

    def configs(self, task: str) -> dict[str, dict[str, Any]]:
        """``{config_id: config}`` of the task's portfolio (configs that only have results
        and no stored config become ``{"algorithm": config_id}``)."""
        self._check_task(task)
        out = {k: dict(v) for k, v in self._configs.get(task, {}).items()}
        for cid in self._task_results(task)["config_id"].unique():
            out.setdefault(str(cid), {"algorithm": str(cid)})
        return dict(sorted(out.items()))

    def metrics(self, task: str) -> list[str]:
        """Metrics with at least one value for ``task``."""
        r = self._task_results(task)
        known = {m for m, v in METRICS.items() if v.task == task}
        known |= {m for m, v in self.info.get("metrics", {}).items() if v.get("task") == task}
        return [c for c in r.columns if c in known and r[c].notna().any()]

    def greater_is_better(self, metric: str) -> bool:
        """Direction of ``metric`` (known metrics, or one declared in ``from_frames``)."""
        if metric in METRICS:
            return METRICS[metric].greater_is_better
        extra = self.info.get("metrics", {})
        if metric in extra:
            return bool(extra[metric].get("greater_is_better", True))
        raise KnowledgeBaseError(
            f"unknown metric {metric!r}; this knowledge base has {sorted(METRICS) + sorted(extra)}"
        )

    def _cells(self, task: str, column: str, fidelity: str = "base") -> pd.DataFrame:
        """Datasets x configs mean of ``column`` over folds; NaN unless every fold of the
        cell's repeats is recorded, ok and has a value (a mean over the folds that happened
        to succeed would flatter a config that fails half the time)."""
        key = ("cells", task, column, fidelity)
        if key in self._cache:
            return self._cache[key]
        self._check_task(task)
        r = self._task_results(task, fidelity)
        if column not in r.columns:
            raise KnowledgeBaseError(
                f"column {column!r} is not in results; available: "
                f"{[c for c in r.columns if c not in ('dataset', 'config_id', 'task', 'fold', 'status', 'error')]}"
            )
        vals = r[column].where(r["status"] == "ok")
        g = pd.DataFrame({"dataset": r["dataset"], "config_id": r["config_id"], "v": vals})
        grouped = g.groupby(["dataset", "config_id"], sort=True)["v"]
        mean = grouped.mean()
        size = grouped.size()
        complete = (grouped.count() == size) & self._whole_repeats(task, size)
        cells = mean.where(complete).unstack("config_id")
        cells = cells.reindex(index=self._dataset_names(task), columns=list(self.configs(task)))
        cells = cells.astype("float64")
        cells.index.name, cells.columns.name = "dataset", "config_id"
        self._cache[key] = cells
        return cells

    def _whole_repeats(self, task: str, folds: pd.Series) -> pd.Series:
        """Per (dataset, config) cell with ``folds`` recorded: whether they make whole
        repeats of the dataset's recorded ``cv_folds`` (a batch cell that lost folds to a
        kill does not). Datasets without a recorded fold count (your own results) pass."""
        recorded = self.datasets(task)["cv_folds"].astype("Float64")
        per = folds.index.get_level_values("dataset").map(recorded.where(recorded >= 2))
        per = per.to_numpy(dtype=float, na_value=np.nan)
        per = np.where(np.isfinite(per), per, 1.0)
        return pd.Series(folds.to_numpy() % per == 0, index=folds.index)

    def performance(self, task: str, metric: str, *, fidelity: str = "base") -> pd.DataFrame:
        """Datasets x configs: ``metric`` averaged over folds (NaN unless every recorded
        fold is ok).

        ``fidelity`` chooses which evaluations of a dataset evaluated at several sizes
        (``n_rows_used``) count: ``"base"`` (default) its smallest size, where the whole
        portfolio was run; ``"largest"`` its largest, usually a subset of the configs
        (NaN elsewhere).

        Examples
        --------
        >>> kb.performance("classification", "balanced_accuracy").shape  # doctest: +SKIP
        (160, 100)
        """
        self.greater_is_better(metric)
        if metric in METRICS and METRICS[metric].task != task:
            raise TaskMismatchError(f"metric {metric!r} is for {METRICS[metric].task}, not {task}")
        return self._cells(task, metric, fidelity).copy()

    def fold_performance(self, task: str, metric: str) -> pd.DataFrame:
        """(dataset, fold) x configs: ``metric`` on each cross-validation fold (NaN where the
        fold failed or was not run). :meth:`performance` is its mean over folds.

        Examples
        --------
        >>> kb.fold_performance("regression", "r2").loc["1027_ESL"].shape  # doctest: +SKIP
        (3, 100)
        """
        self.performance(task, metric)  # validates the task and metric
        r = self._task_results(task)
        vals = r[metric].where(r["status"] == "ok")
        frame = pd.DataFrame({"dataset": r["dataset"], "fold": r["fold"],
                              "config_id": r["config_id"], "v": vals})
        table = frame.pivot_table(index=["dataset", "fold"], columns="config_id", values="v",
                                  aggfunc="mean", dropna=False)
        table = table.reindex(columns=list(self.configs(task))).astype("float64")
        table.columns.name = "config_id"
        return table

    def results(self, task: str, *, fidelity: str = "base") -> pd.DataFrame:
        """The raw results of a task: one row per (dataset, config_id, fold), with status,
        error, fit and predict seconds, ``n_rows_used`` and every metric (a copy), at the
        given ``fidelity`` (``"base"``, ``"largest"`` or ``"all"``; see :meth:`performance`).

        With repeated cross-validation (``autometa batch --repeats R``) repeat ``r`` holds
        folds ``r * cv_folds`` to ``(r + 1) * cv_folds - 1``; the ``repeat`` column says
        which (see :meth:`folds_per_repeat`).
        """
        results = self._task_results(self._check_task(task), fidelity).reset_index(drop=True)
        results = results.copy()
        per = results["dataset"].map(self.folds_per_repeat(task))
        results["repeat"] = (results["fold"] // per).astype("Int64")
        return results

    def folds_per_repeat(self, task: str) -> pd.Series:
        """Dataset -> cross-validation folds per repeat, so that a result's repeat is
        ``fold // folds_per_repeat``.

        The recorded ``cv_folds`` where it is 2 or more; otherwise (knowledge bases written
        before repeats existed, :meth:`from_frames`, :meth:`add_results` without a dataset
        record) all the dataset's folds on record count as one repeat.

        Examples
        --------
        >>> kb.folds_per_repeat("classification").head(2)  # doctest: +SKIP
        """
        on_record = self._task_results(self._check_task(task)).groupby("dataset")["fold"].max() + 1
        recorded = self.datasets(task)["cv_folds"].astype("Float64")
        per = recorded.where(recorded >= 2).fillna(on_record.astype("Float64"))
        return per.dropna().astype("int64").rename("folds_per_repeat")

    def fit_times(self, task: str, *, fidelity: str = "base") -> pd.DataFrame:
        """Datasets x configs: mean fit time in seconds (NaN unless every fold is ok)."""
        return self._cells(task, "fit_time", fidelity).copy()

    def metafeatures(self, task: str | None = None) -> pd.DataFrame:
        """Datasets x meta-features (float64; NaN where not computed).

        Rows follow :meth:`datasets` of the task; columns that are NaN for all of the
        task's datasets are dropped.
        """
        if task is None:
            return self._metafeatures.copy()
        mf = self._metafeatures.reindex(self._dataset_names(task))
        mf = mf.loc[:, mf.notna().any(axis=0)] if len(mf) else mf
        mf.index.name = "dataset"
        return mf.astype("float64")

    def failures(self, task: str) -> pd.DataFrame:
        """Result rows with status other than ok: dataset, config_id, algorithm, fold,
        status, error, fit_time."""
        r = self._task_results(task)
        f = r.loc[r["status"] != "ok", ["dataset", "config_id", "fold", "status", "error", "fit_time"]]
        cfgs = self.configs(task)
        f = f.assign(algorithm=f["config_id"].map(lambda c: cfgs.get(c, {}).get("algorithm")))
        return f[["dataset", "config_id", "algorithm", "fold", "status", "error", "fit_time"]].reset_index(drop=True)

    def status_matrix(self, task: str) -> pd.DataFrame:
        """Datasets x configs: ``"ok"`` when every recorded fold is ok, else the first
        non-ok status, ``"partial"`` where a repeat lacks folds (an interrupted evaluation
        of an older journal), NaN where nothing was recorded."""
        r = self._task_results(task)
        order = {s: i for i, s in enumerate(["ok", "error", "timeout", "memory"])}
        worst = r.assign(rank=r["status"].map(lambda s: order.get(s, len(order))))
        idx = worst.groupby(["dataset", "config_id"])["rank"].idxmax()
        st = worst.loc[idx].set_index(["dataset", "config_id"])["status"]
        size = worst.groupby(["dataset", "config_id"]).size()
        partial = ~self._whole_repeats(task, size)
        st = st.where(~partial.reindex(st.index), "partial")
        st = st.unstack("config_id")
        return st.reindex(index=self._dataset_names(task), columns=list(self.configs(task)))

    def summary(self, task: str) -> dict[str, Any]:
        """Counts for one task.

        Returns
        -------
        dict
            ``n_datasets``, ``n_configs``, ``n_metafeatures``, ``n_results`` (fold rows),
            ``status_counts``, ``missing_fraction`` (share of dataset x config cells without
            an ok result on all recorded folds), ``metrics``.

        Examples
        --------
        >>> kb.summary("regression")["missing_fraction"]  # doctest: +SKIP
        0.02
        """
        self._check_task(task)
        names = self._dataset_names(task)
        cfgs = self.configs(task)
        r = self._task_results(task)
        n_cells = len(names) * len(cfgs)
        if n_cells:
            st = self.status_matrix(task)
            missing = float((st != "ok").to_numpy().sum() / n_cells)
        else:
            missing = 1.0
        return {
            "task": task,
            "n_datasets": len(names),
            "n_configs": len(cfgs),
            "n_metafeatures": int(self.metafeatures(task).shape[1]),
            "n_results": len(r),
            "status_counts": {str(k): int(v) for k, v in r["status"].value_counts().items()},
            "missing_fraction": missing,
            "metrics": self.metrics(task),
        }

    def fingerprint(self) -> str:
        """A short hash of the contents (not of the files or history): equal knowledge
        bases give equal fingerprints. Cached models are keyed by it.

        Examples
        --------
        >>> kb.fingerprint()  # doctest: +SKIP
        '3f2a9c0d1b7e4a55'
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(str(SCHEMA_VERSION).encode())
            h.update(_canonical_json(self._configs).encode())
            h.update(_canonical_json(self.info.get("metrics", {})).encode())
            mf = self._metafeatures.reindex(columns=sorted(self._metafeatures.columns))
            for table in (self._datasets, mf.reset_index(), self._results):
                t = table.reindex(columns=sorted(table.columns))
                h.update(_canonical_json(list(t.columns)).encode())
                # Tables are in canonical dtypes (see _coerce), so hashing them directly is
                # both stable and ~10x faster than going through object columns.
                h.update(pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

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


# --------------------------------------------------------------------------------------
# reading helpers
# --------------------------------------------------------------------------------------


def _version() -> str:
    try:
        import autometa

        return str(autometa.__version__)
    except (ImportError, AttributeError):  # pragma: no cover - partial installs
        return "unknown"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KnowledgeBaseError(f"{path}: not readable JSON ({exc})") from exc


def _check_schema(info: Mapping[str, Any], path: Path) -> None:
    version = info.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise KnowledgeBaseError(f"{path}: 'schema_version' is missing or not an integer ({version!r})")
    if version > SCHEMA_VERSION:
        raise KnowledgeBaseError(
            f"{path}: schema_version {version} is newer than this autometa understands "
            f"({SCHEMA_VERSION}); upgrade autometa to read this knowledge base"
        )
    if version < 1:
        raise KnowledgeBaseError(f"{path}: schema_version {version} is not a valid version")


def _read_parquet(path: Path, *, required: Sequence[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise KnowledgeBaseError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise KnowledgeBaseError(f"{path}: required columns {missing} are missing")
    return df


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _verify_checksums(root: Path, info: Mapping[str, Any]) -> None:
    """Refuse a knowledge base whose data files differ from what ``kb.json`` recorded."""
    for name, expected in (info.get("checksums") or {}).items():
        path = root / name
        if not path.exists():
            raise KnowledgeBaseError(f"{path}: listed in kb.json but missing")
        if _sha256(path) != expected:
            raise KnowledgeBaseError(
                f"{path} is corrupted: its checksum differs from the one kb.json recorded "
                "when it was saved (restore the file, or rebuild the knowledge base)")


def _remove_journal(root: Path, folded: Mapping[Path, int], keep_foreign: bool) -> None:
    """Delete journal files whose records are now in the parquet files.

    Only files folded in at exactly the size they have now are deleted: a file that grew
    (a writer without the lock, e.g. an older autometa) is kept and folded again later,
    which is harmless because the same records win again. A journal in a directory this
    knowledge base replaced (``keep_foreign=False``) belongs to the old contents.
    """
    journal = root / "journal"
    if not journal.is_dir():
        return
    for f in sorted(journal.glob("*.jsonl")):
        if keep_foreign and f not in folded:
            continue
        try:
            if keep_foreign and f.stat().st_size != folded[f]:
                continue
            f.unlink()
        except FileNotFoundError:
            continue


def _fold_journal(
    files: Iterable[Path],
    datasets: pd.DataFrame,
    mf: pd.DataFrame,
    results: pd.DataFrame,
    configs: dict[str, dict[str, dict]],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict, dict[Path, int]]:
    """Apply the journal records to the tables, later records winning on the same key."""
    ds_rows: list[dict] = []
    mf_rows: dict[str, dict] = {}
    res_rows: list[dict] = []
    read: dict[Path, int] = {}
    for f in files:
        try:
            data = f.read_bytes()
        except OSError as exc:
            raise KnowledgeBaseError(f"{f}: cannot read journal ({exc})") from exc
        read[f] = len(data)
        lines = data.split(b"\n")
        # The last element is b"" when the file ends with a newline; otherwise it is a line
        # the writer was still writing (or was killed writing) and may be incomplete.
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                is_last = all(not rest.strip() for rest in lines[i + 1:])
                if is_last:
                    continue  # a truncated last line from a killed writer
                raise KnowledgeBaseError(
                    f"{f}: line {i + 1} is not valid JSON ({exc}); only the last line of a "
                    "journal may be truncated"
                ) from exc
            if not isinstance(rec, dict):
                raise KnowledgeBaseError(f"{f}: line {i + 1} is not a JSON object")
            kind = rec.get("kind")
            try:
                if kind == "dataset":
                    ds_rows.append({k: v for k, v in rec.items() if k != "kind"})
                elif kind == "metafeatures":
                    mf_rows.pop(rec["dataset"], None)  # re-insert: keep "later wins" order
                    mf_rows[str(rec["dataset"])] = {
                        k: (np.nan if v is None else v) for k, v in (rec.get("values") or {}).items()
                    }
                elif kind == "config":
                    configs.setdefault(rec["task"], {})[str(rec["config_id"])] = rec["config"]
                elif kind == "result":
                    res_rows.append({k: v for k, v in rec.items() if k != "kind"})
                elif kind == "evaluation":  # all folds of one evaluation, one atomic line
                    cell = {k: v for k, v in rec.items() if k not in ("kind", "folds")}
                    res_rows.extend({**cell, **fold} for fold in rec["folds"])
                # Unknown kinds come from a newer writer; they carry nothing this reader
                # would use, so they are skipped rather than refused.
            except KeyError as exc:
                raise KnowledgeBaseError(
                    f"{f}: line {i + 1}: {kind!r} record lacks the field {exc.args[0]!r}"
                ) from exc
    if ds_rows:
        new = _coerce(pd.DataFrame(ds_rows), _DATASET_DTYPES, where="journal dataset records")
        datasets = pd.concat([datasets, new], ignore_index=True)
    if res_rows:
        frame = pd.DataFrame(res_rows)
        missing = [c for c in ("dataset", "config_id", "fold", "status") if c not in frame.columns]
        if missing:
            raise KnowledgeBaseError(f"journal result records lack fields {missing}")
        if "task" not in frame.columns or frame["task"].isna().any():
            # A result without a task takes its dataset's task.
            known = pd.concat([datasets[["dataset", "task"]]]).drop_duplicates("dataset", keep="last")
            task_of = dict(zip(known["dataset"], known["task"]))
            frame["task"] = frame.get("task", pd.Series([None] * len(frame))).fillna(
                frame["dataset"].map(task_of)
            )
        extra = {c: "float64" for c in frame.columns if c not in _RESULT_DTYPES}
        new = _coerce(frame, {**_RESULT_DTYPES, **extra}, where="journal result records")
        results = pd.concat([results, new], ignore_index=True)
    if mf_rows:
        new_mf = pd.DataFrame.from_dict(mf_rows, orient="index")
        new_mf = _to_float_frame(new_mf, where="journal metafeatures records")
        mf = pd.concat([mf.drop(index=list(mf_rows), errors="ignore"), new_mf])
    return datasets, mf, results, configs, read
