"""Landmarking meta-features: cross-validated scores of very simple learners.

All learners are implemented here in vectorised numpy (no per-fold sklearn
fit overhead) and share one split, ``prep.folds`` (10 stratified folds on the
row sample of at most ``max_rows`` rows), and one column-wise ``argsort`` of
the design matrix ``prep.Z`` (z-scored numeric + one-hot categorical).
The value of each landmarker is its per-fold score, summarised over folds.

Score: accuracy for classification (as pymfe's default); for regression
``1 - MSE / Var(y)`` with the variance of the whole sample (an R^2 that
cannot be undefined on a constant test fold).

Differences from pymfe: features are z-scored (pymfe uses raw values, so its
1-NN depends on units); ``elite_nn``/``worst_node`` rank features by the
single-feature Gini gain of their best split (pymfe ranks by the importance in
a full decision tree); ties between equally good stumps go to the first
feature (sklearn breaks them at random).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ._prepare import Prepared
from ._registry import Results, spec

G = "landmarking"
_Z = "one-hot (at most 32 levels per feature); numeric z-scored"
#: Depth of the ``shallow_tree`` landmarker: deep enough to see two- and three-way
#: interactions (which no stump, linear model or naive Bayes sees), shallow enough to stay cheap.
TREE_DEPTH = 3
_MEM_CELLS = 4_000_000  # cap on (rows x columns x classes) cells for the stump cumulative counts

SPECS = (
    spec(
        G,
        "best_node",
        "Score of a decision stump (depth-1 tree, Gini / variance reduction) on the best feature.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="nlogn",
    ),
    spec(
        G,
        "worst_node",
        "Score of a decision stump on the feature whose best split gains least.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="nlogn",
    ),
    spec(
        G,
        "random_node",
        "Score of a decision stump on one feature drawn with random_state.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="nlogn",
    ),
    spec(
        G,
        "one_nn",
        "Score of 1-nearest-neighbour (Euclidean on the z-scored design matrix).",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="quadratic",
    ),
    spec(
        G,
        "elite_nn",
        "Score of 1-NN on the single most informative feature (best stump gain).",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="nlogn",
    ),
    spec(
        G,
        "naive_bayes",
        "Accuracy of Gaussian naive Bayes (var_smoothing 1e-9 as sklearn).",
        summarised=True,
        needs_y=True,
        task="classification",
        categorical=_Z,
    ),
    spec(
        G,
        "linear_discr",
        "Accuracy of linear discriminant analysis (pooled covariance, tiny ridge instead of sklearn's SVD solver).",
        summarised=True,
        needs_y=True,
        task="classification",
        categorical=_Z,
    ),
    spec(
        G,
        "linear_reg",
        "Score of least-squares linear regression (tiny ridge).",
        summarised=True,
        needs_y=True,
        task="regression",
        categorical=_Z,
    ),
    spec(
        G,
        "shallow_tree",
        f"Score of a greedy depth-{TREE_DEPTH} decision tree (Gini / variance reduction, "
        "sklearn's splitting rule; ties go to the first feature).",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="nlogn",
    ),
    spec(
        G,
        "tree_over_linear",
        "Per-fold score of the shallow tree minus that of the linear model (linear_discr "
        "for classification, linear_reg for regression): positive where features interact "
        "or act through thresholds, negative where the signal is additive and smooth.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="nlogn",
    ),
)


#: Every landmarker is computed on the design matrix, hence on the column sample.
COLUMN_SAMPLED = tuple(m.name for m in SPECS)


# --------------------------------------------------------------------------- stumps
def _stumps(
    Xs: np.ndarray, ys: np.ndarray, k: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best single split of every column.

    Parameters
    ----------
    Xs : (n, q) training values, each column already sorted ascending.
    ys : (n, q) targets in the same (per-column) order: class codes, or floats.
    k : number of classes, or None for regression (variance reduction).

    Returns
    -------
    gain, threshold, left, right : (q,) arrays
        Impurity decrease of the best split (0 when a column is constant),
        its threshold (midpoint; +inf when constant) and the left/right
        predictions (class code or mean).
    """
    n, q = Xs.shape
    gain = np.zeros(q)
    thr = np.full(q, np.inf)
    left = np.zeros(q)
    right = np.zeros(q)
    valid = Xs[1:] > Xs[:-1]  # (n-1, q): a split between i and i+1 is possible
    nl = np.arange(1, n, dtype=float)[:, None]
    nr = n - nl
    if k is None:
        cs = np.cumsum(ys, axis=0)
        tot = cs[-1]
        sl = cs[:-1]
        sr = tot - sl
        score = sl**2 / nl + sr**2 / nr - tot**2 / n  # SSE decrease
        score = np.where(valid, score, -np.inf)
        best = np.argmax(score, axis=0) if n > 1 else np.zeros(q, dtype=int)
        ok = valid[best, np.arange(q)] if n > 1 else np.zeros(q, dtype=bool)
        mean_all = tot / n
        left[:] = mean_all
        right[:] = mean_all
        if ok.any():
            cols = np.flatnonzero(ok)
            b = best[cols]
            gain[cols] = score[b, cols] / n
            thr[cols] = (Xs[b, cols] + Xs[b + 1, cols]) / 2
            left[cols] = sl[b, cols] / (b + 1)
            right[cols] = sr[b, cols] / (n - b - 1)
        return gain, thr, left, right
    assert k is not None
    tot_counts = np.bincount(ys[:, 0], minlength=k) if q else np.zeros(k)
    majority = float(np.argmax(tot_counts))
    left[:] = majority
    right[:] = majority
    base = np.sum(tot_counts.astype(float) ** 2) / n
    if n < 2:
        return gain, thr, left, right
    if k <= 16:
        # few classes: one (n, q) cumulative count per class, no (n, q, k) array
        score = np.zeros((n - 1, q))
        for c in range(k):
            cl = np.cumsum(ys[:-1] == c, axis=0, dtype=np.float64)
            cr = float(tot_counts[c]) - cl
            score += cl**2 / nl + cr**2 / nr
        score[~valid] = -np.inf
        best = np.argmax(score, axis=0)
        cols = np.arange(q)
        ok = valid[best, cols]
        g = (score[best, cols] - base) / n
        # class counts left of each chosen split: mask rows before the split
        before = np.arange(n)[:, None] <= best[None, :]
        cl_b = np.stack([((ys == c) & before).sum(axis=0) for c in range(k)], axis=1).astype(
            float
        )  # (q, k)
        cr_b = tot_counts[None, :] - cl_b
        j = np.flatnonzero(ok)
        gain[j] = g[j]
        thr[j] = (Xs[best[j], j] + Xs[best[j] + 1, j]) / 2
        left[j] = np.argmax(cl_b[j], axis=1)
        right[j] = np.argmax(cr_b[j], axis=1)
        return gain, thr, left, right
    chunk = max(1, _MEM_CELLS // max(n * k, 1))
    for c0 in range(0, q, chunk):
        c1 = min(q, c0 + chunk)
        w = c1 - c0
        cum = np.zeros((n, w, k))
        cum[np.arange(n)[:, None], np.arange(w)[None, :], ys[:, c0:c1]] = 1.0
        np.cumsum(cum, axis=0, out=cum)
        cl = cum[:-1]  # (n-1, w, k) left counts
        cr = cum[-1][None] - cl
        score = (cl**2).sum(axis=2) / nl + (cr**2).sum(axis=2) / nr  # (n-1, w)
        score = np.where(valid[:, c0:c1], score, -np.inf)
        best = np.argmax(score, axis=0)
        cols = np.arange(w)
        ok = valid[best, c0 + cols]
        g = (score[best, cols] - base) / n
        for j in np.flatnonzero(ok):
            b = best[j]
            gain[c0 + j] = g[j]
            thr[c0 + j] = (Xs[b, c0 + j] + Xs[b + 1, c0 + j]) / 2
            left[c0 + j] = np.argmax(cl[b, j])
            right[c0 + j] = np.argmax(cr[b, j])
    return gain, thr, left, right


# --------------------------------------------------------------------------- shallow tree
def _leaf_value(y: np.ndarray, k: int | None) -> float:
    """A leaf's prediction: the majority class (lowest code on ties) or the mean."""
    if k is None:
        return float(y.mean())
    return float(np.argmax(np.bincount(y, minlength=k)))


def _tree_predict(
    Z: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    test: np.ndarray,
    k: int | None,
    depth: int,
    root: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Predictions for the rows ``test`` of a greedy tree grown on the rows in ``order``.

    ``order`` is the node's training rows (indices into ``Z``) sorted per column,
    shape (n_node, q); each child keeps its rows' order by a stable boolean filter, so
    the whole tree costs one sort. A node is a leaf at ``depth`` 0, or when no split
    of any column reduces impurity. ``root``: the node's stumps' ``(gain, threshold)``
    where the caller has them already (the fold's stump landmarkers).
    """
    rows = order[:, 0]
    pred = np.full(test.size, _leaf_value(y[rows], k))
    if depth == 0 or rows.size < 2 or test.size == 0:
        return pred
    gain, thr = root or _stumps(np.take_along_axis(Z, order, axis=0), y[order], k)[:2]
    j = int(np.argmax(gain))
    if not gain[j] > 0:
        return pred
    goes_left = Z[:, j] <= thr[j]
    for side in (goes_left, ~goes_left):
        child = order.T[side[order.T]].reshape(order.shape[1], -1).T
        at = side[test]
        pred[at] = _tree_predict(Z, y, child, test[at], k, depth - 1)
    return pred


# --------------------------------------------------------------------------- 1-NN
def _nn_predict(Xtr: np.ndarray, Xte: np.ndarray, ytr: np.ndarray) -> np.ndarray:
    """1-NN predictions of the rows of ``Xte`` (chunked (t, n) distance blocks)."""
    sq_tr = np.einsum("ij,ij->i", Xtr, Xtr)
    out = np.empty(Xte.shape[0], dtype=ytr.dtype)
    step = max(1, _MEM_CELLS // max(Xtr.shape[0], 1))
    for a in range(0, Xte.shape[0], step):
        B = Xte[a : a + step]
        d = sq_tr[None, :] - 2.0 * (B @ Xtr.T)  # |b|^2 is constant per row: not needed for argmin
        out[a : a + step] = ytr[np.argmin(d, axis=1)]
    return out


def _nn_1d(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray) -> np.ndarray:
    """1-NN on a single feature by binary search in the sorted training values."""
    order = np.argsort(xtr, kind="stable")
    xs, yo = xtr[order], ytr[order]
    pos = (
        np.clip(np.searchsorted(xs, xte), 1, xs.size - 1)
        if xs.size > 1
        else np.zeros(xte.size, dtype=int)
    )
    if xs.size == 1:
        return np.repeat(yo[:1], xte.size)
    lo = pos - 1
    pick = np.where(np.abs(xte - xs[lo]) <= np.abs(xs[pos] - xte), lo, pos)
    return yo[pick]


# --------------------------------------------------------------------------- NB / LDA
def _class_sums(X: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(y, minlength=k).astype(float)
    if k <= 256:  # a (n, k) one-hot product is much faster than np.add.at
        onehot = np.zeros((y.size, k))
        onehot[np.arange(y.size), y] = 1.0
        return counts, onehot.T @ X
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, y, X)
    return counts, sums


def _naive_bayes(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, k: int) -> np.ndarray:
    counts, sums = _class_sums(Xtr, ytr, k)
    present = counts > 0
    mu = sums / np.maximum(counts, 1)[:, None]
    _, sq = _class_sums(Xtr * Xtr, ytr, k)
    var = sq / np.maximum(counts, 1)[:, None] - mu**2
    var = np.maximum(var, 0.0) + 1e-9 * max(
        float(Xtr.var(axis=0).max()) if Xtr.size else 0.0, 1e-300
    )
    inv = 1.0 / var
    jll = -0.5 * ((Xte**2) @ inv.T - 2.0 * Xte @ (mu * inv).T + (mu**2 * inv).sum(axis=1))
    jll += -0.5 * np.log(2.0 * np.pi * var).sum(axis=1) + np.log(
        np.maximum(counts, 1) / counts.sum()
    )
    jll[:, ~present] = -np.inf
    return np.argmax(jll, axis=1)


def _lda(
    Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, k: int, gram_tr: np.ndarray
) -> np.ndarray:
    """LDA predictions; ``gram_tr`` is ``Xtr.T @ Xtr`` (full Gram minus the test fold's)."""
    counts, sums = _class_sums(Xtr, ytr, k)
    present = counts > 0
    mu = sums / np.maximum(counts, 1)[:, None]
    # within-class scatter = X'X - sum_c n_c mu_c mu_c'
    W = (gram_tr - (mu.T * counts) @ mu) / max(Xtr.shape[0] - int(present.sum()), 1)
    # tiny ridge keeps the Cholesky factorisation defined for collinear (e.g.
    # one-hot) columns; directions with no within-class variance then carry
    # (almost) no weight, as with sklearn's SVD solver.
    W[np.diag_indices_from(W)] += 1e-6 * max(float(np.trace(W)) / max(W.shape[0], 1), 1e-12)
    try:
        coef = linalg.cho_solve(
            linalg.cho_factor(W, check_finite=False), mu.T, check_finite=False
        )  # (q, k)
    except (linalg.LinAlgError, ValueError):
        coef = np.linalg.lstsq(W, mu.T, rcond=None)[0]
    scores = (
        Xte @ coef
        - 0.5 * np.sum(mu.T * coef, axis=0)
        + np.log(np.maximum(counts, 1) / counts.sum())
    )
    scores[:, ~present] = -np.inf
    return np.argmax(scores, axis=1)


def _linreg(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray) -> np.ndarray:
    A = np.hstack([Xtr, np.ones((Xtr.shape[0], 1))])
    G_ = A.T @ A
    G_[np.diag_indices_from(G_)] += 1e-8 * max(float(np.trace(G_)) / G_.shape[0], 1e-12)
    beta = np.linalg.solve(G_, A.T @ ytr)
    return np.hstack([Xte, np.ones((Xte.shape[0], 1))]) @ beta


# --------------------------------------------------------------------------- driver
def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the landmarking meta-features (per-fold scores)."""
    names = [m.name for m in SPECS]
    if prep.task is None:
        res.nan(names, "needs y")
        return
    Z = prep.Z
    s, q = Z.shape
    folds = prep.folds
    n_folds = int(folds.max()) + 1 if s else 0
    if s < 4 or n_folds < 2:
        res.nan(names, f"needs at least 4 rows for cross-validation, got {s}")
        return
    cls = prep.is_classification
    if cls:
        y = prep.y_sample_codes
        k = prep.n_classes
        if np.unique(y).size < 2:
            res.nan(names, "needs at least 2 classes")
            return
    else:
        y = prep.y_sample_float
        k = None
        ys_var = float(np.var(y))
        if not np.isfinite(ys_var) or ys_var <= 0:
            res.nan(names, "target is constant (score undefined)")
            return
    assert y is not None

    def score(true: np.ndarray, pred: np.ndarray) -> float:
        if cls:
            return float(np.mean(true == pred))
        return float(1.0 - np.mean((true - pred) ** 2) / ys_var)

    rng = np.random.default_rng(prep.random_state)
    rand_col = int(rng.integers(q)) if q else 0
    order = np.argsort(Z, axis=0, kind="stable")  # one sort, reused by every fold
    gram = Z.T @ Z if cls else None  # one Gram matrix; each fold subtracts its test rows
    out: dict[str, list[float]] = {m.name: [] for m in SPECS}
    for f in range(n_folds):
        prep.check_time()
        te = folds == f
        tr = ~te
        if not te.any() or tr.sum() < 2:
            continue
        # training rows in per-column sorted order: drop test rows from the global order
        o = order.T[tr[order.T]].reshape(q, -1).T  # (n_tr, q)
        Xs = np.take_along_axis(Z, o, axis=0)
        gain, thr, left, right = _stumps(Xs, y[o], k)
        Zte, yte = Z[te], y[te]
        best, worst = int(np.argmax(gain)), int(np.argmin(gain))

        for tag, j in (("best_node", best), ("worst_node", worst), ("random_node", rand_col)):
            pred = np.where(Zte[:, j] <= thr[j], left[j], right[j])
            out[f"{G}.{tag}"].append(score(yte, pred.astype(y.dtype) if cls else pred))
        Ztr, ytr = Z[tr], y[tr]
        out[f"{G}.one_nn"].append(score(yte, _nn_predict(Ztr, Zte, ytr)))
        out[f"{G}.elite_nn"].append(score(yte, _nn_1d(Ztr[:, best], ytr, Zte[:, best])))
        tree = _tree_predict(Z, y, o, np.flatnonzero(te), k, TREE_DEPTH, root=(gain, thr))
        out[f"{G}.shallow_tree"].append(score(yte, tree.astype(y.dtype) if cls else tree))
        with np.errstate(all="ignore"):
            if cls:
                out[f"{G}.naive_bayes"].append(score(yte, _naive_bayes(Ztr, ytr, Zte, k)))  # type: ignore[arg-type]
                linear = f"{G}.linear_discr"
                out[linear].append(score(yte, _lda(Ztr, ytr, Zte, k, gram - Zte.T @ Zte)))  # type: ignore[arg-type]
            else:
                linear = f"{G}.linear_reg"
                out[linear].append(score(yte, _linreg(Ztr, ytr, Zte)))
        out[f"{G}.tree_over_linear"].append(out[f"{G}.shallow_tree"][-1] - out[linear][-1])
    for name, vals in out.items():
        if vals:
            res.put(name, np.asarray(vals))
        elif name.endswith(("naive_bayes", "linear_discr")) and not cls:
            res.nan(name, "classification only (task is regression)")
        elif name.endswith("linear_reg") and cls:
            res.nan(name, "regression only (task is classification)")
        else:
            res.nan(name, "no usable cross-validation fold")
