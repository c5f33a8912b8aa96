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
    try:
        recommendations = autometa.recommend(dataset, k=k)
    except (AttributeError, ImportError) as exc:
        console.print(f"[yellow]recommendations are not available yet: {exc}[/yellow]")
        raise typer.Exit(code=0) from None
    console.print(recommendations)


@app.command()
def batch(
    suite: list[str] = typer.Option(..., "--suite", "-s",
                                    help="dir:PATH, openml-suite:ID|NAME or openml-task:ID,ID,"
                                         "...; repeat to interleave several suites."),
    kb: Path = typer.Option(..., "--kb", help="Knowledge-base directory to create or extend."),
    configs: int = typer.Option(100, "--configs", help="Portfolio size per task type."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", help="Subsample larger datasets."),
    n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Local worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="dask.distributed scheduler address."),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Seconds per evaluation."),
    memory_limit: float = typer.Option(4096, "--memory-limit", help="MB per evaluation."),
    seed: int = typer.Option(0, "--seed", help="Seed of portfolio, subsamples and folds."),
) -> None:
    """Evaluate the configuration portfolio on every dataset of a suite into a knowledge base.

    Interrupt it at any time; running the same command again resumes where it stopped.
    """
    from autometa import batch as batch_module

    summary = batch_module.run(
        suite, kb, configs=configs, cv=cv, max_rows=max_rows, n_jobs=n_jobs,
        scheduler=scheduler, time_limit=time_limit, memory_limit_mb=memory_limit,
        random_state=seed,
    )
    console.print(f"{summary.n_evaluations} evaluations in {summary.seconds:.0f} s into {kb}")


if __name__ == "__main__":  # pragma: no cover
    app()
