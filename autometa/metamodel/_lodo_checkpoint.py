"""The checkpoint of :func:`autometa.metamodel.evaluation.evaluate_recommender`.

A JSON-lines file: a header line describing the evaluation (knowledge base, task, metric,
models, parameters, folds, k), then one line per finished held-out fold with its picks, and
the standardised residuals and predicted standard deviations behind the calibration table
(lines written before the deviations were kept have none). Run the same evaluation again
with it and the finished folds are read back instead of refitted; a torn last line (the
run was interrupted while writing it) is dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autometa.errors import KnowledgeBaseError

__all__ = ["FoldJournal"]


class FoldJournal:
    """The optional checkpoint of the benchmark: a header line describing the evaluation,
    then one line of picks per finished held-out fold (config ids by dataset name, so it
    reads back whatever the row order)."""

    def __init__(self, path: str | Path | None, header: dict[str, Any]) -> None:
        self.path = None if path is None else Path(path)
        self.done: dict[str, dict[str, dict[str, list[str]]]] = {}
        self.residuals: dict[str, dict[str, list[float]]] = {}
        self.stds: dict[str, dict[str, list[float]]] = {}
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
                self.stds[entry["fold"]] = entry.get("stds", {})
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
        stds: dict[str, list[float]] | None = None,
    ) -> bool:
        entry = self.done.get(str(label))
        if entry is None:
            return False
        for saved, into in ((self.residuals, residuals), (self.stds, stds)):
            for model, values in saved.get(str(label), {}).items():
                if into is not None and model in into:
                    into[model] += values
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
        stds: dict[str, list[float]] | None = None,
    ) -> None:
        if self.path is None:
            return
        line = {
            "fold": str(label),
            "picks": entry,
            "residuals": residuals or {},
            "stds": stds or {},
        }
        with self.path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
