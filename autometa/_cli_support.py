"""What the ``autometa`` commands (:mod:`autometa.cli`) share beyond their options: the
command group, the warning format, the input table of ``fit``, and the progress and
summary lines of ``tune``.

The commands themselves, with their options and help, stay in :mod:`autometa.cli`; this
module holds no option and prints nothing a command does not ask for.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

import autometa

__all__ = [
    "AutometaGroup",
    "TuneProgress",
    "default_checkpoint",
    "print_study",
    "raw_table",
    "readable_warnings",
]


def _hide_flag_types(params: list[Any]) -> list[Any]:
    """Flags (``--json``, ``--help``) take no value: leave their type column empty instead of
    typer's ``<bool>``, which reads as if a value were expected."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class AutometaGroup(typer.core.TyperGroup):
    """The ``autometa`` group: its own and every command's flags are shown without a type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _hide_flag_types(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_types(command.get_params(ctx))
        return command


@contextlib.contextmanager
def readable_warnings() -> Iterator[None]:
    """Show each warning once, as one ``warning: Category: message`` line on stderr.

    Python's default format names the source line that warned, which for a command is
    typer's own code, and repeats a warning raised from several places (every fold of a
    cross-validation, every recommend call of a tune). The user's warning filters
    (``-W``, ``PYTHONWARNINGS``) still decide what is shown at all.
    """
    seen: set[tuple[type, str]] = set()

    def show(
        message: Any,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: Any = None,
    ) -> None:
        text = " ".join(str(message).split())  # multi-line messages on one line
        if (category, text) in seen:
            return
        seen.add((category, text))
        typer.echo(f"warning: {category.__name__}: {text}", err=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def default_checkpoint(
    kb: Any,
    task: str,
    metric: str | None,
    models: tuple[str, ...],
    ks: tuple[int, ...],
    n_folds: int | None,
) -> Path:
    """A checkpoint file of its own for each evaluation (knowledge-base contents included),
    in the cache directory: rerunning the same command resumes it, another starts afresh."""
    import hashlib
    import json

    from autometa.metamodel._cache import cache_dir

    key = json.dumps([kb.fingerprint(), task, metric, models, ks, n_folds], default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "evaluate" / f"{task}-{digest}.jsonl"


def raw_table(source: str, target: str | None) -> tuple[Any, Any]:
    """Features as the file holds them (what ``predict`` will read too) and the target;
    OpenML sources come cleaned by ``load_dataset``. Rows without a target are dropped."""
    from autometa.data._files import read_table
    from autometa.data._load import split_prefix
    from autometa.data._validate import split_target

    if split_prefix(source)[0] is not None:
        dataset = autometa.load_dataset(source, target=target)
        return dataset.X, dataset.y
    frame, _ = read_table(Path(source))
    X, y = split_target(frame, target, source)
    kept = y.notna().to_numpy()
    if not kept.all():
        from autometa.errors import DataWarning

        warnings.warn(
            f"{source}: dropped {int((~kept).sum())} of {len(y)} rows whose target "
            f"{y.name!r} is missing",
            DataWarning,
            stacklevel=2,
        )
        X, y = X[kept], y[kept]
    return X, y


class TuneProgress:
    """The one live line of ``autometa tune``: trials evaluated of ``n_trials``, the last
    one's outcome and the best so far; an Optuna callback, refreshed after each trial.

    Parameters
    ----------
    console : rich.console.Console
    name : str
        The dataset's name, for the line shown before the first trial ends.
    n_trials : int
        The study's trial budget.
    """

    def __init__(self, console: Console, name: str, n_trials: int) -> None:
        from rich.live import Live
        from rich.text import Text

        self.n_trials = n_trials
        self.line = Text(f"tuning {name}: waiting for the first trial")
        self.live = Live(self.line, console=console, transient=False, auto_refresh=False)

    def __call__(self, study: Any, trial: Any) -> None:
        from autometa._tune_budget import evaluated

        # evaluated trials, not finished ones: a trial lost with its process is re-run
        done = sum(evaluated(t) for t in study.get_trials(deepcopy=False))
        try:
            best = study.best_trial
            best_text = (
                f"best {best.value:.4f} (trial {best.number}, "
                f"{best.user_attrs.get('config', {}).get('algorithm', '?')})"
            )
        except ValueError:
            best_text = "no successful trial yet"
        this = (
            f"{trial.value:.4f}"
            if trial.value is not None
            else f"{trial.state.name.lower()} ({trial.user_attrs.get('status', '?')})"
        )
        self.line.plain = f"trial {done}/{self.n_trials}: {this}; {best_text}"
        self.live.refresh()


def print_study(console: Console, study: Any, storage: str | None) -> bool:
    """Print what ``autometa tune`` ends with: the trials by state, then the best trial
    (and how to load the study from ``storage``). Returns whether any trial succeeded."""
    import optuna

    states = [t.state for t in study.trials]
    counts = ", ".join(
        f"{n} {s.name.lower()}" for s in optuna.trial.TrialState if (n := states.count(s))
    )
    console.print(f"study {study.study_name!r}: {len(states)} trials ({counts})")
    try:
        best = study.best_trial
    except ValueError:
        console.print("no trial succeeded; see the trials' 'error' user attributes")
        return False
    config = best.user_attrs.get("config", {})
    console.print(
        f"best {best.user_attrs.get('metric', 'score')} {best.value:.4f}: trial "
        f"{best.number}, {config.get('algorithm')} {config.get('params', {})}"
    )
    if storage:
        console.print(
            f"load it with optuna.load_study(study_name={study.study_name!r}, storage={storage!r})"
        )
    return True
