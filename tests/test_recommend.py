"""autometa.recommend: results, pipelines, robustness, time budget, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa import space
from autometa._testing import space_kb as synthetic_space_kb
from autometa._testing import synthetic_kb
from autometa.errors import ConfigError, KnowledgeBaseError, TaskMismatchError
from autometa.recommendation import NoveltyWarning, Recommendations

FAST_DEFAULT = "knn"  # the ranker-based models are covered in tests/metamodel


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def space_kb():
    """A classification KB whose configs are real search-space configs."""
    return synthetic_space_kb(
        n_datasets=30, seed=1, fit_time=5.0, fast=("logistic_regression", "decision_tree")
    )


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    df["colour"] = rng.choice(["red", "green", None], size=200)
    df.loc[::9, "a"] = np.nan
    df["y"] = (df["b"] + (df["colour"] == "red") > 0.3).map({True: "yes", False: "no"})
    return df


def test_recommendations_shape_and_contents(space_kb, frame):
    recs = autometa.recommend(frame, target="y", k=4, kb=space_kb, model="default")
    assert isinstance(recs, Recommendations) and len(recs) == 4
    assert [r.rank for r in recs] == [1, 2, 3, 4]
    assert len({r.config_id for r in recs}) == 4
    r = recs[0]
    assert r.algorithm == r.config["algorithm"] and r.metric == "balanced_accuracy"
    assert 0.5 < r.predicted_score < 1.0 and r.predicted_std > 0
    assert list(r.evidence.columns) == ["dataset", "distance", "score", "rank", "n_configs"]
    assert len(r.evidence) == 5 and r.evidence["distance"].is_monotonic_increasing
    table = recs.to_frame()
    assert list(table.index) == [1, 2, 3, 4] and "predicted_std" in table
    text = repr(recs)
    assert "Recommendations for" in text and r.algorithm in text
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(recs)
    assert r.algorithm in console.export_text()
    json.dumps(recs.to_dict())  # JSON-able


def test_make_pipeline_fits_raw_frame(space_kb, frame):
    recs = autometa.recommend(frame, target="y", k=2, kb=space_kb, model=FAST_DEFAULT)
    X, y = frame.drop(columns="y"), frame["y"]
    for rec in recs:
        pipe = rec.make_pipeline()
        assert pipe is not rec.make_pipeline()  # a new estimator each time
        with space.quiet_fit_warnings():
            pred = pipe.fit(X, y).predict(X)
        assert set(pred) <= {"yes", "no"}


def test_opaque_configs_recommend_but_do_not_build(frame):
    kb = synthetic_kb(n_datasets=30)
    recs = autometa.recommend(frame, target="y", k=3, kb=kb, model=FAST_DEFAULT)
    assert recs[0].algorithm in kb.configs("classification")
    with pytest.raises(ConfigError, match="from_frames"):
        recs[0].make_pipeline()


def test_deterministic(space_kb, frame):
    a = autometa.recommend(frame, target="y", k=5, kb=space_kb, model="random", random_state=3)
    b = autometa.recommend(frame, target="y", k=5, kb=space_kb, model="random", random_state=3)
    assert [r.config_id for r in a] == [r.config_id for r in b]


def test_task_and_metric_mismatch(space_kb, frame):
    reg = frame.assign(y=np.arange(len(frame), dtype=float) * 1.5)
    with pytest.raises(TaskMismatchError, match="regression"):
        autometa.recommend(reg, target="y", kb=space_kb)
    with pytest.raises(TaskMismatchError, match="'r2'"):
        autometa.recommend(frame, target="y", kb=space_kb, metric="r2")
    with pytest.raises(KnowledgeBaseError, match="'roc_auc'"):
        autometa.recommend(frame, target="y", kb=space_kb, metric="roc_auc")


def test_unlike_anything_warns_and_widens_std(space_kb, frame):
    typical = autometa.recommend(frame, target="y", k=3, kb=space_kb, model=FAST_DEFAULT)
    rng = np.random.default_rng(0)
    odd = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.integers(0, 300, 3000)})
    odd["y"] = odd["y"].astype(str)
    with pytest.warns(NoveltyWarning, match="number of classes"):
        recs = autometa.recommend(odd, target="y", k=3, kb=space_kb, model=FAST_DEFAULT)
    assert len(recs) == 3 and recs.warnings
    assert np.mean([r.predicted_std for r in recs]) > np.mean([r.predicted_std for r in typical])


def test_time_budget_prefers_fast_configs(space_kb, frame):
    recs = autometa.recommend(frame, target="y", k=3, kb=space_kb, model="default", time_budget=1.0)
    assert {r.algorithm for r in recs[:2]} <= {"logistic_regression", "decision_tree"}
    assert all(np.isfinite(r.predicted_fit_time) for r in recs)
    assert recs[0].predicted_fit_time < 1.0


def test_user_results_extend_the_kb(frame):
    kb = synthetic_kb(n_datasets=30)
    own = autometa.load_dataset(frame, target="y", name="mine")
    import metafeatures

    mf = metafeatures.extract(
        own.X, own.y, task="classification", groups=["general"], categorical=own.categorical
    )
    kb.add_results(
        own,
        {"algorithm": "my_secret_model"},
        [{"fold": f, "balanced_accuracy": 0.99} for f in range(3)],
        metafeatures=mf,
    )
    kb.add_results(own, {"algorithm": "lin_0"}, {"balanced_accuracy": 0.6}, config_id="lin_0")
    assert "mine" in kb.datasets("classification").index
    assert "my_secret_model" in {c["algorithm"] for c in kb.configs("classification").values()}
    recs = autometa.recommend(frame, target="y", k=1, kb=kb, model=FAST_DEFAULT)
    assert recs[0].algorithm == "my_secret_model"  # its own nearest neighbour says so


def test_metafeature_work_is_bounded_for_large_tables(space_kb, monkeypatch):
    """The latency target itself is measured by benchmarks/recommend_latency.py; here: the
    costly meta-features see a bounded row sample and a time budget, whatever the size."""
    import metafeatures
    from autometa.recommendation import QUERY_METAFEATURE_ROWS

    seen = {}
    extract = metafeatures.extract

    def recording_extract(*args, **kwargs):
        values, info = extract(*args, **kwargs)
        seen.update(info, time_budget=kwargs.get("time_budget"))
        return values, info

    monkeypatch.setattr(metafeatures, "extract", recording_extract)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(12_000, 20)), columns=[f"f{i}" for i in range(20)])
    df["y"] = (df["f0"] > 0).astype(int)
    autometa.recommend(df, target="y", kb=space_kb, model=FAST_DEFAULT)
    assert seen["n_rows"] == 12_000
    assert seen["sampled"] and seen["n_rows_sampled"] <= QUERY_METAFEATURE_ROWS
    assert seen["time_budget"] is not None and seen["time_budget"] > 0


def test_kb_path_and_cli(space_kb, frame, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from autometa.cli import app

    space_kb.save(tmp_path / "kb")
    frame.to_csv(tmp_path / "data.csv", index=False)
    monkeypatch.setenv("AUTOMETA_KB", str(tmp_path / "kb"))
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(tmp_path / "data.csv"),
            "--target",
            "y",
            "-k",
            "2",
            "--model",
            FAST_DEFAULT,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert len(payload["recommendations"]) == 2 and payload["task"] == "classification"
    result = CliRunner().invoke(
        app, ["recommend", str(tmp_path / "data.csv"), "--target", "y", "--model", FAST_DEFAULT]
    )
    assert result.exit_code == 0 and "predicted" in result.output
    result = CliRunner().invoke(
        app,
        [
            "evaluate-metamodels",
            "--task",
            "classification",
            "--models",
            "sbs,knn",
            "--ks",
            "1,3",
            "--n-folds",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "gap_closed" in result.output and "knn" in result.output
    result = CliRunner().invoke(
        app,
        [
            "evaluate-metamodels",
            "--task",
            "classification",
            "--models",
            "sbs,knn",
            "--ks",
            "1",
            "--n-folds",
            "3",
            "--weighting",
            "fold",
            "--checkpoint",
            str(tmp_path / "eval.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "eval.jsonl").read_text().splitlines()) == 1 + 3
    assert "fold" in result.stdout.splitlines()[-1].split()  # the table; its legend: stderr
    bad_weighting = ["--task", "classification", "--models", "sbs", "--weighting", "families"]
    result = CliRunner().invoke(app, ["evaluate-metamodels", *bad_weighting])
    assert result.exit_code != 0 and "'families'" in str(result.exception)


@pytest.mark.parametrize(
    "loader, task",
    [
        ("load_breast_cancer", "classification"),
        ("load_wine", "classification"),
        ("load_diabetes", "regression"),
    ],
)
def test_shipped_kb_end_to_end(loader, task):
    """The committed knowledge base (data/kb) recommends for scikit-learn's tables, and
    the first pick builds a pipeline that fits the raw frame."""
    import sklearn.datasets

    from autometa.kb import default_kb_path

    if not (default_kb_path() / "kb.json").exists():
        pytest.skip("no shipped knowledge base")
    df = getattr(sklearn.datasets, loader)(as_frame=True).frame
    recs = autometa.recommend(df, target="target", k=3, model=FAST_DEFAULT)
    assert recs.task == task and len(recs) == 3
    assert recs.metric == ("balanced_accuracy" if task == "classification" else "r2")
    assert len(recs[0].evidence) > 0 and np.isfinite(recs[0].predicted_score)
    pipe = recs[0].make_pipeline()
    X = df.drop(columns="target").iloc[:120]
    pipe.fit(X, df["target"].iloc[:120])
    assert len(pipe.predict(X)) == 120


def test_console_script_reports_user_errors_in_one_line(tmp_path, frame, capsys):
    from autometa.cli import run

    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(SystemExit) as exit_info:
        run(["recommend", str(tmp_path / "data.csv"), "--target", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: target column 'nope'") and "Traceback" not in err
    bad = ["--weighting", "families"]
    with pytest.raises(SystemExit) as exit_info:
        run(["evaluate-metamodels", "--task", "classification", "--models", "sbs", *bad])
    assert exit_info.value.code == 2 and "'families'" in capsys.readouterr().err


def test_recommend_from_openml_source(space_kb, openml_cache):
    """``recommend`` takes any source ``load_dataset`` does: here ``openml:2`` (anneal, with
    categoricals and missing values) from the offline OpenML cache."""
    recs = autometa.recommend("openml:2", k=3, kb=space_kb, model=FAST_DEFAULT)
    assert recs.task == "classification" and len(recs) == 3
    dataset = autometa.load_dataset("openml:2")
    pipe = recs[0].make_pipeline()
    pipe.fit(dataset.X, dataset.y)
    assert pipe.score(dataset.X, dataset.y) > 0.5


def test_missing_values_in_a_few_columns_are_not_novel():
    """Real tables have NaN; a few NaN columns must not make a known table 'novel'."""
    import warnings

    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    holed = X.copy()
    rng = np.random.default_rng(0)
    for column in X.columns[:4]:
        holed.loc[rng.random(len(X)) < 0.1, column] = np.nan
    stds = []
    for frame in (X, holed):
        with warnings.catch_warnings():
            warnings.simplefilter("error", NoveltyWarning)
            recs = autometa.recommend(frame.assign(y=y), target="y", k=1)
        stds.append(recs[0].predicted_std)
    assert stds[1] <= 2 * stds[0] and stds[0] <= 2 * stds[1]


def test_scaler_ignores_constant_and_clips_outlying_metafeatures():
    from autometa.metamodel._base import FeatureScaler

    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "constant": np.zeros(50),
            "x": rng.normal(size=50),
            "heavy": np.r_[rng.normal(size=49), 1e6],
        }
    )
    scaler = FeatureScaler().fit(train)
    assert "constant" not in scaler.columns_
    far = scaler.transform(pd.Series({"constant": 1e9, "x": 1e9, "heavy": -1e9}))
    assert np.all(np.abs(far) <= 1 + 2 * FeatureScaler.CLIP)
    inside = scaler.transform(train)
    assert np.median(np.abs(inside[:, scaler.columns_.index("heavy")])) < 1
