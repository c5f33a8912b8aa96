"""Batch runner: resume after kill -9, dask equals local, OpenML tasks offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa import batch
from autometa._testing import write_toy_suite
from autometa.kb import KnowledgeBase

CONFIGS = 4  # the first configs of the portfolio are algorithm defaults: quick to fit


def _write_suite(folder: Path, n_datasets: int = 2) -> Path:
    """Small mixed-type classification and regression tables, written as CSV files."""
    return write_toy_suite(folder, n_datasets)


def _result_lines(kb_dir: Path) -> list[dict]:
    lines = []
    for path in sorted((kb_dir / "journal").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("kind") == "result":
                    lines.append(record)
                elif record.get("kind") == "evaluation":
                    cell = {k: v for k, v in record.items() if k not in ("kind", "folds")}
                    lines.extend({**cell, **fold} for fold in record["folds"])
    return lines


def _run(suite, kb_dir, **kwargs):
    kwargs.setdefault("configs", CONFIGS)
    kwargs.setdefault("cv", 2)
    kwargs.setdefault("time_limit", 60)
    return batch.run(suite, kb_dir, progress=False, **kwargs)


def test_batch_fills_kb_with_metafeatures_and_results(tmp_path):
    suite = _write_suite(tmp_path / "suite")
    summary = _run(f"dir:{suite}", tmp_path / "kb", n_jobs=1)
    assert summary.n_evaluations == 2 * CONFIGS
    assert not summary.dataset_errors
    kb = KnowledgeBase.load(tmp_path / "kb")
    for task in ("classification", "regression"):
        assert kb.summary(task)["n_datasets"] == 1
        assert kb.summary(task)["n_configs"] == CONFIGS
        assert kb.summary(task)["missing_fraction"] == 0.0
        assert kb.metafeatures(task).notna().any(axis=1).all()
        assert (kb.datasets(task)["cv_folds"] == 2).all()


def test_rerun_repeats_nothing(tmp_path):
    suite = _write_suite(tmp_path / "suite")
    _run(f"dir:{suite}", tmp_path / "kb", n_jobs=1)
    again = _run(f"dir:{suite}", tmp_path / "kb", n_jobs=1)
    assert again.n_evaluations == 0
    assert sum(again.skipped.values()) == 2 * CONFIGS
    assert len(_result_lines(tmp_path / "kb")) == 2 * CONFIGS * 2  # datasets x configs x folds


def test_resume_after_kill_loses_and_duplicates_nothing(tmp_path):
    suite = _write_suite(tmp_path / "suite", n_datasets=2)
    kb_dir = tmp_path / "kb"
    configs = 12
    script = textwrap.dedent(f"""
        from autometa import batch
        batch.run({f"dir:{suite}"!r}, {str(kb_dir)!r}, configs={configs}, cv=2, n_jobs=1,
                  time_limit=60, progress=False)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if len(_result_lines(kb_dir)) >= 6 if (kb_dir / "journal").exists() else False:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the batch finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)  # the runner and its workers, no clean-up
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    before = _result_lines(kb_dir)
    finished_before = {(r["dataset"], r["config_id"]) for r in before}
    assert 0 < len(finished_before) < 2 * configs

    summary = _run(f"dir:{suite}", kb_dir, configs=configs, n_jobs=1)
    assert summary.n_evaluations == 2 * configs - len(finished_before)
    after = _result_lines(kb_dir)
    keys = [(r["dataset"], r["config_id"], r["fold"]) for r in after]
    assert len(keys) == len(set(keys)), "an evaluation that finished was repeated"
    assert len(keys) == 2 * configs * 2
    kb = KnowledgeBase.load(kb_dir)
    assert all(kb.summary(t)["missing_fraction"] == 0.0 for t in ("classification", "regression"))


def test_dask_cluster_equals_local(tmp_path):
    distributed = pytest.importorskip("distributed")
    suite = _write_suite(tmp_path / "suite")
    _run(f"dir:{suite}", tmp_path / "local", n_jobs=1)
    import dask

    # Workers must be allowed to start the process each evaluation is isolated in.
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        summary = _run(f"dir:{suite}", tmp_path / "dask", scheduler=client)
    assert summary.n_evaluations == 2 * CONFIGS
    local, remote = KnowledgeBase.load(tmp_path / "local"), KnowledgeBase.load(tmp_path / "dask")
    for task, metric in (("classification", "balanced_accuracy"), ("regression", "r2")):
        pd.testing.assert_frame_equal(
            local.performance(task, metric), remote.performance(task, metric)
        )
        pd.testing.assert_frame_equal(local.metafeatures(task), remote.metafeatures(task))


def test_openml_tasks_offline(openml_cache, tmp_path):
    """Task 1882 runs on its own OpenML splits; task 1 (dataset not cached) is recorded
    as failed with the reason, and the run goes on."""
    summary = _run("openml-task:1,1882", tmp_path / "kb", configs=2, n_jobs=1)
    assert list(summary.dataset_errors) != []
    reason = " ".join(summary.dataset_errors.values())
    assert "unreachable" in reason.lower() and "1" in reason
    kb = KnowledgeBase.load(tmp_path / "kb")
    datasets = kb.datasets("classification")
    assert len(datasets) == 1
    record = datasets.iloc[0]
    assert record["openml_task_id"] == 1882
    from autometa import load_dataset

    own_splits = load_dataset("openml-task:1882").splits
    assert record["cv_folds"] == len(own_splits) != 2  # not the cv=2 asked for
    results = _result_lines(tmp_path / "kb")
    assert {r["fold"] for r in results} == set(range(len(own_splits)))
    assert kb.summary("classification")["n_configs"] == 2
    # The failure is in the journal too, so a later run can report it.
    journal = "".join(p.read_text() for p in (tmp_path / "kb" / "journal").glob("*.jsonl"))
    assert "openml-task:1" in journal
    # The task's splits are the same in every repeat: asking for more repeats adds nothing.
    again = _run("openml-task:1882", tmp_path / "kb", configs=2, n_jobs=1, repeats=3)
    assert again.n_evaluations == 0 and sum(again.skipped.values()) == 2


def test_daemonic_dask_workers_get_a_clear_error(tmp_path):
    distributed = pytest.importorskip("distributed")
    from autometa.errors import InvalidParameterError

    suite = _write_suite(tmp_path / "suite", n_datasets=1)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(InvalidParameterError, match="DAEMON=False"),
    ):
        _run(f"dir:{suite}", tmp_path / "kb", scheduler=client)
    assert not (tmp_path / "kb" / "journal").exists() or not _result_lines(tmp_path / "kb")


def test_recorded_folds_are_the_folds_evaluated(tmp_path):
    """A class rarer than cv lowers the number of stratified folds; the KB says so."""
    suite = tmp_path / "suite"
    suite.mkdir()
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=42), "b": rng.normal(size=42)})
    frame["target"] = ["common"] * 40 + ["rare"] * 2
    frame.to_csv(suite / "rare.csv", index=False)
    _run(f"dir:{suite}", tmp_path / "kb", configs=1, cv=3, n_jobs=1)
    kb = KnowledgeBase.load(tmp_path / "kb")
    assert kb.datasets("classification")["cv_folds"].tolist() == [2]
    assert {r["fold"] for r in _result_lines(tmp_path / "kb")} == {0, 1}


def test_repeats_extend_a_kb_with_new_folds_only(tmp_path):
    suite = _write_suite(tmp_path / "suite")
    kb_dir = tmp_path / "kb"
    _run(f"dir:{suite}", kb_dir, n_jobs=1)
    before = KnowledgeBase.load(kb_dir)
    first = before.results("classification").set_index(["dataset", "config_id", "fold"])

    summary = _run(f"dir:{suite}", kb_dir, n_jobs=1, repeats=2)
    assert summary.n_evaluations == 2 * CONFIGS  # only the second repeat ran
    assert sum(summary.skipped.values()) == 2 * CONFIGS
    kb = KnowledgeBase.load(kb_dir)
    results = kb.results("classification")
    assert sorted(results["fold"].unique()) == [0, 1, 2, 3]
    assert (results["repeat"] == results["fold"] // 2).all()
    assert kb.folds_per_repeat("classification").tolist() == [2]
    # repeat 0 is untouched; repeat 1 deals the rows differently, so its scores differ
    again = results.set_index(["dataset", "config_id", "fold"]).loc[first.index]
    pd.testing.assert_series_equal(again["balanced_accuracy"], first["balanced_accuracy"])
    second = results[results["fold"] >= 2].set_index(["config_id", "fold"])["balanced_accuracy"]
    assert not np.allclose(
        second.sort_index().to_numpy(),
        first.droplevel("dataset")["balanced_accuracy"].sort_index().to_numpy(),
    )
    # performance is the mean over both repeats' folds
    mean = results.groupby("config_id")["balanced_accuracy"].mean()
    perf = kb.performance("classification", "balanced_accuracy").iloc[0]
    pd.testing.assert_series_equal(perf.loc[mean.index], mean, check_names=False)

    assert _run(f"dir:{suite}", kb_dir, n_jobs=1, repeats=2).n_evaluations == 0


def test_repeats_from_scratch_equal_one_then_two(tmp_path):
    suite = _write_suite(tmp_path / "suite")
    _run(f"dir:{suite}", tmp_path / "direct", n_jobs=1, repeats=2)
    _run(f"dir:{suite}", tmp_path / "stepwise", n_jobs=1)
    _run(f"dir:{suite}", tmp_path / "stepwise", n_jobs=1, repeats=2)
    for task, metric in (("classification", "balanced_accuracy"), ("regression", "r2")):
        a = KnowledgeBase.load(tmp_path / "direct").fold_performance(task, metric)
        b = KnowledgeBase.load(tmp_path / "stepwise").fold_performance(task, metric)
        assert len(a) == 4
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_repeats_rejected_before_any_work(tmp_path, bad):
    from autometa.errors import InvalidParameterError

    suite = _write_suite(tmp_path / "suite")
    with pytest.raises(InvalidParameterError, match=r"repeats must be a positive integer"):
        _run(f"dir:{suite}", tmp_path / "kb", n_jobs=1, repeats=bad)
    assert not (tmp_path / "kb").exists()


def test_repeats_extend_a_kb_that_predates_cv_folds(tmp_path):
    """KBs written before ``cv_folds`` was recorded (the shipped one) hold one repeat."""
    suite = _write_suite(tmp_path / "suite")
    built = tmp_path / "built"
    _run(f"dir:{suite}", built, n_jobs=1)
    legacy = KnowledgeBase.load(built)
    legacy._datasets["cv_folds"] = pd.NA
    legacy._cache.clear()
    legacy.save(tmp_path / "legacy")
    assert KnowledgeBase.load(tmp_path / "legacy").datasets()["cv_folds"].isna().all()

    summary = _run(f"dir:{suite}", tmp_path / "legacy", n_jobs=1, repeats=2)
    assert summary.n_evaluations == 2 * CONFIGS
    kb = KnowledgeBase.load(tmp_path / "legacy")
    assert (kb.datasets()["cv_folds"] == 2).all()
    assert sorted(kb.results("regression")["fold"].unique()) == [0, 1, 2, 3]
    assert _run(f"dir:{suite}", tmp_path / "legacy", n_jobs=1, repeats=2).n_evaluations == 0


def test_a_larger_fidelity_extends_the_top_configs_only(tmp_path):
    suite = _write_suite(tmp_path / "suite", n_datasets=2)
    kb_dir = tmp_path / "kb"
    _run(f"dir:{suite}", kb_dir, configs=14, max_rows=40)
    summary = _run(f"dir:{suite}", kb_dir, configs=14, max_rows=None, top_configs=1)
    kb = KnowledgeBase.load(kb_dir)
    for task, metric, n_defaults in (
        ("classification", "balanced_accuracy", 12),
        ("regression", "r2", 10),
    ):
        sizes = kb.results(task, fidelity="all").groupby("n_rows_used")["config_id"].nunique()
        assert sizes.to_dict() == {
            40: 14,
            80: len(kb.performance(task, metric, fidelity="largest").dropna(axis=1).columns),
        }
        best = kb.performance(task, metric).iloc[0].idxmax()
        largest = kb.performance(task, metric, fidelity="largest").iloc[0]
        assert (
            largest.notna().sum() in (n_defaults, n_defaults + 1) and largest[best] == largest[best]
        )
        assert kb.performance(task, metric).notna().all().all()  # base: the whole portfolio
    assert summary.n_evaluations > 0
    again = _run(f"dir:{suite}", kb_dir, configs=14, max_rows=None, top_configs=1)
    assert again.n_evaluations == 0


def test_a_bad_suite_leaves_no_kb_folder(tmp_path):
    from autometa.errors import AutometaError

    with pytest.raises(AutometaError):
        _run(f"dir:{tmp_path / 'no-such-suite'}", tmp_path / "kb")
    assert not (tmp_path / "kb").exists()


def test_a_suite_whose_target_has_another_name(tmp_path):
    """``batch --target``: directory suites whose target column is not called 'target'."""
    from typer.testing import CliRunner

    from autometa.cli import app

    suite = tmp_path / "suite"
    suite.mkdir()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["label"] = np.where(frame["a"] > 0, "yes", "no")
    frame.to_csv(suite / "table.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "batch",
            "--suite",
            f"dir:{suite}",
            "--kb",
            str(tmp_path / "kb"),
            "--configs",
            "2",
            "--cv",
            "2",
            "--target",
            "label",
        ],
    )
    assert result.exit_code == 0, result.output
    kb = KnowledgeBase.load(tmp_path / "kb")
    assert kb.summary("classification")["n_datasets"] == 1
    assert len(kb.results("classification")) == 2 * 2


def test_retry_evaluates_recorded_failures_again(tmp_path):
    """``retry``: cells that failed with the given status run again and their new result
    replaces the failure; without it, a recorded failure counts as done."""
    suite = f"dir:{_write_suite(tmp_path / 'suite')}"
    kb_dir = tmp_path / "kb"
    _run(suite, kb_dir, n_jobs=1)
    KnowledgeBase.load(kb_dir).compact()  # the journal folded into the tables
    kb = KnowledgeBase.load(kb_dir)
    r = kb._results
    cell = (r["dataset"] == r["dataset"].iloc[0]) & (r["config_id"] == r["config_id"].iloc[0])
    task = r.loc[cell, "task"].iloc[0]
    r.loc[cell, "status"] = "error"  # as a since-fixed bug left it
    kb._cache.clear()
    kb.save(kb_dir)
    assert KnowledgeBase.load(kb_dir).summary(task)["status_counts"]["error"] == 2

    assert _run(suite, kb_dir, n_jobs=1).n_evaluations == 0
    assert _run(suite, kb_dir, n_jobs=1, retry=["timeout"]).n_evaluations == 0
    assert _run(suite, kb_dir, n_jobs=1, retry=["error"]).n_evaluations == 1
    kb = KnowledgeBase.load(kb_dir)
    assert (kb.results(task)["status"] == "ok").all()
    assert len(kb.results(task)) == len(r[r["task"] == task])  # replaced, not added


def test_retry_names_statuses_that_can_fail(tmp_path):
    from autometa.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="retry must name statuses"):
        _run(f"dir:{_write_suite(tmp_path / 'suite')}", tmp_path / "kb", retry=["ok"])
    assert not (tmp_path / "kb").exists()


def test_include_balanced_appends_the_class_weighted_defaults(tmp_path):
    from autometa import space

    suite = _write_suite(tmp_path / "suite", n_datasets=1)
    _run(f"dir:{suite}", tmp_path / "kb", configs=2, n_jobs=1)
    extended = _run(f"dir:{suite}", tmp_path / "kb", configs=2, n_jobs=1, include_balanced=True)
    balanced = {space.config_id(c) for c in space.balanced_defaults("classification")}
    assert extended.n_evaluations == len(balanced)  # the portfolio's 2 per task stay done
    kb = KnowledgeBase.load(tmp_path / "kb")
    assert balanced <= set(kb.configs("classification"))
    assert len(kb.configs("regression")) == 2
    assert (
        kb.performance("classification", "balanced_accuracy")[sorted(balanced)].notna().all().all()
    )


def test_include_library_appends_scikit_learns_regression_defaults(tmp_path):
    """``include_library``: the library defaults run after the portfolio, count among the
    defaults a larger fidelity always evaluates, and leave classification alone."""
    from autometa import space

    suite = _write_suite(tmp_path / "suite", n_datasets=2)
    kb_dir = tmp_path / "kb"
    _run(f"dir:{suite}", kb_dir, configs=2, n_jobs=1, max_rows=40)
    extended = _run(f"dir:{suite}", kb_dir, configs=2, n_jobs=1, max_rows=40, include_library=True)
    library = {space.config_id(c) for c in space.library_defaults("regression")}
    assert extended.n_evaluations == len(library)
    kb = KnowledgeBase.load(kb_dir)
    assert library <= set(kb.configs("regression"))
    assert len(kb.configs("classification")) == 2  # a toy suite of one table per task
    larger = _run(
        f"dir:{suite}",
        kb_dir,
        configs=2,
        n_jobs=1,
        max_rows=None,
        top_configs=1,
        include_library=True,
    )
    assert larger.n_evaluations > 0
    largest = KnowledgeBase.load(kb_dir).performance("regression", "r2", fidelity="largest")
    assert largest[sorted(library)].notna().all().all()
