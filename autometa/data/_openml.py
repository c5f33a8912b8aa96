"""OpenML sources through the ``openml`` package, honouring ``openml.config``'s cache.

``openml`` is imported inside the functions: it is slow to import and most workers
only ever read files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np

from autometa.data._dataset import Dataset
from autometa.data._validate import make_dataset, split_target
from autometa.errors import OpenMLUnavailableError, UnsupportedSourceError

# What openml-python needs locally: the description, features and data files; no
# qualities (meta-features we compute ourselves), which also keeps offline use working.
_DATASET_KWARGS: dict[str, Any] = {
    "download_data": True,
    "download_qualities": False,
    "download_features_meta_data": True,
}


@contextlib.contextmanager
def _openml_errors(what: str) -> Iterator[None]:
    """Turn network, server and cache failures into :class:`OpenMLUnavailableError`."""
    import openml
    import requests

    try:
        yield
    except openml.exceptions.OpenMLServerException as exc:
        # The server answered but refused (unknown id, private data, ...).
        raise OpenMLUnavailableError(
            f"OpenML could not provide {what}: {exc} (cache: {openml.config.get_cache_directory()})"
        ) from exc
    except (requests.exceptions.RequestException, openml.exceptions.PyOpenMLError, OSError) as exc:
        raise OpenMLUnavailableError(
            f"OpenML unreachable and {what} not cached in {openml.config.get_cache_directory()} "
            f"({type(exc).__name__}: {exc}). Connect to the internet, or point "
            "openml.config.set_root_cache_directory() at a cache that holds it."
        ) from exc


def _dataset_frame(dataset: Any) -> tuple[Any, list[str]]:
    """The dataset as one DataFrame (target included) and its nominal columns."""
    frame, _, categorical_indicator, names = dataset.get_data(dataset_format="dataframe")
    categorical = [n for n, is_cat in zip(names, categorical_indicator) if is_cat]
    return frame, categorical


def _default_target(dataset: Any, target: Hashable | None, dataset_id: int) -> Hashable:
    if target is not None:
        return target
    default = dataset.default_target_attribute
    if not default or "," in default:
        raise UnsupportedSourceError(
            f"OpenML dataset {dataset_id} ({dataset.name}) has "
            f"{'no single default target' if not default else 'several targets: ' + default}; "
            "pass target="
        )
    return default


def load_openml_dataset(
    dataset_id: int, target: Hashable | None, *, task: str | None, name: str | None
) -> Dataset:
    """Load ``openml:<id>``: the dataset with its default target (or ``target``)."""
    import openml

    with _openml_errors(f"dataset {dataset_id}"):
        dataset = openml.datasets.get_dataset(dataset_id, **_DATASET_KWARGS)
        frame, categorical = _dataset_frame(dataset)
    source = f"openml:{dataset_id}"
    X, y = split_target(frame, _default_target(dataset, target, dataset_id), source)
    return make_dataset(
        X,
        y,
        name=name or dataset.name,
        source=source,
        task=task,
        categorical=categorical,
        metadata={"openml_dataset_id": int(dataset_id)},
    )


def _task_kind(task_obj: Any, task_id: int) -> str:
    from openml.tasks import TaskType

    kinds = {
        TaskType.SUPERVISED_CLASSIFICATION: "classification",
        TaskType.LEARNING_CURVE: "classification",
        TaskType.SUPERVISED_REGRESSION: "regression",
    }
    if task_obj.task_type_id not in kinds:
        raise UnsupportedSourceError(
            f"OpenML task {task_id} is a {task_obj.task_type} task; only classification "
            "and regression tasks can be loaded"
        )
    return kinds[task_obj.task_type_id]


def load_openml_task(
    task_id: int, target: Hashable | None, *, task: str | None, name: str | None
) -> Dataset:
    """Load ``openml-task:<id>``: the task's dataset and target, with its own folds.

    ``splits`` holds the task's folds of repeat 0, sample 0 as positional indices.
    """
    import openml

    with _openml_errors(f"task {task_id}"):
        task_obj = openml.tasks.get_task(task_id, download_splits=True, **_DATASET_KWARGS)
    kind = _task_kind(task_obj, task_id)
    with _openml_errors(f"dataset {task_obj.dataset_id} of task {task_id}"):
        dataset = openml.datasets.get_dataset(task_obj.dataset_id, **_DATASET_KWARGS)
        frame, categorical = _dataset_frame(dataset)
        _, n_folds, _ = task_obj.get_split_dimensions()
        splits = [
            tuple(
                np.asarray(idx, dtype=np.int64)
                for idx in task_obj.get_train_test_split_indices(fold=f, repeat=0, sample=0)
            )
            for f in range(n_folds)
        ]
    source = f"openml-task:{task_id}"
    X, y = split_target(frame, target if target is not None else task_obj.target_name, source)
    return make_dataset(
        X,
        y,
        name=name or dataset.name,
        source=source,
        task=task or kind,
        categorical=categorical,
        splits=splits,
        metadata={
            "openml_task_id": int(task_id),
            "openml_dataset_id": int(task_obj.dataset_id),
            "openml_task_type": str(task_obj.task_type),
            "openml_estimation_procedure": task_obj.estimation_procedure.get("type"),
        },
    )


def suite_task_ids(suite: str) -> list[int]:
    """Task ids of an OpenML benchmark suite, by id (``"99"``) or alias (``"OpenML-CC18"``)."""
    import openml

    key: int | str = int(suite) if suite.isdigit() else suite
    with _openml_errors(f"suite {suite}"):
        result = openml.study.get_suite(key)
    return [int(t) for t in (result.tasks or [])]
