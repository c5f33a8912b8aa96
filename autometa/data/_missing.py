"""Seeded missing values for knowledge-base variants of complete datasets.

PMLB's tables are complete; users' tables are not. :func:`inject_missing` makes a copy of
a feature table with missing cells in some of its columns, either completely at random
(MCAR) or depending on the value that goes missing (value-dependent MNAR: larger values,
or one level of a categorical column, go missing more often), so that the knowledge base
learns how pipelines behave on incomplete data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autometa.errors import InvalidParameterError

MECHANISMS = ("mcar", "mnar")


def inject_missing(
    X: pd.DataFrame,
    *,
    mechanism: str,
    cell_fraction: float,
    column_fraction: float,
    random_state: int,
) -> pd.DataFrame:
    """A copy of ``X`` with missing cells in a random share of its columns.

    Parameters
    ----------
    X : DataFrame
        Feature table; not modified.
    mechanism : {"mcar", "mnar"}
        ``"mcar"``: every cell of a chosen column is equally likely to go missing.
        ``"mnar"``: the probability grows with the cell's own value (its rank; for
        categorical columns, the rank of a randomly ordered level).
    cell_fraction : float in (0, 0.9]
        Expected share of missing cells within each chosen column.
    column_fraction : float in (0, 1]
        Share of columns that receive missing values (at least one).
    random_state : int
        Seed of the columns and cells chosen.

    Returns
    -------
    DataFrame
    """
    if mechanism not in MECHANISMS:
        raise InvalidParameterError(f"mechanism must be one of {MECHANISMS}, got {mechanism!r}")
    for name, value, high in (
        ("cell_fraction", cell_fraction, 0.9),
        ("column_fraction", column_fraction, 1.0),
    ):
        if not 0 < value <= high:
            raise InvalidParameterError(f"{name} must be in (0, {high}], got {value!r}")
    rng = np.random.default_rng(random_state)
    n_columns = max(1, round(column_fraction * X.shape[1]))
    chosen = rng.choice(X.shape[1], size=n_columns, replace=False)
    columns = [X.iloc[:, i] for i in range(X.shape[1])]
    for position in sorted(chosen):
        column = columns[position]
        if mechanism == "mcar":
            probability = np.full(len(column), cell_fraction)
        else:
            probability = _value_dependent(column, cell_fraction, rng)
        missing = rng.random(len(column)) < probability
        if missing.all():
            missing[rng.integers(len(column))] = False  # keep the column non-empty
        columns[position] = column.mask(missing)
    return pd.concat(columns, axis=1).set_axis(X.columns, axis=1)


def _value_dependent(column: pd.Series, cell_fraction: float, rng: np.random.Generator):
    """Missingness probability rising linearly with the value's rank, mean ``cell_fraction``."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        ranks = column.rank(method="average", pct=True).to_numpy(float)
    else:
        levels = pd.unique(column.dropna())
        order = dict(zip(levels, rng.permutation(len(levels)) + 1))
        ranks = column.map(order).astype(float).to_numpy() / max(len(levels), 1)
    ranks = np.nan_to_num(ranks, nan=0.5)
    weights = ranks / ranks.mean() if ranks.mean() > 0 else np.ones_like(ranks)
    return np.clip(cell_fraction * weights, 0.0, 0.95)
