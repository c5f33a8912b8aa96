"""The docstring examples of the package run (``doctest``), where they can.

Every module of ``autometa`` and ``metafeatures`` with an example (``>>>``) is collected;
its examples run with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` in a temporary working
directory. Examples that need a network, a corpus, a knowledge base on disk, a trained
model or a long run are marked ``# doctest: +SKIP`` where they are written. A module whose
optional dependency is not installed (torch, dask) is skipped.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

PACKAGES = ("autometa", "metafeatures")
#: Imports that may fail where an optional extra is not installed.
OPTIONAL = ("torch", "distributed", "dask")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    """Modules of the packages whose source has a ``>>>`` (found without importing them)."""
    names = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations is not None
        names.append(package)
        found = pkgutil.walk_packages(spec.submodule_search_locations, f"{package}.")
        names += [m.name for m in found]
    return sorted(n for n in names if ">>>" in Path(importlib.util.find_spec(n).origin).read_text())


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs {exc.name}")
        raise
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    if result.attempted == 0:
        pytest.skip("every example is marked +SKIP")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
