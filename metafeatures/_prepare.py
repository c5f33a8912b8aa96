"""Input validation and the shared intermediates computed once per extract call.

Every group module reads a :class:`Prepared`; none of them looks at the raw
input.  Keeping encodings, per-class statistics, the row sample and the CV
split here means each is computed exactly once, however many meta-features
use it.

Conventions (documented once, used everywhere)
----------------------------------------------
* Numeric features: ``+-inf`` is treated as missing; missing values are
  imputed with the column median (0 when the whole column is missing).
* Categorical features: integer codes, with "missing" as a level of its own
  (entropy-based measures use these codes directly).
* Design matrix ``Z`` (landmarking, model-based, complexity, clustering):
  z-scored numeric columns followed by one-hot categorical columns, keeping at
  most :data:`MAX_ONEHOT_LEVELS` most frequent levels per column (the rest
  share one "other" column).  Built only on the row sample and the column
  sample.
* Column sample: when ``Z`` would have more than ``max_columns`` columns, a
  random subset of the features (a prefix of a permutation drawn with
  ``random_state``) whose encoded width fits in ``max_columns`` is used by
  ``Z`` and by the pairwise statistical measures (covariance, correlations,
  eigenvalues, canonical correlations, Box's M).  Counts and per-feature
  measures always use every column.
* Rows whose ``y`` is missing (or non-finite, for regression) are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._errors import (
    DuplicateColumnError,
    InputShapeError,
    InputTypeError,
    InvalidParameterError,
    InvalidTaskError,
)

#: Most frequent levels one-hot encoded per categorical column in ``Z``.
MAX_ONEHOT_LEVELS = 32
#: Default row sample for model-based, landmarking, clustering and complexity
#: measures: keeps a 10,000 x 100 table under 1 s for the default groups.
DEFAULT_MAX_ROWS = 2000
#: Default width of the column sample (design-matrix columns; numeric features
#: count 1, categorical ones their one-hot width).  Measured on a 2-core
#: machine (benchmarks/metafeatures_wide.py): 2,000 x 1,000 with groups="all"
#: takes ~9 s and < 0.5 GB, a 50 x 20,000 table ~3 s and ~0.3 GB (it took 8+
#: minutes and 17.6 GB unbounded); every dataset of the shipped knowledge base
#: is at most 1,000 columns wide, so none of its values is column-sampled.
DEFAULT_MAX_COLUMNS = 1000
#: Number of folds of the CV split shared by all landmarkers (as pymfe).
N_FOLDS = 10
#: A numeric target with at most this many distinct integer values is a class label.
MAX_INFERRED_CLASSES = 20


class BudgetExceeded(Exception):
    """Internal: the ``time_budget`` deadline passed during a group (caught by ``extract``)."""


@dataclass
class Prepared:
    """Shared intermediates of one :func:`metafeatures.extract` call.

    Shapes use ``n`` rows (after dropping rows without a target), ``p``
    numeric and ``c`` categorical features, ``k`` classes, ``s`` sampled rows,
    ``ps``/``cs`` numeric/categorical features in the column sample and ``q``
    design-matrix columns.
    """

    task: str | None  # "classification", "regression" or None (no y)
    random_state: int
    n_rows_input: int
    n_rows: int
    feature_names: list[str]
    is_categorical: np.ndarray  # (p + c,) bool, in input column order
    N: np.ndarray  # (n, p) float64, imputed numeric features
    C_cat: np.ndarray  # (n, c) int64 codes of categorical features, missing = own level
    cat_levels: np.ndarray  # (c,) number of levels (missing level included if present)
    cat_levels_observed: np.ndarray  # (c,) distinct non-missing values
    n_missing: int
    n_missing_per_col: np.ndarray  # (p + c,)
    n_rows_with_missing: int
    n_infinite: int
    # Target.
    y_codes: np.ndarray | None = None  # (n,) int class codes 0..k-1
    classes: np.ndarray | None = None  # (k,) original labels
    class_counts: np.ndarray | None = None  # (k,)
    y_float: np.ndarray | None = None  # (n,) regression target
    # Row sample for quadratic / model-based / landmarking measures.
    sample_idx: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # (s,)
    max_rows: int = 2000
    # Column sample for the measures whose cost grows faster than linearly in columns.
    col_idx: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # features, input order
    num_idx: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # (ps,) columns of N
    cat_idx: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # (cs,) columns of C_cat
    max_columns: int = 1000
    #: ``time.perf_counter()`` value after which :meth:`check_time` raises (None: no budget).
    deadline: float | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    @property
    def n_numeric(self) -> int:
        return int(self.N.shape[1])

    @property
    def n_categorical(self) -> int:
        return int(self.C_cat.shape[1])

    @property
    def n_features(self) -> int:
        return self.n_numeric + self.n_categorical

    @property
    def n_classes(self) -> int:
        return 0 if self.class_counts is None else int(self.class_counts.size)

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    @property
    def sampled(self) -> bool:
        return self.sample_idx.size < self.n_rows

    @property
    def columns_sampled(self) -> bool:
        return self.col_idx.size < self.n_features

    @property
    def N_sample_columns(self) -> np.ndarray:
        """(n, ps) numeric features of the column sample (``N`` itself when not sampled)."""
        if self.num_idx.size == self.n_numeric:
            return self.N
        return self.cached("N_cols", lambda: self.N[:, self.num_idx])

    def check_time(self) -> None:
        """Raise :class:`BudgetExceeded` once the ``time_budget`` deadline has passed.

        Called between the steps of the expensive groups, so a group stops
        within one step of the deadline instead of running to its end.
        """
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise BudgetExceeded

    # ---------------------------------------------------- lazily cached parts
    def cached(self, key: str, fn: Any) -> Any:
        """Return ``fn()`` computed once per call (shared between groups)."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def C(self) -> np.ndarray:
        """(n, p + c) int codes: numeric features discretised, then categorical codes.

        Numeric columns are discretised into ``floor(n ** (1/3))`` equal-frequency
        bins exactly as pymfe does (quantile edges, ``np.digitize(right=True)``).
        """
        return self.cached(
            "C", lambda: np.hstack([discretise(self.N), self.C_cat]).astype(np.int64)
        )

    @property
    def class_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-class means (k, p) and unbiased variances (k, p) of ``N`` (NaN if undefined)."""
        return self.cached(
            "class_stats", lambda: class_moments(self.N, self.y_codes, self.n_classes)
        )

    @property
    def Z(self) -> np.ndarray:
        """(s, q) design matrix on the row sample (see module docstring)."""
        return self.cached("Z", self._build_Z)

    @property
    def y_sample_codes(self) -> np.ndarray | None:
        return None if self.y_codes is None else self.y_codes[self.sample_idx]

    @property
    def y_sample_float(self) -> np.ndarray | None:
        return None if self.y_float is None else self.y_float[self.sample_idx]

    @property
    def folds(self) -> np.ndarray:
        """(s,) fold id in ``0..N_FOLDS-1`` of each sampled row: the one CV split.

        Stratified for classification (each class's rows, shuffled with
        ``random_state``, are dealt round-robin to folds); shuffled for
        regression.  All landmarkers use this split.
        """
        return self.cached("folds", self._build_folds)

    @property
    def D(self) -> np.ndarray:
        """(s, s) float32 Euclidean distances between the sampled rows of ``Z``.

        The only quadratic-memory object; it exists only on the row sample
        (at most ``max_rows`` rows) and is built in row blocks.
        """
        return self.cached("D", lambda: pairwise_distances(self.Z, check=self.check_time))

    def _build_Z(self) -> np.ndarray:
        idx = self.sample_idx
        Ns = self.N[np.ix_(idx, self.num_idx)]
        mu = Ns.mean(axis=0) if Ns.size else np.zeros(Ns.shape[1])
        sd = Ns.std(axis=0) if Ns.size else np.ones(Ns.shape[1])
        with np.errstate(invalid="ignore", over="ignore"):
            sd_ok = np.isfinite(sd) & (sd > 0)
            Zn = np.where(sd_ok, (Ns - mu) / np.where(sd_ok, sd, 1.0), 0.0)
        blocks = [Zn]
        for j in self.cat_idx:
            codes = self.C_cat[idx, j]
            counts = np.bincount(codes, minlength=int(self.cat_levels[j]))
            order = np.argsort(-counts, kind="stable")
            keep = order[: MAX_ONEHOT_LEVELS - 1] if counts.size > MAX_ONEHOT_LEVELS else order
            keep = keep[counts[keep] > 0]
            remap = np.full(counts.size, keep.size, dtype=np.int64)  # "other" column
            remap[keep] = np.arange(keep.size)
            width = keep.size + int(
                counts.size > keep.size and (counts[np.setdiff1d(order, keep)] > 0).any()
            )
            onehot = np.zeros((idx.size, max(width, 1)))
            onehot[np.arange(idx.size), np.minimum(remap[codes], onehot.shape[1] - 1)] = 1.0
            blocks.append(onehot)
        Z = np.hstack(blocks) if blocks else np.zeros((idx.size, 0))
        return np.ascontiguousarray(Z, dtype=np.float64)

    def _build_folds(self) -> np.ndarray:
        s = self.sample_idx.size
        rng = np.random.default_rng(self.random_state)
        folds = np.empty(s, dtype=np.int64)
        k = min(N_FOLDS, max(s, 1))
        if self.is_classification and self.y_codes is not None:
            ys = self.y_sample_codes
            pos = 0
            for cls_rows in np.split(
                np.argsort(ys, kind="stable"), np.cumsum(np.bincount(ys))[:-1]
            ):
                cls_rows = rng.permutation(cls_rows)
                # continue the round-robin where the previous class stopped so
                # that small classes do not all land in fold 0
                folds[cls_rows] = (pos + np.arange(cls_rows.size)) % k
                pos = (pos + cls_rows.size) % k
        else:
            folds[rng.permutation(s)] = np.arange(s) % k
        return folds


# ---------------------------------------------------------------------------
# helpers shared by several groups
# ---------------------------------------------------------------------------
def pairwise_distances(Z: np.ndarray, block: int = 1024, check: Any = None) -> np.ndarray:
    """Euclidean distance matrix (s, s) in float32, computed in row blocks.

    ``check``, if given, is called before each block (the time-budget check).
    """
    s = Z.shape[0]
    sq = np.einsum("ij,ij->i", Z, Z)
    D = np.empty((s, s), dtype=np.float32)
    for a in range(0, s, block):
        if check is not None:
            check()
        d2 = sq[a : a + block, None] + sq[None, :] - 2.0 * (Z[a : a + block] @ Z.T)
        np.maximum(d2, 0.0, out=d2)
        D[a : a + block] = np.sqrt(d2)
    np.fill_diagonal(D, 0.0)
    return D


def discretise(N: np.ndarray) -> np.ndarray:
    """Equal-frequency discretisation of every column of ``N`` (n, p) -> int codes (n, p)."""
    n, p = N.shape
    out = np.zeros((n, p), dtype=np.int64)
    if n == 0 or p == 0:
        return out
    num_bins = max(int(n ** (1 / 3)), 1)
    edges = np.quantile(N, np.linspace(0, 1, num_bins + 1)[1:], axis=0)  # (bins, p)
    if num_bins <= 16 and np.isfinite(edges).all():
        # vectorised, identical result: keep the edges more than 1e-8 above their
        # predecessor (strictly increasing), and digitize(right=True) is the number
        # of kept edges below the value; a per-column loop took seconds on 20,000
        # columns
        keep = np.ones(edges.shape, dtype=bool)
        keep[1:] = np.diff(edges, axis=0) > 1e-8
        for b in range(num_bins):
            out += (N > edges[b]) & keep[b]
        return out
    for j in range(p):
        e = edges[:, j]
        e = np.unique(e[np.append(True, np.diff(e) > 1e-8)])
        out[:, j] = np.digitize(N[:, j], e, right=True)
    return out


def class_moments(N: np.ndarray, y: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class mean and unbiased variance of each column.

    Uses one sort and ``np.add.reduceat`` instead of a dense (n, k) one-hot,
    so memory stays O(n p) even with 1,000 classes.

    Returns
    -------
    means, variances : ndarray of shape (k, p)
        Variance is NaN for classes with fewer than 2 rows.
    """
    p = N.shape[1]
    if y is None or k == 0 or p == 0:
        return np.zeros((k, p)), np.zeros((k, p))
    order = np.argsort(y, kind="stable")
    counts = np.bincount(y, minlength=k).astype(float)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    Ns = N[order]
    sums = np.add.reduceat(Ns, starts, axis=0)
    means = sums / counts[:, None]
    dev = Ns - np.repeat(means, counts.astype(np.int64), axis=0)
    ss = np.add.reduceat(dev * dev, starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(counts[:, None] > 1, ss / np.maximum(counts[:, None] - 1, 1), np.nan)
    return means, var


def infer_task(y: pd.Series) -> str:
    """Classification for non-numeric/boolean ``y`` or few distinct integer values."""
    if not (pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)):
        return "classification"
    vals = pd.to_numeric(y, errors="coerce").dropna().to_numpy(dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return "regression"
    uniq = np.unique(vals)
    if np.all(uniq == np.round(uniq)) and uniq.size <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    if isinstance(X, (dict, str, bytes)) or X is None:
        raise InputTypeError(
            f"X must be a pandas DataFrame or a 2-D array-like, got {type(X).__name__}"
        )
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InputTypeError(f"X could not be converted to an array: {exc}") from exc
    if arr.ndim != 2:
        raise InputShapeError(
            f"X must be 2-D (rows x features), got an array with {arr.ndim} dimension(s)"
            + ("; use X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else "")
        )
    return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])


def _check_unique_columns(df: pd.DataFrame) -> None:
    """Raise :class:`DuplicateColumnError` naming the duplicated column names."""
    cols = pd.Index(df.columns)
    if not cols.is_unique:
        dup = list(dict.fromkeys(cols[cols.duplicated()]))
        raise DuplicateColumnError(
            f"X has duplicate column names {dup[:10]}"
            + (f" and {len(dup) - 10} more" if len(dup) > 10 else "")
            + "; every column needs a unique name (rename them, e.g. with "
            "X.columns = [...] or pandas' DataFrame.rename)"
        )
    names = pd.Index([str(c) for c in cols])
    if not names.is_unique:
        dup_s = set(names[names.duplicated()])
        clash = [c for c in cols if str(c) in dup_s]
        raise DuplicateColumnError(
            f"X has column names that are equal as strings: {clash[:10]}; "
            "every column needs a unique name"
        )


def _categorical_mask(df: pd.DataFrame, categorical: Sequence[Any] | None) -> np.ndarray:
    cols = list(df.columns)
    if categorical is None:
        mask = []
        # decide from the dtype where it suffices: fetching a column (a Series)
        # per column dominated the time on 20,000-column tables
        for j, dt in enumerate(df.dtypes):
            if isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt):
                mask.append(True)
                continue
            if pd.api.types.is_numeric_dtype(dt):
                mask.append(False)
                continue
            s = df.iloc[:, j]
            if s.dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all() and s.notna().any():
                mask.append(True)  # an object column of booleans
            else:
                # object/string columns are categorical unless every value parses as a number
                parsed = pd.to_numeric(s, errors="coerce")
                mask.append(bool(parsed.isna().sum() > s.isna().sum()))
        return np.asarray(mask, dtype=bool)
    cat = list(categorical)
    if len(cat) == len(cols) and all(isinstance(v, (bool, np.bool_)) for v in cat):
        return np.asarray(cat, dtype=bool)
    mask = np.zeros(len(cols), dtype=bool)
    for v in cat:
        if v in cols:
            mask[cols.index(v)] = True
        elif (
            isinstance(v, (int, np.integer))
            and not isinstance(v, bool)
            and -len(cols) <= v < len(cols)
        ):
            mask[int(v)] = True
        else:
            raise InvalidParameterError(f"categorical column {v!r} is not a column of X")
    return mask


def _numeric_column(s: pd.Series) -> np.ndarray:
    """Float64 values of a numeric(-like) column; unparsable entries become NaN."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        try:
            return np.array(s.to_numpy(dtype=float, na_value=np.nan), dtype=float, copy=True)
        except (TypeError, ValueError):
            pass
    out = np.empty(len(s))
    for i, v in enumerate(s.to_numpy(dtype=object)):
        try:
            out[i] = float(v)  # huge Python ints overflow to inf here, not an error
        except (TypeError, ValueError, OverflowError):
            out[i] = (
                np.inf
                if isinstance(v, int) and v > 0
                else (-np.inf if isinstance(v, int) else np.nan)
            )
    return out


def prepare(
    X: Any,
    y: Any = None,
    *,
    task: str | None = None,
    categorical: Sequence[Any] | None = None,
    random_state: int = 0,
    max_rows: int | None = None,
    max_columns: int | None = None,
) -> Prepared:
    """Validate the input and build the :class:`Prepared` intermediates."""
    df = _as_frame(X)
    if df.shape[1] == 0:
        raise InputShapeError("X has no columns")
    if df.shape[0] == 0:
        raise InputShapeError("X has no rows")
    _check_unique_columns(df)
    df = df.copy(deep=False)
    df.columns = [str(c) for c in df.columns]
    is_cat_input = _categorical_mask(df, categorical)
    if task is not None and task not in ("classification", "regression"):
        raise InvalidTaskError(f"task must be 'classification', 'regression' or None, got {task!r}")
    if max_rows is None:
        max_rows = DEFAULT_MAX_ROWS
    if not isinstance(max_rows, (int, np.integer)) or max_rows < 10:
        raise InvalidParameterError(f"max_rows must be an integer >= 10, got {max_rows!r}")
    if max_columns is None:
        max_columns = DEFAULT_MAX_COLUMNS
    if (
        not isinstance(max_columns, (int, np.integer))
        or isinstance(max_columns, bool)
        or max_columns < 2
    ):
        raise InvalidParameterError(f"max_columns must be an integer >= 2, got {max_columns!r}")

    n_in = len(df)
    keep = np.ones(n_in, dtype=bool)
    ys: pd.Series | None = None
    if y is not None:
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise InputShapeError(
                    f"y must be one column, got a frame with {y.shape[1]} columns"
                )
            y = y.iloc[:, 0]
        if isinstance(y, pd.Series):
            ys = y.reset_index(drop=True)
        elif isinstance(y, np.ndarray):
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1:
                raise InputShapeError(f"y must be 1-D, got shape {y.shape}")
            ys = pd.Series(y)
        elif isinstance(y, (dict, str, bytes)):
            raise InputTypeError(f"y must be a 1-D array-like or Series, got {type(y).__name__}")
        else:
            ys = pd.Series(list(y)).infer_objects()
        if ys.ndim != 1 or len(ys) != n_in:
            raise InputShapeError(f"X has {n_in} rows but y has {len(ys)} values")
        if task is None:
            task = infer_task(ys)
        if task == "regression":
            yv = _numeric_column(ys)
            if np.isnan(yv).sum() > ys.isna().sum():
                raise InvalidTaskError("task='regression' but y has non-numeric values")
            keep &= np.isfinite(yv)
        else:
            keep &= ~ys.isna().to_numpy()
        if not keep.any():
            raise InputShapeError("y has no usable (non-missing, finite) values")

    if not keep.all():
        df = df.loc[keep]
        ys = ys[keep].reset_index(drop=True) if ys is not None else None
    n = len(df)

    num_pos = np.flatnonzero(~is_cat_input)
    cat_pos = np.flatnonzero(is_cat_input)
    N = np.empty((n, num_pos.size))
    # plain numpy int/float columns are converted in one block (a per-column
    # Series lookup costs ~0.1 ms, i.e. seconds on 20,000 columns)
    dtypes = df.dtypes
    plain = np.array(
        [isinstance(dtypes.iloc[j], np.dtype) and dtypes.iloc[j].kind in "fiu" for j in num_pos],
        dtype=bool,
    )
    if plain.all() and num_pos.size == df.shape[1]:
        # all numeric: no column take; always a C-ordered copy (pandas may hand out a view,
        # and column reductions must see the same memory layout as before)
        N = np.array(df.to_numpy(dtype=float), dtype=float, order="C", copy=True)
    elif plain.any():
        N[:, plain] = df.iloc[:, num_pos[plain]].to_numpy(dtype=float)
    n_inf = 0
    miss_num = np.zeros(num_pos.size, dtype=np.int64)
    row_missing = np.zeros(n, dtype=bool)
    for j, pos in enumerate(num_pos):
        v = N[:, j] if plain[j] else _numeric_column(df.iloc[:, pos])
        isnan = np.isnan(v)
        miss_num[j] = isnan.sum()
        row_missing |= isnan
        inf = np.isinf(v)
        n_inf += int(inf.sum())
        v[inf] = np.nan  # infinities are treated as missing for every statistic
        bad = np.isnan(v)
        if bad.any():
            med = np.median(v[~bad]) if (~bad).any() else 0.0
            v[bad] = med
        N[:, j] = v
    C_cat = np.empty((n, cat_pos.size), dtype=np.int64)
    levels = np.zeros(cat_pos.size, dtype=np.int64)
    levels_obs = np.zeros(cat_pos.size, dtype=np.int64)
    miss_cat = np.zeros(cat_pos.size, dtype=np.int64)
    for j, pos in enumerate(cat_pos):
        s = df.iloc[:, pos]
        codes, uniques = pd.factorize(s, sort=False, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        miss = codes < 0
        miss_cat[j] = miss.sum()
        row_missing |= miss
        levels_obs[j] = len(uniques)
        codes[miss] = len(uniques)  # missing is a level of its own
        C_cat[:, j] = codes
        levels[j] = len(uniques) + int(miss.any())

    miss_per_col = np.zeros(len(df.columns), dtype=np.int64)
    miss_per_col[~is_cat_input] = miss_num
    miss_per_col[is_cat_input] = miss_cat

    prep = Prepared(
        task=task if ys is not None else None,
        random_state=int(random_state),
        n_rows_input=n_in,
        n_rows=n,
        feature_names=list(df.columns),
        is_categorical=is_cat_input,
        N=N,
        C_cat=C_cat,
        cat_levels=levels,
        cat_levels_observed=levels_obs,
        n_missing=int(miss_per_col.sum()),
        n_missing_per_col=miss_per_col,
        n_rows_with_missing=int(row_missing.sum()),
        n_infinite=n_inf,
        max_rows=int(max_rows),
    )
    if ys is not None and task == "classification":
        codes, uniques = pd.factorize(ys, sort=True)
        prep.y_codes = np.asarray(codes, dtype=np.int64)
        prep.classes = np.asarray(uniques)
        prep.class_counts = np.bincount(prep.y_codes, minlength=len(uniques))
    elif ys is not None:
        prep.y_float = _numeric_column(ys)
    prep.sample_idx = _sample_rows(prep, int(max_rows))
    prep.max_columns = int(max_columns)
    prep.col_idx = _sample_columns(prep, int(max_columns))
    sel = np.zeros(prep.n_features, dtype=bool)
    sel[prep.col_idx] = True
    prep.num_idx = np.flatnonzero(sel[~is_cat_input])
    prep.cat_idx = np.flatnonzero(sel[is_cat_input])
    return prep


def design_widths(prep: Prepared, block: int = 1024) -> np.ndarray:
    """(p + c,) columns each feature takes in ``Z``: 1 for numeric features, the one-hot
    width (levels present in the row sample, at most :data:`MAX_ONEHOT_LEVELS`) for
    categorical ones."""
    widths = np.ones(prep.n_features, dtype=np.int64)
    c = prep.n_categorical
    if c == 0:
        return widths
    idx = prep.sample_idx
    present = np.empty(c, dtype=np.int64)
    for a in range(0, c, block):  # column blocks: no (s, c) copy of a very wide table
        S = np.sort(prep.C_cat[idx, a : a + block], axis=0)
        present[a : a + block] = 1 + (np.diff(S, axis=0) != 0).sum(axis=0) if S.shape[0] else 0
    widths[prep.is_categorical] = np.clip(present, 1, MAX_ONEHOT_LEVELS)
    return widths


def _sample_columns(prep: Prepared, max_columns: int) -> np.ndarray:
    """Features (sorted input positions) of the column sample.

    Every feature when the design matrix fits in ``max_columns`` columns;
    otherwise the longest prefix of a random permutation (seeded by
    ``random_state``) whose design-matrix width fits (at least one feature).
    """
    widths = design_widths(prep)
    m = widths.size
    if int(widths.sum()) <= max_columns:
        return np.arange(m)
    rng = np.random.default_rng([prep.random_state, 1])  # a stream apart from the row sample's
    perm = rng.permutation(m)
    k = max(int(np.searchsorted(np.cumsum(widths[perm]), max_columns, side="right")), 1)
    return np.sort(perm[:k])


def _sample_rows(prep: Prepared, max_rows: int) -> np.ndarray:
    """Deterministic (stratified for classification) sample of at most ``max_rows`` rows."""
    n = prep.n_rows
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(prep.random_state)
    if prep.y_codes is None:
        return np.sort(rng.choice(n, size=max_rows, replace=False))
    counts = prep.class_counts
    assert counts is not None
    # proportional allocation, at least one row per class when possible
    alloc = np.floor(counts * max_rows / n).astype(np.int64)
    alloc = np.maximum(alloc, np.minimum(counts, 1))
    while alloc.sum() > max_rows:  # only when there are more classes than max_rows
        alloc[np.argmax(alloc)] -= 1
    rest = max_rows - alloc.sum()
    if rest > 0:
        spare = counts - alloc
        add = rng.choice(np.repeat(np.arange(counts.size), spare), size=rest, replace=False)
        alloc += np.bincount(add, minlength=counts.size)
    order = np.argsort(prep.y_codes, kind="stable")
    groups = np.split(order, np.cumsum(counts)[:-1])
    chosen = [rng.choice(g, size=a, replace=False) for g, a in zip(groups, alloc) if a > 0]
    return np.sort(np.concatenate(chosen))
