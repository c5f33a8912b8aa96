"""Knowledge bases and journals written by earlier versions load forever, with the same
numbers (the frozen files in ``tests/assets/``, see its README)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from autometa.kb import SCHEMA_VERSION, KnowledgeBase

ASSETS = Path(__file__).parent / "assets"
C, R = "classification", "regression"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_every_schema_version_has_a_frozen_knowledge_base():
    versions = sorted(int(p.name.removeprefix("kb_v")) for p in ASSETS.glob("kb_v*"))
    assert versions == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("name", ["kb_v1", "journal_v1", "kb_v2"])
def test_loading_reads_the_files_and_changes_none(name):
    root = ASSETS / name
    before = _files(root)
    kb = KnowledgeBase.load(root)
    assert kb.info["schema_version"] == SCHEMA_VERSION  # upgraded in memory only
    assert _files(root) == before


def test_schema_1_knowledge_base():
    kb = KnowledgeBase.load(ASSETS / "kb_v1")
    assert kb.tasks == [C, R]
    assert kb.info["notes"].startswith("schema 1")
    perf = kb.performance(C, "accuracy")
    assert list(perf.index) == ["c1", "c2"] and list(perf.columns) == ["knn", "rf", "svm"]
    assert perf.loc["c1", "rf"] == pytest.approx(0.825)
    assert perf.loc["c2", "knn"] == pytest.approx(0.5)
    assert math.isnan(perf.loc["c2", "svm"])  # one fold timed out
    assert math.isnan(perf.loc["c1", "svm"])  # never run
    assert kb.performance(R, "r2").loc["r1", "ridge"] == pytest.approx(0.45)
    assert kb.status_matrix(C).loc["c2", "svm"] == "timeout"
    assert kb.summary(C)["missing_fraction"] == pytest.approx(1 / 3)
    # schema 1 results carry no size: they take their dataset record's n_rows_used
    sizes = kb.results(C).groupby("dataset")["n_rows_used"].unique()
    assert [list(s) for s in sizes] == [[120], [500]]
    assert kb.rows_used(C).to_dict("index") == {
        "c1": {"base": 120, "largest": 120},
        "c2": {"base": 500, "largest": 500},
    }
    assert (kb.results(C)["repeat"] == 0).all()
    assert kb.fit_times(C).loc["c1", "rf"] == pytest.approx(1.0)
    mf = kb.metafeatures()
    assert mf.loc["c2", "general.n_rows"] == 900.0 and np.isnan(mf.loc["c2", "general.ratio"])
    assert kb.configs(C)["rf"] == {"algorithm": "random_forest"}


def test_schema_1_journal_without_kb_json():
    kb = KnowledgeBase.load(ASSETS / "journal_v1")
    assert kb.tasks == [C]
    perf = kb.performance(C, "accuracy")
    assert perf.loc["j1", "rf"] == pytest.approx(0.75)  # from two per-fold result lines
    assert math.isnan(perf.loc["j1", "knn"])  # its evaluation line has a memory fold
    assert kb.status_matrix(C).loc["j1"].to_dict() == {"knn": "memory", "rf": "ok"}
    assert list(kb.configs(C)) == ["knn", "rf"]  # not the truncated last line's "rf2"
    assert kb.results(C)["n_rows_used"].tolist() == [60] * 4
    assert np.isnan(kb.metafeatures().loc["j1", "general.ratio"])  # null in the journal
    assert kb.datasets(C).loc["j1", "cv_folds"] == 2


def test_schema_2_knowledge_base_with_a_journal_at_a_larger_size():
    kb = KnowledgeBase.load(ASSETS / "kb_v2")
    assert kb.performance(C, "accuracy").loc["c1"].tolist()[:2] == pytest.approx([0.7, 0.8])
    largest = kb.performance(C, "accuracy", fidelity="largest").loc["c1"]
    assert largest["rf"] == pytest.approx(0.88) and np.isnan(largest["knn"])
    assert sorted(kb.results(C, fidelity="all")["n_rows_used"].unique()) == [500, 2000]
    sizes = kb.rows_used(C)
    assert sizes.loc["c1"].tolist() == [500, 2000]
    assert (sizes.drop("c1")["base"] == sizes.drop("c1")["largest"]).all()  # one size only
    assert kb.results(C).query("config_id == 'rf'")["repeat"].tolist() == [0, 0, 1, 1]
    assert kb.complete_repeats(C).all()
    assert kb.status_matrix(R).loc["r2", "ridge"] == "error"  # a dataset the journal added
    assert kb.performance(R, "r2").loc["r1", "ridge"] == pytest.approx(0.45)


@pytest.mark.parametrize("name", ["kb_v1", "journal_v1", "kb_v2"])
def test_saved_again_in_the_current_schema_with_the_same_contents(name, tmp_path):
    shutil.copytree(ASSETS / name, tmp_path / name)
    kb = KnowledgeBase.load(tmp_path / name)
    kb.save(tmp_path / name)  # in place: folds the journal in
    again = KnowledgeBase.load(tmp_path / name)
    assert again.fingerprint() == kb.fingerprint()
    assert not list((tmp_path / name).glob("journal/*.jsonl"))
