"""benchmarks/recommend_realsize.py: dataset selection, the held-out knowledge base and the
report (bootstrap, failures, targets) on synthetic inputs; the benchmark itself is not run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("recommend_realsize")


def _cells(scores: dict[tuple[str, str], dict[str, tuple[float, float]]]) -> pd.DataFrame:
    """Cells from {(task, dataset): {method: (fold 0 score, fold 1 score)}}; NaN = failed."""
    rows = []
    for (task, dataset), methods in scores.items():
        for method, folds in methods.items():
            for fold, value in enumerate(folds):
                ok = not np.isnan(value)
                rows.append(
                    {
                        "task": task,
                        "dataset": dataset,
                        "fold": fold,
                        "method": method,
                        "score": value,
                        "seconds": 1.0 + fold,
                        "status": "ok" if ok else "error",
                        "error": "" if ok else "boom",
                    }
                )
    return pd.DataFrame(rows)


CLS = {
    m: (0.80, 0.80)
    for m in (
        "hgb",
        "hgb_balanced",
        "rf",
        "rf_balanced",
        "xgb",
        "xgb_balanced",
        "logreg",
        "sbs",
        "flaml_auto",
    )
}
REG = {m: (0.50, 0.50) for m in ("hgb", "rf", "xgb", "ridge", "sbs", "flaml_auto")}


def test_summary_differences_failures_ties_and_targets(bench):
    cells = _cells(
        {
            # d1: top1 +0.05 over the best default (rf_balanced 0.85); best_of_5 fails a fold
            ("classification", "d1"): {
                **CLS,
                "rf_balanced": (0.85, 0.85),
                "top1": (0.90, 0.90),
                "top1_probe": (0.90, 0.90),
                "best_of_5": (np.nan, 0.95),
                "dummy": (0.5, 0.5),
            },
            # d2: top1 ties the best default (within 0.002)
            ("classification", "d2"): {
                **CLS,
                "top1": (0.801, 0.801),
                "top1_probe": (0.9, 0.9),
                "best_of_5": (0.9, 0.9),
                "dummy": (0.5, 0.5),
            },
            ("regression", "r1"): {
                **REG,
                "hgb": (0.6, 0.6),
                "top1": (0.5, 0.5),
                "top1_probe": (0.5, 0.5),
                "best_of_5": (0.7, 0.7),
                "dummy": (0.0, 0.0),
            },
        }
    )
    rep = bench.summarise(cells, n_boot=200, seed=0)
    s = rep["summary"].set_index(["scope", "method"])
    top1 = s.loc[("classification", "top1")]
    assert top1["diff_vs_best_default"] == pytest.approx((0.05 + 0.001) / 2)
    assert (top1["wins"], top1["ties"], top1["losses"]) == (1, 1, 0)
    assert top1["win_rate"] == pytest.approx(0.75)
    assert (
        top1["ci_low_vs_best_default"]
        <= top1["diff_vs_best_default"]
        <= top1["ci_high_vs_best_default"]
    )
    # the failed fold counts as the dummy's 0.5: d1's best_of_5 is (0.5 + 0.95) / 2
    b5 = s.loc[("classification", "best_of_5")]
    assert b5["failed_cells"] == 1
    assert rep["scores"].loc[("classification", "d1"), "best_of_5"] == pytest.approx(0.725)
    assert s.loc[("classification", "top1"), "mean_seconds"] == pytest.approx(1.5)
    # normalised scores lie in [0, 1]; the dummy is not normalised
    assert s["mean_normalised"].drop(index="dummy", level="method").between(0, 1).all()
    # overall pools both tasks, with the methods every task has
    assert s.loc[("overall", "top1"), "n_datasets"] == 3
    assert ("overall", "logreg") not in s.index and ("overall", "ridge") not in s.index
    c = rep["comparisons"].set_index(["scope", "method", "reference"])
    assert c.loc[("classification", "top1", "sbs"), "diff"] == pytest.approx((0.10 + 0.001) / 2)
    assert c.loc[("regression", "best_of_5", "flaml_auto"), "diff"] == pytest.approx(0.2)

    flags = {
        (scope, name): ok
        for scope, name, ok, _ in bench.targets(rep["summary"], rep["comparisons"])
    }
    assert flags[("classification", "top-1 zero-shot >= best default (mean) with win rate >= 50 %")]
    assert not flags[("regression", "top-1 zero-shot >= best default (mean) with win rate >= 50 %")]
    assert flags[("regression", "best_of_5 >= best default + 0.02")]
    assert not flags[("regression", "top1 ahead of the KB's single best configuration (sbs)")]


def test_bootstrap_is_seeded_and_brackets_the_mean(bench):
    values = np.array([0.1, -0.2, 0.05, 0.3, 0.0])
    assert bench.bootstrap_ci(values, 500, 1) == bench.bootstrap_ci(values, 500, 1)
    lo, hi = bench.bootstrap_ci(values, 500, 1)
    assert lo < values.mean() < hi
    assert np.isnan(bench.bootstrap_ci(np.array([np.nan]), 10, 0)[0])


def test_selection_one_per_family_both_corpora_no_variants(bench, tmp_path):
    pmlb = pd.DataFrame(
        {
            "name": ["GAMETES_A", "GAMETES_B", "adult", "iris~mcar20", "small"],
            "task": "classification",
            "n_rows": [2000, 2000, 5000, 5000, 50],
            "n_features": 4,
        }
    )
    rd = pd.DataFrame(
        {
            "name": ["MASS__a", "MASS__b", "DAAG__c"],
            "task": "classification",
            "n_rows": 3000,
            "n_features": 3,
        }
    )
    for corpus, frame, ext in (("pmlb", pmlb, ".tsv.gz"), ("rdatasets", rd, ".parquet")):
        (tmp_path / corpus / "classification").mkdir(parents=True)
        frame.to_csv(tmp_path / corpus / "manifest.csv", index=False)
        for name in frame["name"]:
            (tmp_path / corpus / "classification" / f"{name}{ext}").touch()
    chosen = bench.select_datasets(tmp_path, "classification", 10, 1000, seed=0)
    assert chosen["family"].is_unique
    assert set(chosen["family"]) == {"GAMETES", "adult", "R:MASS", "R:DAAG"}
    assert list(chosen["corpus"][:2]) == ["pmlb", "rdatasets"]  # alternating
    again = bench.select_datasets(tmp_path, "classification", 2, 1000, seed=0)
    assert list(again["name"]) == list(chosen["name"][:2])  # seeded, and a prefix


def test_the_held_out_kb_drops_the_family_and_its_variants(bench):
    from autometa.kb import KnowledgeBase

    names = ["iris", "iris~mcar20", "1028_SWD", "1027_ESL", "adult"]
    mf = pd.DataFrame({"rows": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=names)
    perf = pd.DataFrame({"A": [0.1, 0.2, 0.3, 0.4, 0.5], "B": 0.5}, index=names)
    kb = KnowledgeBase.from_frames(mf, perf, task="classification", metric="balanced_accuracy")
    dropped = bench.family_members(kb, "iris")
    assert dropped == ["iris", "iris~mcar20"]
    kept = kb.without(dropped)
    p = kept.performance("classification", "balanced_accuracy")
    assert sorted(p.index) == ["1027_ESL", "1028_SWD", "adult"]
    assert p.loc["adult", "A"] == pytest.approx(0.5)
    assert "iris" not in kept.metafeatures().index
    assert bench.family_members(kb, "ordinal_ben_david") == ["1027_ESL", "1028_SWD"]


def test_report_files(bench, tmp_path):
    cells = _cells(
        {
            ("regression", "r1"): {
                **REG,
                "top1": (0.6, np.nan),
                "top1_probe": (0.5, 0.5),
                "best_of_5": (0.7, 0.7),
                "dummy": (0.0, 0.0),
            }
        }
    )
    datasets = pd.DataFrame({"dataset": ["r1"], "task": ["regression"], "rows": [1200]})
    text = bench.write_report(cells, datasets, {"command": "x"}, tmp_path, n_boot=50, seed=0)
    for name in (
        "cells.csv",
        "summary.csv",
        "comparisons.csv",
        "recommend_realsize.md",
        "recommend_realsize.png",
    ):
        assert (tmp_path / name).stat().st_size > 0
    assert "## regression" in text and "## Failed cells" in text
    assert "FAIL [regression] top1_probe >= best default + 0.01" in text


def test_checkpoint_reruns_our_cells_after_the_kb_or_meta_model_changes(bench, tmp_path):
    import json

    key = bench.meta_model_key(0, "kb-a")
    assert key == bench.meta_model_key(0, "kb-a")
    assert key != bench.meta_model_key(0, "kb-b")  # another KB
    assert key != bench.meta_model_key(1, "kb-a")  # another seed: other meta-model params
    records = [
        {"task": "classification", "dataset": "d", "fold": 0, "method": "hgb"},
        {"task": "classification", "dataset": "d", "fold": 0, "method": "top1", "models": key},
        {"task": "classification", "dataset": "d", "fold": 1, "method": "top1", "models": "old"},
        {"task": "classification", "dataset": "d", "fold": 2, "method": "best_of_5"},  # no key
        {"task": "regression", "dataset": "r", "fold": 0, "method": "top1", "models": "reg"},
        {"task": "regression", "dataset": "r", "fold": 1, "method": "top1", "models": key},
    ]
    path = tmp_path / "cells.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = bench.read_checkpoint(path, {"classification": key, "regression": "reg"})
    assert set(done) == {("d", 0, "hgb"), ("d", 0, "top1"), ("r", 0, "top1")}
    assert len(bench.read_checkpoint(path)) == 6  # without a key: every finished cell


def test_a_tasks_cells_stay_valid_when_only_the_other_task_changes(bench):
    from autometa.kb import KnowledgeBase, default_kb_path

    if not (default_kb_path() / "kb.json").exists():
        pytest.skip("no shipped knowledge base")
    kb = KnowledgeBase.load(default_kb_path())
    regression_config = next(iter(kb.configs("regression")))
    changed = kb.without_results([regression_config])
    assert changed.fingerprint(task="classification") == kb.fingerprint(task="classification")
    assert changed.fingerprint(task="regression") != kb.fingerprint(task="regression")


def test_import_cells_puts_a_report_back_into_a_lost_checkpoint(bench, tmp_path):
    cells = _cells({("regression", "r1"): {"hgb": (0.5, np.nan), "top1": (0.6, 0.7)}})
    cells.loc[cells["method"] == "top1", "models"] = "key-a"
    cells.loc[cells["method"] == "top1", "rank"] = 1
    cells.loc[cells["method"] == "top1", "raced_ok"] = 5
    bench.write_report(cells, pd.DataFrame({"dataset": ["r1"]}), {}, tmp_path, n_boot=20, seed=0)
    path = tmp_path / "ck" / "cells.jsonl"
    bench.append_checkpoint(path, {"dataset": "r1", "fold": 0, "method": "hgb", "score": 0.9})

    assert bench.import_cells(tmp_path / "cells.csv", path) == 3  # the held cell is kept
    done = bench.read_checkpoint(path, {"regression": "key-a"})
    assert set(done) == {("r1", f, m) for f in (0, 1) for m in ("hgb", "top1")}
    assert done[("r1", 0, "hgb")]["score"] == 0.9
    failed = done[("r1", 1, "hgb")]
    assert np.isnan(failed["score"]) and failed["status"] == "error" and failed["error"] == "boom"
    top1 = done[("r1", 1, "top1")]
    assert top1["rank"] == 1 and isinstance(top1["fold"], int) and top1["error"] == ""
    assert top1["raced_ok"] == 5 and isinstance(top1["raced_ok"], int)
    assert "models" not in done[("r1", 0, "hgb")]  # a baseline's missing fields stay missing
    assert set(bench.read_checkpoint(path, {"regression": "key-b"})) == {
        ("r1", 0, "hgb"),
        ("r1", 1, "hgb"),
    }
    assert bench.import_cells(tmp_path / "cells.csv", path) == 0  # idempotent
    with pytest.raises(FileNotFoundError, match="--import-cells"):
        bench.import_cells(tmp_path / "nope.csv", path)


def test_calibration_counts_test_scores_within_the_predicted_std(bench, tmp_path):
    cells = _cells({("regression", "r1"): {"top1": (0.6, 0.7), "hgb": (0.5, 0.5)}})
    cells = pd.concat([cells] * 2, ignore_index=True)  # four top1 cells
    top1 = cells["method"] == "top1"
    # |errors| 0.05, 0.15, 0.25 and 0.0 with std 0.1: within 1 std 2 of 4, within 2 std 3 of 4
    cells.loc[top1, "predicted_score"] = [0.65, 0.55, 0.35, 0.7]
    cells.loc[top1, "predicted_std"] = 0.1
    cal = bench.calibration(cells)
    assert list(cal["method"]) == ["top1"]  # baselines promise nothing
    row = cal.iloc[0]
    assert row["cells"] == 4 and row["within_1"] == 0.5 and row["within_2"] == 0.75
    assert row["mean_error"] == pytest.approx((-0.05 + 0.15 + 0.25 + 0.0) / 4)
    text = bench.write_report(cells, pd.DataFrame({"dataset": ["r1"]}), {}, tmp_path, 20, 0)
    assert "## Calibration at real size" in text
    # one dataset: its folds are one draw, so the interval is the point
    assert row["within_1_lo"] == row["within_1_hi"] == 0.5
    assert "FAIL [regression] top1 zero-shot: ±1 std covers 50% [50%, 50%], ±2 std 75%" in text
    two = pd.concat([cells, cells.assign(dataset="r2", predicted_std=1.0)], ignore_index=True)
    row = bench.calibration(two).iloc[0]
    assert row["within_1"] == 0.75 and row["datasets"] == 2
    assert row["within_1_lo"] == 0.5 and row["within_1_hi"] == 1.0  # by dataset
    assert bench.calibration(cells.drop(columns=["predicted_score"])).empty  # older reports


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_baselines_fit_a_single_text_column_with_missing_values(bench, task):
    # One str column is where pandas 3 handed the ordinal encoder's input out read-only
    # (every baseline of geepack__muscatine failed with "assignment destination is read-only").
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "gender": pd.Series(rng.choice(["f", "m", None], 60), dtype="str"),
            "age": rng.normal(size=60),
        }
    )
    y = pd.Series(rng.integers(0, 2, 60) if task == "classification" else rng.normal(size=60))
    method = "hgb_balanced" if task == "classification" else "ridge"
    pred, _ = bench._run_baseline(method, task, [], X[:40], y[:40], X[40:], 0)
    assert len(pred) == 20


def _timed(seconds):
    import time

    def job():
        start = time.time()
        time.sleep(seconds)
        return {"status": "ok", "start": start, "end": time.time()}

    return job


def _dies():
    import os

    os._exit(3)


def test_isolated_all_runs_n_jobs_cells_at_once(bench):
    for n_jobs, overlap in ((1, False), (2, True)):
        out = dict(bench.isolated_all([("a", _timed(0.4)), ("b", _timed(0.4))], 30, n_jobs))
        assert set(out) == {"a", "b"} and all(o["status"] == "ok" for o in out.values())
        first, second = sorted(out.values(), key=lambda o: o["start"])
        assert (second["start"] < first["end"]) is overlap


def test_isolated_all_stops_a_late_cell_and_reports_a_dead_one(bench):
    jobs = [("slow", _timed(60)), ("quick", _timed(0)), ("dead", _dies)]
    finished = list(bench.isolated_all(jobs, 5.0, n_jobs=3))  # a child takes ~1 s to start
    out = dict(finished)
    assert [key for key, _ in finished][-1] == "slow"  # in the order they finish
    assert out["slow"]["status"] == "timeout" and out["slow"]["seconds"] < 30
    assert out["quick"]["status"] == "ok"
    assert out["dead"]["status"] == "error" and "exit code 3" in out["dead"]["error"]
    assert dict(bench.isolated_all([("q", _timed(0))], None))["q"]["status"] == "ok"


def test_n_jobs_must_be_positive(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--n-jobs", "0", "--report-only"])
    assert "--n-jobs must be at least 1, got 0" in capsys.readouterr().err


def test_headroom_is_the_per_dataset_best_of_a_pool_minus_the_yardstick(bench):
    scores = {
        ("regression", "r1"): {
            "hgb": (0.5, 0.5),
            "rf": (0.6, 0.6),
            "xgb": (0.4, 0.4),
            "top1": (0.55, 0.55),
            "best_of_5": (0.7, 0.6),
            "flaml_auto": (0.9, 0.9),
            "dummy": (1.0, 1.0),  # never part of a pool
        },
        ("regression", "r2"): {
            "hgb": (0.5, 0.5),
            "rf": (0.4, 0.4),
            "xgb": (0.3, 0.3),
            "top1": (0.45, 0.45),
            "best_of_5": (0.4, 0.4),
            "flaml_auto": (0.2, 0.2),
        },
    }
    room = bench.headroom(bench.dataset_scores(_cells(scores))).set_index("pool")
    assert room.loc["every method", "diff"] == pytest.approx((0.3 + 0.0) / 2)
    assert room.loc["ours", "diff"] == pytest.approx((0.05 - 0.05) / 2)
    assert room.loc["ours", "ci_low"] <= room.loc["ours", "diff"] <= room.loc["ours", "ci_high"]


def test_held_out_models_are_fitted_ahead_in_parallel_and_read_back(bench, tmp_path, monkeypatch):
    import argparse

    from autometa._testing import synthetic_kb
    from autometa.metamodel import DefaultModel

    kb = synthetic_kb(n_datasets=30, n_variants=2)
    tables = [("classification", "ds001"), ("classification", "ds002"), ("classification", "ds001")]
    args = argparse.Namespace(seed=0, n_jobs=2)
    assert bench.prefit_held_out_models(kb, tables, args, tmp_path) == 0
    # one folder per family (a cache folder keeps a single fit per model), both models in each
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["classification-ds001", "classification-ds002"]
    assert all(len(list((tmp_path / f).glob("*.json"))) == 2 for f in folders)

    def refit(*args, **kwargs):
        raise AssertionError("refitted instead of read from the cache")

    monkeypatch.setattr(DefaultModel, "fit", refit)
    held_out, models = bench.held_out_models(kb, "classification", "ds002", 0, tmp_path)
    assert "ds002" not in held_out.datasets().index and "ds001" in held_out.datasets().index
    assert models["default"].datasets_ == list(held_out.metafeatures("classification").index)
    # a failed fit is reported and counted, not raised: the main loop fits it again
    assert bench.prefit_held_out_models(kb, [("classification", "ds003")], args, tmp_path) == 1
