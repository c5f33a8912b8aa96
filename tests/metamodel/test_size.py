"""Size-aware predictions: per-algorithm gains from the knowledge base's fidelities, and
meta-models trained on real-size scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa.errors import KnowledgeBaseError
from autometa.kb import KnowledgeBase
from autometa.metamodel import TrainingData
from autometa.metamodel._size import fit_slopes, gains, size_pairs


class _FidelityKB:
    """The two queries ``size_pairs`` makes of a knowledge base."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def results(self, task, *, fidelity="base"):
        assert fidelity == "all"
        return self.frame

    def rows_used(self, task):
        from autometa.kb._queries import rows_used_of

        return rows_used_of(self.frame)


def _results(slope_of: dict[str, float], n_datasets: int = 6) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(0)
    for d in range(n_datasets):
        large = 2000 * (d + 1)
        for config, slope in slope_of.items():
            base = 0.7 + rng.normal(0, 0.02)
            for fold in range(3):
                rows.append(
                    {
                        "dataset": f"d{d}",
                        "config_id": config,
                        "fold": fold,
                        "status": "ok",
                        "n_rows_used": 500,
                        "r2": base,
                    }
                )
                rows.append(
                    {
                        "dataset": f"d{d}",
                        "config_id": config,
                        "fold": fold + 3,
                        "status": "ok",
                        "n_rows_used": large,
                        "r2": base + slope * np.log(large / 500),
                    }
                )
    rows.append(
        {
            "dataset": "small",
            "config_id": "trees",
            "fold": 0,
            "status": "ok",
            "n_rows_used": 120,
            "r2": 0.5,
        }
    )  # one size only: no pair
    rows.append(
        {
            "dataset": "d0",
            "config_id": "trees",
            "fold": 9,
            "status": "timeout",
            "n_rows_used": 2000,
            "r2": np.nan,
        }
    )
    return pd.DataFrame(rows)


def test_slopes_recover_each_algorithms_gain():
    kb = _FidelityKB(_results({"trees": 0.05, "linear": 0.0}))
    pairs = size_pairs(kb, "regression", "r2", greater_is_better=True)
    assert set(pairs["dataset"]) == {f"d{i}" for i in range(6)}
    assert (pairs["n_base"] == 500).all()
    model = fit_slopes(pairs, {"trees": "random_forest", "linear": "ridge"})
    assert model["slopes"]["random_forest"] == pytest.approx(0.05, abs=0.01)
    assert model["slopes"]["ridge"] == pytest.approx(0.0, abs=0.01)
    assert model["base_rows"] == 500 and model["max_rows"] == 12000
    gain = gains(model, ["random_forest", "ridge", "unseen"], 5000)
    assert gain[0] == pytest.approx(model["slopes"]["random_forest"] * np.log(10))
    assert gain[1] == pytest.approx(model["slopes"]["ridge"] * np.log(10))
    assert gain[2] == pytest.approx(model["pooled"] * np.log(10))  # unseen: pooled slope


def test_no_gain_below_the_base_size_and_none_beyond_the_largest():
    model = fit_slopes(
        size_pairs(_FidelityKB(_results({"trees": 0.05})), "regression", "r2", True), {}
    )
    assert gains(model, ["trees"], 300).tolist() == [0.0]
    assert gains(model, ["trees"], 10**7) == pytest.approx(gains(model, ["trees"], 12000))
    assert gains({}, ["trees"], 5000).tolist() == [0.0]


def test_a_lower_is_better_metric_gains_when_it_falls():
    frame = _results({"trees": 0.05}).rename(columns={"r2": "rmse"})
    pairs = size_pairs(_FidelityKB(frame), "regression", "rmse", greater_is_better=False)
    assert (pairs["gain"] < 0).all()


def test_a_single_fidelity_kb_has_no_size_model():
    frame = _results({"trees": 0.05})
    frame = frame[frame["n_rows_used"] == 500]
    assert fit_slopes(size_pairs(_FidelityKB(frame), "regression", "r2", True), {}) == {}


def test_one_wild_dataset_does_not_turn_an_algorithms_slope_negative():
    """R² can fall by 15 on one dataset (a linear model extrapolating at the real size);
    gains are clipped to the pooled quantiles before the slopes are fitted."""
    frame = _results({"trees": 0.05, "linear": 0.01}, n_datasets=12)
    wild = (frame["dataset"] == "d3") & (frame["config_id"] == "linear")
    frame.loc[wild & (frame["n_rows_used"] > 500), "r2"] = -15.0
    model = fit_slopes(
        size_pairs(_FidelityKB(frame), "regression", "r2", True),
        {"trees": "random_forest", "linear": "ridge"},
    )
    assert 0.0 <= model["slopes"]["ridge"] < model["slopes"]["random_forest"]


ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture
def two_size_kb():
    """The frozen schema-2 KB: dataset c1 at 500 rows (knn 0.70, rf 0.80, svm timed out)
    and rf again at 2,000 rows (0.88)."""
    return KnowledgeBase.load(ASSETS / "kb_v2")


def test_real_size_training_keeps_measured_scores_and_moves_the_rest_by_their_gain(
    two_size_kb,
):
    base = TrainingData.from_kb(two_size_kb, "classification", "accuracy")
    real = TrainingData.from_kb(two_size_kb, "classification", "accuracy", fidelity="real_size")
    assert (base.fidelity, real.fidelity) == ("base", "real_size")
    knn, rf, svm = (real.config_ids.index(c) for c in ("knn", "rf", "svm"))
    assert real.scores[0, rf] == pytest.approx(0.88)  # measured at 2,000 rows
    # knn was not rerun: its base score plus the (only, pooled) gain of 0.08
    assert real.scores[0, knn] == pytest.approx(0.70 + 0.08)
    assert real.failed[0, svm] and np.isnan(real.scores[0, svm])
    # probes run at the base size compare with the base scores
    np.testing.assert_allclose(real.probe_scores(), base.scores)
    np.testing.assert_allclose(real.subset([0]).probe_scores(), base.scores)


def test_a_config_that_fails_at_the_real_size_counts_as_failed(two_size_kb):
    results = two_size_kb._results
    extra = results[(results["config_id"] == "rf") & (results["n_rows_used"] == 2000)].copy()
    extra["config_id"], extra["status"], extra["accuracy"] = "knn", "error", np.nan
    two_size_kb._results = pd.concat([results, extra], ignore_index=True)
    two_size_kb._cache.clear()
    real = TrainingData.from_kb(two_size_kb, "classification", "accuracy", fidelity="real_size")
    knn = real.config_ids.index("knn")
    assert real.failed[0, knn] and np.isnan(real.scores[0, knn])


def test_an_unknown_training_fidelity_is_refused(two_size_kb):
    with pytest.raises(KnowledgeBaseError, match="fidelity must be one of"):
        TrainingData.from_kb(two_size_kb, "classification", "accuracy", fidelity="largest")


def test_meta_models_learn_from_real_size_scores_by_default(two_size_kb):
    from autometa.metamodel import get_model

    model = get_model("sbs").fit(two_size_kb, "classification", "accuracy")
    assert model.fidelity_ == "real_size"
    assert get_model("sbs").set_state(model.get_state()).fidelity_ == "real_size"
    base = get_model("sbs").fit(two_size_kb, "classification", "accuracy", fidelity="base")
    assert base.fidelity_ == "base"


def test_an_algorithm_for_small_tables_does_not_apply_at_the_real_size():
    pytest.importorskip("torch")
    from autometa.metamodel._training import _inapplicable

    algorithms = ["fewshot", "random_forest", "not_in_this_space"]
    assert _inapplicable("classification", algorithms, 600).tolist() == [False] * 3
    assert _inapplicable("classification", algorithms, 6000).tolist() == [True, False, False]
