"""The one search space: every pipeline autometa can recommend, sample, store or tune.

A *configuration* is a plain JSON-serialisable dict::

    {"task": "classification", "algorithm": "random_forest",
     "imputation": "median", "scaling": "none", "encoding": "onehot", "reduction": "none",
     "params": {"n_estimators": 100, "max_features": 0.3, ...}}

The portfolio, the batch runner, the meta-models (through :func:`encode`) and Optuna
(through :func:`suggest`) all read the definitions below; nothing else describes the space.
Turning a configuration into an estimator goes through the explicit allowlist
:data:`ALGORITHMS`: no dotted path read from a file is ever imported.

*Optional* algorithms (``Algorithm.optional``; the few-shot learner ``"fewshot"``, present
only where PyTorch is installed) are left out of :func:`defaults`, :func:`sample`,
:func:`portfolio` and :func:`suggest` unless asked for, so that adding one changes no
seeded draw and no stored configuration. An algorithm may also apply to small tables only
(``Algorithm.max_rows``/``max_features``): :func:`not_applicable` says why a configuration
does not apply to a table; :func:`autometa.evaluate.evaluate` records such a configuration
as ``not_applicable`` instead of running it, and :func:`autometa.recommend` never
recommends it there.

Examples
--------
>>> from autometa import space
>>> config = space.defaults("classification")[0]
>>> pipe = space.build(config, categorical=["colour"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    LabelEncoder,
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from autometa._constants import TASKS, check_task
from autometa.errors import ConfigError, InvalidParameterError

#: Preprocessing choices, shared by every algorithm; the first entry is the default.
PREPROCESSING: dict[str, tuple[str, ...]] = {
    "imputation": ("median", "mean", "most_frequent"),
    "scaling": ("none", "standard", "robust", "quantile"),
    "encoding": ("onehot", "ordinal", "target"),
    "reduction": ("none", "variance_threshold", "pca"),
}

#: One-hot encoding keeps at most this many categories per column (rarer ones are merged).
ONEHOT_MAX_CATEGORIES = 20


@dataclass(frozen=True)
class Param:
    """One hyperparameter: a numeric range (``low``/``high``, maybe log) or ``choices``."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial: Any, key: str) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(key, list(self.choices))
        if self.integer:
            return trial.suggest_int(key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(key, self.low, self.high, log=self.log)

    def check(self, value: Any, algorithm: str) -> None:
        where = f"{algorithm}.{self.name}={value!r}"
        if self.choices is not None:
            if value not in self.choices:
                raise ConfigError(f"{where} is not one of {list(self.choices)}")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number in [{self.low}, {self.high}]")
        if not (self.low <= value <= self.high):
            raise ConfigError(f"{where} is outside its range [{self.low}, {self.high}]")
        if self.integer and not float(value).is_integer():
            raise ConfigError(f"{where} must be an integer in [{self.low:g}, {self.high:g}]")


@dataclass(frozen=True)
class Algorithm:
    """An allowlisted estimator: its factory, hyperparameters and preferred preprocessing."""

    name: str
    task: str
    factory: Callable[..., BaseEstimator]
    params: tuple[Param, ...]
    scaling: str = "none"  # the scaling its default configuration uses
    fixed: tuple[tuple[str, Any], ...] = ()  # constructor arguments never tuned
    #: Left out of :func:`defaults`, :func:`sample`, :func:`portfolio` and :func:`suggest`
    #: unless asked for (``include_optional=True``, ``algorithms=[...]``).
    optional: bool = False
    #: Training rows the algorithm applies to at most (``None``: any number).
    max_rows: int | None = None
    #: Features after the configuration's preprocessing (encoding, reduction) it applies
    #: to at most (``None``: any number).
    max_features: int | None = None

    @property
    def limited(self) -> bool:
        """Whether the algorithm applies to small tables only."""
        return self.max_rows is not None or self.max_features is not None

    def not_applicable(self, n_rows: int, n_features: int | None = None) -> str | None:
        """Why the algorithm does not apply to ``n_rows`` training rows of ``n_features``
        preprocessed features (``None``: not checked), or ``None`` where it applies.

        Examples
        --------
        >>> algorithm = Algorithm("tiny", "classification", dict, (), max_rows=1000)
        >>> algorithm.not_applicable(1200)
        'tiny applies to at most 1,000 training rows; this table has 1,200'
        >>> algorithm.not_applicable(800) is None
        True
        """
        if self.max_rows is not None and n_rows > self.max_rows:
            return (
                f"{self.name} applies to at most {self.max_rows:,} training rows; "
                f"this table has {int(n_rows):,}"
            )
        if (
            n_features is not None
            and self.max_features is not None
            and n_features > self.max_features
        ):
            return (
                f"{self.name} applies to at most {self.max_features:,} features after "
                f"preprocessing; this table has {int(n_features):,}"
            )
        return None

    def applies(self, n_rows: int, n_features: int | None = None) -> bool:
        """Whether the algorithm applies to ``n_rows`` training rows of ``n_features``
        preprocessed features (see :meth:`not_applicable`)."""
        return self.not_applicable(n_rows, n_features) is None

    def make(self, params: dict[str, Any], random_state: int | None) -> BaseEstimator:
        kwargs = dict(self.fixed)
        integer = {p.name for p in self.params if p.integer}
        kwargs.update(
            {  # 4.0 read back from JSON is 4 (estimators insist on int)
                k: int(v) if k in integer and isinstance(v, float) else v for k, v in params.items()
            }
        )
        if random_state is not None and "random_state" in self.factory().get_params():
            kwargs["random_state"] = random_state
        return self.factory(**kwargs)


class _LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Fit a classifier on integer-coded labels, answer in the original labels.

    XGBoost insists on labels ``0..K-1``; every other estimator accepts any labels, so only
    XGBoost is wrapped.
    """

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, self.label_encoder_.transform(y))
        return self

    def predict(self, X):
        return self.label_encoder_.inverse_transform(self.estimator_.predict(X).astype(int))

    def predict_proba(self, X):
        proba = self.estimator_.predict_proba(X)
        if proba.ndim == 1 or proba.shape[1] == 1:  # a single class seen in training
            proba = np.ones((len(X), 1))
        return proba


def _xgb_classifier(**kwargs) -> BaseEstimator:
    from xgboost import XGBClassifier

    return _LabelEncodedClassifier(XGBClassifier(**kwargs))


def _xgb_regressor(**kwargs) -> BaseEstimator:
    from xgboost import XGBRegressor

    return XGBRegressor(**kwargs)


def _mlp(estimator_class: type) -> Callable[..., BaseEstimator]:
    """MLPs are tuned by width and depth; sklearn wants a tuple of layer sizes."""

    def make(n_units: int = 100, n_layers: int = 1, **kwargs) -> BaseEstimator:
        return estimator_class(hidden_layer_sizes=(n_units,) * n_layers, **kwargs)

    make.__name__ = estimator_class.__name__
    return make


def _sk(module: str, name: str) -> Callable[..., BaseEstimator]:
    """Lazy factory for a scikit-learn estimator (keeps ``import autometa.space`` fast)."""

    def make(**kwargs) -> BaseEstimator:
        import importlib

        return getattr(importlib.import_module(f"sklearn.{module}"), name)(**kwargs)

    make.__name__ = name
    return make


def _mlp_factory(kind: str) -> Callable[..., BaseEstimator]:
    def make(**kwargs) -> BaseEstimator:
        from sklearn import neural_network

        cls = neural_network.MLPClassifier if kind == "classifier" else neural_network.MLPRegressor
        return _mlp(cls)(**kwargs)

    make.__name__ = f"MLP{kind}"
    return make


def _fewshot(**kwargs) -> BaseEstimator:
    """:class:`autometa.fewshot.FewShotClassifier` (imports torch: only when built)."""
    from autometa.fewshot.classifier import FewShotClassifier

    return FewShotClassifier(**kwargs)


def _torch_available() -> bool:
    """Whether torch can be imported (found, not imported: ``import autometa`` stays light)."""
    from autometa.fewshot import torch_available

    return torch_available()


def _p(name, default, low=None, high=None, log=False, integer=False, choices=None) -> Param:
    return Param(
        name, default, low, high, log, integer, None if choices is None else tuple(choices)
    )


_FOREST = (
    _p("n_estimators", 100, 50, 300, log=True, integer=True),
    _p("max_features", 0.3, 0.05, 1.0),
    _p("min_samples_leaf", 1, 1, 20, log=True, integer=True),
    _p("bootstrap", True, choices=(True, False)),
)
_HGB = (
    _p("learning_rate", 0.1, 0.01, 0.5, log=True),
    _p("max_iter", 100, 50, 500, log=True, integer=True),
    _p("max_leaf_nodes", 31, 8, 128, log=True, integer=True),
    _p("min_samples_leaf", 20, 1, 100, log=True, integer=True),
    _p("l2_regularization", 1e-6, 1e-8, 1.0, log=True),
)
_XGB = (
    _p("n_estimators", 100, 50, 500, log=True, integer=True),
    _p("learning_rate", 0.3, 0.01, 0.5, log=True),
    _p("max_depth", 6, 2, 10, integer=True),
    _p("subsample", 1.0, 0.5, 1.0),
    _p("colsample_bytree", 1.0, 0.3, 1.0),
    _p("min_child_weight", 1.0, 0.5, 20.0, log=True),
    _p("reg_lambda", 1.0, 1e-3, 10.0, log=True),
)
_KNN = (
    _p("n_neighbors", 5, 1, 50, log=True, integer=True),
    _p("weights", "uniform", choices=("uniform", "distance")),
    _p("p", 2, choices=(1, 2)),
)
_MLP = (
    _p("n_units", 100, 16, 256, log=True, integer=True),
    _p("n_layers", 1, 1, 3, integer=True),
    _p("alpha", 1e-4, 1e-7, 1e-1, log=True),
    _p("learning_rate_init", 1e-3, 1e-4, 1e-1, log=True),
)
#: The few-shot learner applies to classification tables with at most this many training
#: rows and features after preprocessing (it is meta-trained for small tables).
FEWSHOT_MAX_ROWS = 1000
FEWSHOT_MAX_FEATURES = 100
#: Its methods (``None``: the shipped default, ``data/fewshot/weights/default.json``); a
#: method without shipped weights falls back to logistic regression, with a warning.
_FEWSHOT = (
    _p("method", None, choices=(None, "pfn", "protonet", "maml", "reptile")),
    _p("n_ensemble", 4, 1, 8, integer=True),
)
_XGB_FIXED = (("n_jobs", 1), ("tree_method", "hist"), ("verbosity", 0))
_FOREST_FIXED = (("n_jobs", 1),)
_MLP_FIXED = (("max_iter", 200),)


def _algorithms() -> dict[str, dict[str, Algorithm]]:
    C, R = "classification", "regression"
    clf = [
        Algorithm(
            "logistic_regression",
            C,
            _sk("linear_model", "LogisticRegression"),
            (
                _p("C", 1.0, 1e-4, 1e4, log=True),
                _p("class_weight", None, choices=(None, "balanced")),
            ),
            scaling="standard",
            fixed=(("max_iter", 1000),),
        ),
        Algorithm(
            "linear_svm",
            C,
            _sk("svm", "LinearSVC"),
            (
                _p("C", 1.0, 1e-4, 1e3, log=True),
                _p("class_weight", None, choices=(None, "balanced")),
            ),
            scaling="standard",
            fixed=(("max_iter", 2000),),
        ),
        Algorithm(
            "rbf_svm",
            C,
            _sk("svm", "SVC"),
            (
                _p("C", 1.0, 1e-3, 1e4, log=True),
                _p("gamma", 0.05, 1e-5, 10.0, log=True),
                _p("class_weight", None, choices=(None, "balanced")),
            ),
            scaling="standard",
            fixed=(("cache_size", 500),),
        ),
        Algorithm("knn", C, _sk("neighbors", "KNeighborsClassifier"), _KNN, scaling="standard"),
        Algorithm(
            "decision_tree",
            C,
            _sk("tree", "DecisionTreeClassifier"),
            (
                _p("max_depth", 30, 1, 30, integer=True),
                _p("min_samples_leaf", 1, 1, 50, log=True, integer=True),
                _p("criterion", "gini", choices=("gini", "entropy")),
            ),
        ),
        Algorithm(
            "random_forest",
            C,
            _sk("ensemble", "RandomForestClassifier"),
            _FOREST + (_p("criterion", "gini", choices=("gini", "entropy")),),
            fixed=_FOREST_FIXED,
        ),
        Algorithm(
            "extra_trees",
            C,
            _sk("ensemble", "ExtraTreesClassifier"),
            _FOREST + (_p("criterion", "gini", choices=("gini", "entropy")),),
            fixed=_FOREST_FIXED,
        ),
        Algorithm(
            "hist_gradient_boosting", C, _sk("ensemble", "HistGradientBoostingClassifier"), _HGB
        ),
        Algorithm("xgboost", C, _xgb_classifier, _XGB, fixed=_XGB_FIXED),
        Algorithm("mlp", C, _mlp_factory("classifier"), _MLP, scaling="standard", fixed=_MLP_FIXED),
        Algorithm(
            "gaussian_nb",
            C,
            _sk("naive_bayes", "GaussianNB"),
            (_p("var_smoothing", 1e-9, 1e-11, 1e-1, log=True),),
        ),
        Algorithm(
            "lda",
            C,
            _sk("discriminant_analysis", "LinearDiscriminantAnalysis"),
            (_p("shrinkage", 0.0, 0.0, 1.0),),
            fixed=(("solver", "lsqr"),),
        ),
    ]
    reg = [
        Algorithm(
            "ridge",
            R,
            _sk("linear_model", "Ridge"),
            (_p("alpha", 1.0, 1e-4, 1e4, log=True),),
            scaling="standard",
        ),
        Algorithm(
            "elastic_net",
            R,
            _sk("linear_model", "ElasticNet"),
            (_p("alpha", 1e-2, 1e-5, 10.0, log=True), _p("l1_ratio", 0.5, 0.0, 1.0)),
            scaling="standard",
            fixed=(("max_iter", 5000),),
        ),
        Algorithm(
            "linear_svr",
            R,
            _sk("svm", "LinearSVR"),
            (_p("C", 1.0, 1e-4, 1e3, log=True), _p("epsilon", 0.0, 0.0, 1.0)),
            scaling="standard",
            fixed=(("max_iter", 5000),),
        ),
        Algorithm(
            "rbf_svr",
            R,
            _sk("svm", "SVR"),
            (
                _p("C", 1.0, 1e-3, 1e4, log=True),
                _p("gamma", 0.05, 1e-5, 10.0, log=True),
                _p("epsilon", 0.1, 1e-3, 1.0, log=True),
            ),
            scaling="standard",
            fixed=(("cache_size", 500),),
        ),
        Algorithm("knn", R, _sk("neighbors", "KNeighborsRegressor"), _KNN, scaling="standard"),
        Algorithm(
            "random_forest",
            R,
            _sk("ensemble", "RandomForestRegressor"),
            _FOREST,
            fixed=_FOREST_FIXED,
        ),
        Algorithm(
            "extra_trees", R, _sk("ensemble", "ExtraTreesRegressor"), _FOREST, fixed=_FOREST_FIXED
        ),
        Algorithm(
            "hist_gradient_boosting", R, _sk("ensemble", "HistGradientBoostingRegressor"), _HGB
        ),
        Algorithm("xgboost", R, _xgb_regressor, _XGB, fixed=_XGB_FIXED),
        Algorithm("mlp", R, _mlp_factory("regressor"), _MLP, scaling="standard", fixed=_MLP_FIXED),
    ]
    # Optional algorithms come last: the order of the others (and so every seeded draw) is
    # the same with or without them.
    if _torch_available():
        clf.append(
            Algorithm(
                "fewshot",
                C,
                _fewshot,
                _FEWSHOT,
                fixed=(("device", "cpu"),),
                optional=True,
                max_rows=FEWSHOT_MAX_ROWS,
                max_features=FEWSHOT_MAX_FEATURES,
            )
        )
    return {C: {a.name: a for a in clf}, R: {a.name: a for a in reg}}


#: What each optional algorithm needs: (task, name) -> how to get it (for messages).
_REQUIREMENTS: dict[tuple[str, str], str] = {
    ("classification", "fewshot"): 'it needs PyTorch: pip install "autometa[torch]"',
}

#: The allowlist: task -> algorithm name -> :class:`Algorithm`. Nothing else is ever built.
#: ``"fewshot"`` (classification) is in it only where PyTorch can be imported.
ALGORITHMS: dict[str, dict[str, Algorithm]] = _algorithms()

#: Optional algorithms this installation lacks: task -> name -> why.
_UNAVAILABLE: dict[str, dict[str, str]] = {
    task: {n: why for (t, n), why in _REQUIREMENTS.items() if t == task and n not in ALGORITHMS[t]}
    for task in TASKS
}


def _config_task(task: Any) -> str:
    """The task of a configuration, checked: an unknown one is a :class:`ConfigError` (an
    unknown ``task=`` argument is an ``InvalidParameterError``)."""
    try:
        return check_task(task)
    except InvalidParameterError as exc:
        raise ConfigError(f"configuration {exc}") from None


def get_algorithm(task: str, name: str) -> Algorithm:
    """The allowlisted :class:`Algorithm` ``name`` for ``task``; :class:`ConfigError` if the
    algorithm is unknown."""
    algorithms = ALGORITHMS[check_task(task)]
    if name not in algorithms:
        if isinstance(name, str) and name in _UNAVAILABLE[task]:
            raise ConfigError(
                f"{task} algorithm {name!r} is not available here: {_UNAVAILABLE[task][name]}"
            )
        raise ConfigError(f"unknown {task} algorithm {name!r}; allowed: {sorted(algorithms)}")
    return algorithms[name]


def unavailable(task: str, name: str) -> str | None:
    """Why the optional algorithm ``name`` is not in this installation's allowlist (e.g.
    ``"fewshot"`` without PyTorch), or ``None`` (available, or not an algorithm of autometa).

    Examples
    --------
    >>> unavailable("classification", "random_forest") is None
    True
    """
    return _UNAVAILABLE[check_task(task)].get(name) if isinstance(name, str) else None


def algorithm_names(task: str, include_optional: bool = False) -> list[str]:
    """The names of the task's algorithms, in the allowlist's order; the optional ones
    (e.g. ``"fewshot"``) only with ``include_optional``.

    Examples
    --------
    >>> algorithm_names("regression")[:2]
    ['ridge', 'elastic_net']
    """
    return [
        name
        for name, algorithm in ALGORITHMS[check_task(task)].items()
        if include_optional or not algorithm.optional
    ]


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Check a configuration against the space and return it; :class:`ConfigError` if invalid.

    Every key must be known, every value inside its range, the algorithm allowlisted.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"a configuration is a dict, got {type(config).__name__}")
    known = {"task", "algorithm", "params", *PREPROCESSING}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(f"unknown configuration keys {unknown}; allowed: {sorted(known)}")
    for key in ("task", "algorithm"):
        if key not in config:
            raise ConfigError(f"configuration has no {key!r}: {config}")
    algorithm = get_algorithm(_config_task(config["task"]), config["algorithm"])
    for step, choices in PREPROCESSING.items():
        if config.get(step, choices[0]) not in choices:
            raise ConfigError(f"{step}={config[step]!r} is not one of {list(choices)}")
    params = config.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(
            f"a configuration's 'params' is a dict of hyperparameters, got "
            f"{type(params).__name__}: {params!r}"
        )
    by_name = {p.name: p for p in algorithm.params}
    for name, value in params.items():
        if name not in by_name:
            raise ConfigError(
                f"{algorithm.name} has no hyperparameter {name!r}; it has {sorted(by_name)}"
            )
        by_name[name].check(value, algorithm.name)
    return config


def _config(task: str, algorithm: Algorithm, params: dict[str, Any], **steps: str) -> dict:
    config = {"task": task, "algorithm": algorithm.name}
    for step, choices in PREPROCESSING.items():
        config[step] = steps.get(step, choices[0])
    config["params"] = params
    return config


def defaults(task: str, include_optional: bool = False) -> list[dict[str, Any]]:
    """One configuration per algorithm with its default hyperparameters and preprocessing.

    Parameters
    ----------
    task : {"classification", "regression"}
    include_optional : bool, default=False
        Also the optional algorithms (e.g. ``"fewshot"`` where PyTorch is installed),
        after the others.

    Examples
    --------
    >>> [c["algorithm"] for c in defaults("regression")][:2]
    ['ridge', 'elastic_net']
    """
    return [
        _config(task, a, {p.name: p.default for p in a.params}, scaling=a.scaling)
        for a in ALGORITHMS[check_task(task)].values()
        if include_optional or not a.optional
    ]


#: Optuna study user attribute: the algorithm names the study's trials draw from
#: (:func:`suggest`'s ``algorithms``), set once when :func:`autometa.tune` or
#: :func:`autometa.warm_start` starts the study. Optuna allows one set of choices per
#: parameter in a study, so every process working on the study reads the same list.
STUDY_ALGORITHMS_ATTR = "autometa_algorithms"


def study_algorithms(study: Any, task: str) -> list[str]:
    """The algorithm names :func:`suggest` draws from in ``study``: the list stored with it
    (user attribute :data:`STUDY_ALGORITHMS_ATTR`, e.g. with the few-shot learner where
    the recommendations hold it), else the default :func:`algorithm_names` ``(task)``.

    Examples
    --------
    >>> import optuna
    >>> study_algorithms(optuna.create_study(), "regression")[:2]
    ['ridge', 'elastic_net']
    """
    attrs = getattr(study, "user_attrs", None) if study is not None else None
    stored = attrs.get(STUDY_ALGORITHMS_ATTR) if isinstance(attrs, dict) else None
    if isinstance(stored, list) and stored and all(isinstance(n, str) for n in stored):
        return list(stored)
    return algorithm_names(task)


def param_key(algorithm: str, param: str) -> str:
    """The Optuna parameter name of an algorithm's hyperparameter (names differ per algorithm)."""
    return f"{algorithm}.{param}"


def suggest(trial: Any, task: str, algorithms: Sequence[str] | None = None) -> dict[str, Any]:
    """Draw a configuration through an Optuna ``trial`` (any sampler).

    Parameters
    ----------
    trial : optuna.trial.Trial
    task : {"classification", "regression"}
    algorithms : restrict the search to these algorithm names (default: the list stored
        with the trial's study by :func:`autometa.tune` / :func:`autometa.warm_start`,
        :func:`study_algorithms`; for any other study all of the task but the optional
        ones, :func:`algorithm_names`). Optuna needs one list per study: pass the same one
        to every trial of a study (and to :func:`to_trial_params`).

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study(direction="maximize")
    >>> def objective(trial):
    ...     config = suggest(trial, "classification")
    ...     return 0.0
    """
    if algorithms is None:
        names = study_algorithms(getattr(trial, "study", None), task)
    else:
        names = list(algorithms)
    name = trial.suggest_categorical("algorithm", names)
    algorithm = get_algorithm(task, name)
    steps = {step: trial.suggest_categorical(step, list(ch)) for step, ch in PREPROCESSING.items()}
    params = {p.name: p.suggest(trial, param_key(name, p.name)) for p in algorithm.params}
    return _config(task, algorithm, params, **steps)


def to_trial_params(
    config: dict[str, Any], algorithms: Sequence[str] | None = None
) -> dict[str, Any]:
    """The Optuna parameters that make :func:`suggest` return ``config`` (for ``enqueue_trial``).

    ``algorithms`` is the list :func:`suggest` draws from (default: its default, which
    leaves out the optional algorithms); a config of an algorithm outside it is a
    :class:`ConfigError`, since no trial of such a study can draw it.
    """
    validate(config)
    names = algorithm_names(config["task"]) if algorithms is None else list(algorithms)
    if config["algorithm"] not in names:
        raise ConfigError(
            f"algorithm {config['algorithm']!r} is not among the algorithms suggest() draws "
            f"from ({names}); optional algorithms are drawn only when named: pass the same "
            "algorithms=[...] to suggest() and to_trial_params()"
        )
    trial_params = {"algorithm": config["algorithm"]}
    trial_params.update({step: config.get(step, ch[0]) for step, ch in PREPROCESSING.items()})
    trial_params.update(
        {param_key(config["algorithm"], k): v for k, v in config.get("params", {}).items()}
    )
    return trial_params


def sample(task: str, n: int, random_state: int = 0) -> list[dict[str, Any]]:
    """``n`` random configurations, drawn through :func:`suggest` with a seeded random sampler."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=random_state))
    configs = []
    for _ in range(n):
        trial = study.ask()
        configs.append(suggest(trial, task))
        study.tell(trial, 0.0)
    return configs


def portfolio(
    task: str, n: int, random_state: int = 0, include_optional: bool = False
) -> list[dict[str, Any]]:
    """The batch portfolio: all algorithm defaults, then seeded samples, ``n`` distinct configs.

    With ``include_optional``, the defaults of the optional algorithms (e.g. ``"fewshot"``
    where PyTorch is installed) follow the ``n`` configs, which stay the same.
    """
    configs = {config_id(c): c for c in defaults(task)}
    extra = sample(task, 2 * n, random_state=random_state)
    for config in extra:
        if len(configs) >= n:
            break
        configs.setdefault(config_id(config), config)
    chosen = list(configs.values())[:n]
    if include_optional:
        chosen += [c for c in defaults(task, include_optional=True) if _is_optional(c)]
    return chosen


def _is_optional(config: dict[str, Any]) -> bool:
    algorithm = ALGORITHMS[config["task"]].get(config["algorithm"])
    return algorithm is not None and algorithm.optional


def config_id(config: dict[str, Any]) -> str:
    """A stable, readable identifier: the algorithm name and a hash of the whole config."""
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return f"{config.get('algorithm', 'config')}-{digest}"


def encode(configs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Numeric encoding of configurations for meta-models.

    Returns an ``(n_configs, n_columns)`` frame with one-hot algorithm and preprocessing
    choices, hyperparameters on their natural (log10 where log-scaled) axis, choice-valued
    hyperparameters as their index, and NaN for hyperparameters of other algorithms. The
    columns depend only on the space, so encodings of different config lists line up --
    except for the optional algorithms (e.g. ``"fewshot"``), whose columns come last and
    only where ``configs`` holds one of them (a knowledge base without them encodes as
    before they existed).
    """
    tasks = {c.get("task", "classification") for c in configs} or {"classification"}
    used = {(c.get("task", "classification"), c.get("algorithm")) for c in configs}
    columns: list[str] = []
    optional: list[str] = []
    for task in sorted(tasks):
        for algorithm in ALGORITHMS[_config_task(task)].values():
            if algorithm.optional and (task, algorithm.name) not in used:
                continue
            own = [f"algorithm={algorithm.name}"]
            own += [param_key(algorithm.name, p.name) for p in algorithm.params]
            (optional if algorithm.optional else columns).extend(own)
    columns += [f"{step}={choice}" for step, ch in PREPROCESSING.items() for choice in ch]
    columns = list(dict.fromkeys(columns + optional))
    rows = []
    for config in configs:
        row = dict.fromkeys(columns, np.nan)
        for column in columns:
            if "=" in column:
                row[column] = 0.0
        algorithm = get_algorithm(config["task"], config["algorithm"])
        row[f"algorithm={algorithm.name}"] = 1.0
        for step, ch in PREPROCESSING.items():
            row[f"{step}={config.get(step, ch[0])}"] = 1.0
        for p in algorithm.params:
            value = config.get("params", {}).get(p.name, p.default)
            if p.choices is not None:
                value = float(p.choices.index(value))
            elif p.log:
                value = math.log10(max(float(value), 1e-300))
            row[param_key(algorithm.name, p.name)] = float(value)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns, dtype=float)


def _target_encoder(task: str) -> TargetEncoder:
    """Cross-fitted target encoding with the shuffled folds scikit-learn used before 1.9
    (same encodings as the knowledge base was built with, without its deprecated
    ``random_state``)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "regression":
        return TargetEncoder(target_type="continuous", cv=KFold(5, shuffle=True, random_state=0))
    return TargetEncoder(target_type="auto", cv=StratifiedKFold(5, shuffle=True, random_state=0))


def _preprocessor(config: dict[str, Any], categorical: Sequence[str], task: str) -> Pipeline:
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
        "target": _target_encoder(task),
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


def _complete(config: dict[str, Any], task: str | None) -> tuple[dict[str, Any], Algorithm]:
    """``config`` validated, with every step and hyperparameter (defaults where absent)."""
    config = dict(config)
    if task is not None:
        config["task"] = task
    validate(config)
    task = config["task"]
    algorithm = get_algorithm(task, config["algorithm"])
    full = _config(task, algorithm, {p.name: p.default for p in algorithm.params})
    full.update({k: v for k, v in config.items() if k != "params"})
    full["params"] = {**full["params"], **config.get("params", {})}
    return full, algorithm


def preprocessed_width(
    config: dict[str, Any],
    X: pd.DataFrame,
    y: Any,
    categorical: Sequence[str] = (),
    *,
    task: str | None = None,
) -> int:
    """The number of features ``config``'s preprocessing (typing, imputation, encoding,
    reduction) hands its estimator when fitted on ``(X, y)``.

    Examples
    --------
    >>> X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "colour": ["r", "g", "b", "r"]})
    >>> preprocessed_width(defaults("classification")[0], X, [0, 1, 0, 1], ["colour"])
    4
    """
    full, _ = _complete(config, task)
    with quiet_fit_warnings():
        out = _preprocessor(full, categorical, full["task"]).fit_transform(X, y)
    return int(out.shape[1])


def not_applicable(
    config: dict[str, Any],
    X: pd.DataFrame,
    y: Any,
    categorical: Sequence[str] = (),
    *,
    n_rows: int | None = None,
    task: str | None = None,
) -> str | None:
    """Why ``config`` does not apply to training on the table ``(X, y)``, or ``None``.

    Only algorithms with limits (``Algorithm.max_rows``/``max_features``; the few-shot
    learner: 1,000 training rows, 100 features) can refuse a table; for the others this
    returns ``None`` at once. Features are counted after the configuration's
    preprocessing (:func:`preprocessed_width`), which is fitted only when the rows are
    within the limit. A table whose preprocessing fails counts as applicable: the
    evaluation records the error.

    Parameters
    ----------
    config : a configuration (validated).
    X, y : the raw table (``y`` for target encoding).
    categorical : names of its categorical columns.
    n_rows : training rows (default ``len(X)``; for cross-validation, the largest
        training fold).
    task : overrides ``config["task"]``.

    Examples
    --------
    >>> X = pd.DataFrame({"x": range(2000)})
    >>> not_applicable(defaults("classification")[0], X, [0, 1] * 1000) is None
    True
    """
    full, algorithm = _complete(config, task)
    if not algorithm.limited:
        return None
    n_rows = len(X) if n_rows is None else int(n_rows)
    reason = algorithm.not_applicable(n_rows)
    if reason is not None or algorithm.max_features is None:
        return reason
    try:
        width = preprocessed_width(full, X, y, categorical)
    except Exception:  # noqa: BLE001 - the evaluation or the fit reports it
        return None
    return algorithm.not_applicable(n_rows, width)


def build(
    config: dict[str, Any],
    categorical: Sequence[str] = (),
    *,
    task: str | None = None,
    random_state: int | None = 0,
) -> Pipeline:
    """A new, unfitted scikit-learn pipeline for ``config``.

    The pipeline accepts the raw ``(n_samples, n_features)`` DataFrame: missing values,
    categorical columns (named in ``categorical``; any dtype) and all. Regressors learn a
    standardised target so that ranges such as SVR's ``epsilon`` mean the same on every
    dataset.

    Parameters
    ----------
    config : a configuration (see the module docstring); validated against the allowlist.
    categorical : names of the categorical columns of the data it will be fitted on.
    task : overrides ``config["task"]``.
    random_state : seed of the estimator where it has one.
    """
    full, algorithm = _complete(config, task)
    task = full["task"]
    estimator = algorithm.make(full["params"], random_state)
    if task == "regression":
        estimator = TransformedTargetRegressor(estimator, transformer=StandardScaler())
    from autometa._pipeline import BoundedPipeline

    return BoundedPipeline(
        [
            ("preprocess", _preprocessor(full, categorical, task)),
            ("model", estimator),
        ]
    )


@contextlib.contextmanager
def quiet_fit_warnings() -> Iterator[None]:
    """Silence the convergence and numeric chatter of iterative estimators during fits."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        for category in (ConvergenceWarning, UserWarning, RuntimeWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        yield
