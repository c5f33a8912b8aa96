"""Knowledge-base tables from what a user gives: frames of scores, or evaluated folds.

:func:`tables_from_frames` is :meth:`~autometa.kb.KnowledgeBase.from_frames`' work (a
meta-features frame and a datasets x configs score frame to the on-disk tables);
:func:`dataset_row` and :func:`fold_records` turn the arguments of
:meth:`~autometa.kb.KnowledgeBase.add_results` into rows of the ``datasets`` and
``results`` tables. The rows are in the schema's layout (:mod:`._schema`); the
:class:`~autometa.kb.KnowledgeBase` deduplicates and sorts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from autometa._constants import check_task
from autometa.errors import KnowledgeBaseError, TaskMismatchError
from autometa.kb._schema import RESULT_DTYPES, coerce, to_float_frame
from autometa.metrics import METRICS

__all__ = ["by_dataset", "dataset_row", "fold_records", "tables_from_frames"]


def tables_from_frames(
    metafeatures: pd.DataFrame,
    performance: pd.DataFrame,
    *,
    task: str,
    metric: str,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    fit_times: pd.DataFrame | None = None,
    greater_is_better: bool | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """The ``datasets``, ``metafeatures`` and ``results`` tables, the configurations by
    task and the ``info`` of a knowledge base made from frames (the arguments of
    :meth:`~autometa.kb.KnowledgeBase.from_frames`, in that constructor's order)."""
    check_task(task)
    info: dict[str, Any] = {"notes": "made with KnowledgeBase.from_frames"}
    if metric in METRICS:
        if METRICS[metric].task != task:
            raise TaskMismatchError(f"metric {metric!r} is for {METRICS[metric].task}, not {task}")
    else:
        info["metrics"] = {
            metric: {
                "task": task,
                "greater_is_better": bool(True if greater_is_better is None else greater_is_better),
            }
        }
    mf = by_dataset(metafeatures, where="from_frames metafeatures")
    perf = by_dataset(performance, where="from_frames performance")
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
        ft = by_dataset(fit_times, where="from_frames fit_times")
        ft_long = ft.rename_axis(index="dataset", columns="config_id").stack(future_stack=True)
        long = long.merge(
            ft_long.rename("fit_time").reset_index(), on=["dataset", "config_id"], how="left"
        )
    cfgs: dict[str, dict[str, Any]] = {}
    for name in map(str, perf.columns):
        given = (configs or {}).get(name)
        cfgs[name] = dict(given) if given is not None else {"algorithm": name}
    extra = {metric: "float64"} if metric not in RESULT_DTYPES else {}
    results = coerce(long, {**RESULT_DTYPES, **extra}, where="from_frames performance")
    return datasets, mf, results, {task: cfgs}, info


def dataset_row(
    datasets: pd.DataFrame, dataset: Any, task: str | None, info: Mapping[str, Any] | None
) -> tuple[str, str, pd.DataFrame]:
    """:meth:`~autometa.kb.KnowledgeBase.add_results`' dataset: its name, its task (checked
    against its record in ``datasets``, the knowledge base's table) and its new
    ``datasets`` row (that record updated)."""
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
                int(pd.Series(y).nunique()) if y is not None and task == "classification" else None
            ),
        )
        meta = getattr(dataset, "metadata", {}) or {}
        for k in ("openml_dataset_id", "openml_task_id"):
            if meta.get(k) is not None:
                row[k] = meta[k]
    known = datasets.loc[datasets["dataset"] == name]
    if task is None:
        if known.empty:
            raise KnowledgeBaseError(f"dataset {name!r} is not in the knowledge base; pass task=")
        task = str(known["task"].iloc[0])
    check_task(task)
    if not known.empty and known["task"].iloc[0] != task:
        raise TaskMismatchError(
            f"dataset {name!r} is stored as {known['task'].iloc[0]}, not {task}"
        )
    row.update(dataset=name, task=task, **dict(info or {}))
    if known.empty:
        row.setdefault("group", "")
        return name, task, pd.DataFrame([row])
    merged = known.iloc[0].to_dict()
    merged.update({k: v for k, v in row.items() if v is not None})
    return name, task, pd.DataFrame([merged])


def by_dataset(frame: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """A float frame indexed by dataset name (the index, or a ``"dataset"`` column)."""
    frame = frame.set_index("dataset") if "dataset" in frame.columns else frame
    frame = to_float_frame(frame, where=where)
    frame.index = frame.index.map(str)
    return frame


def fold_records(folds: Any) -> list[dict[str, Any]]:
    """:meth:`~autometa.kb.KnowledgeBase.add_results`' ``folds`` as result rows (fold
    number, status ok and no error unless given)."""
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
    return fold_rows
