"""Saving and loading few-shot weights: one ``.pt`` file per trained model.

The file is a plain dict of tensors, strings and numbers, read with
``torch.load(..., weights_only=True)`` so no pickled code is ever executed::

    {"format": "autometa-fewshot", "version": 1, "method": "pfn",
     "config": {...constructor arguments...}, "state_dict": {name: float16 tensor},
     "meta": {...training command, seed, steps, gate results...}}

Tensors are stored in float16 (the M model is ~2M parameters, ~4 MB) and restored to
float32.  Every way a file can be wrong gives a :class:`FewShotWeightsError` naming the
file and what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from autometa.errors import AutometaError
from autometa.fewshot._encoder import EpisodeModel

FORMAT = "autometa-fewshot"
VERSION = 1
METHODS = ("pfn", "protonet", "maml", "reptile")


class FewShotWeightsError(AutometaError, ValueError):
    """A few-shot weights file is missing, of another format/version, or does not fit the model."""


def build_model(method: str, config: dict[str, Any]) -> EpisodeModel:
    """A freshly initialised model of ``method`` with constructor arguments ``config``."""
    if method == "pfn":
        from autometa.fewshot._pfn import PFN

        return PFN(**config)
    if method == "protonet":
        from autometa.fewshot._protonet import ProtoNet

        return ProtoNet(**config)
    if method in ("maml", "reptile"):
        from autometa.fewshot._maml import HeadAdaptation

        return HeadAdaptation(method=method, **config)
    raise FewShotWeightsError(f"unknown few-shot method {method!r}; known: {list(METHODS)}")


def size_config(method: str, size: str) -> dict[str, Any]:
    """Constructor arguments of a named size (``"tiny"``, ``"S"``, ``"M"``) of ``method``."""
    if method == "pfn":
        from autometa.fewshot._pfn import SIZES
    elif method == "protonet":
        from autometa.fewshot._protonet import SIZES
    elif method in ("maml", "reptile"):
        from autometa.fewshot._maml import SIZES
    else:
        raise FewShotWeightsError(f"unknown few-shot method {method!r}; known: {list(METHODS)}")
    if size not in SIZES:
        raise FewShotWeightsError(f"unknown size {size!r} for {method}; known: {sorted(SIZES)}")
    return dict(SIZES[size])


def save_weights(model: EpisodeModel, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` (float16 tensors, JSON-safe ``meta``).

    Examples
    --------
    >>> from autometa.fewshot._pfn import PFN
    >>> save_weights(PFN(d_model=32, n_layers=1), "/tmp/pfn.pt", {"seed": 0})  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "method": model.method,
        "config": dict(model.config),
        "state_dict": state,
        # Round-tripped through JSON so only plain types reach the file (weights_only).
        "meta": json.loads(json.dumps(meta or {}, default=str)),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a killed writer never leaves a half file under the real name
    return path


def read_payload(path: str | Path) -> dict[str, Any]:
    """Read and check the envelope of a weights file (format, version, method, keys)."""
    path = Path(path)
    if not path.is_file():
        raise FewShotWeightsError(f"few-shot weights file {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise FewShotWeightsError(
            f"cannot read few-shot weights {str(path)!r} with torch.load(weights_only=True): {exc}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise FewShotWeightsError(
            f"{str(path)!r} is not an autometa few-shot weights file (format field "
            f"{payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r}, "
            f"expected {FORMAT!r})"
        )
    version = payload.get("version")
    if version != VERSION:
        raise FewShotWeightsError(
            f"{str(path)!r} has weights format version {version!r}; this autometa reads version "
            f"{VERSION}. Retrain with `python -m autometa.fewshot.train` or use a matching autometa."
        )
    for key in ("method", "config", "state_dict"):
        if key not in payload:
            raise FewShotWeightsError(f"{str(path)!r} lacks the {key!r} entry")
    if payload["method"] not in METHODS:
        raise FewShotWeightsError(
            f"{str(path)!r} is for unknown method {payload['method']!r}; known: {list(METHODS)}"
        )
    return payload


def load_weights(
    path: str | Path, method: str | None = None
) -> tuple[EpisodeModel, dict[str, Any]]:
    """Rebuild the model stored at ``path``.

    Parameters
    ----------
    path : str or Path
    method : str, optional
        When given, the file must hold this method.

    Returns
    -------
    model : EpisodeModel
        In eval mode, float32, on CPU.
    meta : dict

    Raises
    ------
    FewShotWeightsError
        Missing or unreadable file, other format or version, other method, or tensors whose
        names or shapes do not fit the model the file's config describes.
    """
    payload = read_payload(path)
    if method is not None and payload["method"] != method:
        raise FewShotWeightsError(
            f"{str(path)!r} holds {payload['method']!r} weights, but method={method!r} was asked for"
        )
    try:
        model = build_model(payload["method"], dict(payload["config"]))
    except TypeError as exc:
        raise FewShotWeightsError(
            f"{str(path)!r} has an invalid config {payload['config']!r}: {exc}"
        ) from exc
    expected = model.state_dict()
    got = payload["state_dict"]
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise FewShotWeightsError(
            f"{str(path)!r} does not fit a {payload['method']} model with config {payload['config']}: "
            f"missing tensors {missing[:5]}, unexpected tensors {extra[:5]}"
        )
    for name, tensor in expected.items():
        if tuple(got[name].shape) != tuple(tensor.shape):
            raise FewShotWeightsError(
                f"{str(path)!r}: tensor {name!r} has shape {tuple(got[name].shape)}, the model "
                f"described by its config needs {tuple(tensor.shape)}"
            )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in got.items()})
    model.eval()
    return model, dict(payload.get("meta", {}))
