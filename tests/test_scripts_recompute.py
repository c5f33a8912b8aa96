"""``scripts/recompute_metafeatures.py``: new meta-feature groups for an existing KB."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

import metafeatures
from autometa import load_dataset
from autometa.kb import KnowledgeBase


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("recompute_metafeatures")


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    kb = KnowledgeBase()
    for name, (X, y) in {
        "iris": load_iris(return_X_y=True, as_frame=True),
        "diabetes": load_diabetes(return_X_y=True, as_frame=True),
    }.items():
        path = tmp_path / f"{name}.csv"
        pd.concat([X, y.rename("target")], axis=1).to_csv(path, index=False)
        data = load_dataset(path, target="target")
        old = {"general.n_instances": float(len(y)), "landmarking.best_node.mean": -1.0}
        kb.add_results(
            data,
            {"algorithm": "dummy"},
            [{"fold": 0, "status": "ok", "r2": 0.5, "balanced_accuracy": 0.5}],
            metafeatures=old,
            info={"source": str(path)},
        )
    return kb.save(tmp_path / "kb")


def run(script, monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["recompute_metafeatures.py", *map(str, args)])
    script.main()


def test_the_groups_are_replaced_and_the_rest_kept(script, kb_dir, tmp_path, monkeypatch):
    before = KnowledgeBase.load(kb_dir)
    journal = tmp_path / "mf.jsonl"
    run(script, monkeypatch, kb_dir, "--groups", "landmarking", "--journal", journal)
    after = KnowledgeBase.load(kb_dir)
    mf = after.metafeatures()
    iris = load_iris(as_frame=True)
    expected = metafeatures.extract(iris.data, iris.target, groups=["landmarking"])
    assert mf.loc["iris", "landmarking.shallow_tree.mean"] == pytest.approx(
        expected["landmarking.shallow_tree.mean"]
    )
    assert mf.loc["iris", "landmarking.best_node.mean"] != -1.0  # stale values replaced
    assert mf.loc["diabetes", "general.n_instances"] == 442.0  # other groups kept
    assert np.isnan(mf.loc["diabetes", "landmarking.linear_discr.mean"])
    pd.testing.assert_frame_equal(
        after.results("regression", fidelity="all"), before.results("regression", fidelity="all")
    )
    assert after.info["notes"] == before.info["notes"]
    assert len(journal.read_text().splitlines()) == 2


def test_a_second_run_resumes_from_the_journal(script, kb_dir, tmp_path, monkeypatch):
    journal = tmp_path / "mf.jsonl"
    run(script, monkeypatch, kb_dir, "--groups", "landmarking", "--journal", journal)
    with journal.open("a") as f:
        f.write('{"dataset": "iris", "val')  # a line cut by a kill is ignored
    monkeypatch.setattr(script, "describe", lambda *a: pytest.fail("recomputed"))
    run(script, monkeypatch, kb_dir, "--groups", "landmarking", "--journal", journal)
    lines = journal.read_text().splitlines()
    assert {json.loads(line)["dataset"] for line in lines[:2]} == {"iris", "diabetes"}
    assert journal.read_text().endswith("\n")  # the next record starts on a line of its own


def test_a_damaged_line_before_the_last_is_an_error_naming_it(
    script, kb_dir, tmp_path, monkeypatch
):
    from autometa.errors import KnowledgeBaseError

    journal = tmp_path / "mf.jsonl"
    journal.write_text('{"dataset": "iris", "val\n{"dataset": "diabetes", "values": {}}\n')
    with pytest.raises(KnowledgeBaseError, match=r"mf.jsonl: line 1 is not valid JSON"):
        run(script, monkeypatch, kb_dir, "--groups", "landmarking", "--journal", journal)
    assert KnowledgeBase.load(kb_dir).metafeatures().shape[1] == 2  # the KB untouched
