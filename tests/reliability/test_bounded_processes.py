"""Nothing outlives its parent and every step is bounded: the processes a fit starts die
on the evaluation's timeout, the batch runner's workers die with a killed batch, and the
batch's describe step runs under the evaluation limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from test_batch import _write_suite

import autometa
from autometa import _batch_workers
from autometa.evaluate import call_with_limits, evaluate

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


class SpawningClassifier(ClassifierMixin, BaseEstimator):
    """A fit that starts a long-running process of its own, then hangs."""

    def __init__(self, pid_file: str = ""):
        self.pid_file = pid_file

    def fit(self, X, y):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        Path(self.pid_file).write_text(str(child.pid))
        time.sleep(120)
        return self


def test_a_timeout_stops_the_processes_the_fit_started(tmp_path):
    frame = pd.DataFrame({"a": np.arange(40.0), "target": [0, 1] * 20})
    data = autometa.load_dataset(frame, target="target")
    pid_file = tmp_path / "pid"
    result = evaluate(None, data, cv=2, time_limit=3, estimator=SpawningClassifier(str(pid_file)))
    assert result.status == "timeout"
    pid = int(pid_file.read_text())
    assert not _wait_gone([pid], 5), "a process started by the fit outlived the timeout"


def _sleep_forever():
    time.sleep(120)


def _allocate(n_bytes):
    return bytearray(n_bytes)


def test_call_with_limits_returns_raises_and_stops():
    assert call_with_limits(sorted, [3, 1, 2], time_limit=30, memory_limit_mb=None) == [1, 2, 3]
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="time limit of 1 s"):
        call_with_limits(_sleep_forever, time_limit=1, memory_limit_mb=None)
    assert time.monotonic() - start < 10
    with pytest.raises(MemoryError):
        call_with_limits(_allocate, 2 * 2**30, time_limit=30, memory_limit_mb=256)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call_with_limits(divmod, 1, 0, time_limit=30, memory_limit_mb=None)


def test_describe_runs_under_the_evaluation_limits(tmp_path, monkeypatch):
    """A meta-feature extraction that hangs is stopped at the time limit and recorded as a
    describe error (the dataset record is kept, so its evaluations still run)."""
    import metafeatures

    def hang(*args, **kwargs):
        time.sleep(600)

    monkeypatch.setattr(metafeatures, "extract", hang)  # the forked child inherits it
    suite = _write_suite(tmp_path / "suite")
    source = str(min(suite.rglob("*.csv")))
    start = time.monotonic()
    output = _batch_workers.describe(
        source, None, 0, "default", 2, time_limit=2, memory_limit_mb=512
    )
    assert time.monotonic() - start < 30
    assert output["metafeatures"] is None
    assert "TimeoutError: time limit of 2 s exceeded" in output["error"]
    assert output["dataset"]["n_rows"] > 0


_BATCH = textwrap.dedent("""
    import sys, time
    import autometa.evaluate as ev
    def hang(*args, **kwargs):  # runs in the evaluation process of a pool worker
        time.sleep(600)
    ev._run_fold = hang
    from autometa import batch
    batch.run("dir:" + sys.argv[1], sys.argv[2], configs=4, cv=2, n_jobs=2, time_limit=600,
              progress=False)
""")


def test_a_killed_batch_leaves_no_worker_behind(tmp_path):
    suite = _write_suite(tmp_path / "suite")
    script = tmp_path / "batch.py"
    script.write_text(_BATCH)
    runner = subprocess.Popen(
        [sys.executable, str(script), str(suite), str(tmp_path / "kb")],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 120
        evaluations = []
        while len(evaluations) < 2 and time.monotonic() < deadline:
            assert runner.poll() is None, runner.stderr.read().decode()[-3000:]
            workers = psutil.Process(runner.pid).children()
            evaluations = [c for w in workers for c in w.children()]
            time.sleep(0.1)
        assert evaluations, "no evaluation started"
        descendants = [p.pid for p in psutil.Process(runner.pid).children(recursive=True)]
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        left = _wait_gone(descendants, 10)
        assert not left, [psutil.Process(p).cmdline() for p in left if _alive(p)]
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
