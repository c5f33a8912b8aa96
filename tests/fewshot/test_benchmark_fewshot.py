"""The few-shot benchmark's choices that decide what ships (gate and default)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("fewshot")


def _summary(aucs: dict[int, dict[str, float]], ms: dict[str, float] | None = None) -> dict:
    ms = ms or {}
    return {
        f"balanced/k={k}": {
            "learners": {
                m: {"roc_auc": v, "median_ms_per_episode": ms.get(m, 10.0)} for m, v in row.items()
            }
        }
        for k, row in aucs.items()
    }


def test_gate_is_per_regime_and_per_k(bench):
    summary = _summary(
        {
            1: {"pfn_S": 0.70, "protonet_S": 0.66, "logreg": 0.66},
            5: {"pfn_S": 0.80, "protonet_S": 0.77, "logreg": 0.78},
            20: {"pfn_S": 0.84, "protonet_S": 0.88, "logreg": 0.85},
        }
    )
    gate = bench.gate_record(summary, "protonet_S")
    assert gate["k_le_5"]["passed"] is False  # k=5 is 0.01 below logistic regression
    assert gate["k_gt_5"]["passed"] is True
    assert bench.gate_record(summary, "pfn_S")["k_le_5"]["passed"] is True


def test_default_is_chosen_among_models_passing_the_small_k_gate(bench):
    summary = _summary(
        {
            1: {"pfn_S": 0.60, "protonet_S": 0.70, "logreg": 0.65},
            5: {"pfn_S": 0.76, "protonet_S": 0.80, "logreg": 0.78},
            20: {"pfn_S": 0.95, "protonet_S": 0.86, "logreg": 0.85},
        }
    )
    names = ["pfn_S", "protonet_S"]
    gates = {m: bench.gate_record(summary, m) for m in names}
    choice = bench.choose_default(summary, gates, names)
    # pfn_S has the best mean but fails k <= 5: it cannot be the default
    assert (choice["method"], choice["size"]) == ("protonet", "S")
    assert choice["passed_k_le_5"] == ["protonet_S"]
    failing = {m: {"k_le_5": {"passed": False}} for m in names}
    assert bench.choose_default(summary, failing, names) is None


def test_default_prefers_models_within_the_inference_target(bench):
    aucs = {
        1: {"protonet_S": 0.70, "protonet_tiny": 0.68, "logreg": 0.66},
        5: {"protonet_S": 0.80, "protonet_tiny": 0.78, "logreg": 0.78},
    }
    names = ["protonet_S", "protonet_tiny"]
    slow_s = _summary(aucs, ms={"protonet_S": 300.0, "protonet_tiny": 30.0})
    gates = {m: bench.gate_record(slow_s, m) for m in names}
    choice = bench.choose_default(slow_s, gates, names)
    assert (choice["method"], choice["size"]) == ("protonet", "tiny")
    assert choice["within_inference_target"] == ["protonet_tiny"]
    both_slow = _summary(aucs, ms={"protonet_S": 300.0, "protonet_tiny": 90.0})
    choice = bench.choose_default(both_slow, gates, names)  # none fast: the best AUC
    assert (choice["method"], choice["size"]) == ("protonet", "S")


def test_checkpoint_resumes_finished_units_and_survives_a_cut_line(bench, tmp_path, monkeypatch):
    import argparse
    import json

    calls = []

    def fake_episodes(name, table, variant, k, args, learners, models):
        calls.append((variant, k))
        return {m: [{"dataset": name, "variant": variant, "k": k, "m": m}] for m in learners}

    monkeypatch.setattr(bench, "_episode_records", fake_episodes)
    args = argparse.Namespace(imbalanced=True, k=[1, 5], n_ensemble="auto")
    checkpoint = tmp_path / "d"
    checkpoint.mkdir()
    finished = {"variant": "balanced", "k": 1, "records": [{"dataset": "d", "kept": True}]}
    (checkpoint / "logreg.jsonl").write_text(
        json.dumps(finished) + "\n" + '{"variant": "balanced", "k": 5, "rec'
    )

    records = bench.bench_dataset("d", None, args, ["logreg"], {}, checkpoint)
    assert calls == [("balanced", 5), ("imbalanced", 1), ("imbalanced", 5)]
    assert records[0] == {"dataset": "d", "kept": True} and len(records) == 4

    lines = (checkpoint / "logreg.jsonl").read_text().split("\n")
    assert lines[-1] == "" and "" not in lines[:-1]  # one unit per line, no blank lines
    calls.clear()
    again = bench.bench_dataset("d", None, args, ["logreg"], {}, checkpoint)
    assert calls == [] and again == records


def test_a_new_learner_or_new_weights_run_only_themselves(bench, tmp_path, monkeypatch):
    import argparse

    ran = []

    def fake_episodes(name, table, variant, k, args, learners, models):
        ran.append(tuple(learners))
        return {m: [{"variant": variant, "k": k, "learner": m}] for m in learners}

    monkeypatch.setattr(bench, "_episode_records", fake_episodes)
    import torch

    from autometa.fewshot._weights import build_model, save_weights, size_config

    args = argparse.Namespace(imbalanced=False, k=[1], n_ensemble="auto")
    torch.manual_seed(0)
    model = build_model("protonet", size_config("protonet", "tiny"))
    weights = save_weights(model, tmp_path / "protonet_S.pt", {"gate": {}})
    checkpoint = tmp_path / "d"

    bench.bench_dataset("d", None, args, ["logreg"], {}, checkpoint)
    bench.bench_dataset("d", None, args, ["logreg", "rf"], {}, checkpoint)
    assert ran == [("logreg",), ("rf",)]

    keys = bench.learner_keys(["protonet_S", "rf"], {"protonet_S": str(weights)})
    assert keys["rf"] == "rf" and keys["protonet_S"].startswith("protonet_S-")
    save_weights(model, weights, {"gate": {"k_le_5": {"passed": True}}})  # same network
    assert bench.learner_keys(["protonet_S"], {"protonet_S": str(weights)}) == {
        "protonet_S": keys["protonet_S"]
    }
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # retrained
    save_weights(model, weights, {"gate": {}})
    assert bench.learner_keys(["protonet_S"], {"protonet_S": str(weights)}) != {
        "protonet_S": keys["protonet_S"]
    }


def test_the_gate_and_the_checkpoints_know_the_head(bench, tmp_path):
    import torch

    from autometa.fewshot._weights import build_model, save_weights, size_config

    paths = {}
    for method in ("protonet", "pfn"):
        torch.manual_seed(0)
        model = build_model(method, size_config(method, "tiny"))
        paths[method] = str(save_weights(model, tmp_path / f"{method}_tiny.pt", {"gate": {}}))
    assert bench.auto_heads(paths["protonet"]) == {
        "k_le_5": "network",
        "k_gt_5": "linear+forest",
    }
    assert bench.auto_heads(paths["pfn"]) == {"k_le_5": "network", "k_gt_5": "network"}
    keys = bench.learner_keys(
        ["protonet_tiny", "pfn_tiny"],
        {"protonet_tiny": paths["protonet"], "pfn_tiny": paths["pfn"]},
    )
    # n_ensemble="auto": 4 members at k <= 5 (no suffix), the linear+forest head's 2 above
    assert keys["protonet_tiny"].endswith(f"-linear+forest-{bench.head_digest(2)}")
    assert keys["protonet_tiny"].count("-") == 3
    assert keys["pfn_tiny"].count("-") == 1  # no head suffix, 4 members
    paths_ = {"protonet_tiny": paths["protonet"], "pfn_tiny": paths["pfn"]}
    four = bench.learner_keys(["protonet_tiny", "pfn_tiny"], paths_, n_ensemble=4)
    assert four["protonet_tiny"].endswith(f"-linear+forest-{bench.head_digest()}")
    assert four["pfn_tiny"] == keys["pfn_tiny"]
    two = bench.learner_keys(["protonet_tiny", "pfn_tiny"], paths_, n_ensemble=2)
    assert two["pfn_tiny"] == keys["pfn_tiny"] + "-n2"
    assert two["protonet_tiny"] == keys["protonet_tiny"].replace("-linear", "-n2-linear")
    summary = _summary(
        {5: {"protonet_tiny": 0.8, "logreg": 0.78}, 20: {"protonet_tiny": 0.9, "logreg": 0.85}}
    )
    gate = bench.gate_record(summary, "protonet_tiny", bench.auto_heads(paths["protonet"]))
    assert gate["k_le_5"]["head"] == "network" and gate["k_gt_5"]["head"] == "linear+forest"


def test_new_head_settings_get_new_checkpoints(bench, monkeypatch):
    """Results of the linear+forest head are not reused once its forest changed."""
    from autometa.fewshot import classifier

    before = bench.head_digest()
    assert before == bench.head_digest() and len(before) == 8
    monkeypatch.setitem(classifier.FOREST_PARAMS, "n_estimators", 7)
    assert bench.head_digest() != before
    monkeypatch.setattr(classifier, "FOREST_SHARE", 0.25)
    assert len({before, bench.head_digest()}) == 2


def test_checkpoints_of_another_head_serve_only_the_network_heads_units(bench, tmp_path):
    """k <= 5 runs the network's own head whatever the head above, so those units of the
    same network are reused from a file of another head; its k > 5 units are not."""
    folder = tmp_path / "ds"
    folder.mkdir()
    network = "protonet_tiny-0123456789abcdef"
    for key, ks in ((f"{network}-linear", (1, 5, 10)), ("protonet_S-fedcba9876543210", (2,))):
        lines = [json.dumps({"variant": "balanced", "k": k, "records": [{"k": k}]}) for k in ks]
        (folder / f"{key}.jsonl").write_text("\n".join(lines) + "\n")
    own = json.dumps({"variant": "balanced", "k": 20, "records": [{"k": 20}]})
    (folder / f"{network}-linear+forest.jsonl").write_text(own + "\n")
    done = bench.read_dataset(folder, {"protonet_tiny": f"{network}-linear+forest", "rf": "rf"})
    assert sorted(done["protonet_tiny"]) == [("balanced", 1), ("balanced", 5), ("balanced", 20)]
    assert done["rf"] == {}
    # other ensemble members at k <= 5: nothing of the 4-member files is theirs
    done = bench.read_dataset(folder, {"protonet_tiny": f"{network}-n2-linear+forest"})
    assert done["protonet_tiny"] == {}


def test_the_shipped_forest_is_the_one_the_forest_study_chose(bench, load_benchmark, monkeypatch):
    """``FOREST_PARAMS`` is what ``fewshot_heads.py --study forest --round 4`` measured as
    ``xgbrf100_d4_cols50_bins32``; every round's forests can be built."""
    import sys

    from autometa.fewshot.classifier import FOREST_PARAMS

    # the script imports its sibling as `fewshot`, which the tests' own package shadows here
    monkeypatch.setitem(sys.modules, "fewshot", bench)
    heads = load_benchmark("fewshot_heads")
    for round_ in heads.FOREST_ROUNDS:
        forests = heads.forest_forests(seed=0, n_features=9, round_=round_)
        assert {"et50", "rf100"} <= set(forests) and len(forests) > 3
    chosen = heads.forest_forests(seed=0, n_features=9)["xgbrf100_d4_cols50_bins32"]
    params = chosen.get_params()
    assert {name: params[name] for name in FOREST_PARAMS} == FOREST_PARAMS
