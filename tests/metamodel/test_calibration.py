"""Calibrated predictions: DefaultModel measures on held-out inner folds how far its
predictions of the top picks are off, and to_raw applies it."""

from __future__ import annotations

import numpy as np
import pytest

from autometa._testing import synthetic_kb
from autometa.metamodel import DefaultModel
from autometa.metamodel.default import calibration


@pytest.fixture(scope="module")
def fitted():
    kb = synthetic_kb(n_datasets=60, seed=3)
    return kb, DefaultModel(n_estimators=50, inner_repeats=1).fit(
        kb, "classification", "balanced_accuracy"
    )


def test_default_model_is_calibrated_on_its_inner_folds(fitted):
    _, model = fitted
    assert set(model.calibration_) == {"shift", "scale", "n"}
    assert model.calibration_["scale"] > 0 and model.calibration_["n"] >= 20
    back = DefaultModel().set_state(model.get_state())
    assert back.calibration_ == model.calibration_


def test_to_raw_applies_the_shift_and_the_scale(fitted):
    kb, model = fitted
    query = kb.metafeatures("classification").iloc[0]
    scores, std = model.rank(query)
    model.calibration_, saved = {}, model.calibration_
    try:
        raw, raw_std = model.to_raw(scores, std, query)
        model.calibration_ = {"shift": -0.5, "scale": 2.0}
        shifted, wider = model.to_raw(scores, std, query)
    finally:
        model.calibration_ = saved
    np.testing.assert_allclose(wider, 2 * raw_std)
    np.testing.assert_allclose(shifted, raw - 0.5 * raw_std)


class _Data:
    greater_is_better = True

    def __init__(self, scores):
        self.scores = scores


def test_calibration_makes_the_promised_coverage():
    rng = np.random.default_rng(0)
    n, c = 200, 8
    predicted = rng.uniform(size=(n, c))
    raw = rng.uniform(0.6, 0.9, size=(n, c))
    std = np.full((n, c), 0.01)
    outcome = raw - 0.02 + rng.standard_t(4, size=(n, c)) * 0.03  # biased, wider, heavy tails
    top = np.argsort(-predicted, axis=1)[:, :5]
    cal = calibration(_Data(outcome), raw, std, top, np.arange(n))
    z = ((outcome - raw) / std - cal["shift"]) / cal["scale"]
    z = np.take_along_axis(z, top, axis=1)
    assert 0.6 <= np.mean(np.abs(z) <= 1) <= 0.75
    assert np.mean(np.abs(z) <= 2) >= 0.9
    assert cal["shift"] == pytest.approx(-2.0, abs=0.5)


def test_calibration_reads_only_the_picked_configs():
    """What a user is shown calibrates: residuals of configs never picked (here far off) do
    not move the shift or the scale, and -1 (no pick) is skipped."""
    rng = np.random.default_rng(1)
    n, c = 100, 6
    raw = np.full((n, c), 0.8)
    std = np.full((n, c), 0.01)
    outcome = raw + rng.normal(size=(n, c)) * 0.01
    outcome[:, 3:] -= 0.5  # never picked
    picks = np.tile([0, 1, 2, -1], (n, 1))
    cal = calibration(_Data(outcome), raw, std, picks, np.arange(n))
    alone = calibration(_Data(outcome[:, :3]), raw[:, :3], std[:, :3], picks[:, :3], np.arange(n))
    assert cal == alone and cal["n"] == 3 * n
    assert abs(cal["shift"]) < 0.3 and 0.5 < cal["scale"] < 2
