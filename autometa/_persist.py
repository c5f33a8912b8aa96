"""Saving and loading ``AutoClassifier`` / ``AutoRegressor`` models without pickle.

The format is ``skops.io``: a zip of JSON that describes each object and the type to
rebuild it as. Loading rebuilds only the types on an explicit list -- scikit-learn's own,
which skops trusts, plus :data:`TRUSTED_TYPES`, the classes autometa's pipelines are made
of -- and refuses a file holding anything else, so opening a model file never runs code
from it (unlike ``pickle``/``joblib``).

A fitted few-shot learner (:class:`autometa.fewshot.FewShotClassifier`) is saved without
its torch network: the file names the weights file (and its SHA-256) and the first
prediction after loading reads it again; its logistic-regression fallback is an ordinary
scikit-learn pipeline. Loading such a model needs PyTorch installed.

Some things are not stored as Python objects: ``leaderboard_`` and ``recommendations_``
travel as JSON text and are rebuilt on load; ``study_`` (an Optuna study, which skops
cannot describe) is left out; a ``kb`` or ``model`` parameter given as an object is stored
as the knowledge base's directory and the meta-model's name.

Writes are atomic: the bytes go to a temporary file in the target's directory, are
flushed to disk, and the file is renamed over the target. A process killed mid-save leaves
the earlier file (if any) intact and, at worst, a hidden ``.NAME.*.tmp`` file, never a
truncated model.
"""

from __future__ import annotations

import copy
import json
import os
import zipfile
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd

from autometa._io import json_default, write_atomic
from autometa.errors import ModelFileError

__all__ = ["TRUSTED_TYPES", "load", "save"]

#: Types beyond skops' defaults that a saved autometa model may contain: autometa's own
#: estimators and pipeline steps, and the fitted state of what the configurations of
#: :mod:`autometa.space` build (listed by saving every algorithm of the space with each
#: preprocessing choice; ``tests/test_auto.py`` checks it). Nothing else is rebuilt.
TRUSTED_TYPES: tuple[str, ...] = (
    # autometa's own estimators and pipeline steps
    "autometa._balanced.BalancedPriorClassifier",
    "autometa._ensemble.WeightedEnsemble",
    "autometa._pipeline.BoundedPipeline",
    "autometa.auto.AutoClassifier",
    "autometa.auto.AutoRegressor",
    "autometa.data._columns.ColumnTyper",
    # the few-shot learner: its saved state holds no torch object (the network is read
    # again from the weights file it names, the device is stored as its name)
    "autometa.fewshot.classifier.FewShotClassifier",
    "autometa.space._LabelEncodedClassifier",
    # the column selector's dtype (a type reference, nothing is called)
    "numpy.dtype",
    "numpy.number",
    "sklearn.compose._column_transformer.make_column_selector",
    # fitted state of scikit-learn estimators that skops does not list by default
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    # the fitted trees of decision trees and forests (skops >= 0.16 no longer trusts them
    # by default)
    "sklearn.tree._tree.Tree",
    # XGBoost models (the booster is stored as its own serialised bytes)
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRegressor",
)


def _portable(model: Any) -> Any:
    """A shallow copy of ``model`` whose attributes skops can describe with trusted types."""
    out = copy.copy(model)
    out.study_ = None
    # Parameters given as objects are stored as what names them: the knowledge base's
    # directory (None: the default one) and the meta-model's name.
    if not isinstance(model.kb, (str, os.PathLike, type(None))):
        path = getattr(model.kb, "path", None)
        out.kb = None if path is None else str(path)
    if not isinstance(model.model, str):
        out.model = str(getattr(model.model, "name", "default"))
    board = model.leaderboard_
    out.leaderboard_ = json.dumps(
        {
            "frame": json.loads(board.to_json(orient="split", default_handler=str)),
            "dtypes": {str(c): str(t) for c, t in board.dtypes.items()},
        }
    )
    recs = getattr(model, "recommendations_", None)
    out.recommendations_ = (
        None if recs is None else json.dumps(recs.to_dict(), default=_json_default)
    )
    return out


def _json_default(value: Any) -> Any:
    """:func:`autometa._io.json_default`, but anything else is kept as its text: a saved
    model must not fail to save over one exotic value in its recommendations."""
    try:
        return json_default(value)
    except TypeError:
        return str(value)


def _restore(model: Any) -> Any:
    stored = json.loads(model.leaderboard_)
    board = pd.read_json(StringIO(json.dumps(stored["frame"])), orient="split", dtype=False)
    for column, dtype in stored["dtypes"].items():
        if dtype != "object":  # numbers and flags as they were (null -> NaN)
            board[column] = board[column].astype(dtype)
    board.index.name = "rank"
    board.attrs["metric"] = getattr(model, "metric_", None)
    model.leaderboard_ = board
    if isinstance(model.recommendations_, str):
        data = json.loads(model.recommendations_)
        from autometa.recommendation import Recommendations

        from_dict = getattr(Recommendations, "from_dict", None)
        model.recommendations_ = from_dict(data) if from_dict is not None else data
    return model


def save(model: Any, path: str | os.PathLike) -> Path:
    """Write ``model`` (a fitted AutoClassifier/AutoRegressor) to ``path`` atomically.

    Raises
    ------
    ModelFileError
        The directory of ``path`` does not exist.
    """
    import skops.io as sio

    path = Path(path)
    if not path.parent.is_dir():
        raise ModelFileError(
            f"cannot save the model to {str(path)!r}: directory {str(path.parent)!r} does not exist"
        )
    data = sio.dumps(_portable(model), compression=zipfile.ZIP_DEFLATED)
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data), fsync=True)
    return path


def load(path: str | os.PathLike, *, trusted: Sequence[str] | None = None) -> Any:
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or path
    trusted : list of str, optional
        Further type names (``"module.Class"``) to rebuild, for a model file whose
        pipelines hold types autometa does not make. Add only types from a source you
        trust: rebuilding a type can run its code.

    Raises
    ------
    ModelFileError
        No such file, not a model file, or it holds types outside the trusted list (named
        in the message).
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {str(path)!r}")
    allowed = set(TRUSTED_TYPES) | set(trusted or ())
    try:
        found = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{str(path)!r} is not a saved autometa model: {exc}") from exc
    refused = sorted(set(found) - allowed)
    if refused:
        raise ModelFileError(
            f"{str(path)!r} holds types outside the trusted list: {refused}; pass "
            "trusted=[...] with them only if you trust where the file comes from"
        )
    try:
        model = sio.load(path, trusted=list(found))
    except Exception as exc:  # skops raises many kinds on a damaged file
        raise ModelFileError(f"cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    from autometa.auto import _AutoBase

    if not isinstance(model, _AutoBase):
        raise ModelFileError(
            f"{str(path)!r} holds a {type(model).__name__}, not an AutoClassifier or AutoRegressor"
        )
    return _restore(model)
