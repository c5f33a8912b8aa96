"""The algorithms of the search space: :class:`Param`, :class:`Algorithm` and the table of
every allowlisted estimator, both tasks (re-exported by :mod:`autometa.space`).

An algorithm of both tasks (``knn``, the forests, boosting, ``mlp``) is written once, by
:func:`_both`; what differs between its classifier and its regressor is named where it
differs. Every factory imports its library only when an estimator is built, so that
``import autometa`` stays light (no XGBoost, no PyTorch).

The order of :data:`TABLE` is the order of each task's algorithms, and so of every seeded
draw (:func:`autometa.space.sample`) and of the portfolio: a new algorithm goes after the
others of its task. Optional algorithms (:data:`OPTIONAL`) come after all of them, where
what they need is installed (:func:`allowlist`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sklearn.base import BaseEstimator

from autometa._constants import TASKS
from autometa.errors import ConfigError

__all__ = [
    "FEWSHOT_MAX_FEATURES",
    "FEWSHOT_MAX_ROWS",
    "OPTIONAL",
    "TABLE",
    "Algorithm",
    "OptionalAlgorithm",
    "Param",
    "allowlist",
]

C, R = "classification", "regression"


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
    #: Whether the seeded portfolio draws it (:func:`autometa.space.sample`) and
    #: :func:`autometa.space.defaults` writes it out. ``False`` for a hyperparameter added
    #: after the shipped knowledge base's portfolio was drawn: that portfolio and its
    #: configuration ids stay the same (it is at its default there), and every other search
    #: (:func:`autometa.space.suggest`) draws it.
    in_portfolio: bool = True

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
    #: What a user should know where it does apply: ``caveat(params, y)`` -> a sentence or
    #: ``None`` (the few-shot learner: that it will run as logistic regression on these
    #: labels). Asked only of recommended configurations, so it may import what it needs.
    caveat: Callable[[dict[str, Any], Any], str | None] | None = None

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


# --------------------------------------------------------------------------------------
# factories: each imports its library only when an estimator is built
# --------------------------------------------------------------------------------------


def _sk(module: str, name: str) -> Callable[..., BaseEstimator]:
    """Lazy factory for a scikit-learn estimator (keeps ``import autometa.space`` fast)."""

    def make(**kwargs) -> BaseEstimator:
        import importlib

        return getattr(importlib.import_module(f"sklearn.{module}"), name)(**kwargs)

    make.__name__ = name
    return make


def _sk_both(module: str, stem: str) -> dict[str, Callable[..., BaseEstimator]]:
    """The factories of scikit-learn's ``<stem>Classifier`` and ``<stem>Regressor``."""
    return {C: _sk(module, f"{stem}Classifier"), R: _sk(module, f"{stem}Regressor")}


def _mlp(estimator_class: type) -> Callable[..., BaseEstimator]:
    """MLPs are tuned by width and depth; sklearn wants a tuple of layer sizes."""

    def make(n_units: int = 100, n_layers: int = 1, **kwargs) -> BaseEstimator:
        return estimator_class(hidden_layer_sizes=(n_units,) * n_layers, **kwargs)

    make.__name__ = estimator_class.__name__
    return make


def _mlp_factory(kind: str) -> Callable[..., BaseEstimator]:
    """Lazy factory for scikit-learn's MLP ``kind`` (``"classifier"`` or ``"regressor"``)."""

    def make(**kwargs) -> BaseEstimator:
        from sklearn import neural_network

        cls = neural_network.MLPClassifier if kind == "classifier" else neural_network.MLPRegressor
        return _mlp(cls)(**kwargs)

    make.__name__ = f"MLP{kind}"
    return make


def _xgb_classifier(**kwargs) -> BaseEstimator:
    from xgboost import XGBClassifier

    # defined in autometa.space: saved models (skops) name the wrapper by that module
    from autometa.space import _LabelEncodedClassifier

    return _LabelEncodedClassifier(XGBClassifier(**kwargs))


def _xgb_regressor(**kwargs) -> BaseEstimator:
    from xgboost import XGBRegressor

    return XGBRegressor(**kwargs)


def _fewshot(**kwargs) -> BaseEstimator:
    """:class:`autometa.fewshot.FewShotClassifier` (imports torch: only when built)."""
    from autometa.fewshot.classifier import FewShotClassifier

    return FewShotClassifier(**kwargs)


def _fewshot_caveat(params: dict[str, Any], y: Any) -> str | None:
    """That the few-shot learner will run as logistic regression on labels ``y``, and why."""
    from autometa.fewshot.classifier import fallback_reason

    why = fallback_reason(y, method=params.get("method"))
    return None if why is None else f"it will run as logistic regression on this table: {why}"


def _torch_available() -> bool:
    """Whether torch can be imported (found, not imported: ``import autometa`` stays light)."""
    from autometa.fewshot import torch_available

    return torch_available()


def _both(
    name: str,
    factories: dict[str, Callable[..., BaseEstimator]],
    params: tuple[Param, ...],
    *,
    classification_params: tuple[Param, ...] = (),
    **options: Any,
) -> tuple[Algorithm, ...]:
    """The classifier and the regressor of one algorithm: the same hyperparameters (the
    classifier's ``classification_params`` after them) and :class:`Algorithm` options."""
    return tuple(
        Algorithm(
            name, task, factory, params + (classification_params if task == C else ()), **options
        )
        for task, factory in factories.items()
    )


# --------------------------------------------------------------------------------------
# hyperparameters shared by several algorithms
# --------------------------------------------------------------------------------------

_p = Param  # a short name for the table below
_CLASS_WEIGHT = _p("class_weight", None, choices=(None, "balanced"))
#: Class weighting of the tree ensembles: it decides balanced accuracy on imbalanced tables
#: (the default metric), added after the shipped portfolio was drawn.
_TREE_CLASS_WEIGHT = _p("class_weight", None, choices=(None, "balanced"), in_portfolio=False)
_CRITERION = _p("criterion", "gini", choices=("gini", "entropy"))
_RBF = (_p("C", 1.0, 1e-3, 1e4, log=True), _p("gamma", 0.05, 1e-5, 10.0, log=True))
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
#: The few-shot learner's limits (:data:`autometa.space.FEWSHOT_MAX_ROWS`: it is
#: meta-trained for small tables).
FEWSHOT_MAX_ROWS = 1000
FEWSHOT_MAX_FEATURES = 100
#: Its methods (``None``: the shipped default, ``data/fewshot/weights/default.json``); a
#: method without shipped weights falls back to logistic regression, with a warning.
_FEWSHOT = (
    _p("method", None, choices=(None, "pfn", "protonet", "maml", "reptile")),
    _p("n_ensemble", 4, 1, 8, integer=True),
)
_FOREST_FIXED = (("n_jobs", 1),)

# --------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------

#: Every algorithm but the optional ones, in each task's order (see the module docstring).
TABLE: tuple[Algorithm, ...] = (
    Algorithm(
        "logistic_regression",
        C,
        _sk("linear_model", "LogisticRegression"),
        (_p("C", 1.0, 1e-4, 1e4, log=True), _CLASS_WEIGHT),
        scaling="standard",
        fixed=(("max_iter", 1000),),
    ),
    Algorithm(
        "linear_svm",
        C,
        _sk("svm", "LinearSVC"),
        (_p("C", 1.0, 1e-4, 1e3, log=True), _CLASS_WEIGHT),
        scaling="standard",
        fixed=(("max_iter", 2000),),
    ),
    Algorithm(
        "rbf_svm",
        C,
        _sk("svm", "SVC"),
        (*_RBF, _CLASS_WEIGHT),
        scaling="standard",
        fixed=(("cache_size", 500),),
    ),
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
        (*_RBF, _p("epsilon", 0.1, 1e-3, 1.0, log=True)),
        scaling="standard",
        fixed=(("cache_size", 500),),
    ),
    *_both("knn", _sk_both("neighbors", "KNeighbors"), _KNN, scaling="standard"),
    Algorithm(
        "decision_tree",
        C,
        _sk("tree", "DecisionTreeClassifier"),
        (
            _p("max_depth", 30, 1, 30, integer=True),
            _p("min_samples_leaf", 1, 1, 50, log=True, integer=True),
            _CRITERION,
        ),
    ),
    *_both(
        "random_forest",
        _sk_both("ensemble", "RandomForest"),
        _FOREST,
        classification_params=(_CRITERION, _TREE_CLASS_WEIGHT),
        fixed=_FOREST_FIXED,
    ),
    *_both(
        "extra_trees",
        _sk_both("ensemble", "ExtraTrees"),
        _FOREST,
        classification_params=(_CRITERION, _TREE_CLASS_WEIGHT),
        fixed=_FOREST_FIXED,
    ),
    *_both(
        "hist_gradient_boosting",
        _sk_both("ensemble", "HistGradientBoosting"),
        _HGB,
        classification_params=(_TREE_CLASS_WEIGHT,),
    ),
    *_both(
        "xgboost",
        {C: _xgb_classifier, R: _xgb_regressor},
        _XGB,
        fixed=(("n_jobs", 1), ("tree_method", "hist"), ("verbosity", 0)),
    ),
    *_both(
        "mlp",
        {C: _mlp_factory("classifier"), R: _mlp_factory("regressor")},
        _MLP,
        scaling="standard",
        fixed=(("max_iter", 200),),
    ),
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
)


class OptionalAlgorithm(NamedTuple):
    """An optional algorithm, in the allowlist only where what it needs is installed."""

    algorithm: Algorithm
    #: Whether what it needs is installed (asked each time the allowlist is built).
    installed: Callable[[], bool]
    #: What it needs, for the message where it is missing.
    requires: str


#: The optional algorithms, after :data:`TABLE`: the order of the others (and so every
#: seeded draw) is the same with or without them.
OPTIONAL: tuple[OptionalAlgorithm, ...] = (
    OptionalAlgorithm(
        Algorithm(
            "fewshot",
            C,
            _fewshot,
            _FEWSHOT,
            fixed=(("device", "cpu"),),
            optional=True,
            max_rows=FEWSHOT_MAX_ROWS,
            max_features=FEWSHOT_MAX_FEATURES,
            caveat=_fewshot_caveat,
        ),
        installed=_torch_available,
        requires='it needs PyTorch: pip install "autometa[torch]"',
    ),
)


def allowlist() -> dict[str, dict[str, Algorithm]]:
    """Task -> algorithm name -> :class:`Algorithm`: :data:`TABLE`, then the optional
    algorithms that are installed."""
    table: dict[str, dict[str, Algorithm]] = {task: {} for task in TASKS}
    installed = [o.algorithm for o in OPTIONAL if o.installed()]
    for algorithm in (*TABLE, *installed):
        table[algorithm.task][algorithm.name] = algorithm
    return table
