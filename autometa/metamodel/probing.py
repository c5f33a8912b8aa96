"""Probing: condition the ranking on what a few cheap configurations score on the new data.

Meta-features say which training datasets *look* alike; a handful of quick
cross-validated fits say which ones *respond* alike. Treating the training datasets as
the scenarios the new dataset may follow (as the forest's proximity does), probing is a
Bayesian update of their weights: each dataset's weight is multiplied by the likelihood
of the probe scores measured on the new data given the scores the same configurations
had on that dataset (Gaussian, bandwidth ``sigma``). Ranking then uses the updated
weights exactly as it used the proximity -- active testing (Leite & Brazdil) in its
collaborative-filtering form.

What is probed and with which bandwidth is mined offline, on the knowledge base alone
(:func:`choose_probes`): greedily the cheap configurations, and the bandwidth, whose
probe scores best identify, on held-out families, the configuration to pick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Bandwidths (score units of a bounded metric; standardised units otherwise) tried when
#: probes are chosen.
BANDWIDTHS: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08, 0.16)

#: Share of the configurations, the fastest by median fit time in the knowledge base,
#: that may be probed: a probe must cost little next to the pick it informs.
CHEAP_SHARE = 0.3

#: Multiples of the plan's bandwidth and uniform prior shares tried by :func:`tune_trust`
#: (the plan's bandwidth is chosen under a uniform prior; next to the meta-features' prior
#: the probes usually deserve less trust).
SIGMA_FACTORS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
PRIOR_UNIFORMS: tuple[float, ...] = (0.0, 0.5, 0.9)

#: Least improvement of the held-out first-pick score (normalised units) for which one
#: more probe is added.
MIN_GAIN = 1e-3

#: Share of uniform weight mixed into the prior before the update, so that probes can
#: move weight to datasets the meta-features alone found unlike the query.
PRIOR_UNIFORM = 0.5


def profiles(scores: np.ndarray, bounded: bool) -> np.ndarray:
    """Probe scores made comparable across datasets (rows: datasets, columns: probes,
    greater is better).

    Bounded metrics (accuracy, R², ...) are compared in their own units, clipped to
    [-1, 1] (an R² of -40 says no more than one of -1); unbounded ones (RMSE, log loss)
    are standardised within each row, so only the pattern across probes counts.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if bounded:
        return np.clip(s, -1.0, 1.0)
    with np.errstate(all="ignore"):
        centred = s - np.nanmean(s, axis=1, keepdims=True)
        scale = np.sqrt(np.nanmean(centred**2, axis=1, keepdims=True))
        return np.where(scale > 0, centred / scale, 0.0)


def log_likelihood(train: np.ndarray, query: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian log-likelihood of each training row's probe profile given the query's,
    over the probes both have (a probe that failed on one side says nothing)."""
    diff = np.asarray(train, float) - np.asarray(query, float)[..., None, :]
    return -0.5 * np.nansum(diff**2, axis=-1) / sigma**2


def posterior(prior: np.ndarray, loglik: np.ndarray) -> np.ndarray:
    """Prior weights times the likelihood, normalised (the prior where nothing is known)."""
    prior = np.asarray(prior, dtype=float)
    logw = np.log(np.maximum(prior, 1e-300)) + loglik
    logw = logw - np.max(logw, axis=-1, keepdims=True)
    w = np.exp(logw) * (prior > 0)
    total = w.sum(axis=-1, keepdims=True)
    return np.where(total > 0, w / np.where(total > 0, total, 1.0), prior)


@dataclass(frozen=True)
class ProbePlan:
    """Which configurations to probe (positions in the model's configs), with which
    bandwidth, and the held-out first-pick score that chose them."""

    configs: tuple[int, ...]
    sigma: float
    inner_score: float


def _first_pick_score(P: np.ndarray, U: np.ndarray, sigma: float, same_family: np.ndarray) -> float:
    """Mean normalised score of the first pick when every dataset is the query in turn,
    weighted by its probes' likelihood under the datasets of other families."""
    loglik = log_likelihood(P, P, sigma)  # (query, training dataset)
    w = posterior(np.where(same_family, 0.0, 1.0), loglik)
    picks = np.argmax(w @ U, axis=1)
    return float(U[np.arange(len(U)), picks].mean())


def choose_probes(
    raw: np.ndarray,
    U: np.ndarray,
    fit_times: np.ndarray,
    families: Sequence[str],
    n_probes: int,
    bounded: bool,
) -> ProbePlan | None:
    """Greedy forward choice of up to ``n_probes`` cheap configurations and a bandwidth
    (fewer when one more does not improve the held-out first pick by :data:`MIN_GAIN`).

    Parameters
    ----------
    raw : ndarray (n_datasets, n_configs)
        Raw scores, greater is better, NaN where failed or not run.
    U : ndarray (n_datasets, n_configs)
        Normalised scores (the quantity a pick is judged by).
    fit_times : ndarray (n_datasets, n_configs)
        Seconds; NaN unknown.
    families : near-duplicate family of each dataset: a query's own family is never
        among the datasets that explain its probes.
    n_probes : how many to choose.
    bounded : whether the metric has the same units on every dataset.

    Returns
    -------
    ProbePlan, or None when the knowledge base is too small to choose from.
    """
    n_d, n_c = raw.shape
    if n_probes <= 0 or n_d < 5 or n_c < 2:
        return None
    with np.errstate(all="ignore"):
        cost = np.nanmedian(np.where(np.isfinite(fit_times), fit_times, np.nan), axis=0)
    ok_rate = np.isfinite(raw).mean(axis=0)
    cost = np.where(np.isfinite(cost) & (ok_rate >= 0.95), cost, np.inf)
    n_cheap = max(1, int(np.ceil(CHEAP_SHARE * n_c)))
    candidates = [int(c) for c in np.argsort(cost, kind="stable")[:n_cheap] if np.isfinite(cost[c])]
    codes = pd.factorize(pd.Index(list(families)))[0]
    same_family = codes[:, None] == codes[None, :]
    chosen: list[int] = []
    best: tuple[float, float] = (-np.inf, BANDWIDTHS[0])
    for _ in range(min(n_probes, len(candidates))):
        step = None
        for c in candidates:
            if c in chosen:
                continue
            P = profiles(raw[:, chosen + [c]], bounded)
            for sigma in BANDWIDTHS:
                score = _first_pick_score(P, U, sigma, same_family)
                if step is None or score > step[0] + 1e-12:
                    step = (score, sigma, c)
        if step is None or (chosen and step[0] <= best[0] + MIN_GAIN):
            break  # a probe that does not improve the held-out pick is not worth its cost
        chosen.append(step[2])
        best = (step[0], step[1])
    if not chosen:
        return None
    return ProbePlan(configs=tuple(chosen), sigma=float(best[1]), inner_score=float(best[0]))


def probe_weights(
    prior: np.ndarray,
    train_profiles: np.ndarray,
    probes: Mapping[int, float],
    plan: ProbePlan,
    bounded: bool,
    greater_is_better: bool,
    *,
    sigma: float | None = None,
    prior_uniform: float = PRIOR_UNIFORM,
) -> np.ndarray:
    """The prior weights of the training datasets updated by the measured ``probes``
    (config position -> raw score on the query; configs outside the plan are ignored),
    with bandwidth ``sigma`` (default: the plan's) after mixing ``prior_uniform`` of
    uniform weight into the prior."""
    measured = np.array([probes.get(c, np.nan) for c in plan.configs], dtype=float)
    if not greater_is_better:
        measured = -measured
    if not np.isfinite(measured).any():
        return prior
    query = profiles(measured[None, :], bounded)[0]
    query = np.where(np.isfinite(measured), query, np.nan)
    mixed = (1.0 - prior_uniform) * prior + prior_uniform / len(prior)
    return posterior(mixed, log_likelihood(train_profiles, query, sigma or plan.sigma))


def tune_trust(
    prior: np.ndarray,
    in_train: np.ndarray,
    train_profiles: np.ndarray,
    U: np.ndarray,
    rows: np.ndarray,
    plan: ProbePlan,
    groups: Sequence[str] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """How far to trust the probes next to the meta-features: the bandwidth (a multiple of
    the plan's, :data:`SIGMA_FACTORS`) and the uniform share of the prior
    (:data:`PRIOR_UNIFORMS`) whose probe-updated first pick scores best on held-out folds.

    ``prior``: out-of-fold proximity weights (query rows x training datasets, zero outside
    the query's training fold), ``in_train``: that fold as a mask, ``rows``: the queries,
    ``groups``: their families (one label per row of ``rows``).

    Returns the trust and, for the gate (:func:`probes_earn_trust`), the probed first
    pick's normalised score on each of ``rows`` *cross-fitted*: the rows of one half of
    the families scored with the trust chosen on the other half. The best of fifteen
    settings scored on the rows that chose it looks better than it is, even with probes
    that carry no information.
    """
    P = train_profiles
    sq = np.nansum((P[None, :, :] - P[rows][:, None, :]) ** 2, axis=-1)
    prior, in_train = prior[rows], in_train[rows]
    uniform = in_train / np.maximum(in_train.sum(axis=1, keepdims=True), 1)
    settings = [(plan.sigma * f, share) for f in SIGMA_FACTORS for share in PRIOR_UNIFORMS]
    hits = []
    for sigma, share in settings:
        w = posterior((1.0 - share) * prior + share * uniform, -0.5 * sq / sigma**2)
        hits.append(U[rows, np.argmax(w @ U, axis=1)])
    hits = np.array(hits)
    labels = np.asarray(groups if groups is not None else [str(r) for r in rows])
    families = np.unique(labels)
    half = np.isin(labels, families[::2])
    crossed = np.zeros(len(rows))
    for mine in (half, ~half):
        chosen = int(np.argmax(hits[:, ~mine].mean(axis=1))) if (~mine).any() else 0
        crossed[mine] = hits[chosen, mine]
    best = int(np.argmax(hits.mean(axis=1)))
    sigma, share = settings[best]
    trust = {"sigma": sigma, "prior_uniform": share, "inner_score": float(hits[best].mean())}
    return trust, crossed


def probes_earn_trust(probed: np.ndarray, unprobed: np.ndarray, n_se: float) -> bool:
    """Whether the probed first pick beats the unprobed one on the inner folds by more than
    ``n_se`` standard errors of the paired per-dataset differences.

    Probes cost the user time and, where the knowledge base's scores are noisy, can mislead
    as easily as inform; they change the ranking only on that evidence.

    Examples
    --------
    >>> probes_earn_trust(np.array([1.0, 0.9, 1.0]), np.array([0.2, 0.1, 0.3]), 1.0)
    True
    >>> probes_earn_trust(np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.4, 0.9]), 1.0)
    False
    """
    diff = np.asarray(probed, float) - np.asarray(unprobed, float)
    if len(diff) < 2:
        return False
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    return bool(diff.mean() > n_se * se and diff.mean() > 0)


__all__: Sequence[str] = [
    "BANDWIDTHS",
    "ProbePlan",
    "choose_probes",
    "log_likelihood",
    "posterior",
    "probe_weights",
    "probes_earn_trust",
    "profiles",
    "tune_trust",
]
