"""benchmarks/recommend_lodo.py run end to end on a small synthetic knowledge base."""

from __future__ import annotations

import json

from autometa._testing import synthetic_kb


def test_report_names_the_default_model_parameters_it_compared(load_benchmark, tmp_path):
    bench = load_benchmark("recommend_lodo")
    kb_dir = tmp_path / "kb"
    synthetic_kb(n_datasets=30, n_variants=2).save(kb_dir)
    params = {"n_estimators": 20, "min_samples_leaf": 3}
    common = ["--kb", str(kb_dir), "--tasks", "classification", "--n-folds", "3"]
    common += ["--models", "default", "sbs", "--probe-models", "--min-datasets", "10"]
    out = tmp_path / "out"
    status = bench.main(
        [*common, "--default-params", json.dumps(params), "--out", str(out)]
        + ["--checkpoints", str(tmp_path / "ck")]
    )
    assert not status
    text = (out / "recommend_lodo_classification.md").read_text()
    assert f"- default model parameters: {json.dumps(params, sort_keys=True)}" in text
    # a knowledge base without per-fold scores (made from frames) has no yardstick
    assert "Not available: the knowledge base has no per-fold" in text
    # without a variant the report says nothing of parameters
    bench.main([*common, "--out", str(tmp_path / "plain"), "--checkpoints", str(tmp_path / "ck")])
    assert "parameters" not in (tmp_path / "plain" / "recommend_lodo_classification.md").read_text()
