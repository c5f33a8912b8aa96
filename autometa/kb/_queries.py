"""Read-only queries of a knowledge base's tables (the query half of :class:`KnowledgeBase`).

:class:`TableQueries` is a mixin: :class:`~autometa.kb.KnowledgeBase` inherits these
methods and holds the tables they read (``_datasets``, ``_metafeatures``, ``_results``,
``_configs``, ``info``) in the schema's dtypes, deduplicated and sorted; derived tables are
memoised in ``_cache``, which every change of the tables clears.

The rule of which results count lives in :meth:`TableQueries.complete_repeats`: a repeat
of a dataset x configuration cell counts once every fold of it is on record. The batch
runner resumes by it, and :meth:`~TableQueries.performance` scores only cells whose
repeats are all complete.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autometa._constants import NOT_APPLICABLE, STATUSES, TASKS, check_task
from autometa.errors import KnowledgeBaseError, TaskMismatchError
from autometa.kb._schema import FIDELITIES
from autometa.metrics import METRICS

#: The levels of :meth:`TableQueries.complete_repeats`' index.
REPEAT_KEY = ["dataset", "config_id", "repeat", "n_rows_used"]


def rows_used_of(results: pd.DataFrame) -> pd.DataFrame:
    """Dataset -> smallest (``base``) and largest ``n_rows_used`` of ``results`` (see
    :meth:`TableQueries.rows_used`)."""
    sizes = results.dropna(subset=["n_rows_used"]).groupby("dataset")["n_rows_used"]
    frame = pd.DataFrame({"base": sizes.min(), "largest": sizes.max()}).astype("Int64")
    frame.index.name = "dataset"
    return frame


class TableQueries:
    """Queries of a knowledge base's tables; see :class:`~autometa.kb.KnowledgeBase`."""

    _datasets: pd.DataFrame
    _metafeatures: pd.DataFrame
    _results: pd.DataFrame
    _configs: dict[str, dict[str, dict[str, Any]]]
    _cache: dict[Any, Any]
    info: dict[str, Any]

    # ---------------------------------------------------------------- internals
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

    def _dataset_names(self, task: str) -> list[str]:
        key = ("names", task)
        if key not in self._cache:
            d = self._datasets
            names = set(d.loc[d["task"] == task, "dataset"])
            names |= set(self._task_results(task)["dataset"])
            self._cache[key] = sorted(names)
        return self._cache[key]

    # ---------------------------------------------------------------- what is in it
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
        check_task(task)
        names = self._dataset_names(task)
        d = d[d["task"] == task].reindex(names)
        d["dataset"] = d.index
        d["task"] = task
        return d

    def configs(self, task: str) -> dict[str, dict[str, Any]]:
        """``{config_id: config}`` of the task's portfolio (configs that only have results
        and no stored config become ``{"algorithm": config_id}``)."""
        check_task(task)
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

    # ---------------------------------------------------------------- results and repeats
    def results(self, task: str, *, fidelity: str = "base") -> pd.DataFrame:
        """The raw results of a task: one row per (dataset, config_id, fold), with status,
        error, fit and predict seconds, ``n_rows_used`` and every metric (a copy), at the
        given ``fidelity`` (``"base"``, ``"largest"`` or ``"all"``; see :meth:`performance`).

        With repeated cross-validation (``autometa batch --repeats R``) repeat ``r`` holds
        folds ``r * cv_folds`` to ``(r + 1) * cv_folds - 1``; the ``repeat`` column says
        which (see :meth:`folds_per_repeat`).
        """
        results = self._task_results(check_task(task), fidelity).reset_index(drop=True)
        results = results.copy()
        per = results["dataset"].map(self.folds_per_repeat(task))
        results["repeat"] = (results["fold"] // per).astype("Int64")
        return results

    def rows_used(self, task: str) -> pd.DataFrame:
        """Dataset -> the training-table rows its evaluations used (``n_rows_used``):
        ``base``, its smallest size (where the whole portfolio ran), and ``largest`` (the
        same where the dataset was evaluated at one size only). Datasets whose results do
        not record their size are left out.

        Examples
        --------
        >>> kb.rows_used("classification").head(2)  # doctest: +SKIP
                     base  largest
        dataset
        adult         500    10000
        allbp         500     3772
        """
        return rows_used_of(self._task_results(check_task(task), "all"))

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
        on_record = self._task_results(check_task(task)).groupby("dataset")["fold"].max() + 1
        recorded = self.datasets(task)["cv_folds"].astype("Float64")
        per = recorded.where(recorded >= 2).fillna(on_record.astype("Float64"))
        return per.dropna().astype("int64").rename("folds_per_repeat")

    def complete_repeats(self, task: str, *, fidelity: str = "all") -> pd.Series:
        """Whether each repeat of each dataset x configuration cell has every fold on
        record: the one rule of which results count.

        A repeat has :meth:`folds_per_repeat` folds. A cell that lost folds to a kill (a
        journal of an older batch wrote one line per fold) is incomplete until they are
        evaluated again; ``autometa batch`` resumes by this rule.

        Parameters
        ----------
        task : str
        fidelity : {"all", "base", "largest"}, default="all"
            Which evaluation sizes to look at (see :meth:`performance`).

        Returns
        -------
        pandas.Series of bool
            Indexed by (dataset, config_id, repeat, n_rows_used).

        Examples
        --------
        >>> kb.complete_repeats("regression").all()  # doctest: +SKIP
        True
        """
        return self._complete_repeats(task, fidelity).copy()

    def _complete_repeats(self, task: str, fidelity: str) -> pd.Series:
        key = ("complete", task, fidelity)
        if key not in self._cache:
            results = self.results(task, fidelity=fidelity)
            folds = results.groupby(REPEAT_KEY).size()
            expected = folds.index.get_level_values("dataset").map(self.folds_per_repeat(task))
            self._cache[key] = pd.Series(
                folds.to_numpy() >= expected.to_numpy(), index=folds.index, name="complete"
            )
        return self._cache[key]

    def _whole_cells(self, task: str, fidelity: str, cells: pd.Index) -> np.ndarray:
        """Per (dataset, config_id) of ``cells``: whether every repeat on record is complete
        (:meth:`complete_repeats`). The rule applies where the dataset records its
        ``cv_folds`` (batch results); your own results (:meth:`add_results`,
        :meth:`from_frames`) count as they are."""
        complete = self._complete_repeats(task, fidelity)
        whole = complete.groupby(level=["dataset", "config_id"]).all()
        whole = whole.reindex(cells, fill_value=False).to_numpy(dtype=bool)
        recorded = self.datasets(task)["cv_folds"].astype("Float64")
        unruled = cells.get_level_values("dataset").map(~(recorded >= 2).fillna(False))
        return whole | unruled.to_numpy(dtype=bool, na_value=True)

    def _cells(self, task: str, column: str, fidelity: str = "base") -> pd.DataFrame:
        """Datasets x configs mean of ``column`` over folds; NaN unless every fold of the
        cell's repeats is recorded, ok and has a value (a mean over the folds that happened
        to succeed would flatter a config that fails half the time)."""
        key = ("cells", task, column, fidelity)
        if key in self._cache:
            return self._cache[key]
        check_task(task)
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
        complete = (grouped.count() == size) & self._whole_cells(task, fidelity, size.index)
        cells = mean.where(complete).unstack("config_id")
        cells = cells.reindex(index=self._dataset_names(task), columns=list(self.configs(task)))
        cells = cells.astype("float64")
        cells.index.name, cells.columns.name = "dataset", "config_id"
        self._cache[key] = cells
        return cells

    # ---------------------------------------------------------------- tables
    def performance(self, task: str, metric: str, *, fidelity: str = "base") -> pd.DataFrame:
        """Datasets x configs: ``metric`` averaged over folds (NaN unless every fold of
        the cell's repeats is recorded and ok, see :meth:`complete_repeats`).

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
        frame = pd.DataFrame(
            {"dataset": r["dataset"], "fold": r["fold"], "config_id": r["config_id"], "v": vals}
        )
        table = frame.pivot_table(
            index=["dataset", "fold"], columns="config_id", values="v", aggfunc="mean", dropna=False
        )
        table = table.reindex(columns=list(self.configs(task))).astype("float64")
        table.columns.name = "config_id"
        return table

    def fit_times(self, task: str, *, fidelity: str = "base") -> pd.DataFrame:
        """Datasets x configs: mean fit time in seconds (NaN unless every fold is ok)."""
        return self._cells(task, "fit_time", fidelity).copy()

    def failures(self, task: str) -> pd.DataFrame:
        """Result rows that failed (status ``error``, ``timeout`` or ``memory``): dataset,
        config_id, algorithm, fold, status, error, fit_time.

        Folds recorded as ``not_applicable`` (a configuration that does not apply to the
        dataset, e.g. the few-shot learner on a large table: it was not run) are not
        failures and are not listed; :meth:`summary` counts them under their own status.
        """
        r = self._task_results(task)
        failed = ~r["status"].isin(["ok", NOT_APPLICABLE])
        f = r.loc[failed, ["dataset", "config_id", "fold", "status", "error", "fit_time"]]
        cfgs = self.configs(task)
        f = f.assign(algorithm=f["config_id"].map(lambda c: cfgs.get(c, {}).get("algorithm")))
        return f[
            ["dataset", "config_id", "algorithm", "fold", "status", "error", "fit_time"]
        ].reset_index(drop=True)

    def status_matrix(self, task: str) -> pd.DataFrame:
        """Datasets x configs: ``"ok"`` when every recorded fold is ok, else the worst
        status among its folds (in the order of :data:`autometa.kb.STATUSES`),
        ``"partial"`` where a repeat lacks folds (an interrupted evaluation of an older
        journal), NaN where nothing was recorded."""
        r = self._task_results(task)
        order = {s: i for i, s in enumerate(STATUSES)}
        worst = r.assign(rank=r["status"].map(lambda s: order.get(s, len(order))))
        idx = worst.groupby(["dataset", "config_id"])["rank"].idxmax()
        st = worst.loc[idx].set_index(["dataset", "config_id"])["status"]
        size = worst.groupby(["dataset", "config_id"]).size()
        whole = pd.Series(self._whole_cells(task, "base", size.index), index=size.index)
        st = st.where(whole.reindex(st.index), "partial")
        st = st.unstack("config_id")
        return st.reindex(index=self._dataset_names(task), columns=list(self.configs(task)))

    def summary(self, task: str) -> dict[str, Any]:
        """Counts for one task.

        Returns
        -------
        dict
            ``n_datasets``, ``n_configs``, ``n_metafeatures``, ``n_results`` (fold rows),
            ``status_counts`` (fold rows per status, ``not_applicable`` under its own name:
            not among the failures of :meth:`failures`), ``missing_fraction`` (share of
            dataset x config cells without an ok result on all recorded folds), ``metrics``.

        Examples
        --------
        >>> kb.summary("regression")["missing_fraction"]  # doctest: +SKIP
        0.02
        """
        check_task(task)
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
