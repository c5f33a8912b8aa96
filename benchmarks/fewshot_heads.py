"""Which head on the few-shot network above 5 rows per class? (meta-validation only)

ProtoNet's own head classifies by the distance to class means, which throws away what many
rows per class say: at k = 10-50 the shipped network was level with logistic regression and
behind random forest. This compares heads on the same row embeddings
(``EpisodeModel.row_embeddings``) of the default weights, on the meta-val episodes of
``benchmarks/fewshot.py`` (balanced support, the same seeds):

- ``prototype``: the network's own head (``FewShotClassifier(head="network")``);
- ``soft_knn``: a softmax over the distances to every support row (matching networks);
- ``emb_lr_C``: logistic regression on the standardised embeddings, inverse strength C;
- ``emb_raw_lr_C``: the same on the embeddings and the standardised raw features
  (``FewShotClassifier(head="linear")`` uses C = 0.1, the choice of this benchmark);
- ``logreg``, ``rf``: the benchmark's baselines, and ``emb_raw_lr_0.1+rf``, the average of
  the linear head's and the forest's probabilities (a hybrid, for reference: it costs the
  forest's time).

    python benchmarks/fewshot_heads.py --k 10,20,50 --episodes 6 --n-jobs 2

``--study blend`` compares, on the same episodes, the linear head with 1, 2 or 4 ensemble
members, 30 or 50 extra trees and 100 random-forest trees on the raw features, and each
linear head averaged half and half with each forest, with the CPU milliseconds of each
(``FewShotClassifier(head="linear+forest")`` was the 4-member head with 50 extra trees);
``--study share`` varies the forest's share of that head's probabilities; ``--study forest
--round N`` (1-4) compares random forests grown by XGBoost (:data:`FOREST_ROUNDS`) with
50 extra trees and scikit-learn's random forest (``FOREST_PARAMS`` of the classifier is
round 4's ``xgbrf100_d4_cols50_bins32``; results ``fewshot_forest_round<N>.md``).

Writes ``benchmarks/results/fewshot_<study>.{csv,md}`` (mean over datasets of the
per-dataset mean ROC AUC and log loss, and for ``blend``, ``share`` and ``forest`` of the
milliseconds).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from fewshot import _seed, run_learner, scores

RESULTS = ROOT / "benchmarks" / "results"
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
#: The forest's shares of the linear+forest head's probabilities ``--study share`` compares.
SHARES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)


def head_probabilities(ep, seed: int) -> dict[str, np.ndarray]:
    """Every head's query probabilities on one episode (the ensemble members averaged)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from autometa.fewshot.classifier import FewShotClassifier, _standardised

    clf = FewShotClassifier(random_state=seed, gate=False, head="network")
    clf.fit(ep.X_ctx, ep.y_ctx)
    out = {"prototype": clf.predict_proba(ep.X_qry)}
    model, n_ctx, C = clf._network(), len(ep.y_ctx), int(ep.y_ctx.max()) + 1
    raw_ctx, raw_qry = _standardised(ep.X_ctx, ep.X_qry, clip=5.0)
    xc = torch.tensor(clf.X_)[None]
    sums: dict[str, np.ndarray] = {}
    for cols, norm, member_seed in clf._members(xc):
        _, x = next(clf._episodes(xc, ep.X_qry, cols))
        with torch.no_grad():
            gen = torch.Generator().manual_seed(member_seed)
            e = model.row_embeddings(
                x, torch.from_numpy(clf.y_)[None], C, norm=norm, generator=gen, canonical=True
            )[0].float()
            d2 = torch.cdist(e[n_ctx:], e[:n_ctx]) ** 2 * torch.exp(model.log_temp).item()
            w = torch.softmax(-d2 / e.shape[-1] ** 0.5, 1).numpy()
        probs = {"soft_knn": np.stack([w[:, clf.y_ == c].sum(1) for c in range(C)], 1)}
        emb_ctx, emb_qry = _standardised(e[:n_ctx].numpy(), e[n_ctx:].numpy())
        for c_inv in C_GRID:
            lr = LogisticRegression(C=c_inv, max_iter=500)
            probs[f"emb_lr_{c_inv:g}"] = lr.fit(emb_ctx, clf.y_).predict_proba(emb_qry)
            both_ctx, both_qry = np.hstack([emb_ctx, raw_ctx]), np.hstack([emb_qry, raw_qry])
            lr = LogisticRegression(C=c_inv, max_iter=500)
            probs[f"emb_raw_lr_{c_inv:g}"] = lr.fit(both_ctx, clf.y_).predict_proba(both_qry)
        for name, p in probs.items():
            sums[name] = sums.get(name, 0) + p
    out.update({name: p / clf.n_ensemble_ for name, p in sums.items()})
    return out


def blend_forests(seed: int, n_features: int) -> dict:
    """``--study blend``'s tree ensembles on the raw features."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    return {
        "et30": ExtraTreesClassifier(30, random_state=seed, n_jobs=1),
        "et50": ExtraTreesClassifier(50, random_state=seed, n_jobs=1),
        "rf100": RandomForestClassifier(100, random_state=seed, n_jobs=1),
    }


def xgb_forest(n_trees: int, seed: int, n_features: int, **params):
    """A random forest grown by XGBoost in one call (scikit-learn's forests pay ~0.5 ms of
    Python per tree): by default 12 deep on 63 % of the rows, sqrt(features) per split;
    ``params`` override that."""
    from xgboost import XGBRFClassifier

    params = {
        "max_depth": 12,
        "min_child_weight": 0.0,
        "reg_lambda": 1e-3,
        "subsample": 0.632,
        "colsample_bynode": min(1.0, max(1.0, np.sqrt(n_features)) / n_features),
    } | params
    return XGBRFClassifier(n_estimators=n_trees, n_jobs=1, random_state=seed, **params)


#: ``--study forest``'s XGBoost forests per ``--round``: name -> (trees, parameters that
#: override :func:`xgb_forest`'s). Each round refined the best of the one before.
FOREST_ROUNDS = {
    1: {
        "xgbrf50": (50, {}),
        "xgbrf100": (100, {}),
        "xgbrf100_l1": (100, {"reg_lambda": 1.0}),
        "xgbrf100_d6": (100, {"max_depth": 6}),
    },
    2: {
        "xgbrf100_d4": (100, {"max_depth": 4}),
        "xgbrf50_d6": (50, {"max_depth": 6}),
        "xgbrf100_d6": (100, {"max_depth": 6}),
        "xgbrf200_d6": (200, {"max_depth": 6}),
        "xgbrf100_d8": (100, {"max_depth": 8}),
        "xgbrf100_d6_rows80": (100, {"max_depth": 6, "subsample": 0.8}),
        "xgbrf100_d6_cols50": (100, {"max_depth": 6, "colsample_bynode": 0.5}),
        "xgbrf100_d6_mcw1": (100, {"max_depth": 6, "min_child_weight": 1.0}),
    },
    3: {
        **{
            f"xgbrf100_d6_cols{c}": (100, {"max_depth": 6, "colsample_bynode": c / 100})
            for c in (30, 50, 70, 100)
        },
        "xgbrf100_d4_cols50": (100, {"max_depth": 4, "colsample_bynode": 0.5}),
        "xgbrf50_d6_cols50": (50, {"max_depth": 6, "colsample_bynode": 0.5}),
        "xgbrf100_d6_cols50_rows80": (
            100,
            {"max_depth": 6, "colsample_bynode": 0.5, "subsample": 0.8},
        ),
    },
    4: {
        "xgbrf100_d4_cols50": (100, {"max_depth": 4, "colsample_bynode": 0.5}),
        "xgbrf100_d4_cols50_bins32": (
            100,
            {"max_depth": 4, "colsample_bynode": 0.5, "max_bin": 32},
        ),
        "xgbrf200_d4_cols50": (200, {"max_depth": 4, "colsample_bynode": 0.5}),
        "xgbrf100_d3_cols50": (100, {"max_depth": 3, "colsample_bynode": 0.5}),
    },
}


def forest_forests(seed: int, n_features: int, round_: int = 4) -> dict:
    """``--study forest``: the shipped extra trees and scikit-learn's random forest against
    one round of XGBoost forests (:data:`FOREST_ROUNDS`)."""
    references = blend_forests(seed, n_features)
    return {
        **{name: references[name] for name in ("et50", "rf100")},
        **{
            name: xgb_forest(n_trees, seed, n_features, **params)
            for name, (n_trees, params) in FOREST_ROUNDS[round_].items()
        },
    }


def forest_probabilities(
    ep, seed: int, round_: int = 4
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """:func:`blend_probabilities` with one round of :func:`forest_forests`."""
    return blend_probabilities(ep, seed, partial(forest_forests, round_=round_))


def blend_probabilities(
    ep, seed: int, forests=blend_forests
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The shipped linear head with 1, 2 or 4 ensemble members, small tree ensembles on the
    raw features (``forests(seed, n_features)``), and their 50/50 averages: query
    probabilities and CPU ms of each."""
    import torch

    from autometa.fewshot.classifier import FewShotClassifier

    clf = FewShotClassifier(random_state=seed, gate=False, head="linear", n_ensemble=1)
    clf.fit(ep.X_ctx, ep.y_ctx)
    C = int(ep.y_ctx.max()) + 1
    members, member_ms = [], []
    for m in range(4):
        # member m of the 4-member ensemble: the seed and normalisation _members gives it
        clf.random_state, clf.n_ensemble_ = seed, m + 1
        t = time.process_time()
        with torch.no_grad():
            members.append(_member_linear_proba(clf, ep.X_qry, C, m))
        member_ms.append(1000 * (time.process_time() - t))
    probs, ms = {}, {}
    for n in (1, 2, 4):
        probs[f"lin{n}"], ms[f"lin{n}"] = np.mean(members[:n], 0), sum(member_ms[:n])
    forests = forests(seed, ep.X_ctx.shape[1])
    for name, forest in forests.items():
        t = time.process_time()
        probs[name] = forest.fit(ep.X_ctx, ep.y_ctx).predict_proba(ep.X_qry)
        ms[name] = 1000 * (time.process_time() - t)
    for lin in ("lin1", "lin2", "lin4"):
        for forest in forests:
            probs[f"{lin}+{forest}"] = 0.5 * (probs[lin] + probs[forest])
            ms[f"{lin}+{forest}"] = ms[lin] + ms[forest]
    return probs, ms


def share_probabilities(ep, seed: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The shipped ``"linear+forest"`` head with the forest's share of its probabilities
    from 0 (the linear head) to 1 (the extra trees alone)."""
    from autometa.fewshot.classifier import FewShotClassifier

    clf = FewShotClassifier(random_state=seed, gate=False, head="linear+forest")
    t = time.process_time()
    clf.fit(ep.X_ctx, ep.y_ctx)
    linear = clf._linear_proba(ep.X_qry, len(clf.classes_))
    forest = clf._forest_proba(ep.X_qry)
    ms = 1000 * (time.process_time() - t)
    probs = {f"share_{w:g}": (1 - w) * linear + w * forest for w in SHARES}
    return probs, dict.fromkeys(probs, ms)


def _member_linear_proba(clf, Xq: np.ndarray, C: int, member: int) -> np.ndarray:
    """``clf._linear_proba`` restricted to one ensemble member."""
    members = clf._members
    clf._members = lambda xc: (m for i, m in enumerate(members(xc)) if i == member)
    try:
        return clf._linear_proba(Xq, C) * clf.n_ensemble_
    finally:
        del clf._members


def balanced_episodes(name: str, table, ks: list[int], episodes: int):
    """(k, seed, episode) of every balanced meta-val episode of one dataset, the seeds of
    ``benchmarks/fewshot.py``; torch on one thread."""
    import torch

    from autometa.fewshot.episodes import sample_episode

    torch.set_num_threads(1)
    for k in ks:
        for e in range(episodes):
            seed = _seed(name, k, e, "balanced")
            ep = sample_episode(table, k, np.random.default_rng(seed), n_query=200)
            if ep is None:
                break
            yield k, seed % 10_000, ep


def bench_blend(name: str, table, ks: list[int], episodes: int, probabilities) -> list[dict]:
    """``probabilities`` (:func:`blend_probabilities` or :func:`share_probabilities`) on
    every balanced episode of one dataset, with logistic regression beside them."""
    rows = []
    for k, seed, ep in balanced_episodes(name, table, ks, episodes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probs, ms = probabilities(ep, seed)
            probs["logreg"] = run_learner("logreg", ep, k, seed, {}, "cpu", 4)[0]
            ms["logreg"] = np.nan
        for head, p in probs.items():
            rows.append(
                {"dataset": name, "k": k, "head": head, "ms": ms[head], **scores(ep.y_qry, p)}
            )
    return rows


def bench_dataset(name: str, table, ks: list[int], episodes: int) -> list[dict]:
    rows = []
    for k, seed, ep in balanced_episodes(name, table, ks, episodes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probs = head_probabilities(ep, seed)
            for base in ("logreg", "rf"):
                probs[base] = run_learner(base, ep, k, seed, {}, "cpu", 4)[0]
        probs["emb_raw_lr_0.1+rf"] = 0.5 * probs["emb_raw_lr_0.1"] + 0.5 * probs["rf"]
        for head, p in probs.items():
            rows.append({"dataset": name, "k": k, "head": head, **scores(ep.y_qry, p)})
    return rows


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--k", default="10,20,50")
    p.add_argument("--episodes", type=int, default=6)
    p.add_argument("--max-datasets", type=int, default=None)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument(
        "--round", type=int, default=4, choices=sorted(FOREST_ROUNDS), help="--study forest's round"
    )
    p.add_argument(
        "--study",
        default="heads",
        choices=["heads", "blend", "share", "forest"],
        help="heads: heads on the embeddings; blend: ensemble size and tree blends; share: "
        "the forest's share in the linear+forest head; forest: extra trees against "
        "XGBoost's random forests",
    )
    args = p.parse_args(argv)
    from joblib import Parallel, delayed

    from autometa.fewshot.episodes import DEFAULT_CORPUS, load_tables
    from autometa.fewshot.split import load_split

    names = load_split()["val"][: args.max_datasets]
    tables = load_tables(names, DEFAULT_CORPUS)
    ks = [int(k) for k in args.k.split(",")]
    studies = {
        "blend": blend_probabilities,
        "share": share_probabilities,
        "forest": partial(forest_probabilities, round_=args.round),
    }
    runs = Parallel(n_jobs=args.n_jobs, verbose=5)(
        delayed(bench_blend)(name, table, ks, args.episodes, studies[args.study])
        if args.study in studies
        else delayed(bench_dataset)(name, table, ks, args.episodes)
        for name, table in tables.items()
    )
    metrics = ["roc_auc", "log_loss"] + (["ms"] if args.study in studies else [])
    per_dataset = (
        pd.DataFrame([r for rows in runs for r in rows])
        .groupby(["k", "head", "dataset"])[metrics]
        .mean()
    )
    table = per_dataset.groupby(["k", "head"]).mean().unstack("k")
    table = table.sort_values(("roc_auc", ks[-1]), ascending=False).round(4)
    table.columns = [f"{metric} k={k}" for metric, k in table.columns]
    print(table.to_string())
    name = f"forest_round{args.round}" if args.study == "forest" else args.study
    out = Path(args.out or RESULTS / f"fewshot_{name}")
    table.to_csv(out.with_suffix(".csv"))
    header = "| head | " + " | ".join(table.columns) + " |"
    lines = [
        (
            f"# Heads on the default few-shot network, meta-val ({len(tables)} datasets, "
            f"{args.episodes} episodes per dataset and k, balanced support)"
        ),
        "",
        header,
        "|---|" + "---:|" * len(table.columns),
        *(f"| {h} | " + " | ".join(f"{v:.4f}" for v in row) + " |" for h, row in table.iterrows()),
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return table


if __name__ == "__main__":
    main()
