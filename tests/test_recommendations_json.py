"""Recommendations saved as JSON and read back: same contents, fingerprint and version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa import space
from autometa.errors import InvalidParameterError
from autometa.recommendation import Recommendations


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def kb():
    """A small classification KB of real search-space configs, with fit times."""
    from autometa._testing import space_kb

    return space_kb(n_datasets=25, seed=3)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    df["colour"] = rng.choice(["red", "green", None], size=120)
    df["y"] = np.where(df["a"] > 0, "yes", "no")
    return df


def test_json_round_trip(kb, frame, tmp_path):
    recs = autometa.recommend(frame, target="y", k=3, kb=kb, model="knn")
    assert recs.kb_fingerprint == kb.fingerprint()
    assert recs.autometa_version == autometa.__version__
    text = recs.to_json(tmp_path / "recs.json")
    json.loads(text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    for back in (
        Recommendations.from_json(text),
        Recommendations.from_json(tmp_path / "recs.json"),
    ):
        assert back.to_dict() == recs.to_dict()
        assert back.kb_fingerprint == kb.fingerprint()
        assert [r.config for r in back] == [r.config for r in recs]
        pd.testing.assert_frame_equal(back[0].evidence, recs[0].evidence, check_dtype=False)
        pd.testing.assert_series_equal(back.metafeatures, recs.metafeatures, check_names=False)
        assert back[0].categorical == ["colour"]
        X, y = frame.drop(columns="y"), frame["y"]
        with space.quiet_fit_warnings():
            back[0].make_pipeline().fit(X, y)
    assert repr(back) == repr(recs)


def test_from_json_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(InvalidParameterError, match="not JSON text.*pathlib.Path"):
        Recommendations.from_json(str(tmp_path / "recs.json"))
    with pytest.raises(InvalidParameterError, match="'recommendations'"):
        Recommendations.from_json('{"a": 1}')
    with pytest.raises(InvalidParameterError, match="format_version 99"):
        Recommendations.from_json('{"format_version": 99, "recommendations": []}')
    Path(tmp_path / "empty.json").write_text('{"recommendations": []}')
    assert len(Recommendations.from_json(tmp_path / "empty.json")) == 0
