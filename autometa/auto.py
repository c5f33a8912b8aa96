"""``AutoClassifier`` and ``AutoRegressor``: the recommendations turned into a fitted model.

Drop-in scikit-learn estimators. ``fit`` asks :func:`autometa.recommend` for the top ``k``
configurations of the knowledge base, then

* ``time_budget=None`` (zero-shot, seconds): fits the first recommendation;
* ``time_budget=T``: races the ``k`` recommendations with successive halving on rows and
  folds, spends what is left on a warm-started :func:`autometa.tune`, and refits the winner
  -- or, with ``ensemble=True``, a greedy ensemble selection (Caruana et al. 2004) over the
  out-of-fold predictions of what was evaluated -- all within ``T`` seconds of wall time,
  refit included (see :mod:`autometa._search`).

Raw tables are welcome: strings, dates, categories and missing values go through the
pipelines' own first step, :class:`autometa.data._columns.ColumnTyper`.

Persistence
-----------
``model.save("model.skops")`` and :func:`autometa.load_model` use ``skops.io``, which
rebuilds objects from an explicit list of trusted types and never runs code from the file
(see :mod:`autometa._persist`). The usual scikit-learn route, ``joblib.dump(model, path)``
and ``joblib.load(path)``, also works and keeps the Optuna study, but unpickling runs
whatever code the file holds: load such files only from sources you trust, with the same
library versions that wrote them.

Examples
--------
>>> from autometa import AutoClassifier
>>> model = AutoClassifier(time_budget=60).fit(X_train, y_train)  # doctest: +SKIP
>>> model.leaderboard_.head()  # doctest: +SKIP
>>> model.predict(X_test)  # doctest: +SKIP
>>> model.save("model.skops")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from autometa._auto_inputs import check_features, check_target
from autometa._sklearn_compat import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from autometa.errors import DataValidationError, InvalidParameterError

__all__ = ["AutoClassifier", "AutoRegressor", "load_model"]

#: Extra memory (MB) one evaluation of the race may use, as :func:`autometa.tune`'s default.
MEMORY_LIMIT_MB = 4096
#: At most this share of the budget goes to meta-feature extraction.
METAFEATURE_SHARE = 0.05


class _AutoBase(BaseEstimator):
    """What AutoClassifier and AutoRegressor share; see their docstrings."""

    _task = ""
    _parameter_constraints: ClassVar[dict] = {
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "probe_budget": [Interval(Real, 0, None, closed="neither"), None],
        "k": [Interval(Integral, 1, None, closed="left")],
        "kb": [str, os.PathLike, HasMethods(["performance", "configs"]), None],
        "model": [str, HasMethods(["rank", "select"])],
        "ensemble": ["boolean"],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "n_jobs": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        time_budget=None,
        *,
        metric=None,
        k=5,
        kb=None,
        model="default",
        ensemble=True,
        cv=5,
        n_jobs=1,
        random_state=0,
        verbose=0,
        probe_budget=None,
    ):
        self.time_budget = time_budget
        self.probe_budget = probe_budget
        self.metric = metric
        self.k = k
        self.kb = kb
        self.model = model
        self.ensemble = ensemble
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ---- validation ----------------------------------------------------------------

    def _check_params(self) -> None:
        """Refuse a parameter outside its documented choices, naming it and its value."""
        from autometa._sklearn_compat import InvalidParameterError as SkError
        from autometa.metrics import metrics_for

        constraints = {
            **self._parameter_constraints,
            "metric": [StrOptions(set(metrics_for(self._task))), None],
        }
        try:
            validate_parameter_constraints(
                constraints, self.get_params(deep=False), caller_name=type(self).__name__
            )
        except SkError as exc:
            raise InvalidParameterError(str(exc)) from None
        if self.probe_budget is not None and self.time_budget is not None:
            raise InvalidParameterError(
                f"probe_budget={self.probe_budget!r} applies only without a time budget "
                f"(time_budget=None); with time_budget={self.time_budget!r} the search "
                "races the top k recommendations itself: leave probe_budget=None"
            )

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ---- fit -----------------------------------------------------------------------

    def fit(self, X, y):
        """Recommend, search (within ``time_budget``) and fit.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Raw features: text, dates, categories and missing values are fine.
        y : array-like of shape (n_samples,)
            Target, without missing values.

        Returns
        -------
        self
        """
        start = time.monotonic()  # first: the budget counts everything fit does
        from autometa import space
        from autometa.data import load_dataset
        from autometa.errors import DataWarning
        from autometa.recommendation import recommend

        self._check_params()
        self._start = start
        frame = check_features(self, X, reset=True).reset_index(drop=True)
        target = self._encode_y(check_target(self, frame, y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # reported once below
            dataset = load_dataset(
                (frame, pd.Series(target, name="target")), task=self._task, name="fit data"
            )
        self.dropped_columns_ = dict(dataset.metadata.get("dropped_columns", {}))
        if self.dropped_columns_:
            warnings.warn(
                f"{type(self).__name__} ignores columns "
                f"{sorted(self.dropped_columns_)} "
                f"({', '.join(sorted(set(self.dropped_columns_.values())))})",
                DataWarning,
                stacklevel=2,
            )
        self._kept = list(dataset.X.columns)
        self._categorical = list(dataset.categorical)
        raw = frame[self._kept]
        mf_budget = (
            None
            if self.time_budget is None
            else max(0.05, min(1.0, METAFEATURE_SHARE * float(self.time_budget)))
        )
        self._log(
            f"recommending {self.k} configurations for {len(frame)} rows x {frame.shape[1]} columns"
        )
        recs = recommend(
            dataset,
            k=self.k,
            metric=self.metric,
            kb=self.kb,
            model=self.model,
            random_state=self.random_state,
            **(
                {}
                if self.probe_budget is None
                else {"probe": True, "probe_budget": float(self.probe_budget)}
            ),
            **({} if mf_budget is None else {"metafeature_budget": mf_budget}),
        )
        self.recommendations_ = recs
        self.metric_ = recs.metric
        self.study_ = None
        with space.quiet_fit_warnings():
            if self.time_budget is None:
                self._fit_zero_shot(recs, raw, target)
            else:
                self._fit_budget(recs, dataset, raw, target, start)
        self.fit_time_ = time.monotonic() - start
        self._log(f"done in {self.fit_time_:.1f} s: {self._summary()}")
        return self

    def _fit_zero_shot(self, recs: Any, X: pd.DataFrame, y: np.ndarray) -> None:
        """Fit the first recommendation that fits (the next ones if it raises)."""
        from autometa._candidates import Candidate

        errors: list[Exception] = []
        for rec in recs:
            try:
                pipeline = self._build(rec.config)
                pipeline.fit(X, y)
            except Exception as exc:  # noqa: BLE001 - the next recommendation is tried
                self._log(f"recommendation {rec.rank} ({rec.algorithm}) failed: {exc}")
                errors.append(exc)
                continue
            cand = Candidate.from_recommendation(rec)
            cand.status, cand.weight = "fitted", 1.0
            self._set_result([cand], [(cand, pipeline)], score=float("nan"), best=cand)
            return
        if not errors:
            raise DataValidationError("the knowledge base recommended no configuration")
        raise errors[0]

    def _fit_budget(
        self, recs: Any, dataset: Any, X: pd.DataFrame, y: np.ndarray, start: float
    ) -> None:
        import optuna

        from autometa._ensemble import choose
        from autometa._search import Search
        from autometa.evaluate import make_splits

        budget = float(self.time_budget)
        search = Search(
            dataset,
            recs.metric,
            make_splits(dataset, self.cv, self.random_state),
            deadline=start + budget,
            budget=budget,
            ensemble=self.ensemble,
            random_state=self.random_state,
            n_jobs=self._n_jobs(),
            memory_limit_mb=MEMORY_LIMIT_MB,
            log=self._log,
        )
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            self._search(search, recs, dataset)
        finally:
            optuna.logging.set_verbosity(verbosity)
        self.study_ = search.study
        members, score = choose(search, self.ensemble, self._log)
        fitted = []
        for cand, weight in members:
            self._log(f"refitting {cand.source} ({cand.algorithm}) on all rows")
            try:
                # n_jobs cores, as the search had (the time plan assumed no more)
                with threadpool_limits(self._n_jobs()):
                    fitted.append((cand, self._build(cand.config).fit(X, y)))
            except Exception as exc:  # noqa: BLE001 - the others still make a model
                self._log(f"  refit failed: {exc}")
                cand.weight = 0.0
        if not fitted:  # a last resort beyond the budget: the zero-shot model
            self._log("no refit succeeded; fitting the first recommendation that fits")
            self._fit_zero_shot(recs, X, y)
            return
        ok = search.ranked([c for c in search.candidates if c.status == "ok"])
        self._set_result(
            search.ranked(search.candidates),
            fitted,
            score=score,
            best=ok[0] if ok else fitted[0][0],
        )

    def _search(self, search: Any, recs: Any, dataset: Any) -> None:
        """Race the recommendations, tune, and (for an ensemble) complete predictions."""
        from autometa._candidates import from_recommendations

        search.race(from_recommendations(recs, dataset.task, self._log))
        search.tune(cv=self.cv, kb=self.kb, model=self.model, warm=self.k)
        if self.ensemble:
            search.complete_predictions()

    def _set_result(self, candidates: list, fitted: list, *, score: float, best: Any) -> None:
        from autometa._candidates import leaderboard
        from autometa._ensemble import final_model

        self.model_ = final_model(fitted, self._task, len(getattr(self, "classes_", [])) or None)
        # the final model's members first, then everything else best first
        ranked = [c for c, _ in fitted] + [
            c for c in candidates if all(c is not f for f, _ in fitted)
        ]
        self.best_config_ = dict(best.config)
        self.cv_score_ = score
        self.leaderboard_ = leaderboard(ranked, self.metric_)

    # ---- prediction ----------------------------------------------------------------

    def _features(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "model_")
        return check_features(self, X, reset=False)[self._kept]

    def _output(self, X: Any) -> np.ndarray:
        from autometa._ensemble import WeightedEnsemble, member_output

        features = self._features(X)
        if isinstance(self.model_, WeightedEnsemble):
            return (
                self.model_.predict(features)
                if self._task == "regression"
                else self.model_.predict_proba(features)
            )
        return member_output(
            self.model_, features, self._task, len(getattr(self, "classes_", [])) or None
        )

    # ---- helpers -------------------------------------------------------------------

    def _build(self, config: dict) -> Any:
        from autometa import space

        return space.build(
            config,
            categorical=self._categorical,
            task=self._task,
            random_state=self.random_state,
            metric=self.metric_,
        )

    def _n_jobs(self) -> int:
        return (os.cpu_count() or 1) if self.n_jobs == -1 else int(self.n_jobs)

    def _log(self, message: str) -> None:
        if self.verbose:
            elapsed = time.monotonic() - getattr(self, "_start", time.monotonic())
            print(f"[{type(self).__name__} {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)

    def _summary(self) -> str:
        board = self.leaderboard_
        used = board[board["weight"] > 0]
        if len(used) == 1:
            what = str(used["algorithm"].iloc[0])
        else:
            what = "ensemble of " + ", ".join(
                f"{a} {w:.2f}" for a, w in zip(used["algorithm"], used["weight"])
            )
        score = (
            "not cross-validated"
            if not np.isfinite(self.cv_score_)
            else f"cv {self.metric_} {self.cv_score_:.4f}"
        )
        return f"{what} ({score})"

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        text = super().__repr__(N_CHAR_MAX=N_CHAR_MAX)
        if hasattr(self, "leaderboard_"):
            text += f" -> {self._summary()}"
        return text

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to ``path`` (skops format; atomic: a temporary file in the
        same directory renamed over ``path``, so an interrupted save leaves any earlier file
        intact and no partial one). The Optuna study is not saved (use joblib for that).

        Parameters
        ----------
        path : str or path
            File to write; its directory must exist.

        Returns
        -------
        Path
            ``path``.

        Notes
        -----
        ``joblib.dump(model, path)`` / ``joblib.load(path)`` work too, as for any
        scikit-learn estimator, and keep ``study_``; but unpickling runs whatever code the
        file holds, so load pickles only from sources you trust and with the library
        versions that wrote them. :func:`autometa.load_model` runs no code from the file.
        """
        from autometa._persist import save

        check_is_fitted(self, "model_")
        return save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.sparse = False
        # a budget makes the search depend on the machine's speed
        tags.non_deterministic = self.time_budget is not None
        return tags


_DOC_PARAMS = """
    Parameters
    ----------
    time_budget : float or None, default=None
        Seconds of wall time ``fit`` may take, refit included (honoured within 10 %; a
        budget shorter than one recommendation plus one fit is exceeded by that fit).
        ``None``: zero-shot, fit the first recommendation without any evaluation.
    metric : str or None, default=None
        What the search optimises ({metrics}); default {default}. ``score`` stays
        scikit-learn's ({score}).
    k : int, default=5
        Recommendations raced (and enqueued first into the tuning study).
    kb : KnowledgeBase, path or None, default=None
        Knowledge base of the recommendations (default: ``$AUTOMETA_KB`` or the shipped one).
    model : str or MetaModel, default="default"
        Meta-model of the recommendations (see :func:`autometa.recommend`).
    ensemble : bool, default=True
        With a budget, refit an ensemble selected greedily over the out-of-fold predictions
        when it beats the best single model on them. Ignored when ``time_budget=None``.
    cv : int, default=5
        Cross-validation folds of the search (stratified for classification).
    n_jobs : int, default=1
        Evaluations run at once (each in its own process); -1 for one per CPU core.
    random_state : int, default=0
        Seed of the recommendations, folds, subsamples, sampler and estimators. Without a
        budget, equal seeds give equal models; with one, what is evaluated in time depends
        on the machine.
    verbose : int, default=0
        1 or more: print progress lines on stderr.
    probe_budget : float or None, default=None
        Only with ``time_budget=None``: seconds for ``recommend(probe=True)`` to measure
        before the first recommendation is fitted (probe configurations, then a race of
        the top five on these rows; see :func:`autometa.recommend`), so the zero-shot
        model is the race's winner. ``None``: no measurement, the meta-model's first pick.

    Attributes
    ----------
    model_ : estimator
        The fitted final model: one scikit-learn pipeline, or a
        :class:`autometa._ensemble.WeightedEnsemble`. {model_note}
    leaderboard_ : pandas.DataFrame
        What was tried, best first: ``source`` (recommendation rank or tuning trial),
        ``algorithm``, ``status`` (``ok``, ``eliminated`` by the race, ``timeout``,
        ``memory``, ``error``, ``skipped``; ``fitted`` without a budget), ``score`` (mean of
        ``metric`` over the folds evaluated), ``rows`` and ``folds`` it was evaluated on,
        ``fit_time`` (mean seconds per fit), ``predicted_score`` (the recommendation's),
        ``weight`` in the final model, ``config_id``, ``config``, ``error``.
    recommendations_ : Recommendations
        What :func:`autometa.recommend` returned.
    study_ : optuna.Study or None
        The tuning study (None when there was no time to tune or no budget).
    best_config_ : dict
        The configuration of the best single model.
    cv_score_ : float
        Cross-validated ``metric`` of the final model (NaN without a budget).
    metric_ : str
        The metric used.
    dropped_columns_ : dict
        Columns ignored (all missing, or identifiers), with the reason.
    fit_time_ : float
        Seconds ``fit`` took.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
"""


class AutoClassifier(ClassifierMixin, _AutoBase):
    _task = "classification"

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataValidationError(
                f"y has a single class {self.classes_[0]!r}; AutoClassifier needs at least "
                "two classes"
            )
        return codes.astype(np.int64)

    def predict_proba(self, X):
        """Class probabilities.

        Members without ``predict_proba`` (SVMs) give the softmax of their decision
        function.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The columns ``fit`` saw (raw values are fine).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._output(X)

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels as in ``classes_``.
        """
        proba = self._output(X)  # first: it says NotFittedError before fit
        return self.classes_[proba.argmax(axis=1)]


class AutoRegressor(RegressorMixin, _AutoBase):
    _task = "regression"

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        assert_all_finite(y, input_name="y")
        return y

    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The columns ``fit`` saw (raw values are fine).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return np.asarray(self._output(X), dtype=float)


AutoClassifier.__doc__ = (
    """A classifier that picks, tunes and fits pipelines from autometa's recommendations.
"""
    + _DOC_PARAMS.format(
        metrics="accuracy, balanced_accuracy, log_loss, roc_auc",
        default="balanced_accuracy",
        score="accuracy",
        model_note="It is trained on class indices into ``classes_``.",
    )
    + """
    classes_ : ndarray
        The class labels.

    See Also
    --------
    AutoRegressor, autometa.recommend, autometa.tune, autometa.load_model

    Examples
    --------
    >>> from autometa import AutoClassifier
    >>> model = AutoClassifier(time_budget=60).fit(X, y)  # doctest: +SKIP
    >>> model  # doctest: +SKIP
    AutoClassifier(time_budget=60) -> ensemble of hist_gradient_boosting 0.60, ...
    >>> model.save("model.skops")  # doctest: +SKIP
"""
)

AutoRegressor.__doc__ = (
    """A regressor that picks, tunes and fits pipelines from autometa's recommendations.
"""
    + _DOC_PARAMS.format(metrics="r2, rmse, mae", default="r2", score="R²", model_note="")
    + """
    See Also
    --------
    AutoClassifier, autometa.recommend, autometa.tune, autometa.load_model

    Examples
    --------
    >>> from autometa import AutoRegressor
    >>> model = AutoRegressor(time_budget=30).fit(X, y)  # doctest: +SKIP
    >>> model.leaderboard_[["algorithm", "score", "weight"]]  # doctest: +SKIP
"""
)


def load_model(path: str | os.PathLike, *, trusted: list[str] | None = None) -> _AutoBase:
    """Load a model written by ``AutoClassifier.save`` / ``AutoRegressor.save``.

    Only the types of autometa's pipelines (an explicit list) are rebuilt; no code from the
    file runs. See :func:`autometa._persist.load` for ``trusted``.

    Examples
    --------
    >>> model = autometa.load_model("model.skops")  # doctest: +SKIP
    >>> model.predict(X_new)  # doctest: +SKIP
    """
    from autometa._persist import load

    return load(path, trusted=trusted)
