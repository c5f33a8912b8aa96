"""What a new user of the ``autometa`` command meets: --task, warnings shown once and
readably, --json that reads back, notes, and help without ``<bool>``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autometa._cli_support import readable_warnings
from autometa.cli import app
from autometa.kb import default_kb_path
from autometa.recommendation import Recommendations

MODEL = "knn"  # the cheapest meta-model to fit

needs_shipped_kb = pytest.mark.skipif(
    not (default_kb_path() / "kb.json").exists(), reason="no shipped knowledge base"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AUTOMETA_KB", raising=False)


@pytest.fixture
def twelve_levels(tmp_path):
    """A numeric target with 12 levels, which task inference reads as classes; no target
    column named, so the loader says which it took (a DataWarning)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 5)), columns=list("abcde"))
    df["target"] = np.clip(np.round(df["a"] * 3 + 6), 0, 11).astype(int)
    path = tmp_path / "levels.csv"
    df.to_csv(path, index=False)
    return path


@needs_shipped_kb
def test_task_option_and_the_metric_error_suggests_it(twelve_levels):
    result = CliRunner().invoke(
        app, ["recommend", str(twelve_levels), "--metric", "r2", "--model", MODEL]
    )
    assert result.exit_code != 0
    assert "--task regression" in str(result.exception)
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(twelve_levels),
            "--metric",
            "r2",
            "--model",
            MODEL,
            "--task",
            "regression",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    recs = Recommendations.from_json(result.stdout)
    assert recs.task == "regression" and recs.metric == "r2"


def test_tune_passes_task_through(twelve_levels, monkeypatch):
    import autometa

    seen = []

    def fake_tune(dataset, **kwargs):
        seen.append(dataset.task)
        raise KeyboardInterrupt  # stop before any trial

    monkeypatch.setattr(autometa, "tune", fake_tune)
    for extra, task in (([], "classification"), (["--task", "regression"], "regression")):
        result = CliRunner().invoke(app, ["tune", str(twelve_levels), *extra])
        assert seen[-1] == task, result.output


@needs_shipped_kb
def test_warnings_are_one_readable_line_each_shown_once(twelve_levels, tmp_path):
    result = CliRunner().invoke(app, ["recommend", str(twelve_levels), "--model", MODEL, "-k", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "warning: DataWarning: no target given; using column 'target'" in result.stderr
    assert len(lines) == len(set(lines)) and "typer" not in result.stderr

    rng = np.random.default_rng(0)  # 300 classes: unlike every knowledge-base dataset
    odd = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.integers(0, 300, 3000).astype(str)})
    odd.to_csv(tmp_path / "odd.csv", index=False)
    result = CliRunner().invoke(
        app, ["recommend", str(tmp_path / "odd.csv"), "--target", "y", "--model", MODEL, "-k", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("is unlike the knowledge base") == 1


def test_a_warning_raised_in_several_places_is_shown_once(capsys):
    with readable_warnings():
        warnings.simplefilter("always")
        for _ in range(3):
            warnings.warn("lbfgs failed to converge\nIncrease max_iter", UserWarning, stacklevel=1)
        warnings.warn("another", UserWarning, stacklevel=1)
    assert capsys.readouterr().err.splitlines() == [
        "warning: UserWarning: lbfgs failed to converge Increase max_iter",
        "warning: UserWarning: another",
    ]


@needs_shipped_kb
def test_json_output_reads_back_and_notes_go_to_stderr(tmp_path):
    from sklearn.datasets import load_wine

    import autometa

    load_wine(as_frame=True).frame.to_csv(tmp_path / "wine.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(tmp_path / "wine.csv"),
            "--target",
            "target",
            "--model",
            MODEL,
            "-k",
            "500",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    recs = Recommendations.from_json(result.stdout)
    kb = autometa.KnowledgeBase.load()
    # every configuration of the shipped knowledge base that can be built here
    names = autometa.space.algorithm_names("classification", include_optional=True)
    n = sum(c["algorithm"] in names for c in kb.configs("classification").values())
    assert len(recs) == n and recs.kb_fingerprint == kb.fingerprint()
    assert recs.autometa_version == autometa.__version__
    assert f"k=500 is more than the knowledge base's {n}" in result.stderr
    recs[0].make_pipeline()  # the config and its categorical columns came back


@pytest.mark.parametrize("command", [[], ["recommend"], ["tune"], ["batch"], ["demo"]])
def test_help_shows_no_type_for_flags(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--help" in result.output and "<bool>" not in result.output


def test_evaluate_keeps_a_checkpoint_by_default_and_explains_its_columns(tmp_path, monkeypatch):
    from autometa._testing import synthetic_kb
    from autometa.metamodel import get_model

    synthetic_kb(n_datasets=20, n_variants=2).save(tmp_path / "kb")
    monkeypatch.setenv("AUTOMETA_KB", str(tmp_path / "kb"))
    args = [
        "evaluate-metamodels",
        "--task",
        "classification",
        "--models",
        "sbs,knn",
        "--ks",
        "1",
        "--n-folds",
        "3",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert (
        "evaluating 2 meta-models on 20 classification datasets, 3 held-out folds" in first.stderr
    )
    checkpoints = list((tmp_path / "cache" / "evaluate").glob("*.jsonl"))
    assert len(checkpoints) == 1 and str(checkpoints[0]) in " ".join(first.stderr.split())
    assert len(checkpoints[0].read_text().splitlines()) == 1 + 3
    assert "gap_closed_raw" in first.stderr and "unstable" in first.stderr  # the legend

    def no_fit(*args, **kwargs):
        raise AssertionError("a finished fold was refitted")

    monkeypatch.setattr(type(get_model("knn")), "fit", no_fit)
    again = CliRunner().invoke(app, args)  # every fold read back from the checkpoint
    assert again.exit_code == 0, again.output

    def table(text):  # the columns this test is about (others may be added)
        lines = text.splitlines()
        cut = lines[0].index("weighting") + len("weighting")
        return [line[:cut] for line in lines]

    assert table(again.stdout) == table(first.stdout)
    result = CliRunner().invoke(app, ["evaluate-metamodels", "--help"])
    assert "gap_closed_raw" in result.output and "--no-checkpoint" in result.output


def test_evaluate_is_a_hidden_deprecated_alias_of_evaluate_metamodels():
    from autometa.errors import InvalidParameterError

    result = CliRunner().invoke(app, ["evaluate", "--task", "clustering"])
    assert isinstance(result.exception, InvalidParameterError)  # the same command ran
    assert "use `autometa evaluate-metamodels`" in result.stderr
    listing = CliRunner().invoke(app, ["--help"]).output
    assert "evaluate-metamodels" in listing
    assert "evaluate " not in listing.replace("evaluate-metamodels", "")


def test_evaluate_refuses_an_unknown_task_before_doing_anything(tmp_path, monkeypatch):
    from autometa.errors import InvalidParameterError

    # the CLI's entry point prints this error as one line; the runner hands it back
    result = CliRunner().invoke(app, ["evaluate-metamodels", "--task", "clustering"])
    assert isinstance(result.exception, InvalidParameterError)
    assert "must be one of 'classification', 'regression', got 'clustering'" in str(
        result.exception
    )
    assert "evaluating" not in result.stderr  # refused before the run was announced
    assert not (tmp_path / "cache").exists()  # and before a checkpoint folder was made
