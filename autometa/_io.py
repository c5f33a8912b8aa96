"""Writing files safely and values as strict JSON: the helpers every writer shares.

* :func:`write_atomic` -- a file appears whole or not at all (temporary file + rename).
* :func:`json_default` -- the ``default=`` for :func:`json.dumps`: numpy scalars and arrays.
* :func:`json_safe` / :func:`finite_or_none` -- NaN and infinities become ``None`` (JSON
  ``null``), so that what is written is strict JSON any reader accepts.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["append_line", "finite_or_none", "json_default", "json_safe", "write_atomic"]


def write_atomic(
    path: str | os.PathLike, write: Callable[[str], Any], *, fsync: bool = False
) -> None:
    """Write ``path`` through a temporary file in the same directory, then rename it over
    ``path``, so that a reader (or a crash) never sees half a file.

    Parameters
    ----------
    path : str or path-like
        The file to (over)write; its directory must exist.
    write : callable
        ``write(tmp)`` writes the whole contents to the file named ``tmp`` (a ``str``).
    fsync : bool, default=False
        Also make the write durable: the temporary file is flushed to disk before the
        rename, and the directory after it (where the platform allows), so that the new
        contents survive a power cut, not only a killed process.

    Notes
    -----
    The temporary file is made by :func:`tempfile.mkstemp` (``.NAME.*.tmp`` next to the
    target, readable by its owner only); it is removed when ``write`` raises. A process
    killed during ``write`` can leave it behind, never a truncated ``path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_atomic(target, lambda tmp: pathlib.Path(tmp).write_text("whole"))
    >>> target.read_text()
    'whole'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        if fsync:
            _fsync(tmp, os.O_RDWR)  # writable: Windows' fsync needs it
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if fsync:
        try:  # the rename itself survives a power cut once the directory is synced
            _fsync(path.parent, os.O_RDONLY)
        except OSError:  # not supported (e.g. Windows): the rename is still atomic
            pass


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` and a newline to a line-per-record file, flushed and fsynced.

    A line cut short by a killed writer is not glued onto: the new line starts fresh, so a
    reader that skips unparsable lines loses only the cut one.
    """
    with open(path, "ab+") as f:
        cut = False
        if f.seek(0, 2) > 0:
            f.seek(-1, 2)
            cut = f.read(1) != b"\n"
        f.write((b"\n" if cut else b"") + line.encode() + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _fsync(path: str | os.PathLike, flags: int) -> None:
    """Flush what the system holds of ``path`` (a file or a directory) to disk."""
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def json_default(value: Any) -> Any:
    """``default=`` for :func:`json.dumps`: numpy scalars as Python numbers (``.item()``),
    numpy arrays as lists; anything else is refused with :class:`TypeError`.

    Examples
    --------
    >>> import json, numpy as np
    >>> json.dumps({"n": np.int64(3), "w": np.array([0.5, 1.0])}, default=json_default)
    '{"n": 3, "w": [0.5, 1.0]}'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def finite_or_none(value: Any) -> float | None:
    """``float(value)``, or ``None`` where it is missing, NaN or infinite.

    Examples
    --------
    >>> finite_or_none(0.5), finite_or_none(float("nan")), finite_or_none(None)
    (0.5, None, None)
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists and tuples followed) that is strict JSON: numpy
    scalars and arrays become Python numbers and lists, NaN and infinities ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> json_safe({"score": np.float64("nan"), "folds": [1.0, float("inf")], "n": np.int64(2)})
    {'score': None, 'folds': [1.0, None], 'n': 2}
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
