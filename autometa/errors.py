"""Every error autometa raises on purpose, in one place.

Each subclasses the built-in exception a user would expect (``ValueError``,
``TypeError``, ``FileNotFoundError``) so ``except ValueError`` keeps working, and
each message names the offending column, value or limit.
"""

from __future__ import annotations


class AutometaError(Exception):
    """Base class of all autometa errors."""


class DataValidationError(AutometaError, ValueError):
    """The data cannot be used as given (empty, one class, missing target, ...)."""


class TargetNotFoundError(DataValidationError):
    """The named target column is not in the table."""


class UnsupportedSourceError(AutometaError, ValueError):
    """The source kind or file extension is not one autometa can read."""


class DataTypeError(AutometaError, TypeError):
    """The source has a Python type autometa cannot turn into a table."""


class DatasetFileNotFoundError(AutometaError, FileNotFoundError):
    """A file or directory named as a source does not exist."""


class FileParseError(DataValidationError):
    """A file exists but cannot be parsed as a table."""


class OpenMLUnavailableError(AutometaError, ConnectionError):
    """OpenML cannot be reached and the requested object is not in the cache."""


class InvalidParameterError(AutometaError, ValueError):
    """A function argument is outside its documented choices (e.g. ``task="clustering"``)."""


class DataWarning(UserWarning):
    """Data was changed on load (rows or columns dropped, values treated as missing).

    Filter it like any warning, e.g. ``warnings.simplefilter("ignore", DataWarning)``.
    """


class ConfigError(AutometaError, ValueError):
    """A configuration names an unknown algorithm or an invalid hyperparameter."""


class KnowledgeBaseError(AutometaError, ValueError):
    """A knowledge base is missing, corrupted or of a newer schema."""


class KnowledgeBaseLockedError(KnowledgeBaseError):
    """Another process is writing the knowledge-base directory (one writer at a time)."""


class TaskMismatchError(AutometaError, ValueError):
    """A dataset and a knowledge base or model are of different task types."""


class ModelFileError(AutometaError, ValueError):
    """A saved model cannot be written or read: no such file or directory, not a model
    file, or it holds types outside the trusted list."""
