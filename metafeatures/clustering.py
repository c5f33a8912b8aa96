"""Clustering meta-features: cluster-validity indices with the classes as clusters.

Computed on the row sample (at most ``max_rows`` rows) of the design matrix
``prep.Z``, using the shared distance matrix ``prep.D`` for the
distance-based indices.  Classification only (NaN for regression).
Definitions follow pymfe's ``clustering`` group (Rivolli et al. 2022, Table
of clustering measures); pymfe computes them on all rows.
"""

from __future__ import annotations

import numpy as np

from ._prepare import Prepared
from ._registry import Results, spec

G = "clustering"
_Z = "one-hot (at most 32 levels per feature); numeric z-scored"

SPECS = (
    spec(
        G,
        "ch",
        "Calinski-Harabasz index: (B/(k-1)) / (W/(n-k)) with between/within sums of squares.",
        needs_y=True,
        task="classification",
        categorical=_Z,
    ),
    spec(
        G,
        "int",
        "Mean Euclidean distance between class centroids (INT index).",
        needs_y=True,
        task="classification",
        categorical=_Z,
    ),
    spec(
        G,
        "nre",
        "Relative entropy of the class distribution to the uniform one, log2(k) - H(class), in bits.",
        needs_y=True,
        task="classification",
        categorical="not used",
    ),
    spec(
        G,
        "pb",
        "Point-biserial correlation between pairwise distance and 'same class' (negative when classes are compact).",
        needs_y=True,
        task="classification",
        categorical=_Z,
        cost="quadratic",
    ),
    spec(
        G,
        "sc",
        "Number of classes with fewer than 15 rows (pymfe sc).",
        needs_y=True,
        task="classification",
        categorical="not used",
        cost="constant",
    ),
    spec(
        G,
        "sil",
        "Mean silhouette of the rows with the classes as clusters.",
        needs_y=True,
        task="classification",
        categorical=_Z,
        cost="quadratic",
    ),
    spec(
        G,
        "vdb",
        "Davies-Bouldin index of the classes.",
        needs_y=True,
        task="classification",
        categorical=_Z,
    ),
    spec(
        G,
        "vdu",
        "Dunn index: smallest between-class distance / largest within-class diameter.",
        needs_y=True,
        task="classification",
        categorical=_Z,
        cost="quadratic",
    ),
)


#: Measures on the design matrix (all but ``nre`` and ``sc``), hence on the column sample.
COLUMN_SAMPLED = tuple(m.name for m in SPECS if m.name not in (f"{G}.nre", f"{G}.sc"))


def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the clustering meta-features."""
    names = [m.name for m in SPECS]
    if prep.task is None:
        res.nan(names, "needs y")
        return
    if not prep.is_classification:
        res.nan(names, "classification only (task is regression)")
        return
    counts_full = prep.class_counts
    k_full = counts_full.size  # type: ignore[union-attr]
    pfreq = counts_full / counts_full.sum()  # type: ignore[operator]
    ent = float(-(pfreq * np.log2(pfreq)).sum())
    res.put(
        f"{G}.nre",
        np.log2(k_full) - ent if k_full > 1 else np.nan,
        None if k_full > 1 else "needs at least 2 classes",
    )
    res.put(f"{G}.sc", np.sum(counts_full < 15))  # type: ignore[operator]
    Z = prep.Z
    y = prep.y_sample_codes
    assert y is not None
    s = Z.shape[0]
    counts = np.bincount(y, minlength=k_full).astype(float)
    present = counts > 0
    k = int(present.sum())
    rest = [f"{G}.{x}" for x in ("ch", "int", "pb", "sil", "vdb", "vdu")]
    if k < 2 or s <= k:
        res.nan(rest, "needs at least 2 classes and more rows than classes")
        return
    sums = np.zeros((k_full, Z.shape[1]))
    np.add.at(sums, y, Z)
    cent = sums[present] / counts[present, None]
    cnt = counts[present]
    code = np.cumsum(present) - 1  # map class code -> index among present classes
    yc = code[y]
    mu = Z.mean(axis=0)
    B = float(np.sum(cnt * ((cent - mu) ** 2).sum(axis=1)))
    Wrow = ((Z - cent[yc]) ** 2).sum(axis=1)
    W = float(Wrow.sum())
    res.put(
        f"{G}.ch",
        (B / (k - 1)) / (W / (s - k)) if W > 0 else np.nan,
        None if W > 0 else "zero within-class scatter",
    )
    cd = (
        np.sqrt(np.maximum(((cent[:, None, :] - cent[None, :, :]) ** 2).sum(axis=2), 0.0))
        if k <= 2000
        else None
    )
    if cd is not None:
        res.put(f"{G}.int", cd[np.triu_indices(k, 1)].mean())
        # Davies-Bouldin: mean over classes of max_j (S_i + S_j) / d(c_i, c_j)
        S = np.bincount(yc, weights=np.sqrt(Wrow), minlength=k) / cnt
        with np.errstate(divide="ignore", invalid="ignore"):
            R = (S[:, None] + S[None, :]) / cd
        np.fill_diagonal(R, -np.inf)
        R[~np.isfinite(R)] = np.nan
        db = np.nanmax(np.where(np.isnan(R), -np.inf, R), axis=1)
        res.put(
            f"{G}.vdb",
            np.mean(db) if np.isfinite(db).all() else np.nan,
            None if np.isfinite(db).all() else "two classes share a centroid",
        )
    else:
        res.nan([f"{G}.int", f"{G}.vdb"], "too many classes for the (k, k) centroid distances")
    prep.check_time()
    D = prep.D
    prep.check_time()
    same = yc[:, None] == yc[None, :]
    # point-biserial correlation over the s(s-1)/2 pairs from sums over the
    # symmetric matrix (no (s^2/2,) pair vector is materialised)
    n_pairs = s * (s - 1) / 2.0
    sd_ = float(D.sum(dtype=np.float64)) / 2.0
    sdd = float(np.einsum("ij,ij->", D, D, dtype=np.float64)) / 2.0
    sds = float(sum(D[np.ix_(yc == c, yc == c)].sum(dtype=np.float64) for c in range(k))) / 2.0
    ns = float((cnt * (cnt - 1)).sum()) / 2.0
    md, ps = sd_ / n_pairs, ns / n_pairs
    vd = sdd / n_pairs - md**2
    if vd > 0 and 0 < ps < 1:
        res.put(f"{G}.pb", (sds / n_pairs - md * ps) / np.sqrt(vd * ps * (1 - ps)))
    else:
        res.nan(f"{G}.pb", "constant distances or a single class pair type")
    # silhouette: mean distance of each row to each class via one (s, s) @ (s, k) product
    onehot_sum = np.zeros((s, k))
    for c in range(k):  # (s, k) per-class distance sums without a dense one-hot
        onehot_sum[:, c] = D[:, yc == c].sum(axis=1, dtype=np.float64)
    own = onehot_sum[np.arange(s), yc]
    own_n = cnt[yc] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(own_n > 0, own / np.maximum(own_n, 1), 0.0)
        other = onehot_sum / cnt[None, :]
        other[np.arange(s), yc] = np.inf
        b = other.min(axis=1)
        sil = np.where((own_n > 0) & (np.maximum(a, b) > 0), (b - a) / np.maximum(a, b), 0.0)
    res.put(f"{G}.sil", sil.mean())
    inter = np.where(same, np.inf, D).min()
    intra = np.where(same, D, 0).max()
    res.put(
        f"{G}.vdu",
        inter / intra if intra > 0 else np.nan,
        None if intra > 0 else "all classes have zero diameter",
    )
