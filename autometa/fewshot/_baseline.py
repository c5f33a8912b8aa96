"""The logistic-regression baseline: FewShotClassifier's fallback and the benchmark's
reference (torch-free)."""

from __future__ import annotations

import numpy as np


def logistic_baseline(y: np.ndarray, tune: bool, random_state: int = 0):
    """Median imputation + scaling + logistic regression; ``C`` by inner CV when ``tune`` and
    every class has at least 3 rows (the fallback and the benchmark baseline)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    min_count = int(np.bincount(np.asarray(y)).min()) if len(y) else 0
    if tune and min_count >= 3:
        # scikit-learn >= 1.8 warns (FutureWarning) about defaults that will change; these
        # are the current ones, stated, where the parameters exist: the same model, quietly.
        defaults = LogisticRegressionCV().get_params()
        stated = {
            name: value
            for name, value in (("l1_ratios", (0.0,)), ("use_legacy_attributes", True))
            if defaults.get(name) == "warn"
        }
        lr = LogisticRegressionCV(
            Cs=[0.01, 0.1, 1.0, 10.0],
            cv=min(5, min_count),
            max_iter=500,
            scoring="neg_log_loss",
            random_state=random_state,
            **stated,
        )
    else:
        lr = LogisticRegression(max_iter=500)
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), lr
    )
