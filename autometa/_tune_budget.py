"""The budget of a :func:`autometa.tune` study: one queued trial per slot.

``tune(n_trials=N)`` queues one trial for each slot ``0 .. N - 1`` (system attribute
:data:`SLOT_ATTR`) and its workers run only those (:func:`claim_trial`), so that several
processes sharing a storage finish the study with exactly ``N`` evaluated trials.
:func:`top_up` queues what the budget misses: the warm-start recommendations and open
trials on a new study, the retry of a lost trial (same parameters, Optuna's
``failed_trial`` and ``retry_history`` system attributes) on a slot whose trial was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autometa import _optuna_compat, space

__all__ = [
    "NARROW_POOL",
    "SLOT_ATTR",
    "WARM_START_ATTR",
    "Budget",
    "QueuePlan",
    "claim_trial",
    "evaluated",
    "narrow_pool",
    "top_up",
]

#: Trial system attribute: the slot of the budget (``0 .. n_trials - 1``) a trial fills; the
#: retry of a lost trial fills the same slot.
SLOT_ATTR = "autometa_slot"
#: Trial user attribute marking an enqueued recommendation (its rank, 1 = first).
WARM_START_ATTR = "warm_start_rank"
#: Recommendations looked at to find the ``narrow_space`` top algorithm families.
NARROW_POOL = 50


@dataclass(frozen=True)
class QueuePlan:
    """What :func:`top_up` queues: ``n_trials`` slots, the first ``warm`` of a new study
    for the top recommendations (``recommended(k)``: the top ``k`` configurations, each
    one the study's ``algorithms`` can draw), and with ``narrow`` the sampler's trials
    below ``n_trials // 2`` within the top ``narrow`` algorithm families.

    ``algorithms`` is the study's list of algorithm names (``space.suggest``'s
    ``algorithms``, user attribute ``space.STUDY_ALGORITHMS_ATTR``); ``None``: suggest's
    default."""

    n_trials: int
    warm: int
    narrow: int | None
    recommended: Callable[[int], list[dict[str, Any]]]
    algorithms: tuple[str, ...] | None = None


def evaluated(trial: Any) -> bool:
    """The trial ended with a result of its configuration: it fills its slot of the budget.
    (A ``FAIL`` without an ``error`` status is a lost trial: its worker died or was
    interrupted, or it went stale.)"""
    import optuna

    State = optuna.trial.TrialState
    if trial.state in (State.COMPLETE, State.PRUNED):
        return True
    return trial.state == State.FAIL and (trial.user_attrs or {}).get("status") == "error"


def slot_of(trial: Any) -> int:
    """The slot of the budget a trial fills: :data:`SLOT_ATTR`; for trials of older
    versions, the original trial of an Optuna retry (``failed_trial``) or the number."""
    attrs = trial.system_attrs or {}
    slot = attrs.get(SLOT_ATTR, attrs.get("failed_trial", trial.number))
    return slot if isinstance(slot, int) and not isinstance(slot, bool) else trial.number


@dataclass
class Budget:
    """The study's trials by slot ``0 .. n_trials - 1``."""

    done: set[int] = field(default_factory=set)  # an evaluated trial fills the slot
    running: dict[int, list[Any]] = field(default_factory=dict)
    waiting: dict[int, list[Any]] = field(default_factory=dict)
    lost: dict[int, list[Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, trials: Sequence[Any], n_trials: int) -> Budget:
        import optuna

        State = optuna.trial.TrialState
        budget = cls()
        for trial in sorted(trials, key=lambda t: t.number):
            slot = slot_of(trial)
            if not 0 <= slot < n_trials:
                continue  # beyond the budget (e.g. a larger earlier n_trials)
            if evaluated(trial):
                budget.done.add(slot)
            elif trial.state == State.RUNNING:
                budget.running.setdefault(slot, []).append(trial)
            elif trial.state == State.WAITING:
                budget.waiting.setdefault(slot, []).append(trial)
            elif trial.state == State.FAIL:
                budget.lost.setdefault(slot, []).append(trial)
        return budget

    def claimable(self) -> list[Any]:
        """The first waiting trial of every slot that is neither done nor running."""
        return [
            trials[0]
            for slot, trials in sorted(self.waiting.items())
            if slot not in self.done and slot not in self.running
        ]

    def empty(self, n_trials: int) -> list[int]:
        """Slots with no trial that is waiting, running or done (new or lost ones)."""
        return [
            s
            for s in range(n_trials)
            if s not in self.done and s not in self.running and s not in self.waiting
        ]

    def pending(self, n_trials: int) -> set[int]:
        return set(range(n_trials)) - self.done


def claim_trial(study: Any, n_trials: int) -> Any | None:
    """Atomically take the first queued trial of a slot below ``n_trials`` that no one runs
    (None when there is none). Unlike ``study.ask()``, this never creates a trial beyond the
    budget, which is what makes several workers finish exactly ``n_trials``."""
    budget = Budget.of(study.get_trials(deepcopy=False), n_trials)
    for frozen in budget.claimable():
        trial = _optuna_compat.claim_waiting_trial(study, frozen)
        if trial is not None:
            return trial
    return None


def narrow_pool(warm: int) -> int:
    """How many recommendations :func:`top_up` looks at for the ``narrow_space`` families."""
    return max(NARROW_POOL, warm)


def _top_families(configs: Sequence[dict[str, Any]], n: int) -> list[str]:
    """The first ``n`` distinct algorithms of ``configs`` (in rank order)."""
    families: list[str] = []
    for config in configs:
        if config["algorithm"] not in families:
            families.append(config["algorithm"])
    return families[:n]


@dataclass(frozen=True)
class _Queued:
    """A trial to queue: its fixed parameters and attributes."""

    params: dict[str, Any]
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)


def _queue(study: Any, slot: int, trial: _Queued) -> None:
    """``study.enqueue_trial(params)`` for ``slot`` (one write: a crash cannot leave a
    queued trial without its slot)."""
    import optuna

    attrs = {**trial.system_attrs, "fixed_params": trial.params, SLOT_ATTR: slot}
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING, system_attrs=attrs, user_attrs=trial.user_attrs
        )
    )


def top_up(study: Any, plan: QueuePlan) -> None:
    """Queue a trial for every slot below ``plan.n_trials`` that has none waiting, running
    or done: the retry of a lost trial for a slot whose trial was lost (:func:`_retry`);
    for new slots, recommendations first (only on a study that has no trial yet), then open
    trials for the sampler (:func:`_new_trials`)."""
    trials = study.get_trials(deepcopy=False)
    budget = Budget.of(trials, plan.n_trials)
    empty = budget.empty(plan.n_trials)
    if not empty:
        return
    new = [slot for slot in empty if slot not in budget.lost]
    planned = _new_trials(plan, new, fresh=not trials)
    for slot in empty:
        if slot in budget.lost:  # retry what the lost trial was evaluating
            planned[slot] = _retry(budget.lost[slot][-1])
    for slot in sorted(planned):
        _queue(study, slot, planned[slot])


def _new_trials(plan: QueuePlan, new: list[int], *, fresh: bool) -> dict[int, _Queued]:
    """Trials for the ``new`` slots: on a ``fresh`` study the top ``plan.warm``
    recommendations first, then open trials for the sampler -- those in slots below
    ``n_trials // 2`` with their algorithm fixed to one of the top ``plan.narrow``
    families."""
    n_trials = plan.n_trials
    warm_configs: list[dict[str, Any]] = []
    if fresh and plan.warm > 0:
        warm_configs = plan.recommended(min(plan.warm, n_trials))
    open_slots = new[len(warm_configs) :]
    families: list[str] = []
    if plan.narrow is not None and any(slot < n_trials // 2 for slot in open_slots):
        pool = plan.recommended(narrow_pool(plan.warm))
        if plan.algorithms is not None:  # fixed below: it must be one of the study's choices
            pool = [c for c in pool if c["algorithm"] in plan.algorithms]
        families = _top_families(pool, plan.narrow)
    planned: dict[int, _Queued] = {}
    for rank, (slot, config) in enumerate(zip(new, warm_configs), start=1):
        params = space.to_trial_params(config, algorithms=plan.algorithms)
        planned[slot] = _Queued(params, {WARM_START_ATTR: rank})
    for index, slot in enumerate(open_slots):
        # Optuna allows one set of choices per parameter in a study, so the narrowed trials
        # fix "algorithm" (in turn over the families) and the sampler draws the rest.
        narrowed = bool(families) and slot < n_trials // 2
        planned[slot] = _Queued({"algorithm": families[index % len(families)]} if narrowed else {})
    return planned


def _retry(last: Any) -> _Queued:
    """The retry of the lost trial ``last``: its parameters, its warm-start rank, and
    Optuna's ``failed_trial`` and ``retry_history`` system attributes (as
    ``RetryFailedTrialCallback`` sets them)."""
    params = {**last.system_attrs.get("fixed_params", {}), **last.params}
    user = {k: v for k, v in last.user_attrs.items() if k == WARM_START_ATTR}
    history = [*last.system_attrs.get("retry_history", []), last.number]
    system = {
        "failed_trial": last.system_attrs.get("failed_trial", last.number),
        "retry_history": history,
    }
    return _Queued(params, user, system)
