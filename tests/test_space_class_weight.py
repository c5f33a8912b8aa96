"""Class weights for the tree ensembles: in the search space, outside the seeded portfolio.

Balanced accuracy (the default classification metric) on imbalanced tables turns on class
weights, which the seeded portfolio never gave random forests, extra trees or histogram
gradient boosting. The hyperparameter is added so that the portfolio, and with it the
shipped knowledge base's configuration ids, stay the same.
"""

from __future__ import annotations

import optuna
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from autometa import space
from autometa.errors import ConfigError

TREES = ("random_forest", "extra_trees", "hist_gradient_boosting")


@pytest.mark.parametrize("name", TREES)
def test_tree_classifiers_take_class_weight_but_the_regressors_do_not(name):
    params = {p.name: p for p in space.get_algorithm("classification", name).params}
    assert params["class_weight"].choices == (None, "balanced")
    assert not params["class_weight"].in_portfolio
    assert "class_weight" not in {p.name for p in space.get_algorithm("regression", name).params}
    with pytest.raises(ConfigError, match="class_weight"):
        space.validate(
            {"task": "classification", "algorithm": name, "params": {"class_weight": "equal"}}
        )


def test_defaults_and_seeded_draws_leave_it_out():
    for config in space.defaults("classification") + space.sample("classification", 200, 3):
        if config["algorithm"] in TREES:
            assert "class_weight" not in config["params"]


def test_balanced_defaults_weight_every_classifier_that_can():
    balanced = space.balanced_defaults("classification")
    weighted = [
        name
        for name in space.algorithm_names("classification")
        if "class_weight" in {p.name for p in space.get_algorithm("classification", name).params}
    ]
    assert [c["algorithm"] for c in balanced] == weighted
    assert {"random_forest", "hist_gradient_boosting"} <= set(weighted)
    defaults = {c["algorithm"]: c for c in space.defaults("classification")}
    for config in balanced:
        assert config["params"] == {
            **defaults[config["algorithm"]]["params"],
            "class_weight": "balanced",
        }
    assert space.balanced_defaults("regression") == []


def test_portfolio_appends_the_balanced_defaults_only_when_asked():
    plain = space.portfolio("classification", 30, random_state=0)
    both = space.portfolio(
        "classification", 30, random_state=0, include_balanced=True, include_optional=True
    )
    balanced = space.balanced_defaults("classification")
    assert both[:30] == plain
    assert both[30 : 30 + len(balanced)] == balanced
    assert space.portfolio("regression", 20, 0, include_balanced=True) == space.portfolio(
        "regression", 20, 0
    )


def test_suggest_draws_it_and_writes_it_only_away_from_its_default():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        config = space.suggest(trial, "classification", ["hist_gradient_boosting"])
        study.tell(trial, 0.0)
        seen.add(config["params"].get("class_weight", "absent"))
    assert seen == {"balanced", "absent"}


def test_a_config_written_before_it_existed_enqueues_unweighted():
    config = space.defaults("classification")[
        list(space.ALGORITHMS["classification"]).index("hist_gradient_boosting")
    ]
    params = space.to_trial_params(config)
    assert params["hist_gradient_boosting.class_weight"] is None
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.enqueue_trial(params)
    trial = study.ask()
    assert space.config_id(space.suggest(trial, "classification")) == space.config_id(config)


@pytest.mark.parametrize(
    "config", space.balanced_defaults("classification"), ids=lambda c: c["algorithm"]
)
def test_balanced_defaults_fit_and_weight_the_rare_class(config):
    X, y = make_classification(200, 6, weights=[0.9, 0.1], random_state=0)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    pipe = space.build(config).fit(X, y)
    assert pipe.predict(X).shape == y.shape
    weights = [v for k, v in pipe.get_params().items() if k.endswith("class_weight")]
    assert weights == ["balanced"]
