"""Data-complexity meta-features (Ho & Basu 2002; Lorena et al. 2019, 2018).

Computed on the row sample (at most ``max_rows`` rows, recorded in the info)
of the design matrix ``prep.Z`` (z-scored numeric + one-hot categorical) with
Euclidean distances from the shared matrix ``prep.D``; nothing larger than
(s, s) is built.  Classification measures are NaN for regression and the
``reg_*`` measures (Lorena et al. 2018) NaN for classification, so the output
index does not depend on the task.

Differences from pymfe (which uses Gower distances on min-max scaled data):
Euclidean distances on z-scored data; pairwise (one-vs-one) measures use at
most :data:`MAX_PAIRS` class pairs drawn with ``random_state``; ``f1v`` uses
the pooled within-class covariance of all classes; ``t1`` counts hyperspheres
(radius = distance to the nearest enemy) not contained in a larger same-class
hypersphere, without pymfe's iterative radius adjustment; ``l1``-``l3`` use a
least-squares linear classifier instead of a linear SVM; ``density`` uses
epsilon = 0.15 of the largest distance.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.stats import rankdata

from ._prepare import Prepared
from ._registry import Results, spec

G = "complexity"
_Z = "one-hot (at most 32 levels per feature); numeric z-scored"
MAX_PAIRS = 20
EPSILON = 0.15
_BLOCK = 512

_CLS = {"needs_y": True, "task": "classification", "categorical": _Z}
_REG = {"needs_y": True, "task": "regression", "categorical": _Z}

SPECS = (
    spec(
        G,
        "f1",
        "Per design-matrix column, 1 / (1 + Fisher's discriminant ratio) (multi-class ratio: between / within class variance).",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "f1v",
        "Per class pair, 1 / (1 + delta' W^-1 delta): directional-vector Fisher ratio with the pooled within-class covariance W.",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "f2",
        "Per class pair, volume of the overlapping region: prod over columns of overlap / joint range.",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "f3",
        "Per class pair, smallest share of the pair's rows inside the overlap region of a single column.",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "f4",
        "Per class pair, share of rows left after repeatedly removing rows separated by the most efficient column.",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "l1",
        "Per class pair, sum of distances of misclassified rows to the least-squares linear boundary, s / (1 + s).",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "l2",
        "Per class pair, training error of a least-squares linear classifier.",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "l3",
        "Per class pair, error of that linear classifier on points interpolated between random same-class pairs.",
        summarised=True,
        **_CLS,
    ),
    spec(
        G,
        "n1",
        "Share of rows joined to another class by an edge of the minimum spanning tree.",
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "n2",
        "Per row, d(nearest same-class) / (d(nearest same-class) + d(nearest other-class)).",
        summarised=True,
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "n3",
        "Per row, leave-one-out 1-NN error (0/1); the mean is the error rate.",
        summarised=True,
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "n4",
        "Per interpolated point (random same-class pairs), 1-NN error (0/1).",
        summarised=True,
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "t1",
        "Share of hyperspheres (radius: nearest-enemy distance) not inside a larger same-class hypersphere.",
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "lsc",
        "Local-set average cardinality: 1 - sum_i |{j : d_ij < nearest-enemy distance of i}| / n^2.",
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "density",
        "1 - edge density of the epsilon-NN graph (epsilon = 0.15 x largest distance) without between-class edges.",
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "hubs",
        "Per row, 1 - normalised hub score (principal eigenvector) in that graph.",
        summarised=True,
        cost="quadratic",
        **_CLS,
    ),
    spec(
        G,
        "t2",
        "n_features / n_instances (average number of features per point).",
        cost="constant",
        categorical="counted as one feature each",
    ),
    spec(
        G, "t3", "Principal components for 95% of the variance of Z / n_instances.", categorical=_Z
    ),
    spec(
        G,
        "t4",
        "Principal components for 95% of the variance / number of design-matrix columns.",
        categorical=_Z,
    ),
    spec(
        G,
        "c1",
        "Class entropy normalised by log(k) (1 = balanced).",
        needs_y=True,
        task="classification",
        cost="constant",
    ),
    spec(
        G,
        "c2",
        "Imbalance ratio measure 1 - 1/IR, IR = (k-1)/k * sum_c n_c / (n - n_c) (0 = balanced).",
        needs_y=True,
        task="classification",
        cost="constant",
    ),
    spec(G, "reg_c1", "Largest |Spearman correlation| between a column and the target.", **_REG),
    spec(G, "reg_c2", "Mean |Spearman correlation| between the columns and the target.", **_REG),
    spec(
        G,
        "reg_l1",
        "Mean absolute residual of least-squares regression (target min-max scaled).",
        **_REG,
    ),
    spec(
        G,
        "reg_l2",
        "Mean squared residual of least-squares regression (target min-max scaled).",
        **_REG,
    ),
    spec(
        G,
        "reg_l3",
        "MSE of that regression on points interpolated between rows adjacent in target order.",
        **_REG,
    ),
    spec(
        G,
        "reg_s1",
        "Mean |y_i - y_j| over minimum-spanning-tree edges (target min-max scaled).",
        cost="quadratic",
        **_REG,
    ),
    spec(G, "reg_s2", "Mean distance between rows adjacent in target order.", cost="nlogn", **_REG),
    spec(
        G,
        "reg_s3",
        "Leave-one-out 1-NN mean squared error (target min-max scaled).",
        cost="quadratic",
        **_REG,
    ),
    spec(
        G,
        "reg_s4",
        "1-NN mean squared error on points interpolated between rows adjacent in target order.",
        cost="quadratic",
        **_REG,
    ),
)

CLS_NAMES = [m.name for m in SPECS if m.task == "classification"]
#: Measures on the design matrix (all but ``t2``, ``c1``, ``c2``), hence on the column sample.
COLUMN_SAMPLED = tuple(m.name for m in SPECS if m.name not in (f"{G}.t2", f"{G}.c1", f"{G}.c2"))
REG_NAMES = [m.name for m in SPECS if m.task == "regression"]


# --------------------------------------------------------------------------- shared helpers
def _mst_edges(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prim's algorithm on a dense distance matrix: O(s^2) time, O(s) extra memory."""
    s = D.shape[0]
    in_tree = np.zeros(s, dtype=bool)
    in_tree[0] = True
    best = D[0].astype(np.float64)
    parent = np.zeros(s, dtype=np.int64)
    best[0] = np.inf
    a = np.empty(s - 1, dtype=np.int64)
    b = np.empty(s - 1, dtype=np.int64)
    for i in range(s - 1):
        j = int(np.argmin(best))
        a[i], b[i] = parent[j], j
        in_tree[j] = True
        best[j] = np.inf
        row = D[j]
        upd = (row < best) & ~in_tree
        best[upd] = row[upd]
        parent[upd] = j
    return a, b


def _nn_stats(D: np.ndarray, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest same-class distance, nearest other-class distance, and LOO 1-NN index per row."""
    s = D.shape[0]
    intra = np.full(s, np.inf)
    extra = np.full(s, np.inf)
    nn = np.zeros(s, dtype=np.int64)
    for a in range(0, s, _BLOCK):
        blk = D[a : a + _BLOCK].astype(np.float64)
        r = np.arange(blk.shape[0])
        blk[r, a + r] = np.inf
        same = yc[a : a + _BLOCK, None] == yc[None, :]
        intra[a : a + _BLOCK] = np.where(same, blk, np.inf).min(axis=1)
        extra[a : a + _BLOCK] = np.where(same, np.inf, blk).min(axis=1)
        nn[a : a + _BLOCK] = np.argmin(blk, axis=1)
    return intra, extra, nn


def _nn_labels(Z: np.ndarray, targets: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1-NN labels (from ``Z``) of the rows of ``targets``."""
    sq = np.einsum("ij,ij->i", Z, Z)
    out = np.empty(targets.shape[0], dtype=labels.dtype)
    for a in range(0, targets.shape[0], _BLOCK):
        d = sq[None, :] - 2.0 * targets[a : a + _BLOCK] @ Z.T
        out[a : a + _BLOCK] = labels[np.argmin(d, axis=1)]
    return out


def _lstsq_fit(X: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    G_ = A.T @ A
    G_[np.diag_indices_from(G_)] += 1e-8 * max(float(np.trace(G_)) / G_.shape[0], 1e-12)
    beta = np.linalg.solve(G_, A.T @ t)
    return beta[:-1], float(beta[-1])


def _pca_components(Z: np.ndarray) -> int:
    if Z.shape[0] < 2 or Z.shape[1] == 0:
        return 0
    Zc = Z - Z.mean(axis=0)
    if Z.shape[1] <= Z.shape[0]:
        ev = np.linalg.eigvalsh(Zc.T @ Zc)[::-1]
    else:
        ev = np.linalg.eigvalsh(Zc @ Zc.T)[::-1]
    ev = np.maximum(ev, 0)
    if ev.sum() <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(ev) / ev.sum(), 0.95) + 1)


# --------------------------------------------------------------------------- classification
def _classification(prep: Prepared, res: Results) -> None:
    Z = prep.Z
    s, q = Z.shape
    y = prep.y_sample_codes
    assert y is not None
    counts_full = prep.class_counts.astype(float)  # type: ignore[union-attr]
    k_full = counts_full.size
    if k_full > 1:
        pf = counts_full / counts_full.sum()
        res.put(f"{G}.c1", -(pf * np.log(pf)).sum() / np.log(k_full))
        ir = (k_full - 1) / k_full * np.sum(counts_full / (counts_full.sum() - counts_full))
        res.put(f"{G}.c2", 1.0 - 1.0 / ir)
    else:
        res.nan([f"{G}.c1", f"{G}.c2"], "needs at least 2 classes")
    present = np.bincount(y, minlength=k_full) > 0
    code = np.cumsum(present) - 1
    yc = code[y]
    k = int(present.sum())
    geo = [n for n in CLS_NAMES if n not in (f"{G}.c1", f"{G}.c2")]
    if k < 2 or s < 3:
        res.nan(geo, "needs at least 2 classes and 3 rows in the sample")
        return
    rng = np.random.default_rng(prep.random_state)
    cnt = np.bincount(yc, minlength=k).astype(float)
    sums = np.zeros((k, q))
    np.add.at(sums, yc, Z)
    mu_c = sums / cnt[:, None]
    mu = Z.mean(axis=0)
    dev = Z - mu_c[yc]
    within = (dev**2).sum(axis=0)
    between = (cnt[:, None] * (mu_c - mu) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = within + between
        res.put(f"{G}.f1", np.where(tot > 0, within / np.where(tot > 0, tot, 1.0), np.nan))
    # class pairs (at most MAX_PAIRS, drawn with random_state)
    pairs = np.array([(a, b) for a in range(k) for b in range(a + 1, k)]) if k <= 200 else None
    if pairs is None or len(pairs) > MAX_PAIRS:
        seen: set[tuple[int, int]] = set()
        while len(seen) < min(MAX_PAIRS, k * (k - 1) // 2):
            a, b = sorted(rng.choice(k, 2, replace=False))
            seen.add((int(a), int(b)))
        pairs = np.array(sorted(seen))
    prep.check_time()
    W = dev.T @ dev / max(s - k, 1)
    W[np.diag_indices_from(W)] += 1e-6 * max(float(np.trace(W)) / max(q, 1), 1e-12)
    delta = (mu_c[pairs[:, 0]] - mu_c[pairs[:, 1]]).T  # (q, P)
    try:
        sol = np.linalg.solve(W, delta)
        res.put(f"{G}.f1v", 1.0 / (1.0 + np.sum(delta * sol, axis=0)))
    except np.linalg.LinAlgError:
        res.nan(f"{G}.f1v", "singular within-class covariance")
    order = np.argsort(yc, kind="stable")
    groups = np.split(order, np.cumsum(cnt.astype(np.int64))[:-1])
    f2, f3, f4, l1, l2, l3 = ([] for _ in range(6))
    for a, b in pairs:
        prep.check_time()
        Xa, Xb = Z[groups[a]], Z[groups[b]]
        mina, maxa, minb, maxb = Xa.min(0), Xa.max(0), Xb.min(0), Xb.max(0)
        lo, hi = np.maximum(mina, minb), np.minimum(maxa, maxb)
        rng_ = np.maximum(maxa, maxb) - np.minimum(mina, minb)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(rng_ > 0, np.maximum(hi - lo, 0) / np.where(rng_ > 0, rng_, 1.0), 1.0)
        f2.append(float(np.prod(ratio)))
        Xp = np.vstack([Xa, Xb])
        npair = Xp.shape[0]
        inside = (Xp >= lo) & (Xp <= hi)  # (npair, q); empty overlap (lo > hi) -> nobody inside
        f3.append(float(inside.sum(axis=0).min() / npair))
        remaining = np.ones(npair, dtype=bool)
        used = np.zeros(q, dtype=bool)
        while remaining.any() and not used.all():
            R = Xp[remaining]
            ya = np.arange(npair)[remaining] < Xa.shape[0]
            if ya.all() or (~ya).all():
                break
            ra, rb = R[ya], R[~ya]
            lo_r = np.maximum(ra.min(0), rb.min(0))
            hi_r = np.minimum(ra.max(0), rb.max(0))
            ins = (R >= lo_r) & (R <= hi_r)
            n_in = np.where(used, np.iinfo(np.int64).max, ins.sum(axis=0))
            j = int(np.argmin(n_in))
            used[j] = True
            keep = ins[:, j]
            if keep.all():
                break
            idx = np.flatnonzero(remaining)
            remaining[idx[~keep]] = False
        f4.append(float(remaining.sum() / npair))
        t = np.concatenate([np.ones(Xa.shape[0]), -np.ones(Xb.shape[0])])
        w, c0 = _lstsq_fit(Xp, t)
        f = Xp @ w + c0
        wrong = np.sign(f) != t
        l2.append(float(wrong.mean()))
        nw = np.linalg.norm(w)
        dist = float(np.abs(f[wrong]).sum() / nw) if nw > 0 else 0.0
        l1.append(dist / (1.0 + dist))
        # interpolation: each row with a random partner of its own class
        ia = rng.integers(Xa.shape[0], size=Xa.shape[0])
        ib = rng.integers(Xb.shape[0], size=Xb.shape[0])
        ta, tb = rng.random((Xa.shape[0], 1)), rng.random((Xb.shape[0], 1))
        P = np.vstack([Xa + ta * (Xa[ia] - Xa), Xb + tb * (Xb[ib] - Xb)])
        l3.append(float(np.mean(np.sign(P @ w + c0) != t)))
    for name, vals in (("f2", f2), ("f3", f3), ("f4", f4), ("l1", l1), ("l2", l2), ("l3", l3)):
        res.put(f"{G}.{name}", np.asarray(vals))
    # neighbourhood measures on the shared distance matrix
    prep.check_time()
    D = prep.D
    prep.check_time()
    intra, extra, nn = _nn_stats(D, yc)
    with np.errstate(invalid="ignore", divide="ignore"):
        both = intra + extra
        n2 = np.where(np.isfinite(both) & (both > 0), intra / np.where(both > 0, both, 1.0), np.nan)
        n2 = np.where(
            np.isinf(intra) & np.isfinite(extra), np.nan, n2
        )  # singleton class: undefined
    res.put(f"{G}.n2", n2)
    res.put(f"{G}.n3", (yc[nn] != yc).astype(float))
    prep.check_time()
    ea, eb = _mst_edges(D)
    prep.check_time()
    cross = yc[ea] != yc[eb]
    touched = np.zeros(s, dtype=bool)
    touched[ea[cross]] = True
    touched[eb[cross]] = True
    res.put(f"{G}.n1", touched.mean())
    partner = np.empty(s, dtype=np.int64)
    for g in groups:
        partner[g] = rng.choice(g, size=g.size)
    tt = rng.random((s, 1))
    interp = Z + tt * (Z[partner] - Z)
    res.put(f"{G}.n4", (_nn_labels(Z, interp, yc) != yc).astype(float))
    # local sets, hyperspheres, epsilon-graph: one pass over row blocks of D
    ne = extra  # nearest-enemy distance = hypersphere radius
    ls_total = 0.0
    absorbed = np.zeros(s, dtype=bool)
    eps = EPSILON * float(D.max()) if s > 1 else 0.0
    rows, cols = [], []
    idx_all = np.arange(s)
    for a in range(0, s, _BLOCK):
        prep.check_time()
        blk = D[a : a + _BLOCK].astype(np.float64)
        r = np.arange(blk.shape[0])
        ls_total += float((blk < ne[a : a + _BLOCK, None]).sum())
        same = yc[a : a + _BLOCK, None] == yc[None, :]
        ri = ne[a : a + _BLOCK, None]
        rj = ne[None, :]
        bigger = (rj > ri) | ((rj == ri) & (idx_all[None, :] < (a + r)[:, None]))
        cont = same & bigger & (blk + ri <= rj)
        cont[r, a + r] = False
        absorbed[a : a + _BLOCK] = cont.any(axis=1)
        e = same & (blk < eps)
        e[r, a + r] = False
        rr, cc = np.nonzero(e)
        rows.append(rr + a)
        cols.append(cc)
    res.put(f"{G}.lsc", 1.0 - ls_total / (s * s))
    res.put(f"{G}.t1", float((~absorbed & np.isfinite(ne)).sum()) / s)
    rr = np.concatenate(rows)
    cc = np.concatenate(cols)
    res.put(f"{G}.density", 1.0 - rr.size / (s * (s - 1.0)))
    A = sparse.csr_matrix((np.ones(rr.size), (rr, cc)), shape=(s, s))
    v = np.ones(s) / np.sqrt(s)
    for _ in range(100):  # power iteration for the principal eigenvector (hub scores)
        w_ = A @ v + 1e-12 * v
        nrm = np.linalg.norm(w_)
        if nrm == 0:
            break
        w_ /= nrm
        if np.abs(w_ - v).max() < 1e-8:
            v = w_
            break
        v = w_
    hub = np.abs(v)
    res.put(f"{G}.hubs", 1.0 - hub / hub.max() if hub.max() > 0 else np.full(s, np.nan))


# --------------------------------------------------------------------------- regression
def _regression(prep: Prepared, res: Results) -> None:
    Z = prep.Z
    s = Z.shape[0]
    y = prep.y_sample_float
    assert y is not None
    yr = float(np.ptp(y))
    if s < 3 or yr <= 0 or not np.isfinite(yr):
        res.nan(REG_NAMES, "needs at least 3 rows and a non-constant target")
        return
    yn = (y - y.min()) / yr
    rk = rankdata(Z, axis=0)
    ry = rankdata(yn)
    with np.errstate(invalid="ignore", divide="ignore"):
        rc = rk - rk.mean(0)
        ryc = ry - ry.mean()
        den = np.sqrt((rc**2).sum(0) * (ryc**2).sum())
        rho = np.abs(np.where(den > 0, rc.T @ ryc / np.where(den > 0, den, 1.0), np.nan))
    if np.isfinite(rho).any():
        res.put(f"{G}.reg_c1", np.nanmax(rho))
        res.put(f"{G}.reg_c2", np.nanmean(rho))
    else:
        res.nan([f"{G}.reg_c1", f"{G}.reg_c2"], "all columns are constant")
    w, c0 = _lstsq_fit(Z, yn)
    resid = yn - (Z @ w + c0)
    res.put(f"{G}.reg_l1", np.mean(np.abs(resid)))
    res.put(f"{G}.reg_l2", np.mean(resid**2))
    rng = np.random.default_rng(prep.random_state)
    order = np.argsort(yn, kind="stable")
    a, b = order[:-1], order[1:]
    t = rng.random(a.size)
    P = Z[a] + t[:, None] * (Z[b] - Z[a])
    yp = yn[a] + t * (yn[b] - yn[a])
    res.put(f"{G}.reg_l3", np.mean((P @ w + c0 - yp) ** 2))
    res.put(f"{G}.reg_s2", np.mean(np.linalg.norm(Z[b] - Z[a], axis=1)))
    prep.check_time()
    D = prep.D
    prep.check_time()
    ea, eb = _mst_edges(D)
    prep.check_time()
    res.put(f"{G}.reg_s1", np.mean(np.abs(yn[ea] - yn[eb])))
    nn = np.empty(s, dtype=np.int64)
    for i in range(0, s, _BLOCK):
        blk = D[i : i + _BLOCK].astype(np.float64)
        r = np.arange(blk.shape[0])
        blk[r, i + r] = np.inf
        nn[i : i + _BLOCK] = np.argmin(blk, axis=1)
    res.put(f"{G}.reg_s3", np.mean((yn[nn] - yn) ** 2))
    res.put(f"{G}.reg_s4", np.mean((_nn_labels(Z, P, yn) - yp) ** 2))


def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the complexity meta-features."""
    res.put(f"{G}.t2", prep.n_features / prep.n_rows)
    prep.check_time()
    ncomp = _pca_components(prep.Z)
    prep.check_time()
    res.put(f"{G}.t3", ncomp / prep.sample_idx.size)
    if prep.Z.shape[1]:
        res.put(f"{G}.t4", ncomp / prep.Z.shape[1])
    else:
        res.nan(f"{G}.t4", "empty design matrix")
    if prep.task is None:
        res.nan(CLS_NAMES + REG_NAMES, "needs y")
    elif prep.is_classification:
        res.nan(REG_NAMES, "regression only (task is classification)")
        _classification(prep, res)
    else:
        res.nan(CLS_NAMES, "classification only (task is regression)")
        _regression(prep, res)
