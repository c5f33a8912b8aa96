"""The ``autometa`` command line: thin wrappers that parse, call the library, print with rich.

Each command lives in this file as one small function, with its options and help; what the
commands share (the command group, the warning format, ``fit``'s input table, ``tune``'s
progress line) is in :mod:`autometa._cli_support`. Commands that are not built yet are
simply not registered.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

import autometa
from autometa._cli_support import (
    AutometaGroup,
    TuneProgress,
    default_checkpoint,
    print_study,
    raw_table,
    readable_warnings,
)

app = typer.Typer(
    name="autometa",
    help="Meta-learning recommendations for tabular machine learning.",
    no_args_is_help=True,
    add_completion=False,
    cls=AutometaGroup,
)
console = Console()

TASK_HELP = (
    "classification or regression (default: inferred; an integer target with at "
    "most 30 distinct values is classification)."
)


def _recommend(dataset: Any, **kwargs: Any) -> Any:
    """``autometa.recommend``, its NoveltyWarning left to the table's caption (or the
    stderr lines of ``--json``), which show every note of the recommendations once."""
    from autometa.recommendation import NoveltyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoveltyWarning)
        return autometa.recommend(dataset, **kwargs)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"autometa {autometa.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error instead of one line."
    ),
) -> None:
    """Meta-learning recommendations for tabular machine learning."""
    # entered for the whole command: the group's context closes after the command ran
    ctx.with_resource(readable_warnings())


@app.command()
def describe(
    source: str = typer.Argument(..., help="File, directory entry or openml:<id> to load."),
    target: str = typer.Option(None, "--target", "-t", help="Target column."),
) -> None:
    """Load a dataset and print its summary (rows, features, task, categorical columns)."""
    dataset = autometa.load_dataset(source, target=target)
    console.print(dataset.summary())


@app.command()
def demo(
    k: int = typer.Option(5, "-k", help="Number of recommendations."),
) -> None:
    """Recommend pipelines for scikit-learn's breast-cancer table with the shipped knowledge base."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    dataset = autometa.load_dataset(frame, target="target", name="breast_cancer (scikit-learn)")
    console.print(dataset.summary())
    recommendations = _recommend(dataset, k=k)
    console.print(recommendations)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score

    best = recommendations[0]
    # Iterative learners (mlp, logistic regression, svm) stop at the configured iteration
    # limit here as they did in the knowledge base; one line says so instead of a warning
    # per fold.
    with (
        warnings.catch_warnings(record=True) as caught,
        console.status(f"cross-validating #1 {best.algorithm} on this table (5 folds)"),
    ):
        warnings.simplefilter("always", ConvergenceWarning)
        scores = cross_val_score(
            best.make_pipeline(), dataset.X, dataset.y, cv=5, scoring="balanced_accuracy"
        )
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    console.print(
        f"#1 {best.algorithm}, cross-validated here (5 folds): balanced_accuracy "
        f"{scores.mean():.4f} ± {scores.std():.4f}"
    )
    if unconverged:
        console.print(
            f"({unconverged} fits stopped at the configuration's iteration limit "
            "before converging, as in the knowledge base)"
        )


@app.command()
def batch(
    suite: list[str] = typer.Option(
        ...,
        "--suite",
        "-s",
        help="dir:PATH, openml-suite:ID|NAME or openml-task:ID,ID,"
        "...; repeat to interleave several suites.",
    ),
    kb: Path = typer.Option(..., "--kb", help="Knowledge-base directory to create or extend."),
    configs: int = typer.Option(100, "--configs", help="Portfolio size per task type."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    repeats: int = typer.Option(
        1, "--repeats", help="Repeated cross-validation; rerun with more to add repeats."
    ),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", help="Subsample larger datasets."),
    n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Local worker processes."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="dask.distributed scheduler address."
    ),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Seconds per evaluation."),
    memory_limit: float = typer.Option(4096, "--memory-limit", help="MB per evaluation."),
    seed: int = typer.Option(0, "--seed", help="Seed of portfolio, subsamples and folds."),
    top_configs: Optional[int] = typer.Option(
        None,
        "--top-configs",
        help="Extend to a larger --max-rows: only the algorithm defaults and each dataset's "
        "N best configurations at its smallest size on record.",
    ),
    target: Optional[str] = typer.Option(
        None,
        "--target",
        "-t",
        help="Target column of every table of the suite (default: the corpus manifest's, "
        "or a column named 'target').",
    ),
    include_optional: bool = typer.Option(
        False,
        "--include-optional",
        help="Also evaluate the default of each optional algorithm (the few-shot learner, "
        "where torch is installed) on the datasets it applies to; pass it again to resume.",
    ),
    include_balanced: bool = typer.Option(
        False,
        "--include-balanced",
        help="Also evaluate the class-weighted (class_weight='balanced') default of every "
        "classifier that has one; pass it again to resume.",
    ),
    include_library: bool = typer.Option(
        False,
        "--include-library",
        help="Also evaluate scikit-learn's own regression defaults of the forests and "
        "gradient boosting on ordinal codes; pass it again to resume.",
    ),
    retry: list[str] = typer.Option(
        [],
        "--retry",
        help="Evaluate again what failed with this status (error, timeout, memory; repeat "
        "the option for several), e.g. after a fix or with a longer --time-limit.",
    ),
) -> None:
    """Evaluate the configuration portfolio on every dataset of a suite into a knowledge base.

    Interrupt it at any time; running the same command again resumes where it stopped.
    """
    from autometa import batch as batch_module

    summary = batch_module.run(
        suite,
        kb,
        configs=configs,
        cv=cv,
        repeats=repeats,
        max_rows=max_rows,
        n_jobs=n_jobs,
        scheduler=scheduler,
        time_limit=time_limit,
        memory_limit_mb=memory_limit,
        random_state=seed,
        top_configs=top_configs,
        target=target,
        include_optional=include_optional,
        retry=tuple(retry),
        include_balanced=include_balanced,
        include_library=include_library,
    )
    console.print(f"{summary.n_evaluations} evaluations in {summary.seconds:.0f} s into {kb}")


@app.command()
def recommend(
    source: str = typer.Argument(..., help="File or openml:<id> to recommend for."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target column."),
    task: Optional[str] = typer.Option(None, "--task", help=TASK_HELP),
    k: int = typer.Option(5, "-k", help="Number of recommendations."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric to rank by."),
    model: str = typer.Option(
        "default", "--model", help="Meta-model (default, knn, portfolio, ...)."
    ),
    kb: Optional[Path] = typer.Option(None, "--kb", help="Knowledge-base directory."),
    time_budget: Optional[float] = typer.Option(
        None, "--time-budget", help="Seconds one final fit may take."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print JSON (Recommendations.from_json reads it) instead "
        "of a table; notes go to stderr.",
    ),
    report: Optional[Path] = typer.Option(
        None,
        "--report",
        help="Also write a self-contained HTML page (table, plot, evidence) to this file.",
    ),
) -> None:
    """Rank the knowledge base's configurations for a dataset."""
    if report is not None and not report.expanduser().parent.is_dir():
        from autometa.errors import InvalidParameterError

        raise InvalidParameterError(
            f"--report {report}: directory {report.expanduser().parent} does not exist"
        )
    dataset = autometa.load_dataset(source, target=target, task=task)
    recs = _recommend(dataset, k=k, metric=metric, model=model, kb=kb, time_budget=time_budget)
    if as_json:
        typer.echo(recs.to_json())
        for note in recs.warnings:  # the table shows them in its caption
            typer.echo(f"warning: {note}", err=True)
    else:
        console.print(recs)
    if report is not None:
        recs.to_html(report)
        typer.echo(f"report written to {report}", err=True)


EVALUATE_LEGEND = """\
Columns (scores normalised per dataset: 1 = its best configuration (oracle), 0 = the median):
  gap_closed          share of the gap from the single best configuration (SBS) to the oracle
                      closed by the best of the model's top k (1 = oracle, 0 = no better than SBS)
  gap_closed_se       its standard error (bootstrap over held-out folds)
  gap_closed_raw      the same on the raw metric (ASlib's convention); unstable: a few extreme
                      raw scores (R2 far below 0) or an SBS close to the oracle make it huge
                      either way, so read gap_closed
  normalised_regret   mean of 1 - normalised score of the best of the top k (0 = oracle)
  mean_rank           mean rank of the best of the top k among all configurations (1 = best)
  failed_pick_rate    share of the k picks that failed on the dataset (timeout, memory, error)
  reference_minus_model[_se]  default's gap_closed minus this model's (> 0: default is better)
  coverage_1sd/_2sd   share of the top-5 picks' held-out scores within 1/2 predicted standard
                      deviations of the predicted score (calibration; n_coverage of them;
                      mean_std: those deviations' mean, in the metric's units)
  n_datasets, n_folds held-out datasets and folds; weighting: what each average counts once"""


@app.command("evaluate-metamodels", epilog=EVALUATE_LEGEND)
def evaluate_metamodels_command(
    task: str = typer.Option(..., "--task", help="classification or regression."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric (default per task)."),
    kb: Optional[Path] = typer.Option(None, "--kb", help="Knowledge-base directory."),
    models: str = typer.Option(
        "default,forest,knn,portfolio,ranker,sbs,random,flaml",
        "--models",
        help="Comma-separated meta-models.",
    ),
    ks: str = typer.Option("1,3,5,10", "--ks", help="Comma-separated k of best-of-k."),
    n_folds: Optional[int] = typer.Option(
        None,
        "--n-folds",
        help="Deal dataset families into this many folds (default: one fold per family).",
    ),
    weighting: str = typer.Option(
        "dataset",
        "--weighting",
        help="dataset: every held-out dataset counts once; fold: "
        "every held-out fold (family) counts once.",
    ),
    checkpoint: Optional[Path] = typer.Option(
        None,
        "--checkpoint",
        help="JSON-lines file recording finished folds; "
        "run again with it to resume (default: one "
        "per evaluation in the cache directory).",
    ),
    no_checkpoint: bool = typer.Option(
        False, "--no-checkpoint", help="Record nothing: an interrupted run starts over."
    ),
) -> None:
    """Grouped leave-one-dataset-out benchmark of the meta-models on a knowledge base.

    Each held-out fold refits every model: on the shipped knowledge base all families take
    about 30 minutes on 2 cores; --n-folds 5 --models sbs,knn gives a quick look. Finished
    folds are recorded, so an interrupted run resumes when the same command runs again.
    """
    from autometa._constants import check_task
    from autometa.kb import KnowledgeBase

    check_task(task)  # before anything is printed or a checkpoint folder is made
    knowledge_base = KnowledgeBase.load(kb)
    names = tuple(m.strip() for m in models.split(",") if m.strip())
    k_values = tuple(int(v) for v in ks.split(","))
    if no_checkpoint:
        checkpoint = None
    elif checkpoint is None:
        checkpoint = default_checkpoint(knowledge_base, task, metric, names, k_values, n_folds)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
    n_datasets = len(knowledge_base.datasets(task)) if task in knowledge_base.tasks else 0
    folds = f"{n_folds} held-out folds" if n_folds else "one held-out fold per dataset family"
    typer.echo(
        f"evaluating {len(names)} meta-models on {n_datasets} {task} datasets, {folds}; "
        "the bar shows the time left after the first fold"
        + (f"; finished folds are kept in {checkpoint} (rerun to resume)" if checkpoint else ""),
        err=True,
    )
    table = autometa.evaluate_recommender(
        knowledge_base,
        task=task,
        metric=metric,
        models=names,
        ks=k_values,
        n_folds=n_folds,
        weighting=weighting,
        progress=True,
        checkpoint=checkpoint,
    )
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"\n{EVALUATE_LEGEND}", err=True)


def _deprecated_alias(old: str, new: str, command: Callable[..., None]) -> Callable[..., None]:
    """``command`` under its former name ``old``: the same options and help, and one line on
    stderr saying to use ``new``."""

    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def alias(**kwargs: Any) -> None:
        typer.echo(f"`autometa {old}` is deprecated; use `autometa {new}`", err=True)
        command(**kwargs)

    return alias


# `autometa evaluate` read as the module autometa.evaluate (which cross-validates one
# configuration); the old name stays, hidden, for scripts that use it
app.command("evaluate", hidden=True, epilog=EVALUATE_LEGEND)(
    _deprecated_alias("evaluate", "evaluate-metamodels", evaluate_metamodels_command)
)


@app.command("tune")
def tune_command(
    source: str = typer.Argument(..., help="File or openml:<id> to tune a pipeline for."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target column."),
    task: Optional[str] = typer.Option(None, "--task", help=TASK_HELP),
    trials: int = typer.Option(50, "--trials", "-n", help="Trials in the study (its budget)."),
    warm_start: int = typer.Option(
        10, "--warm-start", "-w", help="Top recommendations tried first (0: cold start)."
    ),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric to optimise."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    storage: Optional[str] = typer.Option(
        None,
        "--storage",
        help="Optuna storage: sqlite:///tune.db, a database "
        "URL or journal:FILE (default: in memory).",
    ),
    study_name: Optional[str] = typer.Option(
        None, "--study-name", help="Study to create or continue."
    ),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", help="Stop starting trials after this many seconds."
    ),
    n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Trials evaluated at once."),
    time_limit: float = typer.Option(300.0, "--time-limit", help="Seconds per trial."),
    kb: Optional[Path] = typer.Option(None, "--kb", help="Knowledge-base directory."),
    seed: int = typer.Option(0, "--seed", help="Seed of sampler, folds and estimators."),
) -> None:
    """Tune a pipeline with Optuna, starting from the top recommendations.

    With --storage the study is resumable (run the same command again) and several
    processes or machines can work on it at once; optuna-dashboard and optuna.load_study
    read it as any Optuna study.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = autometa.load_dataset(source, target=target, task=task)
    progress = TuneProgress(console, dataset.name, trials)
    with progress.live:
        study = autometa.tune(
            dataset,
            n_trials=trials,
            n_warm_start=warm_start,
            metric=metric,
            cv=cv,
            storage=storage,
            study_name=study_name,
            timeout=timeout,
            n_jobs=n_jobs,
            random_state=seed,
            kb=kb,
            time_limit=time_limit,
            callbacks=[progress],
        )
    if not console.is_terminal:
        console.line()
    if not print_study(console, study, storage):
        raise typer.Exit(1)


@app.command("fit")
def fit_command(
    source: str = typer.Argument(
        ..., help="Data file (CSV, TSV, ARFF, Parquet) or openml:<id> to fit on."
    ),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target column."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write (.skops)."),
    time_budget: Optional[float] = typer.Option(
        None,
        "--time-budget",
        help="Seconds the whole fit may take, refit included (default: fit the first "
        "recommendation without evaluating).",
    ),
    probe_budget: Optional[float] = typer.Option(
        None,
        "--probe-budget",
        help="Without --time-budget: seconds to measure probes and race the top five "
        "recommendations on the data before fitting the winner.",
    ),
    task: Optional[str] = typer.Option(None, "--task", help=TASK_HELP),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric to optimise."),
    k: int = typer.Option(5, "-k", help="Recommendations raced."),
    no_ensemble: bool = typer.Option(
        False, "--no-ensemble", help="Refit the best single model, not an ensemble."
    ),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Evaluations run at once."),
    kb: Optional[Path] = typer.Option(None, "--kb", help="Knowledge-base directory."),
    seed: int = typer.Option(0, "--seed", help="Seed of folds, sampler and estimators."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
) -> None:
    """Fit an AutoClassifier or AutoRegressor within a time budget and save it.

    Progress goes to stderr; the model file is written atomically (an interrupted run
    leaves no partial file). Predict with: autometa predict MODEL DATA -o predictions.csv
    """
    from autometa._constants import check_task
    from autometa.data import infer_task

    check_task(task, allow_none=True)
    X, y = raw_table(source, target)
    task = task or infer_task(y.dropna())
    estimator = (autometa.AutoClassifier if task == "classification" else autometa.AutoRegressor)(
        time_budget=time_budget,
        probe_budget=probe_budget,
        metric=metric,
        k=k,
        kb=kb,
        ensemble=not no_ensemble,
        cv=cv,
        n_jobs=n_jobs,
        random_state=seed,
        verbose=0 if quiet else 1,
    )
    estimator.fit(X, y)
    path = estimator.save(output)
    board = estimator.leaderboard_[["source", "algorithm", "status", "score", "weight"]]
    console.print(
        board.head(10).to_string(float_format=lambda v: f"{v:.4f}"), highlight=False, markup=False
    )
    console.print(
        f"{type(estimator).__name__} -> {estimator._summary()}; fitted in "
        f"{estimator.fit_time_:.1f} s; saved to {path}",
        highlight=False,
        markup=False,
    )


@app.command("predict")
def predict_command(
    model_file: Path = typer.Argument(..., help="Model file written by autometa fit."),
    source: Path = typer.Argument(
        ..., help="Data file with the model's feature columns (other columns are ignored)."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="CSV file to write (default: stdout)."
    ),
    proba: bool = typer.Option(
        False, "--proba", help="Also write one probability column per class."
    ),
) -> None:
    """Predict with a saved model: one row per input row, the prediction column named
    after the target."""
    import pandas as pd

    from autometa._io import write_atomic
    from autometa.data._files import read_table
    from autometa.errors import DataValidationError

    model = autometa.load_model(model_file)
    frame, _ = read_table(source)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise DataValidationError(f"{source} lacks the model's feature columns {missing[:10]}")
        frame = frame[list(names)]
    column = getattr(model, "_target_name", None) or "prediction"
    out = pd.DataFrame({column: model.predict(frame)})
    if proba:
        if not hasattr(model, "predict_proba"):
            raise DataValidationError("--proba needs a classifier; this model is a regressor")
        for label, values in zip(model.classes_, model.predict_proba(frame).T):
            out[f"proba_{label}"] = values
    if output is None:
        typer.echo(out.to_csv(index=False), nl=False)
        return
    # written next to the target and renamed over it: never a half-written file
    write_atomic(output, lambda tmp: out.to_csv(tmp, index=False))
    console.print(f"{len(out)} predictions written to {output}", highlight=False, markup=False)


def run(argv: list[str] | None = None) -> None:
    """The ``autometa`` console script: :data:`app`, with a problem in what the user gave
    (a missing column, an unknown model, an unreadable file: any
    :class:`~autometa.errors.AutometaError`) reported as one ``error:`` line on stderr and
    exit status 2 instead of a traceback. Bugs still show their traceback."""
    import sys

    from autometa.errors import AutometaError

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=args, prog_name="autometa")
    except AutometaError as error:
        if "--debug" in args:
            raise
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    run()
