"""tune neither repeats work nor leaves trials behind: per-process sampler seeds, no
configuration evaluated twice, stale trials failed and retried (SQLite and journal
storage, processes killed with SIGKILL any number of times), evaluation workers that die
with their parent, storage paths and arguments checked at the boundary."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import psutil
import pytest

import autometa
from autometa import space
from autometa._testing import breast_cancer_sample
from autometa.errors import ConfigError, InvalidParameterError
from autometa.tuning import DUPLICATE_ATTR, SLOT_ATTR, make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState
REPO = Path(__file__).resolve().parents[2]
FAST = ["logistic_regression", "decision_tree", "gaussian_nb", "lda", "knn"]
tuning = importlib.import_module("autometa.tuning")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return breast_cancer_sample(6)


@pytest.fixture
def fast_space(monkeypatch):
    original = space.suggest
    monkeypatch.setattr(
        space,
        "suggest",
        lambda trial, task, algorithms=None: original(trial, task, algorithms=FAST),
    )


@pytest.fixture
def evaluations(monkeypatch):
    """The config ids autometa.evaluate was called with, in order."""
    evaluate_module = importlib.import_module("autometa.evaluate")
    real, seen = evaluate_module.evaluate, []

    def counting(config, dataset, **kwargs):
        seen.append(space.config_id(config))
        return real(config, dataset, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate", counting)
    return seen


# --------------------------------------------------------------------------------------
# arguments and storage paths
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("time_limit", 0),
        ("time_limit", -1),
        ("time_limit", float("nan")),
        ("time_limit", float("inf")),
        ("time_limit", "10"),
        ("time_limit", True),
        ("timeout", 0),
        ("timeout", float("nan")),
        ("timeout", "5"),
    ],
)
def test_time_arguments_are_refused_naming_the_value(frame, name, value):
    with pytest.raises(
        InvalidParameterError, match=rf"{name} must be a positive number.*{re.escape(repr(value))}"
    ):
        autometa.tune(frame, target="target", n_trials=1, n_warm_start=0, cv=2, **{name: value})


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "journal:", "journal://"])
def test_a_storage_without_a_file_is_an_error(url):
    with pytest.raises(ConfigError, match="names no"):
        make_storage(url)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_missing_directory_is_an_error_and_is_not_created(tmp_path, frame, kind):
    missing = tmp_path / "no" / "such"
    url = (
        f"sqlite:///{missing / 'tune.db'}"
        if kind == "sqlite"
        else f"journal:{missing / 'tune.log'}"
    )
    with pytest.raises(ConfigError, match="does not exist"):
        make_storage(url)
    with pytest.raises(ConfigError, match="does not exist"):
        autometa.tune(frame, target="target", n_trials=1, n_warm_start=0, cv=2, storage=url)
    assert not (tmp_path / "no").exists()
    # an explicit in-memory database is still possible
    assert make_storage("sqlite:///:memory:") is not None


# --------------------------------------------------------------------------------------
# no configuration evaluated twice (in one process)
# --------------------------------------------------------------------------------------


def test_a_repeated_config_reuses_the_earlier_result(frame, fast_space, evaluations, monkeypatch):
    config = next(c for c in space.defaults("classification") if c["algorithm"] == "lda")
    monkeypatch.setattr(tuning, "_recommended_configs", lambda dataset, n, **kw: [config] * n)
    study = autometa.tune(frame, target="target", n_trials=3, n_warm_start=2, cv=2)
    first, second, _ = sorted(study.trials, key=lambda t: t.number)
    assert first.user_attrs["config_id"] == second.user_attrs["config_id"]
    assert DUPLICATE_ATTR not in first.user_attrs
    assert second.user_attrs[DUPLICATE_ATTR] == 0
    assert second.value == first.value and second.state == State.COMPLETE
    assert evaluations.count(first.user_attrs["config_id"]) == 1
    assert len(evaluations) == 2


def test_a_resumed_study_draws_with_a_seed_of_its_own(
    tmp_path, frame, fast_space, evaluations, monkeypatch
):
    seeds = []
    real = tuning.make_sampler
    monkeypatch.setattr(tuning, "make_sampler", lambda seed=0: seeds.append(seed) or real(seed))
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    autometa.tune(
        frame, target="target", n_trials=3, n_warm_start=0, cv=2, storage=url, random_state=7
    )
    study = autometa.tune(
        frame, target="target", n_trials=6, n_warm_start=0, cv=2, storage=url, random_state=7
    )
    assert seeds[0] == 7 and seeds[-1] != 7  # a fresh study keeps the seed; a resume does not
    assert len(study.get_trials(states=(State.COMPLETE,))) == 6
    _assert_nothing_evaluated_twice(study)
    assert (
        len(evaluations)
        == len(set(evaluations))
        == 6 - sum(DUPLICATE_ATTR in t.user_attrs for t in study.trials)
    )


def test_an_interrupted_trial_is_retried_on_the_next_call(frame, fast_space, monkeypatch):
    evaluate_module = importlib.import_module("autometa.evaluate")
    real, calls = evaluate_module.evaluate, []

    def interrupted_once(config, dataset, **kwargs):
        calls.append(config)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, dataset, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate", interrupted_once)
    storage = optuna.storages.InMemoryStorage()
    run = {"target": "target", "n_trials": 3, "n_warm_start": 0, "cv": 2, "storage": storage}
    with pytest.raises(KeyboardInterrupt):
        autometa.tune(frame, study_name="s", **run)
    study = autometa.tune(frame, study_name="s", **run)
    lost = [t for t in study.trials if t.state == State.FAIL]
    assert len(lost) == 1 and "status" not in lost[0].user_attrs
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == lost[0].number]
    assert len(retry) == 1 and retry[0].state == State.COMPLETE
    assert retry[0].user_attrs["config"] == calls[1]  # the interrupted config, run again
    assert len(study.get_trials(states=(State.COMPLETE,))) == 3
    assert len(study.trials) == 4


# --------------------------------------------------------------------------------------
# processes killed with SIGKILL
# --------------------------------------------------------------------------------------

_WORKER = textwrap.dedent("""
    import importlib, sys, time
    import optuna, pandas as pd
    import autometa
    from autometa import space, tuning
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    csv, storage, name, n_trials, delay = sys.argv[1:6]
    tuning.HEARTBEAT_INTERVAL, tuning.GRACE_PERIOD = 1, 3
    FAST = FAST_LIST
    original = space.suggest
    space.suggest = lambda trial, task, algorithms=None: original(trial, task, algorithms=FAST)
    ev = importlib.import_module("autometa.evaluate")
    real_fold = ev._run_fold
    def slow_fold(*args, **kwargs):  # runs in the evaluation's worker process
        time.sleep(float(delay))
        return real_fold(*args, **kwargs)
    ev._run_fold = slow_fold
    autometa.tune(pd.read_csv(csv), target="target", n_trials=int(n_trials), n_warm_start=0,
                  cv=2, storage=storage, study_name=name, random_state=0, time_limit=60)
""").replace("FAST_LIST", repr(FAST))


def _start(tmp_path, frame, url, n_trials, delay):
    csv = tmp_path / "frame.csv"
    if not csv.exists():
        frame.to_csv(csv, index=False)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(script), str(csv), url, "s", str(n_trials), str(delay)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _reader(url):
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url[len("journal:") :]))
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})


def _trials(storage):
    try:
        return optuna.load_study(study_name="s", storage=storage).get_trials(deepcopy=False)
    except KeyError:  # not created yet
        return []


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_and_expect_orphans_gone(worker, children, seconds, message):
    """SIGKILL ``worker`` alone; its evaluation ``children`` must die within ``seconds``."""
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    gone = time.monotonic() + seconds
    while any(_alive(c.pid) for c in children) and time.monotonic() < gone:
        time.sleep(0.05)
    assert not any(_alive(c.pid) for c in children), message


def _kill_mid_evaluation(worker, storage, min_complete, timeout=60.0):
    """SIGKILL ``worker`` alone (not its evaluation process) while it evaluates, once the
    study has ``min_complete`` complete trials; its evaluation process must die with it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        complete = sum(t.state == State.COMPLETE for t in _trials(storage))
        children = [c for c in psutil.Process(worker.pid).children(recursive=True) if _alive(c.pid)]
        if complete >= min_complete and children:
            _kill_and_expect_orphans_gone(worker, children, 5, "an evaluation outlived its parent")
            return
        time.sleep(0.05)
    raise AssertionError("the worker was never seen evaluating")


def _assert_nothing_evaluated_twice(study_or_trials):
    trials = getattr(study_or_trials, "trials", study_or_trials)
    evaluated = [
        t.user_attrs["config_id"]
        for t in trials
        if tuning._evaluated(t) and DUPLICATE_ATTR not in t.user_attrs
    ]
    assert len(evaluated) == len(set(evaluated)), Counter(evaluated).most_common(3)
    by_number = {t.number: t for t in trials}
    for t in trials:
        if DUPLICATE_ATTR in t.user_attrs:
            assert (
                by_number[t.user_attrs[DUPLICATE_ATTR]].user_attrs["config_id"]
                == t.user_attrs["config_id"]
            )


def _assert_exact_budget(trials, n_trials, n_lost):
    """``n_trials`` evaluated trials (COMPLETE, or PRUNED/FAIL with a status: a config may
    legitimately fail), one per slot; ``n_lost`` lost ones (FAIL without status); nothing
    left running or waiting; no configuration evaluated twice."""
    table = "\n".join(
        str(
            (
                t.number,
                t.state.name,
                t.system_attrs.get(SLOT_ATTR),
                t.user_attrs.get("status"),
                t.user_attrs.get("error"),
            )
        )
        for t in trials
    )
    evaluated = [t for t in trials if tuning._evaluated(t)]
    lost = [t for t in trials if t.state == State.FAIL and not tuning._evaluated(t)]
    assert len(evaluated) == n_trials, table
    assert len(lost) == n_lost, table
    assert len(evaluated) + len(lost) == len(trials), table  # nothing left running/waiting
    slots = Counter(t.system_attrs[SLOT_ATTR] for t in evaluated)
    assert sorted(slots) == list(range(n_trials)) and set(slots.values()) == {1}, table
    _assert_nothing_evaluated_twice(trials)


def _cleanup(*workers):
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


_HANGING = textwrap.dedent("""
    import importlib, sys, time
    import pandas as pd
    import autometa
    ev = importlib.import_module("autometa.evaluate")
    def hang(*args, **kwargs):  # runs in the evaluation's worker process
        time.sleep(600)
    ev._run_fold = hang
    autometa.tune(pd.read_csv(sys.argv[1]), target="target", n_trials=1, n_warm_start=0, cv=2,
                  time_limit=None)
""")


def test_the_evaluation_dies_with_a_killed_tune_even_without_time_limit(tmp_path, frame):
    csv = tmp_path / "frame.csv"
    frame.to_csv(csv, index=False)
    script = tmp_path / "hang.py"
    script.write_text(_HANGING)
    worker = subprocess.Popen(
        [sys.executable, str(script), str(csv)],
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        children = []
        while not children and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            children = psutil.Process(worker.pid).children(recursive=True)
            time.sleep(0.05)
        assert children, "the evaluation never started"
        time.sleep(0.5)  # well inside the hanging fold
        _kill_and_expect_orphans_gone(worker, children, 3, "the evaluation outlived tune")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # the orphan too, if the test failed
        worker.wait()


@pytest.fixture(params=["sqlite", "journal"])
def url(request, tmp_path):
    return (
        f"sqlite:///{tmp_path / 'tune.db'}"
        if request.param == "sqlite"
        else f"journal:{tmp_path / 'tune.log'}"
    )


def test_killed_twice_then_resumed_ends_with_exactly_n_trials(tmp_path, frame, url):
    n_trials = 6
    storage = _reader(url)
    workers = []
    try:
        for min_complete in (1, 3):  # the same command, killed mid-trial twice
            workers.append(_start(tmp_path, frame, url, n_trials, delay=0.4))
            _kill_mid_evaluation(workers[-1], storage, min_complete)
        workers.append(_start(tmp_path, frame, url, n_trials, delay=0.0))
        _, err = workers[-1].communicate(timeout=120)
        assert workers[-1].returncode == 0, err.decode()[-3000:]
    finally:
        _cleanup(*workers)
    _assert_exact_budget(_trials(storage), n_trials, n_lost=2)


def test_a_surviving_process_retries_the_killed_ones_trial(tmp_path, frame, url):
    n_trials = 7
    storage = _reader(url)
    # the same command (same random_state) in two terminals on one study
    survivor = _start(tmp_path, frame, url, n_trials, delay=0.25)
    victim = _start(tmp_path, frame, url, n_trials, delay=0.25)
    try:
        _kill_mid_evaluation(victim, storage, min_complete=1)
        _, err = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, err.decode()[-3000:]
    finally:
        _cleanup(survivor, victim)
    trials = _trials(storage)
    _assert_exact_budget(trials, n_trials, n_lost=1)
    # The second process draws with a seed of its own (with the same seed it would draw
    # the first one's configurations again, reused rather than evaluated but wasted).
    assert sum(DUPLICATE_ATTR in t.user_attrs for t in trials) <= 1
