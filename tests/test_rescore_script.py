"""``scripts/rescore_balanced_accuracy.py``: a knowledge base whose balanced accuracy was
scored before the balanced decision, scored again where the decision moves it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa import batch
from autometa.kb import KnowledgeBase

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import rescore_balanced_accuracy as rescore

TASK = "classification"
DEFAULTS = 12  # the portfolio starts with every classifier's default, SVMs included


def _write_imbalanced(folder: Path, name: str, minority: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    y = (rng.random(240) < minority).astype(int)
    X = rng.normal(size=(240, 3)) + y[:, None] * 0.8
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(target=np.where(y, "rare", "common"))
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def fresh_and_stale(tmp_path):
    """A knowledge base as the batch records it now, and the same with every balanced
    accuracy overwritten (as if scored some other way before)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    sources = [
        str(_write_imbalanced(suite, "mild", 0.35, 0)),
        str(_write_imbalanced(suite, "skewed", 0.1, 1)),
    ]
    fresh = tmp_path / "fresh"
    batch.run(
        sources,
        fresh,
        configs=DEFAULTS,
        cv=3,
        max_rows=500,
        include_optional=True,
        time_limit=60,
        progress=False,
    )
    kb = KnowledgeBase.load(fresh)
    results = kb._results.assign(balanced_accuracy=-1.0)
    stale = tmp_path / "stale"
    KnowledgeBase(kb._datasets, kb._metafeatures, results, kb._configs, dict(kb.info)).save(stale)
    return KnowledgeBase.load(fresh), stale


def test_rescoring_redoes_exactly_the_cells_the_decision_moves(
    fresh_and_stale, tmp_path, monkeypatch
):
    fresh, stale = fresh_and_stale
    monkeypatch.setattr(rescore, "CONFIGS", DEFAULTS)
    moved = set(rescore.moved_configs(fresh))
    algorithms = {c: cfg["algorithm"] for c, cfg in fresh.configs(TASK).items()}
    assert {algorithms[c] for c in moved} >= {"random_forest", "logistic_regression"}
    assert not {algorithms[c] for c in moved} & {"linear_svm", "rbf_svm"}
    assert rescore.by_imbalance(fresh) == ["skewed", "mild"]

    work = tmp_path / "work"
    rescore.main([str(stale), "--work", str(work), "--max-datasets", "1"])
    assert json.loads((work / rescore.PROGRESS).read_text())["done"] == ["skewed"]
    rescore.main([str(stale), "--work", str(work), "--finish"])
    assert not work.exists()
    halfway = KnowledgeBase.load(stale)
    assert halfway.info[rescore.RECORD] == ["skewed"]
    assert "on 1 classification datasets" in halfway.info["notes"]
    assert "plain argmax on the other 1" in halfway.info["notes"]

    # a later run (a new work folder: another session) goes on with the dataset left
    rescore.main([str(stale), "--work", str(work)])
    assert json.loads((work / rescore.PROGRESS).read_text())["done"] == ["skewed", "mild"]
    rescore.main([str(stale), "--work", str(work), "--finish"])
    after = KnowledgeBase.load(stale)
    assert after.info[rescore.RECORD] == ["mild", "skewed"]
    assert after.info["notes"].count("balanced decision") == 1
    assert "balanced decision on 2 classification datasets" in after.info["notes"]
    assert "plain argmax" not in after.info["notes"]
    key = ["dataset", "config_id", "fold", "n_rows_used"]
    both = fresh.results(TASK, fidelity="all").merge(
        after.results(TASK, fidelity="all"), on=key, suffixes=("_fresh", "_after")
    )
    assert len(both) == len(fresh.results(TASK, fidelity="all"))
    redone = both["config_id"].isin(moved)
    np.testing.assert_allclose(
        both.loc[redone, "balanced_accuracy_after"], both.loc[redone, "balanced_accuracy_fresh"]
    )
    assert (both.loc[~redone, "balanced_accuracy_after"] == -1.0).all()  # left alone
    np.testing.assert_allclose(both["accuracy_after"], both["accuracy_fresh"])


def test_finish_refuses_a_half_rescored_dataset(tmp_path):
    (tmp_path / rescore.PROGRESS).write_text(json.dumps({"done": [], "started": "skewed"}))
    with pytest.raises(SystemExit, match="skewed is half rescored"):
        rescore.finish(str(tmp_path / "kb"), tmp_path)


def test_until_is_the_next_such_time_of_day():
    import datetime as dt

    now = dt.datetime(2026, 12, 5, 23, 30)
    assert rescore.deadline("00:50", now) == dt.datetime(2026, 12, 6, 0, 50)
    assert rescore.deadline("23:45", now) == dt.datetime(2026, 12, 5, 23, 45)
    assert rescore.deadline(None, now) is None
