"""Latency of ``autometa.recommend`` on the shipped knowledge base (issue 5: median <= 2 s
on a 10,000 x 100 table, meta-feature extraction included), plus an end-to-end check on
scikit-learn's breast cancer, wine and diabetes tables.

Writes ``benchmarks/results/recommend_latency.md`` and ``.csv``.

With ``--probe-budgets``, ``recommend(..., probe=True, probe_budget=B)`` is also timed on
every table: the seconds probing took (probe configurations and the race of the top
recommendations) against ``B`` (issue 20: within 10 %).

Usage::

    python benchmarks/recommend_latency.py              # 7 timed calls per table
    python benchmarks/recommend_latency.py --repeats 3 --probe-budgets 5 20

The meta-model is fitted (or read from the on-disk cache) once before timing: the timed
calls measure what a user sees on every call after the first -- loading the knowledge base
from its in-process cache, extracting meta-features and ranking.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def _tables() -> dict[str, tuple[pd.DataFrame, str]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    rng = np.random.default_rng(0)
    n, p = 10_000, 100
    X = rng.normal(size=(n, p))
    big = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    big["y"] = (X[:, :5].sum(axis=1) + rng.normal(size=n) > 0).astype(int)
    big_reg = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    big_reg["y"] = X[:, :5] @ np.arange(1, 6) + rng.normal(size=n)
    out = {
        "synthetic 10000x100 (classification)": (big, "y"),
        "synthetic 10000x100 (regression)": (big_reg, "y"),
    }
    for name, loader in (
        ("breast_cancer", load_breast_cancer),
        ("wine", load_wine),
        ("diabetes", load_diabetes),
    ):
        out[name] = (loader(as_frame=True).frame, "target")
    return out


def main(argv: list[str] | None = None) -> int:
    import autometa

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--probe-budgets", type=float, nargs="*", default=[], help="probe_budget values to time"
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]

    rows = []
    for name, (frame, target) in _tables().items():
        t0 = time.perf_counter()
        recs = autometa.recommend(frame, target=target, k=5)  # fits or loads the model
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            again = autometa.recommend(frame, target=target, k=5)
            times.append(time.perf_counter() - t0)
        assert [r.config for r in again] == [r.config for r in recs], "not deterministic"
        rows.append(
            {
                "table": name,
                "shape": f"{frame.shape[0]}x{frame.shape[1] - 1}",
                "task": recs.task,
                "first_call_s": first,
                "median_s": statistics.median(times),
                "max_s": max(times),
                "top_pick": recs[0].algorithm,
                "predicted_score": recs[0].predicted_score,
            }
        )
        print(rows[-1], flush=True)
    probing = [
        probe_timing(name, frame, target, budget)
        for budget in args.probe_budgets
        for name, (frame, target) in _tables().items()
    ]
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "recommend_latency.csv", index=False, float_format="%.3f")
    lines = [
        "# recommend() latency on the shipped knowledge base",
        "",
        (
            f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; 1-minute load average before the run: "
            f"{load_before:.2f}"
        ),
        (
            f"- {args.repeats} timed calls per table after one warm-up call (which fits the "
            "meta-model or reads it from the on-disk cache)"
        ),
        "- target: median <= 2 s on 10,000 x 100",
        "",
        "| table | shape | task | first call (s) | median (s) | max (s) | top pick | predicted score |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['table']} | {r['shape']} | {r['task']} | {r['first_call_s']:.2f} | "
            f"{r['median_s']:.2f} | {r['max_s']:.2f} | {r['top_pick']} | {r['predicted_score']:.3f} |"
        )
    big = table[table["table"].str.startswith("synthetic")]["median_s"].max()
    lines += [
        "",
        f"- {'PASS' if big <= 2.0 else 'FAIL'}: median on 10,000 x 100 = {big:.2f} s (<= 2 s)",
    ]
    lines += probing_lines(probing, args.out)
    (args.out / "recommend_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def probe_timing(name: str, frame: pd.DataFrame, target: str, budget: float) -> dict:
    """One ``recommend(..., probe=True)`` call: the seconds its probing took against ``budget``."""
    import autometa

    t0 = time.perf_counter()
    recs = autometa.recommend(frame, target=target, k=5, probe=True, probe_budget=budget)
    total = time.perf_counter() - t0
    probing = recs.timings.get("probes", 0.0) + recs.timings.get("race", 0.0)
    table = recs.probes if recs.probes is not None else pd.DataFrame(columns=["stage", "score"])
    row = {
        "table": name,
        "probe_budget_s": budget,
        "probing_s": probing,
        "overrun": probing / budget - 1.0,
        "call_s": total,
        "probes_measured": int(((table["stage"] == "probe") & table["score"].notna()).sum()),
        "raced_measured": int(((table["stage"] == "race") & table["score"].notna()).sum()),
        "top_pick": recs[0].algorithm,
    }
    print(row, flush=True)
    return row


def probing_lines(probing: list[dict], out: Path) -> list[str]:
    """The probing table (also written as ``recommend_probing.csv``) and its target line."""
    if not probing:
        return []
    frame = pd.DataFrame(probing)
    frame.to_csv(out / "recommend_probing.csv", index=False, float_format="%.3f")
    lines = [
        "",
        "## Probing within probe_budget",
        "",
        (
            "`recommend(..., probe=True, probe_budget=B)`: seconds spent probing (the probe "
            "configurations and the race of the top 5) against B; one call per table and budget."
        ),
        "",
        (
            "| table | budget (s) | probing (s) | overrun | whole call (s) | probes measured | "
            "raced measured | top pick |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in probing:
        lines.append(
            f"| {r['table']} | {r['probe_budget_s']:g} | {r['probing_s']:.2f} | "
            f"{r['overrun']:+.1%} | {r['call_s']:.2f} | {r['probes_measured']} | "
            f"{r['raced_measured']} | {r['top_pick']} |"
        )
    worst = float(frame["overrun"].max())
    lines += [
        "",
        (
            f"- {'PASS' if worst <= 0.10 else 'FAIL'}: probing within its budget + 10 % "
            f"(worst overrun {worst:+.1%})"
        ),
    ]
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
