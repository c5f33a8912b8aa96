"""Numpy arrays in a meta-model's saved state, which is strict JSON (no pickle).

A float array is stored as (nested) lists with ``null`` for NaN and infinities, so that the
file stays valid JSON (``json.dump(..., allow_nan=False)``); reading it back gives float
arrays with NaN there. The layout is part of every model's saved format: change it only
together with :data:`autometa.metamodel._base.STATE_VERSION`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["array_from_json", "array_to_json"]


def array_to_json(x: Any) -> Any:
    """JSON-friendly copy of an array: nested lists, NaN and infinities as ``None``;
    anything that is not an ndarray is returned unchanged.

    Examples
    --------
    >>> array_to_json(np.array([[1.0, np.nan], [np.inf, 2.0]]))
    [[1.0, None], [None, 2.0]]
    """
    if isinstance(x, np.ndarray):
        return (
            [array_to_json(row) for row in x]
            if x.ndim > 1
            else [None if (isinstance(v, float) and not np.isfinite(v)) else v for v in x.tolist()]
        )
    return x


def array_from_json(x: Any) -> np.ndarray:
    """The float array (1-d, or 2-d from a list of lists) :func:`array_to_json` wrote, with
    NaN for ``None``.

    Examples
    --------
    >>> array_from_json([[1.0, None], [None, 2.0]]).tolist()
    [[1.0, nan], [nan, 2.0]]
    """
    return np.asarray(
        [[np.nan if v is None else v for v in row] for row in x]
        if x and isinstance(x[0], list)
        else [np.nan if v is None else v for v in x],
        dtype=float,
    )
