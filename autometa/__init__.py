"""autometa: meta-learning recommendations for tabular machine learning.

The public names below are imported lazily on first use, so ``import autometa`` stays
fast and never pulls in optional dependencies such as torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Dataset": "autometa.data",
    "load_dataset": "autometa.data",
    "load_suite": "autometa.data",
    "KnowledgeBase": "autometa.kb",
    "recommend": "autometa.recommendation",
    "Recommendations": "autometa.recommendation",
    "Recommendation": "autometa.recommendation",
    "learn_from": "autometa.recommendation",
    "evaluate_recommender": "autometa.metamodel.evaluation",
    "tune": "autometa.tuning",
    "warm_start": "autometa.tuning",
    "pipeline_from_trial": "autometa.tuning",
    "fit_best": "autometa.tuning",
    "AutoClassifier": "autometa.auto",
    "AutoRegressor": "autometa.auto",
    "load_model": "autometa.auto",
}

__all__ = ["__version__", *_EXPORTS.keys()]  # noqa: PLE0604 - the names are strings


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autometa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
