"""The default meta-model: a blend of a learned ranker, a nearest-dataset vote and the
single best solver for the first pick, then picks that maximise the expected best of k
over the most similar training datasets -- hedging against the first pick being wrong --
rather than the k individually best (which tend to be near-copies of one config).

How much to trust the ranker, the neighbours and the single best solver differs from one
knowledge base to the next (on the shipped regression KB the single best config is hard to
beat; on classification the meta-features carry more signal), so those weights are chosen
at fit time by grouped cross-validation *on the training datasets only* (inner folds keep
near-duplicate families together, as the outer evaluation does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._base import MetaModel, TrainingData, _arr, _unarr, as_query
from autometa.metamodel.ranker import RankerModel

#: Ranker variants the inner cross-validation chooses between: the normalised score on
#: every meta-feature, and the deviation from the single best solver on the size,
#: landmarking and complexity meta-features (fewer, more robust features).
RANKER_VARIANTS: tuple[dict[str, Any], ...] = (
    {"target": "score"},
    {"target": "residual", "features": ["general", "landmarking", "complexity"]},
)

#: First-pick blends ``(a, b, temperature)``: mu = sbs + a (ranker - sbs) + b (knn - sbs).
BLENDS: tuple[tuple[float, float, float], ...] = tuple(
    [(0.0, 0.0, 0.2)]
    + [(a, 0.0, 0.2) for a in (0.5, 0.75, 1.0)]
    + [(a, b, t) for a in (0.0, 0.25, 0.5, 0.75) for b in (0.25, 0.5) for t in (0.1, 0.2) if a + b <= 1.0]
)

#: Incumbent bonuses: the single best config keeps the first place unless another config
#: is predicted better by more than this (normalised-score units).
BONUSES: tuple[float, ...] = (0.1, 0.05, 0.02, 0.0)

#: Hedging choices ``(uniform, temperature)`` for picks 2..k, most conservative (the static
#: greedy portfolio after the first pick) first.
HEDGES: tuple[tuple[float, float], ...] = ((1.0, 0.2), (0.5, 0.5), (0.5, 0.2), (0.25, 0.2))


def _one_se_choice(scores: list[np.ndarray]) -> int:
    """Index of the first (most conservative) candidate whose per-dataset scores are within
    one standard error of the best candidate's (paired differences): the one-standard-error
    rule, so that a candidate that only wins by noise on the inner folds is not preferred
    over a simpler one."""
    means = np.array([s.mean() for s in scores])
    best = int(np.argmax(means))
    for i, s in enumerate(scores):
        diff = scores[best] - s
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        if diff.mean() <= se + 1e-12:
            return i
    return best


def _softmax_weights(d: np.ndarray, temperature: float) -> np.ndarray:
    scale = max(float(np.median(d)) * temperature, 1e-9)
    w = np.exp(-(d - d.min()) / scale)
    return w / w.sum()


def _blend(sbs: np.ndarray, ranker: np.ndarray, U: np.ndarray, d: np.ndarray,
           a: float, b: float, temperature: float, bonus: float = 0.0) -> np.ndarray:
    mu = sbs + a * (ranker - sbs)
    if b:
        mu = mu + b * (_softmax_weights(d, temperature) @ U - sbs)
    if bonus:
        mu = mu.copy()
        mu[int(np.argmax(sbs))] += bonus
    return mu


def _hedged_picks(mu: np.ndarray, U: np.ndarray, w: np.ndarray, k: int,
                  allowed: np.ndarray | None = None) -> list[int]:
    """First the best ``mu``; then greedily the config that most raises the weighted mean
    over training datasets of the best score among the picks (ties by ``mu``)."""
    n_c = len(mu)
    allowed = np.ones(n_c, bool) if allowed is None else np.asarray(allowed, bool)
    avail = np.ones(n_c, bool)
    cur = np.zeros(U.shape[0])
    chosen: list[int] = []
    for j in range(min(k, n_c)):
        pool = avail & allowed if (avail & allowed).any() else avail
        if j == 0:
            gain = mu
        else:
            gain = w @ np.maximum(U, cur[:, None]) + 1e-6 * mu
        c = int(np.argmax(np.where(pool, gain, -np.inf)))
        chosen.append(c)
        avail[c] = False
        cur = np.maximum(cur, U[:, c])
    return chosen


class DefaultModel(MetaModel):
    """Ranker + nearest datasets + single best for the first pick, expected best-of-k after.

    The first pick maximises ``mu = sbs + a (ranker - sbs) + b (knn - sbs)`` (plus a
    ``bonus`` for the single best config, which keeps the first place unless another is
    predicted better by more than that), where
    ``ranker`` is a :class:`~autometa.metamodel.ranker.RankerModel`'s prediction of the
    normalised score, ``knn`` the softmax-distance-weighted mean normalised score of the
    training datasets nearest in (scaled, L1) meta-feature space and ``sbs`` each config's
    mean normalised score. Picks 2..k greedily maximise the weighted mean over the
    training datasets of the best score among the picks so far, with weights mixing a
    uniform share with a softmax over meta-feature distance -- so the list covers the
    scenarios in which the first pick falls short on datasets like this one.

    With ``tune=True`` (the default) the ranker variant (:data:`RANKER_VARIANTS`), the blend
    (:data:`BLENDS`), the bonus (:data:`BONUSES`) and the hedging (:data:`HEDGES`) are
    chosen by ``inner_folds``-fold cross-validation over the training datasets, grouped by
    near-duplicate family: the first pick's settings by the out-of-fold score of the first
    pick, the hedging by the out-of-fold best of 3, 5 and 10, each with the
    one-standard-error rule (the most conservative candidate within one paired standard
    error of the best). The chosen values are part of the saved state. With ``tune=False`` (or fewer than
    ``min_tune_datasets`` training datasets) the constructor's values are used.

    Parameters
    ----------
    a, b, temperature, bonus : float
        Blend weights of the ranker and the neighbours, the neighbours' softmax
        temperature relative to the median distance, and the single best's bonus (used
        when not tuned).
    uniform, hedge_temperature : float
        Hedging weights: uniform share and softmax temperature (used when not tuned).
    ranker_params : dict, optional
        Passed to every :class:`~autometa.metamodel.ranker.RankerModel` (e.g.
        ``n_estimators``); the tuned variant's ``target``/``features`` are added.
    tune : bool
        Choose the settings by inner grouped cross-validation.
    inner_folds : int
    min_tune_datasets : int
    random_state : int

    Examples
    --------
    >>> model = DefaultModel().fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    >>> model.chosen_  # doctest: +SKIP
    {'variant': 0, 'a': 0.5, 'b': 0.5, 'temperature': 0.1, 'bonus': 0.02, 'uniform': 0.5, 'hedge_temperature': 0.2}
    >>> model.select(kb.metafeatures("classification").iloc[0], k=5)  # doctest: +SKIP
    [12, 40, 3, 77, 5]
    """

    name = "default"

    def __init__(self, a: float = 1.0, b: float = 0.0, temperature: float = 0.2,
                 bonus: float = 0.0, uniform: float = 0.5, hedge_temperature: float = 0.2,
                 ranker_params: Mapping[str, Any] | None = None, tune: bool = True,
                 inner_folds: int = 5, min_tune_datasets: int = 20,
                 random_state: int = 0) -> None:
        super().__init__(random_state)
        self.a = a
        self.b = b
        self.temperature = temperature
        self.bonus = bonus
        self.uniform = uniform
        self.hedge_temperature = hedge_temperature
        self.ranker_params = dict(ranker_params or {})
        self.tune = tune
        self.inner_folds = inner_folds
        self.min_tune_datasets = min_tune_datasets

    def get_params(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "temperature": self.temperature, "bonus": self.bonus,
                "uniform": self.uniform, "hedge_temperature": self.hedge_temperature,
                "ranker_params": self.ranker_params, "tune": self.tune,
                "inner_folds": self.inner_folds, "min_tune_datasets": self.min_tune_datasets,
                "random_state": self.random_state}

    # ------------------------------------------------------------------ fitting
    def _ranker(self, variant: int) -> RankerModel:
        params = {**self.ranker_params, **RANKER_VARIANTS[variant]}
        return RankerModel(random_state=self.random_state, **params)

    def _fit(self, data: TrainingData) -> None:
        chosen = self._given()
        self.tuning_: dict[str, Any] = {}
        if self.tune and len(data.datasets) >= self.min_tune_datasets:
            chosen = self._tune(data)
        self.chosen_ = chosen
        self.ranker_ = self._ranker(chosen["variant"]).fit_data(data)
        self.U_ = np.nan_to_num(data.utility(0.0), nan=0.0)

    def _tune(self, data: TrainingData) -> dict[str, Any]:
        """Out-of-fold predictions of every ranker variant on the training datasets
        (grouped inner folds), then the blend that maximises the out-of-fold first pick
        and the hedging that maximises the out-of-fold best of 3, 5 and 10."""
        from autometa.metamodel._base import FeatureScaler
        from autometa.metamodel.evaluation import make_folds

        n_d = len(data.datasets)
        n_folds = int(min(self.inner_folds, n_d))
        labels = make_folds(data.datasets, n_folds=n_folds)
        fold = np.array([labels[d] for d in data.datasets])
        U = np.nan_to_num(data.utility(0.0), nan=0.0)
        n_v = len(RANKER_VARIANTS)
        P = np.zeros((n_v, *U.shape))
        D: list[np.ndarray] = [np.zeros(0)] * n_d  # distances of each dataset to its inner-train sets
        SBS = np.zeros(U.shape)
        train_of: list[np.ndarray] = [np.zeros(0, int)] * n_d
        for f in np.unique(fold):
            te = np.flatnonzero(fold == f)
            tr = np.flatnonzero(fold != f)
            sub = data.subset(tr)
            if sub.usable().sum() < 2:
                continue
            for v in range(n_v):
                ranker = self._ranker(v).fit_data(sub)
                for i in te:
                    P[v, i] = ranker.rank(data.metafeatures.iloc[i])[0]
            scaler = FeatureScaler().fit(data.metafeatures.iloc[tr])
            Xtr = scaler.transform(data.metafeatures.iloc[tr])
            Xte = scaler.transform(data.metafeatures.iloc[te])
            u = data.utility(0.0)[tr]
            n_known = np.isfinite(u).sum(axis=0)
            sbs = np.where(n_known > 0, np.nansum(u, axis=0) / np.maximum(n_known, 1), -1.0)
            for j, i in enumerate(te):
                D[i] = np.abs(Xtr - Xte[j]).sum(axis=1)
                SBS[i] = sbs
                train_of[i] = tr
        rows = [i for i in range(n_d) if len(train_of[i])]
        if len(rows) < 3:
            return self._given()
        # First pick: ranker variant, blend and incumbent bonus. Candidates run from the
        # most conservative (the single best) to the most trusting of the meta-features.
        names, scores, cands = [], [], []
        for bonus in BONUSES:
            for a, b, t in sorted(BLENDS, key=lambda abt: abt[0] + abt[1]):
                for v in range(n_v):
                    if a == 0.0 and v > 0:
                        continue  # the ranker does not enter: same for every variant
                    if a == 0.0 and b == 0.0 and bonus != BONUSES[0]:
                        continue  # the single best whatever the bonus
                    hits = np.array([
                        U[i, int(np.argmax(_blend(SBS[i], P[v, i], U[train_of[i]], D[i], a, b, t, bonus)))]
                        for i in rows])
                    names.append(f"first pick: variant={v} a={a} b={b} T={t} bonus={bonus}")
                    scores.append(hits)
                    cands.append((v, a, b, t, bonus))
        pick = _one_se_choice(scores)
        v, a, b, t, bonus = cands[pick]
        table = {n: float(h.mean()) for n, h in zip(names, scores)}
        # picks 2..k: hedging
        mus = {i: _blend(SBS[i], P[v, i], U[train_of[i]], D[i], a, b, t, bonus) for i in rows}
        h_scores = []
        for uniform, ht in HEDGES:
            per = []
            for i in rows:
                Ut = U[train_of[i]]
                w = (1.0 - uniform) * _softmax_weights(D[i], ht) + uniform / len(Ut)
                p = _hedged_picks(mus[i], Ut, w, 10)
                per.append(np.mean([U[i, p[:k]].max() for k in (3, 5, 10)]))
            h_scores.append(np.array(per))
            table[f"best of 3/5/10: uniform={uniform} hedge_T={ht}"] = float(np.mean(per))
        uniform, ht = HEDGES[_one_se_choice(h_scores)]
        self.tuning_ = table
        return {"variant": int(v), "a": float(a), "b": float(b), "temperature": float(t),
                "bonus": float(bonus), "uniform": float(uniform), "hedge_temperature": float(ht)}

    def _given(self) -> dict[str, Any]:
        return {"variant": 0, "a": self.a, "b": self.b, "temperature": self.temperature,
                "bonus": self.bonus, "uniform": self.uniform,
                "hedge_temperature": self.hedge_temperature}

    # ------------------------------------------------------------------ predicting
    def _parts(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r, std = self.ranker_._rank(x, raw)
        d = np.abs(self.X_ - x).sum(axis=1)
        c = self.chosen_
        mu = _blend(self.sbs_, r, self.U_, d, c["a"], c["b"], c["temperature"], c.get("bonus", 0.0))
        return mu, std, d

    def _rank(self, x: np.ndarray, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        mu, std, _ = self._parts(x, raw)
        return mu, std

    def weights(self, d: np.ndarray) -> np.ndarray:
        """Hedging weights of the training datasets for a query at distances ``d``."""
        c = self.chosen_
        return (1.0 - c["uniform"]) * _softmax_weights(d, c["hedge_temperature"]) + c["uniform"] / len(d)

    def select(self, metafeatures: pd.Series | Mapping[str, float], k: int, *,
               allowed: np.ndarray | None = None) -> list[int]:
        q = as_query(metafeatures)
        x = self.scaler_.transform(q)[0]
        mu, _, d = self._parts(x, q.iloc[0])
        return _hedged_picks(mu, self.U_, self.weights(d), k, allowed)

    # ------------------------------------------------------------------ state
    def _get_state(self) -> dict[str, Any]:
        return {"ranker": self.ranker_.get_state(), "U": _arr(self.U_), "chosen": dict(self.chosen_),
                "tuning": {k: float(v) for k, v in self.tuning_.items()}}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.chosen_ = dict(state["chosen"])
        self.tuning_ = dict(state.get("tuning", {}))
        self.ranker_ = self._ranker(int(self.chosen_["variant"]))
        self.ranker_.set_state(state["ranker"])
        self.U_ = _unarr(state["U"]).reshape(len(self.datasets_), -1)


__all__: Sequence[str] = ["BLENDS", "BONUSES", "HEDGES", "RANKER_VARIANTS", "DefaultModel"]
