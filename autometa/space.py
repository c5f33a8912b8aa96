"""The one search space: every pipeline autometa can recommend, sample, store or tune.

A *configuration* is a plain JSON-serialisable dict::

    {"task": "classification", "algorithm": "random_forest",
     "imputation": "median", "scaling": "none", "encoding": "onehot", "reduction": "none",
     "params": {"n_estimators": 100, "max_features": 0.3, ...}}

The portfolio, the batch runner, the meta-models (through :func:`encode`) and Optuna
(through :func:`suggest`) all read the definitions below; nothing else describes the space.
(The table of algorithms behind :data:`ALGORITHMS` is written in
``autometa/_space_algorithms.py``, the preprocessing steps of :func:`build` in
``autometa/_space_build.py``.) Turning a configuration into an estimator goes through the
explicit allowlist :data:`ALGORITHMS`: no dotted path read from a file is ever imported.

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
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler

from autometa import _space_algorithms
from autometa._constants import TASKS, check_task
from autometa._space_algorithms import Algorithm, Param
from autometa.errors import ConfigError, InvalidParameterError
from autometa.metrics import get_metric

# In reading order, not sorted: the API page lists the names in this order.
__all__ = [  # noqa: RUF022
    "PREPROCESSING",
    "ONEHOT_MAX_CATEGORIES",
    "Param",
    "Algorithm",
    "FEWSHOT_MAX_ROWS",
    "FEWSHOT_MAX_FEATURES",
    "ALGORITHMS",
    "get_algorithm",
    "unavailable",
    "algorithm_names",
    "validate",
    "balanced_defaults",
    "library_defaults",
    "defaults",
    "STUDY_ALGORITHMS_ATTR",
    "study_algorithms",
    "param_key",
    "suggest",
    "to_trial_params",
    "sample",
    "portfolio",
    "config_id",
    "encode",
    "preprocessed_width",
    "not_applicable",
    "build",
    "quiet_fit_warnings",
]

#: Preprocessing choices, shared by every algorithm; the first entry is the default.
PREPROCESSING: dict[str, tuple[str, ...]] = {
    "imputation": ("median", "mean", "most_frequent"),
    "scaling": ("none", "standard", "robust", "quantile"),
    "encoding": ("onehot", "ordinal", "target"),
    "reduction": ("none", "variance_threshold", "pca"),
}

#: One-hot encoding keeps at most this many categories per column (rarer ones are merged).
ONEHOT_MAX_CATEGORIES = 20

#: The few-shot learner applies to classification tables with at most this many training
#: rows and features after preprocessing (it is meta-trained for small tables).
FEWSHOT_MAX_ROWS = _space_algorithms.FEWSHOT_MAX_ROWS
FEWSHOT_MAX_FEATURES = _space_algorithms.FEWSHOT_MAX_FEATURES


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


#: The allowlist: task -> algorithm name -> :class:`Algorithm`. Nothing else is ever built.
#: ``"fewshot"`` (classification) is in it only where PyTorch can be imported.
ALGORITHMS: dict[str, dict[str, Algorithm]] = _space_algorithms.allowlist()

#: Optional algorithms this installation lacks: task -> name -> why.
_UNAVAILABLE: dict[str, dict[str, str]] = {
    task: {
        o.algorithm.name: o.requires
        for o in _space_algorithms.OPTIONAL
        if o.algorithm.task == task and o.algorithm.name not in ALGORITHMS[task]
    }
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
        _config(task, a, {p.name: p.default for p in a.params if p.in_portfolio}, scaling=a.scaling)
        for a in ALGORITHMS[check_task(task)].values()
        if include_optional or not a.optional
    ]


def balanced_defaults(task: str) -> list[dict[str, Any]]:
    """The default configuration of every classifier with a ``class_weight``, with
    ``class_weight="balanced"`` (none for regression).

    The seeded portfolio holds few class-weighted configurations, the tree ensembles none,
    while balanced accuracy (the default metric) on imbalanced tables turns on class
    weights; :func:`portfolio` appends these when asked (``include_balanced=True``).

    Examples
    --------
    >>> [c["algorithm"] for c in balanced_defaults("classification")][-1]
    'hist_gradient_boosting'
    >>> balanced_defaults("regression")
    []
    """
    weighted = []
    for config in defaults(task):
        algorithm = get_algorithm(task, config["algorithm"])
        if "class_weight" in {p.name for p in algorithm.params}:
            params = {**config["params"], "class_weight": "balanced"}
            weighted.append(_config(task, algorithm, params, scaling=algorithm.scaling))
    return weighted


#: scikit-learn's own defaults for the regression forests where the space's defaults differ
#: (every feature at each split, leaves of one row; bootstrapping only for the random
#: forest), with ordinal codes: a category keeps its own code however many there are.
_LIBRARY_FOREST_PARAMS = {
    "random_forest": {"max_features": 1.0, "min_samples_leaf": 1, "bootstrap": True},
    "extra_trees": {"max_features": 1.0, "min_samples_leaf": 1, "bootstrap": False},
}


def library_defaults(task: str) -> list[dict[str, Any]]:
    """The regression forests and gradient boosting as scikit-learn builds them by default,
    on ordinal codes (none for classification).

    The space's defaults are tuned to small tables (a random forest draws 30 % of the
    features at each split) and one-hot encode, merging rare categories; on large tables
    with little noise scikit-learn's regression defaults (every feature, leaves of one
    row) and a code per category can win, and the seeded portfolio holds nothing like them.
    :func:`portfolio` appends these when asked (``include_library=True``). The shipped
    knowledge base does not hold them: evaluated into it, they were the best configuration
    of 15 of its 83 regression datasets at real size but did not improve the
    recommendations on real tables (``data/README.md``).

    Parameters
    ----------
    task : {"classification", "regression"}

    Examples
    --------
    >>> [(c["algorithm"], c["encoding"]) for c in library_defaults("regression")][:1]
    [('random_forest', 'ordinal')]
    >>> library_defaults("classification")
    []
    """
    if check_task(task) != "regression":
        return []
    configs = []
    for config in defaults(task):
        algorithm = get_algorithm(task, config["algorithm"])
        if algorithm.name in _LIBRARY_FOREST_PARAMS:
            params = {**config["params"], **_LIBRARY_FOREST_PARAMS[algorithm.name]}
        elif algorithm.name == "hist_gradient_boosting":
            params = config["params"]
        else:
            continue
        configs.append(_config(task, algorithm, params, encoding="ordinal"))
    return configs


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


def suggest(
    trial: Any, task: str, algorithms: Sequence[str] | None = None, *, portfolio: bool = False
) -> dict[str, Any]:
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
    portfolio : draw only the hyperparameters of the seeded portfolio (``Param.in_portfolio``),
        the others at their defaults: what :func:`sample` draws, so that hyperparameters
        added later do not change the seeded draws. Either way such a hyperparameter is
        written into the configuration only away from its default.

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
    params = {}
    for p in algorithm.params:
        if p.in_portfolio or not portfolio:
            value = p.suggest(trial, param_key(name, p.name))
            # one added after the portfolio is written only away from its default, so that
            # a drawn configuration equal to one of the knowledge base's has the same id
            if p.in_portfolio or value != p.default:
                params[p.name] = value
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
    # every hyperparameter, defaults included: a configuration written before one was added
    # (the knowledge base's) must not have it drawn at random when enqueued
    params = _complete(config, None)[0]["params"]
    trial_params.update({param_key(config["algorithm"], k): v for k, v in params.items()})
    return trial_params


def sample(task: str, n: int, random_state: int = 0) -> list[dict[str, Any]]:
    """``n`` random configurations, drawn through :func:`suggest` with a seeded random sampler."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=random_state))
    configs = []
    for _ in range(n):
        trial = study.ask()
        configs.append(suggest(trial, task, portfolio=True))
        study.tell(trial, 0.0)
    return configs


def portfolio(
    task: str,
    n: int,
    random_state: int = 0,
    include_optional: bool = False,
    include_balanced: bool = False,
    include_library: bool = False,
) -> list[dict[str, Any]]:
    """The batch portfolio: all algorithm defaults, then seeded samples, ``n`` distinct configs.

    With ``include_balanced``, the class-weighted defaults (:func:`balanced_defaults`) follow
    the ``n`` configs, which stay the same; with ``include_library``, scikit-learn's
    regression defaults (:func:`library_defaults`) after them; with ``include_optional``,
    the defaults of the optional algorithms (e.g. ``"fewshot"`` where PyTorch is installed)
    last.
    """
    configs = {config_id(c): c for c in defaults(task)}
    extra = sample(task, 2 * n, random_state=random_state)
    for config in extra:
        if len(configs) >= n:
            break
        configs.setdefault(config_id(config), config)
    chosen = list(configs.values())[:n]
    if include_balanced:
        chosen += [c for c in balanced_defaults(task) if config_id(c) not in configs]
    if include_library:
        chosen += [c for c in library_defaults(task) if config_id(c) not in configs]
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


def caveat(config: dict[str, Any], y: Any, *, task: str | None = None) -> str | None:
    """What a user should know about ``config`` on a table with labels ``y`` where it does
    apply (``Algorithm.caveat``; the few-shot learner: that it will run as logistic
    regression, and why), or ``None``.

    Examples
    --------
    >>> caveat(defaults("classification")[0], [0, 1] * 100) is None
    True
    """
    full, algorithm = _complete(config, task)
    return None if algorithm.caveat is None else algorithm.caveat(full["params"], y)


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
    from autometa._space_build import preprocessor

    full, _ = _complete(config, task)
    with quiet_fit_warnings():
        out = preprocessor(full, categorical, full["task"]).fit_transform(X, y)
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
    metric: str | None = None,
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
    metric : the metric the model is built for, default=None. For balanced accuracy the
        classifier is wrapped in :class:`~autometa._balanced.BalancedPriorClassifier`
        (its probabilities moved to equal class priors, its ``predict`` the
        balanced-accuracy decision); ``None`` builds the plain estimator, as the
        knowledge base's evaluations do.
    """
    from autometa._pipeline import BoundedPipeline
    from autometa._space_build import preprocessor

    full, algorithm = _complete(config, task)
    task = full["task"]
    estimator = algorithm.make(full["params"], random_state)
    if task == "regression":
        estimator = TransformedTargetRegressor(estimator, transformer=StandardScaler())
    elif metric is not None and get_metric(metric, task).balanced_prior:
        from autometa._balanced import BalancedPriorClassifier

        estimator = BalancedPriorClassifier(estimator)
    return BoundedPipeline(
        [
            ("preprocess", preprocessor(full, categorical, task)),
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
