"""Summary functions that turn a vector-valued meta-feature into scalars.

All summaries ignore NaN entries (pymfe's ``mean``/``sd`` propagate them; we
prefer a value over NaN when, say, one column's skewness is undefined).
``sd`` and ``var`` use ``ddof=1`` as pymfe does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._errors import UnknownSummaryError


def _moment_ratio(v: np.ndarray, order: int) -> float:
    m = v.mean()
    d = v - m
    m2 = np.mean(d * d)
    if m2 <= 0:
        return float("nan")
    return float(np.mean(d**order) / m2 ** (order / 2))


_FUNCS: dict[str, tuple[int, Callable[[np.ndarray], float]]] = {
    # name: (minimum number of finite values, function)
    "mean": (1, lambda v: float(np.mean(v))),
    "sd": (2, lambda v: float(np.std(v, ddof=1))),
    "var": (2, lambda v: float(np.var(v, ddof=1))),
    "min": (1, lambda v: float(np.min(v))),
    "max": (1, lambda v: float(np.max(v))),
    "median": (1, lambda v: float(np.median(v))),
    "range": (1, lambda v: float(np.ptp(v))),
    "iq_range": (1, lambda v: float(np.subtract(*np.percentile(v, [75, 25])))),
    "skewness": (3, lambda v: _moment_ratio(v, 3)),
    "kurtosis": (4, lambda v: _moment_ratio(v, 4) - 3.0),
    "count": (0, lambda v: float(v.size)),
}

SUMMARIES: tuple[str, ...] = tuple(_FUNCS)


def check_summaries(summaries: object) -> tuple[str, ...]:
    """Validate ``summaries`` and return them as a tuple of names."""
    if isinstance(summaries, str):
        summaries = (summaries,)
    try:
        out = tuple(str(s) for s in summaries)  # type: ignore[union-attr]
    except TypeError as exc:
        raise UnknownSummaryError(
            f"summaries must be a sequence of names, got {summaries!r}"
        ) from exc
    if not out:
        raise UnknownSummaryError("summaries must name at least one summary")
    bad = [s for s in out if s not in _FUNCS]
    if bad:
        raise UnknownSummaryError(f"unknown summaries {bad}; valid: {list(_FUNCS)}")
    return out


def summarise(values: np.ndarray, summary: str) -> tuple[float, str | None]:
    """Apply ``summary`` to the finite entries of ``values``.

    Returns
    -------
    value, reason
        ``reason`` is None unless ``value`` is NaN.
    """
    need, fn = _FUNCS[summary]
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < need or (v.size == 0 and summary != "count"):
        return float(
            "nan"
        ), f"{summary} needs at least {max(need, 1)} defined value(s), got {v.size}"
    with np.errstate(all="ignore"):
        out = fn(v)
    if not np.isfinite(out):
        return float("nan"), f"{summary} is undefined (e.g. zero spread or overflow)"
    return out, None
