"""The budgeted search behind :class:`autometa.AutoClassifier` / :class:`autometa.AutoRegressor`.

Three steps share one clock:

1. **Race** the top recommendations with successive halving (:func:`plan_levels`): every
   candidate is scored on a small fidelity (a row subsample, or the first fold), the better
   half goes on to the next, and the last level is full cross-validation on all rows, which
   also gives each survivor's out-of-fold predictions. A fold is fitted in a child process
   (:func:`autometa.evaluate.call_with_limits`) with the time the candidate has left, so a
   slow configuration is stopped, not waited for.
2. **Tune** (:func:`autometa.tune`) for what remains: warm-started with the same
   recommendations, whose race results are handed over through ``tune``'s ``cache`` (an
   eliminated candidate as a pruned trial), so the sampler learns from them and nothing is
   evaluated twice.
3. The caller then refits the winner, or an ensemble selected over the out-of-fold
   predictions (:mod:`autometa._ensemble`). The time it needs is kept free throughout:
   :meth:`Search.reserve` estimates it from measured fit times.

Folds are those of :func:`autometa.evaluate.make_splits` with the estimator's
``random_state``: the ones ``tune`` uses, so race and tuning scores are comparable.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from autometa._candidates import Candidate
from autometa._ensemble import member_output, score_predictions

#: Rows below which subsampling says little about the full data: the race then works on
#: folds of all rows instead.
MIN_ROWS = 1000
#: A refit on all rows takes this many times the fold fit time scaled to all rows (trees
#: grow slightly faster than linearly; a margin for a busy machine).
REFIT_SAFETY = 1.4
#: Seconds kept free for the work after the refit (ensemble selection, bookkeeping).
FIXED_OVERHEAD = 0.25
#: Fraction of the budget also kept free for that work.
OVERHEAD_SHARE = 0.02
#: At most this fraction of the budget is kept free for the refit.
MAX_RESERVE_SHARE = 0.5
#: Time is kept free for refitting an ensemble's members (not only the best model) while
#: their refits fit in this fraction of the budget; beyond it an ensemble is refitted only
#: when the search happens to leave the time.
ENSEMBLE_RESERVE_SHARE = 0.25
#: Fit time grows as rows ** exponent: this one when a configuration was timed at one size,
#: else the exponent through its two largest sizes, clipped to the range below. Fixed costs
#: dominate small fits: in the knowledge base, fit time from 500 rows to 2,000-10,000 grows
#: with median exponents of 0.2 (xgboost, ridge) to 0.86 (RBF SVR); a kernel method's
#: exponent still rises towards 2 at larger sizes, which two measured sizes show.
FIT_TIME_EXPONENT = 0.9
FIT_TIME_EXPONENT_RANGE = (0.5, 2.2)
#: A race keeping every candidate (``Search.race(keep_if_affordable=True)``) needs this
#: many times their expected fit times left: prediction, process starts and a busy
#: machine cost more than the fits alone.
AFFORD_MARGIN = 1.5
#: Fewest seconds worth starting an evaluation with.
MIN_EVAL_SECONDS = 0.05
#: Tuning trials are stopped after this many times a typical evaluation (at least
#: :data:`MIN_TRIAL_LIMIT` seconds) so that the last one ends before the budget.
TRIAL_LIMIT_FACTOR = 3.0
MIN_TRIAL_LIMIT = 2.0
#: At most this many tuning trials are queued.
MAX_TUNE_TRIALS = 200
#: ``tune`` is called again on the same study while time is left, with a shorter trial
#: limit each time (the last trial of a round may end well before its limit), at most
#: this many times in all.
MAX_TUNE_ROUNDS = 3
#: Tuned configurations whose out-of-fold predictions are recomputed for the ensemble
#: (``tune`` keeps scores, not predictions).
ENSEMBLE_FROM_TUNING = 3


@dataclass(frozen=True)
class Level:
    """One fidelity of the race: ``rows`` rows (a nested, stratified subsample evaluated on
    fold 0) or, when ``rows`` is all of them, the first ``folds`` folds."""

    rows: int
    folds: int


def plan_levels(n: int, k: int, n_splits: int, min_rows: int = MIN_ROWS) -> list[Level]:
    """The race's fidelities for ``k`` candidates on ``n`` rows: one halving per level, so
    that two candidates (one when ``k`` is 1) reach full cross-validation.

    Examples
    --------
    >>> plan_levels(100_000, 5, 5)
    [Level(rows=25000, folds=1), Level(rows=50000, folds=1), Level(rows=100000, folds=5)]
    >>> plan_levels(500, 5, 5)
    [Level(rows=500, folds=1), Level(rows=500, folds=2), Level(rows=500, folds=5)]
    """
    halvings = max(0, math.ceil(math.log2(k)) - 1) if k > 2 else 0
    levels: list[Level] = []
    full = 0
    for h in range(halvings, 0, -1):
        rows = max(n >> h, min_rows)
        if full or rows > 0.6 * n:
            full += 1
            level = Level(n, min(full, max(n_splits - 1, 1)))
        else:
            level = Level(rows, 1)
        if not levels or levels[-1] != level:
            levels.append(level)
    final = Level(n, n_splits)
    if levels and levels[-1] == final:
        levels.pop()
    return [*levels, final]


def stratified_order(y: np.ndarray, task: str, random_state: int) -> np.ndarray:
    """A seeded permutation of the rows whose every prefix is (nearly) stratified, so the
    race's nested subsamples keep the class proportions."""
    rng = np.random.RandomState(random_state)
    n = len(y)
    if task != "classification":
        return rng.permutation(n)
    key = np.empty(n)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        rng.shuffle(rows)
        key[rows] = (np.arange(len(rows)) + rng.uniform(size=len(rows))) / len(rows)
    return np.argsort(key, kind="stable")


def _fit_predict(
    config: dict[str, Any],
    categorical: list[str],
    task: str,
    random_state: int,
    X: Any,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int | None,
    metric: str,
) -> tuple[np.ndarray, float, float]:
    """Child-process body: fit one fold, predict its test rows."""
    from threadpoolctl import threadpool_limits

    from autometa import space

    estimator = space.build(
        config, categorical=categorical, task=task, random_state=random_state, metric=metric
    )
    # one core per evaluation, as tune's: parallelism is n_jobs', and OpenMP/BLAS threads
    # fighting over a busy machine make fit times (and so the time plan) unpredictable
    with space.quiet_fit_warnings(), threadpool_limits(1):
        start = time.perf_counter()
        estimator.fit(X.iloc[train], y[train])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        pred = member_output(estimator, X.iloc[test], task, n_classes)
    return pred, fit_time, time.perf_counter() - start


class Search:
    """Race, tune and bookkeeping on one dataset under one clock.

    Parameters
    ----------
    dataset : Dataset
        The cleaned data (class indices as target for classification).
    metric : str
    splits : list of (train, test)
    deadline : float
        ``time.monotonic()`` by which the whole fit, refit included, must end.
    budget : float
        The time budget in seconds (for proportional margins).
    ensemble : bool
        Keep time free for refitting several models.
    random_state, n_jobs, memory_limit_mb
    log : callable
        Progress messages.
    refit : bool
        Whether the caller refits after the search (time is kept free for it); ``False``
        for ``recommend``'s probing race, which refits nothing.
    """

    def __init__(
        self,
        dataset: Any,
        metric: str,
        splits: list,
        *,
        deadline: float,
        budget: float,
        ensemble: bool,
        random_state: int,
        n_jobs: int,
        memory_limit_mb: float | None,
        log: Callable[[str], None],
        refit: bool = True,
    ) -> None:
        from autometa.metrics import METRICS, metrics_for

        self.dataset = dataset
        self.task = dataset.task
        self.metric = metric
        self.metrics = metrics_for(self.task)
        self.sign = 1.0 if METRICS[metric].greater_is_better else -1.0
        self.splits = splits
        self.n = len(dataset.y)
        self.y = np.asarray(dataset.y)
        self.n_classes = int(self.y.max()) + 1 if self.task == "classification" else None
        self.deadline = deadline
        self.budget = budget
        self.ensemble = ensemble
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.memory_limit_mb = memory_limit_mb
        self.log = log
        self.refit = refit
        # each row's place in a seeded, stratified order: subsamples are its prefixes
        self.row_rank = np.argsort(stratified_order(self.y, self.task, random_state))
        self.candidates: list[Candidate] = []
        self.study: Any = None

    # ---- time --------------------------------------------------------------------

    @staticmethod
    def fit_seconds(cand: Candidate, rows: float) -> float:
        """Seconds one fit of ``cand`` on ``rows`` training rows should take, from its
        measured fits (NaN when there are none): a power law through its two largest
        training sizes, or :data:`FIT_TIME_EXPONENT` from one size."""
        by_rows: dict[int, list[float]] = {}
        for r, seconds in cand.fits:
            by_rows.setdefault(r, []).append(seconds)
        if not by_rows:
            return float("nan")
        measured = sorted((r, float(np.mean(v))) for r, v in by_rows.items())
        top_rows, top_seconds = measured[-1]
        exponent = FIT_TIME_EXPONENT
        if len(measured) > 1 and min(measured[-2][1], top_seconds) > 0:
            low_rows, low_seconds = measured[-2]
            slope = math.log(top_seconds / low_seconds) / math.log(top_rows / low_rows)
            exponent = float(np.clip(slope, *FIT_TIME_EXPONENT_RANGE))
        return top_seconds * (rows / max(top_rows, 1)) ** exponent

    def refit_estimate(self, cand: Candidate) -> float:
        """Seconds a fit on all rows should take (NaN when nothing is known)."""
        if cand.fits:
            return self.fit_seconds(cand, self.n) * REFIT_SAFETY
        if np.isfinite(cand.predicted_fit_time):
            return float(cand.predicted_fit_time) * REFIT_SAFETY
        return float("nan")

    def overhead(self) -> float:
        return FIXED_OVERHEAD + OVERHEAD_SHARE * self.budget

    def reserve(self) -> float:
        """Seconds kept free for the refit: the likely final model's estimated fit time
        (an ensemble's three best while they fit in :data:`ENSEMBLE_RESERVE_SHARE` of the
        budget) plus overhead."""
        if not self.refit:
            return self.overhead()
        top = self.by_common_fidelity(self.contenders())[:3] or self.candidates[:1]
        unknown = 0.05 * self.budget
        times = [e if np.isfinite(e := self.refit_estimate(c)) else unknown for c in top]
        need = times[0] if times else 0.0
        if self.ensemble and sum(times) <= ENSEMBLE_RESERVE_SHARE * self.budget:
            need = sum(times)
        # A refit expected to take most of the budget is not what the search should wait
        # for: the final choice then falls back to a model whose refit fits.
        return self.overhead() + min(need, MAX_RESERVE_SHARE * self.budget)

    def left(self) -> float:
        """Seconds the search may still use."""
        return self.deadline - self.reserve() - time.monotonic()

    # ---- scores ------------------------------------------------------------------

    def ranked(self, cands: Sequence[Candidate]) -> list[Candidate]:
        """Best first: higher fidelity, then better score (stable: recommendation order)."""

        def key(c: Candidate) -> tuple:
            s = self.sign * c.score if np.isfinite(c.score) else -np.inf
            return (-(c.rows * 100 + c.folds) if np.isfinite(c.score) else 0, -s)

        return sorted(cands, key=key)

    def contenders(self) -> list[Candidate]:
        """Candidates that may still be the final model: neither failed nor eliminated."""
        return [c for c in self.candidates if c.status not in ("error", "eliminated")]

    def by_common_fidelity(self, cands: Sequence[Candidate]) -> list[Candidate]:
        """Best first by the score at the highest fidelity all of ``cands`` with a score
        were measured at (a candidate the race had no time for is not outranked by a worse
        one that got further), then by :meth:`ranked`; those without a score last."""
        scored = [c for c in cands if c.scores]
        unscored = self.ranked([c for c in cands if not c.scores])
        if not scored:
            return unscored
        common = set.intersection(*(set(c.scores) for c in scored))
        if not common:
            return self.ranked(scored) + unscored
        level = max(common)  # (rows, folds): the most rows, then the most folds
        position = {id(c): i for i, c in enumerate(self.ranked(scored))}
        order = sorted(scored, key=lambda c: (-self.sign * c.scores[level], position[id(c)]))
        return order + unscored

    def _fold_record(
        self, fold: int, test: np.ndarray, pred: np.ndarray, fit_time: float, predict_time: float
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "fold": fold,
            "status": "ok",
            "error": "",
            "fit_time": fit_time,
            "predict_time": predict_time,
        }
        for name in self.metrics:
            try:
                value = score_predictions(name, self.y[test], pred)
            except ValueError:
                value = float("nan")
            record[name] = value if np.isfinite(value) else None
        return record

    # ---- evaluation --------------------------------------------------------------

    def _run_fold(
        self, cand: Candidate, train: np.ndarray, test: np.ndarray, time_limit: float
    ) -> tuple[np.ndarray, float, float] | None:
        from autometa.evaluate import call_with_limits

        try:
            return call_with_limits(
                _fit_predict,
                cand.config,
                list(self.dataset.categorical),
                self.task,
                self.random_state,
                self.dataset.X,
                self.y,
                train,
                test,
                self.n_classes,
                self.metric,
                time_limit=time_limit,
                memory_limit_mb=self.memory_limit_mb,
            )
        except TimeoutError as exc:
            cand.status, cand.error = "timeout", str(exc)
        except MemoryError as exc:
            cand.status, cand.error = "memory", str(exc)
        except RuntimeError as exc:
            cand.status, cand.error = "error", str(exc)
        return None

    def evaluate(self, cand: Candidate, level: Level, allowance: float) -> None:
        """Score ``cand`` at ``level`` within ``allowance`` seconds (its status says how
        it went; full-row folds and their predictions are kept for later levels)."""
        end = time.monotonic() + allowance
        expected = self.expected_seconds(cand, level)
        if expected > 1.2 * allowance:  # sure to time out: leave the time to others
            cand.status = "skipped"
            cand.error = (
                f"expected to take {expected:.2g} s at this level, "
                f"{allowance:.2g} s were left for it"
            )
            return
        cand.status = "ok"
        if level.rows < self.n:
            train, test = self.subsample_fold(level.rows)
            out = self._run_fold(cand, train, test, max(end - time.monotonic(), 0.01))
            if out is None:
                return
            pred, fit_time, _ = out
            cand.fits.append((len(train), fit_time))
            cand.rows, cand.folds = level.rows, 1
            cand.score = score_predictions(self.metric, self.y[test], pred)
            if np.isfinite(cand.score):
                cand.scores[(level.rows, 1)] = cand.score
            return
        if cand.oof is None:
            shape = (self.n, self.n_classes) if self.n_classes else (self.n,)
            cand.oof = np.full(shape, np.nan)
        for fold in range(level.folds):
            if fold in cand.fold_records:
                continue
            train, test = self.splits[fold]
            out = self._run_fold(cand, train, test, max(end - time.monotonic(), 0.01))
            if out is None:
                self._keep_finished_folds(cand)
                return
            pred, fit_time, predict_time = out
            cand.oof[test] = pred
            cand.fits.append((len(train), fit_time))
            cand.fold_records[fold] = self._fold_record(fold, test, pred, fit_time, predict_time)
        self._score_folds(cand)

    def _score_folds(self, cand: Candidate) -> None:
        """Score ``cand`` on its finished folds of all rows (in order from fold 0)."""
        cand.rows, cand.folds = self.n, len(cand.fold_records)
        values = [r[self.metric] for r in cand.fold_records.values()]
        cand.score = float(np.mean(values)) if all(v is not None for v in values) else float("nan")
        if not np.isfinite(cand.score):
            cand.status, cand.error = "error", f"{self.metric} is undefined on some fold"
            return
        cand.scores[(cand.rows, cand.folds)] = cand.score

    def _keep_finished_folds(self, cand: Candidate) -> None:
        """After a fold ran out of time, score ``cand`` on the folds it finished at this
        fidelity (a partial cross-validation is still the best measurement of it)."""
        finished = len(cand.fold_records)
        if cand.status != "timeout" or not finished or (self.n, finished) in cand.scores:
            return
        note = f"stopped after {finished} of {len(self.splits)} folds: {cand.error}"
        cand.status = "ok"
        self._score_folds(cand)
        if cand.status == "ok":
            cand.error = note

    def subsample_fold(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Fold 0 cut down to ``rows`` rows: the same share of its training and of its test
        rows, each the first rows by :attr:`row_rank` (so the levels' subsamples are nested).

        Cutting each side by itself keeps the fold's train/test proportions whatever the
        relation between the order and the folds (with one seed, ``KFold``'s shuffle and a
        permutation are the same draw: a prefix of the order was then mostly test rows)."""
        share = rows / self.n

        def head(idx: np.ndarray) -> np.ndarray:
            keep = max(1, round(share * len(idx)))
            return np.sort(idx[np.argsort(self.row_rank[idx], kind="stable")[:keep]])

        train, test = self.splits[0]
        return head(np.asarray(train)), head(np.asarray(test))

    def expected_seconds(self, cand: Candidate, level: Level) -> float:
        """Seconds ``cand`` should need at ``level``, from its measured fits (0 when none):
        fit times scale with the training rows."""
        if not cand.fits:
            return 0.0
        if level.rows < self.n:
            return self.fit_seconds(cand, len(self.splits[0][0]) * level.rows / self.n)
        todo = [f for f in range(level.folds) if f not in cand.fold_records]
        return sum(self.fit_seconds(cand, len(self.splits[f][0])) for f in todo)

    def _evaluate_all(self, cands: list[Candidate], level: Level) -> None:
        """Evaluate ``cands`` at ``level``, sharing the time left fairly (``n_jobs`` at a
        time); candidates there is no time for end ``skipped``."""
        expected = [self.expected_seconds(c, level) for c in cands]

        def one(i: int, cand: Candidate) -> None:
            waves_left = math.ceil((len(cands) - i) / self.n_jobs)
            left = self.left()
            if left < MIN_EVAL_SECONDS:
                cand.status, cand.error = "skipped", "no time left in the budget"
                self.log(f"  {cand.source} {cand.algorithm}: skipped (no time left)")
                return
            # A fair share at least; more when the ones after it are known to be quick
            # (one at a time only: parallel evaluations share the time anyway).
            fair = left / max(waves_left, 1)
            allowance = fair
            if self.n_jobs == 1:
                later = sum(e if e > 0 else fair for e in expected[i + 1 :])
                allowance = max(fair, left - later)
            self.evaluate(cand, level, allowance)
            self.log(f"  {cand.source} {cand.algorithm}: {self.describe(cand)}")

        if self.n_jobs == 1:
            for i, cand in enumerate(cands):
                one(i, cand)
        else:
            with ThreadPoolExecutor(self.n_jobs) as pool:
                list(pool.map(one, range(len(cands)), cands))

    def describe(self, cand: Candidate) -> str:
        if cand.status == "ok":
            return (
                f"{self.metric} {cand.score:.4f} on {cand.rows} rows, "
                f"{cand.folds} fold{'s' * (cand.folds != 1)}"
            )
        return f"{cand.status} ({cand.error.splitlines()[0][:80] if cand.error else ''})"

    def race(self, cands: list[Candidate], *, keep_if_affordable: bool = False) -> None:
        """Successive halving of ``cands`` up to full cross-validation.

        With ``keep_if_affordable``, a level eliminates nobody when the time left is
        expected to take every candidate still in the race to full cross-validation
        (:data:`AFFORD_MARGIN` times their fit times scaled from what they measured): they
        all go straight to the last level; and the candidates it did eliminate are taken
        to the last level afterwards, the best first, while the time left is expected to
        allow it. For a budget that is the race's alone (probing in
        :func:`autometa.recommend`), a small fidelity then cannot drop a candidate that
        needs more rows to show what it is worth while the budget had room for it.
        """
        self.candidates.extend(cands)
        for c in cands:
            c.folds_total = len(self.splits)
        levels = plan_levels(self.n, len(cands), len(self.splits))
        alive = list(cands)
        i = 0
        while i < len(levels):
            level = levels[i]
            what = (
                f"{level.rows} rows"
                if level.rows < self.n
                else f"{level.folds} of {len(self.splits)} folds"
            )
            self.log(f"race level {i + 1}/{len(levels)}: {len(alive)} candidates on {what}")
            self._evaluate_all(alive, level)
            if i == len(levels) - 1:
                if keep_if_affordable:
                    self._revive(cands, level)
                return
            ok = [c for c in alive if c.status == "ok"]
            if not ok:
                return
            i += 1
            if keep_if_affordable and self._affordable(ok, levels[-1]):
                alive, i = ok, len(levels) - 1
                continue
            keep = min(len(ok), max(min(2, len(ok)), math.ceil(len(alive) / 2)))
            survivors = self.ranked(ok)[:keep]
            for c in ok:
                if c not in survivors:
                    c.status = "eliminated"
            alive = survivors

    def _revive(self, cands: Sequence[Candidate], level: Level) -> None:
        """Take the eliminated of ``cands`` to ``level`` too, the best of them first, while
        the time left is expected to allow it (the fit-time estimate from one small
        fidelity runs high, so the race may end with time for those it eliminated)."""
        dropped = [c for c in cands if c.status == "eliminated"]
        for cand in self.ranked(dropped):
            if not self._affordable([cand], level):
                continue
            self.evaluate(cand, level, self.left())
            self.log(f"  revived {cand.source} {cand.algorithm}: {self.describe(cand)}")

    def _affordable(self, cands: Sequence[Candidate], level: Level) -> bool:
        """Whether the time left should take all of ``cands`` to ``level``."""
        expected = sum(self.expected_seconds(c, level) for c in cands)
        return AFFORD_MARGIN * expected <= self.left()

    # ---- tuning ------------------------------------------------------------------

    def _cache_entry(self, cand: Candidate) -> list[dict[str, Any]]:
        """``tune``'s record of a raced candidate: its folds when fully evaluated, else one
        failed fold whose status makes the trial PRUNED (resource-stopped: the sampler learns
        it is poor) or FAIL (an error)."""
        if cand.complete(self.n, len(self.splits)):
            return [cand.fold_records[f] for f in sorted(cand.fold_records)]
        status = "error" if cand.status == "error" else "timeout"
        if cand.status == "eliminated":
            note = (
                f"eliminated by the race at {cand.rows} rows, {cand.folds} fold(s): "
                f"{self.metric} {cand.score:.4g}"
            )
        elif cand.status == "ok":  # a partial cross-validation: its error says so
            note = cand.error
        else:
            note = f"{cand.status}: {cand.error}"
        record = {
            "fold": 0,
            "status": status,
            "error": note[-1000:],
            "fit_time": None,
            "predict_time": None,
        }
        record.update(dict.fromkeys(self.metrics))
        return [record]

    def typical_eval_seconds(self) -> float:
        times = [c.eval_seconds() for c in self.candidates]
        times = [t for t in times if np.isfinite(t)]
        return float(np.median(times)) if times else float("nan")

    def tune(self, *, cv: int, kb: Any, model: Any, warm: int) -> None:
        """Run :func:`autometa.tune` on what is left of the budget (if worth it), then add
        its trials to the candidates.

        A round stops starting trials early enough for a trial of the longest allowed
        duration to end in time; trials are usually quicker, so while time is left the
        study is continued with a trial limit of half what remains (at most
        :data:`MAX_TUNE_ROUNDS` rounds)."""
        import optuna

        typical = self.typical_eval_seconds()
        if not np.isfinite(typical):
            return
        # room for recomputing the best tuned configurations' predictions afterwards
        after = typical if self.ensemble else 0.0
        cache = {c.config_id: self._cache_entry(c) for c in self.candidates}
        raced = set(cache)
        storage = optuna.storages.InMemoryStorage()
        longest = max(MIN_TRIAL_LIMIT, TRIAL_LIMIT_FACTOR * typical)
        for round_ in range(MAX_TUNE_ROUNDS):
            window = self.left() - after
            trial_limit = min(window if round_ == 0 else window / 2, longest)
            timeout = window - trial_limit - 0.3  # 0.3 s: tune's study setup and recommend
            if timeout < max(typical, 0.5):
                if round_ == 0:
                    self.log(f"no time left to tune ({max(window, 0):.1f} s)")
                break
            self.log(f"tuning for {timeout:.1f} s (trials stopped after {trial_limit:.1f} s)")
            self._tune_round(
                cv=cv,
                kb=kb,
                model=model,
                warm=warm,
                storage=storage,
                timeout=timeout,
                trial_limit=trial_limit,
                cache=cache,
                raced=raced,
            )
        if self.study is not None:
            self._add_trials()

    def _tune_round(
        self,
        *,
        cv: int,
        kb: Any,
        model: Any,
        warm: int,
        storage: Any,
        timeout: float,
        trial_limit: float,
        cache: dict,
        raced: set,
    ) -> None:
        """One call of :func:`autometa.tune` on the search's study (``storage``)."""
        from autometa.recommendation import NoveltyWarning
        from autometa.tuning import tune

        def progress(study: Any, trial: Any) -> None:
            if trial.user_attrs.get("config_id") in raced:
                return
            value = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
            algorithm = trial.user_attrs.get("config", {}).get("algorithm", "?")
            self.log(f"  tuning trial {trial.number} {algorithm}: {value}")

        with warnings.catch_warnings():
            # said once by the race's recommend already
            warnings.simplefilter("ignore", NoveltyWarning)
            warnings.simplefilter("ignore", UserWarning)
            self.study = tune(
                self.dataset,
                # the timeout ends the study; the count only bounds the queue
                n_trials=warm + MAX_TUNE_TRIALS,
                n_warm_start=warm,
                metric=self.metric,
                cv=cv,
                storage=storage,
                study_name="autometa-auto",
                timeout=timeout,
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                kb=kb,
                model=model,
                time_limit=trial_limit,
                memory_limit_mb=self.memory_limit_mb,
                callbacks=[progress],
                cache=cache,
            )

    def _add_trials(self) -> None:
        """Add the study's finished trials of configurations not yet known as candidates."""
        import optuna

        known = {c.config_id for c in self.candidates}
        State = optuna.trial.TrialState
        for trial in self.study.get_trials(deepcopy=False):
            cid = (trial.user_attrs or {}).get("config_id")
            if (
                cid is None
                or cid in known
                or trial.state not in (State.COMPLETE, State.PRUNED, State.FAIL)
            ):
                continue
            known.add(cid)
            self.candidates.append(Candidate.from_trial(trial, n_rows=self.n, splits=self.splits))

    def complete_predictions(self) -> None:
        """Recompute the out-of-fold predictions of the best tuned configurations that beat
        the raced ones, while their estimated time fits (for the ensemble)."""
        n_splits = len(self.splits)
        best = self.ranked([c for c in self.candidates if c.complete(self.n, n_splits)])
        raced = [c for c in best if c.oof is not None]
        worst = raced[min(len(raced), 3) - 1].score if raced else -np.inf
        todo = [
            c
            for c in best
            if c.oof is None and (not raced or self.sign * c.score > self.sign * worst)
        ]
        for cand in todo[:ENSEMBLE_FROM_TUNING]:
            need = cand.eval_seconds() * 1.3
            if not np.isfinite(need) or need > self.left():
                break
            records, score = cand.fold_records, cand.score
            cand.fold_records = {}
            self.evaluate(cand, Level(self.n, n_splits), self.left())
            if cand.status != "ok":  # its tuning result stands
                cand.oof, cand.status, cand.error = None, "ok", ""
                cand.fold_records, cand.score = records, score
                cand.rows, cand.folds = self.n, n_splits
            else:
                self.log(f"  predictions of {cand.source} ({cand.algorithm}) for the ensemble")
