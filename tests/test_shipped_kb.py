"""The knowledge base shipped in data/kb: present, loadable, and as large as promised."""

from __future__ import annotations

import pytest

from autometa import KnowledgeBase
from autometa._resources import shipped_path
from autometa.kb import default_kb_path


def test_default_path_is_the_shipped_kb(monkeypatch):
    monkeypatch.delenv("AUTOMETA_KB", raising=False)
    assert default_kb_path() == shipped_path("kb")
    assert (shipped_path("kb") / "kb.json").is_file()


@pytest.mark.parametrize(("task", "min_datasets"), [("classification", 150), ("regression", 100)])
def test_shipped_kb_meets_its_targets(monkeypatch, task, min_datasets):
    monkeypatch.delenv("AUTOMETA_KB", raising=False)
    summary = KnowledgeBase.load().summary(task)
    assert summary["n_datasets"] >= min_datasets
    assert summary["n_configs"] >= 100
    assert summary["missing_fraction"] <= 0.05
    assert summary["n_metafeatures"] >= 100
