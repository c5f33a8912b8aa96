"""Meta-features: describe a tabular classification or regression dataset by a vector.

Standalone (imports nothing from ``autometa``).  Main entry points::

    import metafeatures
    values = metafeatures.extract(X, y)                        # pandas Series
    values, info = metafeatures.extract(X, y, groups="all", return_info=True)
    metafeatures.list_metafeatures()                           # what each name means

Groups (one module each): ``general``, ``statistical``, ``info_theory``,
``model_based``, ``landmarking`` (these five are ``"default"``), plus
``clustering`` and ``complexity`` (``"all"``).  Definitions follow Rivolli et
al. (2022), pymfe and OpenML; every difference from pymfe is stated in the
meta-feature's description (``list_metafeatures()["description"]``) and in
the module docstrings.
"""

from ._errors import (
    DuplicateColumnError,
    InputShapeError,
    InputTypeError,
    InvalidParameterError,
    InvalidTaskError,
    MetafeatureError,
    UnknownGroupError,
    UnknownSummaryError,
)
from ._extract import extract, list_metafeatures, output_names
from ._registry import DEFAULT_GROUPS, GROUPS
from ._summary import SUMMARIES

__all__ = [
    "DEFAULT_GROUPS",
    "GROUPS",
    "SUMMARIES",
    "DuplicateColumnError",
    "InputShapeError",
    "InputTypeError",
    "InvalidParameterError",
    "InvalidTaskError",
    "MetafeatureError",
    "UnknownGroupError",
    "UnknownSummaryError",
    "extract",
    "list_metafeatures",
    "output_names",
]
__version__ = "0.1.0"
