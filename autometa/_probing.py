"""Online probing: measure configurations on the user's data within a wall-clock budget.

Two stages share ``recommend``'s ``probe_budget``:

1. **Probes** (:func:`probe`): the meta-model's few cheap probe configurations,
   cross-validated the way the knowledge base measured them (its base size and folds), so
   the ranking can be conditioned on what they scored. Which configurations and how much
   to trust them is mined offline (:mod:`autometa.metamodel.probing`).
2. **Race** (:func:`race`): the top recommendations that ranking gives, raced on the
   dataset's own rows with successive halving (the race of
   :class:`autometa.AutoClassifier`, :mod:`autometa._search`), and reordered by what they
   scored. The budget is the race's alone, so it eliminates a candidate only when the
   time left cannot take them all to full cross-validation, spends what its halving
   leaves on those it eliminated, and what is left after that on repeating the full
   cross-validation on fresh splits. The meta-model's first pick is an estimate; the race
   measures it and its runners-up on the user's rows, at the size the user will fit them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

#: Folds of each probe's cross-validation (as the knowledge base's base fidelity).
PROBE_CV = 3

#: Rows a probe is measured on when the knowledge base does not say (its base fidelity).
DEFAULT_PROBE_ROWS = 500

#: Seconds kept back from the budget for starting each evaluation process.
START_OVERHEAD = 0.15

#: Recommendations the race measures (the first ``RACE_SIZE`` of the ranking).
RACE_SIZE = 5

#: Folds of the race's last level.
RACE_CV = 3

#: Most repetitions of the last level (each on a fresh split) the time left may buy the
#: candidates that finished it. Three folds of one split differ by chance more than the
#: candidates often do -- most where a class has a handful of rows (a 5,000-row sample of
#: shuttle: with one split a HistGradientBoosting at 0.46 on test won, with two the extra
#: trees at 0.995) -- and the mean over splits is the standard remedy.
RACE_REPEATS = 4

#: Columns of :attr:`autometa.Recommendations.probes`: ``stage`` is ``"probe"`` or
#: ``"race"``; ``rows`` and ``folds`` the fidelity a raced configuration reached.
TABLE_COLUMNS = ["stage", "config_id", "algorithm", "score", "status", "seconds", "rows", "folds"]


def probe(
    fitted: Any, kb: Any, dataset: Any, *, metric: str, budget: float, random_state: int
) -> tuple[dict[str, float], pd.DataFrame | None, list[str]]:
    """Run the meta-model's probes on ``dataset`` within ``budget`` seconds, on as many rows
    as the knowledge base measured (:func:`probe_rows`).

    Returns the probe scores and table of :func:`run_probes` (``None`` where the model has
    no probe configurations) and notes on what could not be probed.
    """
    if not getattr(fitted, "probe_configs_", None):
        note = (
            f"model {fitted.name!r} has no probe configurations; ranked without them (the "
            "race of the top recommendations still runs)"
        )
        return {}, None, [note]
    if not getattr(fitted, "probes_used", True):
        note = (
            "probing skipped: on this knowledge base's held-out families, probes did not "
            "improve the first pick (the meta-model's probes_used); ranked without them (the "
            "race of the top recommendations still runs)"
        )
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
        notes.append(
            f"no probe configuration finished within its share of the budget ({budget:g}s); "
            "ranked without them"
        )
    elif len(probes) < len(table):
        notes.append(
            f"{len(probes)} of {len(table)} probes finished within probe_budget={budget:g}s"
        )
    return probes, table, notes


def probe_rows(kb: Any, task: str) -> int:
    """The rows the knowledge base measured its scores on (the most common base size), so
    that probe scores compare with them."""
    try:
        datasets = kb.datasets(task)
        sizes = pd.to_numeric(datasets.get("n_rows_used"), errors="coerce").dropna()
    except Exception:  # noqa: BLE001 - a KB without the column: the usual size
        return DEFAULT_PROBE_ROWS
    return int(sizes.mode().iloc[0]) if len(sizes) else DEFAULT_PROBE_ROWS


def run_probes(
    model: Any, dataset: Any, *, metric: str, budget: float, n_rows: int, random_state: int = 0
) -> tuple[dict[str, float], pd.DataFrame]:
    """Cross-validate ``model.probe_configs_`` on ``dataset`` within ``budget`` seconds.

    Returns the probe scores (config id -> mean of ``metric``; failed probes left out) and a
    table of every probe: ``config_id``, ``algorithm``, ``score``, ``status``, ``seconds``.
    A probe that would start with less than a second left is skipped (status ``skipped``);
    one that runs out of time is stopped at the budget (status ``timeout``).
    """
    from autometa.batch import subsample
    from autometa.evaluate import evaluate

    data = subsample(dataset, n_rows, random_state)
    deadline = time.monotonic() + budget
    scores: dict[str, float] = {}
    rows = []
    for config_id in model.probe_configs_:
        config = model.configs_[config_id]
        remaining = deadline - time.monotonic() - START_OVERHEAD
        row = {
            "config_id": config_id,
            "algorithm": config.get("algorithm", config_id),
            "score": np.nan,
            "status": "skipped",
            "seconds": 0.0,
        }
        if remaining >= 1.0:
            start = time.monotonic()
            result = evaluate(
                config,
                data,
                cv=PROBE_CV,
                metrics=[metric],
                time_limit=remaining,
                random_state=random_state,
            )
            row.update(
                status=result.status, seconds=time.monotonic() - start, score=result.mean(metric)
            )
            if result.status == "ok" and np.isfinite(row["score"]):
                scores[config_id] = float(row["score"])
        rows.append(row)
    table = pd.DataFrame(rows, columns=["config_id", "algorithm", "score", "status", "seconds"])
    return scores, table.assign(stage="probe", rows=len(data.y), folds=PROBE_CV)[TABLE_COLUMNS]


def race(
    items: list[Any], dataset: Any, *, metric: str, budget: float, random_state: int
) -> tuple[list[int], pd.DataFrame]:
    """Race the recommendations ``items`` on ``dataset`` within ``budget`` seconds.

    Successive halving (:meth:`autometa._search.Search.race`) on :data:`RACE_CV` folds of
    all rows: every candidate on a subsample or one fold, the better half on, two to full
    cross-validation -- or all of them, as soon as the time left is expected to take them
    all there, and the eliminated ones afterwards while time is left
    (``keep_if_affordable``); a fit is stopped at its share of the budget. The time still
    left then repeats the full cross-validation of those that finished it on fresh splits
    (:func:`repeat_full_cv`), and they are ranked by their mean over the repetitions.

    Returns
    -------
    order : list of int
        Positions in ``items``, best first (:func:`race_order`); those without a score
        (failed, or no time) after them, in ranking order.
    table : DataFrame
        One row per item (:data:`TABLE_COLUMNS`, stage ``"race"``; ``folds`` counts
        the repetitions' folds too).
    fold_scores : dict
        Position in ``items`` -> its scores on every fold of all rows, repetitions
        included, for the items that finished full cross-validation.
    """
    import dataclasses
    import time

    from autometa._candidates import Candidate
    from autometa.evaluate import make_splits

    start = time.monotonic()
    y = np.asarray(dataset.y)
    if dataset.task == "classification":  # the race scores class indices
        y = np.unique(y, return_inverse=True)[1]
    data = dataclasses.replace(dataset, y=pd.Series(y, name=getattr(dataset.y, "name", None)))
    search = race_search(
        data, metric, make_splits(data, RACE_CV, random_state), start + budget, budget, random_state
    )
    cands = [Candidate.from_recommendation(item) for item in items]
    if cands:
        search.race(cands, keep_if_affordable=True)
    finished = [c for c in cands if c.complete(search.n, len(search.splits))]
    measured = [_fold_values(c, metric) for c in finished]
    repeats = repeat_full_cv(search, finished, random_state, measured) if not dataset.splits else 0
    repeated = {id(c) for c in finished}  # (candidates compare by identity here)
    best = race_order(search, cands)
    order = [next(i for i, c in enumerate(cands) if c is b) for b in best]
    table = pd.DataFrame(
        {
            "stage": "race",
            "config_id": [c.config_id for c in cands],
            "algorithm": [c.algorithm for c in cands],
            "score": [c.score if c.scores else np.nan for c in cands],
            "status": [c.status for c in cands],
            "seconds": [float(sum(t for _, t in c.fits)) for c in cands],
            "rows": [c.rows or np.nan for c in cands],
            "folds": [c.folds * (1 + repeats if id(c) in repeated else 1) or np.nan for c in cands],
        },
        columns=TABLE_COLUMNS,
    )
    at = {id(c): i for i, c in enumerate(cands)}
    return order, table, {at[id(c)]: f for c, f in zip(finished, measured) if f}


def _fold_values(cand: Any, metric: str) -> list[float]:
    """``cand``'s scores on the folds of all rows it finished."""
    values = (record.get(metric) for record in cand.fold_records.values())
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def measured_update(
    predicted: float, predicted_std: float, fold_scores: list[float], fold_std: float
) -> tuple[float, float]:
    """The meta-model's ``predicted ± predicted_std`` for a configuration, updated with
    what the race measured of it on the user's rows: its ``fold_scores`` (every fold of
    every repetition), whose spread from fold to fold is ``fold_std``.

    Precision-weighted, as a normal prior meets a normal measurement: the mean of the
    fold scores counts with ``fold_std**2 / n_folds``, the prediction with
    ``predicted_std**2``; where the meta-model gave no usable std, the measurement alone.
    The std returned is that of one held-out fold's score like the race's (the posterior's
    uncertainty plus a fold's own spread), so a test set of about that size lands within
    ±1 and ±2 of it as often as the prediction promises. Returns ``(score, std)``.
    """
    m = float(np.mean(fold_scores))
    measurement_var = fold_std**2 / len(fold_scores)
    if not (np.isfinite(predicted) and np.isfinite(predicted_std) and predicted_std > 0):
        return m, float(np.sqrt(measurement_var + fold_std**2))
    prior_precision, measurement_precision = predicted_std**-2, 1.0 / measurement_var
    var = 1.0 / (prior_precision + measurement_precision)
    mean = var * (prior_precision * predicted + measurement_precision * m)
    return float(mean), float(np.sqrt(var + fold_std**2))


def pooled_fold_std(fold_scores: list[list[float]], floor: float) -> float:
    """The spread of one fold's score around its configuration's mean, pooled over the
    raced configurations (they share the folds); at least ``floor``: a handful of folds
    can all score the same (every one perfect)."""
    groups = [np.asarray(f, dtype=float) for f in fold_scores if len(f) >= 2]
    dof = sum(len(g) - 1 for g in groups)
    if dof == 0:
        return float("nan")
    ss = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
    return max(float(np.sqrt(ss / dof)), floor)


def race_order(search: Any, cands: list[Any]) -> list[Any]:
    """The race's candidates, best first.

    Where every candidate still in the race (scored on all rows and not eliminated) finished
    full cross-validation: by the highest fidelity reached, then the score there (at full
    cross-validation the mean over the repetitions; :meth:`Search.ranked`). Where some had
    no time to finish: those still in the race by their mean over the folds of the race's
    split that all of them finished, so a cheap configuration that got through every fold
    does not outrank better ones the budget stopped a fold short (on a 1,600-row
    ``mfeat-fourier`` fold a logistic regression at 0.75 on three folds ranked above extra
    trees at 0.82 and a HistGradientBoosting at 0.82 on two, and scored 0.77 on test
    against their 0.83); the eliminated and the rest after them, as ranked.
    """
    n, n_splits = search.n, len(search.splits)
    racing = [
        c
        for c in cands
        if c.status != "eliminated" and c.rows == n and c.fold_records and np.isfinite(c.score)
    ]
    if len(racing) < 2 or all(c.complete(n, n_splits) for c in racing):
        return search.ranked(cands)
    common = sorted(set.intersection(*(set(c.fold_records) for c in racing)))
    values = [[c.fold_records[f].get(search.metric) for f in common] for c in racing]
    if not common or any(v is None for row in values for v in row):
        return search.ranked(cands)
    ranked = search.ranked(cands)
    position = {id(c): i for i, c in enumerate(ranked)}
    mean = {id(c): float(np.mean(row)) for c, row in zip(racing, values)}
    ahead = sorted(racing, key=lambda c: (-search.sign * mean[id(c)], position[id(c)]))
    return ahead + [c for c in ranked if id(c) not in mean]


def repeat_full_cv(
    search: Any,
    finished: list[Any],
    random_state: int,
    fold_scores: list[list[float]] | None = None,
) -> int:
    """Cross-validate ``finished`` (candidates of ``search`` at full cross-validation)
    again on fresh splits while the time left is expected to take all of them (as
    ``Search._affordable``), at most :data:`RACE_REPEATS` - 1 times, and set each one's
    ``score`` to its mean over the repetitions that all of them finished. Returns how
    many repetitions count; ``fold_scores`` (one list per candidate of ``finished``), when
    given, gets the fold scores of each repetition that counts."""
    from autometa._candidates import Candidate
    from autometa._search import AFFORD_MARGIN, Level
    from autometa.evaluate import make_splits

    if len(finished) < 2:
        return 0
    scores = [[c.score] for c in finished]
    repeats = 0
    for repeat in range(1, RACE_REPEATS):
        needed = sum(c.eval_seconds() for c in finished)
        if not np.isfinite(needed) or AFFORD_MARGIN * needed > search.left():
            break
        splits = make_splits(search.dataset, len(search.splits), random_state + repeat)
        again = race_search(
            search.dataset, search.metric, splits, search.deadline, search.budget, random_state
        )
        fresh = [Candidate(c.config, c.config_id, c.source) for c in finished]
        level = Level(again.n, len(again.splits))
        for cand in fresh:
            cand.folds_total = len(again.splits)
            again.evaluate(cand, level, again.left())
        if not all(c.complete(again.n, len(again.splits)) for c in fresh):
            break  # a repetition some did not finish would compare them unevenly
        for j, (history, cand, new) in enumerate(zip(scores, finished, fresh)):
            history.append(new.score)
            cand.fits.extend(new.fits)  # the table's seconds count every repetition
            if fold_scores is not None:
                fold_scores[j] += _fold_values(new, search.metric)
        repeats += 1
    for cand, history in zip(finished, scores):
        cand.score = float(np.mean(history))
    return repeats


def race_search(
    data: Any, metric: str, splits: list, deadline: float, budget: float, random_state: int
) -> Any:
    """The :class:`autometa._search.Search` the probing race (and each repetition of its
    last level) runs in: the budget is the race's alone, so no ensemble, no refit, one
    evaluation at a time, and nothing logged."""
    from autometa._search import Search

    return Search(
        data,
        metric,
        splits,
        deadline=deadline,
        budget=budget,
        ensemble=False,
        random_state=random_state,
        n_jobs=1,
        memory_limit_mb=None,
        log=lambda message: None,
        refit=False,
    )
