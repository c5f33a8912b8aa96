"""Reference points for the evaluation: the single best solver, random picks, and a
FLAML-style 1-nearest-neighbour on four size meta-features."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._arrays import array_from_json, array_to_json
from autometa.metamodel._base import MetaModel
from autometa.metamodel._scaler import FeatureScaler
from autometa.metamodel._training import TrainingData, find_feature


class SingleBestModel(MetaModel):
    """The single best solver (SBS): configs ranked by their mean normalised score over
    the training datasets, the same for every dataset.

    Examples
    --------
    >>> SingleBestModel().fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    """

    name = "sbs"

    def _fit(self, data: TrainingData) -> None:
        u = data.utility(0.0)
        self.std_ = np.nan_to_num(np.nanstd(np.where(np.isnan(u), 0.0, u), axis=0), nan=0.5)

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        return self.sbs_.copy(), self.std_.copy()

    def _get_state(self) -> dict[str, Any]:
        return {"std": array_to_json(self.std_)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.std_ = array_from_json(state["std"])


class RandomModel(MetaModel):
    """Uniformly random rankings; deterministic for a given ``random_state`` and query."""

    name = "random"

    def _fit(self, data: TrainingData) -> None:
        pass

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        # Seed from the query too, so that different datasets get different draws while
        # the same dataset always gets the same one.
        digest = hashlib.sha1(np.ascontiguousarray(np.round(x, 12)).tobytes()).digest()
        seed = [self.random_state, int.from_bytes(digest[:4], "little")]
        rng = np.random.default_rng(seed)
        n = len(self.config_ids_)
        return rng.random(n), np.full(n, 0.5)


class FlamlNearestModel(MetaModel):
    """FLAML zero-shot style: the configs ranked as on the single training dataset nearest
    in (log rows, log features, classes, % numeric) -- OpenML's NumberOfInstances,
    NumberOfFeatures, NumberOfClasses and PercentageOfNumericFeatures.

    On a knowledge base without those meta-features (``from_frames`` with other columns)
    it uses every meta-feature.
    """

    name = "flaml"

    def _fit(self, data: TrainingData) -> None:
        cols = list(data.metafeatures.columns)
        chosen = [
            find_feature(cols, k) for k in ("n_instances", "n_features", "n_classes", "pct_numeric")
        ]
        chosen = [c for c in chosen if c is not None]
        self.features_ = chosen if chosen else cols
        self.small_scaler_ = FeatureScaler().fit(data.metafeatures[self.features_])
        self.Xs_ = self.small_scaler_.transform(data.metafeatures[self.features_])
        u = data.utility(0.0)
        self.U_ = np.where(np.isnan(u), -1.0, u)
        self.std_ = np.nanstd(np.where(np.isnan(u), 0.0, u), axis=0)

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        q = self.small_scaler_.transform(raw.to_frame().T)[0]
        d = np.abs(self.Xs_ - q).sum(axis=1)
        nearest = int(np.argmin(d))
        # configs that tie on the neighbour are ordered by the single-best score in select
        return self.U_[nearest].copy(), self.std_.copy()

    def _get_state(self) -> dict[str, Any]:
        return {
            "features": self.features_,
            "scaler": self.small_scaler_.get_state(),
            "Xs": array_to_json(self.Xs_),
            "U": array_to_json(self.U_),
            "std": array_to_json(self.std_),
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.features_ = list(state["features"])
        self.small_scaler_ = FeatureScaler.from_state(state["scaler"])
        self.Xs_ = array_from_json(state["Xs"]).reshape(len(self.datasets_), -1)
        self.U_ = array_from_json(state["U"]).reshape(len(self.datasets_), -1)
        self.std_ = array_from_json(state["std"])
