"""Recommendations judged on real tables at real size (issue 20, section 5).

For each task, ``--n-datasets`` corpus tables (PMLB and Rdatasets, read from
``../shared/corpus`` with ``autometa.load_dataset`` as a user would) with at least
``--min-rows`` rows are chosen with a seed, at most one per near-duplicate family
(``autometa.metamodel._families.dataset_family``), alternating between the two corpora;
missing-value variants (``name~...``) are never used. A table is capped at ``--max-rows``
rows (stratified, seeded: ``autometa.batch.subsample``) and split once into ``--folds``
outer folds (stratified for classification, seeded); every method is fitted on exactly
those training parts and scored on the same test parts (balanced accuracy / R²).

The knowledge base is the shipped one (or ``--kb``) *without the table's whole family*;
the meta-models (``default``, and ``sbs`` for the single best configuration) are fitted
on it once per table and reused on every fold (``recommend(..., model=<fitted model>)``).

Methods (fit+predict wall seconds include ``recommend``, meta-features and probing):

* ``top1``        ``recommend`` on the training part, fit ``recs[0]``;
* ``top1_probe``  the same with ``probe=True, probe_budget=--probe-budget``;
* ``best_of_5``   ``recs[:5]`` compared by ``--inner-folds``-fold CV on the training part,
  the winner refitted on all of it;
* ``sbs``         the single best configuration of the held-out knowledge base
  (``model="sbs"``): what the meta-model adds is the difference to it;
* defaults behind one shared preprocessing (text/boolean columns ordinal-encoded, then
  median imputation; ``StandardScaler`` for the linear models): ``hgb``
  (HistGradientBoosting), ``rf`` (RandomForest, n_jobs=1), ``xgb`` (XGBoost, n_jobs=1),
  ``logreg`` (LogisticRegression, max_iter=1000) / ``ridge``; for classification also the
  class-weighted ``hgb_balanced``, ``rf_balanced``, ``xgb_balanced`` (balanced sample
  weights) and ``logreg_balanced`` (../shared/BENCHMARKING.md: balanced accuracy must be
  judged against class-weighted defaults too), and ``hgb_prior``, ``rf_prior``,
  ``xgb_prior``: the plain defaults with balanced accuracy's decision
  (``autometa._balanced.BalancedPriorClassifier``, as our picks are built), to show what
  the decision alone gives them (outside the yardstick, which the issue fixes);
* FLAML zero-shot (``flaml.default``, when it imports): ``flaml_auto`` (FLAML's own
  learner-and-config pick, ``preprocess_and_suggest_hyperparams(task, X, y, "all")``, the
  analogue of our top-1) and the flamlized ``flaml_lgbm`` (if lightgbm is installed),
  ``flaml_xgb``, ``flaml_rf``, ``flaml_et``. They get the raw frame (they preprocess it
  themselves) with one adaptation: pandas 3's ``str`` columns (and column labels) become
  ``object``, which FLAML 2.3 does not recognise otherwise (it fails in its transformer or
  treats text as numbers). A fresh estimator per fold (``clone`` would drop FLAML's
  suggestions), and classifiers predict ``classes_[argmax(predict_proba(X))]`` (the
  flamlized forests transform X twice in ``predict``);
* ``dummy``       majority class / mean: the score a failed cell counts as.

The *yardstick* is the per-dataset best of the HGB/RF/XGB defaults (classification: with
their class-weighted variants); it is picked on the test folds, so it is an upper bound of
what one fixed default gives. A cell that fails or runs past ``--cell-timeout`` is
reported (status, error) and scored as ``dummy`` on that fold, never dropped.

Report (per task and overall): mean score, mean normalised score (per dataset,
``(score - min) / (max - min)`` over the methods, dummy excluded), mean difference to the
yardstick with a bootstrap 95 % CI (datasets resampled 2000 times, seeded), wins/ties/losses
against it (a tie is a difference of at most 0.002) and the win rate (ties half), mean wall
seconds per fold; then top1/top1_probe/best_of_5 against ``sbs`` and against FLAML, and the
targets of issue 20 with PASS/FAIL. Written to ``--out`` (default
``benchmarks/results/recommend_realsize/``): ``cells.csv`` (one row per dataset, fold and
method), ``summary.csv``, ``comparisons.csv``, ``recommend_realsize.md`` and
``recommend_realsize.png``.

Full run (one core: every fit runs with n_jobs=1 under ``threadpoolctl`` limits)::

    nice -n 10 python benchmarks/recommend_realsize.py \\
        --tasks classification regression --n-datasets 10 --min-rows 1000 \\
        --max-rows 20000 --folds 5 --inner-folds 3 --probe-budget 30 --seed 0

Expected runtime: roughly 10-20 hours on one core of this machine -- an estimate scaled from
the smoke run below, not a measurement (20 tables of 1,000 to 20,000 rows, 5 folds, 18
methods per classification fold and 14 per regression fold; the slowest cells are FLAML's
large boosted ensembles -- ``flaml_xgb`` took 47 s per fold on 750 training rows of
``529_pollen`` -- and best-of-5's 16 fits on the biggest tables; about a minute per table
fits the held-out meta-models). The smoke run took 5 minutes (64 cells, 2 tables). The
committed report (``--n-datasets 20 --max-rows 5000 --probe-budget 20``, 40 tables, 2,900
cells) is 2.9 hours of cell time; ``--n-jobs 2`` (two cells at once, each in its own
process, one checkpoint) halves the wall time on two cores. Keep ``--n-jobs`` at most the
cores and the machine otherwise quiet: the probing race's budget is wall time.
Interrupted, the same command resumes: every finished (dataset, fold, method) cell is
appended to a JSON-lines checkpoint
``benchmarks/results/.checkpoints/recommend_realsize_<key>.jsonl`` (the key hashes the
arguments that change results, so a different ``--n-datasets`` or ``--tasks`` reuses the
cells it shares) and skipped on rerun. Our methods' cells also record a hash of their task's
part of the KB and the meta-models' parameters: after either changes, only they run again
(a change to the regression part leaves the classification cells); fitted meta-models are
cached beside it. A rerun of
a finished command only rewrites the report. ``--report-only`` writes the report from the
checkpoint without running anything. The checkpoint is not committed; where it is gone,
``--import-cells benchmarks/results/recommend_realsize/cells.csv`` (with the committed
report's arguments) puts the report's cells back into it first, so only what changed runs.

Smoke test (writes elsewhere)::

    nice -n 10 python benchmarks/recommend_realsize.py --n-datasets 1 --max-rows 1500 \\
        --folds 2 --probe-budget 5 --out /tmp/realsize_smoke \\
        --checkpoints /tmp/realsize_smoke/.checkpoints
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: the other one is someone else's

import argparse
import dataclasses
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import re
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPORA = {"pmlb": ".tsv.gz", "rdatasets": ".parquet"}
PROTOCOL = 1  # bump when a change makes earlier checkpointed cells incomparable

OURS = ("top1", "top1_probe", "best_of_5", "sbs")
BASELINES = {
    "classification": (
        "hgb",
        "hgb_balanced",
        "rf",
        "rf_balanced",
        "xgb",
        "xgb_balanced",
        "logreg",
        "logreg_balanced",
        # with balanced accuracy's decision (autometa._balanced), as autometa builds its
        # picks: what the decision alone gives the defaults (not in the yardstick)
        "hgb_prior",
        "rf_prior",
        "xgb_prior",
    ),
    "regression": ("hgb", "rf", "xgb", "ridge"),
}
#: The defaults whose per-dataset best is the yardstick.
YARDSTICK = {
    "classification": ("hgb", "hgb_balanced", "rf", "rf_balanced", "xgb", "xgb_balanced"),
    "regression": ("hgb", "rf", "xgb"),
}
FLAML = ("flaml_auto", "flaml_lgbm", "flaml_xgb", "flaml_rf", "flaml_et")
FLAML_REFERENCE = "flaml_auto"
DUMMY = "dummy"
#: Cell columns holding whole numbers (written without decimals; read back as ints).
WHOLE_COLUMNS = ("rows", "n_rows", "features", "classes", "fold", "rank", "probes_ok", "raced_ok")
TIE = 0.002


def method_order(task: str | None = None) -> list[str]:
    """Every method in report order (of one task, or of both)."""
    tasks = [task] if task else list(BASELINES)
    base = list(dict.fromkeys(m for t in tasks for m in BASELINES[t]))
    return [*OURS, *base, *FLAML, DUMMY]


# --------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------


def candidates(corpus: Path, task: str, min_rows: int) -> pd.DataFrame:
    """Corpus tables of ``task`` with at least ``min_rows`` rows (no missing-value variants)."""
    from autometa.metamodel._families import dataset_family

    frames = []
    for name, ext in CORPORA.items():
        manifest = corpus / name / "manifest.csv"
        if not manifest.exists():
            continue
        m = pd.read_csv(manifest)
        m = m[
            (m["task"] == task)
            & (m["n_rows"] >= min_rows)
            & ~m["name"].astype(str).str.contains("~", regex=False)
        ]
        m = m.assign(corpus=name, path=[str(corpus / name / task / f"{n}{ext}") for n in m["name"]])
        frames.append(m[[Path(p).exists() for p in m["path"]]])
    if not frames:
        return pd.DataFrame(columns=["name", "task", "n_rows", "corpus", "path", "family"])
    out = pd.concat(frames, ignore_index=True)
    out = out[["name", "task", "n_rows", "n_features", "corpus", "path"]]
    return out.assign(family=out["name"].map(dataset_family))


def select_datasets(corpus: Path, task: str, n: int, min_rows: int, seed: int) -> pd.DataFrame:
    """``n`` tables, one per family, alternating between the corpora; seeded, and the first
    ``n`` of a longer selection (so a larger ``--n-datasets`` extends a smaller one)."""
    cands = candidates(corpus, task, min_rows)
    rng = np.random.default_rng([seed, sorted(BASELINES).index(task)])
    per_corpus = []
    for name in CORPORA:
        c = cands[cands["corpus"] == name]
        picks = []
        for family in sorted(c["family"].unique()):
            members = sorted(c.loc[c["family"] == family, "name"])
            picks.append(members[int(rng.integers(len(members)))])
        per_corpus.append([picks[i] for i in rng.permutation(len(picks))])
    order: list[str] = []
    for i in range(max(map(len, per_corpus), default=0)):
        order += [p[i] for p in per_corpus if i < len(p)]
    chosen = cands.set_index("name").loc[order[:n]].reset_index()
    seen: set[str] = set()  # the corpora's family names never meet, but make sure
    keep = [not (f in seen or seen.add(f)) for f in chosen["family"]]
    return chosen[keep].reset_index(drop=True)


def family_members(kb: Any, family: str) -> list[str]:
    """The datasets of ``kb`` in ``family`` (its variants included), sorted: what
    ``kb.without`` leaves out for a table of that family."""
    from autometa.metamodel._families import dataset_family

    return sorted(d for d in kb.datasets().index if dataset_family(d) == family)


def make_folds(y: pd.Series, task: str, n_folds: int, seed: int) -> list[tuple[Any, Any]]:
    """Seeded folds, stratified for classification (a class rarer than ``n_folds`` is
    spread as far as it goes)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task != "classification":
        return list(KFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "The least populated class has only ..."
        return list(
            StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(
                np.zeros(len(y)), y.astype(str)
            )
        )


# --------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------


def score(task: str, y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "classification":
            return float(balanced_accuracy_score(np.asarray(y_true), np.asarray(y_pred)))
        return float(r2_score(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)))


def _as_text(X: Any) -> np.ndarray:
    """Categorical columns as strings (missing stays NaN), for the ordinal encoder."""
    frame = pd.DataFrame(X)
    # A copy: under pandas 3's copy-on-write a one-column frame hands out a read-only view.
    out = frame.astype(str).to_numpy(dtype=object, copy=True)
    out[frame.isna().to_numpy()] = np.nan
    return out


def _as_float(X: Any) -> np.ndarray:
    return pd.DataFrame(X).astype("float64").to_numpy()


def preprocessor(X: pd.DataFrame, categorical: Sequence[str], scale: bool) -> Any:
    """The baselines' shared preprocessing: ordinal-encode text/boolean/categorical columns,
    median-impute everything (and standardise for the linear models)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder, StandardScaler

    cat = [
        c
        for c in X.columns
        if c in set(categorical)
        or pd.api.types.is_bool_dtype(X[c])
        or not pd.api.types.is_numeric_dtype(X[c])
    ]
    num = [c for c in X.columns if c not in set(cat)]
    encode = Pipeline(
        [
            ("text", FunctionTransformer(_as_text)),
            (
                "ordinal",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
            ),
        ]
    )
    columns = ColumnTransformer(
        [("cat", encode, cat), ("num", FunctionTransformer(_as_float), num)], sparse_threshold=0.0
    )
    steps = [
        ("encode", columns),
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    return steps


def baseline(method: str, task: str, seed: int) -> Any:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from xgboost import XGBClassifier, XGBRegressor

    weight = "balanced" if method.endswith("_balanced") else None
    kind = method.removesuffix("_balanced").removesuffix("_prior")
    if task == "classification" and method.endswith("_prior"):
        from autometa._balanced import BalancedPriorClassifier

        return BalancedPriorClassifier(baseline(kind, task, seed))
    if task == "classification":
        return {
            "hgb": lambda: HistGradientBoostingClassifier(class_weight=weight, random_state=seed),
            "rf": lambda: RandomForestClassifier(class_weight=weight, n_jobs=1, random_state=seed),
            "xgb": lambda: XGBClassifier(n_jobs=1, random_state=seed, verbosity=0),
            "logreg": lambda: LogisticRegression(class_weight=weight, max_iter=1000),
        }[kind]()
    return {
        "hgb": lambda: HistGradientBoostingRegressor(random_state=seed),
        "rf": lambda: RandomForestRegressor(n_jobs=1, random_state=seed),
        "xgb": lambda: XGBRegressor(n_jobs=1, random_state=seed, verbosity=0),
        "ridge": lambda: Ridge(),
    }[kind]()


def _run_baseline(method, task, categorical, Xtr, ytr, Xte, seed):
    from sklearn.pipeline import Pipeline
    from sklearn.utils.class_weight import compute_sample_weight

    scale = method.removesuffix("_balanced") in ("logreg", "ridge")
    pipe = Pipeline(
        [*preprocessor(Xtr, categorical, scale), ("model", baseline(method, task, seed))]
    )
    if task == "regression":
        return pipe.fit(Xtr, ytr.to_numpy(dtype=float)).predict(Xte), {}
    classes, codes = np.unique(ytr.to_numpy(), return_inverse=True)
    fit = (
        {"model__sample_weight": compute_sample_weight("balanced", codes)}
        if method == "xgb_balanced"
        else {}
    )
    pipe.fit(Xtr, codes, **fit)
    return classes[np.asarray(pipe.predict(Xte), dtype=int)], {}


def flaml_frame(X: pd.DataFrame) -> pd.DataFrame:
    """The raw frame as FLAML 2.3 can read it: text columns (and labels) as ``object``,
    nullable numbers as float; values unchanged."""
    out = X.copy()
    out.columns = pd.Index([str(c) for c in X.columns], dtype=object)
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            continue
        if pd.api.types.is_string_dtype(s.dtype) or isinstance(s.dtype, pd.BooleanDtype):
            out[c] = s.astype(object).where(s.notna(), np.nan)
        elif isinstance(
            s.dtype, pd.api.extensions.ExtensionDtype
        ) and pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = s.astype("float64")
    return out


def flaml_methods() -> tuple[list[str], str]:
    """The FLAML methods that can run here, and why any cannot."""
    try:
        import flaml
        import flaml.default
    except Exception as exc:  # noqa: BLE001
        return [], f"flaml.default does not import ({type(exc).__name__}: {exc}); FLAML skipped"
    try:
        import lightgbm

        lgbm = f", lightgbm {lightgbm.__version__}"
        methods = list(FLAML)
    except ImportError:
        lgbm = ", lightgbm not installed (flaml_lgbm skipped)"
        methods = [m for m in FLAML if m != "flaml_lgbm"]
    return methods, f"flaml {flaml.__version__}{lgbm}"


def _one_core(estimator: Any) -> Any:
    """``n_jobs=1`` (and LightGBM quiet) where the estimator has the parameter."""
    params = estimator.get_params()
    if "n_jobs" in params:
        estimator.set_params(n_jobs=1)
    if type(estimator).__name__.startswith("LGBM"):
        estimator.set_params(verbose=-1)
    return estimator


def _run_flaml(method, task, Xtr, ytr, Xte, seed):
    import flaml.default as fd

    Xtr, Xte = flaml_frame(Xtr), flaml_frame(Xte)
    classification = task == "classification"
    if classification:
        classes, target = np.unique(ytr.to_numpy(), return_inverse=True)
    else:
        classes, target = None, ytr.to_numpy(dtype=float)
    if method == FLAML_REFERENCE:
        hp, cls, Xt, yt, features, labels = fd.preprocess_and_suggest_hyperparams(
            task, Xtr, target, "all"
        )
        est = _one_core(cls(**hp)).fit(Xt, yt)
        X_test = features.transform(Xte) if features is not None else Xte
        extra = {"algorithm": cls.__name__}
        if not classification:
            return est.predict(X_test), extra
        codes = est.classes_[np.argmax(est.predict_proba(X_test), axis=1)]
        if labels is not None:
            codes = labels.inverse_transform(codes)
        return classes[np.asarray(codes, dtype=int)], extra
    name = {
        "flaml_lgbm": "LGBM",
        "flaml_xgb": "XGB",
        "flaml_rf": "RandomForest",
        "flaml_et": "ExtraTrees",
    }[method] + ("Classifier" if classification else "Regressor")
    kwargs = {"n_jobs": 1}
    if method == "flaml_lgbm":
        kwargs["verbose"] = -1
    est = getattr(fd, name)(**kwargs)  # fresh per fold: clone() would drop FLAML's choice
    est.fit(Xtr, target)
    if not classification:
        return est.predict(Xte), {}
    codes = est.classes_[np.argmax(est.predict_proba(Xte), axis=1)]
    return classes[np.asarray(codes, dtype=int)], {}


def _run_ours(method, ctx, Xtr, ytr, Xte, seed, probe_budget, inner_folds):
    import autometa

    train = dataclasses.replace(
        ctx["dataset"], X=Xtr.reset_index(drop=True), y=ytr.reset_index(drop=True), splits=None
    )
    model = ctx["models"]["sbs" if method == "sbs" else "default"]
    recs = autometa.recommend(
        train,
        kb=ctx["kb"],
        model=model,
        k=5 if method == "best_of_5" else 1,
        probe=method == "top1_probe",
        probe_budget=probe_budget,
        random_state=seed,
        use_cache=False,
    )
    pick, inner = recs[0], ""
    if method == "best_of_5":
        folds = make_folds(train.y, train.task, inner_folds, seed)
        means = []
        for rec in recs[:5]:
            try:
                scores = [
                    score(
                        train.task,
                        train.y.iloc[te],
                        rec.make_pipeline(random_state=seed)
                        .fit(train.X.iloc[tr], train.y.iloc[tr])
                        .predict(train.X.iloc[te]),
                    )
                    for tr, te in folds
                ]
                means.append(float(np.mean(scores)))
            except Exception:  # noqa: BLE001 - a config that fails inside is not chosen
                means.append(-np.inf)
        if not np.isfinite(max(means)):
            raise RuntimeError("every one of the top 5 failed in the inner cross-validation")
        pick = recs[int(np.argmax(means))]
        inner = " ".join(f"{m:.4f}" for m in means)
    pred = pick.make_pipeline(random_state=seed).fit(train.X, train.y).predict(Xte)
    extra = {
        "config_id": pick.config_id,
        "algorithm": pick.algorithm,
        "rank": pick.rank,
        # what the user is promised for the pick, scored against the test fold in the report
        "predicted_score": pick.predicted_score,
        "predicted_std": pick.predicted_std,
    }
    if inner:
        extra["inner_scores"] = inner
    if method == "top1_probe" and recs.probes is not None:
        ok = recs.probes["status"] == "ok"
        stage = recs.probes.get("stage", pd.Series("probe", index=recs.probes.index))
        extra["probes_ok"] = int((ok & (stage == "probe")).sum())
        extra["raced_ok"] = int((recs.probes["score"].notna() & (stage == "race")).sum())
    return pred, extra


def run_cell(
    method: str, ctx: Mapping[str, Any], fold: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Fit ``method`` on the fold's training part and score it on its test part."""
    from threadpoolctl import threadpool_limits

    ds = ctx["dataset"]
    train, test = ctx["folds"][fold]
    Xtr, Xte = ds.X.iloc[train], ds.X.iloc[test]
    ytr, yte = ds.y.iloc[train], ds.y.iloc[test]
    start = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method in OURS:
            pred, extra = _run_ours(
                method, ctx, Xtr, ytr, Xte, args.seed, args.probe_budget, args.inner_folds
            )
        elif method in FLAML:
            pred, extra = _run_flaml(method, ds.task, Xtr, ytr, Xte, args.seed)
        elif method == DUMMY:
            from sklearn.dummy import DummyClassifier, DummyRegressor

            est = DummyClassifier() if ds.task == "classification" else DummyRegressor()
            pred, extra = est.fit(Xtr, ytr).predict(Xte), {}
        else:
            pred, extra = _run_baseline(method, ds.task, ds.categorical, Xtr, ytr, Xte, args.seed)
    seconds = time.perf_counter() - start
    return {
        "score": score(ds.task, yte, pred),
        "seconds": seconds,
        "status": "ok",
        "error": "",
        **extra,
    }


def _cell_child(connection, fn: Callable[[], dict], parent_pid: int) -> None:
    from autometa.evaluate import kill_evaluations_with_parent

    try:
        os.setpgid(0, 0)  # own group: a timeout stops whatever the fit started
    except OSError:
        pass
    kill_evaluations_with_parent(parent_pid)  # a killed benchmark leaves nothing running
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - reported as the cell's error
        out = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    connection.send(out)
    connection.close()


class _IsolatedCell:
    """One cell's forked child process and the pipe its result comes back on. Not a daemon
    process: probing starts processes of its own."""

    def __init__(self, fn: Callable[[], dict]) -> None:
        context = multiprocessing.get_context("fork")
        self.receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(target=_cell_child, args=(sender, fn, os.getpid()))
        self.started = time.perf_counter()
        self.process.start()
        try:  # also here: the group must exist before a kill, whichever side runs first
            os.setpgid(self.process.pid, self.process.pid)
        except OSError:
            pass
        sender.close()

    def finish(self, timeout: float | None) -> dict[str, Any]:
        """The child's result once its pipe is readable (a dead child's too), or a timeout
        where it is not; then its whole process group is stopped."""
        try:
            if self.receiver.poll(0):
                out = self.receiver.recv()
            else:
                out = {"status": "timeout", "error": f"cell time limit of {timeout:g} s exceeded"}
        except (EOFError, OSError):
            self.process.join(1)
            exit_code = self.process.exitcode
            out = {"status": "error", "error": f"cell process died (exit code {exit_code})"}
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
            self.receiver.close()
        out.setdefault("seconds", time.perf_counter() - self.started)
        return out


def isolated_all(
    jobs: Iterable[tuple[Any, Callable[[], dict]]], timeout: float | None, n_jobs: int = 1
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """``(key, fn())`` for each of ``jobs``, every ``fn`` in a forked child process stopped
    after ``timeout`` seconds, at most ``n_jobs`` at once, in the order they finish.

    The children are forked from this (single-threaded) process, which only waits on their
    pipes: a cell's time limit and a probing race's budget are wall time, so ``n_jobs``
    should not exceed the cores."""
    queue = list(jobs)
    running: dict[Any, tuple[Any, _IsolatedCell]] = {}
    while queue or running:
        while queue and len(running) < n_jobs:
            key, fn = queue.pop(0)
            cell = _IsolatedCell(fn)
            running[cell.receiver] = (key, cell)
        wait = None
        if timeout is not None:
            now = time.perf_counter()
            wait = max(0.0, min(c.started + timeout - now for _, c in running.values()))
        ready = set(multiprocessing.connection.wait(list(running), timeout=wait))
        now = time.perf_counter()
        for receiver, (key, cell) in list(running.items()):
            late = timeout is not None and now - cell.started >= timeout
            if receiver in ready or late:
                del running[receiver]
                yield key, cell.finish(timeout)


def held_out_models(
    kb: Any, task: str, family: str, seed: int, cache: Path
) -> tuple[Any, dict[str, Any]]:
    """``kb`` without the datasets of ``family`` and the ``default`` and ``sbs`` meta-models
    fitted on it (read from the model ``cache`` where fitted before: one folder per task
    and family, as a cache folder keeps one fit per model, task and metric)."""
    from autometa.metamodel import get_model, load_or_fit
    from autometa.metrics import DEFAULT_METRIC

    held_out = kb.without(family_members(kb, family))
    folder = cache / re.sub(r"[^\w.-]", "_", f"{task}-{family}")
    models = {
        name: load_or_fit(
            get_model(name, random_state=seed),
            held_out,
            task,
            DEFAULT_METRIC[task],
            directory=folder,
        )
        for name in ("default", "sbs")
    }
    return held_out, models


def prefit_held_out_models(
    kb: Any, tables: Sequence[tuple[str, str]], args: argparse.Namespace, cache: Path
) -> int:
    """Fit the held-out meta-models of ``tables`` ((task, family) pairs) into ``cache``,
    ``args.n_jobs`` at a time in forked children, before any cell runs: the main loop then
    reads them instead of fitting one table's while the other cores wait (about a minute
    a table; four regression families took 38 s instead of 72 s on two cores). Forked
    from this single-threaded process, as the cells are: in a joblib (loky) pool each fit
    took about five times as long. Returns how many failed; the main loop fits those
    again, and fails visibly there."""
    from tqdm import tqdm

    def fit(task: str, family: str) -> dict[str, Any]:
        held_out_models(kb, task, family, args.seed, cache)
        return {}  # the models stay in the cache: nothing to send back

    jobs = [
        ((task, family), lambda t=task, f=family: fit(t, f))
        for task, family in dict.fromkeys(tables)
    ]
    failed = 0
    bar = tqdm(total=len(jobs), unit="family", desc=f"meta-models, {args.n_jobs} at a time")
    for (task, family), out in isolated_all(jobs, None, args.n_jobs):
        if out.get("status") == "error":
            failed += 1
            print(f"{task} {family}: meta-models: {out['error']}", file=sys.stderr)
        bar.update()
    bar.close()
    return failed


def _tables_to_fit(
    selected: Mapping[str, pd.DataFrame],
    methods: Mapping[str, Sequence[str]],
    done: Mapping[tuple[str, int, str], Any],
    args: argparse.Namespace,
) -> list[tuple[str, str]]:
    """(task, family) of every selected table with a cell of ours still to run."""
    return [
        (task, row.family)
        for task, table in selected.items()
        for row in table.itertuples()
        if any(
            (row.name, f, m) not in done
            for f in range(args.folds)
            for m in methods[task]
            if m in OURS
        )
    ]


# --------------------------------------------------------------------------------------
# checkpoint
# --------------------------------------------------------------------------------------


def checkpoint_path(args: argparse.Namespace) -> Path:
    """One checkpoint per protocol; the KB and meta-models are keyed per cell (see below)."""
    key = {
        "protocol": PROTOCOL,
        "corpus": str(Path(args.corpus).resolve()),
        "min_rows": args.min_rows,
        "max_rows": args.max_rows,
        "folds": args.folds,
        "inner_folds": args.inner_folds,
        "probe_budget": args.probe_budget,
        "seed": args.seed,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(args.checkpoints) / f"recommend_realsize_{digest}.jsonl"


#: How our picks are built and decided; bumped when that changes without the KB or the
#: meta-models changing (2: classifiers built for balanced accuracy predict through
#: ``BalancedPriorClassifier``; 3: the probing race compares unfinished candidates on
#: their common folds).
PICKS_VERSION = 3


def meta_model_key(seed: int, kb_fingerprint: str) -> str:
    """Hash of the task's KB (``kb.fingerprint(task=...)``) and the meta-models' parameters
    behind our methods' cells.

    Baseline cells stay valid when the KB or the default meta-model changes; ours do not, so
    their records carry this key and a record with another key is run again.
    """
    from autometa.metamodel import get_model
    from autometa.metamodel._base import STATE_VERSION

    params = {name: get_model(name, random_state=seed).get_params() for name in ("default", "sbs")}
    params["kb"] = kb_fingerprint
    params["picks"] = PICKS_VERSION
    params["state_version"] = STATE_VERSION
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


def read_checkpoint(
    path: Path, models_key: Mapping[str, str] | None = None
) -> dict[tuple[str, int, str], dict[str, Any]]:
    """Finished cells by (dataset, fold, method); ours only where made by the models key of
    their task (``models_key[task]``)."""
    done: dict[tuple[str, int, str], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill: that cell runs again
                continue
            ours = models_key is not None and rec["method"] in OURS
            if ours and rec.get("models") != models_key.get(rec.get("task")):
                continue
            done[(rec["dataset"], int(rec["fold"]), rec["method"])] = rec
    return done


def append_checkpoint(path: Path, record: Mapping[str, Any]) -> None:
    from autometa._io import append_line

    path.parent.mkdir(parents=True, exist_ok=True)
    append_line(path, json.dumps(record, default=float))


def import_cells(cells_csv: Path, path: Path) -> int:
    """Append the finished cells of an earlier report (its ``cells.csv``) to the checkpoint
    ``path``, skipping cells the checkpoint already holds; returns how many were added.

    For a machine where the (git-ignored) checkpoint is gone but the committed report is
    not: the report's cells come back as they were written, ours with the meta-model key
    they were made with, so they count only while that key is current. The report must
    come from the same settings (corpus, rows, folds, probe budget, seed) as this run.
    """
    if not cells_csv.is_file():
        raise FileNotFoundError(f"--import-cells: no such file {cells_csv}")
    held = read_checkpoint(path)
    frame = pd.read_csv(cells_csv, keep_default_na=False, na_values=[""])
    missing = {"dataset", "fold", "method", "task", "score", "status"} - set(frame.columns)
    if missing:
        raise ValueError(f"--import-cells: {cells_csv} lacks the columns {sorted(missing)}")
    added = 0
    for rec in frame.to_dict("records"):
        record = {k: v for k, v in rec.items() if not (k != "score" and pd.isna(v))}
        record.setdefault("error", "")  # run_cell writes "" for a cell that ran
        for k in WHOLE_COLUMNS:
            if k in record:
                record[k] = int(record[k])
        if (record["dataset"], record["fold"], record["method"]) in held:
            continue
        append_checkpoint(path, record)
        added += 1
    return added


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile 95 % interval of the mean of ``values`` (datasets resampled; the same
    resamples for every vector of the same length and seed, so comparisons are paired)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def dataset_scores(cells: pd.DataFrame) -> pd.DataFrame:
    """(task, dataset) x method: the mean over folds, a failed fold counting as the dummy's
    score on that fold (or, without a dummy, the fold's worst score)."""
    c = cells.copy()
    c["score"] = c["score"].where(c["status"] == "ok")
    key = ["task", "dataset", "fold"]
    fallback = c[c["method"] == DUMMY].set_index(key)["score"]
    worst = c.groupby(key)["score"].min()
    fill = fallback.reindex(worst.index).fillna(worst)
    idx = pd.MultiIndex.from_frame(c[key])
    c["score"] = c["score"].fillna(pd.Series(fill.reindex(idx).to_numpy(), index=c.index))
    table = c.pivot_table(
        index=["task", "dataset"], columns="method", values="score", aggfunc="mean"
    )
    table.columns.name = None
    return table


def _stats(diff: pd.Series, n_boot: int, seed: int, tie: float) -> dict[str, float]:
    d = diff.dropna().to_numpy(dtype=float)
    lo, hi = bootstrap_ci(d, n_boot, seed)
    wins, ties = int((d > tie).sum()), int((np.abs(d) <= tie).sum())
    return {
        "n": len(d),
        "diff": float(d.mean()) if len(d) else np.nan,
        "ci_low": lo,
        "ci_high": hi,
        "wins": wins,
        "ties": ties,
        "losses": len(d) - wins - ties,
        "win_rate": (wins + ties / 2) / len(d) if len(d) else np.nan,
    }


def best_default(scores: pd.DataFrame, yardstick: Sequence[str]) -> pd.Series:
    """Per dataset (rows of one task's ``scores``, methods as columns) the best score of the
    ``yardstick`` methods it has; NaN where it has none."""
    methods = [m for m in yardstick if m in scores.columns]
    return scores[methods].max(axis=1) if methods else pd.Series(np.nan, index=scores.index)


def summarise(
    cells: pd.DataFrame,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    tie: float = TIE,
    yardstick: Mapping[str, Sequence[str]] = YARDSTICK,
    references: Sequence[str] = ("sbs", FLAML_REFERENCE),
) -> dict[str, pd.DataFrame]:
    """The report's tables from the cells (columns task, dataset, fold, method, score,
    seconds, status): ``summary`` (scope x method) and ``comparisons`` (ours minus each
    reference). Scopes: each task, and ``overall`` (the datasets of both tasks pooled)."""
    scores = dataset_scores(cells)
    rows, comps = [], []
    per_scope: dict[str, dict[str, pd.DataFrame]] = {}
    for task in [t for t in BASELINES if t in set(cells["task"])]:
        p = scores.loc[task].dropna(axis=1, how="all")
        best = best_default(p, yardstick.get(task, ()))
        competing = p.drop(columns=[DUMMY], errors="ignore")
        lo, hi = competing.min(axis=1), competing.max(axis=1)
        span = (hi - lo).where(hi > lo)
        norm = competing.sub(lo, axis=0).div(span, axis=0).where(span.notna(), 1.0)
        per_scope[task] = {"score": p, "norm": norm, "diff": p.sub(best, axis=0)}
    if len(per_scope) > 1:  # the methods of every task (logreg and ridge stay per task)
        shared = set.intersection(*(set(s["score"].columns) for s in per_scope.values()))
        per_scope["overall"] = {
            k: pd.concat(
                [s[k][[m for m in s[k].columns if m in shared]] for s in per_scope.values()]
            )
            for k in ("score", "norm", "diff")
        }
    for scope, s in per_scope.items():
        c = cells if scope == "overall" else cells[cells["task"] == scope]
        for method in [m for m in method_order() if m in s["score"].columns]:
            mc = c[c["method"] == method]
            rows.append(
                {
                    "scope": scope,
                    "method": method,
                    "mean_score": s["score"][method].mean(),
                    "mean_normalised": (
                        s["norm"][method].mean() if method in s["norm"] else np.nan
                    ),
                    **{
                        f"{k}_vs_best_default" if k in ("diff", "ci_low", "ci_high") else k: v
                        for k, v in _stats(s["diff"][method], n_boot, seed, tie).items()
                    },
                    "mean_seconds": mc["seconds"].mean(),
                    "failed_cells": int((mc["status"] != "ok").sum()),
                }
            )
        for ref in references:
            if ref not in s["score"].columns:
                continue
            for method in ("top1", "top1_probe", "best_of_5"):
                if method in s["score"].columns and method != ref:
                    comps.append(
                        {
                            "scope": scope,
                            "method": method,
                            "reference": ref,
                            **_stats(s["score"][method] - s["score"][ref], n_boot, seed, tie),
                        }
                    )
    summary = pd.DataFrame(rows).rename(columns={"n": "n_datasets"})
    return {"summary": summary, "comparisons": pd.DataFrame(comps), "scores": scores}


def targets(
    summary: pd.DataFrame, comparisons: pd.DataFrame
) -> list[tuple[str, str, bool | None, str]]:
    """Issue 20's real-size targets per scope: (scope, target, met or None if not measured,
    the numbers)."""
    out = []

    def row(scope, method):
        r = summary[(summary["scope"] == scope) & (summary["method"] == method)]
        return None if r.empty else r.iloc[0]

    def comp(scope, method, ref):
        if comparisons.empty:
            return None
        r = comparisons[
            (comparisons["scope"] == scope)
            & (comparisons["method"] == method)
            & (comparisons["reference"] == ref)
        ]
        return None if r.empty else r.iloc[0]

    def fmt(
        r, value="diff_vs_best_default", lo="ci_low_vs_best_default", hi="ci_high_vs_best_default"
    ):
        return f"{r[value]:+.4f} [{r[lo]:+.4f}, {r[hi]:+.4f}], win rate {r['win_rate']:.0%}"

    for scope in summary["scope"].unique():
        r = row(scope, "top1")
        out.append(
            (
                scope,
                "top-1 zero-shot >= best default (mean) with win rate >= 50 %",
                None
                if r is None
                else bool(r["diff_vs_best_default"] >= 0 and r["win_rate"] >= 0.5),
                "" if r is None else fmt(r),
            )
        )
        for method, margin in (("top1_probe", 0.01), ("best_of_5", 0.02)):
            r = row(scope, method)
            out.append(
                (
                    scope,
                    f"{method} >= best default + {margin}",
                    None if r is None else bool(r["diff_vs_best_default"] >= margin),
                    "" if r is None else fmt(r),
                )
            )
        for ref, name in (
            (FLAML_REFERENCE, "FLAML zero-shot (flaml_auto)"),
            ("sbs", "the KB's single best configuration (sbs)"),
        ):
            for method in ("top1", "top1_probe", "best_of_5"):
                c = comp(scope, method, ref)
                out.append(
                    (
                        scope,
                        f"{method} ahead of {name}",
                        None if c is None else bool(c["diff"] > 0),
                        "" if c is None else fmt(c, "diff", "ci_low", "ci_high"),
                    )
                )
    return out


def _md_table(frame: pd.DataFrame) -> str:
    head = [str(frame.index.name or ""), *map(str, frame.columns)]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(frame.columns)) + "|",
    ]
    for i, row in zip(frame.index, frame.to_numpy()):
        cells = [
            v
            if isinstance(v, str)
            else ""
            if pd.isna(v)
            else f"{v:.3f}"
            if isinstance(v, float)
            else str(v)
            for v in row
        ]
        lines.append("| " + " | ".join([str(i), *cells]) + " |")
    return "\n".join(lines)


def summary_table(summary: pd.DataFrame, scope: str) -> pd.DataFrame:
    s = summary[summary["scope"] == scope].set_index("method")
    out = pd.DataFrame(
        {
            "datasets": s["n_datasets"].astype(int).astype(str),
            "mean score": s["mean_score"].map("{:.4f}".format),
            "mean normalised": s["mean_normalised"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
            "vs best default [95% CI]": [
                f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
                for d, lo, hi in zip(
                    s["diff_vs_best_default"],
                    s["ci_low_vs_best_default"],
                    s["ci_high_vs_best_default"],
                )
            ],
            "W/T/L": [f"{w}/{t}/{lo}" for w, t, lo in zip(s["wins"], s["ties"], s["losses"])],
            "win rate": s["win_rate"].map("{:.0%}".format),
            "s per fold": s["mean_seconds"].map("{:.1f}".format),
            "failed": s["failed_cells"].astype(str),
        },
        index=s.index,
    )
    out.index.name = "method"
    return out


def comparison_table(comparisons: pd.DataFrame, scope: str) -> pd.DataFrame:
    c = comparisons[comparisons["scope"] == scope]
    out = pd.DataFrame(
        {
            "method": c["method"],
            "reference": c["reference"],
            "datasets": c["n"].astype(str),
            "difference [95% CI]": [
                f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
                for d, lo, hi in zip(c["diff"], c["ci_low"], c["ci_high"])
            ],
            "W/T/L": [f"{w}/{t}/{lo}" for w, t, lo in zip(c["wins"], c["ties"], c["losses"])],
            "win rate": c["win_rate"].map("{:.0%}".format),
        }
    ).set_index("method")
    return out


def plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scopes = list(summary["scope"].unique())
    fig, axes = plt.subplots(
        1, len(scopes), figsize=(5.2 * len(scopes), 0.32 * 22 + 1.5), squeeze=False
    )
    for ax, scope in zip(axes[0], scopes):
        s = summary[(summary["scope"] == scope) & (summary["method"] != DUMMY)]
        s = s.iloc[::-1]
        y = np.arange(len(s))
        d = s["diff_vs_best_default"].to_numpy(float)
        err = np.vstack(
            [
                d - s["ci_low_vs_best_default"].to_numpy(float),
                s["ci_high_vs_best_default"].to_numpy(float) - d,
            ]
        )
        colours = [
            "tab:blue" if m in OURS else "tab:orange" if m in FLAML else "tab:gray"
            for m in s["method"]
        ]
        ax.barh(y, d, xerr=err, color=colours, capsize=3)
        ax.set_yticks(y, s["method"])
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{scope} ({int(s['n_datasets'].max())} datasets)")
        ax.set_xlabel("mean difference to the per-dataset best default (95% CI)")
    fig.suptitle("Real-size benchmark: blue = autometa, orange = FLAML zero-shot, grey = defaults")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(
    cells: pd.DataFrame,
    datasets: pd.DataFrame,
    header: Mapping[str, Any],
    out: Path,
    n_boot: int,
    seed: int,
) -> str:
    """Write cells.csv, summary.csv, comparisons.csv, the Markdown and the PNG; return the
    Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    rep = summarise(cells, n_boot=n_boot, seed=seed)
    summary, comparisons = rep["summary"], rep["comparisons"]
    whole = {c: "Int64" for c in WHOLE_COLUMNS if c in cells}
    cells.astype(whole).to_csv(out / "cells.csv", index=False, float_format="%.5f")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.5f")
    comparisons.to_csv(out / "comparisons.csv", index=False, float_format="%.5f")
    plot(summary, out / "recommend_realsize.png")
    lines = ["# Recommendations on real tables at real size (issue 20)", ""]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    lines += [
        "",
        (
            'Yardstick ("best default"): per dataset the best mean score of '
            + "; ".join(f"{t}: {', '.join(m)}" for t, m in YARDSTICK.items())
            + ", chosen on the test folds (an upper bound of one fixed default). "
            f"Ties: differences of at most {TIE}. CIs: bootstrap over datasets, "
            f"{n_boot} resamples, seed {seed}. A failed cell counts as the dummy's "
            "score on its fold. Overall pools the datasets of both tasks (balanced "
            "accuracy and R² differences together)."
        ),
        "",
    ]
    for scope in summary["scope"].unique():
        lines += [f"## {scope}", "", _md_table(summary_table(summary, scope)), ""]
        if not comparisons.empty and (comparisons["scope"] == scope).any():
            lines += [
                f"### {scope}: what the meta-model adds (minus sbs) and against FLAML",
                "",
                _md_table(comparison_table(comparisons, scope)),
                "",
            ]
    lines += _same_pick_md(cells) + _headroom_md(rep["scores"], n_boot, seed)
    lines += _calibration_md(cells, n_boot, seed)
    lines += ["## Targets (issue 20, real-size benchmark)", ""]
    for scope, name, ok, numbers in targets(summary, comparisons):
        flag = "n/a " if ok is None else "PASS" if ok else "FAIL"
        lines.append(f"- {flag} [{scope}] {name}" + (f": {numbers}" if numbers else ""))
    lines += ["", "## Datasets", "", _md_table(datasets.set_index("dataset")), ""]
    failed = cells[cells["status"] != "ok"]
    if len(failed):
        lines += [
            "## Failed cells",
            "",
            "| dataset | fold | method | status | error |",
            "|---|---:|---|---|---|",
        ]
        lines += [
            f"| {r.dataset} | {r.fold} | {r.method} | {r.status} | "
            f"{str(r.error).replace('|', '/')[:160]} |"
            for r in failed.itertuples()
        ]
        lines.append("")
    text = "\n".join(lines) + "\n"
    (out / "recommend_realsize.md").write_text(text)
    return text


def headroom(scores: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per task, how far above the yardstick the per-dataset best of every method run here
    (but the dummy) lies, and the best of our methods, each chosen on the test folds: the
    most any choice among these methods could gain, with its bootstrap interval.
    ``scores``: :func:`dataset_scores`."""
    rows = []
    for task, frame in scores.groupby(level="task"):
        best = best_default(frame, YARDSTICK.get(str(task), ()))
        if best.isna().all():
            continue
        pools = {
            "every method": [m for m in frame if m != DUMMY],
            "ours": [m for m in OURS if m in frame],
        }
        for name, methods in pools.items():
            diff = (frame[methods].max(axis=1) - best).dropna().to_numpy(dtype=float)
            lo, hi = bootstrap_ci(diff, n_boot, seed)
            rows.append(
                {
                    "task": task,
                    "pool": name,
                    "datasets": len(diff),
                    "diff": diff.mean(),
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows)


def _headroom_md(scores: pd.DataFrame, n_boot: int, seed: int) -> list[str]:
    room = headroom(scores, n_boot, seed)
    if room.empty:
        return []
    lines = [
        "## Headroom",
        "",
        (
            "Per dataset the best mean score of a pool of methods, chosen on the test folds "
            "(an oracle no method can beat by choosing among them), minus the best default:"
        ),
        "",
        "| task | pool | datasets | vs best default [95% CI] |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {r.task} | {r.pool} | {r.datasets} | {r.diff:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] |"
        for r in room.itertuples()
    ]
    return lines + [""]


def _same_pick_md(cells: pd.DataFrame) -> list[str]:
    """How often the meta-model's first pick is the single best configuration."""
    if "config_id" not in cells or not {"top1", "sbs"} <= set(cells["method"]):
        return []
    pick = cells[cells["method"].isin(["top1", "top1_probe", "sbs"])].pivot_table(
        index=["task", "dataset", "fold"], columns="method", values="config_id", aggfunc="first"
    )
    lines = ["## First pick equal to the single best configuration", ""]
    for task, p in pick.groupby(level="task"):
        parts = [f"top1 {float((p['top1'] == p['sbs']).mean()):.0%}"]
        if "top1_probe" in p:
            parts.append(f"top1_probe {float((p['top1_probe'] == p['sbs']).mean()):.0%}")
        lines.append(f"- {task}: " + ", ".join(parts) + f" of {len(p)} folds")
    return lines + [""]


#: Issue 20's calibration targets: the share of outcomes within 1 and 2 predicted stds.
COVERAGE_TARGETS = {1: (0.60, 0.75), 2: (0.90, 1.00)}


def calibration(
    cells: pd.DataFrame,
    methods: Sequence[str] = ("top1",),
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """How the picks' ``predicted_score ± predicted_std`` held on the test folds, per task
    and method (by default the zero-shot pick's: what ``recommend`` promises before it
    measures anything): cells with a prediction, the share of test scores within one and
    two predicted stds (with 95 % intervals from resampling datasets: a table's folds share
    its prediction and are not independent), the mean error (test minus predicted) and the
    mean predicted std."""
    need = {"predicted_score", "predicted_std"}
    if not need <= set(cells.columns):
        return pd.DataFrame()
    c = cells[(cells["status"] == "ok") & cells["method"].isin(methods)]
    c = c.dropna(subset=["score", *need])
    c = c[c["predicted_std"] > 0]
    if c.empty:
        return pd.DataFrame()
    z = (c["score"] - c["predicted_score"]).abs() / c["predicted_std"]
    c = c.assign(within_1=z <= 1, within_2=z <= 2, error=c["score"] - c["predicted_score"])
    order = {m: i for i, m in enumerate(methods)}
    out = (
        c.groupby(["task", "method"])
        .agg(
            cells=("score", "size"),
            datasets=("dataset", "nunique"),
            within_1=("within_1", "mean"),
            within_2=("within_2", "mean"),
            mean_error=("error", "mean"),
            mean_std=("predicted_std", "mean"),
        )
        .reset_index()
    )
    per_dataset = c.groupby(["task", "method", "dataset"])[["within_1", "within_2"]].mean()
    for k in (1, 2):
        intervals = {
            key: bootstrap_ci(group[f"within_{k}"].to_numpy(), n_boot, seed)
            for key, group in per_dataset.groupby(level=["task", "method"])
        }
        keys = zip(out["task"], out["method"], strict=True)
        out[[f"within_{k}_lo", f"within_{k}_hi"]] = [intervals[key] for key in keys]
    out["place"] = out["method"].map(order)
    return out.sort_values(["task", "place"]).drop(columns="place").reset_index(drop=True)


def _calibration_md(cells: pd.DataFrame, n_boot: int, seed: int) -> list[str]:
    cal = calibration(cells, ("top1", "top1_probe"), n_boot, seed)
    if cal.empty:
        return []
    lines = [
        "## Calibration at real size",
        "",
        "Each pick's `predicted_score ± predicted_std` (what `recommend` promises for the "
        "training part's rows; with probing, updated with what the race measured of the "
        "pick) against its score on the test fold. Issue 20's targets: "
        + ", ".join(
            f"±{k} std covers {lo:.0%}-{hi:.0%}" for k, (lo, hi) in COVERAGE_TARGETS.items()
        )
        + " (on held-out families: `benchmarks/recommend_lodo.py`).",
        "",
    ]
    table = pd.DataFrame(
        {
            "method": cal["method"].to_numpy(),
            "cells": cal["cells"].to_numpy(),
            **{
                f"within ±{k} std [95% CI]": [
                    f"{r[f'within_{k}']:.0%} [{r[f'within_{k}_lo']:.0%}, {r[f'within_{k}_hi']:.0%}]"
                    for _, r in cal.iterrows()
                ]
                for k in (1, 2)
            },
            "mean error": cal["mean_error"].map("{:+.4f}".format).to_numpy(),
            "mean std": cal["mean_std"].map("{:.4f}".format).to_numpy(),
        },
        index=pd.Index(cal["task"], name="task"),
    )
    lines += [_md_table(table), ""]
    (lo1, hi1), (lo2, _) = COVERAGE_TARGETS[1], COVERAGE_TARGETS[2]
    names = {"top1": "top1 zero-shot", "top1_probe": "top1 with probing"}
    for r in cal.itertuples():
        ok = lo1 <= r.within_1 <= hi1 and r.within_2 >= lo2
        lines.append(
            f"- {'PASS' if ok else 'FAIL'} [{r.task}] {names[r.method]}: ±1 std covers "
            f"{r.within_1:.0%} [{r.within_1_lo:.0%}, {r.within_1_hi:.0%}], ±2 std "
            f"{r.within_2:.0%} [{r.within_2_lo:.0%}, {r.within_2_hi:.0%}] of {r.cells} test "
            f"folds ({r.datasets} datasets)"
        )
    return lines + [""]


def dataset_table(cells: pd.DataFrame, kb: Any) -> pd.DataFrame:
    """One row per benchmarked table: corpus, family, rows (all / used), features, classes
    and how many knowledge-base datasets its family removed."""
    from autometa.metamodel._families import dataset_family

    cols = [
        c
        for c in ("task", "dataset", "corpus", "family", "rows", "n_rows", "features", "classes")
        if c in cells
    ]
    t = cells[cols].drop_duplicates("dataset").rename(columns={"n_rows": "rows used"})
    families = pd.Series([dataset_family(d) for d in kb.datasets().index]).value_counts()
    t["KB datasets removed"] = t["family"].map(families).fillna(0).astype(int)
    if "classes" in t:
        t["classes"] = t["classes"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return t.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", nargs="+", default=["classification", "regression"], choices=list(BASELINES)
    )
    parser.add_argument("--n-datasets", type=int, default=10, help="tables per task")
    parser.add_argument("--min-rows", type=int, default=1000)
    parser.add_argument(
        "--max-rows", type=int, default=20000, help="cap (stratified, seeded subsample)"
    )
    parser.add_argument("--folds", type=int, default=5, help="outer cross-validation folds")
    parser.add_argument("--inner-folds", type=int, default=3, help="best_of_5's inner CV folds")
    parser.add_argument(
        "--probe-budget",
        type=float,
        default=30.0,
        help="top1_probe's probe_budget (seconds per recommend call)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=method_order(),
        metavar="METHOD",
        help="a subset of the methods, space-separated (default: all that can run): "
        + ", ".join(method_order()),
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=3600.0,
        help="seconds one (dataset, fold, method) cell may take, 0 for no "
        "limit (a cell past it is reported as a timeout)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="cells run at once (each in its own process, written to the one checkpoint); "
        "at most the cores: the probing race's budget is wall time",
    )
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--kb", default=None, help="knowledge-base directory (default: shipped)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=RESULTS / "recommend_realsize")
    parser.add_argument("--checkpoints", type=Path, default=RESULTS / ".checkpoints")
    parser.add_argument(
        "--import-cells",
        type=Path,
        default=None,
        metavar="CSV",
        help="first add the cells of an earlier report made with the same settings (its "
        "cells.csv) to the checkpoint, e.g. where the checkpoint is gone",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write the report from the checkpoint; run nothing",
    )
    args = parser.parse_args(argv)
    if args.n_jobs < 1:
        parser.error(f"--n-jobs must be at least 1, got {args.n_jobs}")

    from tqdm import tqdm

    import autometa
    from autometa.batch import subsample
    from autometa.kb import KnowledgeBase

    wall = time.perf_counter()
    kb = KnowledgeBase.load(args.kb)
    flaml_available, flaml_note = flaml_methods()
    checkpoint = checkpoint_path(args)
    if args.import_cells is not None:
        added = import_cells(args.import_cells, checkpoint)
        print(f"imported {added} cells from {args.import_cells} into {checkpoint}", file=sys.stderr)
    models_key = {t: meta_model_key(args.seed, kb.fingerprint(task=t)) for t in args.tasks}
    done = read_checkpoint(checkpoint, models_key)
    resumed = len(done)
    selected = {
        t: select_datasets(args.corpus, t, args.n_datasets, args.min_rows, args.seed)
        for t in args.tasks
    }
    methods = {
        t: [
            m
            for m in method_order(t)
            if (m not in FLAML or m in flaml_available)
            and (args.methods is None or m in args.methods or m == DUMMY)
        ]
        for t in args.tasks
    }
    total = sum(len(selected[t]) * args.folds * len(methods[t]) for t in args.tasks)
    todo = sum(
        1
        for t in args.tasks
        for name in selected[t]["name"]
        for f in range(args.folds)
        for m in methods[t]
        if (name, f, m) not in done
    )
    print(f"{total} cells ({total - todo} in {checkpoint}); {flaml_note}", file=sys.stderr)
    cache = args.checkpoints / "recommend_realsize_models"
    if not args.report_only and args.n_jobs > 1:
        prefit_held_out_models(kb, _tables_to_fit(selected, methods, done, args), args, cache)
    timeout = args.cell_timeout if args.cell_timeout > 0 else None
    bar = tqdm(
        total=total, initial=total - todo, unit="cell", disable=args.report_only or todo == 0
    )

    def record_cell(about: dict[str, Any], fold: int, method: str, out: dict) -> None:
        record = {**about, "fold": fold, "method": method, "score": np.nan, **out}
        if method in OURS:
            record["models"] = models_key[about["task"]]
        append_checkpoint(checkpoint, record)
        done[(about["dataset"], fold, method)] = record
        bar.update()

    for task in args.tasks:
        for row in selected[task].itertuples():
            pending = [
                (f, m)
                for f in range(args.folds)
                for m in methods[task]
                if (row.name, f, m) not in done
            ]
            if args.report_only or not pending:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                full = autometa.load_dataset(row.path, target="target")
                dataset = subsample(full, args.max_rows, args.seed)
            about = {
                "task": task,
                "dataset": row.name,
                "corpus": row.corpus,
                "family": row.family,
                "rows": len(full.y),
                "n_rows": len(dataset.y),
                "features": dataset.X.shape[1],
                "classes": dataset.n_classes,
            }
            ctx: dict[str, Any] = {
                "dataset": dataset,
                "folds": make_folds(dataset.y, task, args.folds, args.seed),
            }
            if any(m in OURS for _, m in pending):
                bar.set_description(f"{row.name}: meta-models")
                ctx["kb"], ctx["models"] = held_out_models(kb, task, row.family, args.seed, cache)
            for fold in [f for f, m in pending if m == DUMMY]:  # quick, and in this process
                try:
                    out = run_cell(DUMMY, ctx, fold, args)
                except Exception as exc:  # noqa: BLE001
                    out = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                record_cell(about, fold, DUMMY, out)
            bar.set_description(f"{row.name}: {args.n_jobs} cell(s) at a time")
            jobs = [
                ((f, m), lambda m=m, f=f, c=ctx: run_cell(m, c, f, args))
                for f, m in pending
                if m != DUMMY
            ]
            for (fold, method), out in isolated_all(jobs, timeout, args.n_jobs):
                record_cell(about, fold, method, out)
    bar.close()

    names = {(t, n) for t in args.tasks for n in selected[t]["name"]}
    cells = pd.DataFrame(
        [
            r
            for (n, f, m), r in done.items()
            if (r["task"], n) in names and f < args.folds and m in methods[r["task"]]
        ]
    )
    if cells.empty:
        print("no finished cells to report", file=sys.stderr)
        return 1
    missing = total - len(cells)
    datasets = dataset_table(cells, kb)
    header = {
        "command": "python benchmarks/recommend_realsize.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "knowledge base": f"{kb.path} (fingerprint {kb.fingerprint()}), each dataset's family "
        "removed",
        "datasets": ", ".join(f"{t}: {len(selected[t])}" for t in args.tasks)
        + f" (>= {args.min_rows} rows, at most {args.max_rows} used)",
        "folds": f"{args.folds} outer (stratified for classification, seed {args.seed}); "
        f"best_of_5: {args.inner_folds}-fold inner CV; "
        f"probe_budget {args.probe_budget:g} s",
        "FLAML": flaml_note,
        "cells": f"{len(cells)} of {total}"
        + (f" ({missing} not run yet: partial report)" if missing else ""),
        "compute": f"{cells['seconds'].sum() / 3600:.2f} h of cell time on one core; this "
        f"invocation {time.perf_counter() - wall:.0f} s"
        + (f" (resumed: {resumed} cells from the checkpoint)" if resumed else ""),
    }
    write_report(cells, datasets, header, args.out, args.n_boot, args.seed)
    rep = summarise(cells, n_boot=args.n_boot, seed=args.seed)
    for scope in rep["summary"]["scope"].unique():
        print(f"\n== {scope} ==")
        print(summary_table(rep["summary"], scope).to_string())
        if not rep["comparisons"].empty:
            print(comparison_table(rep["comparisons"], scope).to_string())
    print("\nTargets (issue 20):")
    for scope, name, ok, numbers in targets(rep["summary"], rep["comparisons"]):
        print(
            f"  {'n/a ' if ok is None else 'PASS' if ok else 'FAIL'} [{scope}] {name}"
            + (f": {numbers}" if numbers else "")
        )
    print(
        f"\nwrote {args.out}/recommend_realsize.md "
        "(+ .png, cells.csv, summary.csv, comparisons.csv)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
