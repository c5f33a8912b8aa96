"""The few-shot learner as an optional algorithm of the search space (issue 22).

Present only where torch imports; applies to classification tables of at most 1,000
training rows and 100 features after preprocessing; left out of every seeded draw, so the
shipped knowledge base's configurations and the portfolio stay the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

import autometa
from autometa import space
from autometa.errors import ConfigError

needs_torch = pytest.mark.skipif(
    "fewshot" not in space.ALGORITHMS["classification"], reason="torch is not installed"
)
REPO = Path(__file__).resolve().parents[1]


def fewshot_config(**params) -> dict:
    config = next(
        c
        for c in space.defaults("classification", include_optional=True)
        if c["algorithm"] == "fewshot"
    )
    return {**config, "params": {**config["params"], **params}}


def quiet_fit(pipeline, X, y):
    """Fit without the fallback warning (no weights are shipped yet: logistic regression)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # FewShotFallbackWarning is one
        return pipeline.fit(X, y)


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# --------------------------------------------------------------------------------------
# presence, and nothing else changes
# --------------------------------------------------------------------------------------


@needs_torch
def test_fewshot_is_an_optional_small_table_classification_algorithm():
    algorithm = space.ALGORITHMS["classification"]["fewshot"]
    assert algorithm.optional and algorithm.limited
    assert (algorithm.max_rows, algorithm.max_features) == (1000, 100)
    assert "fewshot" not in space.ALGORITHMS["regression"]
    assert list(space.ALGORITHMS["classification"])[-1] == "fewshot"  # after the others
    assert "fewshot" not in space.algorithm_names("classification")
    assert space.algorithm_names("classification", include_optional=True)[-1] == "fewshot"
    assert "fewshot" not in [c["algorithm"] for c in space.defaults("classification")]
    config = fewshot_config()
    assert config["params"] == {"method": None, "n_ensemble": 4}  # None: the shipped default
    assert space.unavailable("classification", "fewshot") is None
    json.dumps(config)


def test_seeded_draws_and_the_shipped_configs_do_not_change():
    # config ids of the portfolio before the few-shot learner existed (= the shipped
    # configurations of data/kb/configs.json but the optional algorithms' defaults)
    shipped = REPO / "data" / "kb" / "configs.json"
    if shipped.is_file():
        configs = json.loads(shipped.read_text())
        for task in space.TASKS:
            ids = {space.config_id(c) for c in space.portfolio(task, 100, random_state=0)}
            plain = space.algorithm_names(task)
            assert ids == {cid for cid, c in configs[task].items() if c["algorithm"] in plain}
    assert [space.config_id(c) for c in space.sample("classification", 6, 1)] == [
        "linear_svm-bde2433485",
        "decision_tree-9c72824902",
        "lda-855366d52d",
        "decision_tree-7be15dc07b",
        "logistic_regression-f09f1cdc99",
        "lda-f3cf429e45",
    ]
    assert [space.config_id(c) for c in space.defaults("classification")] == [
        "logistic_regression-b8aab0dabe",
        "linear_svm-efc447fe1f",
        "rbf_svm-0136eb140c",
        "knn-455edd3af5",
        "decision_tree-0edec0a32e",
        "random_forest-1be87c2e29",
        "extra_trees-fced72595c",
        "hist_gradient_boosting-3d1d5aef5f",
        "xgboost-d33d24c552",
        "mlp-c44cbff9a2",
        "gaussian_nb-e11d72f576",
        "lda-34e6651c59",
    ]
    drawn = space.sample("classification", 300, 0)
    assert "fewshot" not in {c["algorithm"] for c in drawn}
    # a knowledge base without it encodes as before (the ranker's columns)
    assert not [c for c in space.encode(space.defaults("classification")).columns if "fewshot" in c]


@needs_torch
def test_portfolio_appends_the_optional_defaults_when_asked():
    plain = space.portfolio("classification", 30, random_state=0)
    extended = space.portfolio("classification", 30, random_state=0, include_optional=True)
    assert extended[:30] == plain
    assert [c["algorithm"] for c in extended[30:]] == ["fewshot"]
    assert space.portfolio("regression", 20, 0, include_optional=True) == space.portfolio(
        "regression", 20, 0
    )
    encoded = space.encode(extended)
    assert list(encoded.columns[-3:]) == [
        "algorithm=fewshot",
        "fewshot.method",
        "fewshot.n_ensemble",
    ]
    assert list(encoded.columns[:-3]) == list(space.encode(plain).columns)
    assert encoded.iloc[-1]["algorithm=fewshot"] == 1.0
    assert np.isnan(encoded.iloc[0]["fewshot.n_ensemble"])


def test_absent_without_torch_and_import_stays_torch_free():
    out = run_python(
        """
        import sys

        class Hidden:  # every finder, blind to torch: as if it were not installed
            def __init__(self, finder):
                self.finder = finder

            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    return None
                find = getattr(self.finder, "find_spec", None)
                return None if find is None else find(name, path, target)

        sys.meta_path[:] = [Hidden(f) for f in sys.meta_path]
        try:
            import torch
        except ImportError:
            pass
        else:
            raise AssertionError("torch is not hidden")
        import autometa
        from autometa import space
        from autometa.errors import ConfigError
        assert "fewshot" not in space.ALGORITHMS["classification"]
        assert "fewshot" not in space.algorithm_names("classification", include_optional=True)
        assert space.defaults("classification", include_optional=True) == space.defaults(
            "classification"
        )
        assert len(space.portfolio("classification", 20, 0, include_optional=True)) == 20
        config = dict(space.defaults("classification")[0], algorithm="fewshot", params={})
        try:
            space.validate(config)
        except ConfigError as exc:
            assert "PyTorch" in str(exc) and "autometa[torch]" in str(exc), exc
        else:
            raise AssertionError("validate() accepted fewshot without torch")
        assert "PyTorch" in space.unavailable("classification", "fewshot")
        print("absent")
        """
    )
    assert "absent" in out
    # with torch installed: the space knows the algorithm without importing torch
    out = run_python(
        """
        import sys
        import autometa
        from autometa import space
        space.defaults("classification", include_optional=True)
        space.portfolio("classification", 20, 0, include_optional=True)
        space.build(space.defaults("classification")[0])
        print("fewshot" in space.ALGORITHMS["classification"], "torch" in sys.modules)
        """
    )
    assert out.split()[1] == "False"


def test_absent_when_torch_available_says_no(monkeypatch):
    import autometa.fewshot
    from autometa import _space_algorithms

    monkeypatch.setattr(autometa.fewshot, "torch_available", lambda: False)
    algorithms = _space_algorithms.allowlist()
    assert "fewshot" not in algorithms["classification"]
    assert list(algorithms["classification"]) == space.algorithm_names("classification")


# --------------------------------------------------------------------------------------
# validate, suggest
# --------------------------------------------------------------------------------------


@needs_torch
def test_validate_accepts_and_refuses_its_parameters():
    for params in (
        {},
        {"method": "protonet"},
        {"method": None, "n_ensemble": 1},
        {"n_ensemble": 8},
    ):
        assert space.validate(fewshot_config(**params))
    refused = [
        ({"method": "tabpfn"}, "not one of"),
        ({"n_ensemble": 0}, "outside its range"),
        ({"n_ensemble": 9}, "outside its range"),
        ({"n_ensemble": 2.5}, "must be an integer"),
        ({"n_ensemble": "4"}, "must be a number"),
        ({"device": "cuda"}, "no hyperparameter 'device'"),
    ]
    for params, message in refused:
        with pytest.raises(ConfigError, match=message):
            space.validate(fewshot_config(**params))
    with pytest.raises(ConfigError, match="unknown regression algorithm 'fewshot'"):
        space.validate({**fewshot_config(), "task": "regression"})
    # 4.0 (JSON) builds as 4: the classifier insists on an int
    model = space.build(fewshot_config(n_ensemble=4.0)).named_steps["model"]
    assert model.n_ensemble == 4 and isinstance(model.n_ensemble, int)


@needs_torch
def test_suggest_draws_it_only_when_named():
    import optuna

    config = fewshot_config(method="pfn", n_ensemble=2)
    with pytest.raises(ConfigError, match="not among the algorithms suggest"):
        space.to_trial_params(config)  # no trial of a default study can draw it
    names = space.algorithm_names("classification", include_optional=True)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.to_trial_params(config, algorithms=names))
    drawn = space.suggest(study.ask(), "classification", algorithms=names)
    assert drawn == config
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))  # its own list
    drawn = [space.suggest(study.ask(), "classification", algorithms=["fewshot"]) for _ in range(5)]
    assert all(space.validate(c) and c["algorithm"] == "fewshot" for c in drawn)


# --------------------------------------------------------------------------------------
# applicability
# --------------------------------------------------------------------------------------


@needs_torch
def test_applies_to_at_most_1000_rows_and_100_features():
    algorithm = space.ALGORITHMS["classification"]["fewshot"]
    assert algorithm.applies(1000, 100)
    assert "1,000 training rows" in algorithm.not_applicable(1001)
    assert "100 features" in algorithm.not_applicable(50, 101)
    assert space.ALGORITHMS["classification"]["random_forest"].applies(10**7, 10**5)

    rng = np.random.default_rng(0)
    config = fewshot_config()
    tall = pd.DataFrame(rng.normal(size=(1200, 3)), columns=list("abc"))
    y_tall = np.arange(1200) % 2
    assert "1,200" in space.not_applicable(config, tall, y_tall)
    assert space.not_applicable(config, tall, y_tall, n_rows=960) is None  # a CV training fold
    assert space.not_applicable(space.defaults("classification")[0], tall, y_tall) is None

    wide = pd.DataFrame(rng.normal(size=(40, 101)), columns=[f"x{i}" for i in range(101)])
    y = np.arange(40) % 2
    assert "101" in space.not_applicable(config, wide, y)
    assert space.not_applicable(config, wide.iloc[:, :100], y) is None
    # counted after encoding: 90 numeric columns + a 15-level categorical one-hot encoded
    mixed = wide.iloc[:, :90].assign(code=[f"c{i % 15}" for i in range(40)])
    assert space.preprocessed_width(config, mixed, y, ["code"]) == 105
    assert space.not_applicable(config, mixed, y, ["code"]) is not None
    assert space.not_applicable({**config, "encoding": "ordinal"}, mixed, y, ["code"]) is None


# --------------------------------------------------------------------------------------
# pipelines
# --------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("loader", [load_iris, load_breast_cancer])
def test_pipeline_holds_a_fewshot_classifier_and_fits_small_tables(loader):
    from autometa.fewshot import FewShotClassifier

    X, y = loader(return_X_y=True, as_frame=True)
    X, y = X.iloc[::5].reset_index(drop=True), y.iloc[::5].reset_index(drop=True)
    pipeline = space.build(fewshot_config())
    assert isinstance(pipeline.named_steps["model"], FewShotClassifier)
    assert pipeline.named_steps["model"].device == "cpu"
    quiet_fit(pipeline, X, y)
    proba = pipeline.predict_proba(X)
    assert proba.shape == (len(X), y.nunique())
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    predictions = pipeline.predict(X)
    assert set(predictions) <= set(y)
    assert (predictions == y).mean() > 0.8  # easy tables, predicted on their own rows


@needs_torch
def test_pipeline_fits_raw_mixed_columns_with_missing_values():
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue", None], n),
            "flag": rng.choice([True, False], n),
        }
    )
    X.loc[::5, "num"] = np.nan
    y = pd.Series(rng.choice(["a", "b", "c"], n))
    for encoding in space.PREPROCESSING["encoding"]:
        pipeline = quiet_fit(
            space.build({**fewshot_config(), "encoding": encoding}, ["colour"]), X, y
        )
        assert set(pipeline.predict(X)) <= set(y)


# --------------------------------------------------------------------------------------
# evaluation and the batch runner
# --------------------------------------------------------------------------------------


@needs_torch
def test_evaluate_runs_it_where_it_applies_and_records_not_applicable_elsewhere():
    from autometa.evaluate import evaluate

    small = autometa.load_dataset(
        load_breast_cancer(as_frame=True).frame.iloc[::4], target="target"
    )
    result = evaluate(fewshot_config(), small, cv=3, time_limit=120)  # in its limited child
    assert result.status == "ok", result.error
    assert 0.8 < result.mean("roc_auc") <= 1.0

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1300, 3)), columns=list("abc"))
    frame["y"] = (frame["a"] > 0).astype(int)
    large = autometa.load_dataset(frame, target="y")
    result = evaluate(fewshot_config(), large, cv=5)  # largest training fold: 1,040 rows
    assert [f["status"] for f in result.folds] == ["not_applicable"] * 5
    assert "1,000 training rows" in result.error and "1,040" in result.error
    assert np.isnan(result.mean("accuracy"))
    assert evaluate(space.defaults("classification")[0], large, cv=5).status == "ok"


@needs_torch
def test_batch_include_optional_evaluates_it_where_it_applies(tmp_path):
    from autometa import batch
    from autometa._testing import write_toy_suite
    from autometa.kb import KnowledgeBase
    from autometa.metamodel._base import TrainingData

    suite = write_toy_suite(tmp_path / "suite", n_datasets=1)  # toy_0: 80 rows, classification
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(60, 110)), columns=[f"x{i}" for i in range(110)])
    wide.assign(target=np.where(wide["x0"] > 0, "yes", "no")).to_csv(
        suite / "wide.csv", index=False
    )
    kb_dir = tmp_path / "kb"
    run = {
        "configs": 2,
        "cv": 2,
        "tasks": ("classification",),
        "progress": False,
        "include_optional": True,
    }
    summary = batch.run(f"dir:{suite}", kb_dir, **run)
    assert summary.not_applicable == {"wide": 1}
    assert summary.done == {"toy_0": 3, "wide": 2} and not summary.failed
    kb = KnowledgeBase.load(kb_dir)
    fewshot = space.config_id(fewshot_config())
    assert fewshot in kb.configs("classification")
    status = kb.status_matrix("classification")
    assert status.loc["toy_0", fewshot] == "ok" and status.loc["wide", fewshot] == "not_applicable"
    assert np.isnan(kb.performance("classification", "accuracy").loc["wide", fewshot])
    data = TrainingData.from_kb(kb, "classification", "accuracy")
    j = data.config_ids.index(fewshot)
    i = data.datasets.index("wide")
    assert not data.failed[i, j] and data.not_applicable[i, j]  # unknown, not a failure
    again = batch.run(f"dir:{suite}", kb_dir, **run)  # resumes: nothing left to do
    assert again.n_evaluations == 0 and not again.not_applicable


# --------------------------------------------------------------------------------------
# recommend
# --------------------------------------------------------------------------------------


@pytest.fixture
def fewshot_kb(tmp_path, monkeypatch):
    """A knowledge base of every default configuration in which the few-shot learner is
    clearly the best everywhere."""
    from autometa._testing import synthetic_frames
    from autometa.kb import KnowledgeBase

    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))
    mf, _ = synthetic_frames(n_datasets=20, seed=3)
    configs = space.defaults("classification", include_optional=True)
    ids = [space.config_id(c) for c in configs]
    rng = np.random.default_rng(0)
    perf = pd.DataFrame(rng.uniform(0.6, 0.8, (len(mf), len(ids))), index=mf.index, columns=ids)
    perf[ids[-1]] = 0.95
    return KnowledgeBase.from_frames(
        mf, perf, task="classification", metric="balanced_accuracy", configs=dict(zip(ids, configs))
    )


@needs_torch
def test_recommend_picks_it_for_a_small_table_and_never_for_a_large_one(fewshot_kb):
    from autometa._balanced import BalancedPriorClassifier
    from autometa.fewshot import FewShotClassifier

    small = load_breast_cancer(as_frame=True).frame.iloc[::3]
    recs = autometa.recommend(small, target="target", k=3, kb=fewshot_kb, model="sbs")
    assert recs[0].algorithm == "fewshot"
    pipeline = recs[0].make_pipeline()
    # built for balanced accuracy: the learner behind balanced accuracy's decision
    assert isinstance(pipeline.named_steps["model"], BalancedPriorClassifier)
    assert isinstance(pipeline.named_steps["model"].estimator, FewShotClassifier)
    X, y = small.drop(columns="target"), small["target"]
    assert quiet_fit(pipeline, X, y).predict_proba(X).shape == (len(X), 2)

    rng = np.random.default_rng(0)
    large = pd.DataFrame(rng.normal(size=(1500, 3)), columns=list("abc"))
    large["y"] = (large["a"] > 0).astype(int)
    for model in ("sbs", "knn", "default"):
        recs = autometa.recommend(large, target="y", k=13, kb=fewshot_kb, model=model)
        assert "fewshot" not in [r.algorithm for r in recs]
        assert len(recs) == 12  # all the others
        assert any("'fewshot' are not recommended" in w for w in recs.warnings)
    recs = autometa.recommend(large, target="y", k=3, kb=fewshot_kb, model="sbs", time_budget=1e-9)
    assert "fewshot" not in [r.algorithm for r in recs]


@needs_torch
def test_recommend_leaves_it_out_where_torch_is_missing(fewshot_kb, monkeypatch):
    small = load_breast_cancer(as_frame=True).frame.iloc[::3]
    monkeypatch.setitem(space._UNAVAILABLE["classification"], "fewshot", "it needs PyTorch")
    monkeypatch.delitem(space.ALGORITHMS["classification"], "fewshot")
    recs = autometa.recommend(small, target="target", k=3, kb=fewshot_kb, model="sbs")
    assert "fewshot" not in [r.algorithm for r in recs] and len(recs) == 3
    assert any("it needs PyTorch" in w for w in recs.warnings)


# --------------------------------------------------------------------------------------
# persistence: skops files that run no code on load
# --------------------------------------------------------------------------------------


def _round_trip(obj):
    """``obj`` saved with skops and loaded back, allowing only autometa's trusted types."""
    import skops.io as sio

    from autometa._persist import TRUSTED_TYPES

    data = sio.dumps(obj)
    found = set(sio.get_untrusted_types(data=data))
    assert found <= set(TRUSTED_TYPES), sorted(found - set(TRUSTED_TYPES))
    assert not any(name.startswith("torch") for name in found), sorted(found)
    return sio.loads(data, trusted=sorted(found))


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    """Shipped weights of a tiny random PFN whose gate passes (the network, not the
    fallback, answers)."""
    import torch

    from autometa.fewshot import save_weights
    from autometa.fewshot._weights import build_model, size_config

    folder = tmp_path / "weights"
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(folder))
    torch.manual_seed(0)
    gate = {r: {"passed": True, "auc": 0.9, "baseline_auc": 0.8} for r in ("k_le_5", "k_gt_5")}
    model = build_model("pfn", size_config("pfn", "tiny")).eval()
    return save_weights(model, folder / "pfn_S.pt", {"gate": gate})


@needs_torch
def test_recommend_says_where_it_would_run_as_logistic_regression(
    fewshot_kb, tmp_path, monkeypatch
):
    """The note and the fit agree: weights gated for <= 5 rows per class answer a tiny
    table with the network and, on a larger one, recommend says the fit will fall back."""
    import torch

    from autometa.fewshot import FewShotClassifier, save_weights
    from autometa.fewshot._weights import build_model, size_config
    from autometa.fewshot.classifier import fallback_reason

    folder = tmp_path / "weights"
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(folder))
    torch.manual_seed(0)
    gate = {
        "k_le_5": {"passed": True, "auc": 0.9, "baseline_auc": 0.8},
        "k_gt_5": {"passed": False, "auc": 0.7, "baseline_auc": 0.8},
    }
    save_weights(
        build_model("pfn", size_config("pfn", "tiny")).eval(), folder / "pfn_S.pt", {"gate": gate}
    )

    X, y = load_iris(return_X_y=True, as_frame=True)
    for rows, falls_back in ((slice(None, None, 10), False), (slice(None, None, 2), True)):
        X_part, y_part = X.iloc[rows], y.iloc[rows]  # 5 and 25 rows per class
        reason = fallback_reason(y_part)
        fitted = quiet_fit(FewShotClassifier(device="cpu"), X_part, y_part)
        assert (reason is not None) is falls_back and fitted.fallback_ == reason
        frame = X_part.assign(target=y_part)
        recs = autometa.recommend(frame, target="target", k=3, kb=fewshot_kb, model="sbs")
        assert recs[0].algorithm == "fewshot"
        notes = [w for w in recs.warnings if w.startswith("'fewshot': it will run as logistic")]
        assert len(notes) == int(falls_back)
        if falls_back:
            assert "more than 5 rows per class" in notes[0] and "0.7000" in notes[0]


@needs_torch
def test_fitted_fallback_pipeline_saves_and_loads(tmp_path, monkeypatch):
    """No weights shipped: the logistic-regression fallback is saved as plain sklearn."""
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(tmp_path))  # empty: the fallback
    X, y = load_iris(return_X_y=True, as_frame=True)
    X, y = X.iloc[::3].reset_index(drop=True), y.iloc[::3].reset_index(drop=True)
    pipeline = quiet_fit(space.build(fewshot_config()), X, y)
    assert pipeline.named_steps["model"].fallback_ is not None
    loaded = _round_trip(pipeline)
    model = loaded.named_steps["model"]
    assert model.fallback_ == pipeline.named_steps["model"].fallback_
    assert model.weights_ is None and model.model_ is None
    assert str(model.device_) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))


@needs_torch
def test_fitted_network_is_saved_as_a_reference_to_its_weights(tiny_weights):
    import pickle

    import torch

    from autometa.fewshot import FewShotWeightsError, FewShotWeightsNotFoundError

    X, y = load_iris(return_X_y=True, as_frame=True)
    X, y = X.iloc[::5].reset_index(drop=True), y.iloc[::5].reset_index(drop=True)
    pipeline = quiet_fit(space.build(fewshot_config(n_ensemble=2)), X, y)
    fitted = pipeline.named_steps["model"]
    assert fitted.fallback_ is None and isinstance(fitted.model_, torch.nn.Module)
    assert fitted.weights_["file"] == "pfn_S.pt" and fitted.weights_["shipped"]
    state = fitted.__getstate__()
    assert state["model_"] is None and state["device_"] == "cpu"
    assert fitted.model_ is not None  # saving leaves the fitted object as it was
    expected = pipeline.predict_proba(X)

    loaded = _round_trip(pipeline)
    model = loaded.named_steps["model"]
    assert model.model_ is None and model.device_ == torch.device("cpu")
    np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-6)
    assert isinstance(model.model_, torch.nn.Module)  # read again on the first prediction
    again = pickle.loads(pickle.dumps(pipeline))  # joblib/pickle take the same route
    np.testing.assert_allclose(again.predict_proba(X), expected, atol=1e-6)

    # the weights it names changed or went missing: said, never other predictions
    from autometa.fewshot import save_weights
    from autometa.fewshot._weights import build_model, size_config

    torch.manual_seed(1)
    other = build_model("pfn", size_config("pfn", "tiny")).eval()
    save_weights(other, tiny_weights, {"gate": fitted.meta_["gate"]})
    with pytest.raises(FewShotWeightsError, match="other weights"):
        _round_trip(pipeline).predict(X)
    tiny_weights.unlink()
    with pytest.raises(FewShotWeightsNotFoundError, match="fit the model again"):
        _round_trip(pipeline).predict(X)


@needs_torch
def test_linear_forest_head_saves_and_loads(tmp_path, monkeypatch):
    """Above 5 rows per class the default head keeps a forest: it travels in the file."""
    import torch

    from autometa.fewshot import FewShotClassifier, save_weights
    from autometa.fewshot._weights import build_model, size_config

    folder = tmp_path / "weights"
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(folder))
    folder.mkdir()
    (folder / "default.json").write_text('{"method": "protonet", "size": "tiny"}')
    torch.manual_seed(0)
    passed = {"passed": True, "auc": 0.9, "baseline_auc": 0.8}
    gate = {"k_le_5": passed, "k_gt_5": {**passed, "head": "linear+forest"}}
    model = build_model("protonet", size_config("protonet", "tiny")).eval()
    save_weights(model, folder / "protonet_tiny.pt", {"gate": gate})

    X, y = load_iris(return_X_y=True)
    X[::4, 2] = np.nan
    clf = FewShotClassifier(device="cpu", n_ensemble=2).fit(X[::3], y[::3])  # ~17 per class
    assert clf.fallback_ is None and clf.head_ == "linear+forest"
    loaded = _round_trip(clf)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)


@needs_torch
def test_a_classifier_saved_on_a_gpu_loads_on_the_cpu(tiny_weights, monkeypatch):
    """device="auto" fitted on CUDA predicts on the CPU where CUDA is missing; an explicit
    device="cuda" says that CUDA is missing."""
    import torch

    from autometa.fewshot import FewShotClassifier

    X, y = load_iris(return_X_y=True)
    X, y = X[::5], y[::5]
    clf = FewShotClassifier(device="cpu", n_ensemble=2).fit(X, y)
    expected = clf.predict_proba(X)
    state = {**clf.__getstate__(), "device_": "cuda"}  # as a GPU machine saves it
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("auto", "cuda"):
        loaded = FewShotClassifier.__new__(FewShotClassifier)
        loaded.__setstate__({**state, "device": device})
        assert loaded.model_ is None and loaded.device_ == torch.device("cuda")
        if device == "auto":
            np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-6)
            assert loaded.device_ == torch.device("cpu")
        else:
            with pytest.raises(ValueError, match="CUDA is not available"):
                loaded.predict(X)


@needs_torch
def test_auto_classifier_with_the_fewshot_learner_saves_and_loads(
    fewshot_kb, tmp_path, monkeypatch
):
    from autometa.fewshot import FewShotClassifier

    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(tmp_path))  # the fallback
    X, y = load_iris(return_X_y=True, as_frame=True)
    X, y = X.iloc[::2].reset_index(drop=True), y.iloc[::2].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = autometa.AutoClassifier(kb=fewshot_kb, model="sbs").fit(X, y)
    # behind balanced accuracy's decision (the default metric)
    assert isinstance(model.model_.named_steps["model"].estimator_, FewShotClassifier)
    path = model.save(tmp_path / "model.skops")
    loaded = autometa.load_model(path)
    assert isinstance(loaded.model_.named_steps["model"].estimator_, FewShotClassifier)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
