"""Model-based meta-features: the structure of one unpruned decision tree.

One ``sklearn`` CART tree (Gini / squared error, ``random_state``) is fitted
on the design matrix ``prep.Z`` of the row sample (at most ``max_rows`` rows;
pymfe uses all rows, so counts such as ``leaves`` differ on larger data).
Definitions follow pymfe's ``model_based`` group, computed from the tree arrays
without recursion.  For regression a regression tree is used and
``leaves_per_class`` is NaN.
"""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._prepare import Prepared
from ._registry import Results, spec

G = "model_based"
_Z = "one-hot (at most 32 levels per feature); numeric z-scored"

SPECS = (
    spec(G, "leaves", "Number of leaves.", needs_y=True, categorical=_Z, cost="model"),
    spec(
        G, "nodes", "Number of internal (split) nodes.", needs_y=True, categorical=_Z, cost="model"
    ),
    spec(
        G,
        "nodes_per_attr",
        "nodes / number of design-matrix columns (pymfe: columns of its encoded data).",
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "nodes_per_inst",
        "nodes / rows used to fit the tree.",
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "leaves_branch",
        "Depth of each leaf (branch lengths).",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "leaves_corrob",
        "Share of the training rows reaching each leaf.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "tree_shape",
        "-p log2 p with p = 2^-depth for each leaf (random-walk arrival probability).",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "leaves_homo",
        "leaves / tree_shape of each leaf.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "leaves_per_class",
        "Share of leaves predicting each class (classes predicted by some leaf).",
        summarised=True,
        needs_y=True,
        task="classification",
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "nodes_per_level",
        "Number of internal nodes at each depth.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "nodes_repeated",
        "Number of internal nodes splitting on each used column.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "tree_depth",
        "Depth of every node (pymfe's definition: not only the maximum).",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "tree_imbalance",
        "pymfe's tree imbalance: -a log2 a with a = 2^-(p * count) over distinct leaf arrival probabilities p.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
    spec(
        G,
        "var_importance",
        "Gini (or variance) importance of each design-matrix column.",
        summarised=True,
        needs_y=True,
        categorical=_Z,
        cost="model",
    ),
)


#: Every model-based measure is computed on the design matrix, hence on the column sample.
COLUMN_SAMPLED = tuple(m.name for m in SPECS)


def compute(prep: Prepared, res: Results) -> None:
    """Fill ``res`` with the model-based meta-features."""
    names = [m.name for m in SPECS]
    if prep.task is None:
        res.nan(names, "needs y")
        return
    Z = prep.Z
    s, q = Z.shape
    if s < 2:
        res.nan(names, "needs at least 2 rows")
        return
    if prep.is_classification:
        model = DecisionTreeClassifier(random_state=prep.random_state)
        y = prep.y_sample_codes
    else:
        model = DecisionTreeRegressor(random_state=prep.random_state)
        y = prep.y_sample_float
    model.fit(Z, y)
    t = model.tree_
    is_leaf = t.children_left < 0
    depth = np.zeros(t.node_count, dtype=np.int64)
    # sklearn numbers nodes depth-first, so a parent always precedes its children
    for i in np.flatnonzero(~is_leaf):
        depth[t.children_left[i]] = depth[i] + 1
        depth[t.children_right[i]] = depth[i] + 1
    n_leaves = int(is_leaf.sum())
    n_nodes = int(t.node_count - n_leaves)
    res.put(f"{G}.leaves", n_leaves)
    res.put(f"{G}.nodes", n_nodes)
    res.put(f"{G}.nodes_per_attr", n_nodes / q)
    res.put(f"{G}.nodes_per_inst", n_nodes / s)
    leaf_depth = depth[is_leaf]
    res.put(f"{G}.leaves_branch", leaf_depth.astype(float))
    res.put(f"{G}.leaves_corrob", t.n_node_samples[is_leaf] / t.n_node_samples[0])
    p_arr = np.power(2.0, -leaf_depth.astype(float))
    shape = -p_arr * np.log2(p_arr)
    res.put(f"{G}.tree_shape", shape)
    with np.errstate(divide="ignore"):
        homo = np.where(shape > 0, n_leaves / np.where(shape > 0, shape, 1.0), np.nan)
    res.put(
        f"{G}.leaves_homo",
        homo,
        None if np.isfinite(homo).all() else "a single-leaf tree has shape 0 (division by zero)",
    )
    if prep.is_classification:
        pred = np.argmax(t.value[is_leaf][:, 0, :], axis=1)
        _, cnt = np.unique(pred, return_counts=True)
        res.put(f"{G}.leaves_per_class", cnt / n_leaves)
    else:
        res.nan(f"{G}.leaves_per_class", "classification only (task is regression)")
    internal = ~is_leaf
    if internal.any():
        res.put(
            f"{G}.nodes_per_level", np.unique(depth[internal], return_counts=True)[1].astype(float)
        )
        res.put(
            f"{G}.nodes_repeated",
            np.unique(t.feature[internal], return_counts=True)[1].astype(float),
        )
    else:
        res.nan(
            [f"{G}.nodes_per_level", f"{G}.nodes_repeated"],
            "the tree has no split (pure or constant data)",
        )
    res.put(f"{G}.tree_depth", depth.astype(float))
    u, c = np.unique(p_arr, return_counts=True)
    aux = np.power(2.0, -(u * c))
    res.put(f"{G}.tree_imbalance", -aux * np.log2(aux))
    res.put(f"{G}.var_importance", model.feature_importances_)
