"""The knowledge base: on-disk layout, journal folding, errors, from_frames, merge, summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa.errors import KnowledgeBaseError, TaskMismatchError
from autometa.kb import SCHEMA_VERSION, KnowledgeBase

TASK = "classification"


def _frames_kb() -> KnowledgeBase:
    mf = pd.DataFrame(
        {"rows": [100.0, 2000.0, 50.0], "ratio": [0.1, np.nan, 3.0]}, index=["a", "b", "c"]
    )
    perf = pd.DataFrame({"rf": [0.9, 0.8, np.nan], "knn": [0.7, 0.85, 0.6]}, index=["a", "b", "c"])
    return KnowledgeBase.from_frames(mf, perf, task=TASK, metric="balanced_accuracy")


def _result(dataset, config_id, fold, status="ok", score=0.5, task=TASK):
    return {
        "kind": "result",
        "dataset": dataset,
        "config_id": config_id,
        "task": task,
        "fold": fold,
        "status": status,
        "error": "" if status == "ok" else "boom",
        "fit_time": 1.0 + fold,
        "predict_time": 0.1,
        "accuracy": score,
        "balanced_accuracy": score if status == "ok" else None,
    }


def _write_journal(root: Path, records: list[dict], name="w0.jsonl", tail: str = "") -> Path:
    (root / "journal").mkdir(parents=True, exist_ok=True)
    f = root / "journal" / name
    f.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return f


def _journal_records():
    ds = lambda name: {
        "kind": "dataset",
        "dataset": name,
        "task": TASK,
        "source": f"pmlb:{name}",
        "n_rows": 100,
        "n_features": 4,
        "n_classes": 2,
        "openml_dataset_id": None,
        "openml_task_id": None,
        "n_rows_used": 100,
        "cv_folds": 2,
        "group": "g",
    }
    cfg = lambda cid: {
        "kind": "config",
        "task": TASK,
        "config_id": cid,
        "config": {"algorithm": cid},
    }
    return [
        ds("d1"),
        ds("d2"),
        cfg("c1"),
        cfg("c2"),
        {"kind": "metafeatures", "dataset": "d1", "values": {"m1": 1.0, "m2": None}},
        {"kind": "metafeatures", "dataset": "d2", "values": {"m1": 2.0, "m2": 5.0}},
        _result("d1", "c1", 0, score=0.6),
        _result("d1", "c1", 1, score=0.8),
        _result("d1", "c2", 0, score=0.9),
        _result("d1", "c2", 1, status="timeout"),
        _result("d2", "c1", 0, score=0.4),
        _result("d2", "c1", 1, score=0.4),
    ]


# ------------------------------------------------------------------ round trip


def test_round_trip_preserves_contents_and_fingerprint(tmp_path):
    kb = _frames_kb()
    kb.add_results(
        "d",
        {"algorithm": "rf"},
        [{"fold": 0, "balanced_accuracy": 0.5}, {"fold": 1, "status": "timeout", "error": "60 s"}],
        task=TASK,
        metafeatures={"rows": 3.0},
        config_id="rf",
    )
    kb.save(tmp_path / "kb")
    assert sorted(p.name for p in (tmp_path / "kb").iterdir() if p.name != ".lock") == [
        "configs.json",
        "datasets.parquet",
        "kb.json",
        "metafeatures.parquet",
        "results.parquet",
    ]
    assert json.loads((tmp_path / "kb" / "kb.json").read_text())["schema_version"] == SCHEMA_VERSION
    back = KnowledgeBase.load(tmp_path / "kb")
    assert back.fingerprint() == kb.fingerprint()
    pd.testing.assert_frame_equal(
        back.performance(TASK, "balanced_accuracy"), kb.performance(TASK, "balanced_accuracy")
    )
    pd.testing.assert_frame_equal(back.metafeatures(TASK), kb.metafeatures(TASK))
    assert back.configs(TASK) == kb.configs(TASK)
    assert back.greater_is_better("balanced_accuracy")
    # no pickle anywhere: parquet magic bytes and plain JSON
    assert (tmp_path / "kb" / "results.parquet").read_bytes()[:4] == b"PAR1"


def test_folds_without_recorded_cv_folds_are_one_repeat():
    kb = _frames_kb()
    kb.add_results(
        "new",
        {"algorithm": "rf"},
        [{"fold": f, "balanced_accuracy": 0.5} for f in range(4)],
        config_id="rf",
        task=TASK,
        metafeatures={"rows": 3.0},
    )
    assert kb.folds_per_repeat(TASK)["new"] == 4
    results = kb.results(TASK)
    assert set(results.loc[results["dataset"] == "new", "repeat"]) == {0}
    assert (results["repeat"] == 0).all()


def test_fingerprint_changes_with_contents():
    kb = _frames_kb()
    before = kb.fingerprint()
    assert _frames_kb().fingerprint() == before  # deterministic
    kb.add_results("a", {"algorithm": "rf"}, {"balanced_accuracy": 0.1}, config_id="rf")
    assert kb.fingerprint() != before


def test_task_fingerprint_ignores_the_other_tasks_contents():
    kb = _frames_kb()
    kb.add_results("r1", {"algorithm": "ridge"}, {"r2": 0.4}, task="regression", config_id="ridge")
    whole, classification = kb.fingerprint(), kb.fingerprint(task=TASK)
    regression = kb.fingerprint(task="regression")
    assert len({whole, classification, regression}) == 3
    kb.add_results("r2", {"algorithm": "ridge"}, {"r2": 0.7}, config_id="ridge", task="regression")
    assert kb.fingerprint(task=TASK) == classification  # another task's results: same
    assert kb.fingerprint(task="regression") != regression
    assert kb.fingerprint() != whole
    kb.add_results("a", {"algorithm": "rf"}, {"balanced_accuracy": 0.1}, config_id="rf")
    assert kb.fingerprint(task=TASK) != classification
    with pytest.raises(ValueError, match="task"):
        kb.fingerprint(task="clustering")


def test_env_var_and_missing_default(tmp_path, monkeypatch):
    _frames_kb().save(tmp_path / "mine")
    monkeypatch.setenv("AUTOMETA_KB", str(tmp_path / "mine"))
    assert KnowledgeBase.load().summary(TASK)["n_datasets"] == 3
    monkeypatch.setenv("AUTOMETA_KB", str(tmp_path / "nowhere"))
    with pytest.raises(KnowledgeBaseError, match="nowhere"):
        KnowledgeBase.load()


def test_default_path_is_repo_data_kb(monkeypatch):
    import autometa
    from autometa.kb import default_kb_path

    monkeypatch.delenv("AUTOMETA_KB", raising=False)
    assert default_kb_path() == Path(autometa.__file__).resolve().parent.parent / "data" / "kb"


# ------------------------------------------------------------------ journal


def test_journal_folding_and_truncated_last_line(tmp_path):
    root = tmp_path / "kb"
    _write_journal(root, _journal_records(), tail='{"kind": "result", "dataset": "d2", "con')
    kb = KnowledgeBase.load(root)  # no kb.json yet: a batch that has just started
    perf = kb.performance(TASK, "balanced_accuracy")
    assert perf.loc["d1", "c1"] == pytest.approx(0.7)
    assert np.isnan(perf.loc["d1", "c2"])  # one fold timed out -> no score
    assert np.isnan(perf.loc["d2", "c2"])  # never run
    assert kb.fit_times(TASK).loc["d1", "c1"] == pytest.approx(1.5)
    assert kb.metafeatures(TASK).loc["d1"].isna().tolist() == [False, True]
    fails = kb.failures(TASK)
    assert fails[["dataset", "config_id", "fold", "status"]].values.tolist() == [
        ["d1", "c2", 1, "timeout"]
    ]
    assert kb.summary(TASK)["missing_fraction"] == pytest.approx(2 / 4)


def test_not_applicable_cells_are_not_failures(tmp_path):
    """A configuration that does not apply to a dataset (not run) is counted under its own
    status, never listed among the failures."""
    root = tmp_path / "kb"
    records = _journal_records() + [
        _result("d2", "c2", 0, status="not_applicable"),
        _result("d2", "c2", 1, status="not_applicable"),
    ]
    _write_journal(root, records)
    kb = KnowledgeBase.load(root)
    fails = kb.failures(TASK)
    assert fails[["dataset", "config_id", "fold", "status"]].values.tolist() == [
        ["d1", "c2", 1, "timeout"]
    ]
    assert list(fails.columns) == [
        "dataset",
        "config_id",
        "algorithm",
        "fold",
        "status",
        "error",
        "fit_time",
    ]
    summary = kb.summary(TASK)
    assert summary["status_counts"] == {"ok": 5, "not_applicable": 2, "timeout": 1}
    assert kb.status_matrix(TASK).loc["d2", "c2"] == "not_applicable"
    assert np.isnan(kb.performance(TASK, "balanced_accuracy").loc["d2", "c2"])
    # only not-applicable cells: no failures at all, still the same columns
    only = _journal_records()[:6] + [_result("d1", "c1", f, "not_applicable") for f in (0, 1)]
    _write_journal(tmp_path / "only", only)
    fails = KnowledgeBase.load(tmp_path / "only").failures(TASK)
    assert fails.empty and "algorithm" in fails.columns


def test_journal_later_records_win_over_parquet_and_earlier_lines(tmp_path):
    root = tmp_path / "kb"
    _frames_kb().save(root)
    _write_journal(
        root,
        [
            _result("a", "rf", 0, score=0.1),
            {"kind": "metafeatures", "dataset": "a", "values": {"rows": 7.0}},
        ],
        name="w0.jsonl",
    )
    _write_journal(root, [_result("a", "rf", 0, score=0.2)], name="w1.jsonl")
    kb = KnowledgeBase.load(root)
    assert kb.performance(TASK, "balanced_accuracy").loc["a", "rf"] == pytest.approx(0.2)
    assert kb.metafeatures(TASK).loc["a", "rows"] == 7.0
    assert np.isnan(kb.metafeatures(TASK).loc["a", "ratio"])  # the record replaces the row

    kb.save(root)  # compaction: folded into parquet, journal cleared
    assert list((root / "journal").glob("*.jsonl")) == []
    again = KnowledgeBase.load(root)
    assert again.fingerprint() == kb.fingerprint()


def test_corrupt_middle_journal_line_is_an_error(tmp_path):
    root = tmp_path / "kb"
    f = _write_journal(root, _journal_records())
    lines = f.read_text().splitlines()
    lines[3] = lines[3][:10]
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(KnowledgeBaseError, match=r"w0\.jsonl: line 4"):
        KnowledgeBase.load(root)


# ------------------------------------------------------------------ errors


def test_newer_schema_is_refused(tmp_path):
    root = tmp_path / "kb"
    _frames_kb().save(root)
    (root / "kb.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(KnowledgeBaseError, match=r"kb\.json.*newer"):
        KnowledgeBase.load(root)


@pytest.mark.parametrize("name", ["results.parquet", "datasets.parquet", "metafeatures.parquet"])
def test_unreadable_parquet_names_the_file(tmp_path, name):
    root = tmp_path / "kb"
    _frames_kb().save(root)
    (root / name).write_bytes(b"not a parquet file")
    with pytest.raises(KnowledgeBaseError, match=name.replace(".", r"\.")):
        KnowledgeBase.load(root)


def _forget_checksums(root):
    """A knowledge base written before kb.json recorded checksums (or edited by hand)."""
    info = json.loads((root / "kb.json").read_text())
    info.pop("checksums")
    (root / "kb.json").write_text(json.dumps(info))


def test_missing_columns_and_bad_json_name_the_file(tmp_path):
    root = tmp_path / "kb"
    _frames_kb().save(root)
    _forget_checksums(root)
    pd.read_parquet(root / "results.parquet").drop(columns=["status"]).to_parquet(
        root / "results.parquet"
    )
    with pytest.raises(KnowledgeBaseError, match=r"results\.parquet.*'status'"):
        KnowledgeBase.load(root)
    _frames_kb().save(root)
    _forget_checksums(root)
    (root / "configs.json").write_text("{not json")
    with pytest.raises(KnowledgeBaseError, match=r"configs\.json"):
        KnowledgeBase.load(root)
    (root / "configs.json").write_text("{}")
    (root / "kb.json").write_text("[1, 2")
    with pytest.raises(KnowledgeBaseError, match=r"kb\.json"):
        KnowledgeBase.load(root)


def test_not_a_kb_directory(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="not a knowledge base"):
        KnowledgeBase.load(tmp_path)


# ------------------------------------------------------------------ from_frames, merge, summary


def test_from_frames_opaque_configs_and_any_columns():
    kb = _frames_kb()
    assert kb.configs(TASK) == {"knn": {"algorithm": "knn"}, "rf": {"algorithm": "rf"}}
    assert list(kb.metafeatures(TASK).columns) == ["rows", "ratio"]
    assert kb.performance(TASK, "balanced_accuracy").loc["a", "rf"] == 0.9
    s = kb.summary(TASK)
    assert (s["n_datasets"], s["n_configs"]) == (3, 2)
    assert s["missing_fraction"] == pytest.approx(1 / 6)
    assert kb.summary("regression")["n_datasets"] == 0


def test_from_frames_custom_metric_and_validation():
    mf = pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"])
    perf = pd.DataFrame({"A": [3.0, 1.0]}, index=["a", "b"])
    kb = KnowledgeBase.from_frames(
        mf, perf, task="regression", metric="cost", greater_is_better=False
    )
    assert kb.greater_is_better("cost") is False
    assert kb.performance("regression", "cost").loc["b", "A"] == 1.0
    with pytest.raises(TaskMismatchError, match="accuracy"):
        KnowledgeBase.from_frames(mf, perf, task="regression", metric="accuracy")
    with pytest.raises(KnowledgeBaseError, match="'x'"):
        KnowledgeBase.from_frames(mf.assign(x=["p", "q"]), perf, task="regression", metric="r2")
    with pytest.raises(KnowledgeBaseError, match="'zz'"):
        KnowledgeBase.from_frames(
            mf, perf.rename(index={"b": "zz"}), task="regression", metric="r2"
        )


def test_merge_other_wins_and_tasks_must_agree():
    a = _frames_kb()
    mf = pd.DataFrame({"rows": [1.0, 9.0]}, index=["a", "z"])
    perf = pd.DataFrame({"rf": [0.1, 0.2], "svm": [0.3, 0.4]}, index=["a", "z"])
    b = KnowledgeBase.from_frames(mf, perf, task=TASK, metric="balanced_accuracy")
    m = a.merge(b)
    p = m.performance(TASK, "balanced_accuracy")
    assert sorted(p.index) == ["a", "b", "c", "z"]
    assert sorted(p.columns) == ["knn", "rf", "svm"]
    assert p.loc["a", "rf"] == 0.1 and p.loc["a", "knn"] == 0.7 and p.loc["b", "rf"] == 0.8
    assert m.metafeatures(TASK).loc["a", "rows"] == 1.0
    assert a.performance(TASK, "balanced_accuracy").loc["a", "rf"] == 0.9  # a is unchanged
    reg = KnowledgeBase.from_frames(mf, perf, task="regression", metric="r2")
    with pytest.raises(TaskMismatchError, match="'a'"):
        a.merge(reg)


def test_add_results_checks_task():
    kb = _frames_kb()
    with pytest.raises(TaskMismatchError, match="'a'"):
        kb.add_results("a", {"algorithm": "rf"}, {"r2": 0.1}, task="regression")
    with pytest.raises(KnowledgeBaseError, match="task="):
        kb.add_results("new", {"algorithm": "rf"}, {"accuracy": 0.1})


def test_without_leaves_the_datasets_out_of_every_table(tmp_path):
    kb = _frames_kb()
    kb.add_results("d", {"algorithm": "only_d"}, [{"fold": 0, "balanced_accuracy": 0.4}], task=TASK)
    kb.save(tmp_path / "kb")
    kb = KnowledgeBase.load(tmp_path / "kb")
    before = kb.fingerprint()
    kept = kb.without(["a", "d"])
    assert kept is not kb and kept.path is None
    assert list(kept.datasets().index) == ["b", "c"]
    assert list(kept.metafeatures().index) == ["b", "c"]
    assert set(kept.results(TASK, fidelity="all")["dataset"]) == {"b", "c"}
    p = kept.performance(TASK, "balanced_accuracy")
    assert sorted(p.index) == ["b", "c"] and p.loc["b", "rf"] == 0.8
    # the portfolio stays, also a configuration only a left-out dataset evaluated
    assert kept.configs(TASK) == kb.configs(TASK)
    assert "checksums" in kb.info and "checksums" not in kept.info
    assert kept.info["notes"] == kb.info["notes"]
    assert kb.fingerprint() == before and len(kb) == 4  # unchanged
    # one name as a string; nothing left out is an equal copy
    assert list(kb.without("b").datasets().index) == ["a", "c", "d"]
    assert kb.without([]).fingerprint() == before
    # the same contents as a knowledge base built without those datasets
    mf = pd.DataFrame({"rows": [2000.0, 50.0], "ratio": [np.nan, 3.0]}, index=["b", "c"])
    perf = pd.DataFrame({"rf": [0.8, np.nan], "knn": [0.85, 0.6]}, index=["b", "c"])
    built = KnowledgeBase.from_frames(mf, perf, task=TASK, metric="balanced_accuracy")
    assert _frames_kb().without("a").fingerprint() == built.fingerprint()


def test_without_results_drops_a_configurations_results_and_keeps_it(tmp_path):
    kb = _frames_kb()
    kb.save(tmp_path / "kb")
    kb = KnowledgeBase.load(tmp_path / "kb")
    before = kb.fingerprint()
    ids = {c: cfg["algorithm"] for c, cfg in kb.configs(TASK).items()}
    rf = next(c for c, name in ids.items() if name == "rf")
    kept = kb.without_results(rf)
    assert kept.path is None and kept.configs(TASK) == kb.configs(TASK)
    assert rf not in set(kept.results(TASK, fidelity="all")["config_id"])
    p = kept.performance(TASK, "balanced_accuracy")
    knn = next(c for c, name in ids.items() if name == "knn")
    assert p[rf].isna().all() and p[knn].notna().any()
    assert p.loc["a", knn] == kb.performance(TASK, "balanced_accuracy").loc["a", knn]
    assert list(kept.datasets().index) == list(kb.datasets().index)
    assert kb.fingerprint() == before  # unchanged
    assert kb.without_results([]).fingerprint() == before
    with pytest.raises(KnowledgeBaseError, match=r"\['nope'\]"):
        kb.without_results([rf, "nope"])


def test_without_results_of_some_datasets_keeps_the_others():
    kb = _frames_kb()
    ids = {cfg["algorithm"]: c for c, cfg in kb.configs(TASK).items()}
    before = kb.performance(TASK, "balanced_accuracy")
    p = kb.without_results(ids["rf"], datasets=["a"]).performance(TASK, "balanced_accuracy")
    assert np.isnan(p.loc["a", ids["rf"]]) and p.loc["a", ids["knn"]] == before.loc["a", ids["knn"]]
    others = before.index != "a"
    pd.testing.assert_frame_equal(p[others], before[others])
    assert kb.without_results(ids["rf"], datasets="a").fingerprint() == (
        kb.without_results(ids["rf"], datasets=["a"]).fingerprint()
    )
    with pytest.raises(KnowledgeBaseError, match=r"datasets \['nope'\]"):
        kb.without_results(ids["rf"], datasets=["a", "nope"])


def test_without_refuses_unknown_datasets():
    kb = _frames_kb()
    with pytest.raises(KnowledgeBaseError, match=r"\['nope'\]"):
        kb.without(["a", "nope"])
    assert len(kb) == 3
