"""Exceptions raised by :mod:`metafeatures` for invalid input.

Every error subclasses both :class:`MetafeatureError` (so callers can catch
everything from this package at once) and the matching builtin
(:class:`ValueError` or :class:`TypeError`), so generic handlers keep working.
"""

from __future__ import annotations


class MetafeatureError(Exception):
    """Base class of all errors raised by :mod:`metafeatures`."""


class InputTypeError(MetafeatureError, TypeError):
    """``X`` or ``y`` has a type we cannot read (e.g. a dict or a 3-D array)."""


class InputShapeError(MetafeatureError, ValueError):
    """``X`` and ``y`` disagree in length, or ``X`` has no rows / columns."""


class DuplicateColumnError(MetafeatureError, ValueError):
    """``X`` has several columns with the same name (after conversion to ``str``)."""


class InvalidTaskError(MetafeatureError, ValueError):
    """``task`` is not ``"classification"``/``"regression"`` or contradicts ``y``."""


class UnknownGroupError(MetafeatureError, ValueError):
    """A requested meta-feature group does not exist."""


class UnknownSummaryError(MetafeatureError, ValueError):
    """A requested summary function does not exist."""


class InvalidParameterError(MetafeatureError, ValueError):
    """Another argument of :func:`metafeatures.extract` is out of range."""
