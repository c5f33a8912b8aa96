"""Real few-shot episodes from the PMLB classification corpus.

Tables are read once (``NAME.tsv.gz``, label in the last column ``target``), subsampled to
at most ``max_rows`` rows, and kept as float32 arrays.  Two kinds of episodes:

* **k-shot**: ``k`` labelled rows per class as context (or an imbalanced support whose
  class sizes follow the natural class ratio), query rows drawn from the rest at the
  natural class ratio;
* **predict a random column** (training only): a column with 2-10 distinct values (or a
  numeric column cut at its quantiles) becomes the label, the original label a feature.

No torch here: the benchmark and the baselines use the numpy episodes directly;
:func:`real_batch` returns numpy arrays that training moves to the device.
``python -m autometa.fewshot.episodes pack --split train --out F.npz`` writes a compact
copy of a split (for a GPU machine that cannot see the corpus).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[3] / "shared" / "corpus" / "pmlb" / "classification"
)


@dataclass
class Table:
    """One classification table: ``X`` (n, F) float32 with NaN, ``y`` (n,) int64 in 0..C-1."""

    name: str
    X: np.ndarray
    y: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1


def read_table(path: str | Path, max_rows: int | None = 2000, seed: int = 0) -> Table:
    """Read one PMLB ``.tsv.gz`` into a :class:`Table` (label encoded, rows subsampled)."""
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, sep="\t")
    target = "target" if "target" in df.columns else df.columns[-1]
    y_raw = df.pop(target).to_numpy()
    X = df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    _, y = np.unique(y_raw, return_inverse=True)
    if max_rows is not None and len(y) > max_rows:
        rng = np.random.default_rng(seed)
        # Keep every class represented: a few rows of each, the rest at random.
        keep = set()
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            keep.update(rng.choice(idx, size=min(len(idx), 60), replace=False).tolist())
        rest = np.setdiff1d(np.arange(len(y)), np.fromiter(keep, int))
        n_more = max(0, max_rows - len(keep))
        keep = np.sort(
            np.concatenate([np.fromiter(keep, int), rng.choice(rest, n_more, replace=False)])
        )
        X, y = X[keep], y[keep]
        _, y = np.unique(y, return_inverse=True)
    name = path.name[: -len(".tsv.gz")] if path.name.endswith(".tsv.gz") else path.stem
    return Table(name, X, y.astype(np.int64))


def load_tables(
    names: list[str],
    corpus: str | Path | None = None,
    max_rows: int | None = 2000,
    packed: str | Path | None = None,
) -> dict[str, Table]:
    """Tables for ``names`` from the corpus directory or from a packed ``.npz``."""
    if packed is not None:
        data = np.load(packed, allow_pickle=False)
        have = set(json.loads(str(data["__names__"])))
        missing = [n for n in names if n not in have]
        if missing:
            raise FileNotFoundError(f"{packed} lacks tables {missing[:5]}")
        return {n: Table(n, data[f"{n}__X"], data[f"{n}__y"]) for n in names}
    corpus = Path(corpus) if corpus is not None else DEFAULT_CORPUS
    return {n: read_table(corpus / f"{n}.tsv.gz", max_rows=max_rows) for n in names}


def pack_tables(tables: dict[str, Table], out: str | Path) -> Path:
    """Write tables to one compressed ``.npz`` (no pickles)."""
    arrays = {"__names__": np.array(json.dumps(sorted(tables)))}
    for n, t in tables.items():
        arrays[f"{n}__X"] = t.X
        arrays[f"{n}__y"] = t.y
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return out


@dataclass
class Episode:
    """One episode: support ``(X_ctx, y_ctx)``, query ``(X_qry, y_qry)``; labels 0..C-1."""

    X_ctx: np.ndarray
    y_ctx: np.ndarray
    X_qry: np.ndarray
    y_qry: np.ndarray
    classes: np.ndarray  # original class ids kept in this episode


def eligible_classes(y: np.ndarray, k: int, min_query: int = 1) -> np.ndarray:
    """Classes with at least ``k + min_query`` rows."""
    counts = np.bincount(y)
    return np.flatnonzero(counts >= k + min_query)


def support_sizes(counts: np.ndarray, k: int, imbalanced: bool) -> np.ndarray:
    """Rows per class in the support: ``k`` each, or (imbalanced) ``k*C`` in total split by
    the natural class ratio, at least one per class and leaving one for the query."""
    if not imbalanced:
        return np.full(len(counts), k)
    share = counts / counts.sum()
    sizes = np.maximum(1, np.round(share * k * len(counts))).astype(int)
    return np.minimum(sizes, counts - 1)


def sample_episode(
    table: Table,
    k: int,
    rng: np.random.Generator,
    *,
    n_query: int = 200,
    imbalanced: bool = False,
    max_classes: int | None = None,
) -> Episode | None:
    """A k-shot episode from ``table`` (``None`` when fewer than two classes have enough rows).

    Query rows are drawn from the rows not in the support, uniformly, so the query keeps the
    natural class ratio of the eligible classes.
    """
    classes = eligible_classes(table.y, k)
    if len(classes) < 2:
        return None
    if max_classes is not None and len(classes) > max_classes:
        classes = np.sort(rng.choice(classes, max_classes, replace=False))
    counts = np.bincount(table.y)[classes]
    sizes = support_sizes(counts, k, imbalanced)
    ctx, pool = [], []
    for c, s in zip(classes, sizes):
        idx = rng.permutation(np.flatnonzero(table.y == c))
        ctx.append(idx[:s])
        pool.append(idx[s:])
    ctx = np.concatenate(ctx)
    pool = np.concatenate(pool)
    qry = rng.choice(pool, size=min(n_query, len(pool)), replace=False)
    remap = np.full(table.y.max() + 1, -1)
    remap[classes] = np.arange(len(classes))
    ctx = rng.permutation(ctx)
    return Episode(table.X[ctx], remap[table.y[ctx]], table.X[qry], remap[table.y[qry]], classes)


def column_task(table: Table, rng: np.random.Generator, max_classes: int = 10) -> Table | None:
    """Turn a random column into the label (the old label becomes a feature)."""
    X = table.X
    for j in rng.permutation(X.shape[1])[:8]:
        col = X[:, j]
        ok = ~np.isnan(col)
        if ok.mean() < 0.9:
            continue
        vals = np.unique(col[ok])
        if 2 <= len(vals) <= max_classes:
            y = np.searchsorted(vals, col[ok])
        elif len(vals) > max_classes:
            n_bins = int(rng.integers(2, 5))
            edges = np.quantile(col[ok], np.linspace(0, 1, n_bins + 1)[1:-1])
            y = np.searchsorted(edges, col[ok], side="right")
        else:
            continue
        _, y = np.unique(y, return_inverse=True)
        if y.max() < 1:
            continue
        feats = np.column_stack([np.delete(X[ok], j, axis=1), table.y[ok].astype(np.float32)])
        return Table(f"{table.name}[col{j}]", feats.astype(np.float32), y.astype(np.int64))
    return None


def real_batch(
    tables: dict[str, Table],
    rng: np.random.Generator,
    batch_size: int,
    *,
    max_features: int = 64,
    max_classes: int = 10,
    n_query: int = 64,
    p_column_task: float = 0.3,
    p_imbalanced: float = 0.3,
    max_k: int = 50,
) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """A training batch of k-shot episodes from one random table (shared shapes).

    Returns
    -------
    x : ndarray of shape (B, n_ctx + n_qry, F), float32
    y : ndarray of shape (B, n_ctx + n_qry), int64 (context rows first)
    n_ctx : int
    n_classes : int
    or ``None`` when the drawn table cannot give an episode (the caller draws again).
    """
    name = list(tables)[int(rng.integers(len(tables)))]
    table = tables[name]
    if rng.random() < p_column_task:
        table = column_task(table, rng, max_classes) or table
    k = int(np.clip(np.round(np.exp(rng.uniform(0, np.log(max_k)))), 1, max_k))
    classes = eligible_classes(table.y, k, min_query=2)
    if len(classes) < 2:
        return None
    C = int(min(len(classes), max_classes, rng.integers(2, max_classes + 1)))
    classes = np.sort(rng.choice(classes, C, replace=False))
    counts = np.bincount(table.y)[classes]
    imbalanced = rng.random() < p_imbalanced
    sizes = support_sizes(counts, k, imbalanced)
    n_ctx = int(sizes.sum())
    pool_n = int(counts.sum()) - n_ctx
    n_q = int(min(n_query, pool_n))
    if n_q < 1:
        return None
    Fd = table.X.shape[1]
    n_f = min(Fd, max_features)
    mask = np.isin(table.y, classes)
    sub = Table(table.name, table.X[mask], np.searchsorted(classes, table.y[mask]))
    xs, ys = [], []
    for _ in range(batch_size):
        ep = sample_episode(sub, k, rng, n_query=n_q, imbalanced=imbalanced)
        if ep is None or len(ep.y_ctx) != n_ctx or len(ep.y_qry) != n_q:
            return None
        cols = np.sort(rng.choice(Fd, n_f, replace=False))
        xs.append(np.concatenate([ep.X_ctx, ep.X_qry])[:, cols])
        ys.append(np.concatenate([ep.y_ctx, ep.y_qry]))
    return np.stack(xs).astype(np.float32), np.stack(ys), n_ctx, C


def main(argv: list[str] | None = None) -> None:
    """``python -m autometa.fewshot.episodes pack --split train [--split val] --out F.npz``."""
    import argparse

    from autometa.fewshot.split import load_split

    p = argparse.ArgumentParser(prog="python -m autometa.fewshot.episodes")
    p.add_argument("command", choices=["pack"])
    p.add_argument("--split", action="append", default=None, help="train/val/test (repeatable)")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--split-file", default=None)
    p.add_argument("--max-rows", type=int, default=2000)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    split = load_split(a.split_file)
    names = [n for s in (a.split or ["train"]) for n in split[s]]
    tables = load_tables(names, a.corpus, a.max_rows)
    out = pack_tables(tables, a.out)
    print(f"packed {len(tables)} tables into {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
