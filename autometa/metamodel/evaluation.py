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

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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

__all__ = [
    "FAMILY_ALIASES",
    "FAMILY_PATTERNS",
    "dataset_family",
    "evaluate_recommender",
    "holdout_selection",
    "make_folds",
]


def _fit(
    name: str, params: Mapping[str, Any], data: TrainingData, prefit: dict[str, MetaModel]
) -> MetaModel:
    model = get_model(name, **dict(params.get(name, {})))
    return model.fit_data(data)


def _fold_bootstrap(
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


def _se(resampled: np.ndarray) -> float:
    return float(resampled.std(ddof=1)) if len(resampled) > 1 else float("nan")


class _FoldJournal:
    """The optional checkpoint of :func:`evaluate_recommender`: a header line describing
    the evaluation, then one line of picks per finished held-out fold (config ids by
    dataset name, so it reads back whatever the row order)."""

    def __init__(self, path: str | Path | None, header: dict[str, Any]) -> None:
        self.path = None if path is None else Path(path)
        self.done: dict[str, dict[str, dict[str, list[str]]]] = {}
        self.residuals: dict[str, dict[str, list[float]]] = {}
        if self.path is None:
            return
        header = json.loads(json.dumps(header, default=str))  # as it reads back
        if self.path.exists() and self.path.stat().st_size:
            text = self.path.read_text()
            lines = text.splitlines()
            if json.loads(lines[0]) != header:
                raise KnowledgeBaseError(
                    f"checkpoint {self.path} was written for another evaluation (knowledge "
                    "base, task, metric, models, parameters, folds or k differ); remove it "
                    "or pass another path"
                )
            kept = lines[:1]
            for line in lines[1:]:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # the line being written when interrupted
                    break
                self.done[entry["fold"]] = entry["picks"]
                self.residuals[entry["fold"]] = entry.get("residuals", {})
                kept.append(line)
            if len(kept) < len(lines) or not text.endswith("\n"):
                self.path.write_text("\n".join(kept) + "\n")  # drop a torn last line
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(header) + "\n")

    def restore(
        self,
        label: Any,
        picks: dict[str, list[list[int]]],
        datasets: Sequence[str],
        config_ids: Sequence[str],
        residuals: dict[str, list[float]] | None = None,
    ) -> bool:
        entry = self.done.get(str(label))
        if entry is None:
            return False
        for model, values in self.residuals.get(str(label), {}).items():
            if residuals is not None and model in residuals:
                residuals[model] += values
        row = {d: i for i, d in enumerate(datasets)}
        column = {c: j for j, c in enumerate(config_ids)}
        for model, by_dataset in entry.items():
            for dataset, chosen in by_dataset.items():
                picks[model][row[dataset]] = [column[c] for c in chosen]
        return True

    def record(
        self,
        label: Any,
        entry: dict[str, dict[str, list[str]]],
        residuals: dict[str, list[float]] | None = None,
    ) -> None:
        if self.path is None:
            return
        with self.path.open("a") as handle:
            handle.write(
                json.dumps({"fold": str(label), "picks": entry, "residuals": residuals or {}})
                + "\n"
            )
            handle.flush()
            os.fsync(handle.fileno())


@dataclass
class _Outcome:
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
        gap_of = _fold_bootstrap(self.held_out, sbs_u, n_bootstrap, random_state, weight)
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
                        "gap_closed_se": _se(resampled[name, k]),
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
                _se(resampled[reference, k] - resampled[m, k])
                for m, k in zip(table["model"], table["k"])
            ]
        return table


def _standardised_residuals(
    model: MetaModel,
    data: TrainingData,
    i: int,
    picks: Sequence[int],
    probes: Mapping[str, float] | None = None,
    top: int = 5,
) -> list[float]:
    """(outcome - predicted score) / predicted std of the ``top`` picks on held-out dataset
    ``i``, in the metric's units, as ``recommend`` shows them (novelty inflation aside)."""
    mf = data.metafeatures.iloc[i]
    mu, std = model.rank(mf, probes=probes) if probes else model.rank(mf)
    raw, raw_std = model.to_raw(mu, std, mf)
    chosen = np.asarray(picks[:top], dtype=int)
    actual = data.scores[i, chosen]
    ok = np.isfinite(actual) & (raw_std[chosen] > 0)
    return list(((actual - raw[chosen]) / raw_std[chosen])[ok])


def _applicable(data: TrainingData, i: int) -> dict[str, np.ndarray]:
    """``select``'s ``allowed=`` for held-out dataset ``i``: the configurations that apply to
    it (none is passed where all do, so knowledge bases without optional algorithms are
    evaluated exactly as before)."""
    if data.not_applicable is None or not data.not_applicable[i].any():
        return {}
    return {"allowed": ~data.not_applicable[i]}


def _kb_probes(model: MetaModel, data: TrainingData, i: int) -> dict[str, float]:
    """What probing dataset ``i`` would measure: its own scores of the model's probes."""
    position = {c: j for j, c in enumerate(data.config_ids)}
    return {
        c: float(data.scores[i, position[c]])
        for c in model.probe_configs_
        if c in position and np.isfinite(data.scores[i, position[c]])
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

    Returns
    -------
    pandas.DataFrame
        One row per (model, k): ``gap_closed``, ``gap_closed_se``, ``gap_closed_raw``,
        ``normalised_regret``, ``mean_rank``, ``failed_pick_rate``, ``n_datasets``,
        ``n_folds``, ``weighting``, ``coverage_1sd``/``coverage_2sd`` (share of the top-5
        picks' held-out outcomes within ±1/±2 predicted standard deviations of the
        predicted score; ``n_coverage`` of them), and with a ``reference`` model ``reference_minus_model`` (its
        ``gap_closed`` minus this model's) and ``reference_minus_model_se`` (paired: the
        same resamples for both models). Standard errors are NaN with ``n_bootstrap=0``.

    Examples
    --------
    >>> table = evaluate_recommender(kb, task="regression", models=("knn", "sbs"), ks=(1, 5))  # doctest: +SKIP
    >>> table.set_index(["model", "k"])["gap_closed"]  # doctest: +SKIP
    """
    from autometa.metrics import DEFAULT_METRIC

    metric = metric or DEFAULT_METRIC[task]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise KnowledgeBaseError(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    weightings = [weighting] if isinstance(weighting, str) else list(weighting)
    if not weightings or any(w not in ("dataset", "fold") for w in weightings):
        raise KnowledgeBaseError(f"weighting must be 'dataset', 'fold' or both, got {weighting!r}")
    params = dict(model_params or {})
    data = TrainingData.from_kb(kb, task, metric)
    usable = data.usable()
    data = data.subset(np.flatnonzero(usable))
    n_d = len(data.datasets)
    if n_d < 3:
        raise KnowledgeBaseError(
            f"need at least 3 {task} datasets with results to evaluate, have {n_d}"
        )
    assignment = make_folds(data.datasets, folds, n_folds)
    labels = pd.Series([assignment[d] for d in data.datasets])
    U = normalised_scores(data.scores, data.greater_is_better, data.failed, floor=0.0)
    U = np.nan_to_num(U, nan=0.0)
    raw = data.scores if data.greater_is_better else -data.scores
    worst = np.nanmin(np.where(np.isfinite(raw), raw, np.nan), axis=1)
    raw = np.where(np.isfinite(raw), raw, worst[:, None])
    # rank 1 = best; failed / missing configs rank after all successful ones
    ranks = (
        pd.DataFrame(np.where(np.isfinite(data.scores), raw, -np.inf))
        .rank(axis=1, ascending=False, method="min")
        .to_numpy()
    )
    kmax = max(ks)
    order = list(models)
    if "sbs" not in order:
        order.append("sbs")
    unknown = [m for m in probe_models if m not in order]
    if unknown:
        raise KnowledgeBaseError(f"probe_models {unknown} are not among models {order}")
    probed = [f"{m}+probe" for m in probe_models]
    models = [*models, *probed]
    picks: dict[str, list[list[int]]] = {m: [[] for _ in range(n_d)] for m in order + probed}
    residuals: dict[str, list[float]] = {m: [] for m in order + probed}
    from tqdm.auto import tqdm

    journal = _FoldJournal(
        checkpoint,
        {
            "kb": kb.fingerprint() if hasattr(kb, "fingerprint") else None,
            "task": task,
            "metric": metric,
            "models": order + probed,
            "params": params,
            "kmax": kmax,
            "folds": {d: str(assignment[d]) for d in data.datasets},
        },
    )
    for label in tqdm(
        pd.unique(labels), desc=f"held-out folds ({task})", unit="fold", disable=not progress
    ):
        test = np.flatnonzero((labels == label).to_numpy())
        if journal.restore(label, picks, data.datasets, data.config_ids, residuals):
            continue
        train = np.flatnonzero((labels != label).to_numpy())
        if len(train) < 2:
            continue
        tr = data.subset(train)
        if tr.usable().sum() < 2:
            continue
        fitted: dict[str, MetaModel] = {}
        before = {m: len(z) for m, z in residuals.items()}
        for name in order:
            model = _fit(name, params, tr, fitted)
            fitted[name] = model
            for i in test:
                mf = data.metafeatures.iloc[i]
                # as recommend(): never a configuration that does not apply to the dataset
                allowed = _applicable(data, i)
                picks[name][i] = model.select(mf, kmax, **allowed)
                residuals[name] += _standardised_residuals(model, data, i, picks[name][i])
                if name in probe_models:
                    probes = _kb_probes(model, data, i)
                    with_probes = f"{name}+probe"
                    picks[with_probes][i] = model.select(mf, kmax, probes=probes, **allowed)
                    residuals[with_probes] += _standardised_residuals(
                        model, data, i, picks[with_probes][i], probes
                    )
        journal.record(
            label,
            {
                m: {data.datasets[i]: [data.config_ids[c] for c in picks[m][i]] for i in test}
                for m in order + probed
            },
            {m: [float(v) for v in z[before[m] :]] for m, z in residuals.items()},
        )
    evaluated = np.array([len(picks["sbs"][i]) > 0 for i in range(n_d)])
    idx = np.flatnonzero(evaluated)
    outcome = _Outcome(
        picks=picks,
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
    for label, width in (("coverage_1sd", 1.0), ("coverage_2sd", 2.0)):
        table[label] = table["model"].map(
            {
                m: float(np.mean(np.abs(z) <= width)) if len(z) else np.nan
                for m, z in residuals.items()
            }
        )
    table["n_coverage"] = table["model"].map({m: len(z) for m, z in residuals.items()})
    table.attrs.update(
        task=task, metric=metric, reference=reference if reference in models else None
    )
    if not return_picks:
        return table
    detail = pd.DataFrame(
        [
            {
                "dataset": data.datasets[i],
                "fold": labels[i],
                "model": m,
                "picks": [data.config_ids[c] for c in picks[m][i]],
                **{f"best_of_{k}": float(U[i, picks[m][i][:k]].max()) for k in ks},
            }
            for m in models
            for i in idx
        ]
    )
    return table, detail


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
    from autometa.metrics import DEFAULT_METRIC

    metric = metric or DEFAULT_METRIC[task]
    data = TrainingData.from_kb(kb, task, metric)
    folds = kb.fold_performance(task, metric)
    U = normalised_scores(data.scores, data.greater_is_better, data.failed, floor=0.0)
    sbs = int(np.argmax(np.nanmean(np.nan_to_num(U, nan=0.0), axis=0)))
    sign = 1.0 if data.greater_is_better else -1.0
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
        for f in range(len(F)):
            same = (repeat == repeat[f]) & (np.arange(len(F)) != f)
            if not same.any():
                continue
            rest = F[same]
            ok = np.isfinite(rest).all(axis=0)  # a config that failed on a fold is not chosen
            with np.errstate(all="ignore"):
                chooser = np.where(ok, sign * rest.mean(axis=0), -np.inf)
            fold_u = normalised_scores(
                F[f][None, :], data.greater_is_better, data.failed[i][None, :]
            )[0]
            fold_u = np.nan_to_num(fold_u, nan=0.0)
            order = np.argsort(-chooser, kind="stable")
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
