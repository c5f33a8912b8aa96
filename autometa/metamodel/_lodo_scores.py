"""What the held-out picks of the leave-one-dataset-out benchmark score.

:class:`Outcome` turns every model's picks on every held-out dataset into the table of
:func:`autometa.metamodel.evaluation.evaluate_recommender` (gap closed, regret, rank,
failed picks, with standard errors that resample whole held-out folds:
:func:`fold_bootstrap`); :func:`score_matrices` gives the scales a pick is scored on and
:func:`add_coverage` the calibration columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._training import TrainingData, normalised_scores

__all__ = ["Outcome", "add_coverage", "fold_bootstrap", "score_matrices", "standard_error"]


def fold_bootstrap(
    fold_labels: np.ndarray,
    sbs_scores: np.ndarray,
    n_bootstrap: int,
    random_state: int,
    weights: np.ndarray | None = None,
) -> Any:
    """A function mapping per-dataset best-of-k scores to ``n_bootstrap`` resampled
    gap-closed values (weighted means with the datasets' ``weights``), resampling whole
    held-out folds (the same resamples every call, so differences between models are
    paired)."""
    codes, uniques = pd.factorize(fold_labels)
    n_f = len(uniques)
    if n_bootstrap <= 0 or n_f < 2:
        return lambda best: np.full(0, np.nan)
    rng = np.random.default_rng(random_state)
    W = rng.multinomial(n_f, np.full(n_f, 1.0 / n_f), size=n_bootstrap).astype(float)
    weights = np.ones(len(codes)) if weights is None else np.asarray(weights, float)
    totals = W @ np.bincount(codes, weights=weights, minlength=n_f)

    def fold_means(values: np.ndarray) -> np.ndarray:
        return (W @ np.bincount(codes, weights=weights * values, minlength=n_f)) / totals

    sbs_mean = fold_means(sbs_scores)
    return lambda best: (fold_means(best) - sbs_mean) / np.maximum(1.0 - sbs_mean, 1e-12)


def standard_error(resampled: np.ndarray) -> float:
    """The standard deviation of bootstrap resamples (NaN with fewer than two)."""
    return float(resampled.std(ddof=1)) if len(resampled) > 1 else float("nan")


@dataclass
class Outcome:
    """The picks of every model on every held-out dataset, and what they scored."""

    picks: dict[str, list[list[int]]]
    idx: np.ndarray  # evaluated datasets
    held_out: np.ndarray  # their fold labels
    U: np.ndarray  # normalised scores (n_datasets, n_configs)
    raw: np.ndarray  # raw scores, greater is better, failures at the worst
    ranks: np.ndarray  # 1 = best
    failed: np.ndarray

    def score(
        self,
        models: Sequence[str],
        ks: Sequence[int],
        weighting: str,
        reference: str | None,
        n_bootstrap: int,
        random_state: int,
    ) -> pd.DataFrame:
        idx, U, raw = self.idx, self.U, self.raw
        if weighting == "fold":
            sizes = pd.Series(self.held_out).value_counts()
            weight = 1.0 / pd.Series(self.held_out).map(sizes).to_numpy(float)
        else:
            weight = np.ones(len(idx))

        def mean(values: Any) -> float:
            return float(np.average(np.asarray(values, float), weights=weight))

        sbs = [self.picks["sbs"][i][0] for i in idx]
        sbs_u, sbs_raw = U[idx, sbs], raw[idx, sbs]
        vbs_raw = raw[idx].max(axis=1)
        gap_of = fold_bootstrap(self.held_out, sbs_u, n_bootstrap, random_state, weight)
        resampled: dict[tuple[str, int], np.ndarray] = {}
        rows = []
        for name in models:
            for k in ks:
                chosen = [self.picks[name][i][:k] for i in idx]
                best_u = np.array([U[i, p].max() for i, p in zip(idx, chosen)])
                best_raw = [raw[i, p].max() for i, p in zip(idx, chosen)]
                resampled[name, k] = gap_of(best_u)
                rows.append(
                    {
                        "model": name,
                        "k": k,
                        "gap_closed": (mean(best_u) - mean(sbs_u)) / max(1.0 - mean(sbs_u), 1e-12),
                        "gap_closed_se": standard_error(resampled[name, k]),
                        "gap_closed_raw": (
                            (mean(best_raw) - mean(sbs_raw))
                            / max(mean(vbs_raw) - mean(sbs_raw), 1e-12)
                        ),
                        "normalised_regret": mean(1.0 - best_u),
                        "mean_rank": mean([self.ranks[i, p].min() for i, p in zip(idx, chosen)]),
                        "failed_pick_rate": mean(
                            [np.mean(self.failed[i, p]) for i, p in zip(idx, chosen)]
                        ),
                        "n_datasets": len(idx),
                        "n_folds": len(set(self.held_out)),
                        "weighting": weighting,
                    }
                )
        table = pd.DataFrame(rows)
        if reference in models:
            ref = table.set_index(["model", "k"])["gap_closed"]
            table["reference_minus_model"] = [
                ref[reference, k] - g for k, g in zip(table["k"], table["gap_closed"])
            ]
            table["reference_minus_model_se"] = [
                standard_error(resampled[reference, k] - resampled[m, k])
                for m, k in zip(table["model"], table["k"])
            ]
        return table


def score_matrices(data: TrainingData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a pick scores on each dataset: normalised (failures and unknown cells 0), raw
    (greater is better, failures at the dataset's worst) and its rank (1 = the best;
    failed and missing configs after all successful ones)."""
    U = normalised_scores(data.scores, data.greater_is_better, data.failed, floor=0.0)
    U = np.nan_to_num(U, nan=0.0)
    raw = data.scores if data.greater_is_better else -data.scores
    worst = np.nanmin(np.where(np.isfinite(raw), raw, np.nan), axis=1)
    raw = np.where(np.isfinite(raw), raw, worst[:, None])
    ranks = (
        pd.DataFrame(np.where(np.isfinite(data.scores), raw, -np.inf))
        .rank(axis=1, ascending=False, method="min")
        .to_numpy()
    )
    return U, raw, ranks


def add_coverage(
    table: pd.DataFrame,
    residuals: Mapping[str, list[float]],
    stds: Mapping[str, list[float]] | None = None,
) -> None:
    """The ``coverage_1sd``/``coverage_2sd``/``n_coverage`` columns of each model's rows,
    and with ``stds`` (the predicted standard deviations behind the residuals) their mean,
    ``mean_std``: how sharp the promises are (wide ones cover anything)."""
    for label, width in (("coverage_1sd", 1.0), ("coverage_2sd", 2.0)):
        table[label] = table["model"].map(
            {
                m: float(np.mean(np.abs(z) <= width)) if len(z) else np.nan
                for m, z in residuals.items()
            }
        )
    table["n_coverage"] = table["model"].map({m: len(z) for m, z in residuals.items()})
    if stds is not None:
        table["mean_std"] = table["model"].map(
            {m: float(np.mean(s)) if len(s) else np.nan for m, s in stds.items()}
        )
