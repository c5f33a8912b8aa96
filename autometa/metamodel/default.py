"""The default meta-model: the meta-feature forest's prediction for the first pick --
shrunk towards the single best solver only where held-out evidence says that helps --
then picks that maximise the expected best of k over the training datasets the forest
finds alike, hedging against the first pick being wrong, rather than the k individually
best (which tend to be near-copies of one config).

How far to trust the forest differs from one knowledge base to the next, so the
shrinkage, the incumbent bonus and the hedging are chosen at fit time by grouped
cross-validation *on the training datasets only* (inner folds keep near-duplicate
families together, as the outer evaluation does), with a standard-error rule scaled by
the knowledge base's measured noise: the forest's own prediction is kept unless a
shrunk one is better on the inner folds by more than that many standard errors. The same
rule can decide whether the first pick also listens to a learned ranker
(:class:`~autometa.metamodel.RankerModel`; ``ranker_share="tune"``, off by default;
``ranker_share="auto"``: by half in classification, not in regression).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from autometa.errors import InvalidParameterError
from autometa.metamodel._families import dataset_family, make_folds
from autometa.metamodel._level import ScoreLevel, in_metric_units
from autometa.metamodel._scaler import FeatureScaler
from autometa.metamodel._training import TrainingData
from autometa.metamodel.forest import ForestModel, hedged_picks, proximity, weighted_prediction
from autometa.metamodel.probing import probes_earn_trust, tune_trust
from autometa.metamodel.ranker import RankerModel

#: Weight ``a`` of the forest in the first pick, ``mu = sbs + a (forest - sbs)``; the most
#: conservative (the single best config) first.
SHRINKAGE: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)

#: Shares of the ranker's prediction in the first-pick scores, ``(1 - s) forest + s
#: ranker``, that ``ranker_share="tune"`` chooses from (the forest alone first: the ranker
#: must earn its place).
RANKER_SHARES: tuple[float, ...] = (0.0, 0.5)

#: The ranker's share per task for ``ranker_share="auto"``; tasks not named here: none.
#: Half in classification, where on the shipped knowledge base grouped
#: leave-one-family-out (k=1) and the real tables at real size (zero-shot) both favour it;
#: none in regression, where both favour the forest alone
#: (``benchmarks/results/ranker_share.md``,
#: ``benchmarks/results/recommend_realsize_ranker_share/``). The inner folds of
#: ``"tune"`` keep the forest alone in both tasks: their standard-error rule asks for more
#: evidence than a knowledge base of 500-row scores gives.
AUTO_RANKER_SHARES: Mapping[str, float] = MappingProxyType(
    {"classification": 0.5, "regression": 0.0}
)

#: Risk aversions ``r`` that ``risk_aversion="tune"`` chooses from: the first pick maximises
#: ``mu - r * spread``, ``spread`` the proximity-weighted standard deviation of a config's
#: normalised score over the training datasets found alike (none first: it must earn its
#: place). A config that is best on most neighbours but far behind on the rest (a linear
#: model among tree ensembles) then needs a larger lead to come first.
RISK_AVERSIONS: tuple[float, ...] = (0.0, 0.25, 0.5)

#: Incumbent bonuses: the single best config keeps the first place unless another config
#: is predicted better by more than this (normalised-score units).
BONUSES: tuple[float, ...] = (0.05, 0.02, 0.0)

#: Standard errors by which a less conservative first pick must beat a more conservative
#: one on the inner folds. Two rather than one: trusting the forest over the single best
#: costs most when the new dataset comes from a family unlike the training datasets
#: (inner folds cannot see that shift), so the forest takes over only on strong evidence.
FIRST_PICK_SE = 2.0

#: Standard errors by which the probed first pick must beat the unprobed one on the inner
#: folds for probes to be used at all: probes cost the user time, and at one standard
#: error probes that carry no information got through on two of four toy knowledge bases
#: (tests/metamodel/test_probing.py; at two, on none).
PROBE_SE = 2.0

#: Configs per training dataset, picked as ``select`` picks them, whose held-out outcomes
#: calibrate the predicted score and standard deviation (the ones a user is shown).
CALIBRATION_TOP = 5

#: Coverage the calibrated ±1 and ±2 standard deviations aim at on the inner folds, inside
#: the 60-75 % and >= 90 % that are promised: held-out families miss by more than the inner
#: folds show (measured in benchmarks/results/kb_v2/default_rule/README.md). ±1 aims above
#: the middle of its band because on regression, whose residuals are lighter-tailed, the
#: ±1 term sets the scale: aimed at 65 % it covered 63 % / 88.7 % of held-out outcomes,
#: at 70 % 66.1 % / 91.3 % (classification, where ±2 sets it: 72.0 % / 93.1 % either way).
#: ±2 aims at 95 % rather than 94 % since held-out families have heavier tails than the
#: inner folds; :data:`CEILING_1SD` keeps that from pushing ±1 out of its band where the
#: tails are heavy. With the calibration on the hedged picks, held-out families: 70.3 % /
#: 95.9 % (classification), 69.0 % / 90.6 % (regression; 68.1 % / 89.4 % before both).
COVERAGE_1SD, COVERAGE_2SD = 0.70, 0.95

#: Most of the inner folds' outcomes ±1 may cover: the scale the ±2 aim asks for is cut
#: back to this (heavy tails would otherwise widen ±1 past the promised 75 %).
CEILING_1SD = 0.74

#: Which first pick the standard-error rule keeps unless the inner folds show another to be
#: better: ``"model"`` (the forest's prediction; shrinkage towards the single best config
#: must earn its place) or ``"sbs"`` (the single best config; the forest must earn its place).
FIRST_PICK_PRIORS: tuple[str, ...] = ("model", "sbs")

#: How the inner standard errors count datasets: each one independently, or clustered by
#: near-duplicate family (:func:`autometa.metamodel.evaluation.dataset_family`).
SE_GROUPS: tuple[str, ...] = ("dataset", "family")


def _one_se_choice(
    scores: list[np.ndarray], n_se: float = 1.0, groups: Sequence[str] | None = None
) -> int:
    """Index of the first (most preferred) candidate whose per-dataset scores are within
    ``n_se`` standard errors of the best candidate's (paired differences): the
    one-standard-error rule, so that a candidate that only wins by noise on the inner folds
    is not preferred over a simpler one.

    With ``groups`` (one label per dataset, e.g. its near-duplicate family) the standard
    error is clustered by group: a family's datasets are not independent draws, and counting
    them as such makes a large family look like strong evidence."""
    means = np.array([s.mean() for s in scores])
    best = int(np.argmax(means))
    n = len(scores[best])
    # without groups every dataset is its own cluster: the clustered SE is then the usual
    # std(ddof=1) / sqrt(n)
    codes = np.arange(n) if groups is None else pd.factorize(pd.Index(groups))[0]
    n_groups = int(codes.max()) + 1 if n else 0
    for i, s in enumerate(scores):
        diff = scores[best] - s
        sums = np.bincount(codes, weights=diff - diff.mean(), minlength=n_groups)
        se = np.sqrt(n_groups / (n_groups - 1) * np.sum(sums**2)) / n if n_groups > 1 else 0.0
        if diff.mean() <= n_se * se + 1e-12:
            return i
    return best


def _check_number_or(
    name: str, value: Any, keywords: Sequence[str], high: float | None = None
) -> None:
    """Refuse a ``DefaultModel`` parameter ``name`` unless its ``value`` is one of
    ``keywords`` or a number (not a bool) from 0 to ``high`` (no upper bound where ``None``)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    keyword = isinstance(value, str) and value in keywords
    if keyword or (number and 0 <= value and (high is None or value <= high)):
        return
    bound = ">= 0" if high is None else f"in [0, {high:g}]"
    words = " or ".join(repr(k) for k in keywords)
    raise InvalidParameterError(f"DefaultModel: {name}={value!r}; use a number {bound} or {words}")


def _candidates(value: float | str, grid: tuple[float, ...]) -> tuple[float, ...]:
    """The values the inner folds choose a tunable setting from: ``grid`` for ``"tune"``,
    else the one given."""
    return grid if value == "tune" else (float(value),)


def denoised_scores(U: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, float]:
    """Empirical-Bayes estimates of the true normalised scores, and the KB's noise share.

    Each dataset's score of a config is pulled towards the config's mean over datasets by
    ``tau2 / (tau2 + noise)``: ``noise`` is the cell's measurement-noise variance (from the
    spread of its cross-validation folds), ``tau2`` the config's between-dataset variance
    of true scores (total variance minus mean noise, at least 5 % of the total). A score
    measured on a few noisy folds then counts for what its repeats say it is worth.

    Returns the estimates and the noise share: the fraction of the scores' variance across
    datasets that is measurement noise (0 where the KB has no fold-level information).
    """
    mean = U.mean(axis=0)
    total = U.var(axis=0)
    # A cell's noise cannot exceed what its config varies by across datasets; a few cells
    # with a near-zero best-minus-median span would otherwise dominate every average.
    noise = np.nan_to_num(np.asarray(noise, dtype=float), nan=0.0, posinf=np.inf)
    noise = np.minimum(noise, total[None, :])
    tau2 = np.maximum(total - noise.mean(axis=0), 0.05 * total)
    with np.errstate(all="ignore"):
        keep = np.where(tau2 + noise > 0, tau2 / (tau2 + noise), 1.0)
    share = float(np.clip(noise.mean() / total.mean(), 0.0, 1.0)) if total.mean() > 0 else 0.0
    return mean + keep * (U - mean), share


def calibration(
    data: TrainingData,
    raw: np.ndarray,
    std: np.ndarray,
    picks: np.ndarray,
    rows: np.ndarray,
) -> dict[str, float]:
    """Shift and scale that make held-out predictions of the configs picked for each
    dataset honest: ``shift`` is the median standardised residual (the winner's curse
    of picking the highest predictions), ``scale`` the smallest factor of the predicted
    standard deviation with which ±1 covers :data:`COVERAGE_1SD` and ±2 covers
    :data:`COVERAGE_2SD` of the held-out outcomes, as long as ±1 covers at most
    :data:`CEILING_1SD` (split conformal, on the inner folds).

    ``raw``/``std``: held-out predictions in the metric's units (greater is better) for the
    training datasets at positions ``rows``; ``picks``: the configs picked for each of them
    (what a user is shown; -1: none).
    """
    s = data.scores if data.greater_is_better else -data.scores
    z = []
    for j, i in enumerate(rows):
        for c in picks[j]:
            if c >= 0 and np.isfinite(s[i, c]) and std[j, c] > 0:
                z.append((s[i, c] - raw[j, c]) / std[j, c])
    if len(z) < 20:
        return {}
    z = np.asarray(z)
    shift = float(np.median(z))
    spread = np.abs(z - shift)
    scale = min(
        max(float(np.quantile(spread, COVERAGE_1SD)), float(np.quantile(spread, COVERAGE_2SD)) / 2),
        float(np.quantile(spread, CEILING_1SD)),
    )
    return {"shift": shift, "scale": max(scale, 1e-6), "n": float(len(z))}


class _Split(NamedTuple):
    """One inner split's out-of-fold predictions, normalised, (n_datasets, n_configs) each."""

    forest: np.ndarray
    spread: np.ndarray  # the forest's proximity-weighted spread of each config's score
    sbs: np.ndarray
    ranker: np.ndarray  # zeros where no ranker share is a candidate
    #: (n_datasets, CALIBRATION_TOP): the forest's hedged picks, as ``select`` makes them
    #: with the forest alone (-1 where not predicted): what the calibration reads
    picks: np.ndarray


@dataclass
class _InnerPredictions:
    """What :class:`DefaultModel` learns from its inner folds: the out-of-fold predictions of
    each inner split, in normalised scores and in the metric's units, and the first split's
    proximity weights."""

    repeats: list[_Split]
    #: (raw, std) of each split, (n_datasets, n_configs) each, greater is better
    in_units: list[tuple[np.ndarray, np.ndarray]]
    weights: np.ndarray  # (held-out dataset, training dataset) proximity
    in_train: np.ndarray  # bool, the training datasets of each held-out one
    rows: np.ndarray  # datasets every split predicted


def _first_pick_hits(
    U: np.ndarray,
    repeats: Sequence[_Split],
    rows: np.ndarray,
    setting: tuple[float, float, float, float],
) -> np.ndarray:
    """Each dataset at ``rows``: the score ``U`` of the first pick the ``setting`` (``a``,
    ``bonus``, ranker share, risk aversion) makes of its out-of-fold predictions, averaged
    over the inner splits ``repeats``."""
    return np.mean(
        [
            [U[i, int(np.argmax(_pick_scores(split, i, *setting)))] for i in rows]
            for split in repeats
        ],
        axis=0,
    )


def _pick_scores(
    split: _Split, i: int, a: float, bonus: float, share: float, risk: float
) -> np.ndarray:
    blended = (1 - share) * split.forest[i] + share * split.ranker[i]
    return _shrunk(split.sbs[i], blended, a, bonus) - risk * split.spread[i]


def _shrunk(sbs: np.ndarray, forest: np.ndarray, a: float, bonus: float) -> np.ndarray:
    mu = sbs + a * (forest - sbs)
    if bonus:
        mu = mu.copy()
        mu[int(np.argmax(sbs))] += bonus
    return mu


class DefaultModel(ForestModel):
    """Forest prediction (shrunk to the single best where that earns its place) for the first
    pick, hedged best-of-k after.

    The first pick maximises ``mu = sbs + a (forest - sbs)`` (plus a ``bonus`` for the
    single best config, which keeps the first place unless another is predicted better by
    more than that), where ``forest`` is the prediction of a multi-output extra-trees
    forest on the meta-features (see :mod:`~autometa.metamodel.forest`) and ``sbs`` each
    config's mean normalised score. Picks 2..k greedily maximise the weighted mean over
    the training datasets of the best score among the picks so far, with weights
    ``(1 - uniform) * proximity + uniform / n`` -- so the list covers the scenarios in
    which the first pick falls short on datasets like this one.

    With ``tune=True`` (the default) ``a`` and ``bonus`` (:data:`SHRINKAGE`,
    :data:`BONUSES`) are chosen by the out-of-fold score of the first pick, over
    ``inner_folds`` grouped folds of the training datasets (averaged over
    ``inner_repeats`` differently dealt splits), with a standard-error rule: the first
    candidate, in the order ``first_pick_prior`` gives, within ``first_pick_se`` paired
    standard errors of the best. The chosen values are part of the saved state; the
    out-of-fold first-pick score of every training dataset under every candidate is kept,
    until the model is saved, as ``inner_scores_`` (datasets x (a, bonus, ranker share,
    risk aversion)). (``uniform`` is not tuned: on the shipped knowledge base pure
    proximity hedging was as good or better at every k, and a tuned share mostly added
    noise.) With ``tune=False`` (or fewer than ``min_tune_datasets`` training datasets)
    the constructor's values are used.

    Parameters
    ----------
    a, bonus : float
        Forest weight and single-best bonus (used when not tuned).
    uniform : float
        Share of uniform weight in the hedging weights (0: the forest's proximity only;
        1: the static greedy portfolio after the first pick).
    n_estimators, min_samples_leaf, max_features : forest settings.
    tune : bool
        Choose the settings by inner grouped cross-validation.
    inner_folds : int
    inner_repeats : int
        Inner splits (the families dealt differently each time) whose first-pick scores
        are averaged per dataset before the standard-error rule: less variance in the
        choice, ``inner_repeats`` times the tuning cost. Three rather than one: on the
        one-repeat classification KB the steadier choice picked better at top-1 and at
        best-of-10, and regression was unchanged within noise
        (``benchmarks/results/recommend_lodo_forest_default.md``).
    min_tune_datasets : int
    denoise : bool
        Grow the trees (which decide which training datasets are alike) on empirical-Bayes
        estimates of the true scores instead of the measured ones (:func:`denoised_scores`;
        noise from the spread of each cell's folds). Predictions, hedging and the inner
        first-pick scores that choose ``a`` and ``bonus`` use the measured scores. Off by
        default: on the v2 knowledge base trees grown on the measured scores picked better
        in regression and as well within noise in classification
        (``benchmarks/results/kb_v2/default_rule/README.md``): shrinking every cell towards
        its config's mean also shrinks what tells datasets apart.
    first_pick_se : float or "noise"
        Standard errors of the first-pick rule. ``"noise"``: ``1 + noise_share``, the
        textbook one-standard-error rule plus the share of the KB's score variance that
        its repeats show to be measurement noise -- strict on a noisy KB (scores from a
        few hundred rows), close to one SE on a clean one, and one SE where the KB has no
        repeats to measure noise with.
    first_pick_prior : {"model", "sbs"}
        The candidate the standard-error rule keeps unless another is better on the inner
        folds by more than ``first_pick_se`` standard errors: ``"model"`` (no shrinkage,
        no bonus; then ever more shrinkage towards the single best config) or ``"sbs"``
        (the single best config; then ever more trust in the forest). ``"model"`` by
        default: on the v2 knowledge base's grouped leave-one-family-out evaluation,
        keeping the single best config unless the forest clearly won on the inner folds
        lost to the forest alone at top-1 in regression (classification within noise;
        ``benchmarks/results/kb_v2/default_rule/README.md``): the inner folds' noise
        decides against the forest in the folds where it would have helped.
    se_groups : {"dataset", "family"}
        Standard errors of the rule over datasets, or clustered by near-duplicate family
        (:data:`SE_GROUPS`). On the two-repeat regression KB clustering kept the single best
        config where counting datasets trusted the forest, and so picked better at k=1;
        classification was unchanged within noise (``benchmarks/first_pick_rules.py``,
        ``benchmarks/results/first_pick_rules_*.md``), hence the default.
    ranker_share : float, "auto" or "tune", default=0.0
        Share ``s`` of a :class:`~autometa.metamodel.RankerModel`'s prediction in the
        first-pick scores, ``(1 - s) forest + s ranker`` (before the shrinkage; picks
        2..k hedge the first as usual); the ranker is fitted only for a share above 0
        (``chosen_["ranker_share"]``), and the inner folds that choose ``a`` and
        ``bonus`` then fit one each (about twice the fitting time). ``"auto"``: the
        task's share in :data:`AUTO_RANKER_SHARES`, half in classification and none in
        regression: on the shipped knowledge base half the ranker lifted the zero-shot
        classification pick on held-out families (k=1: +0.025 +- 0.012 normalised
        score; at k=5 the hedged list lost 0.009 +- 0.004) and on the real tables at real
        size (+0.009 against +0.005 over the best default; probing -0.003, best of 5
        level), and cost regression at k=1 (``benchmarks/results/ranker_share.md``,
        ``benchmarks/results/recommend_realsize_ranker_share/``). ``"tune"``: chosen
        from :data:`RANKER_SHARES` with ``a`` and ``bonus`` by the same inner folds and
        standard-error rule, the forest alone preferred (on the shipped knowledge base
        they keep it in both tasks); with ``tune=False``, 0. Off by default: the gain is
        within the noise of either benchmark, its costs are not (twice the fitting
        time, the zero-shot pick's calibration at real size 51 % / 86 % against 59 % /
        87 %; ``benchmarks/results/kb_v2/ranker_share_auto/``).
    risk_aversion : float or "tune", default=0.0
        ``r`` of a first pick by ``mu - r * spread`` (``spread``: the proximity-weighted
        standard deviation of each config's normalised score over the training datasets
        found alike), so that a config far behind on some of them needs a larger lead;
        probed picks are not discounted. ``"tune"``: chosen from :data:`RISK_AVERSIONS`
        with ``a`` and ``bonus`` by the same inner folds and standard-error rule, none
        preferred. Off by default: on the shipped knowledge base the inner folds keep none
        in both tasks (classification's first pick loses with any); fixed at 0.25 or 0.5
        it closed 0.05 more of the gap at k=1 in grouped leave-one-family-out, within its
        standard errors (``benchmarks/results/kb_v2/risk_aversion/``), but at 0.5 the
        zero-shot pick on the real-size tables lost 0.005 (classification) and 0.002
        (regression) (``benchmarks/results/recommend_realsize_risk_aversion/``).
    n_probes : int
        Cheap configurations to probe (see :class:`~autometa.metamodel.ForestModel`).
        Given probe scores, the first pick is the probe-updated prediction itself: the
        shrinkage towards the single best config is for meta-features alone. How far the
        probes are trusted next to the meta-features (bandwidth, uniform share of the
        prior) is chosen on the inner folds (``probe_trust_``,
        :func:`~autometa.metamodel.probing.tune_trust`), and whether to use them at all:
        only where the probed first pick beats the unprobed one there by the same
        standard-error rule (``probe_trust_["used"]``,
        :func:`~autometa.metamodel.probing.probes_earn_trust`); otherwise measured probes
        leave the ranking as it is.
    n_jobs : int
        Threads used to grow the trees.
    random_state : int

    Examples
    --------
    >>> model = DefaultModel().fit(kb, "classification", "balanced_accuracy")  # doctest: +SKIP
    >>> model.chosen_  # doctest: +SKIP
    {'a': 1.0, 'bonus': 0.0, 'uniform': 0.0}
    >>> model.select(kb.metafeatures("classification").iloc[0], k=5)  # doctest: +SKIP
    [12, 40, 3, 77, 5]
    """

    name = "default"

    def __init__(
        self,
        a: float = 1.0,
        bonus: float = 0.0,
        uniform: float = 0.0,
        n_estimators: int = 300,
        min_samples_leaf: int = 2,
        max_features: float = 0.3,
        tune: bool = True,
        inner_folds: int = 5,
        inner_repeats: int = 3,
        min_tune_datasets: int = 20,
        se_groups: str = "family",
        first_pick_prior: str = "model",
        denoise: bool = False,
        first_pick_se: float | str = "noise",
        ranker_share: float | str = 0.0,
        risk_aversion: float | str = 0.0,
        n_probes: int = 4,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators,
            min_samples_leaf=min_samples_leaf,
            max_features=max_features,
            uniform=uniform,
            n_probes=n_probes,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.a = a
        self.bonus = bonus
        self.tune = tune
        self.inner_folds = inner_folds
        self.inner_repeats = inner_repeats
        self.min_tune_datasets = min_tune_datasets
        self.se_groups = se_groups
        self.first_pick_prior = first_pick_prior
        self.denoise = denoise
        self.first_pick_se = first_pick_se
        self.ranker_share = ranker_share
        self.risk_aversion = risk_aversion

    # ------------------------------------------------------------------ fitting
    def _tree_targets(self, data: TrainingData) -> np.ndarray:
        denoised, self.noise_share_ = denoised_scores(self.U_, data.utility_noise())
        self._tree_U = denoised if self.denoise else self.U_
        return self._tree_U

    def _n_se(self) -> float:
        if self.first_pick_se == "noise":
            return 1.0 + self.noise_share_
        return float(self.first_pick_se)

    def _fit(self, data: TrainingData) -> None:
        if self.se_groups not in SE_GROUPS:
            raise InvalidParameterError(
                f"DefaultModel: se_groups={self.se_groups!r}; use one of {list(SE_GROUPS)}"
            )
        if self.first_pick_prior not in FIRST_PICK_PRIORS:
            raise InvalidParameterError(
                f"DefaultModel: first_pick_prior={self.first_pick_prior!r}; use one of "
                f"{list(FIRST_PICK_PRIORS)}"
            )
        _check_number_or("first_pick_se", self.first_pick_se, ("noise",))
        _check_number_or("ranker_share", self.ranker_share, ("tune", "auto"), high=1.0)
        _check_number_or("risk_aversion", self.risk_aversion, ("tune",))
        super()._fit(data)
        self.calibration_: dict[str, float] = {}
        self.probe_trust_: dict[str, float] = {}
        self.tuning_: dict[str, float] = {}
        self.inner_scores_ = pd.DataFrame()
        tuned = self.tune and len(data.datasets) >= self.min_tune_datasets
        self.chosen_ = self._tune(data) if tuned else self._given()
        self.ranker_ = None
        if self.chosen_["ranker_share"] > 0:
            self.ranker_ = RankerModel(random_state=self.random_state).fit_data(data)

    def _ranker_shares(self) -> tuple[float, ...]:
        """The ranker shares the inner folds choose from."""
        if self.ranker_share == "auto":
            return (AUTO_RANKER_SHARES.get(self.task_, 0.0),)
        return _candidates(self.ranker_share, RANKER_SHARES)

    def _risk_aversions(self) -> tuple[float, ...]:
        """The risk aversions the inner folds choose from."""
        return _candidates(self.risk_aversion, RISK_AVERSIONS)

    def _tune(self, data: TrainingData) -> dict[str, float]:
        """Out-of-fold forest predictions on the training datasets (grouped inner folds),
        then the calibration, the trust in probes and the first-pick settings they support."""
        inner = self._inner_predictions(data)
        rows = inner.rows
        if len(rows) < 3:
            return self._given()
        # every split's residuals: one split's top-5 picks leave the tail quantile noisy
        self.calibration_ = calibration(
            data,
            np.concatenate([raw[rows] for raw, _ in inner.in_units]),
            np.concatenate([std[rows] for _, std in inner.in_units]),
            np.concatenate([split.picks[rows] for split in inner.repeats]),
            np.tile(rows, len(inner.repeats)),
        )
        a, bonus, share, risk = self._choose_first_pick(data, inner.repeats, rows)
        if self.probe_plan_ is not None:
            self.probe_trust_, probed = tune_trust(
                inner.weights,
                inner.in_train,
                self.probe_profiles_,
                self.U_,
                rows,
                self.probe_plan_,
                [dataset_family(data.datasets[i]) for i in rows],
            )
            unprobed = self.inner_scores_[(a, bonus, share, risk)].to_numpy(dtype=float)
            self.probe_trust_["used"] = float(probes_earn_trust(probed, unprobed, PROBE_SE))
        return {
            "a": float(a),
            "bonus": float(bonus),
            "uniform": float(self.uniform),
            "ranker_share": float(share),
            "risk_aversion": float(risk),
        }

    def _inner_predictions(self, data: TrainingData) -> _InnerPredictions:
        """Out-of-fold predictions of ``inner_repeats`` grouped inner splits of the
        training datasets: the first split deals families by name, further ones in seeded
        random orders."""
        n_d = len(data.datasets)
        inner = _InnerPredictions(
            repeats=[],
            in_units=[],
            weights=np.zeros((n_d, n_d)),
            in_train=np.zeros((n_d, n_d), bool),
            rows=np.arange(0),
        )
        rows = np.ones(n_d, bool)
        for r in range(max(1, self.inner_repeats)):
            labels = make_folds(
                data.datasets,
                n_folds=int(min(self.inner_folds, n_d)),
                random_state=None if r == 0 else self.random_state + r,
            )
            fold = np.array([labels[d] for d in data.datasets])
            split, in_units, predicted = self._inner_split(data, fold, inner if r == 0 else None)
            inner.repeats.append(split)
            inner.in_units.append(in_units)
            rows &= predicted
        inner.rows = np.flatnonzero(rows)
        return inner

    def _inner_split(
        self, data: TrainingData, fold: np.ndarray, first: _InnerPredictions | None
    ) -> tuple[_Split, tuple[np.ndarray, np.ndarray], np.ndarray]:
        """The forest's, the single best's and the ranker's out-of-fold predictions of one
        inner split (``fold``: a label per dataset; the ranker's only where a share above 0
        is a candidate, zeros otherwise), the forest's in the metric's units with their
        standard deviations (for the calibration), and which datasets they cover. With
        ``first``, also record there the proximity weights (the probes' trust uses the
        first split)."""
        U, learnt = self.U_, self._tree_U  # measured scores / what the trees learn
        forest, sbs, ranker = np.zeros(U.shape), np.zeros(U.shape), np.zeros(U.shape)
        spreads = np.zeros(U.shape)
        raw, std = np.full(U.shape, np.nan), np.full(U.shape, np.nan)
        picks = np.full((len(fold), CALIBRATION_TOP), -1)
        with_ranker = max(self._ranker_shares()) > 0
        predicted = np.zeros(len(fold), bool)
        for f in np.unique(fold):
            te = np.flatnonzero(fold == f)
            tr = np.flatnonzero(fold != f)
            if len(tr) < 2:
                continue
            scaler = FeatureScaler().fit(data.metafeatures.iloc[tr])
            Xtr = scaler.transform(data.metafeatures.iloc[tr])
            Xte = scaler.transform(data.metafeatures.iloc[te])
            trees = self._grow(Xtr, learnt[tr])
            level = ScoreLevel.fit(Xtr, self.best_raw_[tr], self.median_raw_[tr], self.random_state)
            leaves_tr, leaves_te = trees.apply(Xtr), trees.apply(Xte)
            sbs[te] = U[tr].mean(axis=0)
            if with_ranker:
                model = RankerModel(random_state=self.random_state).fit_data(data.subset(tr))
                ranker[te] = [model._rank(x, None)[0] for x in Xte]  # the same scaling
            for j, i in enumerate(te):
                w = proximity(leaves_tr, leaves_te[j])
                forest[i], spreads[i] = weighted_prediction(w, U[tr])
                raw[i], std[i] = in_metric_units(level.predict(Xte[j]), forest[i], spreads[i])
                mine = hedged_picks(forest[i], U[tr], w, CALIBRATION_TOP, prefer=sbs[i])
                picks[i, : len(mine)] = mine
                if first is not None:
                    first.weights[i, tr], first.in_train[i, tr] = w, True
            predicted[te] = True
        return _Split(forest, spreads, sbs, ranker, picks), (raw, std), predicted

    def _choose_first_pick(
        self,
        data: TrainingData,
        repeats: Sequence[_Split],
        rows: np.ndarray,
    ) -> tuple[float, float, float, float]:
        """The shrinkage ``a``, ``bonus``, ranker share and risk aversion the standard-error
        rule keeps, from every candidate's out-of-fold first-pick score on the datasets at
        ``rows`` (kept as ``tuning_`` and ``inner_scores_``)."""
        U = self.U_
        table: dict[str, float] = {}
        scores, cands = [], []
        first_share, first_risk = self._ranker_shares()[0], self._risk_aversions()[0]
        grid = itertools.product(self._ranker_shares(), self._risk_aversions(), BONUSES, SHRINKAGE)
        for share, risk, bonus, a in grid:
            if a == 0.0 and (bonus != BONUSES[0] or share != first_share or risk != first_risk):
                continue  # the single best whatever the bonus, the share and the risk
            hits = _first_pick_hits(U, repeats, rows, (a, bonus, share, risk))
            name = f"first pick: a={a} bonus={bonus}" + (f" ranker={share}" if share else "")
            table[name + (f" risk={risk}" if risk else "")] = float(hits.mean())
            scores.append(hits)
            cands.append((a, bonus, share, risk))
        names = [data.datasets[i] for i in rows]
        groups = [dataset_family(d) for d in names] if self.se_groups == "family" else None
        # the rule keeps the first candidate within n_se of the best: order by preference
        # (the forest alone before any ranker share, no risk aversion before some, whichever
        # the prior)
        order = sorted(range(len(cands)), key=lambda j: (cands[j][2], cands[j][3]))
        if self.first_pick_prior == "model":  # least shrinkage first
            order.sort(key=lambda j: (cands[j][2], cands[j][3], -cands[j][0], cands[j][1]))
        chosen = cands[order[_one_se_choice([scores[j] for j in order], self._n_se(), groups)]]
        self.tuning_ = table
        self.inner_scores_ = pd.DataFrame(
            np.column_stack(scores),
            index=names,
            columns=pd.MultiIndex.from_tuples(
                cands, names=["a", "bonus", "ranker_share", "risk_aversion"]
            ),
        )
        return chosen

    def _given(self) -> dict[str, float]:
        # untuned, "tune" means the grid's first (most preferred) value: none
        return {
            "a": float(self.a),
            "bonus": float(self.bonus),
            "uniform": float(self.uniform),
            "ranker_share": self._ranker_shares()[0],
            "risk_aversion": self._risk_aversions()[0],
        }

    # ------------------------------------------------------------------ predicting
    def _first_pick_scores(
        self,
        forest: np.ndarray,
        probed: bool = False,
        x: np.ndarray | None = None,
        spread: np.ndarray | None = None,
    ) -> np.ndarray:
        if probed:  # the probes' evidence, not the inner folds' trust in meta-features
            return forest
        c = self.chosen_
        share = c.get("ranker_share", 0.0)  # states saved before the ranker: none
        if share and x is not None:
            forest = (1 - share) * forest + share * self.ranker_._rank(x, None)[0]
        mu = _shrunk(self.sbs_, forest, c["a"], c["bonus"])
        risk = c.get("risk_aversion", 0.0)  # states saved before it: none
        return mu - risk * spread if risk and spread is not None else mu

    def _hedge_uniform(self) -> float:
        return float(self.chosen_["uniform"])

    # ------------------------------------------------------------------ state
    def _get_state(self) -> dict[str, Any]:
        return {
            **super()._get_state(),
            "chosen": dict(self.chosen_),
            "calibration": {k: float(v) for k, v in self.calibration_.items()},
            "probe_trust": {k: float(v) for k, v in self.probe_trust_.items()},
            "tuning": {k: float(v) for k, v in self.tuning_.items()},
            "noise_share": float(self.noise_share_),
            "ranker": None if self.ranker_ is None else self.ranker_.get_state(),
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        super()._set_state(state)
        self.chosen_ = {k: float(v) for k, v in state["chosen"].items()}
        self.tuning_ = dict(state.get("tuning", {}))
        self.noise_share_ = float(state.get("noise_share", 0.0))
        self.calibration_ = {k: float(v) for k, v in state.get("calibration", {}).items()}
        self.probe_trust_ = {k: float(v) for k, v in state.get("probe_trust", {}).items()}
        self.inner_scores_ = pd.DataFrame()
        ranker = state.get("ranker")  # states saved before the ranker: none
        self.ranker_ = None if ranker is None else RankerModel().set_state(ranker)


__all__: Sequence[str] = [
    "AUTO_RANKER_SHARES",
    "BONUSES",
    "FIRST_PICK_PRIORS",
    "FIRST_PICK_SE",
    "RISK_AVERSIONS",
    "SE_GROUPS",
    "SHRINKAGE",
    "DefaultModel",
    "denoised_scores",
]
