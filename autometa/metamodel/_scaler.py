"""Meta-features as a meta-model sees them: compressed, imputed and robustly scaled."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InvalidParameterError

__all__ = ["FeatureScaler", "as_query"]


class FeatureScaler:
    """Log-compress heavy-tailed meta-features, impute with the training median and scale
    robustly to about [0, 1] (auto-sklearn's normalisation for its L1 distance, made robust).

    A column is log-compressed (``sign(x) * log1p(|x|)``) when its training values span
    more than two orders of magnitude: sizes such as the number of rows would otherwise
    dominate any distance. The scale is the 5th-95th percentile range of the training
    values, and scaled values are clipped to ``[-CLIP, 1 + CLIP]``: a query far outside the
    knowledge base on one meta-feature (or one heavy-tailed outlier in the knowledge base)
    then moves a distance by at most ``1 + 2 * CLIP`` instead of by thousands. Columns that
    are constant over the training datasets carry no information and are dropped.
    """

    #: How far beyond the training range (in units of its scale) a value still counts.
    CLIP = 0.5

    def fit(self, frame: pd.DataFrame) -> FeatureScaler:
        X = frame.to_numpy(dtype=float)
        keep = np.isfinite(X).sum(axis=0) >= max(2, int(0.2 * len(X)))
        with np.errstate(all="ignore"):
            absx = np.abs(np.where(np.isfinite(X), X, np.nan))
            hi = np.nanmax(absx, axis=0) if len(X) else np.zeros(X.shape[1])
            lo = np.nanpercentile(absx, 10, axis=0) if len(X) else np.zeros(X.shape[1])
        self.log_ = np.nan_to_num(hi, nan=0.0) > 100 * np.maximum(np.nan_to_num(lo, nan=0.0), 1.0)
        T = self._compress(X)
        if len(T) and T.shape[1]:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                q05, q95 = np.nanpercentile(T, [5, 95], axis=0)
                low, high = np.nanmin(T, axis=0), np.nanmax(T, axis=0)
        else:
            q05 = low = np.zeros(T.shape[1])
            q95 = high = np.ones(T.shape[1])
        robust = q95 - q05 > 1e-12
        self.min_ = np.where(robust, q05, low)
        self.span_ = np.where(robust, q95 - q05, high - low)
        keep &= np.nan_to_num(self.span_, nan=0.0) > 1e-12  # constant columns: no information
        self.columns_ = [c for c, k in zip(frame.columns, keep) if k]
        self.log_, self.min_, self.span_, T = (
            self.log_[keep],
            self.min_[keep],
            self.span_[keep],
            T[:, keep],
        )
        self.median_ = (
            np.nan_to_num(np.nanmedian(T, axis=0), nan=0.0) if len(T) else np.zeros(T.shape[1])
        )
        return self

    def _compress(self, X: np.ndarray) -> np.ndarray:
        X = np.where(np.isfinite(X), X, np.nan)
        return np.where(self.log_, np.sign(X) * np.log1p(np.abs(X)), X)

    def transform(self, frame: pd.DataFrame | pd.Series) -> np.ndarray:
        """Scaled matrix ``(n, len(columns_))``; unknown and missing values -> median."""
        if isinstance(frame, pd.Series):
            frame = frame.to_frame().T
        X = frame.reindex(columns=self.columns_).to_numpy(dtype=float)
        T = self._compress(X)
        T = np.where(np.isfinite(T), T, self.median_)
        return np.clip((T - self.min_) / self.span_, -self.CLIP, 1.0 + self.CLIP)

    def missing(self, frame: pd.DataFrame | pd.Series) -> np.ndarray:
        """Boolean mask of the values :meth:`transform` had to impute."""
        if isinstance(frame, pd.Series):
            frame = frame.to_frame().T
        return ~np.isfinite(frame.reindex(columns=self.columns_).to_numpy(dtype=float))

    def get_state(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns_),
            "log": self.log_.tolist(),
            "median": self.median_.tolist(),
            "min": self.min_.tolist(),
            "span": self.span_.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureScaler:
        self = cls()
        self.columns_ = list(state["columns"])
        self.log_ = np.asarray(state["log"], dtype=bool)
        self.median_ = np.asarray(state["median"], dtype=float)
        self.min_ = np.asarray(state["min"], dtype=float)
        self.span_ = np.asarray(state["span"], dtype=float)
        return self


def as_query(metafeatures: pd.Series | Mapping[str, float] | pd.DataFrame) -> pd.DataFrame:
    """One dataset's meta-features as a one-row float frame; a frame of several rows is
    refused (a meta-model ranks for one dataset at a time)."""
    if isinstance(metafeatures, pd.DataFrame):
        if len(metafeatures) != 1:
            raise InvalidParameterError(
                f"meta-features of one dataset expected, got a DataFrame of "
                f"{len(metafeatures)} rows; call once per row (e.g. frame.iloc[i])"
            )
        return metafeatures.astype(float)
    s = pd.Series(metafeatures, dtype=float)
    return s.to_frame().T
