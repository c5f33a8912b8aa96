"""``extract`` and ``list_metafeatures``: run the group modules over one Prepared."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from . import clustering, complexity, general, info_theory, landmarking, model_based, statistical
from ._errors import InvalidParameterError, UnknownGroupError
from ._prepare import BudgetExceeded, Prepared, prepare
from ._registry import DEFAULT_GROUPS, GROUPS, MetaFeature, Results
from ._summary import check_summaries, summarise

MODULES: dict[str, ModuleType] = {
    "general": general,
    "statistical": statistical,
    "info_theory": info_theory,
    "model_based": model_based,
    "landmarking": landmarking,
    "clustering": clustering,
    "complexity": complexity,
}
REGISTRY: dict[str, MetaFeature] = {m.name: m for g in GROUPS for m in MODULES[g].SPECS}
#: Base names of the meta-features computed on the column sample (``max_columns``):
#: those whose cost grows faster than linearly in the number of columns.
COLUMN_SAMPLED: frozenset[str] = frozenset(
    name for g in GROUPS for name in getattr(MODULES[g], "COLUMN_SAMPLED", ())
)


def resolve_groups(groups: str | Iterable[str]) -> tuple[str, ...]:
    """``"default"``, ``"all"``, one group name or a list of names -> ordered group tuple."""
    if isinstance(groups, str):
        if groups == "default":
            return DEFAULT_GROUPS
        if groups == "all":
            return GROUPS
        groups = [groups]
    try:
        wanted = [str(g).replace("-", "_") for g in groups]
    except TypeError as exc:
        raise UnknownGroupError(
            f"groups must be 'default', 'all' or a list of names, got {groups!r}"
        ) from exc
    bad = [g for g in wanted if g not in GROUPS]
    if bad:
        raise UnknownGroupError(
            f"unknown meta-feature groups {bad}; valid: {list(GROUPS)}, 'default', 'all'"
        )
    if not wanted:
        raise UnknownGroupError("groups is empty")
    return tuple(g for g in GROUPS if g in wanted)  # computation order: cheap first


def output_names(
    groups: str | Iterable[str] = "default", summaries: Sequence[str] = ("mean", "sd")
) -> list[str]:
    """Index of :func:`extract`'s result for these groups and summaries (data independent)."""
    sums = check_summaries(summaries)
    names: list[str] = []
    for g in resolve_groups(groups):
        for m in MODULES[g].SPECS:
            names.extend([f"{m.name}.{s}" for s in sums] if m.summarised else [m.name])
    return names


def list_metafeatures(groups: str | Iterable[str] = "all") -> pd.DataFrame:
    """Describe the available meta-features.

    Returns
    -------
    DataFrame
        One row per (base) meta-feature with columns ``name``, ``group``,
        ``description``, ``cost``, ``needs_y``, ``summarised``, ``task``,
        ``categorical`` (how categorical features enter the definition) and
        ``column_sampled`` (computed on the ``max_columns`` column sample of
        wide data).  Summarised meta-features produce one value per summary,
        named ``f"{name}.{summary}"``.
    """
    rows = [
        {**vars(m), "column_sampled": m.name in COLUMN_SAMPLED}
        for g in resolve_groups(groups)
        for m in MODULES[g].SPECS
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "name",
            "group",
            "description",
            "cost",
            "needs_y",
            "summarised",
            "task",
            "categorical",
            "column_sampled",
        ],
    )


def _estimate_seconds(group: str, prep: Prepared) -> float:
    """Rough cost model (2017-era core) used to skip groups that would overrun the budget.

    Uses the sizes the groups really see: every row and column for the linear
    measures, the row sample ``s`` and the column sample (``ps`` numeric
    features, ``q`` design-matrix columns) for the others.  Groups also check
    the deadline between their steps, so an underestimate costs at most one
    step.
    """
    n, p, m = prep.n_rows, prep.n_numeric, prep.n_features
    s = prep.sample_idx.size
    ps = prep.num_idx.size
    q = ps + sum(min(int(c), 32) for c in prep.cat_levels[prep.cat_idx])
    k = max(prep.n_classes, 2)
    if group == "general":
        return 1e-8 * n * m
    if group == "statistical":
        return 3e-8 * n * p * np.log2(n + 2) + 2e-9 * n * ps * ps + 3e-9 * ps**3
    if group == "info_theory":
        return 5e-8 * n * m + 1e-5 * m
    if group == "model_based":
        # one unpruned tree: ~log2(s) levels, each sorting the s rows of every column
        # (measured: 2,000 x 1,000 with random labels takes ~3 s on a loaded 2-core machine)
        return 1e-8 * s * q * np.log2(s + 2) ** 2
    if group == "landmarking":
        return 2e-9 * s * s * q + 2e-8 * s * q * k + 2e-9 * s * q * q + 4e-9 * 10 * q**3
    # clustering, complexity: (s, s) distance blocks plus per-row work; complexity also
    # solves one (q, q) system and scans every class pair
    base = 3e-9 * s * s * (q + 10) + 2e-8 * s * s
    if group == "complexity":
        base += 2e-9 * s * q * q + 3e-9 * q**3 + 2e-8 * s * q * min(k * (k - 1) // 2, 20)
    return base


def extract(
    X: Any,
    y: Any = None,
    *,
    task: str | None = None,
    groups: str | Iterable[str] = "default",
    categorical: Sequence[Any] | None = None,
    summaries: Sequence[str] = ("mean", "sd"),
    random_state: int = 0,
    time_budget: float | None = None,
    max_rows: int | None = None,
    max_columns: int | None = None,
    return_info: bool = False,
) -> pd.Series | tuple[pd.Series, dict[str, Any]]:
    """Describe a tabular dataset by a vector of meta-features.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n, d)
        Features; numeric, categorical, boolean and missing values allowed.
        Column names must be unique (:class:`DuplicateColumnError` otherwise).
    y : array-like of shape (n,), optional
        Target.  Rows with a missing target are dropped.  Without ``y`` the
        supervised meta-features are NaN.
    task : {"classification", "regression"}, optional
        Inferred when None: non-numeric ``y`` or at most 20 distinct integer
        values means classification.
    groups : "default", "all", a group name or a list of group names
        ``"default"``: general, statistical, info_theory, model_based,
        landmarking.  ``"all"`` adds clustering and complexity.
    categorical : list of column names/positions or boolean mask, optional
        Categorical features; when None, object/category/bool/string columns.
    summaries : sequence of str
        Summaries applied to vector-valued meta-features (see
        :data:`metafeatures.SUMMARIES`).
    random_state : int
        Seed of the row sample, the column sample, the CV split and the
        random choices; the result is deterministic for a given value.
    time_budget : float, optional
        Seconds, counted from the call (input preparation included).  Groups
        run cheapest first; a group whose estimated cost exceeds the remaining
        budget is skipped, and a group that reaches the deadline stops at its
        next step (model fit, CV fold, class pair, distance block); the values
        it did not compute are NaN and ``info["skipped_groups"]`` says why.
        Input preparation and the ``general`` group always run, and a step is
        not interrupted, so the call may end after the deadline by at most one
        step (measured: 0.5 s with a 3 s budget on 2,000 x 1,000, where the
        model_based tree is the longest step).
    max_rows : int, optional (default 2,000)
        Rows used by the sampled measures (model_based, landmarking,
        clustering, complexity); larger data are subsampled deterministically
        (stratified for classification) and ``info["sampled"]`` says so.
    max_columns : int, optional (default 1,000)
        Design-matrix columns (a numeric feature counts 1, a categorical one
        its one-hot width, at most 32) used by the measures whose cost grows
        faster than linearly in the number of columns: every measure on the
        design matrix (model_based, landmarking, clustering, complexity) and
        the pairwise statistical ones (``cor``, ``cov``, ``eigenvalues``,
        ``nr_cor_attr``, the canonical-correlation measures and ``sd_ratio``);
        ``list_metafeatures()["column_sampled"]`` names them.  Wider data are
        represented by a random subset of features (seeded by
        ``random_state``); ``info["sampled_columns"]`` says so and
        ``info["column_sampled"]`` lists the affected output names.  Counts
        (``general.n_features``, ...) and per-feature measures always use
        every column.  Without this bound a 50 x 20,000 table took minutes
        and gigabytes; with it, seconds.
    return_info : bool
        Also return a dict with the task, row and column sampling, timings,
        skipped groups and ``nan_reasons`` (why each NaN value is NaN).

    Returns
    -------
    Series of float64
        Index: stable names such as ``statistical.skewness.mean``; it depends
        only on ``groups`` and ``summaries``.  Never contains inf.
    """
    sums = check_summaries(summaries)
    group_list = resolve_groups(groups)
    if time_budget is not None and (not np.isfinite(time_budget) or time_budget < 0):
        raise InvalidParameterError(
            f"time_budget must be a non-negative number of seconds, got {time_budget!r}"
        )
    t0 = time.perf_counter()
    with _single_threaded_blas():
        return _extract(
            X,
            y,
            task=task,
            group_list=group_list,
            categorical=categorical,
            sums=sums,
            random_state=random_state,
            time_budget=time_budget,
            max_rows=max_rows,
            max_columns=max_columns,
            return_info=return_info,
            t0=t0,
        )


def _base_name(output_name: str) -> str:
    """``"statistical.cor.mean"`` -> ``"statistical.cor"`` (registry name of an output)."""
    return output_name if output_name in REGISTRY else output_name.rsplit(".", 1)[0]


def _single_threaded_blas() -> Any:
    """BLAS limited to one thread during extraction.

    Our matrices are small (at most ``max_rows`` rows); multi-threaded OpenBLAS
    spends more time synchronising than computing on them, and oversubscribes
    the cores when several extractions run in parallel (measured: 5x slower on
    a loaded 2-core machine).  threadpoolctl ships with scikit-learn.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _extract(
    X: Any,
    y: Any,
    *,
    task: str | None,
    group_list: tuple[str, ...],
    categorical: Sequence[Any] | None,
    sums: tuple[str, ...],
    random_state: int,
    time_budget: float | None,
    max_rows: int | None,
    max_columns: int | None,
    return_info: bool,
    t0: float,
) -> pd.Series | tuple[pd.Series, dict[str, Any]]:
    prep = prepare(
        X,
        y,
        task=task,
        categorical=categorical,
        random_state=random_state,
        max_rows=max_rows,
        max_columns=max_columns,
    )
    if time_budget is not None:
        prep.deadline = t0 + time_budget
    res = Results()
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    for g in group_list:
        specs = MODULES[g].SPECS
        if time_budget is not None:
            used = time.perf_counter() - t0
            est = _estimate_seconds(g, prep)
            if used + est > time_budget and g != "general":
                why = f"skipped: time_budget {time_budget:g}s (used {used:.2f}s, group estimated {est:.2f}s)"
                skipped[g] = why
                res.nan([m.name for m in specs], why)
                continue
        tg = time.perf_counter()
        try:
            # numerical warnings (constant columns, 0/0) are expected: the
            # affected values become NaN with a reason instead
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                if g != "general":
                    prep.check_time()
                MODULES[g].compute(prep, res)
        except BudgetExceeded:
            used = time.perf_counter() - t0
            why = (
                f"skipped: time_budget {time_budget:g}s ran out during group {g} (used {used:.2f}s)"
            )
            skipped[g] = why
            res.nan([m.name for m in specs if m.name not in res.values], why)
        except Exception as exc:  # noqa: BLE001 -- a bug or numerical failure in one group must not lose the others
            why = f"error in group {g}: {type(exc).__name__}: {exc}"
            warnings.warn(why, RuntimeWarning, stacklevel=2)
            res.nan([m.name for m in specs if m.name not in res.values], why)
        timings[g] = time.perf_counter() - tg

    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for g in group_list:
        for m in MODULES[g].SPECS:
            raw = res.values.get(m.name, np.nan)
            base_reason = res.reasons.get(m.name, "not computed")
            if m.summarised:
                arr = np.atleast_1d(np.asarray(raw, dtype=float))
                for s in sums:
                    key = f"{m.name}.{s}"
                    v, why = summarise(arr, s)
                    values[key] = v
                    if not np.isfinite(v):
                        reasons[key] = (
                            base_reason
                            if (arr.size == 1 and np.isnan(arr).all() and m.name in res.reasons)
                            else (
                                f"{why}; {res.reasons[m.name]}"
                                if m.name in res.reasons
                                else why or "undefined"
                            )
                        )
            else:
                v = float(raw) if np.ndim(raw) == 0 else float("nan")
                if not np.isfinite(v):
                    reasons[m.name] = (
                        base_reason
                        if m.name in res.reasons
                        else "non-finite value (overflow or division by zero)"
                    )
                    v = float("nan")
                values[m.name] = v
    out = pd.Series(values, dtype="float64", name="metafeatures")
    if not return_info:
        return out
    info: dict[str, Any] = {
        "task": prep.task,
        "n_rows": prep.n_rows,
        "n_rows_dropped_missing_y": prep.n_rows_input - prep.n_rows,
        "n_infinite": prep.n_infinite,
        "max_rows": prep.max_rows,
        "sampled": bool(prep.sampled),
        "n_rows_sampled": int(prep.sample_idx.size),
        "max_columns": prep.max_columns,
        "sampled_columns": bool(prep.columns_sampled),
        "n_features": prep.n_features,
        "n_columns_sampled": int(prep.col_idx.size),
        "column_sampled": (
            [k for k in values if _base_name(k) in COLUMN_SAMPLED] if prep.columns_sampled else []
        ),
        "groups": list(group_list),
        "skipped_groups": skipped,
        "group_seconds": timings,
        "seconds": time.perf_counter() - t0,
        "nan_reasons": reasons,
    }
    return out, info
