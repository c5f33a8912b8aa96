"""Where a :func:`autometa.tune` study lives: storage URLs, their files, and the setup lock.

:func:`open_storage` turns a URL or path into an Optuna storage (the public face is
:func:`autometa.tuning.make_storage`, which passes its heartbeat settings);
:func:`local_file` checks the file of a SQLite or journal storage before anything is
created; :func:`file_lock` serialises the setup of a study on such a file between processes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autometa.errors import ConfigError

__all__ = ["file_lock", "local_file", "lock_path", "open_storage"]


def open_storage(storage: Any, *, heartbeat_interval: int, grace_period: int) -> Any:
    """An Optuna storage from a URL, a path or a storage object (``None``: in memory);
    database URLs get Optuna's heartbeats with the given interval and grace period (see
    :func:`autometa.tuning.make_storage`).

    Raises
    ------
    ConfigError
        The URL is not a storage, names no file, or the file's directory does not exist.
    """
    import optuna

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, Path):
        storage = str(storage)
    if not isinstance(storage, str):
        raise ConfigError(
            f"storage must be a URL string, a path or an optuna storage, not {type(storage).__name__}"
        )
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    local = local_file(storage)  # checks the path of a SQLite or journal file
    if _journal_path(storage) is not None:
        assert local is not None
        return JournalStorage(JournalFileBackend(str(local)))
    if "://" not in storage:
        raise ConfigError(
            f"storage {storage!r} is not a storage URL; use e.g. 'sqlite:///tune.db', "
            "'postgresql://user@host/db' or 'journal:tune.log'"
        )
    kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        # several processes on one SQLite file wait for each other's writes
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                **kwargs,
            )
    except Exception as exc:  # sqlalchemy raises many kinds
        raise ConfigError(f"cannot open storage {storage!r}: {exc}") from exc


def _journal_path(url: str) -> str | None:
    if url.startswith("journal:"):
        path = url[len("journal:") :]
        return path.removeprefix("//")
    if "://" not in url and url.endswith((".log", ".journal")):
        return url
    return None


def _sqlite_database(url: str) -> str | None:
    """The database of a ``sqlite`` URL (``""`` when it names none, which SQLite takes as
    "in memory"); ``None`` for other URLs."""
    if not url.startswith("sqlite"):
        return None
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError and friends
        raise ConfigError(f"storage {url!r} is not a valid database URL: {exc}") from exc
    if parsed.get_backend_name() != "sqlite":
        return None
    return parsed.database or ""


def local_file(url: Any) -> Path | None:
    """The file of a SQLite or journal storage URL, checked: it names a file whose directory
    exists. ``None`` for other storages and for an explicit ``sqlite:///:memory:``.

    Raises
    ------
    ConfigError
        The URL names no file, or the file's directory does not exist (nothing is created).
    """
    if not isinstance(url, (str, Path)):
        return None
    url = str(url)
    journal = _journal_path(url)
    if journal is not None:
        if not journal.strip():
            raise ConfigError(f"storage {url!r} names no journal file; use e.g. 'journal:tune.log'")
        path = Path(journal).expanduser()
    else:
        database = _sqlite_database(url)
        if database is None:
            return None
        if not database.strip():
            raise ConfigError(
                f"storage {url!r} names no database file (SQLite would keep the study in "
                "memory and lose it when the process ends); use e.g. 'sqlite:///tune.db', or "
                "'sqlite:///:memory:' for an in-memory database on purpose"
            )
        if database == ":memory:" or database.startswith("file:"):
            return None  # in memory on purpose, or a SQLite URI filename: left to SQLite
        path = Path(database)
    if path.is_dir():
        raise ConfigError(f"storage {url!r} names a directory, not a file: {str(path)!r}")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(
            f"storage {url!r}: directory {str(parent)!r} does not exist (it is not created "
            "for you); create it or choose another path"
        )
    return path


def lock_path(url: Any) -> Path | None:
    """A file next to a local storage (SQLite, journal file) to serialise study setup."""
    path = local_file(url)
    return None if path is None else path.with_name(path.name + ".autometa-lock")


@contextlib.contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: best effort
        yield
        return
    # No mkdir: local_file checked that the directory exists.
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
