"""Meta-models: learn from a knowledge base which configurations to try on a new dataset.

Every model has the same small interface (:class:`~autometa.metamodel._base.MetaModel`):
``fit(kb, task, metric)``, ``rank(metafeatures) -> (scores, std)`` and
``select(metafeatures, k)``. Pick one by name with :func:`get_model`, or get a fitted one
from the on-disk cache with :func:`load_or_fit`.

=============  ===========================================================================
name           model
=============  ===========================================================================
``default``    forest shrunk to the single best for the first pick, then picks that
               maximise the expected best of k over the datasets the forest finds alike
``forest``     extra-trees on meta-features predicting every config's score; its leaves
               define adaptive neighbours (proximity-weighted hedged picks)
``knn``        auto-sklearn 1.0: best configs of the nearest datasets (L1, meta-features)
``portfolio``  static greedy portfolio minimising regret over the training datasets
``ranker``     XGBoost on meta-features + config encoding, the k best predictions
``sbs``        single best solver: best mean normalised score
``random``     random order (seeded)
``flaml``      FLAML zero-shot style 1-NN on rows, features, classes, % numeric
=============  ===========================================================================
"""

from __future__ import annotations

from typing import Any

from autometa.errors import ConfigError
from autometa.metamodel._base import MetaModel
from autometa.metamodel._cache import load_or_fit
from autometa.metamodel._training import TrainingData, normalised_scores
from autometa.metamodel.baselines import FlamlNearestModel, RandomModel, SingleBestModel
from autometa.metamodel.default import DefaultModel
from autometa.metamodel.forest import ForestModel
from autometa.metamodel.knn import KNNModel
from autometa.metamodel.portfolio import PortfolioModel, greedy_portfolio
from autometa.metamodel.ranker import RankerModel, encode_configs

MODELS: dict[str, type[MetaModel]] = {
    "default": DefaultModel,
    "forest": ForestModel,
    "knn": KNNModel,
    "portfolio": PortfolioModel,
    "ranker": RankerModel,
    "sbs": SingleBestModel,
    "random": RandomModel,
    "flaml": FlamlNearestModel,
}


def get_model(name: str | MetaModel, **params: Any) -> MetaModel:
    """A new, unfitted meta-model by name (or ``name`` itself if already a model).

    Examples
    --------
    >>> get_model("knn", n_neighbors=5)
    KNNModel(n_neighbors=5, random_state=0)
    """
    if isinstance(name, MetaModel):
        return name
    if name not in MODELS:
        raise ConfigError(f"unknown meta-model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name](**params)


__all__ = [
    "MODELS",
    "DefaultModel",
    "FlamlNearestModel",
    "ForestModel",
    "KNNModel",
    "MetaModel",
    "PortfolioModel",
    "RandomModel",
    "RankerModel",
    "SingleBestModel",
    "TrainingData",
    "encode_configs",
    "get_model",
    "greedy_portfolio",
    "load_or_fit",
    "normalised_scores",
]
