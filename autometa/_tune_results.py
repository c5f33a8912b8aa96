"""From a trial of :func:`autometa.tune` (or of any study whose objective draws with
:func:`autometa.space.suggest`) back to its configuration and an unfitted pipeline.

The public names are :func:`autometa.tuning.config_from_trial` and
:func:`autometa.pipeline_from_trial`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autometa import space
from autometa.errors import ConfigError

__all__ = ["config_from_trial", "pipeline_from_trial"]


def config_from_trial(trial: Any, task: str | None = None) -> dict[str, Any]:
    """The configuration a trial evaluated.

    ``trial.user_attrs["config"]`` when present (trials of :func:`tune`), else rebuilt from
    the parameters :func:`autometa.space.suggest` drew (then ``task`` is needed, because
    algorithm names such as ``knn`` exist for both tasks).

    Raises
    ------
    ConfigError
        Neither a stored config nor suggest-style parameters (or ``task``) are available.

    Examples
    --------
    >>> config_from_trial(study.best_trial)["algorithm"]  # doctest: +SKIP
    'random_forest'
    """
    attrs = getattr(trial, "user_attrs", {}) or {}
    if isinstance(attrs.get("config"), dict):
        return dict(attrs["config"])
    params = dict(getattr(trial, "params", {}) or {})
    number = getattr(trial, "number", "?")
    if "algorithm" not in params:
        raise ConfigError(
            f"trial {number} has no 'config' user attribute and no 'algorithm' parameter; "
            "it was not drawn with autometa.space.suggest"
        )
    task = task or attrs.get("task")
    if task is None:
        raise ConfigError(
            f"trial {number} carries no config; pass task='classification' or 'regression' "
            "to rebuild it from its parameters"
        )
    algorithm = params["algorithm"]
    prefix = space.param_key(algorithm, "")
    config = {"task": task, "algorithm": algorithm}
    for step, choices in space.PREPROCESSING.items():
        config[step] = params.get(step, choices[0])
    config["params"] = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
    return space.validate(config)


def pipeline_from_trial(
    trial: Any,
    *,
    task: str | None = None,
    categorical: Sequence[str] | None = None,
    random_state: int | None = 0,
) -> Any:
    """A new, unfitted scikit-learn pipeline for the configuration of ``trial``.

    The pipeline is built for the metric the trial was scored on (its ``metric`` user
    attribute): for balanced accuracy its ``predict`` is balanced accuracy's decision, as
    in the trial's evaluation.

    Parameters
    ----------
    trial : optuna.trial.FrozenTrial
        A trial of :func:`tune` (or of a study whose objective uses
        :func:`autometa.space.suggest`; then pass ``task``).
    task : str, optional
        Needed only for trials without a stored config.
    categorical : list of str, optional
        Categorical column names; default the ones stored with the trial.
    random_state : int, optional
        Seed of the estimator.

    Examples
    --------
    >>> pipe = autometa.pipeline_from_trial(study.best_trial)  # doctest: +SKIP
    >>> pipe.fit(X, y)  # doctest: +SKIP
    """
    config = config_from_trial(trial, task)
    attrs = getattr(trial, "user_attrs", {}) or {}
    if categorical is None:
        categorical = attrs.get("categorical", [])
    # built for the metric the trial was scored on, as tune evaluated it
    return space.build(
        config,
        categorical=list(categorical),
        task=task,
        random_state=random_state,
        metric=attrs.get("metric"),
    )
