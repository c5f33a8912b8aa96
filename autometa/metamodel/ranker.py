"""A learned ranker: gradient-boosted trees on (meta-features, config encoding) predicting
the within-dataset normalised score of a config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._arrays import array_from_json, array_to_json
from autometa.metamodel._base import TRAIN_FLOOR, MetaModel
from autometa.metamodel._training import TrainingData


def encode_configs(configs: Mapping[str, Mapping[str, Any]], task: str) -> pd.DataFrame:
    """Numeric encoding of configs, one row per config id.

    Configs of autometa's search space go through :func:`autometa.space.encode`; configs it
    does not know (a ``from_frames`` knowledge base: opaque algorithm names, any
    parameters) fall back to a one-hot of the algorithm name, plus numeric parameters and
    a one-hot of the config id when several configs share an algorithm.

    Examples
    --------
    >>> encode_configs({"A": {"algorithm": "A"}, "B": {"algorithm": "B"}}, "regression").values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    ids = list(configs)
    from autometa import space

    try:
        enc = space.encode([{"task": task, **dict(configs[c])} for c in ids])
    except (ValueError, KeyError, TypeError):  # ConfigError is a ValueError: opaque configs
        enc = None
    if enc is not None:
        enc.index = ids
        return enc.astype(float)
    algos = [str(configs[c].get("algorithm", c)) for c in ids]
    frame = pd.get_dummies(pd.Series(algos, index=ids), prefix="algorithm", prefix_sep="=").astype(
        float
    )
    params: dict[str, dict[str, float]] = {}
    for c in ids:
        for k, v in dict(configs[c].get("params", {}) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                params.setdefault(f"param={k}", {})[c] = float(v)
    for col, vals in params.items():
        frame[col] = pd.Series(vals, dtype=float).reindex(ids)
    if len(set(algos)) < len(ids):
        frame = frame.join(
            pd.get_dummies(pd.Series(ids, index=ids), prefix="config", prefix_sep="=").astype(float)
        )
    return frame


class RankerModel(MetaModel):
    """XGBoost on meta-features + config encoding, predicting the normalised score.

    ``std`` is half the config's spread across training datasets (a config whose results
    vary a lot is less certain), plus the disagreement between boosters when ``n_bags > 1``
    (different seeds, row/column subsampling). One thread by default: on a shared
    two-core machine XGBoost's threads mostly wait for each other.

    Parameters
    ----------
    n_estimators, max_depth, learning_rate : XGBoost settings.
    n_bags : int
        Number of boosters averaged.
    objective : {"regression", "pairwise"}
        Pointwise squared error on the normalised score, or XGBoost's pairwise ranking
        within each dataset (scores then only order configs; they are rescaled to the
        training range).
    target : {"score", "residual", "floor-1"}
        What the boosters learn: the normalised score on the evaluation scale (floor 0,
        failures 0), its deviation from the config's mean over the training datasets
        (the single-best-solver score is added back when predicting: the trees then only
        model how a dataset departs from the average), or the score with floor -1 (the
        first version's target).
    features : sequence of str, optional
        Meta-feature groups (column prefixes before the first ``.``, e.g. ``"general"``,
        ``"landmarking"``) the boosters see; all when None or when none of the columns
        matches (a ``from_frames`` knowledge base).
    n_jobs : int
        Threads for XGBoost.
    random_state : int

    Examples
    --------
    >>> RankerModel(n_estimators=100).fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    """

    name = "ranker"

    def __init__(
        self,
        n_estimators: int = 150,
        max_depth: int = 5,
        learning_rate: float = 0.08,
        n_bags: int = 1,
        objective: str = "regression",
        n_jobs: int = 1,
        target: str = "score",
        features: Any = None,
        random_state: int = 0,
    ) -> None:
        super().__init__(random_state)
        self.target = target
        self.features = None if features is None else [str(f) for f in features]
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.n_bags = n_bags
        self.objective = objective
        self.n_jobs = n_jobs

    def _feature_index(self) -> np.ndarray:
        cols = list(self.scaler_.columns_)
        if self.features:
            idx = [i for i, c in enumerate(cols) if str(c).split(".")[0] in self.features]
            if idx:
                return np.asarray(idx, dtype=int)
        return np.arange(len(cols))

    def _design(self, Xq: np.ndarray) -> np.ndarray:
        """Rows (dataset, config) -> [meta-features, config encoding]."""
        n_d, n_c = Xq.shape[0], self.E_.shape[0]
        Xq = Xq[:, self.fidx_]
        return np.hstack([np.repeat(Xq, n_c, axis=0), np.tile(self.E_, (n_d, 1))])

    def _fit(self, data: TrainingData) -> None:
        import xgboost as xgb

        from autometa.errors import ConfigError

        if self.target not in ("score", "residual", "floor-1"):
            raise ConfigError(
                f"target must be 'score', 'residual' or 'floor-1', got {self.target!r}"
            )
        self.E_ = encode_configs(
            {c: self.configs_[c] for c in self.config_ids_}, self.task_
        ).to_numpy(float)
        self.fidx_ = self._feature_index()
        U = data.utility(TRAIN_FLOOR if self.target == "floor-1" else 0.0)
        if self.target == "residual":
            U = U - self.sbs_[None, :]
        X = self._design(self.X_)
        y = U.ravel()
        keep = np.isfinite(y)
        qid = np.repeat(np.arange(U.shape[0]), U.shape[1])
        self.boosters_: list[Any] = []
        params = {
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": 0.8,
            "colsample_bytree": 0.6,
            "min_child_weight": 5.0,
            "nthread": self.n_jobs,
            "tree_method": "hist",
            "max_bin": 64,
            "verbosity": 0,
        }
        if self.objective == "pairwise":
            params.update(
                objective="rank:pairwise",
                lambdarank_pair_method="topk",
                lambdarank_num_pair_per_sample=8,
            )
        elif self.objective == "regression":
            params["objective"] = "reg:squarederror"
        else:
            from autometa.errors import ConfigError

            raise ConfigError(
                f"objective must be 'regression' or 'pairwise', got {self.objective!r}"
            )
        for b in range(self.n_bags):
            dtrain = xgb.DMatrix(
                X[keep], label=y[keep], qid=qid[keep] if self.objective == "pairwise" else None
            )
            booster = xgb.train(
                {**params, "seed": self.random_state * 1000 + b},
                dtrain,
                num_boost_round=self.n_estimators,
            )
            self.boosters_.append(booster)
        # Rescale ranking scores to the training range of normalised scores.
        self.scale_ = (1.0, 0.0)  # identity: a * p + b
        if self.objective == "pairwise":
            p = self._predict(self.X_)
            self.scale_ = _fit_affine(p.ravel()[keep], y[keep])
        Uf = np.where(np.isfinite(U), U, np.nan)
        self.spread_ = np.nan_to_num(np.nanstd(Uf, axis=0), nan=0.5)

    def _predict(self, Xq: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        D = xgb.DMatrix(self._design(Xq))
        preds = np.stack([b.predict(D) for b in self.boosters_])  # (bags, n_d * n_c)
        return preds.mean(axis=0).reshape(Xq.shape[0], -1)

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        import xgboost as xgb

        D = xgb.DMatrix(self._design(x[None, :]))
        preds = np.stack([b.predict(D) for b in self.boosters_])
        a, b = self.scale_
        preds = a * preds + b
        if self.target == "residual":
            preds = preds + self.sbs_[None, :]
        mean = preds.mean(axis=0)
        std = np.sqrt(preds.var(axis=0) + (0.5 * self.spread_) ** 2)
        return mean, std

    def _get_state(self) -> dict[str, Any]:
        return {
            "E": array_to_json(self.E_),
            "scale": list(self.scale_),
            "spread": array_to_json(self.spread_),
            "features": [int(i) for i in self.fidx_],
            # xgboost's own JSON model format: portable across versions, never pickle
            "boosters": [bytes(b.save_raw("json")).decode() for b in self.boosters_],
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        import xgboost as xgb

        self.E_ = array_from_json(state["E"]).reshape(len(self.config_ids_), -1)
        self.scale_ = tuple(state["scale"])
        self.fidx_ = np.asarray(state["features"], dtype=int)
        self.spread_ = array_from_json(state["spread"])
        self.boosters_ = []
        for raw in state["boosters"]:
            booster = xgb.Booster()
            booster.load_model(bytearray(raw.encode()))
            booster.set_param({"nthread": self.n_jobs})
            self.boosters_.append(booster)


def _fit_affine(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``a * p + b ~ y`` (maps ranking margins to the score scale)."""
    if len(p) < 2 or np.std(p) < 1e-12:
        return (0.0, float(np.mean(y)) if len(y) else 0.0)
    a, b = np.polyfit(p, y, 1)
    return float(a), float(b)
