"""autometa: meta-learning recommendations for tabular machine learning."""

from __future__ import annotations

__version__ = "0.1.0"

from autometa.data import Dataset, load_dataset, load_suite  # noqa: E402

__all__ = ["Dataset", "__version__", "load_dataset", "load_suite"]
