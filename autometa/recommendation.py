"""Recommendations (:func:`autometa.recommend`): ranked, ready-to-fit configurations for a new dataset.

The result objects live in :mod:`autometa._recommendations` (re-exported here). The flow is
one way: load the dataset -> extract its meta-features (within a time budget,
on a row sample) -> a meta-model fitted on the knowledge base (cached on disk, retrained
when the knowledge base changes) ranks the portfolio -> :class:`Recommendations`.

This module holds the flow, the argument checks and the caches; the steps of their own
live beside it: the optional probes in :mod:`autometa._probing`, how novel the dataset is
in :mod:`autometa._novelty`, the ranking and the result's items in :mod:`autometa._ranking`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa import _probing
from autometa._constants import METAFEATURE_MAX_ROWS
from autometa._novelty import novelty
from autometa._ranking import (
    nearest,
    neighbour_metafeatures,
    rank,
    recommendation_items,
    reference,
)
from autometa._recommendations import (
    Explanation,
    NoveltyWarning,
    Recommendation,
    Recommendations,
)
from autometa.errors import (
    InvalidParameterError,
    KnowledgeBaseError,
    TaskMismatchError,
)

__all__ = [
    "Explanation",
    "NoveltyWarning",
    "Recommendation",
    "Recommendations",
    "learn_from",
    "recommend",
]

#: Seconds of the latency budget given to meta-feature extraction by default.
METAFEATURE_BUDGET = 1.0
#: Rows the sampled meta-features of a query look at: fewer than the knowledge base's
#: (:data:`autometa._constants.METAFEATURE_MAX_ROWS`) to keep ``recommend`` within its
#: 2-second latency; ``learn_from``, which adds rows to a knowledge base, describes a dataset
#: exactly as ``batch`` does.
QUERY_METAFEATURE_ROWS = 2000
#: Default seconds ``recommend(..., probe=True)`` may spend on probes and the race.
PROBE_BUDGET = 30.0

#: Share of ``probe_budget`` the meta-model's probe configurations may use; the race of
#: the top recommendations has the rest (and whatever the probes leave).
PROBE_SHARE = 0.5

#: Seconds below which the race is not started.
MIN_RACE_SECONDS = 1.0


# --------------------------------------------------------------------------------------
# caches: a recommend() call should not re-read parquet or model JSON (in memory, per
# process) nor refit a meta-model another process already fitted (on disk). All are
# least-recently-used and bounded, and keyed by the knowledge base, so switching between
# a custom knowledge base and the shipped one evicts neither.
# --------------------------------------------------------------------------------------

#: Knowledge bases kept loaded in memory.
KB_CACHE_SIZE = 4
#: Fitted meta-models kept in memory (one per knowledge base, model, params, task, metric).
MODEL_CACHE_SIZE = 8
#: Knowledge bases whose fitted meta-models are kept on disk, one folder each.
DISK_CACHE_KBS = 8

_KB_CACHE: OrderedDict[Any, Any] = OrderedDict()
_MODEL_CACHE: OrderedDict[Any, Any] = OrderedDict()


def _lru_get(cache: OrderedDict, key: Any) -> Any:
    """The cached value (now the most recently used) or None."""
    if key not in cache:
        return None
    cache.move_to_end(key)
    return cache[key]


def _lru_put(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def _disk_cache_dir(kb: Any) -> Path:
    """The knowledge base's folder of the on-disk meta-model cache, marked as just used.

    ``load_or_fit`` keeps one file per model, task and metric in a folder; a folder per
    knowledge-base fingerprint lets the models of several knowledge bases live side by
    side. The folders of all but the :data:`DISK_CACHE_KBS` most recently used knowledge
    bases are removed, so a knowledge base that keeps growing does not fill the disk.
    """
    from autometa.metamodel._cache import cache_dir

    root = cache_dir()
    folder = root / f"kb-{kb.fingerprint()}"

    def last_used(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except OSError:  # removed meanwhile by another process
            return 0

    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)  # the folder's mtime is its last use: the LRU order
        # only folders named as this function names them: the cache directory may be shared
        ours = [
            p
            for p in root.glob("kb-*")
            if p.is_dir() and all(c in "0123456789abcdef" for c in p.name[3:])
        ]
        for stale in sorted(ours, key=last_used, reverse=True)[DISK_CACHE_KBS:]:
            shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        pass  # an unwritable cache only costs refitting; load_or_fit says so when it writes
    return folder


def _kb_stamp(path: Path) -> tuple:
    files = [
        path / n
        for n in (
            "kb.json",
            "configs.json",
            "datasets.parquet",
            "metafeatures.parquet",
            "results.parquet",
        )
    ]
    files += sorted((path / "journal").glob("*.jsonl")) if (path / "journal").is_dir() else []
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.exists())


def _resolve_kb(kb: Any) -> Any:
    from autometa.kb import KnowledgeBase, default_kb_path

    if isinstance(kb, KnowledgeBase):
        return kb
    path = Path(kb).expanduser() if kb is not None else default_kb_path()
    if not path.is_dir():
        return KnowledgeBase.load(path)  # raises the standard, explanatory error
    key = (str(path.resolve()), _kb_stamp(path))
    cached = _lru_get(_KB_CACHE, key)
    if cached is None:
        for old in [old for old in _KB_CACHE if old[0] == key[0]]:
            del _KB_CACHE[old]  # the directory changed since: that copy is stale
        cached = KnowledgeBase.load(path)
        _lru_put(_KB_CACHE, key, cached, KB_CACHE_SIZE)
    return cached


def _check_arguments(*, k: Any, time_budget: Any, metafeature_budget: Any) -> None:
    """Refuse what recommend() cannot use, naming the argument and its value."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    if time_budget is not None:
        _check_seconds("time_budget", time_budget)
    _check_seconds("metafeature_budget", metafeature_budget)


def _check_seconds(name: str, value: Any) -> None:
    """Refuse anything but a positive, finite number of seconds for argument ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not np.isfinite(value)
        or value <= 0
    ):
        raise InvalidParameterError(f"{name} must be a positive number of seconds, got {value!r}")


def _check_metric(kb: Any, dataset: Any, metric: str | None) -> str:
    """The metric to rank by (default: the task's); refuses a knowledge base without the
    dataset's task or that metric, and a metric of the other task."""
    from autometa.metrics import DEFAULT_METRIC, METRICS

    task = dataset.task
    if task not in kb.tasks:
        raise TaskMismatchError(
            f"dataset {dataset.name!r} is a {task} task but the knowledge base has only "
            f"{' and '.join(kb.tasks) or 'no'} results; use a knowledge base with {task} results"
        )
    metric = metric or DEFAULT_METRIC[task]
    if metric in METRICS and METRICS[metric].task != task:
        # The task is usually inferred (a numeric target with few levels reads as
        # classes): say how to override it rather than only that it disagrees.
        wanted = METRICS[metric].task
        raise TaskMismatchError(
            f"metric {metric!r} is for {wanted}, but dataset {dataset.name!r} is {task}; if "
            f"its target is {wanted}, load it with task={wanted!r} (on the command line: "
            f"--task {wanted})"
        )
    available = kb.metrics(task)
    if metric not in available:
        raise KnowledgeBaseError(
            f"the knowledge base has no {task} results for metric {metric!r}; it has {available}"
        )
    return metric


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Record the seconds the block takes as ``timings[step]`` (when it does not raise)."""
    start = time.perf_counter()
    yield
    timings[step] = time.perf_counter() - start


def _race(
    items: list[Recommendation],
    ranking: Any,
    dataset: Any,
    metric: str,
    budget: float,
    random_state: int,
    *,
    k: int,
) -> tuple[Any, list[Recommendation], pd.DataFrame, list[str]]:
    """The probing race of the first recommendations (:func:`autometa._probing.race`)
    within ``budget`` seconds: the ranking and its ``k`` first items with the raced ones
    reordered by what they scored (ranks renumbered), the race's table and notes."""
    raced = items[: _probing.RACE_SIZE]
    order = list(range(len(raced)))
    notes = []
    if budget < MIN_RACE_SECONDS:
        notes.append(
            f"no time left in probe_budget for racing the top {len(raced)} "
            "recommendations on the dataset; ranked without the race"
        )
        table = pd.DataFrame(columns=_probing.TABLE_COLUMNS)
    else:
        order, table, fold_scores = _probing.race(
            raced, dataset, metric=metric, budget=budget, random_state=random_state
        )
        items = _with_measurements(items, fold_scores)
        measured = int(table["score"].notna().sum())
        if measured < len(raced):
            notes.append(
                f"{measured} of the top {len(raced)} recommendations were measured on the "
                "dataset within probe_budget; the others keep the meta-model's order after them"
            )
    order += list(range(len(raced), len(items)))
    picks = [ranking.picks[i] for i in order][:k]
    # the items only move: their evidence does not depend on their place
    items = [dataclasses.replace(items[i], rank=r) for r, i in enumerate(order[:k], start=1)]
    return dataclasses.replace(ranking, picks=picks), items, table, notes


#: The least fold-to-fold spread assumed of a raced configuration, as a share of the
#: meta-model's typical predicted std: three folds can all score the same (all perfect).
MIN_FOLD_STD_SHARE = 0.1


def _with_measurements(
    items: list[Recommendation], fold_scores: dict[int, list[float]]
) -> list[Recommendation]:
    """``items`` with the predicted score and std of each one the race took to full
    cross-validation updated with its fold scores (:func:`autometa._probing.measured_update`;
    the fold spread pooled over the raced ones)."""
    if not fold_scores:
        return items
    stds = [items[i].predicted_std for i in fold_scores]
    typical = float(np.nanmedian(stds)) if np.isfinite(stds).any() else 0.0
    fold_std = _probing.pooled_fold_std(
        list(fold_scores.values()), floor=MIN_FOLD_STD_SHARE * typical
    )
    if not np.isfinite(fold_std) or fold_std <= 0:
        return items
    out = list(items)
    for i, scores in fold_scores.items():
        score, std = _probing.measured_update(
            items[i].predicted_score, items[i].predicted_std, scores, fold_std
        )
        out[i] = dataclasses.replace(items[i], predicted_score=score, predicted_std=std)
    return out


def _fitted_model(
    model: Any, kb: Any, task: str, metric: str, random_state: int, use_cache: bool
) -> Any:
    from autometa.metamodel import MetaModel, get_model, load_or_fit
    from autometa.metamodel._cache import cache_key

    if isinstance(model, MetaModel):
        if hasattr(model, "config_ids_"):
            if model.task_ != task:
                raise TaskMismatchError(
                    f"the meta-model was fitted for {model.task_}, the dataset is {task}"
                )
            return model
        return load_or_fit(
            model,
            kb,
            task,
            metric,
            use_cache=use_cache,
            directory=_disk_cache_dir(kb) if use_cache else None,
        )
    params = {"random_state": random_state}
    instance = get_model(model, **params)
    if not use_cache:
        return load_or_fit(instance, kb, task, metric, use_cache=False)
    key = cache_key(instance, kb, task, metric)  # the KB's fingerprint is part of it
    directory = _disk_cache_dir(kb)  # marked as used on a memory hit too: one LRU order
    fitted = _lru_get(_MODEL_CACHE, key)
    if fitted is None:
        fitted = load_or_fit(instance, kb, task, metric, directory=directory)
        _lru_put(_MODEL_CACHE, key, fitted, MODEL_CACHE_SIZE)
    return fitted


# --------------------------------------------------------------------------------------
# meta-features
# --------------------------------------------------------------------------------------


def _metafeature_groups(columns: Sequence[str]) -> Any:
    """The metafeatures groups the knowledge base's columns come from ("default" if none
    of them is a group of the metafeatures package)."""
    try:
        from metafeatures import GROUPS
    except ImportError:  # pragma: no cover
        return "default"
    groups = sorted(
        {c.split(".", 1)[0] for c in columns if "." in c} & set(GROUPS), key=GROUPS.index
    )
    return groups or "default"


def _extract(
    dataset: Any, columns: Sequence[str], time_budget: float
) -> tuple[pd.Series, list[str]]:
    import metafeatures

    notes: list[str] = []
    groups = _metafeature_groups(columns)
    values, info = metafeatures.extract(
        dataset.X,
        dataset.y,
        task=dataset.task,
        categorical=list(dataset.categorical),
        groups=groups,
        time_budget=time_budget,
        max_rows=QUERY_METAFEATURE_ROWS,
        return_info=True,
    )
    skipped = info.get("skipped_groups") or {}
    if skipped:
        notes.append(
            f"meta-feature groups {sorted(skipped)} skipped to stay within "
            f"{time_budget:g}s; they are imputed"
        )
    aligned = values.reindex(list(columns)).astype(float)
    return aligned, notes


# --------------------------------------------------------------------------------------
# recommend
# --------------------------------------------------------------------------------------


def recommend(
    data: Any,
    target: str | None = None,
    *,
    k: int = 5,
    metric: str | None = None,
    kb: Any = None,
    model: Any = "default",
    time_budget: float | None = None,
    metafeature_budget: float = METAFEATURE_BUDGET,
    probe: bool = False,
    probe_budget: float = PROBE_BUDGET,
    random_state: int = 0,
    use_cache: bool = True,
) -> Recommendations:
    """Rank the knowledge base's configurations for a new dataset.

    Parameters
    ----------
    data : DataFrame, path, ``"openml:<id>"``, (X, y) or Dataset
        Anything :func:`autometa.load_dataset` accepts.
    target : str, optional
        Target column (for tables and files).
    k : int
        Number of recommendations.
    metric : str, optional
        Default: balanced accuracy for classification, R² for regression; any metric the
        knowledge base stores.
    kb : KnowledgeBase or path, optional
        Default: ``$AUTOMETA_KB`` or the shipped knowledge base.
    model : str or MetaModel
        ``"default"``, ``"forest"``, ``"knn"``, ``"portfolio"``, ``"ranker"``, ``"sbs"``,
        ``"random"``, ``"flaml"``, or a (fitted) meta-model instance.
    time_budget : float, optional
        Seconds one fit on the whole dataset may take: configs expected to take longer are
        ranked after all configs expected to fit in time.
    metafeature_budget : float
        Seconds for meta-feature extraction (expensive groups are skipped beyond it).
    probe : bool, default=False
        Measure before recommending, in two stages (:mod:`autometa._probing`). First the
        meta-model's few cheap probe configurations are cross-validated on the dataset
        (subsampled to the knowledge base's base size, as the knowledge base measured
        them), and the ranking is conditioned on what they scored: the training datasets
        whose scores of the same configurations are alike count more (see
        :mod:`autometa.metamodel.probing`; the ``default`` and ``forest`` models probe,
        where their held-out families said probes help). Then the first five
        recommendations are raced on the dataset's own rows (all five to 3-fold
        cross-validation where the budget is expected to allow it, successive halving
        where not; the time left repeats the cross-validation on fresh splits) and
        reordered by what they scored (the mean over the repetitions); the
        ``predicted_score`` and ``predicted_std`` of those that finished are updated with
        their fold scores. Costs up to ``probe_budget`` seconds; what was measured is in
        :attr:`Recommendations.probes`.
    probe_budget : float, default=30
        Wall-clock seconds probing may take in all (the probe configurations at most half
        of it); fits that do not fit in it are stopped or skipped.
    random_state : int
        Seed of the meta-model; results are deterministic for a fixed seed.
    use_cache : bool
        Use (and fill) the on-disk model cache.

    Returns
    -------
    Recommendations

    Raises
    ------
    TaskMismatchError
        The knowledge base has no results for the dataset's task.
    KnowledgeBaseError
        No knowledge base, or it lacks ``metric``.

    Warns
    -----
    NoveltyWarning
        The dataset is unlike the knowledge base's datasets.

    Examples
    --------
    >>> import autometa
    >>> recs = autometa.recommend("train.csv", target="label", k=3)  # doctest: +SKIP
    >>> recs[0].algorithm, recs[0].predicted_score  # doctest: +SKIP
    ('hist_gradient_boosting', 0.87)
    >>> pipe = recs[0].make_pipeline()  # doctest: +SKIP
    """
    from autometa.data import Dataset, load_dataset

    _check_arguments(k=k, time_budget=time_budget, metafeature_budget=metafeature_budget)
    timings: dict[str, float] = {}
    with _timed(timings, "load_dataset"):
        dataset = data if isinstance(data, Dataset) else load_dataset(data, target=target)
    with _timed(timings, "load_kb"):
        kb = _resolve_kb(kb)
        metric = _check_metric(kb, dataset, metric)
    task = dataset.task
    with _timed(timings, "meta_model"):
        fitted = _fitted_model(model, kb, task, metric, random_state, use_cache)
    with _timed(timings, "metafeatures"):
        mf, notes = _extract(dataset, fitted.metafeature_columns_, metafeature_budget)
    probes, probe_table = {}, None
    if probe:
        _check_seconds("probe_budget", probe_budget)
        probe_start = time.monotonic()
        with _timed(timings, "probes"):
            probes, probe_table, probe_notes = _probing.probe(
                fitted,
                kb,
                dataset,
                metric=metric,
                budget=PROBE_SHARE * probe_budget,
                random_state=random_state,
            )
        notes += probe_notes
    with _timed(timings, "rank"):
        factor, reasons = novelty(fitted, mf, dataset)
        configs = kb.configs(task)
        ranking = rank(
            fitted,
            configs,
            dataset,
            mf,
            k=max(k, _probing.RACE_SIZE) if probe else k,
            time_budget=time_budget,
            novelty_factor=factor,
            probes=probes,
        )
        notes += ranking.notes
        neighbours = nearest(fitted, kb, mf, task=task, metric=metric)
        items = recommendation_items(
            fitted, configs, ranking, neighbours, dataset=dataset, metric=metric
        )
    if probe:
        with _timed(timings, "race"):
            left = probe_start + probe_budget - time.monotonic()
            ranking, items, race_table, race_notes = _race(
                items, ranking, dataset, metric, left, random_state, k=k
            )
            probe_table = (
                race_table if probe_table is None else pd.concat([probe_table, race_table])
            )
            probe_table = probe_table.reset_index(drop=True)
            notes += race_notes
    if reasons:
        message = (
            f"dataset {dataset.name!r} is unlike the knowledge base ("
            + "; ".join(reasons)
            + "); predicted_std is inflated "
            f"{factor:.1f}x and the ranking is an extrapolation"
        )
        warnings.warn(message, NoveltyWarning, stacklevel=2)
        notes.insert(0, message)
    recommendations = Recommendations(
        items,
        dataset=dataset.name,
        task=task,
        metric=metric,
        model=fitted.name if not isinstance(model, str) else model,
        metafeatures=mf,
        warnings=notes,
        timings=timings,
        kb_fingerprint=kb.fingerprint(),
    )
    recommendations.probes = probe_table
    # for plot() and explain(): computed from what ranking used, no refitting
    recommendations.reference = reference(fitted, ranking)
    recommendations.neighbour_metafeatures = neighbour_metafeatures(
        fitted, kb, mf, neighbours.idx, neighbours.names
    )
    return recommendations


def learn_from(
    study: Any,
    data: Any,
    target: str | None = None,
    *,
    kb: Any,
    metric: str | None = None,
    metafeatures: pd.Series | None = None,
) -> Any:
    """Add the finished trials of an Optuna study (e.g. from ``autometa.tune``) to a
    knowledge base, so that later recommendations learn from your own runs.

    Each complete trial must carry its configuration in ``trial.user_attrs["config"]``;
    per-fold records in ``user_attrs["folds"]`` are used when present, else the trial's
    value is recorded as one fold of ``metric``.

    Parameters
    ----------
    study : optuna.Study
    data : the dataset the study tuned on (anything ``load_dataset`` accepts).
    target : its target column.
    kb : KnowledgeBase to extend (in place; save it with ``kb.save``).
    metric : name of the study's objective (default: the task's default metric).
    metafeatures : the dataset's meta-features (computed when omitted).

    Returns
    -------
    KnowledgeBase
        ``kb``.

    Examples
    --------
    >>> kb = KnowledgeBase.load("my_kb")  # doctest: +SKIP
    >>> learn_from(study, "train.csv", target="y", kb=kb).save("my_kb")  # doctest: +SKIP
    """
    import optuna

    from autometa.data import Dataset, load_dataset
    from autometa.metrics import DEFAULT_METRIC

    dataset = data if isinstance(data, Dataset) else load_dataset(data, target=target)
    metric = metric or DEFAULT_METRIC[dataset.task]
    if metafeatures is None:
        import metafeatures as mfx

        metafeatures = mfx.extract(
            dataset.X,
            dataset.y,
            task=dataset.task,
            categorical=list(dataset.categorical),
            groups=_metafeature_groups(list(kb.metafeatures().columns)),
            max_rows=METAFEATURE_MAX_ROWS,
        )  # as batch does
    n = 0
    for trial in study.trials:
        if trial.state != optuna.trial.TrialState.COMPLETE or "config" not in trial.user_attrs:
            continue
        folds = trial.user_attrs.get("folds") or [{"fold": 0, metric: trial.value, "status": "ok"}]
        kb.add_results(dataset, trial.user_attrs["config"], folds, metafeatures=metafeatures)
        n += 1
    if n == 0:
        raise KnowledgeBaseError(
            "the study has no complete trial with a 'config' user attribute; nothing to learn"
        )
    return kb
