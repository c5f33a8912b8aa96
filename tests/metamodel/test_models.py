"""Meta-models: interface, determinism, JSON state, cache, scale, portfolio greedy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autometa._testing import synthetic_kb
from autometa.errors import ConfigError
from autometa.metamodel import (
    MODELS,
    DefaultModel,
    encode_configs,
    get_model,
    greedy_portfolio,
    load_or_fit,
    normalised_scores,
)
from autometa.metamodel._base import TrainingData

TASK, METRIC = "classification", "balanced_accuracy"
FAST = {
    "ranker": {"n_estimators": 40},
    "default": {"n_estimators": 60},
    "forest": {"n_estimators": 60},
}


@pytest.fixture(scope="module")
def kb():
    return synthetic_kb(n_datasets=40, n_variants=3)


@pytest.fixture(scope="module")
def fitted(kb):
    return {name: get_model(name, **FAST.get(name, {})).fit(kb, TASK, METRIC) for name in MODELS}


def test_normalised_scores_scale():
    s = np.array([[0.5, 0.6, 0.7, 0.9], [np.nan, 0.2, 0.4, 0.3]])
    failed = np.array([[False] * 4, [True, False, False, False]])
    u = normalised_scores(s, True, failed)
    assert u[0].tolist() == pytest.approx([0.0, 0.0, 0.2, 1.0])  # median 0.65 -> 0
    assert u[1, 0] == 0.0 and u[1, 2] == 1.0  # failed -> floor
    lower = normalised_scores(-s, False, failed, floor=-1.0)  # direction handled
    assert lower[0, 0] == pytest.approx(-0.6)
    assert lower[0, 3] == 1.0
    assert np.isnan(normalised_scores(s, True)[1, 0])  # not failed, not run: unknown


def test_greedy_portfolio_prefers_complementary_configs():
    U = np.array([[1.0, 0.0, 0.8], [0.0, 1.0, 0.8], [0.5, 0.5, 0.8]])
    assert greedy_portfolio(U, 1) == [2]
    assert sorted(greedy_portfolio(U, 3)[1:]) == [0, 1]
    assert greedy_portfolio(U, 2, allowed=np.array([True, True, False]))[0] in (0, 1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_interface_and_determinism(name, kb, fitted):
    model = fitted[name]
    q = kb.metafeatures(TASK).iloc[5]
    scores, std = model.rank(q)
    assert scores.shape == std.shape == (len(model.config_ids_),)
    assert np.all(np.isfinite(scores)) and np.all(std >= 0)
    picks = model.select(q, 4)
    assert len(picks) == len(set(picks)) == 4
    again = get_model(name, **FAST.get(name, {})).fit(kb, TASK, METRIC)
    assert again.select(q, 4) == picks
    assert np.allclose(again.rank(q)[0], scores)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_is_plain_json_and_round_trips(name, kb, fitted):
    model = fitted[name]
    text = json.dumps(model.get_state(), allow_nan=False)
    back = get_model(name, **FAST.get(name, {})).set_state(json.loads(text))
    for i in (0, 7, 13):
        q = kb.metafeatures(TASK).iloc[i]
        assert back.select(q, 5) == model.select(q, 5)
        np.testing.assert_allclose(back.rank(q)[0], model.rank(q)[0], rtol=1e-6)


def test_models_read_the_metafeatures(kb, fitted):
    data = TrainingData.from_kb(kb, TASK, METRIC)
    u = data.utility()
    for name in ("knn", "ranker", "default", "forest"):
        hits = [u[i, fitted[name].select(data.metafeatures.iloc[i], 1)[0]] for i in range(len(u))]
        sbs = [u[i, fitted["sbs"].select(data.metafeatures.iloc[i], 1)[0]] for i in range(len(u))]
        assert np.mean(hits) > np.mean(sbs) + 0.1, name


def test_select_respects_allowed(kb, fitted):
    q = kb.metafeatures(TASK).iloc[0]
    allowed = np.zeros(len(fitted["default"].config_ids_), bool)
    allowed[[1, 4]] = True
    for name in ("default", "forest", "knn", "portfolio", "ranker"):
        picks = fitted[name].select(q, 3, allowed=allowed)
        assert sorted(picks[:2]) == [1, 4], name
        assert picks[2] not in (1, 4)


def test_fit_time_model_scales_with_size(fitted):
    t_small = fitted["sbs"].predict_fit_time(100, 10)
    t_big = fitted["sbs"].predict_fit_time(100_000, 10)
    assert np.all(t_big > 10 * t_small)


def test_cache_hit_and_retrain_on_kb_change(tmp_path, monkeypatch):
    kb = synthetic_kb(n_datasets=20, n_variants=2)
    model = load_or_fit(get_model("knn"), kb, TASK, METRIC, directory=tmp_path)
    files = list(tmp_path.glob("knn-*.json"))
    assert len(files) == 1

    def boom(*a, **k):
        raise AssertionError("should have been read from the cache")

    monkeypatch.setattr(type(model), "fit", boom)
    cached = load_or_fit(get_model("knn"), kb, TASK, METRIC, directory=tmp_path)
    q = kb.metafeatures(TASK).iloc[0]
    assert cached.select(q, 3) == model.select(q, 3)
    monkeypatch.undo()

    kb.add_results("ds000", {"algorithm": "lin_0"}, {"balanced_accuracy": 0.01}, config_id="lin_0")
    load_or_fit(get_model("knn"), kb, TASK, METRIC, directory=tmp_path)
    new_files = list(tmp_path.glob("knn-*.json"))
    assert len(new_files) == 1 and new_files != files  # retrained, stale file removed

    new_files[0].write_text("{broken")  # a damaged cache file is refitted, not fatal
    load_or_fit(get_model("knn"), kb, TASK, METRIC, directory=tmp_path)
    assert json.loads(new_files[0].read_text())["model"] == "knn"


def test_encode_configs_space_and_opaque():
    from autometa import space

    cfgs = {space.config_id(c): c for c in space.defaults("regression")[:3]}
    enc = encode_configs(cfgs, "regression")
    assert list(enc.index) == list(cfgs) and "algorithm=ridge" in enc.columns
    opaque = encode_configs(
        {
            "a": {"algorithm": "X", "params": {"depth": 3}},
            "b": {"algorithm": "X", "params": {"depth": 5}},
            "c": {"algorithm": "Y"},
        },
        "regression",
    )
    assert opaque.loc["a", "algorithm=X"] == 1.0 and opaque.loc["b", "param=depth"] == 5.0
    assert opaque.loc["c", "config=c"] == 1.0  # shared algorithm names -> config one-hot


def test_kb_without_metafeatures_still_works():
    from autometa.kb import KnowledgeBase

    perf = pd.DataFrame({"A": [0.9, 0.1, 0.8], "B": [0.5, 0.6, 0.4]}, index=list("pqr"))
    kb = KnowledgeBase.from_frames(pd.DataFrame(index=perf.index), perf, task=TASK, metric=METRIC)
    for name in MODELS:
        model = get_model(name, **FAST.get(name, {})).fit(kb, TASK, METRIC)
        assert len(model.select(pd.Series(dtype=float), 2)) == 2


def test_unknown_model_name():
    with pytest.raises(ConfigError, match="'nope'"):
        get_model("nope")


def test_default_tunes_on_training_data_only(kb, fitted):
    model = fitted["default"]
    # settings chosen by inner cross-validation are kept in the (JSON) state
    assert set(model.chosen_) == {"a", "bonus", "uniform", "ranker_share", "risk_aversion"}
    assert model.tuning_ and all(np.isfinite(v) for v in model.tuning_.values())
    # the inner out-of-fold first-pick scores behind the choice: their means are the table
    inner = model.inner_scores_
    assert set(inner.index) <= set(model.datasets_) and len(inner.columns) == len(model.tuning_)
    assert np.allclose(sorted(inner.mean().to_numpy()), sorted(model.tuning_.values()))
    state = json.loads(json.dumps(model.get_state()))
    assert state["model_state"]["chosen"] == model.chosen_
    # without tuning the constructor's values are used as given
    plain = get_model("default", tune=False, a=0.0, n_estimators=10)
    plain.fit(kb, TASK, METRIC)
    assert plain.chosen_["a"] == 0.0 and plain.tuning_ == {}
    q = kb.metafeatures(TASK).iloc[3]
    assert plain.select(q, 1) == [int(np.argmax(plain.sbs_))]  # a = 0: the single best


def test_cached_model_survives_a_change_to_the_other_tasks_results(tmp_path, monkeypatch):
    kb = synthetic_kb(n_datasets=20, n_variants=2)
    load_or_fit(get_model("sbs"), kb, TASK, METRIC, directory=tmp_path)
    kb.add_results("r0", {"algorithm": "ridge"}, {"r2": 0.5}, task="regression", config_id="ridge")

    def boom(*a, **k):
        raise AssertionError("should have been read from the cache")

    monkeypatch.setattr(type(get_model("sbs")), "fit", boom)
    load_or_fit(get_model("sbs"), kb, TASK, METRIC, directory=tmp_path)  # no refit
    monkeypatch.undo()
    kb.add_results("ds000", {"algorithm": "lin_0"}, {METRIC: 0.01}, config_id="lin_0")
    monkeypatch.setattr(type(get_model("sbs")), "fit", boom)
    with pytest.raises(AssertionError, match="cache"):  # its own task's change: refitted
        load_or_fit(get_model("sbs"), kb, TASK, METRIC, directory=tmp_path)


def test_default_cache_retrains_on_kb_change(tmp_path):
    kb = synthetic_kb(n_datasets=24, n_variants=2)
    params = {"n_estimators": 10}
    model = load_or_fit(get_model("default", **params), kb, TASK, METRIC, directory=tmp_path)
    (first,) = tmp_path.glob("default-*.json")
    cached = load_or_fit(get_model("default", **params), kb, TASK, METRIC, directory=tmp_path)
    q = kb.metafeatures(TASK).iloc[0]
    assert cached.select(q, 5) == model.select(q, 5) and cached.chosen_ == model.chosen_
    kb.add_results("ds000", {"algorithm": "lin_0"}, {"balanced_accuracy": 0.01}, config_id="lin_0")
    load_or_fit(get_model("default", **params), kb, TASK, METRIC, directory=tmp_path)
    (second,) = tmp_path.glob("default-*.json")
    assert second != first
    assert (
        "pickle" not in second.read_text()[:200]
        and json.loads(second.read_text())["model"] == "default"
    )


def test_ranker_targets_and_feature_groups(kb):
    for params in (
        {"target": "residual"},
        {"target": "floor-1"},
        {"target": "score", "features": ["no_such_group"]},
    ):
        model = get_model("ranker", n_estimators=10, **params).fit(kb, TASK, METRIC)
        scores, std = model.rank(kb.metafeatures(TASK).iloc[0])
        assert np.all(np.isfinite(scores)) and np.all(std >= 0)
    with pytest.raises(ConfigError):
        get_model("ranker", target="nope").fit(kb, TASK, METRIC)


def test_forest_routing_matches_scikit_learn():
    from sklearn.ensemble import ExtraTreesRegressor

    from autometa.metamodel.forest import _Trees, proximity

    rng = np.random.default_rng(0)
    X, Y = rng.random((80, 6)), rng.random((80, 3))
    forest = ExtraTreesRegressor(20, min_samples_leaf=2, random_state=0).fit(X, Y)
    trees = _Trees.from_sklearn(forest)
    Xq = rng.random((15, 6))
    np.testing.assert_array_equal(trees.apply(Xq), forest.apply(Xq) + trees.roots[None, :])
    # the forest's prediction is the proximity-weighted mean of the training targets
    leaves = trees.apply(X)
    for j in range(3):
        w = proximity(leaves, trees.apply(Xq[j : j + 1])[0])
        assert w.sum() == pytest.approx(1.0) and np.all(w >= 0)
        np.testing.assert_allclose(w @ Y, forest.predict(Xq[j : j + 1])[0], rtol=1e-9)


def test_hedged_picks_cover_other_scenarios():
    from autometa.metamodel.forest import hedged_picks

    U = np.array([[1.0, 0.0, 0.9, 0.95], [0.0, 1.0, 0.9, 0.0]])
    mu = np.array([0.2, 0.1, 0.3, 0.9])
    # first the best prediction, then what helps most where it falls short (dataset 2)
    assert hedged_picks(mu, U, np.array([0.5, 0.5]), 2) == [3, 1]
    # all weight on dataset 1: config 1 adds nothing there, config 0 does
    assert hedged_picks(mu, U, np.array([1.0, 0.0]), 2) == [3, 0]


def test_ties_go_to_the_single_best_score_then_position_and_disallowed_come_last():
    from autometa.metamodel._base import best_first
    from autometa.metamodel.forest import hedged_picks

    scores = np.array([0.5, 0.9, 0.5, 0.5 + 1e-15, 0.9])  # 1e-15: rounding, a tie
    prefer = np.array([0.1, 0.0, 0.2, 0.0, 0.0])
    assert best_first(scores, prefer).tolist() == [1, 4, 2, 0, 3]
    allowed = np.array([False, False, True, True, True])
    assert best_first(scores, prefer, allowed).tolist() == [4, 2, 3, 1, 0]
    U = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert greedy_portfolio(U, 1) == [0]
    assert greedy_portfolio(U, 1, prefer=np.array([0.0, 1.0, 0.0])) == [1]
    mu = np.array([0.5, 0.5, 0.1])
    assert hedged_picks(mu, U, np.array([0.5, 0.5]), 2, prefer=np.array([0.0, 1.0, 0.0])) == [1, 2]


def test_default_inner_repeats_average_several_splits(kb, fitted):
    from autometa.metamodel.evaluation import make_folds

    names = list(kb.datasets(TASK).index)
    base = make_folds(names, n_folds=5)
    assert make_folds(names, n_folds=5, random_state=3) == make_folds(
        names, n_folds=5, random_state=3
    )
    other = make_folds(names, n_folds=5, random_state=1)
    assert other != base
    assert sorted(pd.Series(other).value_counts()) == sorted(pd.Series(base).value_counts())

    once = get_model("default", inner_repeats=1, **FAST["default"]).fit(kb, TASK, METRIC)
    repeated = get_model("default", inner_repeats=3, **FAST["default"]).fit(kb, TASK, METRIC)
    assert repeated.get_params()["inner_repeats"] == 3
    # the first split is the single-split one, so the averages differ only by the others
    assert repeated.tuning_.keys() == once.tuning_.keys()
    assert repeated.tuning_ != once.tuning_
    again = get_model("default", inner_repeats=3, **FAST["default"]).fit(kb, TASK, METRIC)
    assert again.tuning_ == repeated.tuning_ and again.chosen_ == repeated.chosen_


def test_family_clustered_standard_errors_are_more_cautious(kb):
    from autometa.errors import InvalidParameterError
    from autometa.metamodel.default import _one_se_choice

    # the bolder candidate wins by 0.5, 0.1 and -0.1 on three families of ten datasets
    bold = np.repeat([0.5, 0.1, -0.1], 10)
    families = np.repeat(["a", "b", "c"], 10)
    scores = [np.zeros(30), bold]
    assert _one_se_choice(scores, 2.0) == 1  # thirty "independent" datasets: convincing
    assert _one_se_choice(scores, 2.0, families) == 0  # three families: not
    assert _one_se_choice(scores, 2.0, np.arange(30).astype(str)) == 1  # singletons as before
    model = get_model("default", se_groups="family", n_estimators=10, inner_repeats=1)
    assert set(model.fit(kb, TASK, METRIC).chosen_) == {
        "a",
        "bonus",
        "uniform",
        "ranker_share",
        "risk_aversion",
    }
    with pytest.raises(InvalidParameterError, match="se_groups='families'"):
        get_model("default", se_groups="families", n_estimators=10).fit(kb, TASK, METRIC)


def test_flaml_baseline_follows_the_nearest_dataset_by_size_only(kb, fitted):
    """The FLAML-style baseline reads only the four size meta-features: a query with a
    training dataset's sizes gets that dataset's best config, whatever its other features."""
    model = fitted["flaml"]
    assert sorted(model.features_) == [
        "general.n_classes",
        "general.n_features",
        "general.n_instances",
        "general.pct_numeric",
    ]
    mf = kb.metafeatures(TASK)
    perf = kb.performance(TASK, METRIC)
    for name in mf.index[[3, 17, 29]]:
        query = mf.loc[name].copy()
        query[["stat.signal", "stat.noise1", "stat.noise2"]] = [9.0, -9.0, 9.0]
        best = perf.loc[name].idxmax()
        assert model.config_ids_[model.select(query, 1)[0]] == best


def test_first_pick_prior_decides_which_candidate_the_rule_keeps(kb):
    """With an infinitely strict rule nothing can earn its place: the prior is the pick."""
    from autometa.errors import InvalidParameterError

    common = {"n_estimators": 10, "inner_repeats": 1, "first_pick_se": 1e9}
    model = get_model("default", first_pick_prior="model", **common).fit(kb, TASK, METRIC)
    assert model.chosen_["a"] == 1.0 and model.chosen_["bonus"] == 0.0
    sbs = get_model("default", first_pick_prior="sbs", **common).fit(kb, TASK, METRIC)
    assert sbs.chosen_["a"] == 0.0
    # with no strictness at all both orders end on the same (best) candidate
    loose = {**common, "first_pick_se": 0.0}
    picks = [
        get_model("default", first_pick_prior=p, **loose).fit(kb, TASK, METRIC).chosen_
        for p in ("model", "sbs")
    ]
    best = max(model.tuning_.values())
    for chosen in picks:
        key = f"first pick: a={chosen['a']} bonus={chosen['bonus']}"
        assert model.tuning_[key] == pytest.approx(best)
    with pytest.raises(InvalidParameterError, match="first_pick_prior='forest'"):
        get_model("default", first_pick_prior="forest", **common).fit(kb, TASK, METRIC)


def test_risk_aversion_discounts_the_spread_of_the_first_pick_only(kb):
    from autometa.errors import InvalidParameterError
    from autometa.metamodel.default import RISK_AVERSIONS
    from autometa.metamodel.forest import weighted_prediction

    fast = {"n_estimators": 20, "tune": False}
    plain = get_model("default", **fast).fit(kb, TASK, METRIC)
    averse = get_model("default", risk_aversion=2.0, **fast).fit(kb, TASK, METRIC)
    assert plain.chosen_["risk_aversion"] == 0.0 and averse.chosen_["risk_aversion"] == 2.0
    moved = 0
    for name in kb.metafeatures(TASK).index:
        q = kb.metafeatures(TASK).loc[name]
        x, _ = averse._query(q)
        mean, spread = weighted_prediction(averse.weights(x), averse.U_)
        first = averse.select(q, 3)[0]
        assert first == int(np.argmax(mean - 2.0 * spread))
        assert plain.select(q, 1)[0] == int(np.argmax(mean))  # the same trees, no discount
        moved += first != plain.select(q, 1)[0]
        # probes are evidence of their own: measured, they decide without the discount
        probes = {c: 0.5 for c in averse.probe_configs_}
        assert np.allclose(averse.rank(q, probes)[0], plain.rank(q, probes)[0])
    assert moved  # a discount of two spreads changes some first picks
    # a state saved before the option loads without a discount
    state = json.loads(json.dumps(averse.get_state()))
    del state["model_state"]["chosen"]["risk_aversion"]
    q = kb.metafeatures(TASK).iloc[0]
    assert DefaultModel().set_state(state).select(q, 1) == plain.select(q, 1)
    # "tune": every risk aversion is a candidate of the inner folds
    tuned = get_model("default", risk_aversion="tune", n_estimators=20).fit(kb, TASK, METRIC)
    risks = set(tuned.inner_scores_.columns.get_level_values("risk_aversion"))
    assert risks == set(RISK_AVERSIONS) and tuned.chosen_["risk_aversion"] in risks
    with pytest.raises(InvalidParameterError, match=r"risk_aversion=-1.*>= 0 or 'tune'"):
        get_model("default", risk_aversion=-1).fit(kb, TASK, METRIC)


def test_default_blends_the_ranker_into_the_first_pick_only_where_asked(kb):
    from autometa.errors import InvalidParameterError
    from autometa.metamodel.default import RANKER_SHARES

    q = kb.metafeatures(TASK).iloc[3]
    fast = {"n_estimators": 20, "tune": False}
    forest = get_model("default", **fast).fit(kb, TASK, METRIC)
    assert forest.chosen_["ranker_share"] == 0.0 and forest.ranker_ is None
    blend = get_model("default", ranker_share=0.5, **fast).fit(kb, TASK, METRIC)
    # the first-pick scores: the mean of the forest's and the ranker's predictions
    assert np.allclose(blend.rank(q)[0], 0.5 * forest.rank(q)[0] + 0.5 * blend.ranker_.rank(q)[0])
    # the ranker travels in the JSON state, and a state saved before it loads as the forest
    state = json.loads(json.dumps(blend.get_state()))
    assert DefaultModel().set_state(state).select(q, 5) == blend.select(q, 5)
    del state["model_state"]["ranker"]
    del state["model_state"]["chosen"]["ranker_share"]
    assert np.allclose(DefaultModel().set_state(state).rank(q)[0], forest.rank(q)[0])
    # "tune": every share is a candidate of the inner folds; a ranker only where chosen
    tuned = get_model("default", ranker_share="tune", n_estimators=20).fit(kb, TASK, METRIC)
    shares = set(tuned.inner_scores_.columns.get_level_values("ranker_share"))
    assert shares == set(RANKER_SHARES) and tuned.chosen_["ranker_share"] in shares
    assert (tuned.ranker_ is not None) == (tuned.chosen_["ranker_share"] > 0)
    with pytest.raises(
        InvalidParameterError, match=r"ranker_share=2.*\[0, 1\] or 'tune' or 'auto'"
    ):
        get_model("default", ranker_share=2).fit(kb, TASK, METRIC)
    with pytest.raises(InvalidParameterError, match=r"ranker_share='half'"):
        get_model("default", ranker_share="half").fit(kb, TASK, METRIC)


@pytest.mark.parametrize(("task", "metric"), [(TASK, METRIC), ("regression", "r2")])
def test_default_ranker_share_auto_takes_the_tasks_share(task, metric):
    from autometa.metamodel.default import AUTO_RANKER_SHARES

    kb = synthetic_kb(n_datasets=40, n_variants=3, task=task)
    fast = {"n_estimators": 20, "tune": False}
    auto = get_model("default", ranker_share="auto", **fast).fit(kb, task, metric)
    share = AUTO_RANKER_SHARES[task]
    assert auto.chosen_["ranker_share"] == share and (auto.ranker_ is not None) == (share > 0)
    fixed = get_model("default", ranker_share=share, **fast).fit(kb, task, metric)
    q = kb.metafeatures(task).iloc[5]
    assert auto.select(q, 5) == fixed.select(q, 5)
    np.testing.assert_array_equal(auto.rank(q)[0], fixed.rank(q)[0])
