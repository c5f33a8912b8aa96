"""Registry of meta-feature definitions and the container for computed values.

Each group module declares its meta-features with :func:`spec` in a module-level
``SPECS`` tuple and fills a :class:`Results` in its ``compute`` function.  The
registry is the single source of truth for names, so the index of
:func:`metafeatures.extract`'s output is stable: it depends only on the
requested groups and summaries, never on the data or the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

CostClass = Literal["constant", "linear", "nlogn", "quadratic", "model"]
TaskKind = Literal["any", "classification", "regression"]

#: Group names in the order they are computed (cheap first, so a time budget
#: drops the expensive ones).
GROUPS: tuple[str, ...] = (
    "general",
    "statistical",
    "info_theory",
    "model_based",
    "landmarking",
    "clustering",
    "complexity",
)
DEFAULT_GROUPS: tuple[str, ...] = (
    "general",
    "statistical",
    "info_theory",
    "model_based",
    "landmarking",
)


@dataclass(frozen=True)
class MetaFeature:
    """Static description of one meta-feature.

    Attributes
    ----------
    name : str
        Full base name ``"<group>.<feature>"``; summarised features get one
        output value per summary, ``"<name>.<summary>"``.
    group : str
        One of :data:`GROUPS`.
    description : str
        One-line definition, including how it differs from pymfe if it does.
    cost : str
        Cost class in the number of rows ``n`` (``quadratic`` ones run on at
        most ``max_rows`` rows).
    needs_y : bool
        Whether the target is required (NaN when ``y`` is None).
    summarised : bool
        Whether the raw value is a vector summarised by ``summaries``.
    task : str
        ``"any"``, ``"classification"`` or ``"regression"``; NaN for the other.
    categorical : str
        How categorical features enter the definition.
    """

    name: str
    group: str
    description: str
    cost: CostClass = "linear"
    needs_y: bool = False
    summarised: bool = False
    task: TaskKind = "any"
    categorical: str = "not used"


def spec(group: str, short: str, description: str, **kw: object) -> MetaFeature:
    """Build a :class:`MetaFeature` named ``f"{group}.{short}"``."""
    return MetaFeature(name=f"{group}.{short}", group=group, description=description, **kw)  # type: ignore[arg-type]


@dataclass
class Results:
    """Raw values computed by the group modules, plus why some are undefined.

    ``values[name]`` is a float for scalar meta-features and a 1-D float array
    for summarised ones.  ``reasons[name]`` explains a NaN (or an empty array).
    """

    values: dict[str, float | np.ndarray] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: object, reason: str | None = None) -> None:
        """Store ``value`` (scalar or array) for ``name``; record ``reason`` if given."""
        if isinstance(value, np.ndarray) and value.ndim > 0:
            self.values[name] = np.asarray(value, dtype=float).ravel()
        else:
            try:
                self.values[name] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                self.values[name] = float("nan")
                reason = reason or f"could not convert {value!r} to float"
        if reason:
            self.reasons[name] = reason

    def nan(self, names: str | list[str] | tuple[str, ...], reason: str) -> None:
        """Mark one or several meta-features as undefined, with ``reason``."""
        for name in [names] if isinstance(names, str) else names:
            self.values[name] = float("nan")
            self.reasons[name] = reason
