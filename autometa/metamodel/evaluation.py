"""``autometa.evaluate_recommender``: the benchmark that decides the ``default`` meta-model: grouped leave-one-dataset-out.

Each held-out dataset is recommended for by models trained on the *other* datasets, with
its near-duplicates held out too (a meta-model must not get credit for recognising a copy
of a dataset it has seen). Near-duplicate families are defined explicitly below
(:data:`FAMILY_PATTERNS`, :data:`FAMILY_ALIASES`); pass ``folds`` to use your own.

Scores are on the per-dataset normalised scale of :func:`autometa.metamodel.normalised_scores`
(1 = the portfolio's best config on that dataset, i.e. the virtual best solver (VBS),
0 = its median, clipped below at 0; a failed config scores 0). For each model and ``k``:

* ``gap_closed`` -- ``(mean best-of-k score - mean SBS score) / (1 - mean SBS score)``:
  the fraction of the single-best-solver to virtual-best-solver gap closed by the best of
  the top ``k`` (the SBS is the single config with the best mean score on the training
  datasets of the fold);
* ``gap_closed_raw`` -- the same on the raw metric (failures scored as the dataset's worst
  successful config), as in ASlib;
* ``normalised_regret`` -- mean ``1 - best-of-k score``;
* ``mean_rank`` -- mean rank of the best of the top ``k`` among all configs on the dataset
  (1 = the best);
* ``failed_pick_rate`` -- share of the ``k`` picks that failed (timeout, memory, error)
  on the dataset. (A pick never run on the dataset -- a partial knowledge base -- scores 0
  but is not counted as failed.)

How sure those numbers are: ``gap_closed_se`` resamples whole held-out folds (a family's
datasets are not independent draws), and ``reference_minus_model_se`` does so paired, with
the same resamples for ``default`` and each other model. ``weighting="fold"`` averages
over folds instead of datasets, so a large family does not dominate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import KnowledgeBaseError
from autometa.metamodel import MODELS, MetaModel, TrainingData, get_model, normalised_scores
from autometa.metamodel._families import (
    FAMILY_ALIASES,
    FAMILY_PATTERNS,
    dataset_family,
    make_folds,
)
from autometa.metamodel._lodo_checkpoint import FoldJournal
from autometa.metamodel._lodo_scores import Outcome, add_coverage, score_matrices

__all__ = [
    "FAMILY_ALIASES",
    "FAMILY_PATTERNS",
    "dataset_family",
    "evaluate_recommender",
    "holdout_selection",
    "make_folds",
]


def _fit(name: str, params: Mapping[str, Any], data: TrainingData) -> MetaModel:
    """A new ``name`` model with its ``params``, fitted on ``data``."""
    return get_model(name, **dict(params.get(name, {}))).fit_data(data)


def _standardised_residuals(
    model: MetaModel,
    data: TrainingData,
    i: int,
    picks: Sequence[int],
    probes: Mapping[str, float] | None = None,
    top: int = 5,
) -> tuple[list[float], list[float]]:
    """(outcome - predicted score) / predicted std of the ``top`` picks on held-out dataset
    ``i``, in the metric's units, as ``recommend`` shows them (novelty inflation aside), and
    those predicted stds."""
    mf = data.metafeatures.iloc[i]
    mu, std = model.rank(mf, probes=probes) if probes else model.rank(mf)
    raw, raw_std = model.to_raw(mu, std, mf)
    chosen = np.asarray(picks[:top], dtype=int)
    actual = data.scores[i, chosen]
    ok = np.isfinite(actual) & (raw_std[chosen] > 0)
    return list(((actual - raw[chosen]) / raw_std[chosen])[ok]), list(raw_std[chosen][ok])


def _applicable(data: TrainingData, i: int) -> dict[str, np.ndarray]:
    """``select``'s ``allowed=`` for held-out dataset ``i``: the configurations that apply to
    it (none is passed where all do, so knowledge bases without optional algorithms are
    evaluated exactly as before)."""
    if data.not_applicable is None or not data.not_applicable[i].any():
        return {}
    return {"allowed": ~data.not_applicable[i]}


def _kb_probes(model: MetaModel, data: TrainingData, i: int) -> dict[str, float]:
    """What probing dataset ``i`` would measure: its own base-size scores of the model's
    probes (probes run on a base-size sample)."""
    position = {c: j for j, c in enumerate(data.config_ids)}
    scores = data.probe_scores()
    return {
        c: float(scores[i, position[c]])
        for c in model.probe_configs_
        if c in position and np.isfinite(scores[i, position[c]])
    }


def evaluate_recommender(
    kb: Any,
    *,
    task: str,
    metric: str | None = None,
    models: Sequence[str] = (
        "default",
        "forest",
        "knn",
        "portfolio",
        "ranker",
        "sbs",
        "random",
        "flaml",
    ),
    ks: Sequence[int] = (1, 3, 5, 10),
    folds: Mapping[str, Any] | None = None,
    n_folds: int | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    return_picks: bool = False,
    reference: str | None = "default",
    weighting: str | Sequence[str] = "dataset",
    n_bootstrap: int = 1000,
    random_state: int = 0,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    probe_models: Sequence[str] = (),
    fidelity: str = "base",
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Grouped leave-one-dataset-out evaluation of meta-models on a knowledge base.

    Parameters
    ----------
    kb : KnowledgeBase
    task : {"classification", "regression"}
    metric : str, optional
        Default: balanced accuracy for classification, R² for regression.
    models : names of :data:`autometa.metamodel.MODELS`.
    ks : the k of best-of-k.
    folds : dict, optional
        Dataset -> fold label; default one fold per near-duplicate family.
    n_folds : int, optional
        Deal the families into this many folds instead (faster, still grouped).
    model_params : dict, optional
        ``{model name: constructor parameters}``.
    return_picks : bool
        Also return the per-dataset picks and scores.
    reference : str, optional
        Model the others are compared with, paired (default ``"default"``; ignored when
        not among ``models``).
    weighting : {"dataset", "fold"} or a sequence of them
        ``"dataset"``: every held-out dataset counts once (ASlib's convention);
        ``"fold"``: every held-out fold (with the default folds, every near-duplicate
        family) counts once, its datasets sharing the weight -- so that one large family
        (63 of the shipped regression datasets are Friedman functions) does not decide the
        averages. Several: one block of rows each, from the same picks.
    n_bootstrap, random_state :
        Resamples of the held-out folds (families, not datasets: datasets of one family
        are not independent) for the standard errors; 0 skips them.
    progress : bool
        Show a progress bar over the held-out folds (the full benchmark takes minutes).
    checkpoint : path, optional
        A JSON-lines file that records the picks of each held-out fold as it finishes; run
        the same evaluation again with it and finished folds are read back instead of
        refitted, so an interrupted run loses at most one fold. A checkpoint written for
        another evaluation (knowledge base, task, metric, models, parameters, folds, k) is
        refused.
    probe_models : names among ``models`` whose picks are also scored with probing, as
        rows ``"{name}+probe"``: the held-out dataset's own knowledge-base scores of the
        model's ``probe_configs_`` stand for the probes a user's data would give (measured
        as the knowledge base measures every config, so as noisy).
    fidelity : {"base", "real_size"}, default="base"
        Which of each dataset's sizes the models learn from and the picks are scored at
        (:meth:`~autometa.metamodel.TrainingData.from_kb`).

    Returns
    -------
    pandas.DataFrame
        One row per (model, k): ``gap_closed``, ``gap_closed_se``, ``gap_closed_raw``,
        ``normalised_regret``, ``mean_rank``, ``failed_pick_rate``, ``n_datasets``,
        ``n_folds``, ``weighting``, ``coverage_1sd``/``coverage_2sd`` (share of the top-5
        picks' held-out outcomes within ±1/±2 predicted standard deviations of the
        predicted score; ``n_coverage`` of them, ``mean_std`` their mean predicted standard
        deviation in the metric's units), and with a ``reference`` model
        ``reference_minus_model`` (its ``gap_closed`` minus this model's) and
        ``reference_minus_model_se`` (paired: the same resamples for both models). Standard
        errors are NaN with ``n_bootstrap=0``.

    Examples
    --------
    >>> table = evaluate_recommender(kb, task="regression", models=("knn", "sbs"), ks=(1, 5))  # doctest: +SKIP
    >>> table.set_index(["model", "k"])["gap_closed"]  # doctest: +SKIP
    """
    from autometa._constants import check_task
    from autometa.metrics import DEFAULT_METRIC

    metric = metric or DEFAULT_METRIC[check_task(task)]
    weightings = _check_models_and_weighting(models, weighting)
    params = dict(model_params or {})
    data = _usable_data(kb, task, metric, fidelity)
    assignment = make_folds(data.datasets, folds, n_folds)
    labels = pd.Series([assignment[d] for d in data.datasets])
    U, raw, ranks = score_matrices(data)
    kmax = max(ks)
    runs = _HeldOutPicks(data, models, probe_models, params, kmax)
    models = [*models, *runs.probed]
    journal = FoldJournal(
        checkpoint,
        {
            "kb": kb.fingerprint() if hasattr(kb, "fingerprint") else None,
            "task": task,
            "metric": metric,
            "models": runs.names,
            "params": params,
            "kmax": kmax,
            **({"fidelity": fidelity} if fidelity != "base" else {}),
            "folds": {d: str(assignment[d]) for d in data.datasets},
        },
    )
    runs.run(labels, journal, desc=f"held-out folds ({task})", progress=progress)
    idx = runs.evaluated()
    outcome = Outcome(
        picks=runs.picks,
        idx=idx,
        held_out=labels.to_numpy()[idx],
        U=U,
        raw=raw,
        ranks=ranks,
        failed=data.failed,
    )
    table = pd.concat(
        [outcome.score(models, ks, w, reference, n_bootstrap, random_state) for w in weightings],
        ignore_index=True,
    )
    add_coverage(table, runs.residuals, runs.stds)
    table.attrs.update(
        task=task, metric=metric, reference=reference if reference in models else None
    )
    if not return_picks:
        return table
    return table, _picks_detail(data, labels, outcome, models, ks)


def _check_models_and_weighting(models: Sequence[str], weighting: str | Sequence[str]) -> list[str]:
    """The weightings asked for, once ``models`` and ``weighting`` are known to be valid."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise KnowledgeBaseError(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    weightings = [weighting] if isinstance(weighting, str) else list(weighting)
    if not weightings or any(w not in ("dataset", "fold") for w in weightings):
        raise KnowledgeBaseError(f"weighting must be 'dataset', 'fold' or both, got {weighting!r}")
    return weightings


def _usable_data(kb: Any, task: str, metric: str, fidelity: str = "base") -> TrainingData:
    """The knowledge base's datasets with something to rank (at least three of them)."""
    data = TrainingData.from_kb(kb, task, metric, fidelity=fidelity)
    data = data.subset(np.flatnonzero(data.usable()))
    n_d = len(data.datasets)
    if n_d < 3:
        raise KnowledgeBaseError(
            f"need at least 3 {task} datasets with results to evaluate, have {n_d}"
        )
    return data


class _HeldOutPicks:
    """The picks of every model on every held-out dataset, filled fold by fold (or read
    back from the checkpoint), and the standardised residuals of their top predictions."""

    def __init__(
        self,
        data: TrainingData,
        models: Sequence[str],
        probe_models: Sequence[str],
        params: Mapping[str, Any],
        kmax: int,
    ) -> None:
        self.order = list(models)
        if "sbs" not in self.order:  # the reference of gap_closed
            self.order.append("sbs")
        unknown = [m for m in probe_models if m not in self.order]
        if unknown:
            raise KnowledgeBaseError(f"probe_models {unknown} are not among models {self.order}")
        self.data, self.params, self.kmax = data, params, kmax
        self.probe_models = list(probe_models)
        self.probed = [f"{m}+probe" for m in probe_models]
        self.names = self.order + self.probed
        n_d = len(data.datasets)
        self.picks: dict[str, list[list[int]]] = {m: [[] for _ in range(n_d)] for m in self.names}
        self.residuals: dict[str, list[float]] = {m: [] for m in self.names}
        self.stds: dict[str, list[float]] = {m: [] for m in self.names}

    def run(self, labels: pd.Series, journal: FoldJournal, *, desc: str, progress: bool) -> None:
        """Every held-out fold (``labels``: a fold label per dataset), checkpointed."""
        from tqdm.auto import tqdm

        data = self.data
        for label in tqdm(pd.unique(labels), desc=desc, unit="fold", disable=not progress):
            test = np.flatnonzero((labels == label).to_numpy())
            if journal.restore(
                label, self.picks, data.datasets, data.config_ids, self.residuals, self.stds
            ):
                continue
            train = np.flatnonzero((labels != label).to_numpy())
            if len(train) < 2:
                continue
            tr = data.subset(train)
            if tr.usable().sum() < 2:
                continue
            before = {m: len(z) for m, z in self.residuals.items()}
            self.fold(tr, test)
            journal.record(
                label,
                {
                    m: {
                        data.datasets[i]: [data.config_ids[c] for c in self.picks[m][i]]
                        for i in test
                    }
                    for m in self.names
                },
                {m: [float(v) for v in z[before[m] :]] for m, z in self.residuals.items()},
                {m: [float(v) for v in s[before[m] :]] for m, s in self.stds.items()},
            )

    def fold(self, train: TrainingData, test: np.ndarray) -> None:
        """Fit every model on ``train`` and pick for the held-out datasets at ``test``."""
        data, picks = self.data, self.picks
        for name in self.order:
            model = _fit(name, self.params, train)
            for i in test:
                mf = data.metafeatures.iloc[i]
                # as recommend(): never a configuration that does not apply to the dataset
                allowed = _applicable(data, i)
                picks[name][i] = model.select(mf, self.kmax, **allowed)
                self._add_residuals(name, _standardised_residuals(model, data, i, picks[name][i]))
                if name in self.probe_models:
                    probes = _kb_probes(model, data, i)
                    with_probes = f"{name}+probe"
                    picks[with_probes][i] = model.select(mf, self.kmax, probes=probes, **allowed)
                    self._add_residuals(
                        with_probes,
                        _standardised_residuals(model, data, i, picks[with_probes][i], probes),
                    )

    def _add_residuals(self, name: str, residuals: tuple[list[float], list[float]]) -> None:
        z, std = residuals
        self.residuals[name] += z
        self.stds[name] += std

    def evaluated(self) -> np.ndarray:
        """Positions of the datasets that were held out and picked for."""
        return np.flatnonzero([len(p) > 0 for p in self.picks["sbs"]])


def _picks_detail(
    data: TrainingData,
    labels: pd.Series,
    outcome: Outcome,
    models: Sequence[str],
    ks: Sequence[int],
) -> pd.DataFrame:
    """One row per (model, held-out dataset): its fold, picks and best-of-k scores."""
    U, picks = outcome.U, outcome.picks
    return pd.DataFrame(
        [
            {
                "dataset": data.datasets[i],
                "fold": labels[i],
                "model": m,
                "picks": [data.config_ids[c] for c in picks[m][i]],
                **{f"best_of_{k}": float(U[i, picks[m][i][:k]].max()) for k in ks},
            }
            for m in models
            for i in outcome.idx
        ]
    )


def holdout_selection(
    kb: Any,
    *,
    task: str,
    metric: str | None = None,
    ks: Sequence[int] = (1, 3, 5, 10),
) -> pd.DataFrame:
    """A yardstick for the noise in a knowledge base: the gap closed by choosing configs
    *on the dataset itself*, by cross-validation, instead of from meta-features.

    For every cross-validation fold ``f`` of every dataset, configs are ranked by their
    mean over the other folds, and the best of the top ``k`` is scored on fold ``f``
    (normalised within that fold as in :func:`autometa.metamodel.normalised_scores`).
    The single best solver is the config with the best mean normalised score over all
    datasets, scored on the same folds. A meta-model sees only meta-features, so where
    even this in-dataset choice closes a modest share of the gap, the rest is mostly
    measurement noise of the knowledge base (few folds, small samples), not a weakness of
    the meta-model.

    Returns
    -------
    pandas.DataFrame
        One row per ``k``: ``gap_closed``, ``normalised_regret``, ``n_datasets``,
        ``n_folds`` (dataset-folds scored).

    Examples
    --------
    >>> holdout_selection(kb, task="classification", ks=(1, 5))  # doctest: +SKIP
    """
    from autometa._constants import check_task
    from autometa.metrics import DEFAULT_METRIC

    metric = metric or DEFAULT_METRIC[check_task(task)]
    data = TrainingData.from_kb(kb, task, metric)
    folds = kb.fold_performance(task, metric)
    U = normalised_scores(data.scores, data.greater_is_better, data.failed, floor=0.0)
    sbs = int(np.argmax(np.nanmean(np.nan_to_num(U, nan=0.0), axis=0)))
    best: dict[int, list[float]] = {k: [] for k in ks}
    sbs_scores: list[float] = []
    n_datasets = 0
    folds_per_repeat = kb.folds_per_repeat(task)
    for i, name in enumerate(data.datasets):
        if name not in folds.index.get_level_values(0):
            continue
        dataset_folds = folds.loc[name]
        F = dataset_folds.reindex(columns=data.config_ids).to_numpy(dtype=float)
        # Only folds of the same repeat choose: another repeat's folds have scored the
        # held-out fold's rows already.
        repeat = np.asarray(dataset_folds.index) // folds_per_repeat.get(name, len(F))
        if np.bincount(repeat).max() < 2:
            continue
        n_datasets += 1
        for fold_u, order in _in_dataset_choices(F, repeat, data.failed[i], data.greater_is_better):
            for k in ks:
                best[k].append(float(fold_u[order[:k]].max()))
            sbs_scores.append(float(fold_u[sbs]))
    if not sbs_scores:
        raise KnowledgeBaseError(
            f"the knowledge base has no per-fold {task} results for {metric!r}"
        )
    s = float(np.mean(sbs_scores))
    table = pd.DataFrame(
        [
            {
                "k": k,
                "gap_closed": (np.mean(best[k]) - s) / max(1.0 - s, 1e-12),
                "normalised_regret": float(np.mean(1.0 - np.asarray(best[k]))),
                "n_datasets": n_datasets,
                "n_folds": len(sbs_scores),
            }
            for k in ks
        ]
    )
    table.attrs.update(task=task, metric=metric)
    return table


def _in_dataset_choices(
    F: np.ndarray, repeat: np.ndarray, failed: np.ndarray, greater_is_better: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each cross-validation fold of one dataset (``F``: folds x configs, ``repeat``:
    each fold's repeat; ``failed``: the dataset's failed configs) with another fold in its
    repeat: the fold's normalised scores, and the configs ranked by their mean over the
    other folds of that repeat (best first; a config that failed on one of them last)."""
    sign = 1.0 if greater_is_better else -1.0
    choices = []
    for f in range(len(F)):
        same = (repeat == repeat[f]) & (np.arange(len(F)) != f)
        if not same.any():
            continue
        rest = F[same]
        ok = np.isfinite(rest).all(axis=0)  # a config that failed on a fold is not chosen
        with np.errstate(all="ignore"):
            chooser = np.where(ok, sign * rest.mean(axis=0), -np.inf)
        fold_u = normalised_scores(F[f][None, :], greater_is_better, failed[None, :])[0]
        fold_u = np.nan_to_num(fold_u, nan=0.0)
        choices.append((fold_u, np.argsort(-chooser, kind="stable")))
    return choices
