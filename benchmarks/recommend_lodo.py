"""Grouped leave-one-dataset-out benchmark of the meta-models (issue 5's decision table).

Writes ``benchmarks/results/recommend_lodo_{task}.csv`` (one row per model and k) and
``.md`` (the gap-closed table, the other measures, and whether the targets are met).

Usage::

    python benchmarks/recommend_lodo.py                      # shipped KB, both tasks
    python benchmarks/recommend_lodo.py --kb /path/to/kb --n-folds 10   # quicker, still grouped

Interrupted, the same command resumes: finished folds are kept under
``benchmarks/results/.checkpoints/`` until the task's tables are written.

Folds: one per near-duplicate family (``autometa.metamodel.evaluation.dataset_family``),
or families dealt into ``--n-folds`` folds. Everything runs in one process (n_jobs=1).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from autometa.errors import KnowledgeBaseError
from autometa.kb import KnowledgeBase
from autometa.metamodel.evaluation import evaluate_recommender, holdout_selection
from autometa.metrics import DEFAULT_METRIC

MODELS = ("default", "forest", "knn", "portfolio", "ranker", "sbs", "random", "flaml")
KS = (1, 3, 5, 10)
RESULTS = Path(__file__).resolve().parent / "results"


def _model_order(table: pd.DataFrame) -> list[str]:
    """The models of ``table`` in :data:`MODELS` order, each followed by its probed variant."""
    order = [n for m in MODELS for n in (m, f"{m}+probe")]
    return [m for m in order if m in set(table["model"])]


def _md_table(frame: pd.DataFrame, cell: Callable[[object], str] = "{:.3f}".format) -> str:
    """A GitHub markdown table (pandas' to_markdown needs the optional tabulate)."""
    head = [frame.index.name or "", *map(str, frame.columns)]
    rows = [[str(i), *map(cell, row)] for i, row in zip(frame.index, frame.to_numpy())]
    out = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(frame.columns)) + "|",
    ]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def _yardstick_md(kb: KnowledgeBase, task: str, metric: str) -> str:
    """How much of the gap choosing on the dataset itself (cross-validation) closes (a
    knowledge base without per-fold scores, e.g. one made ``from_frames``, has none)."""
    try:
        ref = holdout_selection(kb, task=task, metric=metric, ks=KS).set_index("k")
    except KnowledgeBaseError as error:
        return f"## Yardstick: choosing on the dataset itself\n\nNot available: {error}.\n"
    frame = ref[["gap_closed", "normalised_regret"]].T
    frame.columns = [f"k={k}" for k in frame.columns]
    frame.index.name = "in-dataset choice"
    return "\n".join(
        [
            "## Yardstick: choosing on the dataset itself",
            "",
            (
                "Configs ranked by their mean over all cross-validation folds but one and scored on "
                "the left-out fold (single-fold normalised scores; "
                f"{int(ref['n_folds'].iloc[0])} dataset-folds). This is what validation on the "
                "dataset itself achieves with the knowledge base's fold sizes: where it closes a "
                "modest share of the gap, the rest is measurement noise, which no meta-model "
                "can predict from meta-features. "
                "(`autometa.metamodel.evaluation.holdout_selection`)"
            ),
            "",
            _md_table(frame),
            "",
        ]
    )


def _families_md(datasets: list[str]) -> str:
    """The near-duplicate families held out together (those with more than one dataset)."""
    from autometa.metamodel.evaluation import dataset_family

    groups: dict[str, list[str]] = {}
    for d in datasets:
        groups.setdefault(dataset_family(d), []).append(d)
    multi = sorted(
        ((f, m) for f, m in groups.items() if len(m) > 1), key=lambda fm: (-len(fm[1]), fm[0])
    )
    lines = [
        (
            f"## Held-out groups ({len(groups)} folds; {len(multi)} families with more than one "
            f"dataset, {sum(len(m) == 1 for m in groups.values())} singletons)"
        ),
        "",
        "| family | n | datasets |",
        "|---|---:|---|",
    ]
    for f, m in multi:
        shown = ", ".join(m) if len(m) <= 8 else ", ".join(m[:6]) + f", ... ({len(m) - 6} more)"
        lines.append(f"| {f} | {len(m)} | {shown} |")
    return "\n".join(lines) + "\n"


def _markdown(table: pd.DataFrame, header: dict[str, object]) -> str:
    lines = [f"# Meta-model benchmark: {header['task']} ({header['metric']})", ""]
    lines += [f"- {k}: {v}" for k, v in header.items() if k not in ("task", "metric")]
    lines.append("")
    for column, title in (
        (
            "gap_closed",
            "Fraction of the SBS-VBS gap closed by the best of the top k (normalised scores; higher is better)",
        ),
        ("gap_closed_raw", "The same on the raw metric (ASlib style)"),
        ("normalised_regret", "Mean normalised regret of the best of the top k (lower is better)"),
        ("mean_rank", "Mean rank of the best of the top k among all configs (1 = best)"),
        ("failed_pick_rate", "Share of the top k that failed on the dataset"),
    ):
        pivot = table.pivot(index="model", columns="k", values=column).reindex(_model_order(table))
        pivot.columns = [f"k={k}" for k in pivot.columns]
        lines += [f"## {title}", "", _md_table(pivot), ""]
    lines += _uncertainty_md(table)
    t = table.set_index(["model", "k"])["gap_closed"]
    if "default" in table["model"].values:
        checks = []
        if 1 in KS:
            checks.append(("default top-1 closes >= 50% of the gap", t[("default", 1)] >= 0.5))
        if 5 in KS:
            checks.append(("default best-of-5 closes >= 85% of the gap", t[("default", 5)] >= 0.85))
        others = [m for m in table["model"].unique() if m != "default" and "+probe" not in m]
        beats = all(t[("default", k)] >= t[(m, k)] for m in others for k in table["k"].unique())
        checks.append(("default >= every other model at every k", beats))
        lines += ["## Targets", ""] + [
            f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in checks
        ]
        if "reference_minus_model_se" in table:
            behind = table[table["reference_minus_model"] < -2 * table["reference_minus_model_se"]]
            lines.append(
                "- default behind another model by more than two paired standard errors: "
                + (
                    ", ".join(f"{m} at k={k}" for m, k in zip(behind["model"], behind["k"]))
                    or "nowhere"
                )
            )
    return "\n".join(lines) + "\n"


def _with_se(table: pd.DataFrame, value: str, se: str, signed: bool = False) -> pd.DataFrame:
    """Models x k of "value ± se" cells."""
    sign = "+" if signed else ""
    cells = table.assign(cell=[f"{v:{sign}.3f} ± {e:.3f}" for v, e in zip(table[value], table[se])])
    frame = cells.pivot(index="model", columns="k", values="cell").reindex(_model_order(table))
    frame.columns = [f"k={k}" for k in frame.columns]
    frame.index.name = "model"
    return frame


def _family_weighted_md(both: pd.DataFrame) -> str:
    """Gap closed with every held-out fold (family) weighted equally."""
    frame = _with_se(both[both["weighting"] == "fold"], "gap_closed", "gap_closed_se")
    return "\n".join(
        [
            "## Gap closed with every held-out family weighted equally",
            "",
            (
                "The tables above weight every dataset once, so a large family (Friedman functions, "
                "GAMETES, ...) counts as much as its size; here each held-out fold counts once "
                '(`evaluate_recommender(..., weighting="fold")`), ± bootstrap standard error.'
            ),
            "",
            _md_table(frame, cell=str),
            "",
        ]
    )


def _calibration_md(table: pd.DataFrame) -> str:
    """How often held-out outcomes fall within ±1 and ±2 predicted standard deviations."""
    if "coverage_1sd" not in table:
        return ""
    frame = (
        table.drop_duplicates("model")
        .set_index("model")
        .reindex(_model_order(table))[
            ["coverage_1sd", "coverage_2sd", "n_coverage"]
            + (["mean_std"] if "mean_std" in table else [])
        ]
    )
    frame.index.name = "model"
    shown = {  # column: (header, format)
        "coverage_1sd": ("within ±1 std", "{:.1%}"),
        "coverage_2sd": ("within ±2 std", "{:.1%}"),
        "n_coverage": ("outcomes", "{:.0f}"),
        "mean_std": ("mean std", "{:.4f}"),
    }
    cells = pd.DataFrame(
        {shown[c][0]: frame[c].map(shown[c][1].format) for c in frame.columns},
        index=frame.index,
    )
    lines = [_md_table(cells, cell=str)]
    return "\n".join(
        [
            "## Calibration: predicted score ± predicted std against held-out outcomes",
            "",
            (
                "Each held-out dataset's top 5 picks: predicted score and standard deviation in the "
                "metric's units (as `recommend` shows them, before any novelty inflation) against "
                "the knowledge base's measured score. Target: 60-75 % within ±1 std, >= 90 % "
                "within ±2. Mean std: the promises' mean width in the metric's units (wide "
                "ones cover anything)."
            ),
            "",
            *lines,
            "",
        ]
    )


def _uncertainty_md(table: pd.DataFrame) -> list[str]:
    """Bootstrap standard errors of the gap closed, and default minus each model, paired."""
    if "gap_closed_se" not in table or table["gap_closed_se"].isna().all():
        return []

    def text_table(frame: pd.DataFrame) -> str:
        return _md_table(frame, cell=str)

    lines = [
        "## Uncertainty: gap closed ± bootstrap standard error",
        "",
        (
            "Held-out folds (families) resampled with replacement, 1000 times; a family's "
            "datasets move together."
        ),
        "",
        text_table(_with_se(table, "gap_closed", "gap_closed_se")),
        "",
    ]
    if "reference_minus_model" in table:
        lines += [
            "## default minus each model (gap closed) ± paired standard error",
            "",
            (
                "Positive: default ahead. The same resamples for both models, so what they "
                "share cancels."
            ),
            "",
            text_table(
                _with_se(
                    table, "reference_minus_model", "reference_minus_model_se", signed=True
                ).drop(index="default", errors="ignore")
            ),
            "",
        ]
    return lines


#: DefaultModel parameters compared by ``--tune-default`` (the first is the default).
DEFAULT_GRID = (
    {},
    {"tune": False, "a": 1.0, "uniform": 0.0},
    {"tune": False, "a": 0.0, "uniform": 0.0},
    {"min_samples_leaf": 3, "max_features": 0.6},
    {"n_estimators": 1000},
)


def _tune_default(
    kb: KnowledgeBase, task: str, metric: str, n_folds: int | None, stem: Path
) -> None:
    rows = []
    for params in DEFAULT_GRID:
        t = evaluate_recommender(
            kb,
            task=task,
            metric=metric,
            models=("default",),
            ks=KS,
            n_folds=n_folds,
            model_params={"default": params},
        )
        rows += [
            {"params": repr(params), "k": k, "gap_closed": g}
            for k, g in zip(t["k"], t["gap_closed"])
        ]
    table = pd.DataFrame(rows).pivot(index="params", columns="k", values="gap_closed")
    table.to_csv(stem.parent / f"{stem.name}_tuning.csv", float_format="%.4f")
    print(table.round(3).to_string())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=None, help="knowledge-base directory (default: shipped)")
    parser.add_argument("--tasks", nargs="+", default=["classification", "regression"])
    parser.add_argument(
        "--n-folds",
        type=int,
        default=None,
        help="deal families into this many folds (default: one per family)",
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--default-params",
        type=json.loads,
        default=None,
        help="JSON parameters of the default model, e.g. '{\"denoise\": false}' "
        "(compare a variant; write it elsewhere with --out)",
    )
    parser.add_argument(
        "--probe-models",
        nargs="*",
        default=["default"],
        help="models also scored with probing (rows NAME+probe; none: no probing)",
    )
    parser.add_argument(
        "--min-datasets", type=int, default=30, help="skip a task with fewer usable datasets"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=RESULTS / ".checkpoints",
        help="where each task's finished folds are recorded while it runs: "
        "run the same command again after an interruption to resume",
    )
    parser.add_argument(
        "--tune-default",
        action="store_true",
        help="also compare a small grid of DefaultModel parameters (slow: one "
        "full evaluation per grid point) and write recommend_lodo_{task}_tuning.csv",
    )
    args = parser.parse_args(argv)

    kb = KnowledgeBase.load(args.kb)
    args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    for task in args.tasks:
        summary = kb.summary(task)
        metric = DEFAULT_METRIC[task]
        perf = kb.performance(task, metric)
        usable = int((perf.notna().sum(axis=1) >= 2).sum())
        if usable < args.min_datasets:
            print(
                f"{task}: only {usable} datasets with results (< {args.min_datasets}); skipped",
                file=sys.stderr,
            )
            status = 1
            continue
        checkpoint = args.checkpoints / f"recommend_lodo_{task}.jsonl"
        resumed = checkpoint.exists()
        start = time.perf_counter()
        both = evaluate_recommender(
            kb,
            task=task,
            metric=metric,
            models=tuple(args.models),
            ks=KS,
            n_folds=args.n_folds,
            weighting=("dataset", "fold"),
            progress=True,
            checkpoint=checkpoint,
            probe_models=[m for m in args.probe_models if m in args.models],
            model_params={"default": args.default_params or {}},
        )
        seconds = time.perf_counter() - start
        table = both[both["weighting"] == "dataset"].reset_index(drop=True)
        header = {
            "task": task,
            "metric": metric,
            "knowledge base": f"{kb.path} (fingerprint {kb.fingerprint()})",
            "datasets": f"{table['n_datasets'].iloc[0]} with >= 2 successful configs "
            f"(of {summary['n_datasets']})",
            "configs": summary["n_configs"],
            "meta-features": summary["n_metafeatures"],
            "missing cells": f"{summary['missing_fraction']:.1%}",
            "folds": (
                f"{table['n_folds'].iloc[0]} (one per near-duplicate family)"
                if args.n_folds is None
                else f"{args.n_folds} (families dealt into folds)"
            ),
            "runtime": f"{seconds:.0f} s, one process"
            + (" (resumed from a checkpoint: this last run only)" if resumed else ""),
        }
        if args.default_params:
            header["default model parameters"] = json.dumps(args.default_params, sort_keys=True)
        stem = args.out / f"recommend_lodo_{task}"
        both.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4f")
        text = (
            _markdown(table, header)
            + "\n"
            + _family_weighted_md(both)
            + "\n"
            + _calibration_md(table)
            + "\n"
            + _yardstick_md(kb, task, metric)
        )
        if args.n_folds is None:
            text += "\n" + _families_md(list(perf.index[perf.notna().sum(axis=1) >= 2]))
        stem.with_suffix(".md").write_text(text)
        checkpoint.unlink()
        print(stem.with_suffix(".md").read_text())
        if args.tune_default:
            _tune_default(kb, task, metric, args.n_folds, stem)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
