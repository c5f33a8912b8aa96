"""The grouped leave-one-dataset-out harness."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autometa._testing import synthetic_kb
from autometa.errors import KnowledgeBaseError
from autometa.metamodel.evaluation import dataset_family, evaluate_recommender, make_folds

FAST = {
    "ranker": {"n_estimators": 40},
    "default": {"n_estimators": 60},
    "forest": {"n_estimators": 60},
}


@pytest.mark.parametrize(
    "name, family",
    [
        ("GAMETES_Epistasis_2-Way_20atts_0.1H_EDM-1_1", "GAMETES"),
        ("GAMETES_Heterogeneity_20atts_1600_Het_0.4_0.2_50_EDM-2_001", "GAMETES"),
        ("583_fri_c1_1000_50", "friedman"),
        ("564_fried", "friedman"),
        ("1201_BNG_breastTumor", "BNG"),
        ("229_pwLinear", "BNG"),
        ("mfeat-pixel", "mfeat"),
        ("Hill_Valley_with_noise", "Hill_Valley"),
        ("breast-w", "breast_wisconsin"),
        ("wdbc", "breast_wisconsin"),
        ("heart-statlog", "heart"),
        ("crx", "credit_approval"),
        ("197_cpu_act", "cpu"),
        ("iris", "iris"),
        ("1027_ESL", "ordinal_ben_david"),
        ("1030_ERA", "ordinal_ben_david"),
        ("556_analcatdata_apnea2", "analcatdata"),
        ("analcatdata_boxing1", "analcatdata"),
        ("659_sleuth_ex1714", "sleuth"),
        ("cmc", "contraceptive"),
        ("dna", "splice"),
        ("parity5+5", "boolean_concepts"),
        ("mux6", "boolean_concepts"),
        ("1089_USCrime", "USCrime"),
    ],
)
def test_families(name, family):
    assert dataset_family(name) == family


def test_make_folds_keeps_families_together():
    names = ["mfeat-pixel", "mfeat-zernike", "iris", "wdbc", "breast-w", "adult", "vowel"]
    folds = make_folds(names, n_folds=3)
    assert folds["mfeat-pixel"] == folds["mfeat-zernike"]
    assert folds["wdbc"] == folds["breast-w"]
    assert set(folds.values()) == {0, 1, 2}
    explicit = make_folds(names, folds={n: i % 2 for i, n in enumerate(names)})
    assert explicit["iris"] == 0
    with pytest.raises(KnowledgeBaseError, match="iris"):
        make_folds(names, folds={"adult": 0})


def test_harness_table_and_ordering():
    kb = synthetic_kb(n_datasets=40, n_variants=3)
    table, picks = evaluate_recommender(
        kb,
        task="classification",
        ks=(1, 3),
        n_folds=4,
        model_params=FAST,
        return_picks=True,
    )
    assert set(table.columns) >= {
        "model",
        "k",
        "gap_closed",
        "gap_closed_raw",
        "normalised_regret",
        "mean_rank",
        "failed_pick_rate",
        "n_datasets",
        "n_folds",
    }
    t = table.set_index(["model", "k"])
    assert t.loc[("sbs", 1), "gap_closed"] == pytest.approx(0.0)
    assert t.loc[("ranker", 1), "gap_closed"] > 0.5
    assert t.loc[("default", 1), "gap_closed"] > t.loc[("random", 1), "gap_closed"]
    assert (t["gap_closed"] <= 1 + 1e-9).all()
    assert (t.xs(3, level="k")["mean_rank"] <= t.xs(1, level="k")["mean_rank"] + 1e-9).all()
    assert t["n_folds"].eq(4).all() and t["n_datasets"].eq(40).all()
    # the held-out dataset never informs its own picks: picks differ across folds
    assert (
        picks.groupby("model")["picks"].apply(lambda s: len({tuple(p) for p in s})).loc["default"]
        > 1
    )


def test_failed_picks_are_counted():
    import pandas as pd

    from autometa.kb import KnowledgeBase

    names = [f"d{i}" for i in range(6)]
    mf = pd.DataFrame({"x": np.arange(6.0)}, index=names)
    perf = pd.DataFrame(
        {"good": 0.9, "bad": 0.5, "flaky": [0.95, 0.95, 0.95, 0.95, 0.95, 0.95]}, index=names
    )
    kb = KnowledgeBase.from_frames(mf, perf, task="classification", metric="accuracy")
    for d in names[:4]:  # "flaky" timed out on most datasets
        kb.add_results(
            d, {"algorithm": "flaky"}, {"status": "timeout", "error": "60 s"}, config_id="flaky"
        )
    table = evaluate_recommender(
        kb, task="classification", metric="accuracy", models=("sbs", "random"), ks=(1, 3)
    )
    t = table.set_index(["model", "k"])
    # "good" has the best mean normalised score, so the SBS never picks the flaky config
    assert t.loc[("sbs", 1), "failed_pick_rate"] == 0.0
    # with k=3 every config is picked: flaky fails on 4 of 6 datasets -> 4/6 * 1/3
    assert t.loc[("sbs", 3), "failed_pick_rate"] == pytest.approx(2 / 9)
    assert t.loc[("sbs", 3), "gap_closed"] == pytest.approx(1.0)


def _kb_with_folds(fold_noise: float, n_datasets: int = 16, seed: int = 0):
    """Three folds per cell: the cell's true score plus independent noise per fold."""
    from autometa._testing import synthetic_frames
    from autometa.kb import KnowledgeBase

    mf, perf = synthetic_frames(n_datasets=n_datasets, n_variants=2, seed=seed)
    perf = perf.fillna(0.5)
    kb = KnowledgeBase.from_frames(mf, perf, task="classification", metric="balanced_accuracy")
    rng = np.random.default_rng(seed)
    for d in perf.index:
        for c in perf.columns:
            folds = [
                {"fold": f, "balanced_accuracy": float(perf.loc[d, c] + rng.normal(0, fold_noise))}
                for f in range(3)
            ]
            kb.add_results(d, {"algorithm": c}, folds, config_id=c)
    return kb


def test_fold_performance_and_holdout_selection_measure_noise():
    from autometa.metamodel.evaluation import holdout_selection

    clean = _kb_with_folds(0.0)
    folds = clean.fold_performance("classification", "balanced_accuracy")
    assert folds.shape == (16 * 3, 6) and list(folds.index.names) == ["dataset", "fold"]
    np.testing.assert_allclose(
        folds.groupby(level=0)
        .mean()
        .reindex(clean.performance("classification", "balanced_accuracy").index)
        .to_numpy(),
        clean.performance("classification", "balanced_accuracy").to_numpy(),
    )
    # identical folds: the in-dataset choice is the best config, the whole gap is closed
    ref = holdout_selection(clean, task="classification", ks=(1, 3)).set_index("k")
    assert ref.loc[1, "gap_closed"] == pytest.approx(1.0)
    assert ref.loc[1, "n_folds"] == 48 and ref.loc[1, "n_datasets"] == 16
    # noise far above the differences between configs: the in-dataset choice is a guess
    noisy = holdout_selection(_kb_with_folds(0.5), task="classification", ks=(1, 3)).set_index("k")
    assert noisy.loc[1, "gap_closed"] < 0.6
    assert noisy.loc[3, "gap_closed"] >= noisy.loc[1, "gap_closed"]


def test_standard_errors_resample_whole_folds_and_are_paired():
    from autometa.metamodel._lodo_scores import fold_bootstrap

    kb = synthetic_kb(n_datasets=40, n_variants=3)
    kwargs = {
        "task": "classification",
        "ks": (1, 3),
        "n_folds": 8,
        "model_params": FAST,
        "models": ("default", "sbs", "random"),
    }
    table = evaluate_recommender(kb, **kwargs).set_index(["model", "k"])
    assert table.loc[("sbs", 1), "gap_closed_se"] == pytest.approx(0.0)  # 0 in every resample
    assert table.loc[("random", 3), "gap_closed_se"] > 0
    assert table.loc[("default", 3), "reference_minus_model"] == 0
    assert table.loc[("default", 3), "reference_minus_model_se"] == 0
    assert table.loc[("random", 1), "reference_minus_model"] == pytest.approx(
        table.loc[("default", 1), "gap_closed"] - table.loc[("random", 1), "gap_closed"]
    )
    again = evaluate_recommender(kb, **kwargs).set_index(["model", "k"])
    pd.testing.assert_frame_equal(table, again)
    bare = evaluate_recommender(kb, **{**kwargs, "models": ("sbs", "random")}, n_bootstrap=0)
    assert bare["gap_closed_se"].isna().all() and "reference_minus_model" not in bare

    # datasets of one fold move together: four folds of identical datasets vary as four
    # draws, not forty
    sbs = np.zeros(40)
    best = np.repeat([0.2, 0.4, 0.6, 0.8], 10)
    grouped = fold_bootstrap(np.repeat([0, 1, 2, 3], 10), sbs, 2000, 0)(best).std()
    singles = fold_bootstrap(np.arange(40), sbs, 2000, 0)(best).std()
    assert grouped == pytest.approx(best.std() / np.sqrt(4), rel=0.15)
    assert singles == pytest.approx(best.std() / np.sqrt(40), rel=0.15)


def test_fold_weighting_gives_each_held_out_fold_one_vote():
    kb = synthetic_kb(n_datasets=30, n_variants=3)
    names = list(kb.datasets("classification").index)
    folds = {n: (0 if i < 20 else 1 + i % 3) for i, n in enumerate(names)}  # one big fold
    kwargs = {
        "task": "classification",
        "ks": (1, 3),
        "folds": folds,
        "model_params": FAST,
        "models": ("default", "sbs"),
    }
    table, detail = evaluate_recommender(kb, weighting="fold", return_picks=True, **kwargs)
    sizes = detail["fold"].map(detail.drop_duplicates("dataset")["fold"].value_counts())
    detail = detail.assign(w=1.0 / sizes)
    sbs = detail[detail["model"] == "sbs"].set_index("dataset")
    mine = detail[detail["model"] == "default"].set_index("dataset")
    w = mine["w"]
    s = np.average(sbs.loc[mine.index, "best_of_1"], weights=w)
    for k in (1, 3):
        expected = (np.average(mine[f"best_of_{k}"], weights=w) - s) / (1 - s)
        got = table.set_index(["model", "k"]).loc[("default", k), "gap_closed"]
        assert got == pytest.approx(expected)
    plain = evaluate_recommender(kb, **kwargs).set_index(["model", "k"])
    weighted = table.set_index(["model", "k"])
    assert not np.allclose(plain["gap_closed"], weighted["gap_closed"])
    with pytest.raises(KnowledgeBaseError, match="'family'"):
        evaluate_recommender(kb, weighting="family", **kwargs)


def test_progress_bar_over_held_out_folds(capsys):
    kb = synthetic_kb(n_datasets=12)
    evaluate_recommender(
        kb, task="classification", ks=(1,), n_folds=3, models=("sbs",), progress=True
    )
    assert "held-out folds (classification)" in capsys.readouterr().err
    evaluate_recommender(kb, task="classification", ks=(1,), n_folds=3, models=("sbs",))
    assert "held-out folds" not in capsys.readouterr().err


def test_checkpoint_resumes_an_interrupted_evaluation(tmp_path, monkeypatch):
    from autometa.metamodel import evaluation

    kb = synthetic_kb(n_datasets=24)
    kwargs = {
        "task": "classification",
        "ks": (1, 3),
        "n_folds": 4,
        "model_params": FAST,
        "models": ("default", "knn", "sbs"),
    }
    path = tmp_path / "lodo.jsonl"
    full = evaluate_recommender(kb, checkpoint=path, **kwargs)
    # the calibration's sharpness: the mean predicted std behind the coverage, read back too
    assert (full["mean_std"] > 0).all() and full["n_coverage"].gt(0).all()
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 4  # header, one line per held-out fold
    # interrupted while writing the third fold's line
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    fits = []
    real_fit = evaluation._fit
    monkeypatch.setattr(
        evaluation, "_fit", lambda name, *a: fits.append(name) or real_fit(name, *a)
    )
    resumed = evaluate_recommender(kb, checkpoint=path, **kwargs)
    pd.testing.assert_frame_equal(full, resumed)
    assert len(fits) == 2 * 3  # two folds refitted, three models each
    assert len(path.read_text().splitlines()) == 1 + 4  # the torn line was dropped
    fits.clear()
    pd.testing.assert_frame_equal(full, evaluate_recommender(kb, checkpoint=path, **kwargs))
    assert fits == []
    # lines written before the stds were kept read back with the coverage as it was
    old = [json.loads(line) for line in path.read_text().splitlines()]
    for entry in old[1:]:
        del entry["stds"]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in old))
    before = evaluate_recommender(kb, checkpoint=path, **kwargs)
    assert before["mean_std"].isna().all() and fits == []
    pd.testing.assert_frame_equal(before.drop(columns="mean_std"), full.drop(columns="mean_std"))
    with pytest.raises(KnowledgeBaseError, match="another evaluation"):
        evaluate_recommender(kb, checkpoint=path, **{**kwargs, "ks": (1, 5)})


def test_holdout_selection_chooses_within_a_repeat():
    """With repeated CV, a fold is chosen for by the other folds of its own repeat only:
    another repeat's folds have seen the held-out fold's rows."""
    import pandas as pd

    from autometa.kb import KnowledgeBase
    from autometa.metamodel.evaluation import holdout_selection

    names = [f"d{i}" for i in range(4)]
    kb = KnowledgeBase.from_frames(
        pd.DataFrame({"x": np.arange(4.0)}, index=names),
        pd.DataFrame({"a": 0.5, "b": 0.5}, index=names),
        task="classification",
        metric="accuracy",
    )
    kb._datasets["cv_folds"] = 2  # two repeats of 2-fold CV: folds 0-1 and 2-3
    kb._cache.clear()
    # "a" wins the folds of repeat 0, "b" those of repeat 1: a chooser that mixed repeats
    # would see a tie; within a repeat it always picks the fold's winner
    for d in names:
        for c, scores in (("a", [0.9, 0.9, 0.6, 0.6]), ("b", [0.6, 0.6, 0.9, 0.9])):
            kb.add_results(
                d,
                {"algorithm": c},
                [{"fold": f, "accuracy": s} for f, s in enumerate(scores)],
                config_id=c,
            )
    table = holdout_selection(kb, task="classification", metric="accuracy", ks=(1,)).set_index("k")
    assert table.loc[1, "n_folds"] == 16
    assert table.loc[1, "normalised_regret"] == pytest.approx(0.0)
