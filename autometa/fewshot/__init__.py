"""Few-shot learners for tiny tables: an in-context transformer and classic meta-learners.

``FewShotClassifier`` is a scikit-learn classifier whose ``fit`` only stores the labelled
rows; ``predict_proba`` runs a meta-trained network over (context, query) episodes.
Methods: ``"pfn"`` (in-context transformer, TabPFN v2 style), ``"protonet"``, ``"maml"``
and ``"reptile"``, all on one permutation-invariant cell encoder.

torch is an optional extra: this package imports it lazily, so ``import autometa`` and the
torch-free parts (:mod:`.split`, :mod:`.episodes`) work without it; asking for anything that
needs torch without it installed raises an ``ImportError`` saying how to install it.

Examples
--------
>>> from autometa.fewshot import FewShotClassifier  # doctest: +SKIP
>>> clf = FewShotClassifier(random_state=0).fit(X_small, y_small)  # doctest: +SKIP
>>> clf.predict_proba(X_new)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

TORCH_HINT = 'autometa.fewshot needs PyTorch; install it with: pip install "autometa[torch]"'

_LAZY = {
    "FewShotClassifier": "autometa.fewshot.classifier",
    "FewShotConfigError": "autometa.fewshot._weights",
    "FewShotWeightsError": "autometa.fewshot._weights",
    "FewShotWeightsNotFoundError": "autometa.fewshot._weights",
    "load_weights": "autometa.fewshot._weights",
    "save_weights": "autometa.fewshot._weights",
    "meta_train": "autometa.fewshot.train",
    "sample_prior_batch": "autometa.fewshot.prior",
}

__all__ = [
    "TORCH_HINT",
    "FewShotClassifier",
    "FewShotConfigError",
    "FewShotWeightsError",
    "FewShotWeightsNotFoundError",
    "load_weights",
    "meta_train",
    "require_torch",
    "sample_prior_batch",
    "save_weights",
    "torch_available",
]


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    return importlib.util.find_spec("torch") is not None


def require_torch() -> Any:
    """Import and return ``torch`` or raise an ``ImportError`` with the install command."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError(TORCH_HINT) from exc
    return torch


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        require_torch()
        if name == "meta_train":  # the function ``train`` of the submodule ``train``
            return importlib.import_module(_LAZY[name]).train
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'autometa.fewshot' has no attribute {name!r}")
