"""Probing: the offline choice of probes, the Bayesian update, and recommend(probe=True)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa.errors import InvalidParameterError
from autometa.kb import KnowledgeBase
from autometa.metamodel import DefaultModel, ForestModel
from autometa.metamodel.probing import choose_probes, posterior, probe_weights, profiles

CONFIGS = ["fast_a", "fast_b", "slow_a", "slow_b", "other_1", "other_2"]


def _two_kinds_kb(n: int = 60, seed: int = 0, informative: bool = True) -> KnowledgeBase:
    """Datasets of two hidden kinds that meta-features cannot tell apart: on kind A the
    cheap ``fast_a`` beats ``fast_b`` and ``slow_a`` is best; on kind B the reverse.
    Not ``informative``: the cheap configs score the same on both kinds (only noise)."""
    rng = np.random.default_rng(seed)
    names = [f"d{i}" for i in range(n)]
    kind_a = np.arange(n) % 2 == 0
    base = {
        "fast_a": (0.80, 0.60) if informative else (0.70, 0.70),
        "fast_b": (0.60, 0.80) if informative else (0.70, 0.70),
        "slow_a": (0.92, 0.70),
        "slow_b": (0.70, 0.92),
        "other_1": (0.75, 0.75),
        "other_2": (0.74, 0.74),
    }
    perf = pd.DataFrame(
        {c: np.where(kind_a, a, b) + rng.normal(0, 0.01, n) for c, (a, b) in base.items()},
        index=names,
    )
    mf = pd.DataFrame(rng.normal(size=(n, 3)), index=names, columns=["m1", "m2", "m3"])
    times = pd.DataFrame({c: (0.01 if c.startswith("fast") else 5.0) for c in CONFIGS}, index=names)
    return KnowledgeBase.from_frames(
        mf,
        perf,
        task="classification",
        metric="balanced_accuracy",
        configs={c: {"algorithm": c} for c in CONFIGS},
        fit_times=times,
    )


@pytest.fixture(scope="module")
def two_kinds():
    return _two_kinds_kb()


@pytest.mark.parametrize("model_class", [DefaultModel, ForestModel])
def test_probes_are_cheap_and_pick_the_kind_meta_features_cannot_see(two_kinds, model_class):
    model = model_class(n_probes=2, n_estimators=50).fit(
        two_kinds, "classification", "balanced_accuracy"
    )
    assert set(model.probe_configs_) <= {"fast_a", "fast_b"}
    query = pd.Series({"m1": 0.0, "m2": 0.0, "m3": 0.0})
    pick = {}
    for kind, probes in (
        ("a", {"fast_a": 0.81, "fast_b": 0.59}),
        ("b", {"fast_a": 0.61, "fast_b": 0.79}),
    ):
        first = model.select(query, 2, probes=probes)[0]
        pick[kind] = model.config_ids_[first]
        mu, _ = model.rank(query, probes=probes)
        assert model.config_ids_[int(np.argmax(mu))] == pick[kind]
    assert pick == {"a": "slow_a", "b": "slow_b"}


def test_probes_are_used_where_the_inner_folds_show_they_help(two_kinds):
    model = DefaultModel(n_probes=2, n_estimators=50).fit(
        two_kinds, "classification", "balanced_accuracy"
    )
    assert model.probe_trust_["used"] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_uninformative_probes_leave_the_ranking_as_it_is(seed):
    kb = _two_kinds_kb(informative=False, seed=seed)
    model = DefaultModel(n_probes=2, n_estimators=50).fit(kb, "classification", "balanced_accuracy")
    if model.probe_plan_ is None:  # nothing worth probing was even chosen
        return
    assert model.probe_trust_["used"] == 0.0
    query = pd.Series({"m1": 0.0, "m2": 0.0, "m3": 0.0})
    probes = {c: 0.9 for c in model.probe_configs_}
    assert model.select(query, 3, probes=probes) == model.select(query, 3)
    back = DefaultModel().set_state(model.get_state())
    assert back.select(query, 3, probes=probes) == model.select(query, 3)


def test_probes_earn_trust_only_beyond_the_standard_error_rule():
    from autometa.metamodel.probing import probes_earn_trust

    better = np.array([0.9, 0.8, 1.0, 0.9])
    assert probes_earn_trust(better, better - 0.2, 1.0)
    assert not probes_earn_trust(better, better, 1.0)
    noisy = np.array([1.0, 0.0, 1.0, 0.0])
    assert not probes_earn_trust(noisy, np.full(4, 0.45), 1.0)
    assert not probes_earn_trust(np.array([1.0]), np.array([0.0]), 1.0)  # one dataset


def test_no_probes_means_the_plain_ranking(two_kinds):
    model = DefaultModel(n_probes=2, n_estimators=50).fit(
        two_kinds, "classification", "balanced_accuracy"
    )
    query = pd.Series({"m1": 0.0, "m2": 0.0, "m3": 0.0})
    assert model.select(query, 3, probes={}) == model.select(query, 3)
    assert model.select(query, 3, probes={"not_a_probe": 0.5}) == model.select(query, 3)


def test_probe_plan_survives_a_state_round_trip(two_kinds):
    model = DefaultModel(n_probes=2, n_estimators=50).fit(
        two_kinds, "classification", "balanced_accuracy"
    )
    back = DefaultModel().set_state(model.get_state())
    assert back.probe_configs_ == model.probe_configs_
    query = pd.Series({"m1": 0.1, "m2": -0.2, "m3": 0.0})
    probes = {"fast_a": 0.61, "fast_b": 0.79}
    np.testing.assert_allclose(
        back.rank(query, probes=probes)[0], model.rank(query, probes=probes)[0]
    )


def test_zero_probes_choose_nothing(two_kinds):
    model = ForestModel(n_probes=0, n_estimators=20).fit(
        two_kinds, "classification", "balanced_accuracy"
    )
    assert model.probe_configs_ == []


def test_the_update_is_bayes_rule():
    prior = np.array([0.5, 0.25, 0.25])
    loglik = np.log(np.array([0.1, 0.8, 0.1]))
    np.testing.assert_allclose(posterior(prior, loglik), [0.05, 0.2, 0.025] / np.float64(0.275))
    # a query unlike every training dataset still gets weights that sum to one
    assert posterior(prior, np.array([-1e6, -1e6 - 1, -1e6])).sum() == pytest.approx(1.0)


def test_profiles_clip_bounded_and_standardise_unbounded_metrics():
    assert profiles(np.array([[0.9, -40.0]]), bounded=True).tolist() == [[0.9, -1.0]]
    z = profiles(np.array([[10.0, 20.0, 30.0], [1.0, 2.0, 3.0]]), bounded=False)
    np.testing.assert_allclose(z[0], z[1])  # only the pattern counts


def test_choose_probes_needs_enough_datasets():
    raw = np.random.default_rng(0).uniform(size=(3, 4))
    assert choose_probes(raw, raw, np.ones_like(raw), ["a", "b", "c"], 2, True) is None


def test_a_lower_is_better_metric_is_turned_around(two_kinds):
    model = DefaultModel(n_probes=2, n_estimators=30).fit(
        two_kinds, "classification", "balanced_accuracy"
    )
    plan = model.probe_plan_
    prior = np.full(len(model.datasets_), 1 / len(model.datasets_))
    position = {c: i for i, c in enumerate(model.config_ids_)}
    probes = {position["fast_a"]: 0.81, position["fast_b"]: 0.59}
    up = probe_weights(prior, model.probe_profiles_, probes, plan, True, True)
    flipped = probe_weights(
        prior, model.probe_profiles_, {c: -v for c, v in probes.items()}, plan, True, False
    )
    np.testing.assert_allclose(up, flipped)


# ---------------------------------------------------------------------------- recommend

# The toy knowledge base's meta-features are not the extractor's: every query is novel.
pytestmark = pytest.mark.filterwarnings("ignore::autometa.recommendation.NoveltyWarning")


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    df["y"] = np.where(df["a"] + 0.5 * rng.normal(size=300) > 0, "yes", "no")
    return df


@pytest.fixture
def space_two_kinds(monkeypatch, tmp_path):
    """The two-kinds KB with real search-space configs under the config names."""
    from autometa import space

    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))
    configs = {c["algorithm"]: c for c in space.defaults("classification")}
    mapping = dict(
        zip(
            CONFIGS,
            [
                "logistic_regression",
                "gaussian_nb",
                "random_forest",
                "hist_gradient_boosting",
                "knn",
                "lda",
            ],
        )
    )
    kb = _two_kinds_kb()
    mf = kb.metafeatures("classification")
    perf = kb.performance("classification", "balanced_accuracy").rename(columns=mapping)
    times = kb.fit_times("classification").rename(columns=mapping)
    ids = {a: space.config_id(configs[a]) for a in mapping.values()}
    return KnowledgeBase.from_frames(
        mf,
        perf.rename(columns=ids),
        task="classification",
        metric="balanced_accuracy",
        configs={ids[a]: configs[a] for a in mapping.values()},
        fit_times=times.rename(columns=ids),
    )


def test_recommend_with_probes_measures_them_within_the_budget(frame, space_two_kinds):
    recs = autometa.recommend(
        frame, target="y", k=3, kb=space_two_kinds, probe=True, probe_budget=20
    )
    table = recs.probes
    assert list(table.columns) == [
        "stage",
        "config_id",
        "algorithm",
        "score",
        "status",
        "seconds",
        "rows",
        "folds",
    ]
    probed = table[table["stage"] == "probe"]
    assert 1 <= len(probed) <= 2 and (probed["status"] == "ok").all()
    assert probed["score"].between(0.5, 1.0).all()
    assert recs.timings["probes"] + recs.timings["race"] <= 20 * 1.1
    plain = autometa.recommend(frame, target="y", k=3, kb=space_two_kinds)
    assert plain.probes is None and "probes" not in plain.timings


def test_recommend_probe_budget_is_checked_and_honoured(frame, space_two_kinds):
    with pytest.raises(InvalidParameterError, match="probe_budget must be a positive"):
        autometa.recommend(frame, target="y", kb=space_two_kinds, probe=True, probe_budget=0)
    recs = autometa.recommend(frame, target="y", kb=space_two_kinds, probe=True, probe_budget=0.5)
    assert (recs.probes["status"] == "skipped").all()
    assert any("no probe configuration finished" in w for w in recs.warnings)
    assert any("no time left in probe_budget for racing" in w for w in recs.warnings)
    assert recs.timings["probes"] + recs.timings["race"] <= 0.5 * 1.1


def test_a_model_without_probes_says_so(frame, space_two_kinds):
    recs = autometa.recommend(frame, target="y", kb=space_two_kinds, model="knn", probe=True)
    assert set(recs.probes["stage"]) == {"race"}  # the race runs all the same
    assert any("no probe configurations" in w for w in recs.warnings)


def test_probes_the_held_out_families_did_not_trust_are_skipped_and_said(frame, space_two_kinds):
    from autometa.metamodel import get_model

    fitted = get_model("default", random_state=0).fit(
        space_two_kinds, "classification", "balanced_accuracy"
    )
    assert fitted.probe_configs_  # it has probes to run
    fitted.probe_trust_ = {**(fitted.probe_trust_ or {}), "used": 0.0}
    recs = autometa.recommend(frame, target="y", k=3, kb=space_two_kinds, model=fitted, probe=True)
    assert set(recs.probes["stage"]) == {"race"} and "probes" in recs.timings
    assert any(w.startswith("probing skipped: on this knowledge base") for w in recs.warnings)
    fitted.probe_trust_["used"] = 1.0
    recs = autometa.recommend(frame, target="y", k=3, kb=space_two_kinds, model=fitted, probe=True)
    assert "probe" in set(recs.probes["stage"])
    assert not any("probing skipped" in w for w in recs.warnings)


def test_probes_survive_the_json_round_trip(frame, space_two_kinds):
    from autometa.recommendation import Recommendations

    recs = autometa.recommend(frame, target="y", k=2, kb=space_two_kinds, probe=True)
    back = Recommendations.from_json(recs.to_json())
    pd.testing.assert_frame_equal(back.probes, recs.probes, check_dtype=False)
    assert (
        Recommendations.from_json(
            autometa.recommend(frame, target="y", k=2, kb=space_two_kinds).to_json()
        ).probes
        is None
    )


def test_the_benchmark_scores_probed_picks(two_kinds):
    from autometa.metamodel.evaluation import evaluate_recommender

    table = evaluate_recommender(
        two_kinds,
        task="classification",
        models=("default", "sbs"),
        probe_models=("default",),
        ks=(1,),
        n_folds=3,
        n_bootstrap=0,
        model_params={"default": {"n_estimators": 30, "n_probes": 2}},
    )
    gap = table.set_index("model")["gap_closed"]
    assert set(gap.index) == {"default", "default+probe", "sbs"}
    assert gap["default+probe"] > gap["default"]  # the kinds only probes can tell apart
    assert table["coverage_2sd"].between(0, 1).all()
    with pytest.raises(Exception, match="probe_models"):
        evaluate_recommender(
            two_kinds,
            task="classification",
            models=("sbs",),
            probe_models=("forest",),
            ks=(1,),
            n_folds=3,
            n_bootstrap=0,
        )


def test_the_race_reorders_the_top_recommendations_by_what_they_score(frame, space_two_kinds):
    plain = autometa.recommend(frame, target="y", k=5, kb=space_two_kinds, model="knn")
    recs = autometa.recommend(
        frame, target="y", k=5, kb=space_two_kinds, model="knn", probe=True, probe_budget=30
    )
    race = recs.probes[recs.probes["stage"] == "race"].set_index("config_id")
    assert set(race.index) == {r.config_id for r in plain}  # the same five, raced
    assert race["score"].notna().all()
    full = race[race["folds"] == race["folds"].max()]
    assert recs[0].config_id == full["score"].idxmax()  # the best at the highest fidelity
    assert [r.rank for r in recs] == [1, 2, 3, 4, 5]
    # k smaller than the race: the race still measures five, the pick is its winner
    one = autometa.recommend(
        frame, target="y", k=1, kb=space_two_kinds, model="knn", probe=True, probe_budget=30
    )
    assert len(one) == 1 and one[0].config_id == recs[0].config_id
    assert (one.probes["stage"] == "race").sum() == 5


def test_a_race_failure_leaves_the_failed_recommendation_after_the_measured_ones():
    from types import SimpleNamespace

    from autometa import space
    from autometa._probing import race
    from autometa.data import load_dataset

    X = pd.DataFrame({"a": np.r_[np.zeros(30), np.ones(30)], "b": np.arange(60.0)})
    y = pd.Series(["no"] * 30 + ["yes"] * 30)
    dataset = load_dataset((X, y), task="classification")
    good = space.defaults("classification")[0]  # logistic regression
    bad = {**space.defaults("classification")[3], "params": {"n_neighbors": 50}}  # 40 rows
    items = [
        SimpleNamespace(
            config=c,
            config_id=space.config_id(c),
            rank=i + 1,
            predicted_score=0.5,
            predicted_fit_time=0.1,
        )
        for i, c in enumerate([bad, good])
    ]
    order, table, fold_scores = race(
        items, dataset, metric="balanced_accuracy", budget=30, random_state=0
    )
    assert order == [1, 0]
    assert table.loc[0, "status"] == "error" and np.isnan(table.loc[0, "score"])
    assert table.loc[1, "score"] > 0.9
    # the fold scores of the one that finished, repetitions included; none of the failed one
    assert list(fold_scores) == [1] and len(fold_scores[1]) == table.loc[1, "folds"]
    assert np.mean(fold_scores[1]) == pytest.approx(table.loc[1, "score"])


def test_a_measurement_updates_the_prediction_by_precision():
    from autometa._probing import measured_update

    folds = [0.60, 0.62, 0.58]
    # a vague prediction: the measurement decides; the std is one fold's spread and the
    # posterior's (0.02**2 / 3 + 0.02**2 -> 0.0231)
    score, std = measured_update(0.90, 1.0, folds, fold_std=0.02)
    assert score == pytest.approx(0.60, abs=1e-3)
    assert std == pytest.approx(np.sqrt(0.02**2 / 3 + 0.02**2), rel=1e-3)
    # as sure as the measurement: halfway
    score, _ = measured_update(0.70, 0.02 / np.sqrt(3), folds, fold_std=0.02)
    assert score == pytest.approx(0.65)
    # no usable prediction: the measurement alone
    for std_in in (np.nan, 0.0):
        assert measured_update(0.9, std_in, folds, 0.02)[0] == pytest.approx(0.60)
    # more folds measured: nearer the measurement, never narrower than one fold's spread
    few = measured_update(0.70, 0.05, folds, fold_std=0.02)
    many = measured_update(0.70, 0.05, folds * 4, fold_std=0.02)
    assert abs(many[0] - 0.60) < abs(few[0] - 0.60) and 0.02 < many[1] < few[1]


def test_the_fold_spread_is_pooled_over_the_raced_configurations():
    from autometa._probing import pooled_fold_std

    # deviations from each one's own mean: (+-0.01, 0) and (+-0.03, 0): 4 dof
    got = pooled_fold_std([[0.71, 0.70, 0.69], [0.53, 0.50, 0.47]], floor=0.0)
    assert got == pytest.approx(np.sqrt((2 * 0.01**2 + 2 * 0.03**2) / 4))
    assert pooled_fold_std([[1.0, 1.0, 1.0], [1.0, 1.0]], floor=0.004) == 0.004  # all perfect
    assert np.isnan(pooled_fold_std([[0.7]], floor=0.01))  # one fold: nothing to pool


def test_the_race_measurement_updates_the_raced_recommendations(frame, space_two_kinds):
    plain = autometa.recommend(frame, target="y", k=5, kb=space_two_kinds, model="knn")
    recs = autometa.recommend(
        frame, target="y", k=5, kb=space_two_kinds, model="knn", probe=True, probe_budget=30
    )
    race = recs.probes[recs.probes["stage"] == "race"].set_index("config_id")
    before = {r.config_id: r for r in plain}
    full = race["folds"] == race["folds"].max()
    assert full.sum() >= 2
    stds = []
    for rec in recs:
        if not full.get(rec.config_id, False):
            continue
        prior, measured = before[rec.config_id].predicted_score, race.loc[rec.config_id, "score"]
        # between the prediction and the measurement, much nearer the measurement
        assert min(prior, measured) - 1e-9 <= rec.predicted_score <= max(prior, measured) + 1e-9
        assert abs(rec.predicted_score - measured) <= 0.5 * abs(prior - measured) + 1e-9
        assert rec.predicted_std != before[rec.config_id].predicted_std
        stds.append(rec.predicted_std)
    # one held-out fold's spread, pooled over the raced ones, is most of every std
    assert 0 < min(stds) and max(stds) < 1.5 * min(stds)


def test_probes_written_before_the_race_read_back(frame, space_two_kinds):
    from autometa.recommendation import Recommendations

    data = autometa.recommend(frame, target="y", k=2, kb=space_two_kinds).to_dict()
    data["probes"] = [  # the table as it was written before the race existed
        {"config_id": "lda-1", "algorithm": "lda", "score": 0.8, "status": "ok", "seconds": 0.1},
        {
            "config_id": "knn-2",
            "algorithm": "knn",
            "score": None,
            "status": "skipped",
            "seconds": 0.0,
        },
    ]
    back = Recommendations.from_dict(data).probes
    assert list(back["stage"]) == ["probe", "probe"]
    assert back["rows"].isna().all() and np.isnan(back.loc[1, "score"])
