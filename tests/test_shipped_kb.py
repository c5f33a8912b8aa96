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


def test_demo_runs_on_the_shipped_kb_without_a_warning_per_fold(monkeypatch, tmp_path):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from typer.testing import CliRunner

    from autometa.cli import app

    monkeypatch.delenv("AUTOMETA_KB", raising=False)
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = CliRunner().invoke(app, ["demo", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert "breast_cancer (scikit-learn)" in result.output
    assert "cross-validated here (5 folds): balanced_accuracy 0.9" in result.output
