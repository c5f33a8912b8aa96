"""Evaluate one configuration on one dataset by cross-validation, safely.

Each evaluation runs in a child process with a wall-clock and a memory limit, so a
configuration that hangs, crashes or eats memory is stopped and *recorded* (status
``timeout``, ``memory`` or ``error`` with the message) instead of taking the caller down.
Folds that finished before a limit struck are kept. A configuration that does not apply to
the dataset (an algorithm for small tables, such as ``fewshot``, on a larger one; see
:func:`autometa.space.not_applicable`) is not run: every fold is recorded as
``not_applicable`` with the reason.

Example
-------
>>> from sklearn.datasets import load_wine
>>> import autometa
>>> from autometa import space
>>> data = autometa.load_dataset(load_wine(as_frame=True).frame, target="target")  # doctest: +SKIP
>>> result = evaluate(space.defaults("classification")[0], data, cv=3)  # doctest: +SKIP
>>> result.mean("balanced_accuracy")  # doctest: +SKIP
0.97...
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, StratifiedKFold

from autometa import space
from autometa._constants import (  # STATUSES re-exported: the statuses of a fold
    NOT_APPLICABLE,
    STATUSES,  # noqa: F401
)
from autometa.metrics import metrics_for


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate`: one record per fold.

    Attributes
    ----------
    config : the evaluated configuration (``None`` when an explicit estimator was given).
    folds : list of dicts with ``fold``, ``status``, ``error``, ``fit_time``,
        ``predict_time`` and one entry per metric (NaN where undefined or failed).
    """

    config: dict[str, Any] | None
    dataset: str
    folds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok`` when every fold succeeded, else the status of the first failed fold."""
        for record in self.folds:
            if record["status"] != "ok":
                return record["status"]
        return "ok" if self.folds else "error"

    @property
    def error(self) -> str:
        return next((r["error"] for r in self.folds if r["status"] != "ok"), "")

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over folds; NaN unless every fold is ok."""
        if self.status != "ok":
            return float("nan")
        return float(np.mean([r[metric] for r in self.folds]))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.folds)


def make_splits(dataset: Any, cv: int, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The dataset's own splits when it has them, else (stratified) shuffled k-fold.

    Stratification needs every class at least ``cv`` times; where a class is rarer the number
    of folds drops to the smallest class count (minimum 2), and failing that plain k-fold is used.
    """
    if getattr(dataset, "splits", None):
        return [(np.asarray(tr), np.asarray(te)) for tr, te in dataset.splits]
    n = len(dataset.y)
    cv = max(2, min(cv, n))
    if dataset.task == "classification":
        smallest = int(dataset.y.value_counts().min())
        if smallest >= 2:
            folds = StratifiedKFold(min(cv, smallest), shuffle=True, random_state=random_state)
            return list(folds.split(np.zeros(n), dataset.y))
    return list(KFold(cv, shuffle=True, random_state=random_state).split(np.zeros(n)))


def _macro_ovr_auc(y_true: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC over the classes present in ``y_true`` (both sides needed)."""
    from sklearn.metrics import roc_auc_score

    if scores.ndim == 1:  # binary decision function: the score of classes[1]
        scores = np.column_stack([-scores, scores])
    aucs = []
    for j, label in enumerate(classes):
        positive = y_true == label
        if 0 < positive.sum() < len(y_true):
            aucs.append(roc_auc_score(positive, scores[:, j]))
    return float(np.mean(aucs)) if aucs else float("nan")


def _balanced_decision(estimator, proba: np.ndarray, y_pred, y_train) -> np.ndarray:
    """The labels of balanced accuracy's decision (:mod:`autometa._balanced`): the plain
    model's probabilities with the class prior it learned from removed; ``y_pred`` for a
    model that already decides so (built for balanced accuracy)."""
    from autometa._balanced import BalancedPriorClassifier, remove_prior, training_prior

    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    if isinstance(final, BalancedPriorClassifier) or not hasattr(final, "classes_"):
        return y_pred
    classes = np.asarray(final.classes_)
    moved = remove_prior(proba, training_prior(final, y_train))
    if moved.shape != (len(y_pred), len(classes)):
        return y_pred
    return classes[np.argmax(moved, axis=1)]


def _classification_scores(
    estimator, X_test, y_test, y_pred, all_classes, y_train
) -> dict[str, float]:
    """Every classification metric of one fold. Balanced accuracy is scored on the
    balanced decision (:func:`_balanced_decision`), the score of the model autometa builds
    for that metric; the other metrics on the model's own predictions."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss

    scores = {
        "accuracy": accuracy_score(y_test, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_test, y_pred),
        "log_loss": float("nan"),
        "roc_auc": float("nan"),
    }
    fitted_classes = np.asarray(estimator.classes_)
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X_test), dtype=float)
        decided = _balanced_decision(estimator, proba, y_pred, y_train)
        scores["balanced_accuracy"] = balanced_accuracy_score(y_test, decided)
        # Classes missing from this training fold get probability 0 in the full label space.
        full = np.zeros((len(y_test), len(all_classes)))
        index = np.searchsorted(all_classes, fitted_classes)
        full[:, index] = proba[:, : len(fitted_classes)]
        full = np.clip(full, 1e-15, 1.0)
        full /= full.sum(axis=1, keepdims=True)
        scores["log_loss"] = log_loss(y_test, full, labels=all_classes)
        scores["roc_auc"] = _macro_ovr_auc(np.asarray(y_test), full, all_classes)
    elif hasattr(estimator, "decision_function"):
        decision = np.asarray(estimator.decision_function(X_test), dtype=float)
        if decision.ndim == 1 and len(fitted_classes) == 2:
            decision = np.column_stack([-decision, decision])
        if decision.ndim == 2 and decision.shape[1] == len(fitted_classes):
            # Classes missing from this training fold rank below every fitted class: a finite
            # floor, as ROC AUC refuses infinite scores (an -inf here turned whole folds into
            # errors, balanced accuracy lost with them).
            floor = np.min(decision, initial=0.0) - 1.0
            full = np.full((len(y_test), len(all_classes)), floor)
            full[:, np.searchsorted(all_classes, fitted_classes)] = decision
            scores["roc_auc"] = _macro_ovr_auc(np.asarray(y_test), full, all_classes)
    return scores


def _regression_scores(y_test, y_pred) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "r2": r2_score(y_test, y_pred),
        "rmse": float(np.sqrt(mean_squared_error(y_test, y_pred))),
        "mae": mean_absolute_error(y_test, y_pred),
    }


def _failed_fold(fold: int, status: str, error: str, metrics: list[str]) -> dict[str, Any]:
    record = {
        "fold": fold,
        "status": status,
        "error": error[-2000:],
        "fit_time": float("nan"),
        "predict_time": float("nan"),
    }
    record.update(dict.fromkeys(metrics, float("nan")))
    return record


def _run_fold(estimator, dataset, fold: int, train, test, metrics: list[str]) -> dict[str, Any]:
    X, y = dataset.X, dataset.y
    X_train, X_test = X.iloc[train], X.iloc[test]
    y_train, y_test = y.iloc[train], y.iloc[test]
    model = clone(estimator)
    start = time.perf_counter()
    with space.quiet_fit_warnings():
        model.fit(X_train, y_train)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        y_pred = model.predict(X_test)
        if dataset.task == "classification":
            scores = _classification_scores(
                model, X_test, np.asarray(y_test), y_pred, np.unique(np.asarray(y)), y_train
            )
        else:
            scores = _regression_scores(y_test, y_pred)
    predict_time = time.perf_counter() - start
    record = {
        "fold": fold,
        "status": "ok",
        "error": "",
        "fit_time": fit_time,
        "predict_time": predict_time,
    }
    for name in metrics:
        value = float(scores.get(name, float("nan")))
        record[name] = value if np.isfinite(value) else float("nan")
    return record


def _limit_memory(memory_limit_mb: float | None) -> None:
    """Cap this process's address space at its current size plus ``memory_limit_mb``."""
    if not memory_limit_mb:
        return
    try:
        import resource

        import psutil

        current = psutil.Process().memory_info().vms
        limit = int(current + memory_limit_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: run unlimited
        pass


#: Process groups of the evaluations this process is running; a worker whose own parent
#: dies kills them (see :func:`kill_evaluations_with_parent`).
_ACTIVE_GROUPS: set[int] = set()


def _own_group() -> None:
    """Make this process the leader of a new process group, so that everything it starts
    can be stopped with one ``killpg``."""
    try:
        os.setpgid(0, 0)
    except (AttributeError, OSError):  # not POSIX: only the process itself is stopped
        pass


def _kill_group(pgid: int | None) -> None:
    if pgid is None:
        return
    try:
        import signal

        os.killpg(pgid, signal.SIGKILL)
    except (AttributeError, OSError):  # gone already, or not POSIX
        pass


def kill_evaluations_with_parent(parent_pid: int) -> None:
    """Make this worker process end, with every evaluation it runs, when ``parent_pid`` dies.

    For pools that run :func:`evaluate` (the batch runner's loky workers): the kernel kills
    an evaluation process with its worker, but not the processes a fit started, and a pool
    worker orphaned by a ``kill -9`` of its parent would otherwise wait for work forever.
    A daemon thread polls the parent twice a second (it runs while the worker waits on an
    evaluation, which releases the GIL).
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        for pgid in list(_ACTIVE_GROUPS):
            _kill_group(pgid)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="autometa-parent-watch").start()


def _exit_with_parent(parent_pid: int | None) -> None:
    """End this worker process as soon as its parent is gone: the parent enforces the time
    limit, so a worker orphaned by a killed parent would otherwise run unbounded."""
    if parent_pid is None:
        return
    import threading

    # Linux: the kernel sends SIGKILL when the parent thread that started this process ends;
    # evaluate() waits in that thread until this process has ended, so that is the parent.
    try:
        import ctypes
        import signal

        if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL) == 0:  # PR_SET_PDEATHSIG
            if os.getppid() != parent_pid:  # the parent died before prctl
                os._exit(1)
            return
    except (OSError, AttributeError, TypeError, ValueError):
        pass

    def watch() -> None:  # elsewhere: poll
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="autometa-parent-watch").start()


def _child(
    connection, estimator, dataset, splits, metrics, memory_limit_mb, parent_pid=None
) -> None:
    """Worker process body: evaluate folds one by one, sending each record as it finishes."""
    _enter_child(memory_limit_mb, parent_pid)
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(1)  # one evaluation, one core: parallelism is the caller's
    except ImportError:  # pragma: no cover
        limiter = None
    for fold, (train, test) in enumerate(splits):
        try:
            record = _run_fold(estimator, dataset, fold, train, test, metrics)
        except MemoryError:
            record = _failed_fold(fold, "memory", "MemoryError: memory limit exceeded", metrics)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes
            message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            record = _failed_fold(fold, "error", message, metrics)
        connection.send(record)
    del limiter
    connection.close()


def _enter_child(memory_limit_mb: float | None, parent_pid: int | None) -> None:
    """First steps of every limited child process: its own process group, death with its
    parent, the memory limit."""
    import faulthandler

    faulthandler.disable()  # a crash here is recorded by the parent, not dumped on the console
    _own_group()
    _exit_with_parent(parent_pid)
    _limit_memory(memory_limit_mb)


def _start_in_own_group(process) -> None:
    """Start a child made by :func:`_enter_child` and register its process group."""
    process.start()
    try:  # also here: the group must exist before the first kill, whichever runs first
        os.setpgid(process.pid, process.pid)
    except (AttributeError, OSError):  # not POSIX, or the child has already exec'd/ended
        pass
    _ACTIVE_GROUPS.add(process.pid)


def _call_child(connection, fn, args, memory_limit_mb, parent_pid) -> None:
    """Worker process body of :func:`call_with_limits`."""
    _enter_child(memory_limit_mb, parent_pid)
    try:
        outcome = ("ok", fn(*args))
    except MemoryError:
        outcome = ("memory", "MemoryError: memory limit exceeded")
    except Exception as exc:  # noqa: BLE001 - raised again in the parent
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    connection.send(outcome)
    connection.close()


def call_with_limits(fn, *args, time_limit: float | None, memory_limit_mb: float | None):
    """``fn(*args)`` in a child process under the limits :func:`evaluate` applies.

    Returns what ``fn`` returns (it must pickle). Raises ``TimeoutError`` past
    ``time_limit`` seconds, ``MemoryError`` past ``memory_limit_mb`` and ``RuntimeError``
    with the child's message when ``fn`` raised or the child died; the child and everything
    it started are stopped in every case.
    """
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_call_child, daemon=True, args=(sender, fn, args, memory_limit_mb, os.getpid())
    )
    _start_in_own_group(process)
    sender.close()
    try:
        try:
            ready = receiver.poll(time_limit)
            outcome = receiver.recv() if ready else None
        except (EOFError, OSError):
            outcome = (
                ("memory", "worker process killed")
                if _died_status(process) == "memory"
                else ("error", f"worker process died (exit code {process.exitcode})")
            )
    finally:
        _stop(process)
        receiver.close()
    if outcome is None:
        raise TimeoutError(f"time limit of {time_limit:g} s exceeded")
    status, value = outcome
    if status == "ok":
        return value
    raise MemoryError(value) if status == "memory" else RuntimeError(value)


def _context() -> multiprocessing.context.BaseContext:
    # fork starts in milliseconds with everything already imported; spawn elsewhere.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def evaluate(
    config: dict[str, Any] | None,
    dataset: Any,
    *,
    cv: int = 5,
    metrics: list[str] | None = None,
    time_limit: float | None = 60.0,
    memory_limit_mb: float | None = 4096,
    random_state: int = 0,
    estimator: BaseEstimator | None = None,
    isolate: bool = True,
    built_for: str | None = None,
) -> Evaluation:
    """Cross-validate ``config`` on ``dataset``.

    Parameters
    ----------
    config : a configuration of :mod:`autometa.space` (validated against the allowlist).
    dataset : an :class:`autometa.Dataset`; its own ``splits`` are used when present.
    cv : number of folds otherwise (stratified for classification).
    metrics : metric names to record (default: all of the task, see :mod:`autometa.metrics`).
    time_limit : wall-clock seconds for the whole evaluation; folds still running then are
        recorded as ``timeout``. ``None`` for no limit.
    memory_limit_mb : extra address space the evaluation may use; beyond it the fold is
        recorded as ``memory``. ``None`` for no limit.
    random_state : seed of the folds and of the estimator.
    estimator : evaluate this scikit-learn estimator instead of building ``config``.
    isolate : run in a child process (the default). ``False`` runs in-process with no limits,
        for debugging.
    built_for : the metric the configuration's model is built for (``metric`` of
        :func:`autometa.space.build`: balanced accuracy's decision), default=None: the plain
        estimator, as the knowledge base records it. Every metric of ``metrics`` is still
        recorded, from that one model; balanced accuracy always on the balanced decision
        (the training class prior removed from the probabilities, as the model built for it
        predicts), so it is the same either way.

    Returns
    -------
    Evaluation
        Every fold ``not_applicable`` (not run) when ``config`` does not apply to the
        dataset (:func:`autometa.space.not_applicable`, judged on its largest training
        fold).
    """
    metrics = list(metrics or metrics_for(dataset.task))
    from_config = estimator is None
    if from_config:
        estimator = space.build(
            config,
            categorical=dataset.categorical,
            task=dataset.task,
            random_state=random_state,
            metric=built_for,
        )
    name = getattr(dataset, "name", "dataset")
    result = Evaluation(config=config, dataset=name)
    try:
        splits = make_splits(dataset, cv, random_state)
    except ValueError as exc:
        result.folds = [_failed_fold(0, "error", f"cannot split: {exc}", metrics)]
        return result
    reason = _not_applicable(config, dataset, splits) if from_config else None
    if reason is not None:
        result.folds = [
            _failed_fold(f, NOT_APPLICABLE, reason, metrics) for f in range(len(splits))
        ]
        return result
    if not isolate:
        for fold, (train, test) in enumerate(splits):
            result.folds.append(_run_fold(estimator, dataset, fold, train, test, metrics))
        return result

    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child,
        args=(sender, estimator, dataset, splits, metrics, memory_limit_mb, os.getpid()),
        daemon=True,
    )
    _start_in_own_group(process)
    sender.close()
    deadline = None if time_limit is None else time.monotonic() + time_limit
    while len(result.folds) < len(splits):
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            ready = receiver.poll(remaining)
        except (EOFError, OSError):
            ready = False
        if not ready:
            status = "timeout" if process.is_alive() else _died_status(process)
            message = (
                f"time limit of {time_limit:g} s exceeded"
                if status == "timeout"
                else f"worker process died (exit code {process.exitcode})"
            )
            break
        try:
            result.folds.append(receiver.recv())
        except (EOFError, OSError):
            process.join(1)
            status, message = (
                _died_status(process),
                (f"worker process died (exit code {process.exitcode})"),
            )
            break
    else:
        status = ""
    if status:
        result.folds += [
            _failed_fold(f, status, message, metrics) for f in range(len(result.folds), len(splits))
        ]
    _stop(process)
    receiver.close()
    return result


def _not_applicable(config: dict[str, Any] | None, dataset: Any, splits: list) -> str | None:
    """Why ``config`` does not apply to ``dataset`` as cross-validated by ``splits`` (its
    largest training fold), or None."""
    if config is None:
        return None
    return space.not_applicable(
        config,
        dataset.X,
        dataset.y,
        dataset.categorical,
        n_rows=max((len(train) for train, _ in splits), default=0),
        task=dataset.task,
    )


def _died_status(process) -> str:
    process.join(1)
    # SIGKILL is what the kernel's OOM killer sends.
    return "memory" if process.exitcode == -9 else "error"


def _stop(process) -> None:
    # The whole group: a configuration whose fit started processes of its own (joblib,
    # a subprocess) leaves nothing behind on a timeout.
    _kill_group(process.pid)
    _ACTIVE_GROUPS.discard(process.pid)
    if process.is_alive():
        process.kill()
    process.join(5)
    if hasattr(process, "close") and not process.is_alive():
        process.close()
