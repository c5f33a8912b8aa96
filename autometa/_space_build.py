"""The preprocessing half of a configuration's pipeline (:func:`autometa.space.build`).

:func:`preprocessor` turns the configuration's ``imputation``, ``scaling``, ``encoding``
and ``reduction`` choices (:data:`autometa.space.PREPROCESSING`) into the scikit-learn
steps that take the raw DataFrame to the estimator's numeric matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from autometa.space import ONEHOT_MAX_CATEGORIES

__all__ = ["preprocessor", "target_encoder"]


def target_encoder(task: str) -> TargetEncoder:
    """Cross-fitted target encoding with the shuffled folds scikit-learn used before 1.9
    (same encodings as the knowledge base was built with, without its deprecated
    ``random_state``)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "regression":
        return TargetEncoder(target_type="continuous", cv=KFold(5, shuffle=True, random_state=0))
    return TargetEncoder(target_type="auto", cv=StratifiedKFold(5, shuffle=True, random_state=0))


def preprocessor(config: dict[str, Any], categorical: Sequence[str], task: str) -> Pipeline:
    """The unfitted preprocessing of a complete ``config``: typing the raw columns
    (``categorical`` by name), imputing and scaling the numeric ones, encoding the
    categorical ones (scaled too, unless one-hot), then the reduction."""
    from sklearn.compose import make_column_selector

    from autometa.data._columns import ColumnTyper

    scalers = {
        "none": "passthrough",
        "standard": StandardScaler(),
        "robust": RobustScaler(),
        "quantile": QuantileTransformer(n_quantiles=100, output_distribution="normal"),
    }
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy=config["imputation"], keep_empty_features=True)),
            ("scale", scalers[config["scaling"]]),
        ]
    )
    encoders = {
        "onehot": OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            sparse_output=False,
            max_categories=ONEHOT_MAX_CATEGORIES,
        ),
        "ordinal": OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
        ),
        "target": target_encoder(task),
    }
    categorical_steps = [("encode", encoders[config["encoding"]])]
    if config["encoding"] != "onehot" and config["scaling"] != "none":
        categorical_steps.append(("scale", clone(scalers[config["scaling"]])))
    # ColumnTyper leaves float64 numeric columns and string categorical ones.
    columns = ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include=np.number)),
            (
                "categorical",
                Pipeline(categorical_steps),
                make_column_selector(dtype_exclude=np.number),
            ),
        ],
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )
    reducers = {
        "none": "passthrough",
        "variance_threshold": VarianceThreshold(0.0),
        "pca": PCA(n_components=0.95, svd_solver="full", random_state=0),
    }
    return Pipeline(
        [
            ("types", ColumnTyper(categorical=list(categorical))),
            ("columns", columns),
            ("reduce", reducers[config["reduction"]]),
        ]
    )
