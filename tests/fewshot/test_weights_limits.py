"""A weights file is checked before anything is built from it: config sizes (against the
stored tensors and :data:`MAX_PARAMETERS`), finiteness, a missing path.  Tiny models only."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from autometa.errors import AutometaError, InvalidParameterError
from autometa.fewshot import (
    FewShotClassifier,
    FewShotConfigError,
    FewShotWeightsError,
    FewShotWeightsNotFoundError,
    load_weights,
    save_weights,
)
from autometa.fewshot._weights import MAX_PARAMETERS, build_model, check_config, size_config

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "pfn_tiny.pt"
    save_weights(build_model("pfn", size_config("pfn", "tiny")), path)
    return path, torch.load(path, weights_only=True)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def test_huge_config_in_a_small_file_is_refused_before_allocation(good, tmp_path, monkeypatch):
    _, payload = good
    cfg = {**payload["config"], "d_model": 16384, "n_layers": 12}
    path = tmp_path / "huge.pt"
    torch.save({**payload, "config": cfg}, path)
    assert path.stat().st_size < 200_000

    import autometa.fewshot._weights as w

    devices = []
    real_build = w._build

    def spy(method, config):  # every model built while loading this file: meta only
        devices.append(str(torch.get_default_device()))
        return real_build(method, config)

    monkeypatch.setattr(w, "_build", spy)
    t = time.perf_counter()
    with pytest.raises(FewShotConfigError, match=r"huge\.pt.*39,7\d\d,\d{3},\d{3} parameters") as e:
        load_weights(path)
    assert time.perf_counter() - t < 30
    assert "MAX_PARAMETERS" in str(e.value) and f"{MAX_PARAMETERS:,}" in str(e.value)
    assert isinstance(e.value, FewShotWeightsError) and isinstance(e.value, InvalidParameterError)
    assert devices == ["meta"]  # shapes counted on a storage-less model, nothing allocated


def test_config_larger_than_stored_tensors_is_refused(good, tmp_path):
    _, payload = good
    torch.save({**payload, "config": {**payload["config"], "n_layers": 3}}, tmp_path / "l3.pt")
    with pytest.raises(FewShotWeightsError, match="missing tensors"):
        load_weights(tmp_path / "l3.pt")


@pytest.mark.parametrize("key", ["d_model", "n_layers", "n_heads", "d_id"])
def test_negative_dimensions_are_refused(good, tmp_path, key):
    _, payload = good
    path = tmp_path / f"neg_{key}.pt"
    torch.save({**payload, "config": {**payload["config"], key: -4}}, path)
    with pytest.raises(FewShotConfigError, match=rf"neg_{key}\.pt.*{key}=-4") as e:
        load_weights(path)
    assert isinstance(e.value, AutometaError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"d_model": 30, "n_heads": 4}, "not divisible"),
        ({"d_model": 32.5}, "d_model=32.5"),
        ({"d_model": True}, "d_model=True"),
        ({"colour": "red"}, "unknown protonet config entries"),
    ],
)
def test_build_model_checks_the_config(config, match):
    with pytest.raises(FewShotConfigError, match=match):
        build_model("protonet", {**size_config("protonet", "tiny"), **config})


def test_maml_config_values(good):
    base = size_config("maml", "tiny")
    for bad, match in (
        ({"inner_lr": math.nan}, "inner_lr=nan"),
        ({"inner_lr": -0.1}, "inner_lr=-0.1"),
        ({"inner_steps": 10**6}, "inner_steps=1000000"),
        ({"d_hidden": 0}, "d_hidden=0"),
        ({"first_order": "yes"}, "first_order='yes'"),
    ):
        with pytest.raises(FewShotConfigError, match=match):
            check_config("maml", {**base, **bad})


def test_check_config_matches_the_real_model():
    for method in ("pfn", "protonet", "maml", "reptile"):
        cfg = size_config(method, "tiny")
        real = build_model(method, cfg).state_dict()
        assert check_config(method, cfg) == {k: tuple(v.shape) for k, v in real.items()}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_tensors_are_refused(good, tmp_path, value):
    _, payload = good
    state = dict(payload["state_dict"])
    name = next(k for k, v in state.items() if v.ndim == 2)
    bad = state[name].clone()
    bad[0, 0] = value
    state[name] = bad
    torch.save({**payload, "state_dict": state}, tmp_path / "nan.pt")
    with pytest.raises(FewShotWeightsError, match=rf"{name!r} has 1 non-finite"):
        load_weights(tmp_path / "nan.pt")


def test_non_tensor_entries_are_refused(good, tmp_path):
    _, payload = good
    state = dict(payload["state_dict"])
    name = next(iter(state))
    state[name] = [0.0]
    torch.save({**payload, "state_dict": state}, tmp_path / "list.pt")
    with pytest.raises(FewShotWeightsError, match="not a tensor"):
        load_weights(tmp_path / "list.pt")


def test_missing_path_is_a_named_autometa_error(tmp_path):
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(FewShotWeightsNotFoundError, match="nowhere.pt.*does not exist") as e:
        load_weights(missing)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, AutometaError)
    X, y = _data()
    with pytest.raises(FewShotWeightsNotFoundError, match=r"model='.*nowhere\.pt'"):
        FewShotClassifier(model=str(missing)).fit(X, y)
    with pytest.raises(FewShotWeightsNotFoundError, match="directory"):
        FewShotClassifier(model=tmp_path).fit(X, y)


def test_bad_model_argument_and_nan_model():
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="model=5"):
        FewShotClassifier(model=5).fit(X, y)
    torch.manual_seed(0)
    model = build_model("protonet", size_config("protonet", "tiny"))
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(InvalidParameterError, match="non-finite"):
        FewShotClassifier(model=model).fit(X, y)


def test_good_file_still_loads(good):
    path, _ = good
    model, _meta = load_weights(path, "pfn")
    X, y = _data()
    P = FewShotClassifier(model=str(path), gate=False, n_ensemble=1).fit(X, y).predict_proba(X)
    assert np.isfinite(P).all()
    assert model.n_parameters < MAX_PARAMETERS


def test_oversized_file_is_refused_before_reading(good, tmp_path, monkeypatch):
    path, _ = good
    monkeypatch.setattr("autometa.fewshot._weights.MAX_FILE_BYTES", 100)
    with pytest.raises(FewShotWeightsError, match="bytes, more than the 100"):
        load_weights(path)


def test_a_method_without_weights_of_the_default_size_uses_its_shipped_size(tmp_path, monkeypatch):
    import json

    from autometa.fewshot._weights import build_model, save_weights, size_config
    from autometa.fewshot.classifier import shipped_weights

    monkeypatch.setenv("AUTOMETA_FEWSHOT_WEIGHTS", str(tmp_path))
    (tmp_path / "default.json").write_text(json.dumps({"method": "protonet", "size": "tiny"}))
    for method, size in (("protonet", "tiny"), ("protonet", "S"), ("maml", "S")):
        save_weights(
            build_model(method, size_config(method, "tiny")), tmp_path / f"{method}_{size}.pt"
        )
    assert shipped_weights() == tmp_path / "protonet_tiny.pt"  # the default size first
    assert shipped_weights("protonet") == tmp_path / "protonet_tiny.pt"
    assert shipped_weights("maml") == tmp_path / "maml_S.pt"  # no maml_tiny: its own size
    assert shipped_weights("pfn") == tmp_path / "pfn_tiny.pt"  # none: the missing default
