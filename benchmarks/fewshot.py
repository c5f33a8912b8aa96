"""Few-shot benchmark: meta-learned learners against classical models on k-shot episodes.

Datasets come from one side of the committed split (``data/fewshot/split.json``): choose
priors and hyperparameters on ``--split val`` only; report ``--split test``.  For every
dataset and k in ``--k`` (labelled rows per class) it draws ``--episodes`` episodes (query
rows at the natural class ratio; ``--imbalanced`` adds a variant whose support follows the
natural class ratio), fits every learner on the support and scores the query:
macro one-vs-rest ROC AUC (primary), log loss, balanced accuracy.  Scores are averaged per
dataset first; then mean, mean rank, win rate and bootstrap 95% intervals over datasets.

Examples
--------
Small CPU run (minutes)::

    python benchmarks/fewshot.py --split val --models pfn_tiny --weights /tmp/fs \
        --k 1,5,20 --episodes 5 --max-datasets 8 --device cpu

Every finished (dataset, support variant, k) unit of every learner is appended to a JSON-lines
file per dataset and learner under ``--checkpoints`` (a folder keyed by the arguments that
change the episodes; a model's file is named by its weights' hash, head and ensemble
members): the same command resumes,
a new model or new weights run only themselves, and ``--report-only`` reports the datasets
every learner has finished.

Full run (GPU session, see scripts/gpu_fewshot_run.sh)::

    python benchmarks/fewshot.py --split val --weights data/fewshot/weights \
        --models pfn_S,pfn_M,protonet_S,maml_S,reptile_S --write-gate --choose-default
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _importable_autometa() -> None:
    """Make ``autometa.fewshot`` importable on a bare GPU box (also in joblib workers).

    Puts this checkout on ``sys.path`` (autometa is not installed there). ``import autometa``
    is lazy and needs none of the dependencies the box lacks; should it fail anyway, an
    empty ``autometa`` package is registered (only ``errors``, ``_io`` and ``fewshot`` are
    used).
    """
    import types

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        import autometa  # noqa: F401
    except Exception:  # noqa: BLE001
        for name in [m for m in sys.modules if m == "autometa" or m.startswith("autometa.")]:
            del sys.modules[name]
        pkg = types.ModuleType("autometa")
        pkg.__path__ = [str(ROOT / "autometa")]
        sys.modules["autometa"] = pkg


_importable_autometa()

from autometa._io import append_line, write_atomic
from autometa.fewshot.episodes import DEFAULT_CORPUS, load_tables, sample_episode
from autometa.fewshot.split import load_split

CLASSICAL = ("logreg", "rf", "xgb")
K_SMALL = (1, 2, 5)
K_LARGE = (10, 20, 50)
#: The issue's inference target: milliseconds per episode on the CPU.
INFERENCE_MS = 50.0


# ----------------------------------------------------------------------- metrics
def macro_auc(y: np.ndarray, P: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC over the classes present in ``y`` with both outcomes."""
    from sklearn.metrics import roc_auc_score

    aucs = [
        roc_auc_score(y == c, P[:, c]) for c in range(P.shape[1]) if 0 < (y == c).sum() < len(y)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def scores(y: np.ndarray, P: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import balanced_accuracy_score, log_loss

    P = np.clip(P, 1e-7, 1)
    P = P / P.sum(1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a rare class may be absent from a query set
        return _scores(y, P, log_loss, balanced_accuracy_score)


def _scores(y, P, log_loss, balanced_accuracy_score) -> dict[str, float]:
    return {
        "roc_auc": macro_auc(y, P),
        "log_loss": float(log_loss(y, P, labels=np.arange(P.shape[1]))),
        "balanced_accuracy": float(balanced_accuracy_score(y, P.argmax(1))),
    }


# ---------------------------------------------------------------------- learners
def make_baseline(name: str, y_ctx: np.ndarray, k: int, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from autometa.fewshot._baseline import logistic_baseline

    if name == "logreg":
        return logistic_baseline(y_ctx, tune=k >= 5, random_state=seed)
    if name == "knn":
        nn = min(5, len(y_ctx))
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            KNeighborsClassifier(n_neighbors=nn, weights="distance"),
        )
    if name == "rf":
        return RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=seed)
    if name == "xgb":
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=100,
            max_depth=4,
            learning_rate=0.1,
            n_jobs=1,
            random_state=seed,
            verbosity=0,
        )
    raise ValueError(f"unknown baseline {name!r}")


def run_learner(name: str, ep, k: int, seed: int, models: dict, device: str, n_ensemble: int | str):
    """Fit on the support, predict the query; returns (proba, seconds)."""
    C = int(ep.y_ctx.max()) + 1
    t0 = time.perf_counter()
    if name in models:
        from autometa.fewshot.classifier import FewShotClassifier

        clf = FewShotClassifier(
            model=models[name], device=device, n_ensemble=n_ensemble, random_state=seed
        )
        P = clf.fit(ep.X_ctx, ep.y_ctx).predict_proba(ep.X_qry)
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
    else:
        est = make_baseline(name, ep.y_ctx, k, seed)
        X_ctx, X_qry = ep.X_ctx, ep.X_qry
        if name == "rf":  # RandomForest takes NaN natively in recent sklearn; impute to be safe
            med = np.nan_to_num(np.nanmedian(X_ctx, 0)) if np.isnan(X_ctx).any() else 0
            X_ctx = np.where(np.isnan(X_ctx), med, X_ctx)
            X_qry = np.where(np.isnan(X_qry), med, X_qry)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X_ctx, ep.y_ctx)
            P = est.predict_proba(X_qry)
        if P.shape[1] != C:  # a learner that saw fewer classes (cannot happen with k >= 1)
            full = np.zeros((len(P), C))
            full[:, est.classes_] = P
            P = full
    return P, time.perf_counter() - t0


def _seed(*parts) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _episode_records(name, table, variant, k, args, learners, models) -> dict[str, list[dict]]:
    """Every episode of one (dataset, support variant, k) unit -> records per learner."""
    recs: dict[str, list[dict]] = {learner: [] for learner in learners}
    for e in range(args.episodes):
        seed = _seed(name, k, e, variant)
        ep = sample_episode(
            table,
            k,
            np.random.default_rng(seed),
            n_query=args.n_query,
            imbalanced=variant == "imbalanced",
        )
        if ep is None:
            break
        for learner in learners:
            try:
                P, sec = run_learner(
                    learner, ep, k, seed % 10_000, models, args.device, args.n_ensemble
                )
                sc = scores(ep.y_qry, P)
            except Exception as exc:  # noqa: BLE001 - a failing learner is a recorded result
                sc = {
                    "roc_auc": np.nan,
                    "log_loss": np.nan,
                    "balanced_accuracy": np.nan,
                    "error": repr(exc)[:200],
                }
                sec = np.nan
            recs[learner].append(
                {
                    "dataset": name,
                    "variant": variant,
                    "k": k,
                    "episode": e,
                    "learner": learner,
                    "seconds": sec,
                    "n_classes": len(ep.classes),
                    **sc,
                }
            )
    return recs


def units(args) -> list[tuple[str, int]]:
    """The (support variant, k) units run for every dataset, in order."""
    variants = ["balanced"] + (["imbalanced"] if args.imbalanced else [])
    return [(variant, k) for variant in variants for k in args.k]


def auto_heads(path: str | Path) -> dict[str, str]:
    """The head ``FewShotClassifier(head="auto")`` puts on the network of ``path`` per gate
    regime (what the gate and the checkpoints of that model measure)."""
    from autometa.fewshot._weights import load_weights
    from autometa.fewshot.classifier import head_for

    model = load_weights(path)[0]
    return {regime: head_for("auto", model, regime) for regime in ("k_le_5", "k_gt_5")}


def learner_keys(
    learners: list[str], model_paths: dict[str, str], n_ensemble: int | str = "auto"
) -> dict[str, str]:
    """A learner's checkpoint name: a baseline's own name, a model's name, the hash of its
    network (not of the file: writing the gate into it keeps the key), ``-n<members>`` where
    it averages other than 4 ensemble members at k <= 5 (``n_ensemble``), and ``-<head>-<digest
    of its settings and members>`` where it runs with another head than the network's above
    5 rows per class (its results at k > 5 with another head, other head settings or other
    members are not reused; those at k <= 5 are, see :func:`read_dataset`).

    Episodes are seeded by (dataset, k, episode, variant) alone, so every learner sees the
    same episodes whichever others run beside it: new weights or a new learner run only
    themselves, and what the others finished is kept.
    """
    from autometa.fewshot._weights import network_digest
    from autometa.fewshot.classifier import ensemble_members

    keys = {}
    for learner in learners:
        if learner not in model_paths:
            keys[learner] = learner
            continue
        heads = auto_heads(model_paths[learner])
        small, large = (ensemble_members(n_ensemble, heads[r]) for r in ("k_le_5", "k_gt_5"))
        keys[learner] = (
            f"{learner}-{network_digest(model_paths[learner])[:16]}"
            + ("" if small == HISTORICAL_MEMBERS else f"-n{small}")
            + ("" if heads["k_gt_5"] == "network" else f"-{heads['k_gt_5']}-{head_digest(large)}")
        )
    return keys


#: The ensemble members of every result before ``--n-ensemble`` entered the learners' keys
#: (their files carry no member count).
HISTORICAL_MEMBERS = 4


def head_digest(n_members: int = HISTORICAL_MEMBERS) -> str:
    """8 hex digits of the settings of the linear and linear+forest heads (and of their
    ensemble members where not the historical 4): results of a head whose settings changed
    since are not reused."""
    from autometa.fewshot import classifier

    names = ("LINEAR_HEAD_C", "RAW_CLIP", "FOREST_PARAMS", "FOREST_SHARE")
    settings = {name: getattr(classifier, name) for name in names}
    if n_members != HISTORICAL_MEMBERS:
        settings["members"] = n_members
    encoded = json.dumps(settings, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:8]


def _network_key(key: str) -> str:
    """A model's key without its head part: the network and its k <= 5 members (what the
    k <= 5 units depend on)."""
    from autometa.fewshot.classifier import EMBEDDING_HEADS

    for head in sorted(EMBEDDING_HEADS, key=len, reverse=True):
        key = key.split(f"-{head}")[0]
    return key


def read_units(path: Path) -> dict[tuple[str, int], list[dict]]:
    """Finished units of one checkpoint file (a line cut by a kill runs again)."""
    done: dict[tuple[str, int], list[dict]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                unit = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[(unit["variant"], int(unit["k"]))] = unit["records"]
    return done


def read_dataset(folder: Path | None, keys: dict[str, str]) -> dict[str, dict]:
    """Finished units per learner of one dataset's checkpoint folder.

    A model runs with the network's own head at k <= 5 whatever its head above, so its
    k <= 5 units are also read from the files of the same network with another head.
    """
    if folder is None:
        return {learner: {} for learner in keys}
    done = {}
    for learner, key in keys.items():
        units = read_units(folder / f"{key}.jsonl")
        if key != learner:  # a model: <learner>-<16 hex>[-n<members>][-<head>-<8 hex>]
            network = _network_key(key)
            for sibling in sorted(folder.glob(f"{network}*.jsonl")):
                if sibling.stem == key or _network_key(sibling.stem) != network:
                    continue
                small = {u: r for u, r in read_units(sibling).items() if u[1] <= max(K_SMALL)}
                units = {**small, **units}
        done[learner] = units
    return done


def bench_dataset(name, table, args, learners, model_paths, checkpoint: Path | None = None):
    """All episodes of one dataset -> list of per-episode records.

    With ``checkpoint`` (one folder per dataset, one JSON-lines file per learner in it, so
    parallel workers never share a file) every finished (variant, k) unit of every learner
    is appended there and skipped on rerun.
    """
    _importable_autometa()
    import torch

    torch.set_num_threads(1)
    keys = learner_keys(learners, model_paths, args.n_ensemble)
    done = read_dataset(checkpoint, keys)
    missing = {u: [m for m in learners if u not in done[m]] for u in units(args)}
    needed = {m for ms in missing.values() for m in ms}
    models = {}
    if needed & set(model_paths):
        from autometa.fewshot._weights import load_weights

        models = {m: load_weights(p)[0] for m, p in model_paths.items() if m in needed}
    if checkpoint is not None and needed:
        checkpoint.mkdir(parents=True, exist_ok=True)
    for (variant, k), todo in missing.items():
        if not todo:
            continue
        recs = _episode_records(name, table, variant, k, args, todo, models)
        for learner, learner_recs in recs.items():
            done[learner][(variant, k)] = learner_recs
            if checkpoint is not None:
                line = json.dumps({"variant": variant, "k": k, "records": learner_recs})
                append_line(checkpoint / f"{keys[learner]}.jsonl", line)
    return [r for u in units(args) for m in learners for r in done[m][u]]


def checkpoint_dir(args) -> Path:
    """A folder per set of arguments that change the episodes or how they are scored (a
    model's ensemble members are part of its file name, :func:`learner_keys`)."""
    key = {
        "split": args.split,
        "split_file": str(args.split_file),
        "episodes": args.episodes,
        "n_query": args.n_query,
        "device": args.device.split(":")[0],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(args.checkpoints) / f"fewshot_{args.split}_{digest}"


# ------------------------------------------------------------------- aggregation
def summarise(df, learners, n_boot: int = 1000, seed: int = 0) -> dict:
    """Per (variant, k): per-dataset means, then mean / rank / win rate / bootstrap CI."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    out = {}
    for (variant, k), g in df.groupby(["variant", "k"]):
        per = g.groupby(["dataset", "learner"])[
            ["roc_auc", "log_loss", "balanced_accuracy", "seconds"]
        ].mean()
        auc = per["roc_auc"].unstack().reindex(columns=learners).dropna(how="any")
        if auc.empty:
            continue
        ll = per["log_loss"].unstack().reindex(columns=learners).loc[auc.index]
        ranks = (-auc).rank(axis=1).mean()
        classical = [c for c in CLASSICAL if c in auc.columns]
        best = max(classical, key=lambda c: auc[c].mean()) if classical else None
        rows = {}
        for m in learners:
            boot = auc[m].to_numpy()[rng.integers(0, len(auc), (n_boot, len(auc)))].mean(1)
            row = {
                "roc_auc": float(auc[m].mean()),
                "roc_auc_ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
                "log_loss": float(ll[m].mean()),
                "balanced_accuracy": float(
                    per["balanced_accuracy"].unstack()[m].loc[auc.index].mean()
                ),
                "mean_rank": float(ranks[m]),
                "median_ms_per_episode": float(1000 * g[g.learner == m]["seconds"].median()),
            }
            if best is not None and m != best:
                d = (auc[m] - auc[best]).to_numpy()
                bd = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(1)
                row.update(
                    {
                        "vs_best_classical": best,
                        "auc_diff": float(d.mean()),
                        "auc_diff_ci95": [
                            float(np.quantile(bd, 0.025)),
                            float(np.quantile(bd, 0.975)),
                        ],
                        "win_rate": float((d > 0).mean()),
                        "log_loss_diff": float((ll[m] - ll[best]).mean()),
                    }
                )
            if "logreg" in auc.columns and m != "logreg":
                row["auc_diff_vs_logreg"] = float((auc[m] - auc["logreg"]).mean())
            rows[m] = row
        out[f"{variant}/k={k}"] = {"n_datasets": len(auc), "best_classical": best, "learners": rows}
    del pd
    return out


def targets(summary: dict, neural: list[str]) -> dict:
    """The issue's targets per neural learner (balanced variant)."""
    res = {}
    for m in neural:
        small, large = [], []
        for key, s in summary.items():
            variant, k = key.split("/k=")
            if variant != "balanced" or m not in s["learners"]:
                continue
            r = s["learners"][m]
            if int(k) in K_SMALL and "auc_diff_vs_logreg" in r:
                small.append(r["auc_diff_vs_logreg"] >= -0.005)
            if int(k) in K_LARGE and "auc_diff" in r:
                large.append(
                    r["auc_diff"] >= 0.01 and r["win_rate"] >= 0.6 and r["log_loss_diff"] < 0
                )
        res[m] = {
            "k_le_5_no_worse_than_logreg": bool(small) and all(small),
            "k_10_50_beats_best_classical": bool(large) and all(large),
        }
    return res


def gate_record(summary: dict, model: str, heads: dict[str, str] | None = None) -> dict:
    """Gate per regime (k <= 5 and k > 5): the model passes a regime when, at every k of it
    that was run, its mean meta-val ROC AUC is at least logistic regression's minus 0.005
    (the issue's k <= 5 target, read per k). ``heads``: the head the model ran with per
    regime (:func:`auto_heads`), stored with the record (the gate is per head)."""
    rec = {}
    for regime, ks in (("k_le_5", K_SMALL), ("k_gt_5", K_LARGE)):
        per_k = {}
        for k in ks:
            s = summary.get(f"balanced/k={k}", {}).get("learners", {})
            if model in s and "logreg" in s:
                per_k[str(k)] = {"auc": s[model]["roc_auc"], "baseline_auc": s["logreg"]["roc_auc"]}
        if per_k:
            rec[regime] = {
                "passed": all(v["auc"] >= v["baseline_auc"] - 0.005 for v in per_k.values()),
                "auc": float(np.mean([v["auc"] for v in per_k.values()])),
                "baseline_auc": float(np.mean([v["baseline_auc"] for v in per_k.values()])),
                "per_k": per_k,
                "head": (heads or {}).get(regime, "network"),
            }
    return rec


def choose_default(summary: dict, gates: dict, names: list[str]) -> dict | None:
    """``default.json``'s contents: among the models passing the k <= 5 gate, those within
    the inference target (:data:`INFERENCE_MS`, the slowest k's median milliseconds per
    balanced episode) first, then the best mean meta-val ROC AUC over k (balanced
    support); ``None`` when none passes the gate (a default that always falls back would
    ship nothing)."""

    def balanced(m: str, field: str) -> list[float]:
        return [
            s["learners"][m][field]
            for key, s in summary.items()
            if key.startswith("balanced/") and m in s["learners"]
        ]

    def overall(m: str) -> float:
        return float(np.mean(balanced(m, "roc_auc")))

    def slowest_ms(m: str) -> float:
        times = [t for t in balanced(m, "median_ms_per_episode") if np.isfinite(t)]
        return max(times) if times else float("inf")

    eligible = [m for m in names if gates.get(m, {}).get("k_le_5", {}).get("passed")]
    if not eligible:
        return None
    fast = [m for m in eligible if slowest_ms(m) <= INFERENCE_MS]
    method, size = max(fast or eligible, key=overall).rsplit("_", 1)
    return {
        "method": method,
        "size": size,
        "chosen_by": "among the models passing the k <= 5 gate, those within "
        f"{INFERENCE_MS:g} ms per episode first, then the best mean meta-val ROC AUC over k "
        "(balanced)",
        "scores": {m: overall(m) for m in names},
        "ms_per_episode": {m: slowest_ms(m) for m in names},
        "passed_k_le_5": eligible,
        "within_inference_target": fast,
    }


def markdown(summary: dict, tgt: dict, header: str) -> str:
    lines = [f"# {header}", ""]
    for key, s in summary.items():
        lines += [
            f"## {key} ({s['n_datasets']} datasets; best classical: {s['best_classical']})",
            "",
            "| learner | ROC AUC [95% CI] | log loss | bal. acc. | mean rank | win rate vs best | ms/episode |",
            "|---|---|---|---|---|---|---|",
        ]
        for m, r in sorted(s["learners"].items(), key=lambda kv: -kv[1]["roc_auc"]):
            ci = r["roc_auc_ci95"]
            wr = f"{r['win_rate']:.2f}" if "win_rate" in r else "-"
            lines.append(
                f"| {m} | {r['roc_auc']:.4f} [{ci[0]:.3f}, {ci[1]:.3f}] | {r['log_loss']:.4f} | "
                f"{r['balanced_accuracy']:.4f} | {r['mean_rank']:.2f} | {wr} | "
                f"{r['median_ms_per_episode']:.1f} |"
            )
        lines.append("")
    lines += ["## Targets", "", "```", json.dumps(tgt, indent=1), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--split", default="val", choices=["train", "val", "test"])
    p.add_argument("--split-file", default=None)
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument(
        "--packed", default=None, help=".npz from `python -m autometa.fewshot.episodes pack`"
    )
    p.add_argument("--weights", default=str(ROOT / "data" / "fewshot" / "weights"))
    p.add_argument(
        "--models", default="", help="comma list of weight names in --weights, e.g. pfn_S,maml_S"
    )
    p.add_argument("--baselines", default="logreg,knn,rf,xgb")
    p.add_argument("--k", default="1,2,5,10,20,50")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--n-query", type=int, default=200)
    p.add_argument(
        "--imbalanced", action="store_true", help="also run the imbalanced-support variant"
    )
    p.add_argument("--max-datasets", type=int, default=None)
    p.add_argument(
        "--skip",
        default="",
        help="comma list of datasets to leave out of this run (e.g. one too slow to finish "
        "now); the checkpoint keeps what they finished",
    )
    p.add_argument(
        "--n-ensemble",
        type=lambda v: v if v == "auto" else int(v),
        default="auto",
        help='ensemble members of the models: an int, or "auto" (FewShotClassifier\'s default)',
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument(
        "--checkpoints",
        default=str(ROOT / "benchmarks" / "results" / ".checkpoints"),
        help="finished (dataset, variant, k) units are kept here; a rerun resumes",
    )
    p.add_argument("--no-checkpoint", action="store_true", help="keep nothing between runs")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="report the datasets the checkpoint has finished; run nothing",
    )
    p.add_argument(
        "--out", default=None, help="JSON path (default benchmarks/results/fewshot_<split>.json)"
    )
    p.add_argument(
        "--write-gate", action="store_true", help="(val only) store the gate in each weights file"
    )
    p.add_argument(
        "--choose-default", action="store_true", help="(val only) write weights/default.json"
    )
    args = p.parse_args(argv)
    args.k = [int(v) for v in args.k.split(",")]

    baselines = [b for b in args.baselines.split(",") if b]
    if "xgb" in baselines:
        try:
            import xgboost  # noqa: F401
        except ImportError:
            print("xgboost is not installed: skipping the xgb baseline", file=sys.stderr)
            baselines.remove("xgb")
    names = [m for m in args.models.split(",") if m]
    model_paths = {m: str(Path(args.weights) / f"{m}.pt") for m in names}
    learners = names + baselines
    split = load_split(args.split_file)
    skipped = {d for d in args.skip.split(",") if d}
    datasets = [d for d in split[args.split][: args.max_datasets] if d not in skipped]
    tables = {} if args.report_only else load_tables(datasets, args.corpus, packed=args.packed)

    t0 = time.time()
    planned = len(datasets)
    ckdir = None if args.no_checkpoint else checkpoint_dir(args)
    if ckdir is not None:
        ckdir.mkdir(parents=True, exist_ok=True)
        print(f"checkpoint: {ckdir}", file=sys.stderr)
    if args.report_only:
        if ckdir is None:
            p.error("--report-only needs the checkpoint (drop --no-checkpoint)")
        keys = learner_keys(learners, model_paths, args.n_ensemble)
        finished = {n: read_dataset(ckdir / n, keys) for n in datasets}
        datasets = [
            n for n in datasets if all(u in finished[n][m] for m in learners for u in units(args))
        ]
        parts = [
            [r for u in units(args) for m in learners for r in finished[n][m][u]] for n in datasets
        ]
    else:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=args.n_jobs)(
            delayed(bench_dataset)(
                n,
                tables[n],
                args,
                learners,
                model_paths,
                None if ckdir is None else ckdir / n,
            )
            for n in datasets
        )
    recs = [r for part in parts for r in part]
    import pandas as pd

    df = pd.DataFrame(recs)
    summary = summarise(df, learners)
    tgt = targets(summary, names)
    errors = df[df.get("error", pd.Series(dtype=str)).notna()] if "error" in df else df.iloc[:0]
    result = {
        "split": args.split,
        "datasets": datasets,
        "k": args.k,
        "episodes": args.episodes,
        "n_query": args.n_query,
        "device": args.device,
        "n_ensemble": args.n_ensemble,
        "learners": learners,
        "wall_s": round(time.time() - t0, 1),
        "summary": summary,
        "targets": tgt,
        "n_errors": len(errors),
        "errors": errors.head(20).to_dict("records") if len(errors) else [],
        "per_dataset": df.groupby(["variant", "k", "dataset", "learner"])[["roc_auc", "log_loss"]]
        .mean()
        .reset_index()
        .to_dict("records"),
    }
    if args.device.startswith("cuda"):
        import torch

        result["device_name"] = torch.cuda.get_device_name(0)
    if names and args.split == "val":
        result["gate"] = {m: gate_record(summary, m, auto_heads(model_paths[m])) for m in names}
        if args.write_gate:
            import torch

            for m, path in model_paths.items():
                payload = torch.load(path, map_location="cpu", weights_only=True)
                # a run of some k only re-gates their regimes
                payload["meta"]["gate"] = {**payload["meta"].get("gate", {}), **result["gate"][m]}
                payload["meta"]["gate_source"] = (
                    f"benchmarks/fewshot.py --split val, {args.episodes} episodes"
                )
                write_atomic(path, lambda tmp, payload=payload: torch.save(payload, tmp))
        if args.choose_default:
            choice = choose_default(summary, result["gate"], names)
            if choice is None:
                print("no model passes the k <= 5 gate: default.json not written", file=sys.stderr)
            else:
                text = json.dumps(choice, indent=1) + "\n"
                write_atomic(
                    Path(args.weights) / "default.json", lambda tmp: Path(tmp).write_text(text)
                )
    out = (
        Path(args.out)
        if args.out
        else ROOT / "benchmarks" / "results" / f"fewshot_{args.split}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    md = markdown(
        summary,
        tgt,
        f"Few-shot benchmark, meta-{args.split} ({len(datasets)} datasets"
        + (f" of {planned}, the rest not run yet" if len(datasets) < planned else "")
        + ", "
        f"{args.episodes} episodes, device {args.device})",
    )
    out.with_suffix(".md").write_text(md)
    print(md)
    return result


if __name__ == "__main__":
    main()
