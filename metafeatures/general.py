"""General (simple) meta-features: sizes, types, missingness and class balance.

Names follow pymfe where a pymfe counterpart exists (``nr_inst`` ->
``n_instances`` ...); OpenML's names are given in the descriptions.
All are O(n p) or cheaper.
"""

from __future__ import annotations

import numpy as np

from ._prepare import Prepared
from ._registry import Results, spec

G = "general"
_CAT = "counted as one feature each"

SPECS = (
    spec(
        G,
        "n_instances",
        "Number of rows with a target (pymfe nr_inst, OpenML NumberOfInstances).",
        cost="constant",
        categorical=_CAT,
    ),
    spec(
        G,
        "n_features",
        "Number of input features, target excluded (pymfe nr_attr; OpenML NumberOfFeatures - 1).",
        cost="constant",
        categorical=_CAT,
    ),
    spec(
        G,
        "n_numeric",
        "Number of numeric features (pymfe nr_num, OpenML NumberOfNumericFeatures).",
        cost="constant",
    ),
    spec(
        G,
        "n_categorical",
        "Number of categorical features (pymfe nr_cat; OpenML NumberOfSymbolicFeatures, e.g. 32 on anneal).",
        cost="constant",
        categorical=_CAT,
    ),
    spec(
        G,
        "n_binary",
        "Number of features with exactly two distinct non-missing values (pymfe nr_bin, OpenML NumberOfBinaryFeatures).",
        categorical=_CAT,
    ),
    spec(
        G,
        "n_constant",
        "Number of features with at most one distinct non-missing value.",
        categorical=_CAT,
    ),
    spec(
        G,
        "pct_numeric",
        "Percentage (0-100) of features that are numeric (OpenML PercentageOfNumericFeatures; NaN-free).",
        cost="constant",
    ),
    spec(
        G,
        "pct_categorical",
        "Percentage (0-100) of features that are categorical.",
        cost="constant",
        categorical=_CAT,
    ),
    spec(
        G,
        "n_missing",
        "Number of missing cells in X; infinities are not counted (OpenML NumberOfMissingValues).",
        categorical=_CAT,
    ),
    spec(
        G,
        "pct_missing",
        "Percentage (0-100) of missing cells in X (OpenML PercentageOfMissingValues).",
        categorical=_CAT,
    ),
    spec(
        G,
        "n_instances_with_missing",
        "Rows with at least one missing value (OpenML NumberOfInstancesWithMissingValues).",
        categorical=_CAT,
    ),
    spec(
        G,
        "attr_to_inst",
        "n_features / n_instances (pymfe attr_to_inst, OpenML Dimensionality).",
        cost="constant",
    ),
    spec(G, "inst_to_attr", "n_instances / n_features (pymfe inst_to_attr).", cost="constant"),
    spec(
        G,
        "cat_to_num",
        "n_categorical / n_numeric; NaN without numeric features (pymfe returns nan too).",
        cost="constant",
    ),
    spec(
        G,
        "num_to_cat",
        "n_numeric / n_categorical; NaN without categorical features.",
        cost="constant",
    ),
    spec(
        G,
        "n_classes",
        "Number of distinct observed classes (pymfe nr_class); NaN for regression. OpenML ClassCount also counts declared but empty classes.",
        cost="constant",
        needs_y=True,
        task="classification",
    ),
    spec(
        G,
        "majority_class_size",
        "Rows in the most frequent class (OpenML MajorityClassSize).",
        needs_y=True,
        task="classification",
    ),
    spec(
        G,
        "minority_class_size",
        "Rows in the least frequent observed class (OpenML MinorityClassSize counts empty declared classes as 0).",
        needs_y=True,
        task="classification",
    ),
    spec(
        G,
        "freq_class",
        "Relative frequency of each class (pymfe freq_class).",
        needs_y=True,
        summarised=True,
        task="classification",
    ),
)


def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the general meta-features of ``prep``."""
    n, d = prep.n_rows, prep.n_features
    p, c = prep.n_numeric, prep.n_categorical
    res.put(f"{G}.n_instances", n)
    res.put(f"{G}.n_features", d)
    res.put(f"{G}.n_numeric", p)
    res.put(f"{G}.n_categorical", c)
    # two distinct values: numeric columns checked on the raw (pre-imputation)
    # distinct count is approximated by the imputed column, which only adds the
    # median when values were missing -- cheap and usually identical.
    nb = 0
    if p:
        srt = np.sort(prep.N, axis=0)
        n_unique = 1 + (np.diff(srt, axis=0) != 0).sum(axis=0) if n > 1 else np.ones(p, dtype=int)
        nb += int((n_unique == 2).sum())
        n_const = int((n_unique <= 1).sum())
    else:
        n_const = 0
    nb += int((prep.cat_levels_observed == 2).sum())
    n_const += int((prep.cat_levels_observed <= 1).sum())
    res.put(f"{G}.n_constant", n_const)
    res.put(f"{G}.n_binary", nb)
    res.put(f"{G}.pct_numeric", 100.0 * p / d)
    res.put(f"{G}.pct_categorical", 100.0 * c / d)
    res.put(f"{G}.n_missing", prep.n_missing)
    res.put(f"{G}.pct_missing", 100.0 * prep.n_missing / (n * d))
    res.put(f"{G}.n_instances_with_missing", prep.n_rows_with_missing)
    res.put(f"{G}.attr_to_inst", d / n)
    res.put(f"{G}.inst_to_attr", n / d)
    if p:
        res.put(f"{G}.cat_to_num", c / p)
    else:
        res.nan(f"{G}.cat_to_num", "no numeric features (division by zero)")
    if c:
        res.put(f"{G}.num_to_cat", p / c)
    else:
        res.nan(f"{G}.num_to_cat", "no categorical features (division by zero)")
    cls_names = [
        f"{G}.n_classes",
        f"{G}.majority_class_size",
        f"{G}.minority_class_size",
        f"{G}.freq_class",
    ]
    if prep.task is None:
        res.nan(cls_names, "needs y")
    elif not prep.is_classification:
        res.nan(cls_names, "classification only (task is regression)")
    else:
        counts = prep.class_counts
        assert counts is not None
        res.put(f"{G}.n_classes", counts.size)
        res.put(f"{G}.majority_class_size", counts.max())
        res.put(f"{G}.minority_class_size", counts.min())
        res.put(f"{G}.freq_class", counts / counts.sum())
