"""Size-aware predictions: per-algorithm gains from the knowledge base's fidelities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autometa.metamodel._size import fit_slopes, gains, size_pairs


class _FidelityKB:
    """The one query ``size_pairs`` makes of a knowledge base."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def results(self, task, *, fidelity="base"):
        assert fidelity == "all"
        return self.frame


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
