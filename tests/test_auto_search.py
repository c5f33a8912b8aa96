"""The budgeted search's time plan and bookkeeping (``autometa._search``), without fitting
anything slow: candidates' measurements are set by hand or faked."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from autometa._candidates import Candidate
from autometa._ensemble import choose
from autometa._search import AFFORD_MARGIN, FIT_TIME_EXPONENT, Level, Search
from autometa.data import load_dataset
from autometa.evaluate import make_splits


def _search(task: str = "regression", n: int = 2000, budget: float = 10.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    if task == "regression":
        y = X["a"] + rng.normal(size=n)
    else:
        y = pd.Series(np.where(X["a"] > 0.3, "yes", "no"))
    dataset = load_dataset(X.assign(target=y), target="target")
    if task == "classification":
        dataset.y = pd.Series(pd.factorize(dataset.y, sort=True)[0])
    metric = "r2" if task == "regression" else "balanced_accuracy"
    return Search(
        dataset,
        metric,
        make_splits(dataset, 5, seed),
        deadline=time.monotonic() + budget,
        budget=budget,
        ensemble=True,
        random_state=seed,
        n_jobs=1,
        memory_limit_mb=None,
        log=lambda message: None,
    )


def _candidate(name: str, **measured) -> Candidate:
    cand = Candidate(config={"algorithm": name}, config_id=f"{name}-0", source=name)
    for key, value in measured.items():
        setattr(cand, key, value)
    return cand


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("seed", [0, 3])
def test_subsample_levels_keep_the_folds_train_test_proportions(task, seed):
    # With one seed, KFold's shuffle and the race's row order were the same permutation:
    # a subsample was then mostly fold 0's test rows (800 training rows of 4,000).
    search = _search(task, n=2000, seed=seed)
    full_train, full_test = search.splits[0]
    previous: set[int] = set()
    for rows in (500, 1000):
        train, test = search.subsample_fold(rows)
        assert len(train) + len(test) == pytest.approx(rows, abs=2)
        assert len(train) / rows == pytest.approx(len(full_train) / search.n, abs=0.01)
        assert set(train) <= set(full_train) and set(test) <= set(full_test)
        assert previous <= set(train)  # nested across levels
        previous = set(train)
    if task == "classification":
        share = search.y[train].mean()
        assert share == pytest.approx(search.y.mean(), abs=0.03)


def test_fit_time_follows_the_measured_sizes():
    search = _search()
    one = _candidate("svm", fits=[(1000, 2.0)])
    assert search.fit_seconds(one, 4000) == pytest.approx(2.0 * 4**FIT_TIME_EXPONENT)
    quadratic = _candidate("svm", fits=[(500, 0.5), (1000, 2.0)])
    assert search.fit_seconds(quadratic, 2000) == pytest.approx(8.0)
    flat = _candidate("xgboost", fits=[(500, 1.0), (1000, 1.01)])  # fixed costs dominate
    assert search.fit_seconds(flat, 4000) == pytest.approx(1.01 * 4**0.5)
    assert np.isnan(search.fit_seconds(_candidate("none"), 100))


def test_final_choice_compares_candidates_where_all_were_measured():
    search = _search()
    n = search.n
    # the better model had no time for the second level; a worse one went on to all folds
    strong = _candidate("strong", status="skipped", score=0.80, rows=500, folds=1)
    strong.scores = {(500, 1): 0.80}
    weak = _candidate("weak", status="ok", score=0.62, rows=n, folds=2)
    weak.scores = {(500, 1): 0.63, (1000, 1): 0.64, (n, 2): 0.62}
    lost = _candidate("lost", status="eliminated", score=0.5, rows=500, folds=1)
    lost.scores = {(500, 1): 0.5}
    for cand in (strong, weak, lost):
        cand.fits = [(400, 0.01)]
    search.candidates = [weak, lost, strong]
    assert [c.source for c in search.by_common_fidelity([weak, strong])] == ["strong", "weak"]
    members, _ = choose(search, ensemble=True, log=lambda message: None)
    assert [c.source for c, _ in members] == ["strong"]


def test_a_timed_out_fold_keeps_the_finished_ones(monkeypatch):
    search = _search(n=1000)
    cand = _candidate("slow")
    search.candidates = [cand]
    calls = []

    def fake_run_fold(cand, train, test, time_limit):
        calls.append(len(calls))
        if len(calls) == 4:
            cand.status, cand.error = "timeout", "time limit of 1 s exceeded"
            return None
        return np.full(len(test), float(search.y[test].mean())), 0.1, 0.01

    monkeypatch.setattr(search, "_run_fold", fake_run_fold)
    search.evaluate(cand, Level(search.n, 5), allowance=100.0)
    assert cand.status == "ok" and cand.folds == 3 and cand.rows == search.n
    assert "stopped after 3 of 5 folds" in cand.error
    assert np.isfinite(cand.score) and (search.n, 3) in cand.scores
    assert not cand.complete(search.n, 5)
    # tune learns of it as a resource-stopped (pruned) trial, with the partial score's note
    (record,) = search._cache_entry(cand)
    assert record["status"] == "timeout" and "stopped after 3 of 5" in record["error"]


def test_ensemble_refits_are_reserved_only_while_they_are_a_small_share():
    search = _search(n=1000, budget=10.0)
    cands = []
    for i, seconds in enumerate((0.5, 0.4, 0.3)):
        cand = _candidate(f"m{i}", status="ok", score=0.9 - i / 10, rows=1000, folds=5)
        cand.scores = {(1000, 5): cand.score}
        cand.fits = [(800, seconds)]
        cands.append(cand)
    search.candidates = cands
    small = search.reserve() - search.overhead()
    assert small == pytest.approx(sum(search.refit_estimate(c) for c in cands))
    for cand in cands:
        cand.fits = [(800, 3 * cand.fits[0][1])]  # three refits: over a quarter of 10 s
    large = search.reserve() - search.overhead()
    assert large == pytest.approx(search.refit_estimate(cands[0]))


def _fake_evaluations(monkeypatch, seconds: float) -> None:
    """Evaluations that take no time but report ``seconds`` of fitting; ``late`` scores
    worst on a subsample and best on all rows (a model that needs rows to show its worth)."""

    def evaluate(self, cand, level, allowance):
        train_rows = len(self.splits[0][0]) * level.rows // self.n
        cand.status = "ok"
        cand.fits.append((train_rows, seconds))
        cand.rows, cand.folds = level.rows, level.folds
        full = level.rows == self.n
        cand.score = {"late": 0.9 if full else 0.1}.get(cand.source, 0.5 + 0.01 * len(cand.source))
        cand.scores[(level.rows, level.folds)] = cand.score

    monkeypatch.setattr(Search, "evaluate", evaluate)


@pytest.mark.parametrize("keep", [False, True])
def test_a_race_with_time_for_all_eliminates_nobody_when_asked(monkeypatch, keep):
    _fake_evaluations(monkeypatch, seconds=0.01)
    search = _search(n=4000, budget=60.0)
    cands = [_candidate(name) for name in ("a", "bb", "ccc", "dddd", "late")]
    search.race(cands, keep_if_affordable=keep)
    winner = search.ranked(cands)[0]
    if keep:  # measured once on the smallest level, then all on full cross-validation
        assert {(c.rows, c.folds) for c in cands} == {(4000, 5)}
        assert winner.source == "late"
        assert all(len(c.scores) == 2 for c in cands)
    else:
        assert cands[-1].status == "eliminated"
        assert winner.source != "late"


def test_a_race_short_of_time_still_halves(monkeypatch):
    _fake_evaluations(monkeypatch, seconds=5.0)  # 5 x 5 folds x 5 s: far over 60 s
    search = _search(n=4000, budget=60.0)
    cands = [_candidate(name) for name in ("a", "bb", "ccc", "dddd", "late")]
    search.race(cands, keep_if_affordable=True)
    assert cands[-1].status == "eliminated"
    assert sum(c.folds == 5 for c in cands) == 2


def test_time_left_after_the_halving_goes_to_the_eliminated_best_first(monkeypatch):
    # All five at full CV look unaffordable (2 s per fit, AFFORD_MARGIN 1.5 x 5 x 5 x 2 >
    # 60 s), but after the halving there is time for one more: the eliminated with the
    # best score.
    _fake_evaluations(monkeypatch, seconds=2.0)
    monkeypatch.setattr(Search, "_affordable", _affordable_budget(60.0))
    search = _search(n=4000, budget=1000.0)
    cands = [_candidate(name) for name in ("a", "bb", "ccc", "dddd", "late")]
    search.race(cands, keep_if_affordable=True)
    # halving: dddd and ccc to full CV; then time for bb (the best eliminated, measured at
    # two sizes), none for a (one measured size extrapolates high) nor late after it
    full = {c.source for c in cands if c.folds == 5}
    assert full == {"dddd", "ccc", "bb"}
    assert [c.status for c in cands if c.source in ("a", "late")] == ["eliminated"] * 2
    assert search.ranked(cands)[0].source == "dddd"


def _affordable_budget(budget: float):
    """``Search._affordable`` against a clock that the fake evaluations' reported fit
    times advance (they take no real time)."""

    def affordable(self, cands, level):
        spent = sum(t for c in self.candidates for _, t in c.fits)
        expected = sum(self.expected_seconds(c, level) for c in cands)
        return AFFORD_MARGIN * expected <= budget - spent

    return affordable


def test_time_left_repeats_full_cross_validation_on_fresh_splits(monkeypatch):
    from autometa._probing import RACE_REPEATS, repeat_full_cv

    def evaluate(self, cand, level, allowance):  # a score that depends on the split
        cand.status, cand.rows, cand.folds = "ok", self.n, len(self.splits)
        first_test = int(self.splits[0][1][0])
        cand.score = 0.5 + first_test / 1e4 + (0.1 if cand.source == "b" else 0.0)
        cand.fold_records = {
            f: {"fit_time": 0.01, "predict_time": 0.0, "r2": cand.score} for f in range(3)
        }
        cand.fits = [(800, 0.01)] * 3
        seen.setdefault(cand.source, []).append(cand.score)

    monkeypatch.setattr(Search, "evaluate", evaluate)
    seen: dict[str, list[float]] = {}
    search = _search(n=1000, budget=60.0)
    finished = [_candidate("a"), _candidate("b")]
    for cand in finished:
        search.evaluate(cand, Level(search.n, 5), 10.0)
    fold_scores = [[], []]
    assert repeat_full_cv(search, finished, random_state=0, fold_scores=fold_scores) == (
        RACE_REPEATS - 1
    )
    for cand, folds in zip(finished, fold_scores):  # the mean over every repetition's
        assert len(seen[cand.source]) == RACE_REPEATS
        assert cand.score == pytest.approx(np.mean(seen[cand.source]))
        # each repetition's three folds (the first split's are the caller's)
        assert folds == [s for s in seen[cand.source][1:] for _ in range(3)]
    assert len({round(s, 6) for s in seen["a"]}) > 1  # fresh splits each time
    # no time for all of them: no repetition, scores as measured
    slow = [_candidate("a", score=0.7), _candidate("b", score=0.6)]
    for cand in slow:
        cand.fold_records = {f: {"fit_time": 30.0, "predict_time": 0.0} for f in range(5)}
    assert repeat_full_cv(search, slow, random_state=0) == 0
    assert [c.score for c in slow] == [0.7, 0.6]


def _folds(*values: float) -> dict[int, dict[str, float]]:
    return {f: {"r2": v, "fit_time": 0.01, "predict_time": 0.0} for f, v in enumerate(values)}


def test_the_probing_race_compares_unfinished_candidates_on_their_common_folds():
    from autometa._probing import race_order

    search = _search(n=1000)  # r2, 5 folds
    n = search.n
    # a cheap, weak model got through all five folds; two better ones were stopped after
    # two (no time), one was eliminated on fold 0 and one failed
    weak = _candidate("weak", status="ok", rows=n, folds=5, score=0.62)
    weak.fold_records = _folds(0.60, 0.61, 0.62, 0.63, 0.64)
    strong = _candidate("strong", status="skipped", rows=n, folds=2, score=0.80)
    strong.fold_records = _folds(0.79, 0.81)
    second = _candidate("second", status="skipped", rows=n, folds=2, score=0.70)
    second.fold_records = _folds(0.70, 0.70)
    lost = _candidate("lost", status="eliminated", rows=n, folds=1, score=0.99)
    lost.fold_records = _folds(0.99)  # would win on fold 0, but lost where it was raced
    failed = _candidate("failed", status="error")
    cands = [weak, lost, failed, second, strong]
    for cand in cands:
        cand.scores = {(cand.rows, cand.folds): cand.score} if cand.rows else {}
    assert search.ranked(cands)[0] is weak  # the fidelity rule alone
    order = [c.source for c in race_order(search, cands)]
    assert order[:3] == ["strong", "second", "weak"]
    assert order[-1] == "failed"
    # every one still racing finished: the fidelity rule (the repetitions' mean) stands
    strong.status, strong.folds, second.status, second.folds = "ok", 5, "ok", 5
    strong.fold_records = _folds(0.79, 0.81, 0.5, 0.5, 0.5)
    strong.score, second.score = 0.60, 0.55
    second.fold_records = _folds(0.70, 0.70, 0.5, 0.5, 0.5)
    assert race_order(search, cands)[:3] == search.ranked(cands)[:3]
