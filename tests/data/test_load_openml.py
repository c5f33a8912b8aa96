"""OpenML sources, offline, against a copy of the genuine test-server cache in ../shared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autometa
from autometa.errors import DataWarning, OpenMLUnavailableError, UnsupportedSourceError

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")  # liac-arff leaves files open


def test_openml_dataset_from_cache(openml_cache: Path) -> None:
    with pytest.warns(DataWarning, match="no values"):  # anneal has 6 empty columns
        ds = autometa.load_dataset("openml:2")
    assert (ds.name, ds.source, ds.task) == ("anneal", "openml:2", "classification")
    assert ds.n_rows == 898 and ds.metadata["n_features_original"] == 38
    assert ds.n_features == 38 - len(ds.metadata["dropped_columns"])
    assert ds.y.name == "class" and ds.n_classes == 5  # level "4" never occurs
    assert ds.metadata["openml_dataset_id"] == 2 and ds.splits is None
    # nominal attributes are categorical, numeric ones are not
    assert {"family", "steel", "shape"} <= set(ds.categorical)
    assert not {"carbon", "thick", "width"} & set(ds.categorical)


def test_openml_task_from_cache_keeps_its_folds(openml_cache: Path) -> None:
    with pytest.warns(DataWarning):
        ds = autometa.load_dataset("openml-task:1882")
    assert ds.source == "openml-task:1882" and ds.name == "anneal"
    assert ds.metadata["openml_task_id"] == 1882 and ds.metadata["openml_dataset_id"] == 2
    assert len(ds.splits) == 10
    tests = np.concatenate([test for _, test in ds.splits])
    assert sorted(tests.tolist()) == list(range(898))  # the test folds partition the rows
    for train, test in ds.splits:
        assert train.dtype == np.int64 and len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == 898


def test_openml_target_override(openml_cache: Path) -> None:
    with pytest.warns(DataWarning):
        ds = autometa.load_dataset("openml:2", target="shape", name="anneal-shape")
    assert ds.y.name == "shape" and ds.name == "anneal-shape" and "class" in ds.categorical


@pytest.mark.parametrize("task_id", [1, 3])
def test_uncached_task_offline_is_a_clear_error(openml_cache: Path, task_id: int) -> None:
    with pytest.raises(OpenMLUnavailableError) as info:
        autometa.load_dataset(f"openml-task:{task_id}")
    message = str(info.value)
    assert f"OpenML unreachable and task {task_id} not cached" in message
    assert str(openml_cache) in message
    assert isinstance(info.value, ConnectionError)


def test_uncached_suite_offline_is_a_clear_error(openml_cache: Path) -> None:
    with pytest.raises(OpenMLUnavailableError, match="suite OpenML-CC18 not cached"):
        autometa.load_suite("openml-suite:OpenML-CC18")


@pytest.mark.parametrize("source", ["openml:abc", "openml:", "openml-task:1.5", "openml:-3"])
def test_malformed_openml_sources(source: str) -> None:
    with pytest.raises(UnsupportedSourceError, match="expected openml"):
        autometa.load_dataset(source)


@pytest.mark.parametrize("source", ["openml-task:1,2", "openml-suite:99", "dir:/tmp"])
def test_multi_dataset_sources_point_to_load_suite(source: str) -> None:
    with pytest.raises(UnsupportedSourceError, match="load_suite"):
        autometa.load_dataset(source)


def test_import_autometa_does_not_import_openml() -> None:
    code = (
        "import sys, autometa; autometa.load_dataset; "
        "print('openml' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
