"""Information-theoretic meta-features (entropies in bits).

Input: ``prep.C`` (n, m): every feature as integer codes -- numeric features
discretised into ``floor(n^(1/3))`` equal-frequency bins exactly as pymfe,
categorical features by their category codes (missing is a category).
For regression the target is discretised the same way, so the "class"
measures describe the binned target (pymfe does not support regression here).
All per-feature entropies come from one ``np.bincount`` over offset codes.
"""

from __future__ import annotations

import numpy as np

from ._prepare import Prepared, discretise
from ._registry import Results, spec

G = "info_theory"
_CAT = "category codes (missing = own category); numeric features discretised"
MAX_CONC_ATTRS = 12  # as pymfe: attr_conc uses at most 12 (sampled) features

SPECS = (
    spec(
        G, "attr_ent", "Shannon entropy (bits) of each feature.", summarised=True, categorical=_CAT
    ),
    spec(
        G,
        "class_ent",
        "Shannon entropy (bits) of the class (binned target for regression).",
        needs_y=True,
        categorical=_CAT,
    ),
    spec(
        G,
        "joint_ent",
        "Joint entropy of each feature with the class.",
        summarised=True,
        needs_y=True,
        categorical=_CAT,
    ),
    spec(
        G,
        "mut_inf",
        "Mutual information between each feature and the class.",
        summarised=True,
        needs_y=True,
        categorical=_CAT,
    ),
    spec(
        G,
        "eq_num_attr",
        "m * class_ent / sum(mut_inf): features needed to explain the class; NaN when sum(mut_inf) = 0.",
        needs_y=True,
        categorical=_CAT,
    ),
    spec(
        G,
        "ns_ratio",
        "(sum(attr_ent) - sum(mut_inf)) / sum(mut_inf): noise-to-signal; NaN when sum(mut_inf) = 0.",
        needs_y=True,
        categorical=_CAT,
    ),
    spec(
        G,
        "class_conc",
        "Concentration coefficient (Goodman-Kruskal tau, pymfe's formula without its 1e-8 smoothing) of each feature with the class.",
        summarised=True,
        needs_y=True,
        categorical=_CAT,
    ),
    spec(
        G,
        "attr_conc",
        "Concentration coefficient of ordered pairs of at most 12 features (sampled with random_state when more; pymfe samples with its own RNG).",
        summarised=True,
        categorical=_CAT,
        cost="linear",
    ),
)


def _entropy_from_counts(counts: np.ndarray, n: int) -> float:
    p = counts[counts > 0] / n
    return float(-(p * np.log2(p)).sum())


def _column_entropies(C: np.ndarray) -> np.ndarray:
    """Entropy of each column of ``C`` (n, m) via one bincount on offset codes."""
    n, m = C.shape
    levels = C.max(axis=0) + 1
    offsets = np.concatenate([[0], np.cumsum(levels)[:-1]])
    counts = np.bincount((C + offsets).ravel(), minlength=int(levels.sum()))
    p = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return np.add.reduceat(terms, offsets) if m else np.empty(0)


def _conc(x: np.ndarray, y: np.ndarray, lx: int, ly: int, n: int) -> float:
    """Concentration coefficient of ``x`` given ``y`` (pymfe ``_calc_conc``)."""
    pij = np.bincount(x * ly + y, minlength=lx * ly).reshape(lx, ly) / n
    pj = pij.sum(axis=0)
    pi2 = np.sum(pij.sum(axis=1) ** 2)
    if pi2 >= 1.0 - 1e-12:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(pj > 0, pij**2 / np.where(pj > 0, pj, 1.0), 0.0).sum()
    return float((s - pi2) / (1.0 - pi2))


def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the information-theoretic meta-features."""
    C = prep.C
    n, m = C.shape
    attr_ent = _column_entropies(C)
    res.put(f"{G}.attr_ent", attr_ent)
    levels = C.max(axis=0) + 1
    rng = np.random.default_rng(prep.random_state)
    cols = (
        np.arange(m)
        if m <= MAX_CONC_ATTRS
        else np.sort(rng.choice(m, MAX_CONC_ATTRS, replace=False))
    )
    if cols.size < 2:
        res.nan(f"{G}.attr_conc", "needs at least 2 features")
    else:
        vals = [
            _conc(C[:, a], C[:, b], int(levels[a]), int(levels[b]), n)
            for a in cols
            for b in cols
            if a != b
        ]
        res.put(
            f"{G}.attr_conc",
            np.asarray(vals),
            None if np.isfinite(vals).all() else "NaN for pairs involving a constant feature",
        )
    y_names = [
        f"{G}.{s}"
        for s in ("class_ent", "joint_ent", "mut_inf", "eq_num_attr", "ns_ratio", "class_conc")
    ]
    if prep.task is None:
        res.nan(y_names, "needs y")
        return
    if prep.is_classification:
        y = prep.y_codes
        ky = prep.n_classes
    else:
        y = discretise(prep.y_float[:, None])[:, 0]  # type: ignore[index]
        ky = int(y.max()) + 1
    assert y is not None
    class_ent = _entropy_from_counts(np.bincount(y), n)
    joint = _column_entropies(C * ky + y[:, None])
    mut = attr_ent + class_ent - joint
    mut = np.maximum(mut, 0.0)  # rounding can give -1e-16
    res.put(f"{G}.class_ent", class_ent)
    res.put(f"{G}.joint_ent", joint)
    res.put(f"{G}.mut_inf", mut)
    total = mut.sum()
    if total <= 1e-12:
        res.nan(
            [f"{G}.eq_num_attr", f"{G}.ns_ratio"],
            "sum of mutual information is 0 (division by zero)",
        )
    else:
        res.put(f"{G}.eq_num_attr", m * class_ent / total)
        res.put(f"{G}.ns_ratio", (attr_ent.sum() - total) / total)
    if m * n * 8 > 0:
        cc = np.empty(m)
        for j in range(m):
            if j % 512 == 0:
                prep.check_time()
            cc[j] = _conc(C[:, j], y, int(levels[j]), ky, n)
        res.put(
            f"{G}.class_conc", cc, None if np.isfinite(cc).all() else "NaN for constant features"
        )
