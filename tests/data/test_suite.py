"""``load_suite`` and ``Suite``: directories, OpenML task lists, laziness."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

import autometa
from autometa.data import Suite
from autometa.errors import (
    DatasetFileNotFoundError,
    DataTypeError,
    DataValidationError,
    DataWarning,
    FileParseError,
    UnsupportedSourceError,
)

pytestmark = pytest.mark.filterwarnings("ignore::autometa.errors.DataWarning")


def make_dir(root: Path) -> Path:
    (root / "classification").mkdir(parents=True)
    (root / "manifest.csv").write_text("name,task,categorical\nb,regression,\na,,code\n")
    frame = pd.DataFrame({"code": [1, 2, 1, 2], "x": [0.1, 0.2, 0.3, 0.4], "target": [0, 1, 0, 1]})
    frame.to_csv(root / "classification" / "a.tsv.gz", sep="\t", index=False)
    frame.to_csv(root / "classification" / "b.csv", index=False)
    (root / "classification" / "notes.txt").write_text("not data")
    (root / ".hidden").mkdir()
    frame.to_csv(root / ".hidden" / "c.csv", index=False)
    return root


def test_directory_suite(tmp_path: Path) -> None:
    root = make_dir(tmp_path / "corpus")
    suite = autometa.load_suite(f"dir:{root}")
    assert isinstance(suite, Suite) and len(suite) == 2
    assert suite.sources == [
        str((root / "classification" / name).resolve()) for name in ("a.tsv.gz", "b.csv")
    ]
    a, b = list(suite)
    assert (a.name, a.categorical, a.task) == ("a", ["code"], "classification")
    assert (b.name, b.categorical, b.task) == ("b", [], "regression")
    assert a.source == suite.sources[0]


def test_bare_directory_and_path_object(tmp_path: Path) -> None:
    root = make_dir(tmp_path / "corpus")
    assert (
        autometa.load_suite(root / "classification").sources
        == autometa.load_suite(f"dir:{root / 'classification'}").sources
    )
    assert len(autometa.load_suite(str(root))) == 2


def test_iteration_is_lazy(tmp_path: Path) -> None:
    root = make_dir(tmp_path / "corpus")
    (root / "classification" / "z.csv.gz").write_bytes(b"not gzip")
    suite = autometa.load_suite(root)
    datasets = iter(suite)
    assert next(datasets).name == "a"  # loads without touching the broken last file
    assert next(datasets).name == "b"
    with pytest.raises(FileParseError, match=r"z\.csv\.gz"):
        next(datasets)


def test_load_by_source_or_position(tmp_path: Path) -> None:
    suite = autometa.load_suite(make_dir(tmp_path / "corpus"))
    assert suite.load(1).name == "b"
    assert suite.load(suite.sources[0], name="renamed").name == "renamed"


def test_openml_task_list_needs_no_network() -> None:
    suite = autometa.load_suite("openml-task:1, 2,3")
    assert suite.sources == ["openml-task:1", "openml-task:2", "openml-task:3"]
    assert len(suite) == 3 and repr(suite) == "Suite('openml-task:1, 2,3', 3 sources)"
    assert autometa.load_suite("openml:61").sources == ["openml:61"]


def test_openml_task_suite_loads_from_cache(openml_cache: Path) -> None:
    suite = autometa.load_suite("openml-task:1882")
    with pytest.warns(DataWarning):
        (dataset,) = list(suite)
    assert len(dataset.splits) == 10


def test_list_of_sources_and_single_file(tmp_path: Path) -> None:
    root = make_dir(tmp_path / "corpus")
    file = root / "classification" / "b.csv"
    assert autometa.load_suite([file, "openml:2"]).sources == [str(file), "openml:2"]
    assert autometa.load_suite(file).sources == [str(file)]


def test_suite_pickles_for_worker_processes(tmp_path: Path) -> None:
    suite = autometa.load_suite(make_dir(tmp_path / "corpus"))
    assert pickle.loads(pickle.dumps(suite)).sources == suite.sources


def test_bad_suite_specs(tmp_path: Path) -> None:
    with pytest.raises(DatasetFileNotFoundError, match="no such directory"):
        autometa.load_suite(f"dir:{tmp_path / 'missing'}")
    with pytest.raises(DatasetFileNotFoundError, match="missing.csv"):
        autometa.load_suite(tmp_path / "missing.csv")
    with pytest.raises(DataValidationError, match="no data files"):
        autometa.load_suite(tmp_path)
    with pytest.raises(UnsupportedSourceError):
        autometa.load_suite("openml-task:x")
    with pytest.raises(DataTypeError):
        autometa.load_suite(42)


def test_pmlb_classification_directory(shared_dir: Path) -> None:
    directory = shared_dir / "corpus" / "pmlb" / "classification"
    suite = autometa.load_suite(f"dir:{directory}")
    assert len(suite) == 164
    assert all(s.endswith(".tsv.gz") for s in suite.sources)
    dataset = suite.load(next(s for s in suite.sources if s.endswith("/adult.tsv.gz")))
    assert dataset.task == "classification" and "workclass" in dataset.categorical
