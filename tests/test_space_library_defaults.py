"""scikit-learn's own regression defaults, appended to the portfolio on request.

The space's defaults suit 500-row tables (a random forest draws 30 % of the features at each
split, categories are one-hot encoded with rare ones merged); scikit-learn's regression
forests use every feature and leaves of one row, which wins on large, clean tables. They
are appended after the seeded portfolio so that its configuration ids stay the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)

from autometa import space

LIBRARY = {
    "random_forest": RandomForestRegressor(),
    "extra_trees": ExtraTreesRegressor(),
    "hist_gradient_boosting": HistGradientBoostingRegressor(),
}


def _final_estimator(pipe):
    estimator = pipe.steps[-1][1]
    return getattr(estimator, "regressor", estimator)


@pytest.mark.parametrize(
    "config", space.library_defaults("regression"), ids=lambda c: c["algorithm"]
)
def test_they_build_scikit_learns_defaults_on_ordinal_codes(config):
    assert config["encoding"] == "ordinal"
    assert (config["scaling"], config["reduction"]) == ("none", "none")
    built = _final_estimator(space.build(config)).get_params()
    reference = LIBRARY[config["algorithm"]].get_params()
    for name in config["params"]:  # the space's l2_regularization is log-scaled: 1e-6 for 0
        assert built[name] == pytest.approx(reference[name], abs=1e-5), name


def test_one_per_algorithm_and_none_for_classification():
    configs = space.library_defaults("regression")
    assert sorted(c["algorithm"] for c in configs) == sorted(LIBRARY)
    assert len({space.config_id(c) for c in configs}) == len(configs)
    assert space.library_defaults("classification") == []
    for config in configs:
        assert space.validate(config) == config


def test_portfolio_appends_them_only_when_asked_and_keeps_the_seeded_ids():
    plain = space.portfolio("regression", 30, random_state=0)
    extended = space.portfolio("regression", 30, random_state=0, include_library=True)
    library = space.library_defaults("regression")
    assert extended[:30] == plain
    assert extended[30:] == library
    assert space.portfolio("classification", 20, 0, include_library=True) == space.portfolio(
        "classification", 20, 0
    )


@pytest.mark.parametrize(
    "config", space.library_defaults("regression"), ids=lambda c: c["algorithm"]
)
def test_they_fit_a_high_cardinality_column_with_missing_values(config):
    rng = np.random.default_rng(0)
    n = 300
    names = rng.choice([f"name{i}" for i in range(120)], n).astype(object)
    X = pd.DataFrame({"x": rng.normal(size=n), "name": names})
    X.loc[rng.random(n) < 0.1, "x"] = np.nan
    y = rng.normal(size=n) + (X["name"].str.len() > 6)
    pipe = space.build(config, categorical=["name"]).fit(X, y)
    assert np.isfinite(pipe.predict(X)).all()
