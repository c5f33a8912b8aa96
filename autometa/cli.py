"""The ``autometa`` command line: thin wrappers that parse, call the library, print with rich.

Each command lives in this file as one small function; commands that are not built yet are
simply not registered.
"""

from __future__ import annotations

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


if __name__ == "__main__":  # pragma: no cover
    app()
