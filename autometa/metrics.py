"""The metrics autometa records and ranks by: one table of names and directions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    task: str  # "classification" or "regression"
    greater_is_better: bool
    # in the same units on every dataset (a score of 0.9 means as much on any table),
    # unlike RMSE, MAE or log loss
    bounded: bool
    # its best decision ignores how common each class is (argmax p(c|x) / prior(c)), so
    # the models autometa builds for it predict through a BalancedPriorClassifier
    balanced_prior: bool = False


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", True, True),
        Metric("balanced_accuracy", "classification", True, True, balanced_prior=True),
        Metric("log_loss", "classification", False, False),
        Metric("roc_auc", "classification", True, True),
        Metric("r2", "regression", True, True),
        Metric("rmse", "regression", False, False),
        Metric("mae", "regression", False, False),
    )
}

DEFAULT_METRIC = {"classification": "balanced_accuracy", "regression": "r2"}


def metrics_for(task: str) -> list[str]:
    """Names of the metrics recorded for ``task``."""
    return [m.name for m in METRICS.values() if m.task == task]


def get_metric(name: str, task: str | None = None) -> Metric:
    """Look up a metric by name, checking it fits ``task`` when given."""
    from autometa.errors import ConfigError

    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; known metrics: {sorted(METRICS)}")
    metric = METRICS[name]
    if task is not None and metric.task != task:
        raise ConfigError(
            f"metric {name!r} is for {metric.task}, not {task}; use one of {metrics_for(task)}"
        )
    return metric


def is_bounded(name: str) -> bool:
    """Whether scores of metric ``name`` share units across datasets (unknown names: no)."""
    return name in METRICS and METRICS[name].bounded
