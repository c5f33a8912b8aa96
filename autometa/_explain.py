"""Why these recommendations (:meth:`autometa.Recommendations.explain`): the knowledge-base
datasets nearest to the query, how each recommendation did on them, and the meta-features
on which they resemble it -- a similarity view of the evidence the recommendations carry,
not an attribution of the meta-model's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InvalidParameterError

__all__ = ["EXPLANATION_NOTE", "Explanation", "explain_recommendations"]


#: What :meth:`Recommendations.explain` shows, said once (its repr and the HTML report).
EXPLANATION_NOTE = (
    "Nearest datasets: the knowledge-base datasets closest to this one in the meta-model's "
    "scaled meta-feature space (L1 distance); score_i and rank_i are how recommendation i "
    "did there (rank among n_configs configurations). Meta-features: those on which the "
    "nearest datasets resemble this one most compared with the whole knowledge base "
    "(closeness = gap_kb - gap_neighbours, mean absolute differences in scaled units 0..1). "
    "A similarity view of the evidence, not an attribution of the meta-model's prediction."
)


@dataclass
class Explanation:
    """What :meth:`Recommendations.explain` returns.

    Attributes
    ----------
    neighbours : pandas.DataFrame
        One row per nearest knowledge-base dataset (index ``dataset``), nearest first:
        ``distance``, ``n_configs`` (configurations evaluated there), then ``score_i`` and
        ``rank_i`` for recommendation ``i``: its score on that dataset and its rank among
        the ``n_configs`` configurations (1 = best; NaN: not evaluated there).
    metafeatures : pandas.DataFrame
        One row per meta-feature (index ``metafeature``), the most telling first:
        ``query`` (this dataset's value), ``neighbours_median`` and one column per nearest
        dataset (their values), ``gap_neighbours``, ``gap_kb`` and ``closeness`` (see
        :meth:`Recommendations.explain`).
    note : str
        How to read the two tables.
    """

    neighbours: pd.DataFrame
    metafeatures: pd.DataFrame
    note: str

    def __repr__(self) -> str:
        columns = [
            c
            for c in ("query", "neighbours_median", "gap_neighbours", "gap_kb", "closeness")
            if c in self.metafeatures.columns
        ]
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return "\n".join(
                [
                    "Nearest knowledge-base datasets:",
                    self.neighbours.to_string(),
                    "",
                    "Meta-features that set them apart:",
                    self.metafeatures[columns].to_string(float_format=lambda v: f"{v:.4g}"),
                    "",
                    self.note,
                ]
            )


def explain_recommendations(recs: Any, n_features: int | None = 10) -> Explanation:
    """:meth:`autometa.Recommendations.explain` of ``recs`` (see there)."""
    items = list(recs)
    if n_features is not None and (
        isinstance(n_features, bool)
        or not isinstance(n_features, (int, np.integer))
        or n_features < 1
    ):
        raise InvalidParameterError(
            f"n_features must be a positive integer or None, got {n_features!r}"
        )
    neighbours = pd.DataFrame(columns=["distance", "n_configs"])
    if items:
        first = items[0].evidence
        neighbours = pd.DataFrame(
            {
                "distance": first["distance"].to_numpy(dtype=float),
                "n_configs": first["n_configs"].to_numpy(),
            },
            index=pd.Index(first["dataset"], name="dataset"),
        )
        for r in items:
            ev = r.evidence.set_index("dataset").reindex(neighbours.index)
            neighbours[f"score_{r.rank}"] = ev["score"].to_numpy(dtype=float)
        for r in items:
            ev = r.evidence.set_index("dataset").reindex(neighbours.index)
            neighbours[f"rank_{r.rank}"] = ev["rank"].to_numpy(dtype=float)
    table = recs.neighbour_metafeatures
    if table is None or table.empty:
        metafeatures = pd.DataFrame({"query": recs.metafeatures.astype(float)})
        note = (
            "The nearest datasets' meta-features were not recorded with these "
            "recommendations; only the query's values are shown."
        )
    else:
        others = list(table.columns[1:-2])
        metafeatures = table[["query"]].copy()
        metafeatures["neighbours_median"] = (
            table[others].median(axis=1, skipna=True) if others else np.nan
        )
        for column in others:
            metafeatures[column] = table[column]
        metafeatures["gap_neighbours"] = table["gap_neighbours"]
        metafeatures["gap_kb"] = table["gap_kb"]
        metafeatures["closeness"] = table["gap_kb"] - table["gap_neighbours"]
        # a value the query lacks was imputed: its closeness says little, list it last
        order = np.lexsort(
            (
                -metafeatures["closeness"].fillna(-np.inf).to_numpy(),
                metafeatures["query"].isna().to_numpy(),
            )
        )
        metafeatures = metafeatures.iloc[order]
        note = EXPLANATION_NOTE
    metafeatures.index.name = "metafeature"
    if n_features is not None:
        metafeatures = metafeatures.head(int(n_features))
    return Explanation(neighbours=neighbours, metafeatures=metafeatures, note=note)
