"""Exact values on small hand-computed examples, one block per group."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import metafeatures as mf

APPROX = {"rel": 1e-9, "abs": 1e-12}


def test_general_hand_computed() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", None]})
    s = mf.extract(X, [0, 0, 1, 1], groups=["general"])
    assert s["general.n_instances"] == 4
    assert s["general.n_features"] == 2
    assert s["general.n_numeric"] == 1 and s["general.n_categorical"] == 1
    assert s["general.pct_numeric"] == 50.0
    assert s["general.n_missing"] == 1
    assert s["general.pct_missing"] == 12.5
    assert s["general.n_instances_with_missing"] == 1
    assert s["general.n_binary"] == 1  # b: {x, y}; a has 4 values
    assert s["general.n_classes"] == 2
    assert s["general.freq_class.mean"] == 0.5 and s["general.freq_class.sd"] == 0.0
    assert s["general.attr_to_inst"] == 0.5 and s["general.inst_to_attr"] == 2.0
    assert s["general.cat_to_num"] == 1.0


def test_statistical_hand_computed() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 3.0, 2.0, 1.0]})
    s = mf.extract(X, [0, 0, 1, 1], groups=["statistical"], summaries=("mean", "max"))
    assert s["statistical.mean.mean"] == pytest.approx(2.5, **APPROX)
    assert s["statistical.var.mean"] == pytest.approx(5 / 3, **APPROX)
    assert s["statistical.sd.mean"] == pytest.approx(math.sqrt(5 / 3), **APPROX)
    assert s["statistical.median.mean"] == pytest.approx(2.5, **APPROX)
    assert s["statistical.iq_range.mean"] == pytest.approx(1.5, **APPROX)  # 3.25 - 1.75
    assert s["statistical.range.mean"] == 3.0
    assert s["statistical.skewness.mean"] == pytest.approx(0.0, abs=1e-12)
    # m4 / s^4 - 3 with deviations +-0.5, +-1.5 and s^2 = 5/3
    assert s["statistical.kurtosis.mean"] == pytest.approx(2.5625 / (25 / 9) - 3, **APPROX)
    assert s["statistical.cor.mean"] == pytest.approx(1.0, **APPROX)
    assert s["statistical.cov.mean"] == pytest.approx(5 / 3, **APPROX)
    assert s["statistical.eigenvalues.max"] == pytest.approx(10 / 3, **APPROX)
    assert s["statistical.nr_cor_attr"] == 1.0
    assert s["statistical.nr_outliers"] == 0
    # class centroids (1.5, 3.5) and (3.5, 1.5)
    assert s["statistical.gravity"] == pytest.approx(math.sqrt(8), **APPROX)
    assert s["statistical.g_mean.mean"] == pytest.approx(24**0.25, **APPROX)
    assert s["statistical.h_mean.mean"] == pytest.approx(4 / (1 + 1 / 2 + 1 / 3 + 1 / 4), **APPROX)
    assert s["statistical.sparsity.mean"] == 0.0  # all values distinct
    assert s["statistical.t_mean.mean"] == pytest.approx(2.5, **APPROX)


def test_canonical_correlation_of_a_perfect_separator_is_one() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 0.0, 1.0, 5.0, 6.0], "b": [1.0, 0.0, 2.0, 3.0, 1.0, 0.0]})
    y = [0, 0, 0, 1, 1, 1]
    s, _info = mf.extract(X, y, groups=["statistical"], return_info=True)
    assert 0 < s["statistical.can_cor.mean"] <= 1
    assert s["statistical.nr_disc"] == 1  # k - 1 discriminant functions
    rho2 = s["statistical.can_cor.mean"] ** 2
    assert s["statistical.p_trace"] == pytest.approx(rho2, rel=1e-9)
    assert s["statistical.w_lambda"] == pytest.approx(1 - rho2, rel=1e-9)


def test_info_theory_hand_computed() -> None:
    X = pd.DataFrame({"same": ["p", "p", "q", "q"], "indep": ["p", "q", "p", "q"]})
    s = mf.extract(X, [0, 0, 1, 1], groups=["info_theory"], summaries=("min", "max"))
    assert s["info_theory.attr_ent.min"] == pytest.approx(1.0) and s[
        "info_theory.attr_ent.max"
    ] == pytest.approx(1.0)
    assert s["info_theory.class_ent"] == pytest.approx(1.0)
    assert s["info_theory.joint_ent.min"] == pytest.approx(1.0)  # "same"
    assert s["info_theory.joint_ent.max"] == pytest.approx(2.0)  # "indep"
    assert s["info_theory.mut_inf.max"] == pytest.approx(1.0)
    assert s["info_theory.mut_inf.min"] == pytest.approx(0.0, abs=1e-12)
    assert s["info_theory.eq_num_attr"] == pytest.approx(2.0)  # 2 * 1 / 1
    assert s["info_theory.ns_ratio"] == pytest.approx(1.0)  # (2 - 1) / 1
    assert s["info_theory.class_conc.max"] == pytest.approx(1.0)
    assert s["info_theory.class_conc.min"] == pytest.approx(0.0, abs=1e-12)


def _separable(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype=float).reshape(-1, 1)
    return x, (x[:, 0] >= n / 2).astype(int)


def test_landmarking_on_a_separable_problem() -> None:
    X, y = _separable()
    s = mf.extract(X, y, groups=["landmarking"])
    for name in (
        "best_node",
        "worst_node",
        "random_node",
        "one_nn",
        "elite_nn",
        "linear_discr",
        "shallow_tree",
    ):
        assert s[f"landmarking.{name}.mean"] == 1.0, name
        assert s[f"landmarking.{name}.sd"] == 0.0, name
    # unequal fitted class variances move the Gaussian NB boundary off 9.5 in 2 folds
    # (sklearn's GaussianNB does the same on this split, see the next test)
    assert s["landmarking.naive_bayes.mean"] == pytest.approx(0.9)


def test_vectorised_learners_match_sklearn_on_the_shared_split() -> None:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier

    from metafeatures._prepare import prepare
    from metafeatures.landmarking import _lda, _naive_bayes, _nn_predict

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X[:, 0] + rng.normal(size=150) > 0).astype(int) + (X[:, 1] > 1)
    prep = prepare(X, y)
    Z, folds, yc = prep.Z, prep.folds, prep.y_sample_codes
    assert np.bincount(folds).min() >= 14  # ten balanced folds
    lda_agree = []
    for f in range(10):
        te, tr = folds == f, folds != f
        np.testing.assert_array_equal(
            _naive_bayes(Z[tr], yc[tr], Z[te], 3), GaussianNB().fit(Z[tr], yc[tr]).predict(Z[te])
        )
        lda = LinearDiscriminantAnalysis().fit(Z[tr], yc[tr]).predict(Z[te])
        lda_agree.extend(_lda(Z[tr], yc[tr], Z[te], 3, Z[tr].T @ Z[tr]) == lda)
        knn = KNeighborsClassifier(n_neighbors=1).fit(Z[tr], yc[tr]).predict(Z[te])
        np.testing.assert_array_equal(_nn_predict(Z[tr], Z[te], yc[tr]), knn)
    # ridge-regularised pooled covariance vs sklearn's SVD solver: borderline rows may differ
    assert np.mean(lda_agree) >= 0.97


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_shallow_tree_matches_sklearn_on_the_shared_split(task: str) -> None:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from metafeatures._prepare import prepare
    from metafeatures.landmarking import TREE_DEPTH, _tree_predict

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    signal = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.3 * rng.normal(size=400)
    cls = task == "classification"
    prep = prepare(X, (signal > 0).astype(int) + (signal > 1) if cls else signal, task=task)
    Z, folds = prep.Z, prep.folds
    y = prep.y_sample_codes if cls else prep.y_sample_float
    learner = DecisionTreeClassifier if cls else DecisionTreeRegressor
    agree = []
    for f in range(10):
        te, tr = folds == f, folds != f
        rows = np.flatnonzero(tr)
        order = rows[np.argsort(Z[tr], axis=0, kind="stable")]
        ours = _tree_predict(Z, y, order, np.flatnonzero(te), 3 if cls else None, TREE_DEPTH)
        theirs = learner(max_depth=TREE_DEPTH, random_state=0).fit(Z[tr], y[tr]).predict(Z[te])
        agree.extend(np.isclose(ours, theirs))
    # sklearn breaks exact ties between features (small nodes) at random, we take the first
    assert np.mean(agree) >= 0.97


def test_tree_over_linear_sees_interactions() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    interacting = 2.0 * ((X[:, 0] > 0) & (X[:, 1] > 0)) + 0.1 * rng.normal(size=1000)  # an AND
    additive = X @ np.array([1.0, -1.0, 0.5, 0.0]) + 0.1 * rng.normal(size=1000)
    values = {
        name: mf.extract(X, target, task="regression", groups=["landmarking"])
        for name, target in (("interacting", interacting), ("additive", additive))
    }
    assert values["interacting"]["landmarking.tree_over_linear.mean"] > 0.3
    assert values["additive"]["landmarking.tree_over_linear.mean"] < -0.1
    for s in values.values():  # the per-fold difference of the two landmarkers
        assert s["landmarking.tree_over_linear.mean"] == pytest.approx(
            s["landmarking.shallow_tree.mean"] - s["landmarking.linear_reg.mean"]
        )


def test_landmarking_on_pure_noise_is_near_chance() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = rng.integers(0, 2, 400)
    s = mf.extract(X, y, groups=["landmarking"])
    assert 0.35 < s["landmarking.one_nn.mean"] < 0.65


def test_model_based_on_a_single_split_tree() -> None:
    X, y = _separable()
    s = mf.extract(X, y, groups=["model_based"], summaries=("mean", "max"))
    assert s["model_based.leaves"] == 2 and s["model_based.nodes"] == 1
    assert s["model_based.nodes_per_inst"] == pytest.approx(1 / 20)
    assert s["model_based.tree_depth.mean"] == pytest.approx(2 / 3)  # depths 0, 1, 1
    assert s["model_based.leaves_branch.mean"] == 1.0
    assert s["model_based.leaves_corrob.mean"] == 0.5
    assert s["model_based.tree_shape.mean"] == pytest.approx(0.5)  # -0.5 log2 0.5
    assert s["model_based.leaves_homo.mean"] == pytest.approx(4.0)  # 2 leaves / 0.5
    assert s["model_based.leaves_per_class.mean"] == 0.5
    assert s["model_based.var_importance.max"] == 1.0


# one feature: classes {0, 1} and {10, 11}; every measure below is scale invariant
X4 = np.array([[0.0], [1.0], [10.0], [11.0]])
Y4 = np.array([0, 0, 1, 1])


def test_clustering_hand_computed() -> None:
    s = mf.extract(X4, Y4, groups=["clustering"])
    assert s["clustering.vdu"] == pytest.approx(9.0)  # min between 9 / max within 1
    assert s["clustering.vdb"] == pytest.approx(0.1)  # (0.5 + 0.5) / 10
    assert s["clustering.ch"] == pytest.approx(200.0)  # (B=100 / 1) / (W=1 / 2)
    assert s["clustering.sil"] == pytest.approx((9.5 / 10.5 + 8.5 / 9.5) / 2)
    assert s["clustering.sc"] == 2
    assert s["clustering.nre"] == pytest.approx(0.0, abs=1e-12)


def test_complexity_hand_computed() -> None:
    s = mf.extract(X4, Y4, groups=["complexity"])
    assert s["complexity.f1.mean"] == pytest.approx(1 / 101)  # W / (W + B) = 1 / 101
    assert s["complexity.f2.mean"] == 0.0 and s["complexity.f3.mean"] == 0.0
    assert s["complexity.n1"] == 0.5  # MST edge 1-10 joins the classes
    assert s["complexity.n3.mean"] == 0.0
    assert s["complexity.lsc"] == pytest.approx(0.5)  # local sets of size 2: 1 - 8/16
    assert s["complexity.t2"] == 0.25
    assert s["complexity.c1"] == pytest.approx(1.0) and s["complexity.c2"] == pytest.approx(0.0)
    assert s["complexity.l2.mean"] == 0.0
    assert np.isnan(s["complexity.reg_c1"])


def test_regression_complexity_on_a_linear_target() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = 3 * X[:, 0] + 0.0 * X[:, 1]
    s = mf.extract(X, y, task="regression", groups=["complexity"])
    assert s["complexity.reg_c1"] == pytest.approx(1.0)
    assert s["complexity.reg_l2"] == pytest.approx(0.0, abs=1e-10)
    assert np.isnan(s["complexity.n1"])
