"""Online probing: cross-validate a meta-model's probe configurations on the user's data,
within a wall-clock budget, measured the way the knowledge base measured them.

The offline side (which configurations, how much to trust them) is
:mod:`autometa.metamodel.probing`; this module only runs the probes (:func:`probe`, the
probing step of :func:`autometa.recommend`).
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


def probe(
    fitted: Any, kb: Any, dataset: Any, *, metric: str, budget: float, random_state: int
) -> tuple[dict[str, float], pd.DataFrame | None, list[str]]:
    """Run the meta-model's probes on ``dataset`` within ``budget`` seconds, on as many rows
    as the knowledge base measured (:func:`probe_rows`).

    Returns the probe scores and table of :func:`run_probes` (``None`` where the model has
    no probe configurations) and notes on what could not be probed.
    """
    if not getattr(fitted, "probe_configs_", None):
        note = f"model {fitted.name!r} has no probe configurations; ranked without probing"
        return {}, None, [note]
    if not getattr(fitted, "probes_used", True):
        note = (
            "probing skipped: on this knowledge base's held-out families, probes did not "
            "improve the first pick (the meta-model's probes_used); ranked without probing"
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
        notes.append(f"no probe finished within probe_budget={budget:g}s; ranked without probing")
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
    return scores, pd.DataFrame(
        rows, columns=["config_id", "algorithm", "score", "status", "seconds"]
    )
