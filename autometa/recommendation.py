"""Recommendations (:func:`autometa.recommend`): ranked, ready-to-fit configurations for a new dataset.

The result objects live in :mod:`autometa._recommendations` (re-exported here). The flow is
one way: load the dataset -> extract its meta-features (within a time budget,
on a row sample) -> a meta-model fitted on the knowledge base (cached on disk, retrained
when the knowledge base changes) ranks the portfolio -> :class:`Recommendations`.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa._constants import METAFEATURE_MAX_ROWS
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
#: A user's final fit trains on all rows, a CV fold on 80%: scale the stored fold times.
FULL_FIT_FACTOR = 1.25
#: Default seconds ``recommend(..., probe=True)`` may spend on probes.
PROBE_BUDGET = 30.0


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


def _probe(
    fitted: Any, kb: Any, dataset: Any, metric: str, budget: Any, random_state: int
) -> tuple[dict[str, float], pd.DataFrame | None, list[str]]:
    """Run the meta-model's probes on ``dataset``; notes say what could not be probed."""
    from autometa._probing import probe_rows, run_probes

    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float, np.number))
        or not np.isfinite(budget)
        or budget <= 0
    ):
        raise InvalidParameterError(
            f"probe_budget must be a positive number of seconds, got {budget!r}"
        )
    if not getattr(fitted, "probe_configs_", None):
        note = f"model {fitted.name!r} has no probe configurations; ranked without probing"
        return {}, None, [note]
    probes, table = run_probes(
        fitted,
        dataset,
        metric=metric,
        budget=float(budget),
        n_rows=probe_rows(kb, dataset.task),
        random_state=random_state,
    )
    notes = []
    if not probes:
        notes.append(f"no probe finished within probe_budget={budget:g}s; ranked without probing")
    elif len(probes) < len(table):
        notes.append(
            f"{len(probes)} of {len(table)} probes finished within probe_budget={budget:g}s"
        )
    return probes, table, notes


def _check_arguments(*, k: Any, time_budget: Any, metafeature_budget: Any) -> None:
    """Refuse what recommend() cannot use, naming the argument and its value."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    for name, value, optional in (
        ("time_budget", time_budget, True),
        ("metafeature_budget", metafeature_budget, False),
    ):
        if value is None and optional:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not np.isfinite(value)
            or value <= 0
        ):
            raise InvalidParameterError(
                f"{name} must be a positive number of seconds, got {value!r}"
            )


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
# meta-features and novelty
# --------------------------------------------------------------------------------------


def _metafeature_groups(columns: Sequence[str]) -> Any:
    """The metafeatures groups the knowledge base's columns come from ("default" if none
    of them is a group of the metafeatures package)."""
    try:
        from metafeatures._registry import GROUPS
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


def _novelty(model: Any, mf: pd.Series, dataset: Any) -> tuple[float, list[str]]:
    """How far outside the knowledge base the dataset lies: a factor >= 1 for the std, and
    reasons. Compares the size meta-features with the training range and the nearest
    neighbour distance with the training datasets' own nearest-neighbour distances."""
    from autometa.metamodel._base import find_feature

    reasons: list[str] = []
    cols = list(model.scaler_.columns_)
    q = mf.reindex(cols).to_frame().T
    x = model.scaler_.transform(q)[0]
    X = model.X_
    lo, hi = X.min(axis=0), X.max(axis=0)
    sizes = {"n_instances": len(dataset.X), "n_features": dataset.X.shape[1]}
    if dataset.task == "classification":
        sizes["n_classes"] = int(pd.Series(dataset.y).nunique())
    for kind, value in sizes.items():
        col = find_feature(cols, kind)
        if col is None:
            continue
        j = cols.index(col)
        raw_lo = _unscale(model, j, lo[j])
        raw_hi = _unscale(model, j, hi[j])
        if value > raw_hi * 1.5 or value < raw_lo / 1.5:
            reasons.append(
                f"{kind.replace('n_', 'number of ')} = {value:g} is outside the "
                f"knowledge base's range [{raw_lo:.3g}, {raw_hi:.3g}]"
            )
    missing = float(model.scaler_.missing(q).mean()) if cols else 1.0
    if missing > 0.5:
        reasons.append(
            f"{missing:.0%} of the knowledge base's meta-features could not be "
            "computed for this dataset and were imputed"
        )
    d = np.abs(X - x).sum(axis=1)
    nn = float(d.min()) if len(d) else np.inf
    if len(X) >= 3:
        D = np.abs(X[:, None, :] - X[None, :, :]).sum(axis=2)
        np.fill_diagonal(D, np.inf)
        typical = float(np.quantile(D.min(axis=1), 0.9))
    else:
        typical = nn
    factor = max(1.0, nn / max(typical, 1e-9))
    if factor > 1.5 and not reasons:
        reasons.append(
            f"its nearest knowledge-base dataset is {factor:.1f}x farther away "
            "than is typical between knowledge-base datasets"
        )
    if reasons:
        factor = max(factor, 2.0)
    return factor, reasons


def _unscale(model: Any, j: int, v: float) -> float:
    s = model.scaler_
    t = v * s.span_[j] + s.min_[j]
    if s.log_[j]:
        t = np.sign(t) * np.expm1(abs(t))
    return float(t)


def _reference(
    model: Any, raw: np.ndarray, raw_std: np.ndarray, picks: Sequence[int]
) -> dict[str, Any] | None:
    """The single best configuration of the knowledge base (``sbs_``: best mean normalised
    score over its datasets) with the prediction the same model made for it here."""
    sbs = getattr(model, "sbs_", None)
    if sbs is None or not len(sbs) or not np.isfinite(sbs).any():
        return None
    c = int(np.nanargmax(sbs))
    cid = model.config_ids_[c]
    return {
        "config_id": cid,
        "algorithm": str(model.configs_.get(cid, {}).get("algorithm", cid)),
        "predicted_score": float(raw[c]),
        "predicted_std": float(raw_std[c]),
        "rank": next((r for r, p in enumerate(picks, start=1) if p == c), None),
    }


def _neighbour_metafeatures(
    model: Any, kb: Any, mf: pd.Series, idx: np.ndarray, names: Sequence[str]
) -> pd.DataFrame | None:
    """The query's and its nearest datasets' meta-features (those the distance uses), and
    the mean scaled gap to those datasets and to the whole knowledge base
    (:attr:`Recommendations.neighbour_metafeatures`)."""
    cols = list(getattr(model.scaler_, "columns_", []))
    if not cols or not len(idx):
        return None
    x = model.scaler_.transform(mf.reindex(cols).to_frame().T)[0]
    gaps = np.abs(model.X_ - x)
    try:
        values = kb.metafeatures(model.task_).reindex(index=list(names), columns=cols)
    except Exception:  # noqa: BLE001 - an unusual KB only loses the raw values
        values = pd.DataFrame(np.nan, index=list(names), columns=cols)
    frame = pd.DataFrame({"query": mf.reindex(cols).to_numpy(dtype=float)}, index=cols)
    for name in names:
        frame[str(name)] = values.loc[name].to_numpy(dtype=float)
    frame["gap_neighbours"] = gaps[idx].mean(axis=0)
    frame["gap_kb"] = gaps.mean(axis=0)
    frame.index.name = "metafeature"
    return frame


def _applicable(fitted: Any, configs: dict, dataset: Any) -> tuple[np.ndarray, list[str]]:
    """Which of the meta-model's configurations may be recommended for ``dataset``, and
    notes on the others: not one of an optional algorithm this installation lacks (the
    few-shot learner without PyTorch), nor one that does not apply to the table
    (:func:`autometa.space.not_applicable`: the few-shot learner beyond 1,000 rows or 100
    features after preprocessing). Every other configuration (opaque ones of a
    ``from_frames`` knowledge base included) is allowed, without any work."""
    from autometa import space
    from autometa.errors import ConfigError

    task = dataset.task
    mask = np.ones(len(fitted.config_ids_), dtype=bool)
    reasons: dict[str, str] = {}
    for c, cid in enumerate(fitted.config_ids_):
        config = configs.get(cid, fitted.configs_.get(cid))
        name = config.get("algorithm") if isinstance(config, dict) else None
        if not isinstance(name, str):
            continue
        algorithm = space.ALGORITHMS[task].get(name)
        if algorithm is None:
            why = space.unavailable(task, name)
            if why is not None:
                mask[c] = False
                reasons.setdefault(name, why)
            continue
        if not algorithm.limited:
            continue
        try:
            why = space.not_applicable(
                dict(config, task=task), dataset.X, dataset.y, dataset.categorical
            )
        except ConfigError:  # not a valid configuration: make_pipeline says so
            continue
        if why is not None:
            mask[c] = False
            reasons.setdefault(name, why)
    notes = [
        f"configurations of {name!r} are not recommended: {why}" for name, why in reasons.items()
    ]
    return mask, notes


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
        Cross-validate the meta-model's few cheap probe configurations on the dataset
        (subsampled to the knowledge base's base size, as the knowledge base measured
        them) and rank with what they scored: the training datasets whose scores of the
        same configurations are alike count more (see :mod:`autometa.metamodel.probing`).
        Costs up to ``probe_budget`` seconds; the ``default`` and ``forest`` models probe.
        What was measured is in :attr:`Recommendations.probes`.
    probe_budget : float, default=30
        Wall-clock seconds probing may take in all; probes that do not fit are skipped.
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
    from autometa.metrics import DEFAULT_METRIC, METRICS

    _check_arguments(k=k, time_budget=time_budget, metafeature_budget=metafeature_budget)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    dataset = data if isinstance(data, Dataset) else load_dataset(data, target=target)
    timings["load_dataset"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    kb = _resolve_kb(kb)
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
    timings["load_kb"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    fitted = _fitted_model(model, kb, task, metric, random_state, use_cache)
    timings["meta_model"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    mf, notes = _extract(dataset, fitted.metafeature_columns_, metafeature_budget)
    timings["metafeatures"] = time.perf_counter() - t0

    probes, probe_table = {}, None
    if probe:
        t0 = time.perf_counter()
        probes, probe_table, probe_notes = _probe(
            fitted, kb, dataset, metric, probe_budget, random_state
        )
        notes += probe_notes
        timings["probes"] = time.perf_counter() - t0
    with_probes = {"probes": probes} if probes else {}

    t0 = time.perf_counter()
    factor, reasons = _novelty(fitted, mf, dataset)
    scores, std = fitted.rank(mf, **with_probes)
    std = std * factor
    fit_time = fitted.predict_fit_time(len(dataset.X), dataset.X.shape[1]) * FULL_FIT_FACTOR
    configs = kb.configs(task)
    applicable, applicable_notes = _applicable(fitted, configs, dataset)
    notes += applicable_notes
    n_applicable = int(applicable.sum())
    allowed = None if applicable.all() else applicable
    if time_budget is not None:
        allowed = ~(fit_time > time_budget) & applicable  # unknown (NaN) times are allowed
        if not allowed.any():
            notes.append(
                f"no configuration is expected to fit within time_budget={time_budget:g}s; "
                "the fastest are ranked first"
            )
            order = np.argsort(np.nan_to_num(fit_time, nan=np.inf), kind="stable")
            order = order[applicable[order]]
            allowed = np.zeros(len(fit_time), bool)
            allowed[order[: max(k, 1)]] = True
    if k > n_applicable:
        notes.append(
            f"k={k} is more than the knowledge base's {n_applicable} "
            f"{task} configurations{'' if applicable.all() else ' that apply here'}; "
            "all of them are returned"
        )
    picks = (
        fitted.select(mf, min(k, n_applicable), allowed=allowed, **with_probes)
        if n_applicable
        else []
    )
    # allowed= ranks the others last; a configuration that cannot be used here never comes
    picks = [c for c in picks if applicable[c]]
    raw, raw_std = fitted.to_raw(scores, std, mf, n_rows=len(dataset.y))
    idx, dist = fitted.neighbours(mf, 5)
    neighbour_names = [fitted.datasets_[i] for i in idx]
    perf = kb.performance(task, metric).reindex(index=neighbour_names)
    gib = kb.greater_is_better(metric)
    perf_rank = perf.rank(axis=1, ascending=not gib, method="min")
    items = []
    for r, c in enumerate(picks, start=1):
        cid = fitted.config_ids_[c]
        config = dict(configs.get(cid, fitted.configs_.get(cid, {"algorithm": cid})))
        evidence = pd.DataFrame(
            {
                "dataset": neighbour_names,
                "distance": dist,
                "score": perf[cid].to_numpy() if cid in perf.columns else np.nan,
                "rank": perf_rank[cid].to_numpy() if cid in perf_rank.columns else np.nan,
                "n_configs": perf.notna().sum(axis=1).to_numpy(),
            }
        )
        items.append(
            Recommendation(
                config=config,
                config_id=cid,
                algorithm=str(config.get("algorithm", cid)),
                rank=r,
                predicted_score=float(raw[c]),
                predicted_std=float(raw_std[c]),
                predicted_normalised=float(scores[c]),
                predicted_fit_time=float(fit_time[c]),
                evidence=evidence,
                metric=metric,
                task=task,
                categorical=list(dataset.categorical),
            )
        )
    timings["rank"] = time.perf_counter() - t0
    if reasons:
        message = (
            f"dataset {dataset.name!r} is unlike the knowledge base ("
            + "; ".join(reasons)
            + "); predicted_std is inflated "
            f"{factor:.1f}x and the ranking is an extrapolation"
        )
        warnings.warn(message, NoveltyWarning, stacklevel=2)
        notes.insert(0, message)
    name = fitted.name if not isinstance(model, str) else model
    recommendations = Recommendations(
        items,
        dataset=dataset.name,
        task=task,
        metric=metric,
        model=name,
        metafeatures=mf,
        warnings=notes,
        timings=timings,
        kb_fingerprint=kb.fingerprint(),
    )
    recommendations.probes = probe_table
    # for plot() and explain(): computed from what ranking used, no refitting
    recommendations.reference = _reference(fitted, raw, raw_std, picks)
    recommendations.neighbour_metafeatures = _neighbour_metafeatures(
        fitted, kb, mf, idx, neighbour_names
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
