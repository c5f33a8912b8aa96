"""The meta-model caches of ``recommend``: keyed by knowledge base, several kept, bounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa import recommendation
from autometa._testing import synthetic_kb
from autometa.kb import default_kb_path
from autometa.metamodel import get_model

MODEL = "knn"  # the cheapest meta-model to fit; the cache logic is the same for all


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AUTOMETA_KB", raising=False)
    # each test starts as a new process would: nothing in memory
    monkeypatch.setattr(recommendation, "_MODEL_CACHE", type(recommendation._MODEL_CACHE)())


@pytest.fixture
def fits(monkeypatch):
    """The meta-models fitted during the test (every fit, whether cached afterwards or not)."""
    fitted = []
    cls = type(get_model(MODEL))
    original = cls.fit

    def counting_fit(self, *args, **kwargs):
        fitted.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", counting_fit)
    return fitted


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    df["y"] = np.where(df["a"] + df["b"] > 0, "yes", "no")
    return df


def _new_process():
    """What a new ``autometa recommend`` process has in memory: nothing."""
    recommendation._MODEL_CACHE.clear()


def test_custom_kb_does_not_evict_the_shipped_kbs_model(frame, fits):
    if not (default_kb_path() / "kb.json").exists():
        pytest.skip("no shipped knowledge base")
    custom = synthetic_kb(n_datasets=20, n_variants=2)
    autometa.recommend(frame, target="y", k=2, model=MODEL)  # the shipped KB
    assert len(fits) == 1
    _new_process()
    autometa.recommend(frame, target="y", k=2, model=MODEL, kb=custom)
    assert len(fits) == 2
    _new_process()
    autometa.recommend(frame, target="y", k=2, model=MODEL)  # read from disk, not refitted
    autometa.recommend(frame, target="y", k=2, model=MODEL, kb=custom)
    assert len(fits) == 2


def test_caches_are_bounded_least_recently_used(frame, fits, monkeypatch, tmp_path):
    monkeypatch.setattr(recommendation, "MODEL_CACHE_SIZE", 2)
    monkeypatch.setattr(recommendation, "DISK_CACHE_KBS", 2)
    a, b, c = (synthetic_kb(n_datasets=20, n_variants=2, seed=s) for s in (1, 2, 3))
    assert len({kb.fingerprint() for kb in (a, b, c)}) == 3
    for kb in (a, b, a, c):  # b is now the least recently used
        autometa.recommend(frame, target="y", k=1, model=MODEL, kb=kb)
    assert len(fits) == 3 and len(recommendation._MODEL_CACHE) == 2
    folders = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert folders == sorted(f"kb-{kb.fingerprint()}" for kb in (a, c))
    for kb in (a, c):  # in memory
        autometa.recommend(frame, target="y", k=1, model=MODEL, kb=kb)
    assert len(fits) == 3
    _new_process()
    for kb in (c, a):  # on disk
        autometa.recommend(frame, target="y", k=1, model=MODEL, kb=kb)
    assert len(fits) == 3
    autometa.recommend(frame, target="y", k=1, model=MODEL, kb=b)  # evicted: refitted
    assert len(fits) == 4
