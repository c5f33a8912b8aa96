"""AutoClassifier / AutoRegressor against defaults and AutoML peers at equal time budgets
(issue 21's benchmark).

Datasets: ``--datasets`` tables in total, half classification and half regression, from
both corpora read in place (``/work/shared/corpus/pmlb`` and ``/work/shared/corpus/rdatasets``),
one per near-duplicate family (``autometa.metamodel.evaluation.dataset_family``), at their
real size up to ``--max-rows`` rows (a seeded, stratified sample above it), in a fixed
order (a hash of the name). Tables are read raw, as a user would pass them (text, dates,
NaN), with :func:`autometa.data._files.read_table`.

Hold-out: the recommendations come from the default meta-model refitted on the shipped
knowledge base *without* the table's family (grouped leave-one-family-out), passed as
``model=``; the runs record how many knowledge-base datasets were held out.

Protocol (``shared/BENCHMARKING.md``): ``--repeats`` seeded 80/20 splits per table
(stratified for classification), the same rows for every method. Each method fits on the
80 % within the budget and is scored on the 20 % with the task's default metric (balanced
accuracy, R²). Wall time is measured around ``fit`` (refit included), imports and data
loading excluded. A method that fails is reported as a failure (normalised score 0), not
dropped. Budgets run on one core each (``n_jobs=1``) on the machine given.

Methods

* ``hgb`` -- HistGradientBoosting with defaults (native categorical support through an
  ordinal encoding of the text columns); ``hgb_balanced`` -- the same with
  ``class_weight="balanced"`` (classification only: the strongest simple choice for
  balanced accuracy);
* ``tune`` -- :func:`autometa.tune` alone, warm-started, ``timeout`` = the budget, trials
  stopped after a third of it, then :func:`autometa.fit_best` (refit not budgeted: that is
  what AutoClassifier adds);
* ``auto`` -- ``AutoClassifier`` / ``AutoRegressor(time_budget=B)``;
* ``flaml`` -- FLAML's ``AutoML(time_budget=B)`` (balanced accuracy as a custom metric);
* ``autogluon`` -- AutoGluon's ``TabularPredictor(presets="medium_quality", time_limit=B)``.

FLAML and AutoGluon run in a subprocess of ``--competitor-venv``'s Python (FLAML's
``automl`` extra pins xgboost < 3 and AutoGluon pins pandas, so they live in virtual
environments of their own), on the same splits written to Parquet; where the package is not
installed there the method is skipped with a note, and the versions found are recorded.

Report, per budget and method: mean normalised score (per table and repeat, 0 = the worst
method, 1 = the best), with a bootstrap 95 % CI over tables; mean difference to ``hgb``
(CI); win/tie/loss of ``auto`` against each method (a tie is a difference under 0.002);
mean wall time; the largest and the share of budget overruns beyond 10 %. Written to
``benchmarks/results/automl_budget/`` as ``runs.csv`` (every fit; appended, so an
interrupted run resumes), ``summary.csv``, ``summary.md`` and ``automl_budget.png``.

Usage::

    # the full benchmark (hours on 2 cores; resumable):
    python benchmarks/automl_budget.py --datasets 24 --budgets 10,60,300 --repeats 3 \\
        --max-rows 20000 --competitor-venv /opt/automl-venv
    # smoke test: 2 tables, one 10 s budget, one split
    python benchmarks/automl_budget.py --datasets 2 --budgets 10 --repeats 1 \\
        --out /tmp/automl_smoke
    python benchmarks/automl_budget.py --report            # tables and plot from runs.csv
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

CORPORA = (Path("/work/shared/corpus/pmlb"), Path("/work/shared/corpus/rdatasets"))
RESULTS = Path(__file__).resolve().parent / "results" / "automl_budget"
METRIC = {"classification": "balanced_accuracy", "regression": "r2"}
METHODS = ("hgb", "hgb_balanced", "tune", "auto", "flaml", "autogluon")
TIE = 0.002

# --------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------


def pick_datasets(n: int, min_rows: int = 200, max_features: int = 200) -> list[dict]:
    """``n`` tables, half per task (classification first), one per family, alternating the
    corpora (PMLB first for classification, Rdatasets first for regression), each in the
    order of a fixed hash of the name."""
    from autometa.metamodel.evaluation import dataset_family

    pools = {}
    for task in ("classification", "regression"):
        entries = []
        for corpus in CORPORA:
            manifest = pd.read_csv(corpus / "manifest.csv")
            m = manifest[
                (manifest["task"] == task)
                & (manifest["n_rows"] >= min_rows)
                & (manifest["n_features"] <= max_features)
            ]
            for name in m["name"]:
                path = next((p for p in (corpus / task).glob(f"{name}.*")), None)
                if path is not None:
                    entries.append(
                        {
                            "name": name,
                            "task": task,
                            "path": str(path),
                            "corpus": corpus.name,
                            "family": dataset_family(name),
                        }
                    )
        entries.sort(key=lambda e: zlib.crc32(e["name"].encode()))
        by_corpus = [[e for e in entries if e["corpus"] == c.name] for c in CORPORA]
        if task == "regression":  # the other corpus first: a small run sees both
            by_corpus.reverse()
        merged = [e for pair in zip(*by_corpus) for e in pair]
        merged += [e for group in by_corpus for e in group[len(merged) // 2 :]]
        seen, unique = set(), []
        for e in merged:
            if e["family"] not in seen:
                seen.add(e["family"])
                unique.append(e)
        pools[task] = unique
    half = (n + 1) // 2
    return pools["classification"][:half] + pools["regression"][: n - half]


def load_table(entry: dict, max_rows: int) -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.model_selection import train_test_split

    from autometa.data._files import read_table

    frame, _ = read_table(Path(entry["path"]))
    frame = frame[frame["target"].notna()].reset_index(drop=True)
    X, y = frame.drop(columns="target"), frame["target"]
    if len(y) > max_rows:
        stratify = y if entry["task"] == "classification" and y.value_counts().min() > 1 else None
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=max_rows, random_state=0, stratify=stratify
        )
        X, y = (
            X.iloc[np.sort(keep)].reset_index(drop=True),
            y.iloc[np.sort(keep)].reset_index(drop=True),
        )
    return X, y


def splits(y: pd.Series, task: str, repeats: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import train_test_split

    out = []
    for r in range(repeats):
        stratify = y if task == "classification" and y.value_counts().min() > 1 else None
        train, test = train_test_split(
            np.arange(len(y)), test_size=0.2, random_state=r, stratify=stratify
        )
        out.append((np.sort(train), np.sort(test)))
    return out


def holdout_model(kb, name: str, task: str):
    """The default meta-model fitted without ``name``'s family, and how many knowledge-base
    datasets that removed."""
    from autometa.metamodel import DefaultModel, TrainingData
    from autometa.metamodel.evaluation import dataset_family

    data = TrainingData.from_kb(kb, task, METRIC[task])
    family = dataset_family(name)
    keep = [i for i, d in enumerate(data.datasets) if dataset_family(d) != family]
    model = DefaultModel(random_state=0).fit_data(data.subset(keep))
    return model, len(data.datasets) - len(keep)


# --------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------


def hgb_pipeline(X: pd.DataFrame, task: str, balanced: bool):
    """ColumnTyper (autometa's raw-column step), text columns ordinal-encoded and declared
    categorical to HistGradientBoosting, everything else as numbers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from autometa.data._columns import ColumnTyper

    kinds = ColumnTyper().fit(X).kinds_
    cats = [c for c, k in kinds.items() if k == "categorical"]
    nums = [c for c in kinds if c not in cats]
    # codes < 255 (HGB's bins); rarer categories share one code, unknown/missing are -1
    encode = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=-1,
        max_categories=250,
    )
    columns = ColumnTransformer([("cat", encode, cats), ("num", "passthrough", nums)])
    mask = [True] * len(cats) + [False] * len(nums)
    if task == "classification":
        model = HistGradientBoostingClassifier(
            categorical_features=mask, class_weight="balanced" if balanced else None, random_state=0
        )
    else:
        model = HistGradientBoostingRegressor(categorical_features=mask, random_state=0)
    return make_pipeline(ColumnTyper(), columns, model)


def score(task: str, y_true, y_pred) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    if task == "classification":
        return float(
            balanced_accuracy_score(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str))
        )
    return float(r2_score(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)))


def run_inprocess(
    method: str, task: str, X_train, y_train, X_test, budget: float, *, kb, model
) -> tuple[np.ndarray, float, dict]:
    import autometa

    extra: dict = {}
    start = time.monotonic()
    if method in ("hgb", "hgb_balanced"):
        pipe = hgb_pipeline(X_train, task, method == "hgb_balanced").fit(X_train, y_train)
        wall = time.monotonic() - start
        return pipe.predict(X_test), wall, extra
    if method == "tune":
        from autometa import space
        from autometa.data import load_dataset

        # tune as its users call it: on the loaded (cleaned) table; the winner is then
        # fitted on the raw rows of the columns loading kept, as AutoClassifier does
        dataset = load_dataset((X_train, y_train), task=task, name="train")
        study = autometa.tune(
            dataset,
            n_trials=1000,
            n_warm_start=5,
            metric=METRIC[task],
            cv=5,
            timeout=budget,
            time_limit=budget / 3,
            kb=kb,
            model=model,
        )
        config = study.best_trial.user_attrs["config"]
        columns = list(dataset.X.columns)
        pipe = space.build(config, categorical=dataset.categorical, task=task, random_state=0)
        with space.quiet_fit_warnings():
            pipe.fit(X_train[columns], y_train)
        wall = time.monotonic() - start
        extra["trials"] = sum(t.state.name == "COMPLETE" for t in study.trials)
        return pipe.predict(X_test[columns]), wall, extra
    if method == "auto":
        cls = autometa.AutoClassifier if task == "classification" else autometa.AutoRegressor
        est = cls(time_budget=budget, kb=kb, model=model, random_state=0).fit(X_train, y_train)
        wall = time.monotonic() - start
        board = est.leaderboard_
        extra.update(
            final=str(est._summary()),
            evaluated=int((board["status"] != "skipped").sum()),
            members=int((board["weight"] > 0).sum()),
        )
        return est.predict(X_test), wall, extra
    raise ValueError(method)


COMPETITOR = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
method, task, budget, workdir = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
def plain(frame):  # pandas 3's string dtype (columns, values) is not one FLAML 2.3 reads
    frame.columns = pd.Index(list(frame.columns), dtype=object)
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]) and frame[name].dtype != object:
            frame[name] = frame[name].astype(object)
    return frame
train = plain(pd.read_parquet(f"{workdir}/train.parquet"))
test = plain(pd.read_parquet(f"{workdir}/test.parquet"))
X_train, y_train = train.drop(columns="target"), train["target"]
out = {}
try:
    if method == "flaml":
        import flaml
        from flaml import AutoML
        out["version"] = "flaml " + flaml.__version__
        kwargs = {}
        if task == "classification":
            from sklearn.metrics import balanced_accuracy_score
            def bal(X_val, y_val, estimator, labels, X_train, y_train, *args, **kw):
                value = balanced_accuracy_score(y_val, estimator.predict(X_val))
                return 1 - value, {"balanced_accuracy": value}
            kwargs["metric"] = bal
        else:
            kwargs["metric"] = "r2"
        automl = AutoML()
        start = time.monotonic()
        automl.fit(X_train, y_train, task=task, time_budget=budget, seed=0, n_jobs=1,
                   verbose=0, **kwargs)
        out["wall"] = time.monotonic() - start
        pred = automl.predict(test)
    else:
        import autogluon.core, tempfile
        from autogluon.tabular import TabularPredictor
        out["version"] = "autogluon " + autogluon.core.__version__
        metric = "balanced_accuracy" if task == "classification" else "r2"
        start = time.monotonic()
        predictor = TabularPredictor(label="target", eval_metric=metric, verbosity=0,
                                     path=tempfile.mkdtemp(dir=workdir)).fit(
            train, presets="medium_quality", time_limit=budget,
            num_cpus=1)
        out["wall"] = time.monotonic() - start
        pred = predictor.predict(test)
    out["pred"] = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
                   for v in np.asarray(pred, dtype=object)]
except ImportError as exc:
    out["missing"] = str(exc)
print(json.dumps(out, default=str))
"""


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding mixed types become text (Parquet wants one type per column)."""
    frame = frame.copy()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: v if pd.isna(v) else str(v))
    return frame


def run_competitor(
    method: str, python: str, task: str, X_train, y_train, X_test, budget: float
) -> tuple[np.ndarray | None, float, dict]:
    with tempfile.TemporaryDirectory() as workdir:
        _parquet_safe(X_train.assign(target=y_train.to_numpy())).to_parquet(
            f"{workdir}/train.parquet"
        )
        _parquet_safe(X_test).to_parquet(f"{workdir}/test.parquet")
        proc = subprocess.run(
            [python, "-c", COMPETITOR, method, task, str(budget), workdir],
            check=False,
            capture_output=True,
            text=True,
            timeout=budget * 5 + 300,
        )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if "missing" in out:
        return None, float("nan"), {"note": f"not installed in {python}: {out['missing']}"}
    pred = np.asarray(out["pred"], dtype=object)
    return pred, float(out["wall"]), {"version": out.get("version")}


# --------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------


def done_runs(csv: Path) -> set[tuple]:
    if not csv.exists():
        return set()
    frame = pd.read_csv(csv, usecols=["dataset", "repeat", "budget", "method"])
    return set(map(tuple, frame.itertuples(index=False, name=None)))


def append_row(csv: Path, row: dict) -> None:
    csv.parent.mkdir(parents=True, exist_ok=True)
    with open(csv, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        header = handle.tell() == 0 and csv.stat().st_size == 0
        handle.write(pd.DataFrame([row]).to_csv(index=False, header=header))
        fcntl.flock(handle, fcntl.LOCK_UN)


def run(args) -> None:
    import optuna

    from autometa.kb import KnowledgeBase

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    out = Path(args.out)
    csv = out / "runs.csv"
    kb = KnowledgeBase.load()
    budgets = [float(b) for b in args.budgets.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    python = (
        str(Path(args.competitor_venv) / "bin" / "python")
        if args.competitor_venv
        else sys.executable
    )
    entries = pick_datasets(args.datasets)
    print(
        f"{len(entries)} tables, budgets {budgets} s, methods {methods}, {args.repeats} "
        f"split(s), rows <= {args.max_rows}; competitors from {python}; runs -> {csv}",
        flush=True,
    )
    skipped_notes: dict[str, str] = {}
    for entry in entries:
        done = done_runs(csv)
        name, task = entry["name"], entry["task"]
        X, y = load_table(entry, args.max_rows)
        model, n_out = holdout_model(kb, name, task)
        for r, (train, test) in enumerate(splits(y, task, args.repeats)):
            X_train, y_train = (
                X.iloc[train].reset_index(drop=True),
                y.iloc[train].reset_index(drop=True),
            )
            X_test, y_test = X.iloc[test].reset_index(drop=True), y.iloc[test]
            for budget in budgets:
                for method in methods:
                    if method == "hgb_balanced" and task != "classification":
                        continue
                    if method in skipped_notes or (name, r, budget, method) in done:
                        continue
                    if method in ("hgb", "hgb_balanced") and budget != budgets[0]:
                        continue  # no budget: one run serves every budget (see report)
                    row = {
                        "dataset": name,
                        "repeat": r,
                        "budget": budget,
                        "method": method,
                        "task": task,
                        "corpus": entry["corpus"],
                        "family": entry["family"],
                        "n_rows": len(y),
                        "n_features": X.shape[1],
                        "held_out_kb_datasets": n_out,
                        "status": "ok",
                        "error": "",
                        "score": np.nan,
                        "wall": np.nan,
                        "extra": "",
                    }
                    try:
                        if method in ("flaml", "autogluon"):
                            pred, wall, extra = run_competitor(
                                method, python, task, X_train, y_train, X_test, budget
                            )
                            if pred is None:
                                skipped_notes[method] = extra["note"]
                                print(f"skipping {method}: {extra['note']}", flush=True)
                                continue
                        else:
                            pred, wall, extra = run_inprocess(
                                method, task, X_train, y_train, X_test, budget, kb=kb, model=model
                            )
                        row.update(
                            score=score(task, y_test, pred),
                            wall=wall,
                            extra=json.dumps(extra, default=str),
                        )
                    except Exception as exc:  # noqa: BLE001 - a failure is a result
                        row.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
                    append_row(csv, row)
                    print(
                        f"{name:38s} r{r} {budget:5g}s {method:12s} {row['status']:5s} "
                        f"score {row['score']:.4f} wall {row['wall']:.1f}s",
                        flush=True,
                    )
    notes = out / "notes.json"
    out.mkdir(parents=True, exist_ok=True)
    notes.write_text(json.dumps(skipped_notes, indent=1))
    report(args)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def bootstrap_ci(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.RandomState(seed)
    means = rng.choice(values, (n, len(values))).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def expand_budgetless(runs: pd.DataFrame, budgets: list[float]) -> pd.DataFrame:
    """``hgb`` rows (no budget) count at every budget: one fit per table and split (the
    first recorded; a run that asked for it at another budget fits it again)."""
    fixed = runs[runs["method"].isin(["hgb", "hgb_balanced"])]
    fixed = fixed.drop_duplicates(["dataset", "repeat", "method"], keep="first")
    rest = runs[~runs["method"].isin(["hgb", "hgb_balanced"])]
    copies = [fixed.assign(budget=b) for b in budgets]
    return pd.concat([rest, *copies], ignore_index=True)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    budgets = sorted(runs["budget"].unique())
    runs = expand_budgetless(runs, budgets)
    rows = []
    for budget, b in runs.groupby("budget"):
        # per table and split: 0 = worst method there, 1 = best; a failure counts as 0, a
        # method that does not apply (hgb_balanced on regression) as nothing
        wide = b.set_index(["dataset", "repeat", "method"])["score"].unstack("method")
        ran = (
            b.assign(ran=True)
            .set_index(["dataset", "repeat", "method"])["ran"]
            .unstack("method")
            .fillna(False)
            .astype(bool)
            .reindex_like(wide)
        )
        lo, hi = wide.min(axis=1), wide.max(axis=1)
        norm = wide.sub(lo, axis=0).div((hi - lo).where(hi - lo > 1e-12), axis=0)
        norm = norm.where(wide.isna() | (hi - lo > 1e-12).to_numpy()[:, None], 1.0)
        norm = norm.where(wide.notna() | ~ran, 0.0)
        per_table_norm = norm.groupby(level="dataset").mean()
        per_table = wide.groupby(level="dataset").mean()
        for method in wide.columns:
            m = b[b["method"] == method]
            diff = (per_table[method] - per_table["hgb"]) if "hgb" in per_table else None
            row = {
                "budget": budget,
                "method": method,
                "tables": int(per_table[method].notna().sum()),
                "failures": int((m["status"] != "ok").sum()),
                "mean_normalised": float(per_table_norm[method].mean()),
            }
            row["norm_ci_low"], row["norm_ci_high"] = bootstrap_ci(per_table_norm[method])
            if diff is not None:
                row["diff_vs_hgb"] = float(diff.mean())
                row["diff_ci_low"], row["diff_ci_high"] = bootstrap_ci(diff)
            if "auto" in per_table and method != "auto":
                d = per_table["auto"] - per_table[method]
                row["auto_wins"] = int((d > TIE).sum())
                row["auto_ties"] = int((d.abs() <= TIE).sum())
                row["auto_losses"] = int((d < -TIE).sum())
            row["mean_wall"] = float(m["wall"].mean())
            if method not in ("hgb", "hgb_balanced"):
                over = m["wall"] / budget - 1
                row["max_overrun"] = float(over.max())
                row["share_over_10pct"] = float((over > 0.10).mean())
            rows.append(row)
    return pd.DataFrame(rows)


def report(args) -> None:
    out = Path(args.out)
    runs = pd.read_csv(out / "runs.csv")
    summary = summarise(runs)
    summary.to_csv(out / "summary.csv", index=False)
    notes_path = out / "notes.json"
    notes = json.loads(notes_path.read_text()) if notes_path.exists() else {}
    versions = sorted(
        {
            json.loads(e).get("version")
            for e in runs["extra"].dropna()
            if e and json.loads(e).get("version")
        }
    )
    tasks = ", ".join(sorted(runs["task"].unique()))
    budgets = ", ".join(f"{b:g} s" for b in sorted(runs["budget"].unique()))
    lines = [
        "# AutoClassifier / AutoRegressor at equal time budgets",
        "",
        (
            f"{runs['dataset'].nunique()} tables ({tasks}), {runs['repeat'].nunique()} "
            f"split(s) each, budgets {budgets}; family-held-out recommendations; see "
            "benchmarks/automl_budget.py."
        ),
        "",
    ]
    if versions:
        lines.append("Competitor versions: " + ", ".join(versions) + ".")
    for method, note in notes.items():
        lines.append(f"- `{method}` skipped: {note}")
    lines.append("")
    lines.append(markdown(summary))
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(summary, out / "automl_budget.png")


def markdown(frame: pd.DataFrame) -> str:
    """A Markdown table (without the optional ``tabulate`` dependency)."""
    counts = {"tables", "failures", "auto_wins", "auto_ties", "auto_losses"}

    def cell(column: str, v) -> str:
        if isinstance(v, float):
            if np.isnan(v):
                return ""
            return f"{v:.0f}" if column in counts or column == "budget" else f"{v:.3f}"
        return str(v)

    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
    ]
    lines += [
        "| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for method, s in summary.groupby("method"):
        s = s.sort_values("budget")
        err = [s["mean_normalised"] - s["norm_ci_low"], s["norm_ci_high"] - s["mean_normalised"]]
        left.errorbar(
            s["budget"],
            s["mean_normalised"],
            yerr=np.nan_to_num(err),
            marker="o",
            capsize=3,
            label=method,
        )
        if "max_overrun" in s and s["max_overrun"].notna().any():
            right.plot(s["budget"], 100 * s["max_overrun"], marker="o", label=method)
    left.set(xscale="log", xlabel="budget (s)", ylabel="mean normalised score (95% CI)")
    right.axhline(10, color="grey", linestyle="--", linewidth=1)
    right.set(xscale="log", xlabel="budget (s)", ylabel="largest overrun (% of budget)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=24, help="tables in total")
    parser.add_argument("--budgets", default="10,60,300", help="seconds, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="80/20 splits per table")
    parser.add_argument("--max-rows", type=int, default=20000)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--competitor-venv",
        default=None,
        help="virtual environment with flaml / autogluon (default: this Python)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--report", action="store_true", help="only rebuild the report")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per fit, as the budgets say
    if args.report:
        report(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
