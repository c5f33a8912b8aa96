"""No silent loss in a knowledge-base directory: one writer at a time, merge on save,
complete cells only, a full disk, corrupted files."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap
import time

import pytest
from test_batch import _result_lines, _run, _write_suite

from autometa import batch
from autometa.errors import KnowledgeBaseError, KnowledgeBaseLockedError
from autometa.kb import KnowledgeBase

TASK = "classification"


def _fold(score):
    return [{"fold": 0, "balanced_accuracy": score}, {"fold": 1, "balanced_accuracy": score}]


def _kb_with(tmp_path, name="base"):
    root = tmp_path / "kb"
    kb = KnowledgeBase.from_frames(
        __import__("pandas").DataFrame({"rows": [1.0, 2.0]}, index=["a", "b"]),
        __import__("pandas").DataFrame({"rf": [0.9, 0.8]}, index=["a", "b"]),
        task=TASK,
        metric="balanced_accuracy",
    )
    kb.save(root)
    return root


def test_two_writers_that_load_add_and_save_keep_both(tmp_path):
    """The learn_from path: load, add_results, save -- twice, interleaved."""
    root = _kb_with(tmp_path)
    first, second = KnowledgeBase.load(root), KnowledgeBase.load(root)
    first.add_results("new1", {"algorithm": "x"}, _fold(0.7), task=TASK, config_id="x")
    second.add_results("new2", {"algorithm": "y"}, _fold(0.6), task=TASK, config_id="y")
    first.save(root)
    second.save(root)
    back = KnowledgeBase.load(root)
    datasets = set(back.datasets(TASK)["dataset"])
    assert {"a", "b", "new1", "new2"} <= datasets
    assert {"rf", "x", "y"} <= set(back.configs(TASK))
    assert len(back.results(TASK)) == 2 + 2 + 2  # nothing lost, nothing doubled


def _start_batch(suite, kb_dir, configs=12):
    script = textwrap.dedent(f"""
        from autometa import batch
        batch.run({f"dir:{suite}"!r}, {str(kb_dir)!r}, configs={configs}, cv=2, n_jobs=1,
                  time_limit=60, progress=False)
    """)
    return subprocess.Popen([sys.executable, "-c", script])


def _wait_for_journal(kb_dir, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if (kb_dir / "journal").is_dir() and any((kb_dir / "journal").glob("*.jsonl")):
            return
        time.sleep(0.05)
    raise AssertionError("the batch wrote no journal")


def test_compact_and_a_second_batch_are_refused_while_a_batch_runs(tmp_path):
    suite = _write_suite(tmp_path / "suite", n_datasets=2)
    kb_dir = tmp_path / "kb"
    process = _start_batch(suite, kb_dir)
    try:
        _wait_for_journal(kb_dir, process)
        with pytest.raises(KnowledgeBaseLockedError, match="batch"):
            KnowledgeBase.load(kb_dir).save(kb_dir, lock_timeout=0.2)
        with pytest.raises(KnowledgeBaseLockedError, match="another process"):
            _run(f"dir:{suite}", kb_dir, configs=12)
        assert process.wait(timeout=300) == 0
    finally:
        if process.poll() is None:
            process.kill()
    keys = [(r["dataset"], r["config_id"], r["fold"]) for r in _result_lines(kb_dir)]
    assert len(keys) == len(set(keys)) == 2 * 12 * 2
    kb = KnowledgeBase.load(kb_dir)
    kb.compact()  # free now; folds the journal without losing anything
    again = KnowledgeBase.load(kb_dir)
    assert sum(len(again.results(t)) for t in again.tasks) == 2 * 12 * 2


def test_a_partial_cell_is_finished_on_resume(tmp_path):
    """Older journals wrote one line per fold: a kill could leave a cell with some folds."""
    suite = _write_suite(tmp_path / "suite", n_datasets=1)
    kb_dir = tmp_path / "kb"
    _run(f"dir:{suite}", kb_dir)
    [journal] = sorted((kb_dir / "journal").glob("*.jsonl"))
    lines = journal.read_text().splitlines()
    cells = [i for i, line in enumerate(lines) if json.loads(line)["kind"] == "evaluation"]
    victim = json.loads(lines[cells[0]])
    lines[cells[0]] = json.dumps(
        {
            "kind": "result",
            "dataset": victim["dataset"],
            "config_id": victim["config_id"],
            "task": victim["task"],
            **victim["folds"][0],
        }
    )  # fold 1 never written
    journal.write_text("\n".join(lines) + "\n")
    kb = KnowledgeBase.load(kb_dir)
    assert kb.summary(kb.tasks[0])["missing_fraction"] > 0

    summary = _run(f"dir:{suite}", kb_dir)
    assert summary.n_evaluations == 1
    kb = KnowledgeBase.load(kb_dir)
    results = kb.results(kb.tasks[0])
    assert kb.summary(kb.tasks[0])["missing_fraction"] == 0.0
    assert not results.duplicated(["dataset", "config_id", "fold"]).any()


def test_a_full_disk_stops_with_one_clear_error_and_resume_completes(tmp_path, monkeypatch):
    suite = _write_suite(tmp_path / "suite", n_datasets=2)
    kb_dir = tmp_path / "kb"
    real_fsync = batch.os.fsync
    calls = {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > 8:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(batch.os, "fsync", fsync)
    with pytest.raises(KnowledgeBaseError, match="No space left on device.*resume"):
        _run(f"dir:{suite}", kb_dir, configs=6)
    monkeypatch.setattr(batch.os, "fsync", real_fsync)
    _run(f"dir:{suite}", kb_dir, configs=6)
    keys = [(r["dataset"], r["config_id"], r["fold"]) for r in _result_lines(kb_dir)]
    # a record half-written when the disk filled may be repeated; its copy is identical
    kb = KnowledgeBase.load(kb_dir)
    for task in kb.tasks:
        assert kb.summary(task)["missing_fraction"] == 0.0
        assert not kb.results(task).duplicated(["dataset", "config_id", "fold"]).any()
    assert len(set(keys)) == 2 * 6 * 2


def test_a_corrupted_data_file_is_refused_by_name(tmp_path):
    root = _kb_with(tmp_path)
    path = root / "results.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 300] = bytes(300)[: len(data) - middle]
    path.write_bytes(bytes(data[: len(path.read_bytes())]))
    with pytest.raises(KnowledgeBaseError, match=r"results\.parquet is corrupted"):
        KnowledgeBase.load(root)
