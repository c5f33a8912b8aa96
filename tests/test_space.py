"""The search space: sampling, building, encoding, the allowlist and the Optuna bridge."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest

from autometa import space
from autometa.errors import ConfigError, InvalidParameterError


@pytest.fixture(scope="module")
def mixed_frame():
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "int": rng.integers(0, 5, n).astype(float),
            "colour": rng.choice(["red", "green", "blue", None], n),
            "flag": rng.choice([True, False], n),
        }
    )
    X.loc[::5, "num"] = np.nan
    X.loc[::7, "int"] = np.nan
    y_class = pd.Series(rng.choice(["a", "b", "c"], n))
    y_reg = pd.Series(X["num"].fillna(0) * 3 + rng.normal(size=n))
    return X, y_class, y_reg


@pytest.mark.parametrize("task", space.TASKS)
def test_every_sampled_config_builds_and_fits_on_mixed_data_with_nan(task, mixed_frame):
    X, y_class, y_reg = mixed_frame
    y = y_class if task == "classification" else y_reg
    configs = space.defaults(task) + space.sample(task, 25, random_state=1)
    for config in configs:
        json.dumps(config)  # JSON-serialisable
        pipeline = space.build(config, categorical=["colour", "flag"])
        with space.quiet_fit_warnings():
            pipeline.fit(X, y)
        predictions = pipeline.predict(X)
        assert len(predictions) == len(X)
        if task == "classification":
            assert set(predictions) <= set(y)
        else:
            assert np.isfinite(predictions).all()


def test_defaults_cover_every_algorithm_once():
    for task in space.TASKS:
        algorithms = [c["algorithm"] for c in space.defaults(task, include_optional=True)]
        assert algorithms == list(space.ALGORITHMS[task])
        required = [n for n, a in space.ALGORITHMS[task].items() if not a.optional]
        assert [c["algorithm"] for c in space.defaults(task)] == required
    assert "gaussian_nb" in space.ALGORITHMS["classification"]
    assert "elastic_net" in space.ALGORITHMS["regression"]


def test_sample_is_seeded_and_portfolio_is_distinct():
    assert space.sample("classification", 5, 3) == space.sample("classification", 5, 3)
    assert space.sample("classification", 5, 3) != space.sample("classification", 5, 4)
    portfolio = space.portfolio("regression", 40, 0)
    assert len({space.config_id(c) for c in portfolio}) == 40
    assert portfolio[: len(space.defaults("regression"))] == space.defaults("regression")


def test_allowlist_rejects_unknown_algorithms_keys_and_ranges():
    good = space.defaults("classification")[0]
    with pytest.raises(ConfigError, match="unknown classification algorithm 'os.system'"):
        space.build({**good, "algorithm": "os.system"})
    with pytest.raises(ConfigError, match="sklearn.svm.SVC"):
        space.validate({**good, "algorithm": "sklearn.svm.SVC"})
    with pytest.raises(ConfigError, match="unknown configuration keys"):
        space.validate({**good, "estimator": "x"})
    with pytest.raises(ConfigError, match="outside its range"):
        space.validate({**good, "params": {"C": 1e9}})
    with pytest.raises(ConfigError, match="no hyperparameter 'depth'"):
        space.validate({**good, "params": {"depth": 3}})
    with pytest.raises(ConfigError, match="scaling='minmax'"):
        space.validate({**good, "scaling": "minmax"})
    with pytest.raises(ConfigError, match="configuration task must be one of"):
        space.validate({**good, "task": "ranking"})
    with pytest.raises(InvalidParameterError, match="task must be one of.*'ranking'"):
        space.defaults("ranking")


def test_suggest_and_to_trial_params_round_trip_through_optuna():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = space.defaults("classification")[:3]
    for config in configs:
        study.enqueue_trial(space.to_trial_params(config))
    seen = []
    study.optimize(lambda t: (seen.append(space.suggest(t, "classification")), 0.0)[1], n_trials=5)
    assert seen[:3] == configs
    assert all(space.validate(c) for c in seen)


def test_encode_is_numeric_aligned_and_marks_inactive_params_nan():
    configs = space.defaults("classification")
    encoded = space.encode(configs)
    assert encoded.shape[0] == len(configs)
    assert encoded.dtypes.eq(float).all()
    row = encoded.iloc[0]
    assert row["algorithm=logistic_regression"] == 1.0
    assert row["logistic_regression.C"] == pytest.approx(0.0)  # log10(1.0)
    assert np.isnan(row["random_forest.n_estimators"])
    assert list(space.encode(configs[:2]).columns) == list(encoded.columns)


def test_config_id_is_stable_and_readable():
    config = space.defaults("regression")[0]
    assert space.config_id(config) == space.config_id(json.loads(json.dumps(config)))
    assert space.config_id(config).startswith("ridge-")
