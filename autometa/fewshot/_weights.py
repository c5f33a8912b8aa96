"""Saving and loading few-shot weights: one ``.pt`` file per trained model.

The file is a plain dict of tensors, strings and numbers, read with
``torch.load(..., weights_only=True)`` so no pickled code is ever executed::

    {"format": "autometa-fewshot", "version": 1, "method": "pfn",
     "config": {...constructor arguments...}, "state_dict": {name: float16 tensor},
     "meta": {...training command, seed, steps, gate results...}}

Tensors are stored in float16 (the M model is ~2M parameters, ~4 MB) and restored to
float32.  Every way a file can be wrong gives a :class:`FewShotWeightsError` naming the
file and what is wrong.

Nothing is allocated from a file's word: before a model is built, the file size, the
config (known keys, integer sizes within :data:`CONFIG_LIMITS`, at most
:data:`MAX_PARAMETERS` parameters, counted on a ``meta``-device model that has shapes but
no storage), the stored tensors' names and shapes (they must be exactly the ones the
config describes) and their values (all finite) are checked.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch

from autometa._io import write_atomic
from autometa.errors import AutometaError, InvalidParameterError
from autometa.fewshot._encoder import EpisodeModel

FORMAT = "autometa-fewshot"
VERSION = 1
METHODS = ("pfn", "protonet", "maml", "reptile")
#: Most parameters a config may describe (the shipped "M" models have ~2M; 50M float32
#: parameters take 200 MB).  Checked before the model is built.
MAX_PARAMETERS = 50_000_000
#: Largest weights file read (float32 storage of MAX_PARAMETERS plus room for the envelope).
MAX_FILE_BYTES = 4 * MAX_PARAMETERS + 16 * 2**20
#: Inclusive bounds of the integer config entries (``d_hidden``, ``inner_steps``: MAML and
#: Reptile only): sanity bounds, the size limit is :data:`MAX_PARAMETERS`.  The named sizes
#: use d_model <= 160, n_layers <= 6, n_heads <= 8; ``inner_steps`` is run at every
#: prediction.
CONFIG_LIMITS: dict[str, tuple[int, int]] = {
    "d_model": (1, 65536),
    "n_layers": (1, 256),
    "n_heads": (1, 65536),
    "d_id": (1, 65536),
    "d_hidden": (1, 2**20),
    "inner_steps": (0, 1000),
}
_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "pfn": ("d_model", "n_layers", "n_heads", "d_id"),
    "protonet": ("d_model", "n_layers", "n_heads", "d_id"),
    "maml": (
        "d_model",
        "n_layers",
        "n_heads",
        "d_id",
        "d_hidden",
        "inner_steps",
        "inner_lr",
        "first_order",
    ),
}
_CONFIG_KEYS["reptile"] = _CONFIG_KEYS["maml"]


class FewShotWeightsError(AutometaError, ValueError):
    """A few-shot weights file is missing, of another format/version, or does not fit the model."""


class FewShotWeightsNotFoundError(FewShotWeightsError, FileNotFoundError):
    """The few-shot weights file named does not exist."""


class FewShotConfigError(FewShotWeightsError, InvalidParameterError):
    """A model config (of a weights file, or given to :func:`build_model`) is invalid: an
    unknown key, a size that is not a positive integer or exceeds :data:`CONFIG_LIMITS`, or a
    model of more than :data:`MAX_PARAMETERS` parameters."""


def _build(method: str, config: dict[str, Any]) -> EpisodeModel:
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


def check_config(method: str, config: Any) -> dict[str, tuple[int, ...]]:
    """Check a model config without allocating the model.

    Returns
    -------
    dict
        Name -> shape of every tensor of the model's ``state_dict``, read from a model
        built on the ``meta`` device (shapes only, no storage).

    Raises
    ------
    FewShotConfigError
        Unknown method or key, a size that is not an integer within :data:`CONFIG_LIMITS`
        (negative sizes included), ``d_model`` not divisible by ``n_heads``, a non-finite or
        non-positive ``inner_lr``, or more than :data:`MAX_PARAMETERS` parameters.
    """
    if method not in METHODS:
        raise FewShotConfigError(f"unknown few-shot method {method!r}; known: {list(METHODS)}")
    if not isinstance(config, dict):
        raise FewShotConfigError(
            f"the {method} config must be a dict of constructor arguments, got "
            f"{type(config).__name__}"
        )
    unknown = sorted(str(k) for k in config if k not in _CONFIG_KEYS[method])
    if unknown:
        raise FewShotConfigError(
            f"unknown {method} config entries {unknown}; known: {list(_CONFIG_KEYS[method])}"
        )
    for key, (lo, hi) in CONFIG_LIMITS.items():
        if key not in config or (key == "d_hidden" and config[key] is None):
            continue
        v = config[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise FewShotConfigError(
                f"config {key}={v!r}: must be an integer between {lo} and {hi}"
            )
    d_model, n_heads = config.get("d_model", 96), config.get("n_heads", 4)
    if d_model % n_heads:
        raise FewShotConfigError(f"config d_model={d_model} is not divisible by n_heads={n_heads}")
    if "inner_lr" in config:
        lr = config["inner_lr"]
        if (
            isinstance(lr, bool)
            or not isinstance(lr, (int, float))
            or not (math.isfinite(lr) and lr > 0)
        ):
            raise FewShotConfigError(f"config inner_lr={lr!r}: must be a finite number > 0")
    if "first_order" in config and not isinstance(config["first_order"], bool):
        raise FewShotConfigError(
            f"config first_order={config['first_order']!r}: must be True or False"
        )
    with torch.device("meta"):  # shapes without storage: nothing is allocated
        try:
            shell = _build(method, dict(config))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise FewShotConfigError(f"invalid {method} config {config!r}: {exc}") from exc
    shapes = {k: tuple(v.shape) for k, v in shell.state_dict().items()}
    n_params = sum(math.prod(shape) for shape in shapes.values())
    if n_params > MAX_PARAMETERS:
        raise FewShotConfigError(
            f"the {method} config {config!r} describes a model of {n_params:,} parameters, "
            f"more than the limit of {MAX_PARAMETERS:,} (MAX_PARAMETERS)"
        )
    return shapes


def build_model(method: str, config: dict[str, Any]) -> EpisodeModel:
    """A freshly initialised model of ``method`` with constructor arguments ``config``.

    The config is checked first (:func:`check_config`): a :class:`FewShotConfigError`
    names the offending entry and value before anything is allocated.
    """
    check_config(method, config)
    return _build(method, dict(config))


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
    # atomic: a killed writer never leaves a half file under the real name
    write_atomic(path, lambda tmp: torch.save(payload, tmp))
    return path


def read_payload(path: str | Path) -> dict[str, Any]:
    """Read and check the envelope of a weights file (format, version, method, keys)."""
    path = Path(path)
    if not path.is_file():
        raise FewShotWeightsNotFoundError(
            f"few-shot weights file {str(path)!r} does not exist"
            + (" (it is a directory)" if path.is_dir() else "")
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FewShotWeightsError(
            f"few-shot weights file {str(path)!r} is {size:,} bytes, more than the "
            f"{MAX_FILE_BYTES:,} a model of at most {MAX_PARAMETERS:,} parameters needs"
        )
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


def network_digest(path: str | Path) -> str:
    """SHA-256 (hex) of the network a weights file holds: method, configuration and
    tensors, not ``meta`` (so writing the gate record into the file keeps the digest)."""
    payload = read_payload(path)
    h = hashlib.sha256(json.dumps([payload["method"], payload["config"]], sort_keys=True).encode())
    for name, tensor in sorted(payload["state_dict"].items()):
        h.update(name.encode())
        h.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
        h.update(tensor.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


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
    FewShotWeightsNotFoundError
        ``path`` does not exist (also a ``FileNotFoundError``).
    FewShotConfigError
        The file's config is invalid or describes more than :data:`MAX_PARAMETERS`
        parameters (checked before any model is built).
    FewShotWeightsError
        Unreadable or oversized file, other format or version, other method, tensors whose
        names or shapes do not fit the model the file's config describes, or non-finite
        (NaN, inf) values.
    """
    payload = read_payload(path)
    where = repr(str(path))
    if method is not None and payload["method"] != method:
        raise FewShotWeightsError(
            f"{where} holds {payload['method']!r} weights, but method={method!r} was asked for"
        )
    config = payload["config"]
    try:
        expected = check_config(payload["method"], config)
    except FewShotConfigError as exc:
        raise FewShotConfigError(f"{where} has an invalid config: {exc}") from exc
    got = payload["state_dict"]
    if not isinstance(got, dict):
        raise FewShotWeightsError(
            f"{where}: 'state_dict' must be a dict of tensors, got {type(got).__name__}"
        )
    missing = sorted(set(expected) - set(got))
    extra = sorted(str(k) for k in set(got) - set(expected))
    if missing or extra:
        raise FewShotWeightsError(
            f"{where} does not fit a {payload['method']} model with config {config}: "
            f"missing tensors {missing[:5]}, unexpected tensors {extra[:5]}"
        )
    for name, shape in expected.items():
        tensor = got[name]
        if not isinstance(tensor, torch.Tensor):
            raise FewShotWeightsError(
                f"{where}: entry {name!r} of the state_dict is a {type(tensor).__name__}, "
                "not a tensor"
            )
        if tuple(tensor.shape) != shape:
            raise FewShotWeightsError(
                f"{where}: tensor {name!r} has shape {tuple(tensor.shape)}, the model "
                f"described by its config needs {shape}"
            )
        if not tensor.is_floating_point():
            raise FewShotWeightsError(
                f"{where}: tensor {name!r} has dtype {tensor.dtype}, expected floating point"
            )
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise FewShotWeightsError(
                f"{where}: tensor {name!r} has {bad} non-finite value(s) (NaN or inf) of "
                f"{tensor.numel()}; the weights are corrupt or training diverged"
            )
    model = _build(payload["method"], dict(config))
    dtypes = {k: v.dtype for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.to(dtypes[k]) for k, v in got.items()})
    model.eval()
    return model, dict(payload.get("meta", {}))
