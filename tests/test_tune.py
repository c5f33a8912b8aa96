"""autometa.tune: warm start, seeds, pipelines, storages (SQLite, journal), failures, CLI."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import autometa
from autometa import space
from autometa._testing import breast_cancer_sample
from autometa.errors import ConfigError, InvalidParameterError
from autometa.tuning import config_from_trial, make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState
REPO = Path(__file__).resolve().parents[1]

# Fast and failure-free: the tests are about the search machinery, not the models.
FAST = ["logistic_regression", "decision_tree", "gaussian_nb", "lda", "knn"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """120 rows of scikit-learn's breast cancer table, 8 features, stratified."""
    return breast_cancer_sample(8)


@pytest.fixture(scope="module")
def data(frame):
    return autometa.load_dataset(frame, target="target", name="cancer120")


@pytest.fixture
def fast_space(monkeypatch):
    """Restrict space.suggest to quick algorithms (also for enqueued configs' params)."""
    original = space.suggest

    def suggest(trial, task, algorithms=None):
        return original(trial, task, algorithms=algorithms or FAST)

    monkeypatch.setattr(space, "suggest", suggest)


def _configs(study):
    return [t.user_attrs["config"] for t in sorted(study.trials, key=lambda t: t.number)]


# --------------------------------------------------------------------------------------
# warm start
# --------------------------------------------------------------------------------------


def test_warm_start_enqueues_top_recommendations_first(data):
    recs = autometa.recommend(data, k=3)
    study = autometa.tune(data, n_trials=4, n_warm_start=3, cv=2, time_limit=30)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert len(trials) == 4
    assert [t.user_attrs["config"] for t in trials[:3]] == [r.config for r in recs]
    assert [t.user_attrs.get("warm_start_rank") for t in trials] == [1, 2, 3, None]
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    best = study.best_trial
    assert best.user_attrs["config_id"] == space.config_id(best.user_attrs["config"])
    assert len(best.user_attrs["folds"]) == 2
    assert best.value == pytest.approx(
        np.mean([f["balanced_accuracy"] for f in best.user_attrs["folds"]])
    )
    assert study.user_attrs["autometa"]["metric"] == "balanced_accuracy"


def test_warm_start_zero_is_cold(data, fast_space, monkeypatch):
    rec_module = importlib.import_module("autometa.recommendation")

    def boom(*args, **kwargs):
        raise AssertionError("a cold start must not ask for recommendations")

    monkeypatch.setattr(rec_module, "recommend", boom)
    study = autometa.tune(data, n_trials=3, n_warm_start=0, cv=2)
    assert len(study.trials) == 3
    assert all("warm_start_rank" not in t.user_attrs for t in study.trials)


def test_deprecated_warm_start_keyword_warns_and_still_works(data):
    with pytest.warns(FutureWarning, match="n_warm_start"):
        study = autometa.tune(data, n_trials=1, warm_start=1, cv=2, time_limit=30)
    (trial,) = study.trials
    assert trial.user_attrs["warm_start_rank"] == 1
    assert [trial.user_attrs["config"]] == [r.config for r in autometa.recommend(data, k=1)]
    # the value is checked as n_warm_start's
    with pytest.warns(FutureWarning), pytest.raises(InvalidParameterError, match="n_warm_start"):
        autometa.tune(data, warm_start=-1)


def test_warm_start_and_n_warm_start_together_are_refused(data):
    with pytest.raises(TypeError, match="n_warm_start=.*warm_start="):
        autometa.tune(data, n_trials=1, n_warm_start=1, warm_start=1)


def test_same_seed_same_trials(data, fast_space):
    def run(seed):
        return _configs(autometa.tune(data, n_trials=4, n_warm_start=0, cv=2, random_state=seed))

    first = run(3)
    assert run(3) == first
    assert run(4) != first


def test_threads_finish_the_budget_exactly(data, fast_space):
    study = autometa.tune(data, n_trials=5, n_warm_start=0, cv=2, n_jobs=2)
    assert sorted(t.number for t in study.trials) == list(range(5))
    assert all(t.state == State.COMPLETE for t in study.trials)


def test_metric_sets_direction(data, fast_space):
    study = autometa.tune(data, n_trials=2, n_warm_start=0, cv=2, metric="log_loss")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert all(t.user_attrs["metric"] == "log_loss" for t in study.trials)


def test_narrow_space_searches_top_families_in_the_first_half(data, fast_space, monkeypatch):
    tuning = importlib.import_module("autometa.tuning")
    by_name = {c["algorithm"]: c for c in space.defaults("classification")}
    ranked = [by_name[a] for a in ("lda", "lda", "gaussian_nb", "knn", "decision_tree")]
    monkeypatch.setattr(tuning, "_recommended_configs", lambda dataset, n, **kw: ranked[:n])
    study = autometa.tune(
        data,
        n_trials=8,
        n_warm_start=1,
        cv=2,
        narrow_space=2,
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    trials = sorted(study.trials, key=lambda t: t.number)
    assert trials[0].user_attrs["warm_start_rank"] == 1
    assert trials[0].user_attrs["config"] == ranked[0]
    # sampled trials numbered below n_trials // 2: the top 2 families only, in turn
    assert [t.user_attrs["config"]["algorithm"] for t in trials[1:4]] == [
        "lda",
        "gaussian_nb",
        "lda",
    ]
    assert len({space.config_id(t.user_attrs["config"]) for t in trials[:4]}) == 4
    assert all(t.distributions["algorithm"].choices == tuple(FAST) for t in trials)
    assert all(t.state == State.COMPLETE for t in trials)
    fixed = [t.system_attrs.get("fixed_params") for t in trials]
    assert fixed[1:4] == [{"algorithm": a} for a in ("lda", "gaussian_nb", "lda")]
    assert fixed[4:] == [{}] * 4  # then the whole space
    with pytest.raises(InvalidParameterError, match="narrow_space"):
        autometa.tune(data, n_trials=1, narrow_space=0)


def test_warm_start_into_user_study(data, frame):
    study = optuna.create_study(direction="maximize")
    configs = autometa.warm_start(study, frame, target="target", n=2)
    assert len(configs) == 2
    seen = []

    def objective(trial):
        config = space.suggest(trial, "classification")
        seen.append(config)
        return 0.5

    study.optimize(objective, n_trials=2)
    assert seen == configs
    # a trial of the user's own study rebuilds its config from the parameters
    rebuilt = config_from_trial(study.trials[0], task="classification")
    assert rebuilt == configs[0]
    assert autometa.warm_start(study, frame, target="target", n=0) == []


# --------------------------------------------------------------------------------------
# pipelines
# --------------------------------------------------------------------------------------


def test_pipeline_from_trial_and_fit_best(data, frame, fast_space):
    study = autometa.tune(data, n_trials=3, n_warm_start=0, cv=2)
    pipe = autometa.pipeline_from_trial(study.best_trial)
    with pytest.raises(NotFittedError):
        check_is_fitted(pipe)
    assert (
        type(pipe[-1]).__name__
        == type(
            space.build(study.best_trial.user_attrs["config"], metric="balanced_accuracy")[-1]
        ).__name__
    )
    model = autometa.fit_best(study, frame, target="target")
    check_is_fitted(model)
    assert model.predict(frame.drop(columns="target")).shape == (len(frame),)


def test_fit_best_without_complete_trial(data):
    study = optuna.create_study(direction="maximize")
    with pytest.raises(ConfigError, match="no complete trial"):
        autometa.fit_best(study, data)
    trial = optuna.trial.create_trial(params={}, distributions={}, value=0.0)
    with pytest.raises(ConfigError, match="algorithm"):
        autometa.pipeline_from_trial(trial)


# --------------------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------------------


def test_crashing_config_is_recorded_as_failed(data, fast_space, monkeypatch):
    evaluate_module = importlib.import_module("autometa.evaluate")
    from autometa._testing import CrashingClassifier

    real = evaluate_module.evaluate

    def crashing(config, dataset, **kwargs):
        return real(config, dataset, estimator=CrashingClassifier("bad luck"), **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate", crashing)
    study = autometa.tune(data, n_trials=2, n_warm_start=0, cv=2)
    assert [t.state for t in study.trials] == [State.FAIL, State.FAIL]
    for t in study.trials:
        assert t.user_attrs["status"] == "error"
        assert "bad luck" in t.user_attrs["error"]
        assert "config" in t.user_attrs


def test_timeout_is_pruned_and_exceptions_never_escape(data, fast_space, monkeypatch):
    study = autometa.tune(data, n_trials=2, n_warm_start=0, cv=2, time_limit=0.001)
    assert {t.state for t in study.trials} == {State.PRUNED}
    assert all(t.user_attrs["status"] == "timeout" for t in study.trials)

    evaluate_module = importlib.import_module("autometa.evaluate")

    def broken(*args, **kwargs):
        raise RuntimeError("evaluator exploded")

    monkeypatch.setattr(evaluate_module, "evaluate", broken)
    study = autometa.tune(data, n_trials=2, n_warm_start=0, cv=2)
    assert [t.state for t in study.trials] == [State.FAIL, State.FAIL]
    assert "evaluator exploded" in study.trials[0].user_attrs["error"]


def test_bad_arguments_name_the_value(data):
    with pytest.raises(InvalidParameterError, match="n_trials"):
        autometa.tune(data, n_trials=-1)
    with pytest.raises(ConfigError, match="'r2'"):
        autometa.tune(data, n_trials=1, metric="r2")
    with pytest.raises(ConfigError, match="nonsense"):
        make_storage("nonsense")


# --------------------------------------------------------------------------------------
# storage
# --------------------------------------------------------------------------------------

_WORKER = textwrap.dedent("""
    import sys, time, optuna
    import pandas as pd
    import autometa
    import importlib
    from autometa import space
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    frame_path, storage, name, n_trials, delay, seed = sys.argv[1:7]
    FAST = ['logistic_regression', 'decision_tree', 'gaussian_nb', 'lda', 'knn']
    ev = importlib.import_module('autometa.evaluate')
    original, real = space.suggest, ev.evaluate
    space.suggest = lambda trial, task, algorithms=None: original(
        trial, task, algorithms=FAST)
    def slow(*args, **kwargs):
        time.sleep(float(delay))
        return real(*args, **kwargs)
    ev.evaluate = slow
    if storage.startswith("heartbeat:"):
        storage = optuna.storages.RDBStorage(storage[len("heartbeat:"):], heartbeat_interval=1,
                                             grace_period=2)
    frame = pd.read_csv(frame_path)
    autometa.tune(frame, target="target", n_trials=int(n_trials), n_warm_start=0, cv=2,
                  storage=storage, study_name=name, random_state=int(seed))
""")


def _worker(tmp_path, frame, storage, name, n_trials, delay=0.0, seed=0):
    csv = tmp_path / "frame.csv"
    if not csv.exists():
        frame.to_csv(csv, index=False)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(csv),
            storage,
            name,
            str(n_trials),
            str(delay),
            str(seed),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_two_processes_on_one_sqlite_study_finish_exactly(tmp_path, frame):
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    workers = [_worker(tmp_path, frame, url, "shared", 10, delay=0.1, seed=s) for s in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()[-2000:]
    study = optuna.load_study(study_name="shared", storage=url)
    assert len(study.trials) == 10
    assert sorted(t.number for t in study.trials) == list(range(10))
    assert all(t.state == State.COMPLETE for t in study.trials)
    assert study.user_attrs["autometa"]["dataset"] == "frame"


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_killed_run_resumes_without_repeating_finished_trials(tmp_path, frame, fast_space):
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    worker = _worker(tmp_path, frame, "heartbeat:" + url, "resume", 8, delay=0.3)
    deadline = time.time() + 90
    done: list = []
    while time.time() < deadline:
        time.sleep(0.3)
        try:
            study = optuna.load_study(study_name="resume", storage=url)
            done = study.get_trials(states=(State.COMPLETE,))
        except KeyError:  # not created yet
            continue
        if len(done) >= 2:
            break
    worker.kill()
    worker.wait()
    assert 2 <= len(done) < 8
    before = {
        t.number: (t.value, t.datetime_complete)
        for t in optuna.load_study(study_name="resume", storage=url).get_trials(
            states=(State.COMPLETE,)
        )
    }
    # past the 2 s grace period by a margin: SQLite timestamps have 1 s resolution
    time.sleep(4.0)
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    resume = {"storage": storage, "study_name": "resume"}
    study = autometa.tune(frame, target="target", n_trials=8, n_warm_start=0, cv=2, **resume)
    trials = study.trials
    assert all(t.state.is_finished() for t in trials), [(t.number, t.state.name) for t in trials]
    # exactly the budget is evaluated; the interrupted trial (if any) is failed and retried
    assert len(study.get_trials(states=(State.COMPLETE,))) == 8
    after = {t.number: (t.value, t.datetime_complete) for t in trials if t.number in before}
    assert after == before  # finished trials are kept, not re-run
    fails = [t for t in trials if t.state == State.FAIL]
    assert len(fails) <= 1, [(t.number, t.user_attrs, t.system_attrs) for t in fails]
    assert len(trials) == 8 + len(fails)
    for lost in fails:
        assert lost.user_attrs.get("status") != "error"  # lost, not a failing config
        retry = [t for t in trials if t.system_attrs.get("failed_trial") == lost.number]
        assert len(retry) == 1 and retry[0].state == State.COMPLETE
        assert retry[0].params.items() >= lost.params.items()  # the same config, rerun


def test_journal_storage_and_resume_of_wrong_problem(tmp_path, data, fast_space):
    path = tmp_path / "tune.log"
    study = autometa.tune(data, n_trials=2, n_warm_start=0, cv=2, storage=f"journal:{path}")
    assert study.study_name == "autometa-cancer120"
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    loaded = optuna.load_study(
        study_name="autometa-cancer120", storage=JournalStorage(JournalFileBackend(str(path)))
    )
    assert len(loaded.trials) == 2
    # resuming with a larger budget adds only the missing trials
    study = autometa.tune(data, n_trials=3, n_warm_start=0, cv=2, storage=f"journal:{path}")
    assert len(study.trials) == 3
    with pytest.raises(ConfigError, match="minimize"):
        autometa.tune(data, n_trials=3, metric="log_loss", storage=f"journal:{path}")


def test_learn_from_reads_tune_studies(data, fast_space):
    from autometa.kb import KnowledgeBase
    from autometa.recommendation import learn_from

    study = autometa.tune(data, n_trials=2, n_warm_start=0, cv=2)
    kb = learn_from(study, data, kb=KnowledgeBase(), metafeatures=pd.Series({"a": 1.0}))
    assert kb.performance("classification", "balanced_accuracy").shape == (1, 2)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def test_cli_tune(tmp_path, frame):
    from typer.testing import CliRunner

    from autometa.cli import app

    csv = tmp_path / "data.csv"
    frame.to_csv(csv, index=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(
        app,
        [
            "tune",
            str(csv),
            "--target",
            "target",
            "--trials",
            "3",
            "--warm-start",
            "1",
            "--cv",
            "2",
            "--storage",
            url,
            "--study-name",
            "cli",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "trial 3/3" in result.output
    assert "best balanced_accuracy" in result.output
    study = optuna.load_study(study_name="cli", storage=url)
    assert len(study.trials) == 3
    assert study.trials[0].user_attrs["warm_start_rank"] == 1
    json.dumps(study.best_trial.user_attrs)  # plain JSON all the way


def test_show_progress_bar(data, fast_space, capsys):
    autometa.tune(data, n_trials=2, n_warm_start=0, cv=2, time_limit=30)
    assert capsys.readouterr().err == ""  # silent by default, as study.optimize
    with pytest.raises(InvalidParameterError, match="show_progress_bar"):
        autometa.tune(data, n_trials=2, show_progress_bar="yes")
    autometa.tune(data, n_trials=2, n_warm_start=0, cv=2, time_limit=30, show_progress_bar=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "best 0." in err


# --------------------------------------------------------------------------------------
# optional algorithms (the few-shot learner): one algorithm list per study
# --------------------------------------------------------------------------------------

needs_torch = pytest.mark.skipif(
    "fewshot" not in space.ALGORITHMS["classification"], reason="torch is not installed"
)
ALGORITHMS_ATTR = "autometa_algorithms"


def _fewshot(**steps) -> dict:
    config = next(
        c
        for c in space.defaults("classification", include_optional=True)
        if c["algorithm"] == "fewshot"
    )
    return {**config, **steps}


def _default(name: str) -> dict:
    return next(c for c in space.defaults("classification") if c["algorithm"] == name)


def _recommending(monkeypatch, configs):
    tuning = importlib.import_module("autometa.tuning")
    monkeypatch.setattr(tuning, "_recommended_configs", lambda dataset, n, **kw: configs[:n])


def _quiet_tune(*args, **kwargs):
    """tune, returning the study and the UserWarnings it gave."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = autometa.tune(*args, **kwargs)
    return study, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@needs_torch
def test_fewshot_recommendation_is_enqueued_and_its_list_kept_on_resume(
    tmp_path, data, monkeypatch
):
    names = space.algorithm_names("classification", include_optional=True)
    assert names[-1] == "fewshot"
    _recommending(monkeypatch, [_fewshot(), _default("lda")])
    url = f"sqlite:///{tmp_path / 'fewshot.db'}"
    run = {"n_warm_start": 2, "cv": 2, "storage": url, "study_name": "few", "time_limit": 60}
    sampler = optuna.samplers.RandomSampler(seed=0)
    study, said = _quiet_tune(data, n_trials=3, sampler=sampler, **run)
    assert not [w for w in said if "not enqueued" in w or "search space" in w], said
    assert study.user_attrs[ALGORITHMS_ATTR] == names  # fixed once, with the study
    trials = sorted(study.trials, key=lambda t: t.number)
    assert trials[0].user_attrs["config"] == _fewshot()
    assert trials[0].user_attrs["warm_start_rank"] == 1
    assert trials[0].state == State.COMPLETE and trials[0].user_attrs["status"] == "ok"
    assert trials[1].user_attrs["config"] == _default("lda")
    assert all(t.distributions["algorithm"].choices == tuple(names) for t in trials)

    # resumed (or joined) without the recommendation: the stored list still holds, so
    # Optuna sees the same choices for "algorithm" in every trial of the study
    _recommending(monkeypatch, [_default("lda")])
    for seed in (1, 2):
        sampler = optuna.samplers.RandomSampler(seed=seed)
        study, _ = _quiet_tune(data, n_trials=3 + seed, sampler=sampler, **run)
    study = optuna.load_study(study_name="few", storage=url)
    assert study.user_attrs[ALGORITHMS_ATTR] == names
    assert len(study.trials) == 5 and all(t.state.is_finished() for t in study.trials)
    assert all(t.distributions["algorithm"].choices == tuple(names) for t in study.trials)
    assert all(t.user_attrs.get("status") for t in study.trials)  # all evaluated


def test_a_study_without_a_list_keeps_the_default_one(tmp_path, data, fast_space, monkeypatch):
    """A study an older autometa started (trials, no stored list) draws as before."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = optuna.create_study(storage=url, study_name="old", direction="maximize")
    old.optimize(lambda trial: (space.suggest(trial, "classification"), 0.5)[1], n_trials=1)
    assert ALGORITHMS_ATTR not in old.user_attrs
    has_fewshot = "fewshot" in space.ALGORITHMS["classification"]
    _recommending(monkeypatch, ([_fewshot()] if has_fewshot else []) + [_default("lda")])
    study = autometa.tune(data, n_trials=3, n_warm_start=2, cv=2, storage=url, study_name="old")
    assert ALGORITHMS_ATTR not in study.user_attrs
    assert len(study.trials) == 3
    assert all(t.state == State.COMPLETE for t in study.trials)
    assert "fewshot" not in [t.user_attrs.get("config", {}).get("algorithm") for t in study.trials]
    # a new study with nothing optional recommended stores the default list
    _recommending(monkeypatch, [_default("lda")])
    study = autometa.tune(data, n_trials=1, n_warm_start=1, cv=2)
    assert study.user_attrs[ALGORITHMS_ATTR] == space.algorithm_names("classification")


@needs_torch
def test_fewshot_is_neither_enqueued_nor_drawn_where_it_does_not_apply(fast_space, monkeypatch):
    rng = np.random.default_rng(0)
    large = pd.DataFrame(rng.normal(size=(1100, 3)), columns=list("abc"))
    large["y"] = (large["a"] > 0).astype(int)
    dataset = autometa.load_dataset(large, target="y", name="large")
    _recommending(monkeypatch, [_fewshot(), _default("lda")])
    study, said = _quiet_tune(dataset, n_trials=2, n_warm_start=2, cv=2)
    assert any("not enqueued" in w and "1,000 training rows" in w for w in said), said
    assert study.user_attrs[ALGORITHMS_ATTR] == space.algorithm_names("classification")
    configs = _configs(study)
    assert configs[0] == _default("lda") and "warm_start_rank" in study.trials[0].user_attrs
    assert all(c["algorithm"] != "fewshot" for c in configs)


@needs_torch
def test_warm_start_enqueues_fewshot_into_a_new_user_study(data, frame, monkeypatch):
    names = space.algorithm_names("classification", include_optional=True)
    _recommending(monkeypatch, [_fewshot(), _default("lda")])
    study = optuna.create_study(direction="maximize")
    configs = autometa.warm_start(study, frame, target="target", n=2)
    assert configs == [_fewshot(), _default("lda")]
    assert study.user_attrs[ALGORITHMS_ATTR] == names
    seen = []

    def objective(trial):
        seen.append(space.suggest(trial, "classification"))  # the study's list, read back
        return 0.5

    study.optimize(objective, n_trials=3)
    assert seen[:2] == configs
    assert all(t.distributions["algorithm"].choices == tuple(names) for t in study.trials)
    assert space.study_algorithms(study, "classification") == names

    # a study that already has trials (drawn from the default list) keeps it
    used = optuna.create_study(direction="maximize")
    used.optimize(lambda trial: (space.suggest(trial, "classification"), 0.5)[1], n_trials=1)
    with pytest.warns(UserWarning, match="fixed when the study started"):
        configs = autometa.warm_start(used, frame, target="target", n=2)
    assert configs == [_default("lda")]
    assert ALGORITHMS_ATTR not in used.user_attrs


@needs_torch
def test_a_drawn_config_that_does_not_apply_is_pruned_not_failed():
    """The list admits the few-shot learner (it applies with ordinal encoding); a trial
    drawing one-hot encoding, past its 100 features, is pruned without being run."""
    from autometa._tune_budget import evaluated
    from autometa._tune_objective import Objective

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 90)), columns=[f"x{i}" for i in range(90)])
    X["code"] = [f"c{i % 15}" for i in range(40)]
    frame = X.assign(y=np.arange(40) % 2)
    dataset = autometa.load_dataset(frame, target="y", name="wide")
    assert "code" in dataset.categorical
    names = space.algorithm_names("classification", include_optional=True)
    config = _fewshot(encoding="onehot")
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(ALGORITHMS_ATTR, names)
    study.enqueue_trial(space.to_trial_params(config, algorithms=names))
    trial = study.ask()
    objective = Objective(
        dataset,
        "balanced_accuracy",
        cv=2,
        time_limit=60,
        memory_limit_mb=None,
        random_state=0,
        cache=None,
        algorithms=names,
    )
    state, value = objective(trial)
    assert (state, value) == (State.PRUNED, None)
    frozen = study.tell(trial, None, state=state)
    assert frozen.user_attrs["status"] == "not_applicable"
    assert "100 features" in frozen.user_attrs["error"]
    assert evaluated(frozen)  # it fills its slot of the budget: never retried
