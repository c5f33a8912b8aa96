"""FewShotClassifier and its models: invariances, robustness, weights files, training.

All with tiny randomly initialised models on CPU: these test the machinery, not the
quality of trained weights (that is ``benchmarks/fewshot.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import itertools

from autometa.errors import InvalidParameterError
from autometa.fewshot import FewShotClassifier, FewShotWeightsError, load_weights, save_weights
from autometa.fewshot._weights import build_model, size_config
from autometa.fewshot.classifier import FewShotFallbackWarning

torch.set_num_threads(1)
METHODS = ["pfn", "protonet", "maml", "reptile"]


def tiny(method: str):
    torch.manual_seed(0)
    return build_model(method, size_config(method, "tiny")).eval()


@pytest.fixture(scope="module")
def models():
    return {m: tiny(m) for m in METHODS}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    Xq = rng.normal(size=(15, 6)).astype(np.float32)
    return X, y, Xq


def proba(model, X, y, Xq, **kw):
    return FewShotClassifier(model=model, n_ensemble=2, **kw).fit(X, y).predict_proba(Xq)


def check_proba(P, n, C):
    assert P.shape == (n, C)
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_column_order_invariance(models, data, method):
    X, y, Xq = data
    perm = np.random.default_rng(1).permutation(X.shape[1])
    P = proba(models[method], X, y, Xq)
    P2 = proba(models[method], X[:, perm], y, Xq[:, perm])
    np.testing.assert_allclose(P, P2, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_label_permutation_invariance(models, data, method):
    X, y, Xq = data
    names = np.array(["zebra", "ant", "moose"])  # sorted order differs from 0, 1, 2
    P = proba(models[method], X, y, Xq)
    clf = FewShotClassifier(model=models[method], n_ensemble=2).fit(X, names[y])
    P2 = clf.predict_proba(Xq)
    np.testing.assert_allclose(P, P2[:, np.searchsorted(clf.classes_, names)], atol=1e-5)


def test_deterministic_for_fixed_seed(models, data):
    X, y, Xq = data
    P1 = proba(models["pfn"], X, y, Xq, random_state=3)
    P2 = proba(models["pfn"], X, y, Xq, random_state=3)
    np.testing.assert_array_equal(P1, P2)
    assert not np.allclose(P1, proba(models["pfn"], X, y, Xq, random_state=4))


@pytest.mark.parametrize("method", METHODS)
def test_duplicate_constant_missing_and_single_row_class(models, data, method):
    X, y, Xq = data
    X = np.column_stack([X, X[:, 0], np.full(len(X), 7.0), np.full(len(X), np.nan)])
    Xq = np.column_stack([Xq, Xq[:, 0], np.full(len(Xq), 7.0), np.full(len(Xq), np.nan)])
    X[::5, 1] = np.nan
    Xq[::3, 2] = np.nan
    y = y.copy()
    y[0] = 3  # a class with a single row
    P = proba(models[method], X, y, Xq)
    check_proba(P, len(Xq), 4)


def test_more_features_rows_and_classes_than_training(models):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 90)).astype(np.float32)  # > 64 features: subset ensemble
    y = np.arange(120) % 12  # > 10 classes: one-vs-rest
    clf = FewShotClassifier(model=models["pfn"], n_ensemble=2).fit(X, y)
    check_proba(clf.predict_proba(X[:10]), 10, 12)
    # Column-order invariance survives the feature-subset ensemble.
    perm = rng.permutation(90)
    y2 = np.arange(120) % 3
    P = FewShotClassifier(model=models["pfn"], n_ensemble=2).fit(X, y2).predict_proba(X[:5])
    P2 = (
        FewShotClassifier(model=models["pfn"], n_ensemble=2)
        .fit(X[:, perm], y2)
        .predict_proba(X[:5, perm])
    )
    np.testing.assert_allclose(P, P2, atol=1e-5)


def test_dataframe_input_and_predict(models, data):
    pd = pytest.importorskip("pandas")
    X, y, _Xq = data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    df["colour"] = np.where(X[:, 0] > 0, "red", "blue")
    clf = FewShotClassifier(model=models["protonet"], n_ensemble=1).fit(df, y)
    assert list(clf.feature_names_in_)[-1] == "colour"
    pred = clf.predict(df.iloc[:5])
    assert set(pred) <= set(clf.classes_)


def test_rejects_one_class_and_wrong_width(models, data):
    X, y, Xq = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        FewShotClassifier(model=models["pfn"]).fit(X, np.zeros(len(X)))
    clf = FewShotClassifier(model=models["pfn"]).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict_proba(Xq[:, :3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", METHODS)
def test_cpu_cuda_agreement(models, data, method):
    X, y, Xq = data
    P_cpu = proba(models[method], X, y, Xq, device="cpu")
    P_gpu = proba(models[method], X, y, Xq, device="cuda")
    np.testing.assert_allclose(P_cpu, P_gpu, atol=2e-3)


# ----------------------------------------------------------------- weights files
def test_weights_round_trip(tmp_path, data):
    X, y, Xq = data
    model = tiny("pfn")
    path = save_weights(model, tmp_path / "w.pt", {"note": "test"})
    loaded, meta = load_weights(path, "pfn")
    assert meta == {"note": "test"}
    # float16 storage: predictions agree to rounding.
    np.testing.assert_allclose(proba(model, X, y, Xq), proba(loaded, X, y, Xq), atol=2e-2)


def test_weights_errors(tmp_path):
    model = tiny("protonet")
    good = save_weights(model, tmp_path / "good.pt")
    with pytest.raises(FewShotWeightsError, match="does not exist"):
        load_weights(tmp_path / "missing.pt")
    with pytest.raises(FewShotWeightsError, match="holds 'protonet'"):
        load_weights(good, "pfn")
    payload = torch.load(good, weights_only=True)

    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(FewShotWeightsError, match="not an autometa few-shot weights file"):
        load_weights(tmp_path / "other.pt")

    torch.save({**payload, "version": 99}, tmp_path / "v99.pt")
    with pytest.raises(FewShotWeightsError, match="version 99"):
        load_weights(tmp_path / "v99.pt")

    bad = dict(payload["state_dict"])
    name = next(k for k, v in bad.items() if v.ndim == 2)
    bad[name] = torch.zeros(3, 3)
    torch.save({**payload, "state_dict": bad}, tmp_path / "shape.pt")
    with pytest.raises(FewShotWeightsError, match="has shape"):
        load_weights(tmp_path / "shape.pt")

    torch.save({**payload, "config": {**payload["config"], "d_model": 64}}, tmp_path / "cfg.pt")
    with pytest.raises(FewShotWeightsError, match="has shape"):
        load_weights(tmp_path / "cfg.pt")

    torch.save(model, tmp_path / "pickled.pt")  # a pickled module: refused by weights_only
    with pytest.raises(FewShotWeightsError, match="weights_only"):
        load_weights(tmp_path / "pickled.pt")

    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(FewShotWeightsError, match="cannot read"):
        load_weights(tmp_path / "junk.pt")


# ------------------------------------------------------------ gate and fallback
def test_fallback_without_weights(tmp_path, monkeypatch, data):
    X, y, Xq = data
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(tmp_path))
    with pytest.warns(FewShotFallbackWarning, match="no few-shot weights"):
        clf = FewShotClassifier().fit(X, y)
    assert clf.fallback_ and clf.model_ is None
    check_proba(clf.predict_proba(Xq), len(Xq), 3)


def test_gate(tmp_path, monkeypatch, data):
    X, y, _Xq = data
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(tmp_path))
    gate = {
        "k_le_5": {"passed": False, "auc": 0.7, "baseline_auc": 0.8},
        "k_gt_5": {"passed": True, "auc": 0.9, "baseline_auc": 0.85},
    }
    save_weights(tiny("pfn"), tmp_path / "pfn_S.pt", {"gate": gate})
    small = np.r_[
        np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3], np.flatnonzero(y == 2)[:3]
    ]
    with pytest.warns(FewShotFallbackWarning, match="failed the gate"):
        clf = FewShotClassifier().fit(X[small], y[small])  # 3 rows per class: k <= 5
    assert "logistic" in type(clf.fallback_estimator_[-1]).__name__.lower()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewShotFallbackWarning)
        clf = FewShotClassifier().fit(X, y)  # ~13 rows per class: k > 5, gate passed
    assert clf.fallback_ is None and clf.model_ is not None
    clf = FewShotClassifier(gate=False).fit(X[small], y[small])
    assert clf.fallback_ is None


# ------------------------------------------------------------------ the heads
def _per_class(y, n):
    return np.concatenate([np.flatnonzero(y == c)[:n] for c in np.unique(y)])


@pytest.mark.parametrize("method", METHODS)
def test_auto_head_is_linear_with_trees_above_five_rows_per_class_where_rows_are_embedded(
    models, data, method
):
    X, y, Xq = data
    many = FewShotClassifier(model=models[method], n_ensemble=1).fit(X, y)  # ~13 per class
    few = _per_class(y, 3)
    small = FewShotClassifier(model=models[method], n_ensemble=1).fit(X[few], y[few])
    assert many.head_ == ("network" if method == "pfn" else "linear+forest")
    assert small.head_ == "network"
    check_proba(many.predict_proba(Xq), len(Xq), 3)


def test_linear_head_learns_what_the_raw_features_say(models):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(240, 5)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=240) > 0).astype(int)
    from sklearn.metrics import roc_auc_score

    aucs = {}
    for head in ("network", "linear"):  # an untrained network: its embeddings say little
        clf = FewShotClassifier(model=models["protonet"], n_ensemble=1, head=head)
        P = clf.fit(X[:40], y[:40]).predict_proba(X[40:])
        aucs[head] = roc_auc_score(y[40:], P[:, 1])
    assert aucs["linear"] > 0.85 and aucs["linear"] > aucs["network"] + 0.05


def test_linear_head_is_deterministic_and_batch_independent(models, data):
    X, y, Xq = data
    P = proba(models["protonet"], X, y, Xq, head="linear")
    np.testing.assert_array_equal(P, proba(models["protonet"], X, y, Xq, head="linear"))
    P_batched = proba(models["protonet"], X, y, Xq, head="linear", batch_size=4)
    np.testing.assert_allclose(P, P_batched, atol=1e-6)


def test_auto_ensemble_members_follow_the_head(models, data):
    """n_ensemble="auto" averages 4 members with the network's head, 2 with the
    linear+forest head (its forest adds what more members would); an int is taken as is."""
    from autometa.fewshot.classifier import AUTO_MEMBERS

    X, y, Xq = data  # ~13 rows per class: above 5, the auto head is linear+forest
    auto = FewShotClassifier(model=models["protonet"]).fit(X, y)
    assert auto.head_ == "linear+forest" and auto.n_ensemble_ == AUTO_MEMBERS["linear+forest"] == 2
    two = FewShotClassifier(model=models["protonet"], n_ensemble=2).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(Xq), two.predict_proba(Xq))
    few = np.r_[np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3], np.flatnonzero(y == 2)[:3]]
    small = FewShotClassifier(model=models["protonet"]).fit(X[few], y[few])
    assert small.head_ == "network" and small.n_ensemble_ == 4
    assert FewShotClassifier(model=models["protonet"], n_ensemble=3).fit(X, y).n_ensemble_ == 3


@pytest.mark.parametrize("bad", [0, -1, 2.0, "4", "many", True, None])
def test_n_ensemble_is_checked(models, data, bad):
    X, y, _ = data
    with pytest.raises(InvalidParameterError, match=r"n_ensemble=.*positive int or \"auto\""):
        FewShotClassifier(model=models["protonet"], n_ensemble=bad).fit(X, y)


def test_linear_forest_head_averages_the_linear_head_and_a_forest(models, data):
    from autometa.fewshot.classifier import FOREST_PARAMS, FOREST_SHARE

    X, y, Xq = data
    X = X.copy()
    X[::7, 1] = np.nan  # the trees take missing values as they are
    both = FewShotClassifier(model=models["protonet"], n_ensemble=2, head="linear+forest")
    P = both.fit(X, y).predict_proba(Xq)
    linear = proba(models["protonet"], X, y, Xq, head="linear")
    forest = both._forest_proba(Xq)
    trees = both.forest_.predict_proba(Xq[:, both.forest_columns_])
    np.testing.assert_array_equal(forest, trees[:, both.forest_class_rank_])
    assert both.forest_.get_params()["n_estimators"] == FOREST_PARAMS["n_estimators"]
    np.testing.assert_allclose(P, (1 - FOREST_SHARE) * linear + FOREST_SHARE * forest)
    assert not np.allclose(P, linear)
    check_proba(P, len(Xq), 3)
    np.testing.assert_array_equal(P, both.fit(X, y).predict_proba(Xq))  # seeded
    assert not hasattr(
        FewShotClassifier(model=models["protonet"], head="linear").fit(X, y), "forest_"
    )


def test_bad_head_is_a_named_error(models, data):
    from autometa.errors import InvalidParameterError

    X, y, _Xq = data
    with pytest.raises(InvalidParameterError, match="head='bogus'.*one of"):
        FewShotClassifier(model=models["protonet"], head="bogus").fit(X, y)
    for head in ("linear", "linear+forest"):
        with pytest.raises(InvalidParameterError, match="'pfn' network does not embed rows"):
            FewShotClassifier(model=models["pfn"], head=head).fit(X, y)


def test_gate_is_per_head(tmp_path, monkeypatch, data):
    X, y, _Xq = data
    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(tmp_path))
    (tmp_path / "default.json").write_text('{"method": "protonet", "size": "tiny"}')
    passed = {"passed": True, "auc": 0.9, "baseline_auc": 0.85}
    gate = {"k_le_5": passed, "k_gt_5": {**passed, "head": "network"}}
    save_weights(tiny("protonet"), tmp_path / "protonet_tiny.pt", {"gate": gate})
    with pytest.warns(FewShotFallbackWarning, match="measured with the network head, not the"):
        clf = FewShotClassifier().fit(X, y)  # k > 5: the auto head is linear+forest
    assert clf.head_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewShotFallbackWarning)
        assert FewShotClassifier(head="network").fit(X, y).head_ == "network"
    gate["k_gt_5"]["head"] = "linear"  # weights gated with the head before
    save_weights(tiny("protonet"), tmp_path / "protonet_tiny.pt", {"gate": gate})
    with pytest.warns(FewShotFallbackWarning, match="linear head, not the linear\\+forest"):
        FewShotClassifier().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewShotFallbackWarning)
        assert FewShotClassifier(head="linear").fit(X, y).head_ == "linear"
    gate["k_gt_5"]["head"] = "linear+forest"
    save_weights(tiny("protonet"), tmp_path / "protonet_tiny.pt", {"gate": gate})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewShotFallbackWarning)
        assert FewShotClassifier().fit(X, y).head_ == "linear+forest"


def test_a_classifier_saved_before_the_linear_head_predicts_as_it_did(models, data):
    X, y, Xq = data
    clf = FewShotClassifier(model=models["protonet"], n_ensemble=2, head="network").fit(X, y)
    state = clf.__getstate__()
    del state["head"], state["head_"]
    old = FewShotClassifier.__new__(FewShotClassifier)
    old.__setstate__(state)
    assert old.get_params()["head"] == "network"
    np.testing.assert_array_equal(old.predict_proba(Xq), clf.predict_proba(Xq))


def test_sklearn_api(models):
    from sklearn.base import clone

    clf = FewShotClassifier(n_ensemble=3, random_state=5, device="cpu")
    params = clone(clf).get_params()
    assert (
        params["n_ensemble"] == 3 and params["random_state"] == 5 and params["model"] == "default"
    )


# ------------------------------------------------------- prior, episodes, training
def test_prior_batch_shapes_and_context_classes():
    from autometa.fewshot.prior import FAMILIES, sample_prior_batch

    torch.manual_seed(0)
    for fam in FAMILIES:
        x, y = sample_prior_batch(3, 40, 12, 4, 3, weights={fam: 1.0}, p_missing=0.3)
        assert x.shape == (3, 40, 4) and y.shape == (3, 40)
        for b in range(3):
            assert set(y[b].tolist()) <= set(y[b, :12].tolist())


def test_episodes_kshot_and_imbalanced():
    from autometa.fewshot.episodes import Table, real_batch, sample_episode

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(80), np.ones(20), np.full(3, 2)].astype(np.int64)
    t = Table("t", rng.normal(size=(len(y), 5)).astype(np.float32), y)
    ep = sample_episode(t, 5, rng, n_query=30)
    assert np.bincount(ep.y_ctx).tolist() == [5, 5]  # class 2 has too few rows for k=5
    ep = sample_episode(t, 5, rng, n_query=30, imbalanced=True)
    assert np.bincount(ep.y_ctx)[0] > np.bincount(ep.y_ctx)[1] >= 1
    xb, yb, n_ctx, C = next(
        b for b in iter(lambda: real_batch({"t": t}, rng, 4), 0) if b is not None
    )
    assert xb.shape[:2] == yb.shape and yb[:, :n_ctx].max() < C


def test_train_and_resume(tmp_path):
    from autometa.fewshot.train import main, train

    rec = train(
        "pfn",
        "tiny",
        out=tmp_path,
        device="cpu",
        minutes=None,
        max_steps=3,
        batch_size=2,
        tokens_per_batch=4000,
        n_query=8,
        p_real=0.0,
        checkpoint_every=2,
        log_every=1,
        verbose=False,
    )
    assert (
        rec["steps"] == 3
        and (tmp_path / "pfn_tiny.pt").exists()
        and (tmp_path / "pfn_tiny.ckpt").exists()
    )
    main(
        [
            "--method",
            "maml",
            "--size",
            "tiny",
            "--device",
            "cpu",
            "--max-steps",
            "2",
            "--minutes",
            "1",
            "--batch-size",
            "2",
            "--tokens-per-batch",
            "4000",
            "--n-query",
            "8",
            "--p-real",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    rec = train(
        "pfn",
        "tiny",
        out=tmp_path,
        device="cpu",
        minutes=None,
        max_steps=5,
        batch_size=2,
        tokens_per_batch=4000,
        n_query=8,
        p_real=0.0,
        log_every=1,
        verbose=False,
    )
    assert rec["steps"] == 5  # resumed at step 3
    lines = (tmp_path / "pfn_tiny_loss.csv").read_text().splitlines()
    assert lines[0].startswith("step,") and len(lines) == 6
    _model, meta = load_weights(tmp_path / "maml_tiny.pt", "maml")
    assert meta["train"]["steps"] == 2


def test_curriculum_grows_from_small_episodes_to_the_maxima():
    from autometa.fewshot.train import CURRICULUM_FRACTION, CURRICULUM_START, curriculum_caps

    caps = [curriculum_caps(f, 64, 10, 50) for f in np.linspace(0, 1, 11)]
    start = (
        CURRICULUM_START["max_features"],
        CURRICULUM_START["max_classes"],
        CURRICULUM_START["max_k"],
    )
    assert caps[0] == start
    assert curriculum_caps(CURRICULUM_FRACTION, 64, 10, 50) == (64, 10, 50) == caps[-1]
    for earlier, later in itertools.pairwise(caps):
        assert all(a <= b for a, b in zip(earlier, later))
    # maxima below the start are respected, and never fewer than two classes
    assert curriculum_caps(0.0, 4, 2, 3) == (4, 2, 3)


def test_finetune_phase_uses_real_episodes_and_snapshots(tmp_path, monkeypatch):
    from autometa.fewshot import train as train_module
    from autometa.fewshot.episodes import Table

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30).astype(np.int64)
    table = Table("t", (rng.normal(size=(90, 4)) + y[:, None]).astype(np.float32), y)
    monkeypatch.setattr(train_module, "load_tables", lambda *a, **k: {"t": table})
    rec = train_module.train(
        "protonet",
        "tiny",
        out=tmp_path,
        device="cpu",
        minutes=None,
        max_steps=8,
        batch_size=2,
        tokens_per_batch=4000,
        n_query=8,
        p_real=0.01,
        finetune_frac=0.5,
        snapshot_minutes=1e-6,
        log_every=1,
        verbose=False,
    )
    log = (tmp_path / "protonet_tiny_loss.csv").read_text().splitlines()[1:]
    sources = [line.split(",")[4] for line in log]
    assert rec["finetune_frac"] == 0.5 and rec["curriculum"] is True
    assert set(sources[4:]) == {"real"}  # the last half of the steps: real episodes only
    snapshots = sorted((tmp_path / "snapshots").glob("protonet_tiny_*min.pt"))
    assert snapshots, "no snapshot written"
    _model, meta = load_weights(snapshots[-1], "protonet")
    assert meta["snapshot"]["name"] == "protonet_tiny"
    with pytest.raises(ValueError, match="finetune_frac"):
        train_module.train("protonet", "tiny", out=tmp_path, max_steps=1, finetune_frac=2.0)


def test_attention_bound_trims_batches_of_large_episodes():
    from autometa.fewshot.train import episodes_within

    assert episodes_within(16, 100, 9, None) == 16
    assert episodes_within(16, 100, 9, 10 * 100 * 100 * 4) == 4
    assert episodes_within(16, 600, 63, 20_000_000) == 0  # one episode alone is too big


def test_meta_train_is_the_training_function_and_calling_the_module_is_deprecated(monkeypatch):
    from autometa import fewshot
    from autometa.fewshot import train as train_module

    assert fewshot.meta_train is train_module.train
    monkeypatch.setattr(train_module, "train", lambda *a, **k: {"called": (a, k)})
    with pytest.warns(FutureWarning, match="autometa.fewshot.meta_train"):
        assert train_module(1, b=2) == {"called": ((1,), {"b": 2})}
