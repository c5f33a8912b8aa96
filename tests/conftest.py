"""Fixtures shared by the whole test suite.

``shared_dir``
    The read-only ``shared/`` folder beside the repository root (corpus, OpenML cache).
    Tests using it are skipped, with a reason, where it is absent.
``openml_cache``
    A private copy of ``shared/openml_cache`` with ``openml.config`` pointed at it (test
    server, no retries), restored afterwards. Yields the cache root.
``load_benchmark``, ``load_script``
    ``load_benchmark("fewshot")`` imports the script ``benchmarks/fewshot.py`` as a module
    (the benchmarks are scripts, not a package), freshly each call; ``load_script`` the
    same for ``scripts/``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

# tests/conftest.py -> repository root -> its parent holds shared/ (also in CI);
# AUTOMETA_SHARED_DIR points elsewhere when needed.
SHARED_DIR = Path(
    os.environ.get("AUTOMETA_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)
OPENML_TEST_SERVER = "https://test.openml.org/api/v1/xml"
BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS_DIR = BENCHMARKS_DIR.parent / "scripts"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Path of ``../shared``; skips the test when it is not there."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DIR} (set AUTOMETA_SHARED_DIR)")
    return SHARED_DIR


@pytest.fixture
def openml_cache(shared_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the OpenML test-server cache, with ``openml.config`` using it.

    The copy is per test because openml-python writes to its cache (parsed data files)
    and deletes a task's folder when loading it fails. Retries are turned down to one
    so offline failures are immediate instead of ~10 s of back-off.
    """
    source = shared_dir / "openml_cache"
    if not source.is_dir():
        pytest.skip(f"OpenML cache not found at {source}")
    openml = pytest.importorskip("openml")
    root = tmp_path / "openml_cache"
    shutil.copytree(source, root)
    for path in [root, *root.rglob("*")]:  # shared/ is read-only; the copy must not be
        path.chmod(path.stat().st_mode | 0o200)

    config = openml.config
    saved = config.get_config_as_dict()
    config.set_root_cache_directory(root)
    config.server = OPENML_TEST_SERVER
    config.connection_n_retries = 1
    try:
        yield root
    finally:
        config.set_root_cache_directory(saved["cachedir"])
        config.server = saved["server"]
        config.connection_n_retries = saved["connection_n_retries"]
        config.retry_policy = saved["retry_policy"]


def _import_file(path: Path, module_name: str) -> ModuleType:
    """The script at ``path`` imported as ``module_name`` (not put in ``sys.modules``:
    every call runs the script's top level again)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import_benchmark(name: str) -> ModuleType:
    """``benchmarks/{name}.py`` imported as a module named ``benchmark_{name}``."""
    return _import_file(BENCHMARKS_DIR / f"{name}.py", f"benchmark_{name}")


@pytest.fixture(scope="session")
def load_benchmark() -> Callable[[str], ModuleType]:
    """A function importing a script of ``benchmarks/`` by name, e.g. ``"fewshot"``."""
    return _import_benchmark


@pytest.fixture(scope="session")
def load_script() -> Callable[[str], ModuleType]:
    """A function importing a script of ``scripts/`` by name, e.g. ``"extend_real_size"``."""
    return lambda name: _import_file(SCRIPTS_DIR / f"{name}.py", name)
