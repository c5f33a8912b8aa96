"""The one search space: every pipeline autometa can recommend, sample, store or tune.

A *configuration* is a plain JSON-serialisable dict::

    {"task": "classification", "algorithm": "random_forest",
     "imputation": "median", "scaling": "none", "encoding": "onehot", "reduction": "none",
     "params": {"n_estimators": 100, "max_features": 0.3, ...}}

The portfolio, the batch runner, the meta-models (through :func:`encode`) and Optuna
(through :func:`suggest`) all read the definitions below; nothing else describes the space.
Turning a configuration into an estimator goes through the explicit allowlist
:data:`ALGORITHMS`: no dotted path read from a file is ever imported.

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

from autometa._constants import TASKS, check_task  # noqa: F401 - TASKS re-exported
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


@dataclass(frozen=True)
class Algorithm:
    """An allowlisted estimator: its factory, hyperparameters and preferred preprocessing."""

    name: str
    task: str
    factory: Callable[..., BaseEstimator]
    params: tuple[Param, ...]
    scaling: str = "none"  # the scaling its default configuration uses
    fixed: tuple[tuple[str, Any], ...] = ()  # constructor arguments never tuned

    def make(self, params: dict[str, Any], random_state: int | None) -> BaseEstimator:
        kwargs = dict(self.fixed)
        kwargs.update(params)
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
    return {C: {a.name: a for a in clf}, R: {a.name: a for a in reg}}


#: The allowlist: task -> algorithm name -> :class:`Algorithm`. Nothing else is ever built.
ALGORITHMS: dict[str, dict[str, Algorithm]] = _algorithms()


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
        raise ConfigError(f"unknown {task} algorithm {name!r}; allowed: {sorted(algorithms)}")
    return algorithms[name]


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


def defaults(task: str) -> list[dict[str, Any]]:
    """One configuration per algorithm with its default hyperparameters and preprocessing.

    Examples
    --------
    >>> [c["algorithm"] for c in defaults("regression")][:2]
    ['ridge', 'elastic_net']
    """
    return [
        _config(task, a, {p.name: p.default for p in a.params}, scaling=a.scaling)
        for a in ALGORITHMS[check_task(task)].values()
    ]


def param_key(algorithm: str, param: str) -> str:
    """The Optuna parameter name of an algorithm's hyperparameter (names differ per algorithm)."""
    return f"{algorithm}.{param}"


def suggest(trial: Any, task: str, algorithms: Sequence[str] | None = None) -> dict[str, Any]:
    """Draw a configuration through an Optuna ``trial`` (any sampler).

    Parameters
    ----------
    trial : optuna.trial.Trial
    task : {"classification", "regression"}
    algorithms : restrict the search to these algorithm names (default: all of the task).

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study(direction="maximize")
    >>> def objective(trial):
    ...     config = suggest(trial, "classification")
    ...     return 0.0
    """
    names = list(ALGORITHMS[check_task(task)]) if algorithms is None else list(algorithms)
    name = trial.suggest_categorical("algorithm", names)
    algorithm = get_algorithm(task, name)
    steps = {step: trial.suggest_categorical(step, list(ch)) for step, ch in PREPROCESSING.items()}
    params = {p.name: p.suggest(trial, param_key(name, p.name)) for p in algorithm.params}
    return _config(task, algorithm, params, **steps)


def to_trial_params(config: dict[str, Any]) -> dict[str, Any]:
    """The Optuna parameters that make :func:`suggest` return ``config`` (for ``enqueue_trial``)."""
    validate(config)
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


def portfolio(task: str, n: int, random_state: int = 0) -> list[dict[str, Any]]:
    """The batch portfolio: all algorithm defaults, then seeded samples, ``n`` distinct configs."""
    configs = {config_id(c): c for c in defaults(task)}
    extra = sample(task, 2 * n, random_state=random_state)
    for config in extra:
        if len(configs) >= n:
            break
        configs.setdefault(config_id(config), config)
    return list(configs.values())[:n]


def config_id(config: dict[str, Any]) -> str:
    """A stable, readable identifier: the algorithm name and a hash of the whole config."""
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return f"{config.get('algorithm', 'config')}-{digest}"


def encode(configs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Numeric encoding of configurations for meta-models.

    Returns an ``(n_configs, n_columns)`` frame with one-hot algorithm and preprocessing
    choices, hyperparameters on their natural (log10 where log-scaled) axis, choice-valued
    hyperparameters as their index, and NaN for hyperparameters of other algorithms. The
    columns depend only on the space, so encodings of different config lists line up.
    """
    tasks = {c.get("task", "classification") for c in configs} or {"classification"}
    columns: list[str] = []
    for task in sorted(tasks):
        for algorithm in ALGORITHMS[_config_task(task)].values():
            columns.append(f"algorithm={algorithm.name}")
            columns += [param_key(algorithm.name, p.name) for p in algorithm.params]
    columns += [f"{step}={choice}" for step, ch in PREPROCESSING.items() for choice in ch]
    columns = list(dict.fromkeys(columns))
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
    config = dict(config)
    if task is not None:
        config["task"] = task
    validate(config)
    task = config["task"]
    algorithm = get_algorithm(task, config["algorithm"])
    full = _config(task, algorithm, {p.name: p.default for p in algorithm.params})
    full.update({k: v for k, v in config.items() if k != "params"})
    full["params"] = {**full["params"], **config.get("params", {})}
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
