"""Statistical meta-features of the numeric features.

Input: ``prep.N`` (n, p), the imputed numeric columns; categorical columns are
*not* used (pymfe gray-codes them into its ``N``; OpenML's "...OfNumericAtts"
qualities skip them, as we do).  Exception: ``sparsity`` uses every feature,
categorical ones by their codes.  Every per-column measure is computed for all
columns at once from one sorted copy of ``N`` (medians, quartiles, trimmed
means, distinct counts), so the whole group costs one O(n p log n) sort plus
O(n ps^2 + ps^3) for the covariance and its eigendecomposition.

The pairwise measures (:data:`COLUMN_SAMPLED`: covariance, correlations,
eigenvalues, canonical correlations, Box's M) use the ``ps`` numeric features
of the column sample (at most ``max_columns``; every numeric feature unless
the data are wider); the per-feature measures use every column.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._prepare import Prepared
from ._registry import Results, spec

G = "statistical"
_NUM = "numeric features only"

SPECS = (
    spec(G, "mean", "Mean of each numeric feature.", summarised=True, categorical=_NUM),
    spec(
        G,
        "sd",
        "Standard deviation (ddof=1) of each numeric feature.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(G, "var", "Variance (ddof=1) of each numeric feature.", summarised=True, categorical=_NUM),
    spec(G, "min", "Minimum of each numeric feature.", summarised=True, categorical=_NUM),
    spec(G, "max", "Maximum of each numeric feature.", summarised=True, categorical=_NUM),
    spec(G, "median", "Median of each numeric feature.", summarised=True, categorical=_NUM),
    spec(G, "range", "max - min of each numeric feature.", summarised=True, categorical=_NUM),
    spec(
        G,
        "iq_range",
        "Interquartile range (linear interpolation) of each numeric feature.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "mad",
        "Median absolute deviation x 1.4826 of each numeric feature (as pymfe).",
        summarised=True,
        categorical=_NUM,
        cost="nlogn",
    ),
    spec(
        G,
        "t_mean",
        "20% trimmed mean of each numeric feature (scipy trim_mean, as pymfe).",
        summarised=True,
        categorical=_NUM,
        cost="nlogn",
    ),
    spec(
        G,
        "g_mean",
        "Geometric mean of each numeric feature; NaN if it has negative values, 0 if its minimum is 0 (as pymfe).",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "h_mean",
        "Harmonic mean of each numeric feature; NaN if it has negative values, 0 if it contains 0.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "skewness",
        "Skewness m3/s^3 (s with ddof=1; pymfe/e1071 type 3) of each non-constant numeric feature.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "kurtosis",
        "Excess kurtosis m4/s^4 - 3 (pymfe/e1071 type 3) of each non-constant numeric feature.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "sparsity",
        "(n / distinct values - 1) / (n - 1) of every feature (categorical by codes; numeric after imputation).",
        summarised=True,
        categorical="by category codes",
        cost="nlogn",
    ),
    spec(
        G,
        "cor",
        "|Pearson correlation| of each pair of non-constant numeric features.",
        summarised=True,
        categorical=_NUM,
        cost="linear",
    ),
    spec(
        G,
        "cov",
        "|Covariance| (ddof=1) of each pair of numeric features.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "eigenvalues",
        "Eigenvalues of the covariance matrix of the numeric features.",
        summarised=True,
        categorical=_NUM,
    ),
    spec(
        G,
        "nr_cor_attr",
        "Share of numeric-feature pairs with |correlation| >= 0.5 (pymfe nr_cor_attr).",
        categorical=_NUM,
    ),
    spec(
        G,
        "nr_outliers",
        "Number of numeric features with a value beyond 1.5 IQR of the quartiles (pymfe nr_outliers).",
        categorical=_NUM,
    ),
    spec(
        G,
        "nr_norm",
        "Number of numeric features for which D'Agostino-Pearson does not reject normality at 5% on the first 5,000 rows (pymfe's default test is Shapiro-Wilk).",
        categorical=_NUM,
    ),
    spec(
        G,
        "can_cor",
        "Canonical correlations between numeric features and one-hot class (exact, via whitened cross-covariance SVD; pymfe uses iterative sklearn CCA with min(k, p) components).",
        summarised=True,
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "nr_disc",
        "Number of non-zero canonical correlations, i.e. discriminant functions (<= min(k-1, p); pymfe reports min(k, p)).",
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "w_lambda",
        "Wilks' lambda, prod(1 - rho_i^2) over canonical correlations.",
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "p_trace",
        "Pillai's trace, sum(rho_i^2).",
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "lh_trace",
        "Lawley-Hotelling trace, sum(rho_i^2 / (1 - rho_i^2)); NaN when some rho_i = 1.",
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "roy_root",
        "Roy's largest root, max(rho_i^2 / (1 - rho_i^2)); NaN when rho_1 = 1.",
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "gravity",
        "Euclidean distance between the centroids of the majority class and of the minority class among the others (as pymfe).",
        needs_y=True,
        task="classification",
        categorical=_NUM,
    ),
    spec(
        G,
        "sd_ratio",
        "Box's M based SD ratio exp(M / (p * sum(n_i - 1))) (Michie et al. 1994). pymfe pairs class weights with flipped covariance matrices; we do not.",
        needs_y=True,
        task="classification",
        categorical=_NUM,
        cost="model",
    ),
)

_PER_COLUMN = (
    "mean",
    "sd",
    "var",
    "min",
    "max",
    "median",
    "range",
    "iq_range",
    "mad",
    "t_mean",
    "g_mean",
    "h_mean",
    "skewness",
    "kurtosis",
)
_PAIRWISE = ("cor", "cov", "eigenvalues", "nr_cor_attr")
_CLASS_DEP = (
    "can_cor",
    "nr_disc",
    "w_lambda",
    "p_trace",
    "lh_trace",
    "roy_root",
    "gravity",
    "sd_ratio",
)


#: Computed on the column sample (see the module docstring and ``max_columns``).
COLUMN_SAMPLED = tuple(f"{G}.{x}" for x in _PAIRWISE + _CLASS_DEP if x != "gravity")


def _quantile_sorted(S: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of each column of the column-sorted matrix ``S`` (numpy 'linear')."""
    pos = q * (S.shape[0] - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, S.shape[0] - 1)
    frac = pos - lo
    return S[lo] + frac * (S[hi] - S[lo])


def _per_column(N: np.ndarray, res: Results) -> np.ndarray:
    """All per-column statistics; returns the column-sorted matrix for reuse."""
    n, _ = N.shape
    S = np.sort(N, axis=0)
    mean = N.mean(axis=0)
    dev = N - mean
    m2 = np.mean(dev * dev, axis=0)
    var1 = m2 * n / (n - 1) if n > 1 else np.full_like(m2, np.nan)
    res.put(f"{G}.mean", mean)
    res.put(f"{G}.var", var1)
    res.put(f"{G}.sd", np.sqrt(var1))
    res.put(f"{G}.min", S[0])
    res.put(f"{G}.max", S[-1])
    res.put(f"{G}.range", S[-1] - S[0])
    res.put(f"{G}.median", _quantile_sorted(S, 0.5))
    res.put(f"{G}.iq_range", _quantile_sorted(S, 0.75) - _quantile_sorted(S, 0.25))
    med = _quantile_sorted(S, 0.5)
    res.put(f"{G}.mad", np.median(np.abs(N - med), axis=0) * 1.4826)
    cut = int(0.2 * n)
    res.put(f"{G}.t_mean", S[cut : n - cut].mean(axis=0) if n - 2 * cut > 0 else mean)
    mn = S[0]
    g = np.full(mn.shape, np.nan)
    h = np.full(mn.shape, np.nan)
    pos = mn > 1e-10
    zero = (mn >= 0) & ~pos
    if pos.any():
        g[pos] = np.exp(np.mean(np.log(N[:, pos]), axis=0))
        h[pos] = 1.0 / np.mean(1.0 / N[:, pos], axis=0)
    g[zero] = 0.0
    h[zero] = 0.0
    res.put(f"{G}.g_mean", g)
    res.put(f"{G}.h_mean", h)
    # higher moments on standardised deviations (avoids overflow of dev**4 for huge values)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        s1 = np.sqrt(var1)
        ok = np.isfinite(s1) & (s1 > 0) & (S[-1] > S[0])
        zs = np.where(ok, dev / np.where(ok, s1, 1.0), np.nan)
        res.put(f"{G}.skewness", np.where(ok, np.mean(zs**3, axis=0), np.nan))
        res.put(f"{G}.kurtosis", np.where(ok, np.mean(zs**4, axis=0) - 3.0, np.nan))
    if not ok.all():
        res.reasons[f"{G}.skewness"] = res.reasons[f"{G}.kurtosis"] = (
            "undefined (NaN) for constant columns, ignored by summaries"
        )
    return S


def _n_distinct_sorted(S: np.ndarray) -> np.ndarray:
    if S.shape[0] < 2:
        return np.ones(S.shape[1])
    return 1 + (np.diff(S, axis=0) != 0).sum(axis=0)


def _canonical_correlations(
    N: np.ndarray, prep: Prepared, cov: np.ndarray, means: np.ndarray
) -> np.ndarray:
    """Exact canonical correlations between ``N`` (n, p) and the one-hot class.

    Uses only second moments: ``Sxx`` (the covariance, already computed),
    ``Sxy`` from the per-class means and ``Syy = diag(n_c) - n_c n_c^T / n``;
    each block is whitened with its own rank-revealing eigendecomposition,
    so no (n, k) one-hot matrix is ever built.
    """
    n = N.shape[0]
    counts = prep.class_counts.astype(float)  # type: ignore[union-attr]
    mu = N.mean(axis=0)
    Sxx = cov * (n - 1)
    Sxy = ((means - mu) * counts[:, None]).T  # (p, k) = Xc^T Y
    Syy = np.diag(counts) - np.outer(counts, counts) / n

    def whiten(S: np.ndarray, wv: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        w, V = wv if wv is not None else np.linalg.eigh(S)
        keep = w > max(w.max(), 0) * 1e-10
        return V[:, keep] / np.sqrt(w[keep])

    w_cov, v_cov = prep.cached("cov_eigh", lambda: np.linalg.eigh(cov))
    Wx, Wy = whiten(Sxx, (w_cov * (n - 1), v_cov)), whiten(Syy)
    if Wx.shape[1] == 0 or Wy.shape[1] == 0:
        return np.empty(0)
    rho = np.linalg.svd(Wx.T @ Sxy @ Wy, compute_uv=False)
    rho = np.clip(rho, 0.0, 1.0)
    return rho[rho > 1e-10]


def _box_m_sd_ratio(N: np.ndarray, prep: Prepared) -> tuple[float, str | None]:
    n, p = N.shape
    counts = prep.class_counts
    k = counts.size  # type: ignore[union-attr]
    if k < 2:
        return float("nan"), "needs at least 2 classes"
    if k * p**3 > 5e9:
        return float(
            "nan"
        ), f"skipped: {k} class covariance determinants of size {p} are too expensive"
    if (counts <= p).any():  # type: ignore[operator]
        return float(
            "nan"
        ), "a class has no more rows than numeric features: singular class covariance"
    order = np.argsort(prep.y_codes, kind="stable")
    logdets = np.empty(k)
    pooled = np.zeros((p, p))
    start = 0
    for c, nc in enumerate(counts):  # type: ignore[arg-type]
        Xc = N[order[start : start + nc]]
        start += nc
        D = Xc - Xc.mean(axis=0)
        Sc = D.T @ D
        pooled += Sc
        sign, ld = np.linalg.slogdet(Sc / (nc - 1))
        if sign <= 0:
            return float("nan"), "singular class covariance matrix"
        logdets[c] = ld
    sign, ldp = np.linalg.slogdet(pooled / (n - k))
    if sign <= 0:
        return float("nan"), "singular pooled covariance matrix"
    w = counts - 1.0  # type: ignore[operator]
    gamma = 1.0 - (2.0 * p**2 + 3.0 * p - 1.0) / (6.0 * (p + 1.0) * (k - 1.0)) * (
        np.sum(1.0 / w) - 1.0 / (n - k)
    )
    m = gamma * ((n - k) * ldp - np.dot(w, logdets))
    return float(np.exp(m / (p * (n - k)))), None


def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the statistical meta-features of ``prep``."""
    N = prep.N
    n, p = N.shape
    # sparsity uses all features
    parts = []
    if prep.n_categorical:
        parts.append(_n_distinct_sorted(np.sort(prep.C_cat, axis=0)))
    names_num = [f"{G}.{s}" for s in _PER_COLUMN] + [
        f"{G}.{s}" for s in ("cor", "cov", "eigenvalues", "nr_cor_attr", "nr_outliers", "nr_norm")
    ]
    if p == 0:
        res.nan(names_num + [f"{G}.{s}" for s in _CLASS_DEP], "no numeric features")
    else:
        with np.errstate(all="ignore"):
            S = _per_column(N, res)
        parts.insert(0, _n_distinct_sorted(S))
        q1, q3 = _quantile_sorted(S, 0.25), _quantile_sorted(S, 0.75)
        whis = 1.5 * (q3 - q1)
        res.put(f"{G}.nr_outliers", np.sum((q1 - whis > S[0]) | (q3 + whis < S[-1])))
        if n >= 8:
            with np.errstate(all="ignore"):
                _, pv = stats.normaltest(N[:5000], axis=0)
            res.put(f"{G}.nr_norm", np.sum(np.nan_to_num(pv, nan=0.0) > 0.05))
        else:
            res.nan(f"{G}.nr_norm", "normality test needs at least 8 rows")
        # pairwise measures on the column sample (every numeric feature unless very wide)
        Np = prep.N_sample_columns
        pp = Np.shape[1]
        prep.check_time()
        if n < 2:
            res.nan(
                [f"{G}.cov", f"{G}.cor", f"{G}.eigenvalues", f"{G}.nr_cor_attr"],
                "needs at least 2 rows",
            )
            cov = None
        elif pp == 0:
            res.nan(
                [f"{G}.cov", f"{G}.cor", f"{G}.eigenvalues", f"{G}.nr_cor_attr"],
                "no numeric feature in the column sample (max_columns)",
            )
            cov = None
        else:
            with np.errstate(all="ignore"):
                Nc = Np - Np.mean(axis=0)
                cov = (Nc.T @ Nc) / (n - 1)
                del Nc
                sd = np.sqrt(np.diag(cov))
                nz = sd > 0
                corr = cov / np.outer(np.where(nz, sd, 1.0), np.where(nz, sd, 1.0))
                corr[~nz, :] = np.nan
                corr[:, ~nz] = np.nan
            tri = np.tril_indices(pp, k=-1)
            if pp < 2:
                res.nan(
                    [f"{G}.cor", f"{G}.cov", f"{G}.nr_cor_attr"],
                    "needs at least 2 numeric features"
                    + (" in the column sample (max_columns)" if pp < p else ""),
                )
            else:
                c = np.abs(np.clip(corr[tri], -1.0, 1.0))
                res.put(f"{G}.cor", c[np.isfinite(c)])
                res.put(f"{G}.cov", np.abs(cov[tri]))
                res.put(
                    f"{G}.nr_cor_attr", np.sum(np.nan_to_num(c) >= 0.5) * 2.0 / (pp * (pp - 1.0))
                )
            del corr, tri
            prep.check_time()
            if np.isfinite(cov).all():
                w_cov, _ = prep.cached("cov_eigh", lambda: np.linalg.eigh(cov))
                res.put(f"{G}.eigenvalues", w_cov)
            else:
                res.nan(f"{G}.eigenvalues", "covariance overflows (huge values)")
        # class-dependent measures
        cls_names = [f"{G}.{s}" for s in _CLASS_DEP]
        if prep.task is None:
            res.nan(cls_names, "needs y")
        elif not prep.is_classification:
            res.nan(cls_names, "classification only (task is regression)")
        elif prep.n_classes < 2:
            res.nan(cls_names, "needs at least 2 classes")
        else:
            counts = prep.class_counts
            means, _ = prep.class_stats
            maj = int(np.argmax(counts))
            rest = np.delete(np.arange(counts.size), maj)
            mino = int(rest[np.argmin(counts[rest])])
            res.put(f"{G}.gravity", np.linalg.norm(means[maj] - means[mino]))
            if cov is None or not np.isfinite(cov).all():
                res.nan(cls_names[:6], "covariance undefined or overflows")
            else:
                prep.check_time()
                with np.errstate(all="ignore"):
                    rho = _canonical_correlations(Np, prep, cov, means[:, prep.num_idx])
                res.put(f"{G}.can_cor", rho)
                res.put(f"{G}.nr_disc", rho.size)
                r2 = rho**2
                if rho.size == 0:
                    res.nan(
                        [f"{G}.w_lambda", f"{G}.p_trace", f"{G}.lh_trace", f"{G}.roy_root"],
                        "no non-zero canonical correlation",
                    )
                else:
                    res.put(f"{G}.p_trace", r2.sum())
                    res.put(f"{G}.w_lambda", np.prod(1.0 - r2))
                    if (r2 >= 1.0 - 1e-12).any():
                        res.nan(
                            [f"{G}.lh_trace", f"{G}.roy_root"],
                            "a canonical correlation is 1 (perfect linear separation)",
                        )
                    else:
                        eig = r2 / (1.0 - r2)
                        res.put(f"{G}.lh_trace", eig.sum())
                        res.put(f"{G}.roy_root", eig.max())
            prep.check_time()
            with np.errstate(all="ignore"):
                val, why = _box_m_sd_ratio(Np, prep)
            res.put(f"{G}.sd_ratio", val, why)
    if n < 2:
        res.nan(f"{G}.sparsity", "needs at least 2 rows")
    else:
        res.put(f"{G}.sparsity", (n / np.concatenate(parts) - 1.0) / (n - 1.0))
