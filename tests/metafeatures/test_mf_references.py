"""Agreement with OpenML's stored qualities (anneal) and with pymfe on shared definitions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metafeatures as mf


def _read_arff(path: Path) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Minimal ARFF reader: numeric and nominal attributes, '?' = missing."""
    names, nominal = [], {}
    rows = []
    in_data = False
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if in_data:
            rows.append([v.strip().strip("'\"") for v in line.split(",")])
        elif line.lower().startswith("@attribute"):
            m = re.match(r"@attribute\s+('[^']*'|\S+)\s+(.*)", line, re.IGNORECASE)
            name, typ = m.group(1).strip("'"), m.group(2).strip()
            names.append(name)
            if typ.startswith("{"):
                nominal[name] = [v.strip().strip("'\"") for v in typ.strip("{}").split(",")]
        elif line.lower().startswith("@data"):
            in_data = True
    df = pd.DataFrame(rows, columns=names).replace("?", np.nan)
    for c in names:
        if c not in nominal:
            df[c] = pd.to_numeric(df[c])
    return df, nominal


def test_anneal_matches_openml_qualities(shared_dir: Path) -> None:
    d = shared_dir / "openml_cache" / "org" / "openml" / "test" / "datasets" / "2"
    if not (d / "dataset.arff").exists():
        pytest.skip("OpenML anneal cache not present")
    df, nominal = _read_arff(d / "dataset.arff")
    q = dict(
        re.findall(
            r"<oml:name>(.*?)</oml:name>\s*<oml:value>(.*?)</oml:value>",
            (d / "qualities.xml").read_text(),
        )
    )
    q = {k: float(v) for k, v in q.items()}
    X, y = df.drop(columns="class"), df["class"]
    cat = [c for c in X.columns if c in nominal]
    s = mf.extract(X, y, categorical=cat, groups=["general"])
    assert s["general.n_instances"] == q["NumberOfInstances"]
    # OpenML's NumberOfFeatures counts the target; its symbolic/numeric counts do not here
    assert s["general.n_features"] == q["NumberOfFeatures"] - 1
    assert s["general.n_categorical"] == q["NumberOfSymbolicFeatures"]
    assert s["general.n_numeric"] == q["NumberOfNumericFeatures"]
    assert s["general.n_missing"] == q["NumberOfMissingValues"]
    assert s["general.n_instances_with_missing"] == q["NumberOfInstancesWithMissingValues"]
    assert s["general.pct_missing"] == pytest.approx(q["PercentageOfMissingValues"], rel=1e-9) or s[
        "general.pct_missing"
    ] == pytest.approx(100 * q["NumberOfMissingValues"] / (898 * 38))
    assert s["general.pct_numeric"] == pytest.approx(100 * q["NumberOfNumericFeatures"] / 38)
    assert s["general.majority_class_size"] == q["MajorityClassSize"]
    # OpenML counts declared classes, one of which ('4'... here) has no rows:
    declared = nominal["class"]
    empty = sum((y == c).sum() == 0 for c in declared)
    assert s["general.n_classes"] == q["NumberOfClasses"] - empty
    assert q["MinorityClassSize"] == 0 and empty == 1
    assert s["general.minority_class_size"] == y.value_counts().min()
    assert s["general.attr_to_inst"] == pytest.approx(
        (q["NumberOfFeatures"] - 1) / q["NumberOfInstances"]
    )


def test_agreement_with_pymfe_on_shared_definitions() -> None:
    pytest.importorskip("pymfe")
    import warnings

    from pymfe.mfe import MFE

    rng = np.random.default_rng(0)
    n = 300
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.exponential(size=n) + 0.1,
            rng.uniform(1, 5, n),
            rng.normal(size=n) * 3 + 1,
            rng.integers(0, 2, n).astype(float),
        ]
    )
    y = (X[:, 0] + 0.5 * X[:, 3] + rng.normal(size=n) > 0.5).astype(int) + (X[:, 2] > 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfe = MFE(groups=["general", "statistical", "info-theory", "model-based"], random_state=0)
        mfe.fit(X, y, suppress_warnings=True)
        names, vals = mfe.extract(suppress_warnings=True)
    theirs = dict(zip(names, vals))
    ours = mf.extract(X, y)
    shared = {
        "general.n_instances": "nr_inst",
        "general.n_binary": "nr_bin",
        "general.freq_class.sd": "freq_class.sd",
        "statistical.nr_outliers": "nr_outliers",
        "statistical.gravity": "gravity",
        "statistical.nr_cor_attr": "nr_cor_attr",
        "statistical.can_cor.mean": "can_cor.mean",
        "statistical.w_lambda": "w_lambda",
        "info_theory.class_ent": "class_ent",
        "info_theory.eq_num_attr": "eq_num_attr",
        "info_theory.ns_ratio": "ns_ratio",
        "model_based.leaves": "leaves",
        "model_based.nodes": "nodes",
    }
    for s in ("mean", "sd"):
        for f in (
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
            "skewness",
            "kurtosis",
            "sparsity",
            "cor",
            "cov",
            "eigenvalues",
            "attr_ent",
            "joint_ent",
            "mut_inf",
            "class_conc",
            "attr_conc",
            "tree_depth",
            "leaves_branch",
            "leaves_corrob",
            "var_importance",
            "nodes_repeated",
            "tree_shape",
            "leaves_homo",
            "leaves_per_class",
            "tree_imbalance",
        ):
            shared[f"{f}.{s}" if False else _ours_name(f, s)] = f"{f}.{s}"
    bad = {
        a: (ours[a], theirs[b])
        for a, b in shared.items()
        if not np.isclose(ours[a], theirs[b], rtol=1e-3, atol=1e-9)
    }
    assert not bad, bad


def _ours_name(f: str, s: str) -> str:
    group = (
        "info_theory"
        if f in ("attr_ent", "joint_ent", "mut_inf", "class_conc", "attr_conc")
        else "model_based"
        if f.startswith(("tree", "leaves", "nodes", "var_imp"))
        else "statistical"
    )
    return f"{group}.{f}.{s}"
