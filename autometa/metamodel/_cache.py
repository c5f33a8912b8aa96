"""On-disk cache of fitted meta-models, keyed by the knowledge base's fingerprint.

A fitted model is stored as one JSON file (XGBoost boosters inside it in XGBoost's own
JSON format): nothing is unpickled, so a cache directory shared between users cannot run
code. When the knowledge base changes its fingerprint changes, the key no longer matches,
and the model is retrained (and the stale file removed).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from autometa.metamodel._base import STATE_VERSION, MetaModel

#: Environment variable naming the cache directory.
ENV_VAR = "AUTOMETA_CACHE_DIR"


def cache_dir() -> Path:
    """``$AUTOMETA_CACHE_DIR``, else ``$XDG_CACHE_HOME/autometa/metamodels`` (``~/.cache``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "autometa" / "metamodels"


def cache_key(model: MetaModel, kb: Any, task: str, metric: str) -> str:
    payload = json.dumps(
        {
            "model": model.name,
            "params": model.get_params(),
            "task": task,
            "metric": metric,
            "kb": kb.fingerprint(task=task),  # the other task's results do not matter
            "state_version": STATE_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_or_fit(
    model: MetaModel,
    kb: Any,
    task: str,
    metric: str,
    *,
    directory: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> MetaModel:
    """``model`` fitted on ``kb``: read from the cache when a model of the same kind,
    parameters, task, metric and knowledge-base contents was saved before, else fitted
    and saved.

    Parameters
    ----------
    model : an unfitted meta-model (its parameters are part of the key).
    kb : the knowledge base.
    task, metric : what to learn.
    directory : cache directory (default :func:`cache_dir`).
    use_cache : False to always fit and never write.

    Examples
    --------
    >>> from autometa.metamodel import get_model, load_or_fit
    >>> model = load_or_fit(get_model("portfolio"), kb, "regression", "r2")  # doctest: +SKIP
    """
    if not use_cache:
        return model.fit(kb, task, metric)
    root = Path(directory).expanduser() if directory is not None else cache_dir()
    key = cache_key(model, kb, task, metric)
    prefix = f"{model.name}-{task}-{metric}-"
    path = root / f"{prefix}{key}.json"
    if path.exists():
        try:
            state = json.loads(path.read_text())
            if state.get("state_version") == STATE_VERSION and state.get("model") == model.name:
                return model.set_state(state)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged or foreign file: refit and overwrite it
    model.fit(kb, task, metric)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(model.get_state(), fh, allow_nan=False)
        os.replace(tmp, path)
        for stale in root.glob(f"{prefix}*.json"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        # A read-only or full cache only costs refitting next time.
        warnings.warn(f"could not cache the {model.name} meta-model in {root}: {exc}", stacklevel=2)
    return model
