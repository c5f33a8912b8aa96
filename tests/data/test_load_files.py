"""File sources: CSV/TSV (+gz), ARFF, Parquet, corpus manifests and broken files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa.data import MAX_COLUMNS
from autometa.errors import (
    DatasetFileNotFoundError,
    DataValidationError,
    DataWarning,
    FileParseError,
    TargetNotFoundError,
    UnsupportedSourceError,
)

FRAME = pd.DataFrame(
    {
        "size": [1.5, 2.0, 3.25, 4.0, 5.5, 6.0],
        "colour": ["red", "blue", "red", "green", "blue", "red"],
        "n": [1, 2, 3, 1, 2, 3],
        "label": ["a", "b", "a", "b", "a", "b"],
    }
)
ARFF = """% a comment
@RELATION toy
@ATTRIBUTE size NUMERIC
@ATTRIBUTE colour {red,blue,green}
@ATTRIBUTE level {0,1,2}
@ATTRIBUTE note STRING
@ATTRIBUTE label {a,b}
@DATA
1.5,red,0,'x',a
2.0,blue,1,'y',b
?,red,2,'x',a
4.0,green,0,?,b
"""


TRUNCATED_GZ = gzip.compress(
    ("a\tt\n" + "".join(f"{v}\t{v % 2}\n" for v in np.random.default_rng(0).random(2000))).encode()
)[:2000]


def write_gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


@pytest.mark.parametrize(
    ("filename", "sep"),
    [
        ("toy.csv", ","),
        ("toy.csv", ";"),  # sniffed
        ("toy.csv", "\t"),  # sniffed
        ("toy.tsv", "\t"),
        ("toy.csv.gz", ","),
        ("toy.tsv.gz", "\t"),
    ],
)
def test_delimited_files(tmp_path: Path, filename: str, sep: str) -> None:
    path = tmp_path / filename
    FRAME.to_csv(path, sep=sep, index=False)
    ds = autometa.load_dataset(path, target="label")
    pd.testing.assert_frame_equal(ds.X, FRAME.drop(columns="label"), check_dtype=False)
    assert ds.name == "toy" and ds.source == str(path)
    assert ds.categorical == ["colour"] and ds.task == "classification"


def test_semicolon_csv_with_decimal_commas_in_header(tmp_path: Path) -> None:
    # the header alone is ambiguous (both , and ; occur): the sniffer decides
    path = tmp_path / "eu.csv"
    path.write_text("a,b;c;t\n1;2;0\n3;4;1\n5;6;0\n")
    ds = autometa.load_dataset(str(path), target="t")
    assert list(ds.X.columns) == ["a,b", "c"]


def test_question_mark_is_missing_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "uci.csv"
    path.write_text("a,b,t\n1,?,x\n2,3,y\n?,4,x\n")
    ds = autometa.load_dataset(path, target="t")
    assert ds.X.isna().sum().tolist() == [1, 1] and ds.categorical == []


def test_parquet_keeps_categories(tmp_path: Path) -> None:
    path = tmp_path / "toy.parquet"
    frame = FRAME.assign(n=pd.Categorical(FRAME["n"].map({1: "lo", 2: "mid", 3: "hi"})))
    frame.to_parquet(path)
    ds = autometa.load_dataset(path, target="label")
    assert ds.categorical == ["colour", "n"]
    assert ds.name == "toy"


def test_arff_nominal_attributes_are_categorical(tmp_path: Path) -> None:
    path = tmp_path / "toy.arff"
    path.write_text(ARFF)
    ds = autometa.load_dataset(path, target="label")
    assert ds.categorical == ["colour", "level", "note"]
    assert list(ds.X["level"].cat.categories) == ["0", "1", "2"]
    assert ds.X["size"].isna().sum() == 1 and ds.X["note"].isna().sum() == 1
    assert ds.n_classes == 2 and ds.name == "toy"


def test_gzipped_arff(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "toy.arff.gz", ARFF)
    assert autometa.load_dataset(path, target="label").X.shape == (4, 4)


def test_target_column_is_used_when_not_named(tmp_path: Path) -> None:
    path = tmp_path / "data.tsv.gz"
    FRAME.rename(columns={"label": "target"}).to_csv(path, sep="\t", index=False)
    with pytest.warns(DataWarning, match=r"using column 'target' of .*data\.tsv\.gz"):
        ds = autometa.load_dataset(path)
    assert ds.name == "data" and ds.y.name == "target"


def test_missing_target_in_file_lists_columns(tmp_path: Path) -> None:
    path = tmp_path / "toy.csv"
    FRAME.to_csv(path, index=False)
    with pytest.raises(TargetNotFoundError, match="'size', 'colour', 'n', 'label'"):
        autometa.load_dataset(path, target="class")
    with pytest.raises(TargetNotFoundError, match="no target given"):
        autometa.load_dataset(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DatasetFileNotFoundError, match=r"nope\.csv") as info:
        autometa.load_dataset(path, target="t")
    assert isinstance(info.value, FileNotFoundError)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSourceError, match="load_suite"):
        autometa.load_dataset(tmp_path)


@pytest.mark.parametrize("filename", ["data.xlsx", "data.json", "data.gz", "csv"])
def test_unsupported_extension(tmp_path: Path, filename: str) -> None:
    path = tmp_path / filename
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UnsupportedSourceError, match=r"unsupported file type.*\.csv\.gz"):
        autometa.load_dataset(path, target="b")


@pytest.mark.parametrize(
    ("filename", "content", "complaint"),
    [
        ("bad.csv.gz", b"a,b\n1,2\n", "Not a gzipped file"),
        ("bad.tsv.gz", TRUNCATED_GZ, "end-of-stream"),
        ("bad.csv", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00", "not UTF-8"),
        ("bad.csv", b"a,b,t\n1,2,0\n1,2,3,4,5\n", "Expected 3 fields"),
        ("bad.arff", b"@RELATION x\n@ATTRIBUTE a NUMERIC\n@DATA\nnot-a-number\n", "ARFF"),
        ("bad.arff", b"just text, not arff\n", "ARFF"),
        ("bad.parquet", b"PAR1 this is not parquet", "parquet"),
    ],
)
def test_corrupt_files_name_the_file_and_the_complaint(
    tmp_path: Path, filename: str, content: bytes, complaint: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(FileParseError, match=complaint) as info:
        autometa.load_dataset(path, target="t")
    assert str(path) in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataValidationError, match=r"empty\.csv is empty"):
        autometa.load_dataset(path, target="t")


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b,t\n")
    with pytest.raises(DataValidationError, match="no rows"):
        autometa.load_dataset(path, target="t")


def test_duplicate_header_names(tmp_path: Path) -> None:
    # pandas would silently rename the second "a" to "a.1"
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,t\n1,2,3,0\n4,5,6,1\n")
    with pytest.raises(DataValidationError, match="duplicate column names: 'a'"):
        autometa.load_dataset(path, target="t")


def test_too_wide_csv_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    path.write_text(header + "\n" + "broken row that is never parsed\n")
    with pytest.raises(DataValidationError, match="limit of 100,000"):
        autometa.load_dataset(path, target="c0")


def write_corpus(root: Path) -> Path:
    """A tiny PMLB-style corpus: manifest.csv + classification/ and regression/."""
    (root / "classification").mkdir(parents=True)
    (root / "regression").mkdir()
    (root / "manifest.csv").write_text(
        "name,task,n_rows,n_features,openml_id,categorical,source\n"
        "toy-cls,classification,6,3,61,colour code;n,\n"
        "toy_reg,regression,6,2,,,\n"
    )
    frame = pd.DataFrame(
        {
            "colour code": [0, 1, 2, 0, 1, 2],
            "n": [5, 6, 7, 5, 6, 7],
            "x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "target": [0, 1, 0, 1, 0, 1],
        }
    )
    frame.to_csv(root / "classification" / "toy-cls.tsv.gz", sep="\t", index=False)
    regression = pd.DataFrame({"a": np.arange(6.0), "b": np.ones(6), "target": [1, 2, 3, 1, 2, 3]})
    # integer target with 3 values would be inferred as classification; the manifest says not
    regression.to_csv(root / "regression" / "toy_reg.tsv.gz", sep="\t", index=False)
    return root


def test_corpus_file_uses_manifest(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "corpus")
    with pytest.warns(DataWarning, match="using column 'target'"):
        ds = autometa.load_dataset(root / "classification" / "toy-cls.tsv.gz")
    assert ds.categorical == ["colour code", "n"]
    assert ds.metadata["openml_id"] == 61 and ds.metadata["openml_dataset_id"] == 61
    assert ds.metadata["manifest"] == str(root / "manifest.csv")
    path = root / "regression" / "toy_reg.tsv.gz"
    with pytest.warns(DataWarning):
        reg = autometa.load_dataset(path)
    with pytest.warns(DataWarning):
        overridden = autometa.load_dataset(path, task="classification")
    assert reg.task == "regression" and "openml_id" not in reg.metadata
    assert overridden.task == "classification"


def test_manifest_names_match_ignoring_separators(tmp_path: Path) -> None:
    # PMLB's manifest says "wine-quality-red" while a file is named wine_quality_red
    root = write_corpus(tmp_path / "corpus")
    (root / "extra").mkdir()
    pd.DataFrame({"colour code": [1, 2, 1, 2], "n": [1, 1, 2, 2], "target": [0, 1, 0, 1]}).to_csv(
        root / "extra" / "Toy_Cls.csv", index=False
    )
    ds = autometa.load_dataset(root / "extra" / "Toy_Cls.csv", target="target")
    assert ds.categorical == ["colour code", "n"] and ds.name == "Toy_Cls"


def test_unrelated_manifest_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("file,size\ntoy.csv,10\n")
    FRAME.to_csv(tmp_path / "toy.csv", index=False)
    ds = autometa.load_dataset(tmp_path / "toy.csv", target="label")
    assert ds.categorical == ["colour"] and "manifest" not in ds.metadata


def test_pmlb_corpus_file(shared_dir: Path) -> None:
    path = shared_dir / "corpus" / "pmlb" / "classification" / "adult.tsv.gz"
    with pytest.warns(DataWarning, match="using column 'target'"):
        ds = autometa.load_dataset(path)
    assert ds.name == "adult" and ds.task == "classification"
    assert ds.X.shape == (48842, 14)
    assert "workclass" in ds.categorical and "native-country" in ds.categorical
    assert ds.metadata["openml_id"] == 1590


def test_pmlb_file_in_own_folder_finds_parent_manifest(shared_dir: Path) -> None:
    path = shared_dir / "corpus" / "pmlb" / "wine_quality_red" / "wine_quality_red.tsv.gz"
    with pytest.warns(DataWarning):
        ds = autometa.load_dataset(path, task=None)
    assert ds.name == "wine_quality_red" and ds.task == "classification"
    assert ds.metadata["manifest"].endswith("manifest.csv")
