"""The trial loop of :func:`autometa.tune`: this process's workers on a shared study.

:class:`Workers` runs the study's queued trials in ``n_jobs`` threads of this process
(each trial's evaluation in its own worker process). A worker claims a queued trial of a
slot no one runs (:func:`autometa._tune_budget.claim_trial`), beats for it while the
objective runs (:func:`autometa._tune_liveness.heartbeat`) and tells the result. With
nothing left to claim it waits for the trials other processes run, recovering their slots
when a process died (:func:`recover`), until every slot of the budget is done or the
deadline passes. :class:`ProgressBar` shows the study's evaluated trials.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from autometa import _optuna_compat
from autometa._tune_budget import Budget, QueuePlan, claim_trial, evaluated, top_up
from autometa._tune_liveness import Liveness, fail_stale_trials, heartbeat
from autometa._tune_objective import MAX_ERROR_CHARS
from autometa._tune_storage import file_lock

__all__ = ["ProgressBar", "Workers", "recover"]


def recover(study: Any, plan: QueuePlan, live: Liveness) -> None:
    """Fail stale trials, then queue what the budget misses (their retries included)."""
    fail_stale_trials(study, live)
    top_up(study, plan)


class Workers:
    """This process's workers on ``study``: they run queued trials of the budget with
    ``objective`` (``objective(trial) -> (state, value)``) until every slot is done, or
    until ``timeout`` seconds have passed.

    ``callbacks`` are called as ``callback(study, frozen_trial)`` after each trial this
    process finished, one at a time. ``lock_path`` is the setup lock of a study on a local
    file (:func:`autometa._tune_storage.lock_path`), held while recovering lost trials.
    """

    def __init__(
        self,
        study: Any,
        objective: Callable[[Any], tuple[Any, float | None]],
        plan: QueuePlan,
        live: Liveness,
        *,
        lock_path: Path | None,
        timeout: float | None,
        callbacks: Sequence[Callable[[Any, Any], None]],
    ) -> None:
        self.study = study
        self.objective = objective
        self.plan = plan
        self.live = live
        self.lock_path = lock_path
        self.callbacks = list(callbacks)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.storage = _optuna_compat.storage_of(study)
        self.poll = min(max(live.interval / 2, 0.2), 5.0)
        self._lock = threading.Lock()  # callbacks and the shared cache see one trial at a time
        self._claim_lock = threading.Lock()  # a claimed trial is in ``_mine`` before anyone looks
        self._recover_lock = threading.Lock()  # one thread of this process recovers at a time
        self._mine: set[int] = set()  # ids of the trials this process is running

    def run(self, n_jobs: int, *, show_progress_bar: bool = False) -> None:
        """Work in ``n_jobs`` threads until the budget is spent (or the deadline passes)."""
        import optuna

        bar = ProgressBar(self.study, self.plan.n_trials) if show_progress_bar else None
        if bar is not None:
            self.callbacks.append(bar.callback)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                if n_jobs == 1:
                    self.work()
                else:
                    with ThreadPoolExecutor(n_jobs) as pool:
                        for future in [pool.submit(self.work) for _ in range(n_jobs)]:
                            future.result()
        finally:
            if bar is not None:
                bar.close()

    def work(self) -> None:
        """One worker: claim and run trials; with none to claim, wait for other processes'
        trials (re-running those whose process died) while a slot is left."""
        while self.deadline is None or time.monotonic() < self.deadline:
            trial, left = self.claim()
            if trial is None:
                if not left:
                    return  # the budget is spent, or the rest is this process's own
                # Wait for other processes' trials, and re-run those whose process died.
                wait = (
                    self.poll
                    if self.deadline is None
                    else min(self.poll, self.deadline - time.monotonic())
                )
                time.sleep(max(wait, 0.0))
                with self._recover_lock, file_lock(self.lock_path):
                    recover(self.study, self.plan, self.live)
                continue
            try:
                self.run_one(trial)
            finally:
                with self._claim_lock:
                    self._mine.discard(_optuna_compat.trial_id(trial))

    def claim(self) -> tuple[Any | None, bool]:
        """A trial to run, or None and whether a slot of the budget is left that this
        process does not run (then wait: another process runs it, or it is lost)."""
        n_trials = self.plan.n_trials
        with self._claim_lock:
            trial = claim_trial(self.study, n_trials)
            if trial is not None:
                self._mine.add(_optuna_compat.trial_id(trial))
                return trial, True
            budget = Budget.of(self.study.get_trials(deepcopy=False), n_trials)
            return None, any(
                not any(
                    _optuna_compat.trial_id(t) in self._mine for t in budget.running.get(slot, [])
                )
                for slot in budget.pending(n_trials)
            )

    def run_one(self, trial: Any) -> None:
        """Run the objective on ``trial`` with heartbeats, tell the result and call the
        callbacks; a trial declared lost meanwhile is left to its retry."""
        import optuna

        State = optuna.trial.TrialState
        study = self.study
        state, value = State.FAIL, None
        try:
            with heartbeat(self.storage, _optuna_compat.trial_id(trial), self.live):
                state, value = self.objective(trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # declared lost (stale) meanwhile; its retry belongs to the budget
        except Exception as exc:  # noqa: BLE001 - a broken trial never ends the study
            state, value = State.FAIL, None
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[-MAX_ERROR_CHARS:])
                trial.set_user_attr("status", "error")
        except BaseException:
            with contextlib.suppress(Exception):
                study.tell(trial, state=State.FAIL, skip_if_finished=True)
            raise
        try:
            frozen = study.tell(
                trial,
                value if state == State.COMPLETE else None,
                state=state,
                skip_if_finished=True,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            return
        if frozen.state != state:
            return  # declared lost meanwhile: not this process's result any more
        with self._lock:
            for callback in self.callbacks:
                callback(study, frozen)


class ProgressBar:
    """A tqdm bar of the study's evaluated trials out of ``n_trials`` and the best value.

    Counts the study's evaluated trials rather than this process's finished ones, so a
    resumed study or one shared by several processes shows where the whole study is.
    """

    def __init__(self, study: Any, n_trials: int) -> None:
        from tqdm.auto import tqdm

        self.n_trials = n_trials
        self.bar = tqdm(total=n_trials, unit="trial", desc=f"tuning {study.study_name}")
        self.callback(study, None)

    def callback(self, study: Any, trial: Any) -> None:
        done = sum(evaluated(t) for t in study.get_trials(deepcopy=False))
        self.bar.n = min(done, self.n_trials)
        try:
            best = study.best_trial
            self.bar.set_postfix_str(f"best {best.value:.4g} (trial {best.number})", refresh=False)
        except ValueError:  # no successful trial yet
            pass
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
