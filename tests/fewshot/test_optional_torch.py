"""``autometa.fewshot`` imports without torch and says how to install it when needed."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_clear_import_error_without_torch(monkeypatch):
    import autometa.fewshot as fs

    for mod in [
        m
        for m in sys.modules
        if m.startswith("autometa.fewshot.") and m != "autometa.fewshot.split"
    ]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "autometa\[torch\]"'):
        fs.require_torch()
    with pytest.raises(ImportError, match="autometa.torch"):
        fs.FewShotClassifier  # noqa: B018
    # The torch-free parts still work.
    assert importlib.import_module("autometa.fewshot.split").group_of("pima") == "pima"
