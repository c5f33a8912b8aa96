"""``FewShotClassifier``: the scikit-learn face of the few-shot learners."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from autometa.errors import DataValidationError, InvalidParameterError
from autometa.fewshot import require_torch
from autometa.fewshot._baseline import logistic_baseline

require_torch()

import torch

from autometa.fewshot._encoder import (
    EpisodeModel,
    canonical_class_order,
    canonical_feature_order,
    normalize,
)
from autometa.fewshot._weights import (
    FewShotWeightsError,
    FewShotWeightsNotFoundError,
    load_weights,
)

#: Gate tolerance: a regime passes if the model's mean meta-validation ROC AUC is at least
#: the logistic-regression baseline minus this.
GATE_TOLERANCE = 0.005
#: Rows per class at or below which an episode counts as "k <= 5" for the gate.
SMALL_K = 5
METHODS = ("pfn", "protonet", "maml", "reptile")
#: Which size of a method's shipped weights to use where the default size has none.
SIZE_PREFERENCE = ("S", "tiny", "M")
#: The gate's regimes in words.
REGIME_WORDS = {
    "k_le_5": f"at most {SMALL_K} rows per class",
    "k_gt_5": f"more than {SMALL_K} rows per class",
}


#: The heads :class:`FewShotClassifier` can put on the network (its ``head``).
HEADS = ("auto", "network", "linear", "linear+forest")
#: The heads that need a network embedding rows on their own (ProtoNet, MAML, Reptile).
EMBEDDING_HEADS = ("linear", "linear+forest")
#: Inverse L2 strength of the linear head's logistic regression (chosen on meta-validation
#: at k = 10-50 among 0.01, 0.03, 0.1, 0.3, 1 and 10, with and without the raw features).
LINEAR_HEAD_C = 0.1
#: Where the linear head clips the standardised raw features (outliers).
RAW_CLIP = 5.0
#: The ``"linear+forest"`` head's random forest (XGBoost's, grown in one call: scikit-learn's
#: forests spend ~0.5 ms of Python per tree, more than the trees take to grow on a few dozen
#: rows) and the forest's share of its probabilities. Chosen on meta-validation at k = 10-50
#: (``benchmarks/fewshot_heads.py --study blend`` and ``--study forest``, results in
#: ``benchmarks/results/fewshot_forest_round*.md``): every blend of the linear head and a
#: forest beat both alone; trees 3-6 deep that each see 30-70 % of the features per split
#: beat 50 extra trees (by 0.004-0.007 ROC AUC), 100 scikit-learn random-forest trees, and
#: XGBoost forests of deeper trees or of sqrt(features) per split, in about a quarter of the
#: time of scikit-learn's forest; 32 bins cost nothing on a few hundred rows.
FOREST_PARAMS = {
    "n_estimators": 100,
    "max_depth": 4,
    "colsample_bynode": 0.5,
    "subsample": 0.632,
    "min_child_weight": 0.0,
    "reg_lambda": 1e-3,
    "max_bin": 32,
}
FOREST_SHARE = 0.5
#: Ensemble members of ``n_ensemble="auto"`` per head. The linear+forest head's forest already
#: adds what more members would: on meta-test (44 datasets, k = 10-50) 2 members instead of 4
#: cost 0.0006-0.0008 ROC AUC and save 40 % of the time.
AUTO_MEMBERS = {"network": 4, "linear": 4, "linear+forest": 2}


def ensemble_members(n_ensemble: int | str, head: str) -> int:
    """Ensemble members ``FewShotClassifier(n_ensemble=...)`` averages with ``head``."""
    return AUTO_MEMBERS[head] if n_ensemble == "auto" else int(n_ensemble)


class FewShotFallbackWarning(UserWarning):
    """FewShotClassifier is using logistic regression instead of the neural learner."""


def weights_dir() -> Path:
    """Directory of the shipped weights: ``$AUTOMETA_FEWSHOT_WEIGHTS`` or ``data/fewshot/weights``."""
    env = os.environ.get("AUTOMETA_FEWSHOT_WEIGHTS")
    if env:
        return Path(env)
    from autometa._resources import shipped_path

    return shipped_path("fewshot", "weights")


def default_choice() -> dict[str, str]:
    """The shipped default ``{"method", "size"}`` (``weights/default.json``; pfn/S if absent)."""
    path = weights_dir() / "default.json"
    if path.is_file():
        rec = json.loads(path.read_text())
        return {"method": rec.get("method", "pfn"), "size": rec.get("size", "S")}
    return {"method": "pfn", "size": "S"}


_MODEL_CACHE: dict[tuple[str, float], tuple[EpisodeModel, dict]] = {}
_DIGEST_CACHE: dict[tuple[str, float], str] = {}


def _digest(path: Path) -> str:
    """``sha256:<hex>`` of the weights file ``path`` (cached per file and mtime)."""
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _DIGEST_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGEST_CACHE[key] = f"sha256:{h.hexdigest()}"
    return _DIGEST_CACHE[key]


def _load_cached(path: Path, method: str | None) -> tuple[EpisodeModel, dict]:
    # Fitting only stores data, so re-reading the weights on every fit (knowledge-base runs
    # fit thousands of times) would dominate; key on the file's mtime to see updates.
    if not path.is_file():
        raise FewShotWeightsNotFoundError(
            f"FewShotClassifier(model={str(path)!r}): few-shot weights file {str(path)!r} does "
            "not exist"
            + (" (it is a directory)" if path.is_dir() else "")
            + '; pass "default", the path of a .pt weights file or an EpisodeModel'
        )
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = load_weights(path, method)
    model, meta = _MODEL_CACHE[key]
    if method is not None and model.method != method:
        raise FewShotWeightsError(f"{path} holds {model.method!r} weights, not {method!r}")
    return model, meta


def _check_head(head: Any) -> None:
    if head not in HEADS:
        raise InvalidParameterError(
            f"FewShotClassifier(head={head!r}): head must be one of {HEADS}"
        )


def head_for(head: str, model: EpisodeModel, regime: str) -> str:
    """The head a fit in ``regime`` puts on ``model``: ``head`` itself, or for ``"auto"``
    the linear head averaged with a random forest above :data:`SMALL_K` rows per class where
    the method embeds rows on their own (ProtoNet, MAML, Reptile), the method's own head
    otherwise."""
    _check_head(head)
    if head in EMBEDDING_HEADS and not model.has_row_embeddings:
        raise InvalidParameterError(
            f"FewShotClassifier(head={head!r}): the {model.method!r} network does not embed "
            "rows on their own, so it has no embeddings for a linear head; use head='auto' "
            "or 'network', or method='protonet', 'maml' or 'reptile'"
        )
    if head == "auto":
        large = regime == "k_gt_5" and model.has_row_embeddings
        return "linear+forest" if large else "network"
    return head


def _gate_ok(meta: dict, regime: str, head: str = "network") -> tuple[bool, str]:
    gate = meta.get("gate")
    if not gate:
        return False, "the weights carry no meta-validation gate record"
    rec = gate.get(regime)
    if rec is None:
        return False, f"the gate record has no entry for {regime}"
    gated_head = rec.get("head", "network")  # records before the linear head had none
    if gated_head != head:
        return False, (
            f"the gate for {REGIME_WORDS.get(regime, regime)} was measured with the "
            f"{gated_head} head, not the {head} head this fit uses"
        )
    if not rec.get("passed", False):
        # the worst k says why; the regime's means can sit on either side of the baseline
        per_k = rec.get("per_k") or {"": rec}
        k, worst = min(
            per_k.items(), key=lambda kv: kv[1].get("auc", 0) - kv[1].get("baseline_auc", 0)
        )
        at = f" at k={k} rows per class" if k else f" with {REGIME_WORDS.get(regime, regime)}"
        return False, (
            f"on meta-validation the weights reached ROC AUC {worst.get('auc', float('nan')):.4f}"
            f" against {worst.get('baseline_auc', float('nan')):.4f} for logistic regression{at}"
            f"; the gate for {REGIME_WORDS.get(regime, regime)} allows {GATE_TOLERANCE:g} less"
            " at every k"
        )
    return True, ""


def shipped_weights(method: str | None = None) -> Path:
    """The shipped weights file of ``method`` (``None``: the default method): the default
    size's where it exists, else the first of :data:`SIZE_PREFERENCE` shipped for it."""
    choice = default_choice()
    method = method or choice["method"]
    sizes = [choice["size"], *(s for s in SIZE_PREFERENCE if s != choice["size"])]
    paths = [weights_dir() / f"{method}_{size}.pt" for size in sizes]
    return next((p for p in paths if p.is_file()), paths[0])


def regime_of(n_rows: int, n_classes: int) -> str:
    """The gate's regime of a fit on ``n_rows`` labelled rows of ``n_classes`` classes."""
    return "k_le_5" if n_rows / n_classes <= SMALL_K else "k_gt_5"


def resolve_weights(
    model: str | os.PathLike,
    method: str | None,
    regime: str,
    gate: bool = True,
    head: str = "auto",
) -> tuple[Path, str | None]:
    """The weights file a fit in ``regime`` uses, and why it falls back (``None``: it does not).

    ``model`` is ``"default"`` (the shipped weights of ``method``, or of the default method)
    or a weights file's path; a missing shipped file or a failed gate (for the head the fit
    puts on the network, see :func:`head_for`) is a fallback, a missing path the caller gave
    is an error.
    """
    shipped = isinstance(model, str) and model == "default"
    path = shipped_weights(method) if shipped else Path(model)
    if shipped and not path.is_file():
        name = method or default_choice()["method"]
        return path, f"no few-shot weights are shipped for method {name!r} ({path})"
    network, meta = _load_cached(path, method)
    ok, why = _gate_ok(meta, regime, head_for(head, network, regime)) if gate else (True, "")
    return path, None if ok else f"weights {path.name} failed the gate ({why})"


def fallback_reason(
    y: Any, *, method: str | None = None, model: str = "default", head: str = "auto"
) -> str | None:
    """Why :class:`FewShotClassifier` fitted on labels ``y`` would use logistic regression
    instead of its network (no weights, or weights that failed the meta-validation gate for
    this many rows per class), or ``None`` where it would use the network.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels of the rows it would be fitted on.
    method : {"pfn", "protonet", "maml", "reptile"}, default=None
        As :class:`FewShotClassifier`'s ``method`` (``None``: the shipped default).
    model : str, default="default"
        As :class:`FewShotClassifier`'s ``model``: ``"default"`` or a weights file's path.
    head : {"auto", "network", "linear", "linear+forest"}, default="auto"
        As :class:`FewShotClassifier`'s ``head``.

    Returns
    -------
    str or None

    Examples
    --------
    >>> fallback_reason([0, 1] * 500)  # doctest: +SKIP
    'weights protonet_tiny.pt failed the gate (... at k=50 rows per class; ...)'
    """
    y = np.asarray(y)
    n_classes = max(len(np.unique(y)), 1)
    return resolve_weights(model, method, regime_of(len(y), n_classes), head=head)[1]


def _as_float_matrix(X: Any) -> tuple[np.ndarray, list[str] | None]:
    names = None
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        cols = {}
        for c in X.columns:
            s = X[c]
            if (
                isinstance(s.dtype, pd.CategoricalDtype)
                or s.dtype == object
                or pd.api.types.is_string_dtype(s)
            ):
                # Integer codes, like the corpus's categorical columns; NaN stays missing.
                codes = s.astype("category").cat.codes.astype("float32")
                cols[c] = codes.where(codes >= 0)
            else:
                cols[c] = pd.to_numeric(s, errors="coerce").astype("float32")
        X = pd.DataFrame(cols)
    try:
        return check_array(X, dtype=np.float32, ensure_all_finite="allow-nan"), names
    except TypeError:  # scikit-learn < 1.6 names the argument force_all_finite
        return check_array(X, dtype=np.float32, force_all_finite="allow-nan"), names


class FewShotClassifier(ClassifierMixin, BaseEstimator):
    """Meta-learned classifier for tables with few labelled rows (1 to ~50 per class).

    ``fit`` stores the labelled rows as the context; ``predict_proba`` runs the network on
    (context, query) episodes, averaging ``n_ensemble`` members that differ in column/class
    identity draws and input normalisation (and in feature subsets above the trained number
    of features).  Predictions do not depend on column order or label values, and are
    deterministic for a fixed ``random_state``.

    With more than 5 rows per class a logistic regression on the network's row embeddings
    and the raw features (the *linear head*, fitted on the context rows) replaces the
    method's own head where the method embeds rows on their own: a class mean throws away
    what many rows per class say, a linear model on the same embeddings keeps it (Tian et
    al., "Rethinking few-shot image classification: a good embedding is all you need?",
    ECCV 2020), and the raw features give it what the embedding lost. Its probabilities
    are averaged with those of a random forest on the raw features (:data:`FOREST_PARAMS`):
    the two err differently, and on meta-validation the average beat both.

    When no usable weights are shipped, or the shipped weights failed the meta-validation
    gate for the regime of this fit (k <= 5 or k > 5 rows per class), it falls back to
    logistic regression and says so with a :class:`FewShotFallbackWarning`; ``fallback_``
    then holds the reason.

    Parameters
    ----------
    model : "default", path or EpisodeModel
        ``"default"``: the shipped weights of ``method`` (``data/fewshot/weights``); a path:
        a weights file; an ``EpisodeModel``: used as is (no gate).
    method : {"pfn", "protonet", "maml", "reptile"}, optional
        Few-shot method; default: the one chosen on meta-validation (``default.json``).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    n_ensemble : int or "auto", default="auto"
        Ensemble members averaged at prediction; ``"auto"``: 4, or 2 with the
        ``"linear+forest"`` head, whose forest adds the diversity more members would
        (:data:`AUTO_MEMBERS`).
    head : {"auto", "network", "linear", "linear+forest"}, default="auto"
        ``"network"``: the method's own head (class prototypes, the adapted head, the PFN's
        output); ``"linear"``: logistic regression on the standardised row embeddings and
        raw features (ProtoNet, MAML and Reptile only); ``"linear+forest"``: the linear
        head's probabilities averaged with those of a random forest on the raw features;
        ``"auto"``: ``"linear+forest"`` above 5 rows per class where the method has row
        embeddings, the network's otherwise. The weights' gate is per head.
    random_state : int
        Seed of the identity vectors and feature subsets.
    gate : bool
        Apply the meta-validation gate of the weights (ignored for an ``EpisodeModel``).
    max_context : int
        Context rows used at most (a stratified subsample above it).
    batch_size : int
        Query rows per forward pass.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when ``X`` was a DataFrame.
    fallback_ : str or None
        Why logistic regression is used instead of the network, or ``None``.
    head_ : {"network", "linear", "linear+forest"} or None
        The head the network runs with (``None`` with the fallback).
    n_ensemble_ : int or None
        The ensemble members it averages (``None`` with the fallback).
    forest_ : xgboost.XGBRFClassifier
        The trees of the ``"linear+forest"`` head (only with that head), fitted on the
        columns in the order ``forest_columns_`` and the classes renumbered by
        ``forest_class_rank_`` (both in an order that depends on the rows only).
    model_ : EpisodeModel or None
        The network (``None`` with the fallback). A classifier whose network came from a
        weights file is saved (pickled, or by ``skops``) without it: ``weights_`` says
        which file, and the first prediction after loading reads it again.
    weights_ : dict or None
        The weights file of ``model_`` (``file``: its name in :func:`weights_dir` for the
        shipped weights, ``shipped``, else its path; ``method``; ``sha256``), or ``None``
        (the fallback, or an ``EpisodeModel`` given as ``model``).
    meta_ : dict
        Metadata of the weights (training record, gate).
    device_ : torch.device

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FewShotClassifier(random_state=0).fit(X[::10], y[::10])  # doctest: +SKIP
    >>> clf.predict(X[:3])  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any = "default",
        method: str | None = None,
        device: str = "auto",
        n_ensemble: int | str = "auto",
        head: str = "auto",
        random_state: int = 0,
        gate: bool = True,
        max_context: int = 2000,
        batch_size: int = 512,
    ) -> None:
        self.model = model
        self.method = method
        self.device = device
        self.n_ensemble = n_ensemble
        self.head = head
        self.random_state = random_state
        self.gate = gate
        self.max_context = max_context
        self.batch_size = batch_size

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> FewShotClassifier:
        """Store the labelled rows as context (and decide on the fallback).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric (categorical columns of a DataFrame become integer codes); NaN = missing.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or None, got {self.method!r}")
        auto_members = isinstance(self.n_ensemble, str) and self.n_ensemble == "auto"
        if not auto_members and (
            not isinstance(self.n_ensemble, int)
            or isinstance(self.n_ensemble, bool)
            or self.n_ensemble < 1
        ):
            raise InvalidParameterError(
                f"FewShotClassifier(n_ensemble={self.n_ensemble!r}): n_ensemble must be a "
                'positive int or "auto"'
            )
        _check_head(self.head)
        Xf, names = _as_float_matrix(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(Xf):
            raise DataValidationError(f"y must be 1-d with {len(Xf)} labels, got shape {y.shape}")
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataValidationError(
                f"FewShotClassifier needs at least 2 classes; y has only {self.classes_.tolist()}"
            )
        self.n_features_in_ = Xf.shape[1]
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.device_ = self._resolve_device()
        self.X_, self.y_ = Xf, y_enc.astype(np.int64)
        if len(self.y_) > self.max_context:
            keep = self._stratified_subsample(self.y_, self.max_context)
            self.X_, self.y_ = self.X_[keep], self.y_[keep]
        self.fallback_, self.model_, self.meta_, self.weights_ = None, None, {}, None
        self.head_ = None
        k_eff = len(y_enc) / len(self.classes_)
        regime = regime_of(len(y_enc), len(self.classes_))
        if isinstance(self.model, EpisodeModel):
            bad = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
            if bad:
                raise InvalidParameterError(
                    f"FewShotClassifier(model=...): the model has non-finite (NaN or inf) "
                    f"values in {bad[:5]}; its probabilities would be NaN"
                )
            self.model_ = self.model
            self.head_ = head_for(self.head, self.model, regime)
        elif not isinstance(self.model, (str, os.PathLike)):
            raise InvalidParameterError(
                f'FewShotClassifier(model={self.model!r}): model must be "default", the path '
                f"of a weights file or an EpisodeModel, got {type(self.model).__name__}"
            )
        else:
            path, self.fallback_ = resolve_weights(
                self.model, self.method, regime, self.gate, self.head
            )
            if self.fallback_ is None:
                self.model_, self.meta_ = _load_cached(path, self.method)
                self.head_ = head_for(self.head, self.model_, regime)
                shipped = isinstance(self.model, str) and self.model == "default"
                # what a saved classifier stores instead of the network (__getstate__)
                self.weights_ = {
                    "file": path.name if shipped else str(path.resolve()),
                    "shipped": shipped,
                    "method": self.method,
                    "sha256": _digest(path),
                }
        self.n_ensemble_ = None
        if self.head_ is not None:
            self.n_ensemble_ = ensemble_members(self.n_ensemble, self.head_)
        if self.fallback_ is not None:
            warnings.warn(
                f"FewShotClassifier falls back to logistic regression: {self.fallback_}",
                FewShotFallbackWarning,
                stacklevel=2,
            )
            self.fallback_estimator_ = logistic_baseline(
                y_enc, tune=k_eff > SMALL_K, random_state=self.random_state
            ).fit(Xf, y_enc)
        else:
            self.model_ = self.model_.to(self.device_).eval()
            if self.head_ == "linear+forest":
                self._fit_forest()
        return self

    def _fit_forest(self) -> None:
        """``forest_``: the ``"linear+forest"`` head's trees, on the context's raw features
        (NaN as is) in canonical column order ``forest_columns_``, and with the classes in
        canonical order ``forest_class_rank_`` (XGBoost grows one tree per class, with its own
        random draws: they would otherwise see the user's column order and labels)."""
        from xgboost import XGBRFClassifier

        z = _robust(torch.tensor(self.X_)[None])
        self.forest_columns_ = _canonical_columns(z)
        y_ctx = torch.from_numpy(self.y_)[None]
        rank = canonical_class_order(z, y_ctx, len(self.classes_))[0].numpy()
        # a few hundred rows: threads would only add overhead (as for the linear head)
        forest = XGBRFClassifier(**FOREST_PARAMS, n_jobs=1, random_state=self.random_state)
        self.forest_ = forest.fit(self.X_[:, self.forest_columns_], rank[self.y_])
        self.forest_class_rank_ = rank

    def _forest_proba(self, Xq: np.ndarray) -> np.ndarray:
        """The ``"linear+forest"`` head's trees' probabilities of the query rows."""
        P = self.forest_.predict_proba(Xq[:, self.forest_columns_])
        rank = getattr(self, "forest_class_rank_", None)  # None: saved with extra trees
        return P if rank is None else P[:, rank]

    def _resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                "device='cuda' was asked for but CUDA is not available; use device='auto'"
            )
        return dev

    # ------------------------------------------------------------ persistence
    def __getstate__(self) -> dict[str, Any]:
        """The fitted state without torch objects: no network when it came from a weights
        file (``weights_`` names the file; :meth:`_network` reads it again on the first
        prediction) and the device as its name. So ``skops`` saves a fitted classifier with
        plain types only, and loading one runs no code from the file."""
        state = super().__getstate__()
        if state is self.__dict__:  # scikit-learn returns __dict__ itself at times
            state = dict(state)
        if state.get("weights_") and state.get("model_") is not None:
            state["model_"] = None
        if isinstance(state.get("device_"), torch.device):
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        # saved before the linear head existed: it predicts as it did when it was saved
        state.setdefault("head", "network")
        if "classes_" in state and state.get("fallback_") is None:
            state.setdefault("head_", "network")
            # saved before n_ensemble="auto": n_ensemble was the number of members
            state.setdefault("n_ensemble_", state.get("n_ensemble"))
        if isinstance(state.get("device_"), str):
            state["device_"] = torch.device(state["device_"])
        super().__setstate__(state)

    def _network(self) -> EpisodeModel:
        """``model_``, read again from the weights file named by ``weights_`` when the
        classifier was loaded (or unpickled) without it."""
        if self.model_ is not None:
            return self.model_
        ref = getattr(self, "weights_", None)
        if not ref:
            raise FewShotWeightsError(
                "FewShotClassifier has neither a network nor a weights file to read it from"
            )
        path = weights_dir() / ref["file"] if ref.get("shipped") else Path(ref["file"])
        if not path.is_file():
            raise FewShotWeightsNotFoundError(
                f"FewShotClassifier was fitted with the few-shot weights {str(path)!r}, which "
                "do not exist here; restore the file (or set AUTOMETA_FEWSHOT_WEIGHTS to its "
                "directory) or fit the model again"
            )
        if ref.get("sha256") and _digest(path) != ref["sha256"]:
            raise FewShotWeightsError(
                f"FewShotClassifier was fitted with other weights than {str(path)!r} holds "
                f"now ({ref['sha256']}, the file has {_digest(path)}); its predictions would "
                "differ: fit the model again"
            )
        model, _ = _load_cached(path, ref.get("method"))
        device = self.device_
        if device.type == "cuda" and not torch.cuda.is_available():
            if self.device != "auto":
                raise ValueError(
                    f"FewShotClassifier was fitted on {device} but CUDA is not available "
                    "here; set device='auto' or 'cpu'"
                )
            self.device_ = device = torch.device("cpu")
        self.model_ = model.to(device).eval()
        return self.model_

    def _stratified_subsample(self, y: np.ndarray, n: int) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        keep = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            take = max(1, round(n * len(idx) / len(y)))
            keep.append(rng.choice(idx, min(take, len(idx)), replace=False))
        return np.sort(np.concatenate(keep))

    # -------------------------------------------------------------- predict
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        ndarray of shape (n_queries, n_classes), rows sum to 1, columns in ``classes_`` order.
        """
        check_is_fitted(self, "classes_")
        Xq, _ = _as_float_matrix(X)
        if Xq.shape[1] != self.n_features_in_:
            raise DataValidationError(
                f"X has {Xq.shape[1]} features, but FewShotClassifier was fitted with {self.n_features_in_}"
            )
        if self.fallback_ is not None:
            return self.fallback_estimator_.predict_proba(Xq)
        C = len(self.classes_)
        head = getattr(self, "head_", "network")
        if head == "linear":
            return self._linear_proba(Xq, C)
        if head == "linear+forest":
            linear = self._linear_proba(Xq, C)
            return (1 - FOREST_SHARE) * linear + FOREST_SHARE * self._forest_proba(Xq)
        max_classes = int(self.meta_.get("train", {}).get("max_classes", 10))
        if C <= max_classes:
            return self._proba(self.X_, self.y_, Xq, C)
        # More classes than seen in training: one-vs-rest, renormalised.
        cols = [
            self._proba(self.X_, (self.y_ == c).astype(np.int64), Xq, 2)[:, 1] for c in range(C)
        ]
        P = np.clip(np.stack(cols, 1), 1e-9, None)
        return P / P.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each row: ndarray of shape (n_queries,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _members(self, xc: torch.Tensor):
        """Per ensemble member: (columns it sees, input normalisation, seed)."""
        max_f = int(self.meta_.get("train", {}).get("max_features", 64))
        Fd = xc.shape[2]
        if Fd > max_f:
            # Feature subsets chosen by canonical column rank: invariant to column order.
            by_rank = _canonical_columns(_robust(xc))
        for m in range(self.n_ensemble_):
            seed = int(self.random_state) * 7919 + m
            cols = slice(None)
            if Fd > max_f:
                pick = np.random.default_rng(seed).choice(Fd, max_f, replace=False)
                cols = np.sort(by_rank[pick])
            yield cols, ("robust" if m % 2 == 0 else "quantile"), seed

    def _episodes(self, xc: torch.Tensor, Xq: np.ndarray, cols):
        """(first query row, context + a batch of query rows on the device)."""
        for s in range(0, len(Xq), self.batch_size):
            xq = torch.tensor(Xq[s : s + self.batch_size])[None]
            yield s, torch.cat([xc, xq], 1)[:, :, cols].to(self.device_)

    @torch.no_grad()
    def _proba(self, Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray, C: int) -> np.ndarray:
        model = self._network()
        xc = torch.tensor(Xc)[None]
        y_ctx = torch.from_numpy(yc)[None].to(self.device_)
        out = np.zeros((len(Xq), C))
        for cols, norm, seed in self._members(xc):
            for s, x in self._episodes(xc, Xq, cols):
                gen = torch.Generator().manual_seed(seed)
                logits = model(x, y_ctx, C, norm=norm, generator=gen, canonical=True)
                out[s : s + x.shape[1] - len(yc)] += (
                    torch.softmax(logits.float()[0], -1).cpu().numpy()
                )
        return out / self.n_ensemble_

    @torch.no_grad()
    # a few hundred rows: a multi-threaded BLAS only spins, and on a busy machine it made
    # the head 10-20 times slower than the network
    @threadpool_limits.wrap(limits=1)
    def _linear_proba(self, Xq: np.ndarray, C: int) -> np.ndarray:
        """The linear head: per member, a logistic regression fitted on the context rows'
        standardised embeddings and raw features predicts the query rows'."""
        from sklearn.linear_model import LogisticRegression

        raw_ctx, raw_qry = _standardised(self.X_, Xq, clip=RAW_CLIP)
        model = self._network()
        xc = torch.tensor(self.X_)[None]
        y_ctx = torch.from_numpy(self.y_)[None].to(self.device_)
        n_ctx = len(self.y_)
        out = np.zeros((len(Xq), C))
        for cols, norm, seed in self._members(xc):
            head = None
            for s, x in self._episodes(xc, Xq, cols):
                gen = torch.Generator().manual_seed(seed)
                e = model.row_embeddings(x, y_ctx, C, norm=norm, generator=gen, canonical=True)
                e = e.float()[0].cpu().numpy()
                emb_ctx, emb_qry = _standardised(e[:n_ctx], e[n_ctx:])
                if head is None:  # the context's embeddings are the same in every batch
                    head = LogisticRegression(C=LINEAR_HEAD_C, max_iter=500)
                    head.fit(np.hstack([emb_ctx, raw_ctx]), self.y_)
                rows = slice(s, s + len(emb_qry))
                out[rows] += head.predict_proba(np.hstack([emb_qry, raw_qry[rows]]))
        return out / self.n_ensemble_


def _robust(xc: torch.Tensor) -> torch.Tensor:
    """The context (``xc``: 1 x rows x features) normalised as the canonical orders see it."""
    return normalize(xc, xc.shape[1], "robust")[0]


def _canonical_columns(z: torch.Tensor) -> np.ndarray:
    """The context's columns (``z``: :func:`_robust` of the context) in canonical order: the
    same columns in the same order whatever order the user gave them in."""
    return np.argsort(canonical_feature_order(z, z.shape[1])[0].numpy())


def _standardised(
    ctx: np.ndarray, qry: np.ndarray, clip: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``ctx`` and ``qry`` with missing values set to the context's median, then centred and
    scaled by the context's mean and standard deviation (and clipped to +-``clip``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: filled with 0
        fill = np.nan_to_num(np.nanmedian(ctx, axis=0))
    ctx, qry = (np.where(np.isnan(a), fill, a) for a in (ctx, qry))
    mean, scale = ctx.mean(0), ctx.std(0) + 1e-6
    ctx, qry = (ctx - mean) / scale, (qry - mean) / scale
    if clip is not None:
        ctx, qry = np.clip(ctx, -clip, clip), np.clip(qry, -clip, clip)
    return ctx, qry
