"""The ``autometa`` command line: thin wrappers that parse, call the library, print with rich.

Each command lives in this file as one small function; commands that are not built yet are
simply not registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

import autometa

app = typer.Typer(
    name="autometa",
    help="Meta-learning recommendations for tabular machine learning.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"autometa {autometa.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error instead of one line."),
) -> None:
    """Meta-learning recommendations for tabular machine learning."""


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
    recommendations = autometa.recommend(dataset, k=k)
    console.print(recommendations)
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score

    best = recommendations[0]
    # Iterative learners (mlp, logistic regression, svm) stop at the configured iteration
    # limit here as they did in the knowledge base; one line says so instead of a warning
    # per fold.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        scores = cross_val_score(best.make_pipeline(), dataset.X, dataset.y, cv=5,
                                 scoring="balanced_accuracy")
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    console.print(f"#1 {best.algorithm}, cross-validated here (5 folds): balanced_accuracy "
                  f"{scores.mean():.4f} ± {scores.std():.4f}")
    if unconverged:
        console.print(f"({unconverged} fits stopped at the configuration's iteration limit "
                      "before converging, as in the knowledge base)")


@app.command()
def batch(
    suite: list[str] = typer.Option(..., "--suite", "-s",
                                    help="dir:PATH, openml-suite:ID|NAME or openml-task:ID,ID,"
                                         "...; repeat to interleave several suites."),
    kb: Path = typer.Option(..., "--kb", help="Knowledge-base directory to create or extend."),
    configs: int = typer.Option(100, "--configs", help="Portfolio size per task type."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    repeats: int = typer.Option(1, "--repeats",
                                help="Repeated cross-validation; rerun with more to add repeats."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", help="Subsample larger datasets."),
    n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Local worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="dask.distributed scheduler address."),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Seconds per evaluation."),
    memory_limit: float = typer.Option(4096, "--memory-limit", help="MB per evaluation."),
    seed: int = typer.Option(0, "--seed", help="Seed of portfolio, subsamples and folds."),
    top_configs: Optional[int] = typer.Option(
        None, "--top-configs",
        help="Extend to a larger --max-rows: only the algorithm defaults and each dataset's "
             "N best configurations at its smallest size on record."),
) -> None:
    """Evaluate the configuration portfolio on every dataset of a suite into a knowledge base.

    Interrupt it at any time; running the same command again resumes where it stopped.
    """
    from autometa import batch as batch_module

    summary = batch_module.run(
        suite, kb, configs=configs, cv=cv, repeats=repeats, max_rows=max_rows, n_jobs=n_jobs,
        scheduler=scheduler, time_limit=time_limit, memory_limit_mb=memory_limit,
        random_state=seed, top_configs=top_configs,
    )
    console.print(f"{summary.n_evaluations} evaluations in {summary.seconds:.0f} s into {kb}")


@app.command()
def recommend(
    source: str = typer.Argument(..., help="File or openml:<id> to recommend for."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target column."),
    k: int = typer.Option(5, "-k", help="Number of recommendations."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric to rank by."),
    model: str = typer.Option("default", "--model", help="Meta-model (default, knn, portfolio, ...)."),
    kb: Optional[Path] = typer.Option(None, "--kb", help="Knowledge-base directory."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget",
                                                help="Seconds one final fit may take."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Rank the knowledge base's configurations for a dataset."""
    import json

    recs = autometa.recommend(source, target=target, k=k, metric=metric, model=model, kb=kb,
                              time_budget=time_budget)
    if as_json:
        typer.echo(json.dumps(recs.to_dict(), indent=1, default=str))
    else:
        console.print(recs)


@app.command("evaluate")
def evaluate_command(
    task: str = typer.Option(..., "--task", help="classification or regression."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric (default per task)."),
    kb: Optional[Path] = typer.Option(None, "--kb", help="Knowledge-base directory."),
    models: str = typer.Option("default,forest,knn,portfolio,ranker,sbs,random,flaml", "--models",
                               help="Comma-separated meta-models."),
    ks: str = typer.Option("1,3,5,10", "--ks", help="Comma-separated k of best-of-k."),
    n_folds: Optional[int] = typer.Option(None, "--n-folds",
                                          help="Deal dataset families into this many folds "
                                               "(default: one fold per family)."),
    weighting: str = typer.Option("dataset", "--weighting",
                                  help="dataset: every held-out dataset counts once; fold: "
                                       "every held-out fold (family) counts once."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint",
                                              help="JSON-lines file recording finished folds; "
                                                   "run again with it to resume."),
) -> None:
    """Grouped leave-one-dataset-out benchmark of the meta-models on a knowledge base."""
    from autometa.kb import KnowledgeBase

    table = autometa.evaluate_recommender(
        KnowledgeBase.load(kb), task=task, metric=metric,
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        ks=tuple(int(v) for v in ks.split(",")), n_folds=n_folds, weighting=weighting,
        progress=True, checkpoint=checkpoint,
    )
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


@app.command("tune")
def tune_command(
    source: str = typer.Argument(..., help="File or openml:<id> to tune a pipeline for."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target column."),
    trials: int = typer.Option(50, "--trials", "-n", help="Trials in the study (its budget)."),
    warm_start: int = typer.Option(10, "--warm-start", "-w",
                                   help="Top recommendations tried first (0: cold start)."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Metric to optimise."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    storage: Optional[str] = typer.Option(None, "--storage",
                                          help="Optuna storage: sqlite:///tune.db, a database "
                                               "URL or journal:FILE (default: in memory)."),
    study_name: Optional[str] = typer.Option(None, "--study-name",
                                             help="Study to create or continue."),
    timeout: Optional[float] = typer.Option(None, "--timeout",
                                            help="Stop starting trials after this many seconds."),
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
    from rich.live import Live
    from rich.text import Text

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = autometa.load_dataset(source, target=target)
    line = Text(f"tuning {dataset.name}: waiting for the first trial")

    def progress(study, trial) -> None:
        from autometa.tuning import _evaluated

        # evaluated trials, not finished ones: a trial lost with its process is re-run
        done = sum(_evaluated(t) for t in study.get_trials(deepcopy=False))
        try:
            best = study.best_trial
            best_text = (f"best {best.value:.4f} (trial {best.number}, "
                         f"{best.user_attrs.get('config', {}).get('algorithm', '?')})")
        except ValueError:
            best_text = "no successful trial yet"
        this = (f"{trial.value:.4f}" if trial.value is not None
                else f"{trial.state.name.lower()} ({trial.user_attrs.get('status', '?')})")
        line.plain = f"trial {done}/{trials}: {this}; {best_text}"
        live.refresh()

    with Live(line, console=console, transient=False, auto_refresh=False) as live:
        study = autometa.tune(
            dataset, n_trials=trials, warm_start=warm_start, metric=metric, cv=cv,
            storage=storage, study_name=study_name, timeout=timeout, n_jobs=n_jobs,
            random_state=seed, kb=kb, time_limit=time_limit, callbacks=[progress],
        )
    if not console.is_terminal:
        console.line()
    states = [t.state for t in study.trials]
    counts = ", ".join(f"{n} {s.name.lower()}" for s in optuna.trial.TrialState
                       if (n := states.count(s)))
    console.print(f"study {study.study_name!r}: {len(states)} trials ({counts})")
    try:
        best = study.best_trial
    except ValueError:
        console.print("no trial succeeded; see the trials' 'error' user attributes")
        raise typer.Exit(1) from None
    config = best.user_attrs.get("config", {})
    console.print(f"best {best.user_attrs.get('metric', 'score')} {best.value:.4f}: trial "
                  f"{best.number}, {config.get('algorithm')} {config.get('params', {})}")
    if storage:
        console.print(f"load it with optuna.load_study(study_name={study.study_name!r}, "
                      f"storage={storage!r})")


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
