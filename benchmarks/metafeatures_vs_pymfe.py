"""Benchmark ``metafeatures.extract`` against pymfe on PMLB corpus datasets.

Usage (from the repository root)::

    python benchmarks/metafeatures_vs_pymfe.py            # the comparison table
    python benchmarks/metafeatures_vs_pymfe.py --all-corpus  # + ours, all groups, every corpus dataset

Every measurement runs in a fresh subprocess (so peak memory is per run and a
slow pymfe run can be killed): wall time of extraction only (data loading
excluded), number of values, NaN count, peak memory.  Peak memory: for ours,
``tracemalloc`` peak (numpy allocations are traced) in a second run;
for pymfe, growth of the process' max RSS during extraction (its sklearn/C
allocations are not traced).  Agreement with pymfe is computed on the
meta-features whose definitions match (``SHARED`` below) on datasets without
categorical features (pymfe gray-codes categorical columns into its numeric
matrix, we do not); a value agrees when the relative difference is <= 1e-3.

Writes ``benchmarks/results/metafeatures_vs_pymfe.{csv,md}`` (and
``metafeatures_all_corpus.csv`` with ``--all-corpus``).  The corpus is read
from ``../shared/corpus/pmlb`` and never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "pmlb"
RESULTS = ROOT / "benchmarks" / "results"
PYMFE_TIMEOUT = 90

# Spanning 100 to 67,000 rows and 2 to 1,000 features, classification and regression.
DATASETS = [
    "iris",
    "wine-recognition",
    "breast-cancer-wisconsin",
    "glass",
    "credit-g",
    "vehicle",
    "titanic",
    "yeast",
    "mushroom",
    "car-evaluation",
    "spambase",
    "waveform-40",
    "satimage",
    "optdigits",
    "mfeat-factors",
    "clean2",
    "dna",
    "GAMETES_Epistasis_2-Way_1000atts_0.4H_EDM-1_EDM-1_1",
    "magic",
    "letter",
    "adult",
    "shuttle",
    "connect-4",
    "529_pollen",
    "1028_SWD",
    "564_fried",
    "1201_BNG_breastTumor",
]

# our name -> pymfe name, for meta-features with the same definition
SHARED: dict[str, str] = {
    "general.n_instances": "nr_inst",
    "general.n_features": "nr_attr",
    "general.n_numeric": "nr_num",
    "general.n_categorical": "nr_cat",
    "general.n_binary": "nr_bin",
    "general.n_classes": "nr_class",
    "general.attr_to_inst": "attr_to_inst",
    "general.inst_to_attr": "inst_to_attr",
    "general.cat_to_num": "cat_to_num",
    "general.num_to_cat": "num_to_cat",
    "general.freq_class.mean": "freq_class.mean",
    "general.freq_class.sd": "freq_class.sd",
    "statistical.nr_cor_attr": "nr_cor_attr",
    "statistical.nr_outliers": "nr_outliers",
    "statistical.gravity": "gravity",
    "statistical.w_lambda": "w_lambda",
    "statistical.p_trace": "p_trace",
    "statistical.lh_trace": "lh_trace",
    "statistical.roy_root": "roy_root",
    "statistical.can_cor.mean": "can_cor.mean",
    "info_theory.class_ent": "class_ent",
    "info_theory.eq_num_attr": "eq_num_attr",
    "info_theory.ns_ratio": "ns_ratio",
    "model_based.leaves": "leaves",
    "model_based.nodes": "nodes",
    "model_based.nodes_per_inst": "nodes_per_inst",
    "model_based.nodes_per_attr": "nodes_per_attr",
}
for _s in ("mean", "sd"):
    for _f in (
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
        "sparsity",
        "cor",
        "cov",
        "eigenvalues",
    ):
        SHARED[f"statistical.{_f}.{_s}"] = f"{_f}.{_s}"
    for _f in ("attr_ent", "joint_ent", "mut_inf", "class_conc", "attr_conc"):
        SHARED[f"info_theory.{_f}.{_s}"] = f"{_f}.{_s}"
    for _f in (
        "leaves_branch",
        "leaves_corrob",
        "tree_shape",
        "leaves_homo",
        "leaves_per_class",
        "nodes_per_level",
        "nodes_repeated",
        "tree_depth",
        "tree_imbalance",
        "var_importance",
    ):
        SHARED[f"model_based.{_f}.{_s}"] = f"{_f}.{_s}"

# why a shared meta-feature can legitimately disagree
KNOWN = {
    "can_cor": "pymfe: iterative sklearn CCA (approximate, min(k,p) components); ours exact",
    "w_lambda": "derived from canonical correlations (see can_cor)",
    "p_trace": "derived from canonical correlations (see can_cor)",
    "lh_trace": "derived from canonical correlations (see can_cor)",
    "roy_root": "derived from canonical correlations (see can_cor)",
    "class_conc": "features constant after discretisation: pymfe returns an arbitrary value (0/0 smoothed by 1e-8), ours NaN (skipped by the summary)",
    "attr_conc": "same as class_conc for constant features; and pymfe samples 12 features with its own RNG when there are more",
    "model_based": "tree fitted on a max_rows sample, or equal-gain split ties broken differently",
    "sparsity": "pymfe counts distinct values on raw X; float noise/imputation",
    "skewness": "pymfe's mean/sd propagate NaN of constant columns; ours skip them",
    "kurtosis": "pymfe's mean/sd propagate NaN of constant columns; ours skip them",
    "cor": "pymfe keeps NaN correlations of constant columns; ours drop them",
    "g_mean": "pymfe propagates NaN of columns with negative values into the summary",
    "h_mean": "pymfe's scipy.hmean on columns with negative/zero values",
    "nr_cor_attr": "pymfe counts NaN correlations differently",
}


def load(name: str) -> tuple[pd.DataFrame, pd.Series, str, list[str]]:
    man = pd.read_csv(CORPUS / "manifest.csv").set_index("name")
    row = man.loc[name]
    df = pd.read_csv(CORPUS / row.task / f"{name}.tsv.gz", sep="\t")
    cat = [] if pd.isna(row.categorical) else str(row.categorical).split(";")
    return (
        df.drop(columns="target"),
        df["target"],
        str(row.task),
        [c for c in cat if c in df.columns],
    )


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(tool: str, groups: str, name: str) -> dict:
    """Run one extraction in this (fresh) process and return its measurements."""
    X, y, task, cat = load(name)
    if tool == "ours":
        import tracemalloc

        sys.path.insert(0, str(ROOT))
        import metafeatures

        metafeatures.extract(X.iloc[:50], y.iloc[:50], task=task, categorical=cat)  # import/warm-up
        t = time.perf_counter()
        s, info = metafeatures.extract(
            X, y, task=task, categorical=cat, groups=groups, return_info=True
        )
        secs = time.perf_counter() - t
        tracemalloc.start()
        metafeatures.extract(X, y, task=task, categorical=cat, groups=groups)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return {
            "seconds": secs,
            "values": {k: (None if np.isnan(v) else float(v)) for k, v in s.items()},
            "peak_mb": peak,
            "sampled": info["sampled"],
            "n_rows_sampled": info["n_rows_sampled"],
            "skipped": info["skipped_groups"],
        }
    import warnings

    from pymfe.mfe import MFE

    warnings.filterwarnings("ignore")
    cat_idx = [list(X.columns).index(c) for c in cat]
    Xv = X.to_numpy(dtype=float)
    yv = y.to_numpy()
    rss0 = _rss_mb()
    t = time.perf_counter()
    kw = {} if groups == "default" else {"groups": "all"}
    mfe = MFE(random_state=0, **kw)
    mfe.fit(Xv, yv, cat_cols=cat_idx, suppress_warnings=True)
    names, vals = mfe.extract(suppress_warnings=True)
    secs = time.perf_counter() - t
    return {
        "seconds": secs,
        "values": {
            n: (None if v is None or not np.isfinite(v) else float(v))
            for n, v in zip(names, np.asarray(vals, dtype=float))
        },
        "peak_mb": _rss_mb() - rss0,
    }


def run_sub(tool: str, groups: str, name: str, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", tool, groups, name]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        p = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    if p.returncode != 0:
        return {
            "status": "error",
            "error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else str(p.returncode),
        }
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["status"] = "ok"
    return out


def agreement(ours: dict, theirs: dict) -> tuple[int, int, list[str]]:
    n_cmp, n_ok, bad = 0, 0, []
    for a, b in SHARED.items():
        va, vb = ours.get(a), theirs.get(b)
        if va is None or vb is None:
            continue
        n_cmp += 1
        rel = abs(va - vb) / max(abs(va), abs(vb), 1e-12)
        if rel <= 1e-3:
            n_ok += 1
        else:
            bad.append(f"{a}({rel:.2g})")
    return n_cmp, n_ok, bad


def _markdown(df: pd.DataFrame) -> str:
    """Markdown table without the optional ``tabulate`` dependency."""
    cells = [
        [("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for v in r]
        for r in df.itertuples(index=False)
    ]
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    return "\n".join([head, sep] + ["| " + " | ".join(r) + " |" for r in cells])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--all-corpus",
        action="store_true",
        help="also run ours (all groups) on every corpus dataset",
    )
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    args = ap.parse_args()
    man = pd.read_csv(CORPUS / "manifest.csv").set_index("name")
    rows = []
    bad_all: dict[str, list[str]] = {}
    for name in args.datasets:
        r = man.loc[name]
        o_def = run_sub("ours", "default", name, 300)
        o_all = run_sub("ours", "all", name, 300)
        p_def = run_sub("pymfe", "default", name, PYMFE_TIMEOUT)
        row = {
            "dataset": name,
            "task": r.task,
            "rows": int(r.n_rows),
            "features": int(r.n_features),
            "categorical": 0 if pd.isna(r.categorical) else len(str(r.categorical).split(";")),
        }
        for tag, res in (("ours_default", o_def), ("ours_all", o_all), ("pymfe_default", p_def)):
            ok = res["status"] == "ok"
            row[f"{tag}_s"] = round(res["seconds"], 3) if ok else res["status"]
            row[f"{tag}_values"] = len(res["values"]) if ok else None
            row[f"{tag}_nan"] = sum(v is None for v in res["values"].values()) if ok else None
            row[f"{tag}_peak_mb"] = round(res["peak_mb"], 1) if ok else None
        row["sampled"] = o_all.get("sampled")
        if o_def["status"] == "ok" and p_def["status"] == "ok":
            row["speedup_default"] = round(p_def["seconds"] / o_def["seconds"], 1)
            if row["categorical"] == 0:
                n_cmp, n_ok, bad = agreement(o_def["values"], p_def["values"])
                row["agree"] = f"{n_ok}/{n_cmp}"
                bad_all[name] = bad
        elif o_def["status"] == "ok" and p_def["status"] == "timeout":
            row["speedup_default"] = f">{PYMFE_TIMEOUT / o_def['seconds']:.0f}"
        rows.append(row)
        print(
            {
                k: row.get(k)
                for k in (
                    "dataset",
                    "rows",
                    "features",
                    "ours_default_s",
                    "ours_all_s",
                    "pymfe_default_s",
                    "speedup_default",
                    "agree",
                )
            },
            flush=True,
        )
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "metafeatures_vs_pymfe.csv", index=False)
    sp = pd.to_numeric(df["speedup_default"].astype(str).str.lstrip(">"), errors="coerce")
    lines = [
        "# metafeatures vs pymfe",
        "",
        (
            f"Machine: {os.cpu_count()} CPUs (shared); Python {sys.version.split()[0]}; pymfe timeout {PYMFE_TIMEOUT}s;"
            " times are extraction wall-clock seconds in a fresh process (data loading excluded)."
        ),
        "",
        (
            f"- default groups: median speedup {np.nanmedian(sp):.1f}x (timeouts counted at the timeout), "
            f"min {np.nanmin(sp):.1f}x, datasets where ours is slower: {int((sp < 1).sum())}"
        ),
        f"- all groups (ours): max {pd.to_numeric(df['ours_all_s'], errors='coerce').max():.2f}s",
        f"- peak memory (ours, tracemalloc): max {df['ours_all_peak_mb'].max():.0f} MiB",
        "",
        _markdown(df),
        "",
        "## Disagreements with pymfe on shared definitions (relative difference > 1e-3)",
        "",
    ]
    for name, bad in bad_all.items():
        if bad:
            lines.append(f"- **{name}**: " + ", ".join(bad))
    lines += ["", "Known reasons:", ""] + [f"- `{k}`: {v}" for k, v in KNOWN.items()]
    if args.all_corpus:
        sys.path.insert(0, str(ROOT))
        import metafeatures

        allrows = []
        for name, r in man.iterrows():
            X, y, task, cat = load(name)
            t = time.perf_counter()
            s, info = metafeatures.extract(
                X, y, task=task, categorical=cat, groups="all", return_info=True
            )
            allrows.append(
                {
                    "dataset": name,
                    "rows": len(X),
                    "features": X.shape[1],
                    "seconds": round(time.perf_counter() - t, 3),
                    "values": len(s),
                    "nan": int(s.isna().sum()),
                    "sampled": info["sampled"],
                    "n_rows_sampled": info["n_rows_sampled"],
                }
            )
            print(allrows[-1], flush=True)
        ad = pd.DataFrame(allrows)
        ad.to_csv(RESULTS / "metafeatures_all_corpus.csv", index=False)
        lines += [
            "",
            "## Ours, all groups, every corpus dataset",
            "",
            (
                f"{len(ad)} datasets, all finished; max {ad.seconds.max():.2f}s ({ad.loc[ad.seconds.idxmax(), 'dataset']}), "
                f"median {ad.seconds.median():.2f}s; {int(ad.sampled.sum())} subsampled to max_rows rows for sampled measures."
            ),
        ]
    (RESULTS / "metafeatures_vs_pymfe.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
