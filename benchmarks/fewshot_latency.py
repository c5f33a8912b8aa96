"""Few-shot inference time: CPU milliseconds per episode of the shipped weights.

One episode is what ``benchmarks/fewshot.py`` times: ``FewShotClassifier.fit`` on the support
rows and ``predict_proba`` on the query rows, on one torch thread (the issue's target is
<= 50 ms per episode on the CPU). Tables of random numbers (the time does not depend on the
values) with 8, 30 and 60 features, two classes of 5 and of 20 support rows (the network's
own head and, above 5 rows per class, the linear head with its forest) and 200 query rows,
for each weights file and ensemble setting; the median of ``--repeats`` runs after one warm-up.

    python benchmarks/fewshot_latency.py --models protonet_tiny,protonet_S

Writes ``benchmarks/results/fewshot_latency.{csv,md}``. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def episode_ms(
    model, n_features: int, n_ensemble: int | str, repeats: int, k: int = 5, seed: int = 0
) -> tuple[float, int]:
    """Median milliseconds of fit + predict_proba on one episode (two classes of ``k``
    support rows, 200 query rows) and the ensemble members that used."""
    from autometa.fewshot import FewShotClassifier

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2 * k + 200, n_features))
    y_support = np.repeat([0, 1], k)
    clf = FewShotClassifier(model=model, n_ensemble=n_ensemble, device="cpu", random_state=seed)
    times = []
    for _ in range(repeats + 1):  # the first run warms up
        start = time.perf_counter()
        clf.fit(X[: 2 * k], y_support).predict_proba(X[2 * k :])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[1:])), clf.n_ensemble_


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", type=Path, default=ROOT / "data" / "fewshot" / "weights")
    p.add_argument("--models", default="protonet_tiny,protonet_S")
    p.add_argument("--features", default="8,30,60")
    p.add_argument("--ensembles", default="auto,4,1", help='members: ints or "auto" (the default)')
    p.add_argument("--k", default="5,20", help="support rows per class")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=Path, default=RESULTS / "fewshot_latency")
    args = p.parse_args(argv)

    import torch

    from autometa.fewshot._weights import load_weights
    from autometa.fewshot.classifier import head_for, regime_of

    torch.set_num_threads(1)
    rows = []
    for name in [m for m in args.models.split(",") if m]:
        model = load_weights(args.weights / f"{name}.pt")[0]
        grid = itertools.product(
            (int(v) for v in args.k.split(",")),
            (int(v) for v in args.features.split(",")),
            (v if v == "auto" else int(v) for v in args.ensembles.split(",")),
        )
        for k, n_features, n_ensemble in grid:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ms, used = episode_ms(model, n_features, n_ensemble, args.repeats, k)
            rows.append(
                {
                    "model": name,
                    "k": k,
                    "head": head_for("auto", model, regime_of(2 * k, 2)),
                    "features": n_features,
                    "n_ensemble": n_ensemble,
                    "members": used,
                    "ms_per_episode": round(ms, 1),
                    "within_50ms": ms <= 50,
                }
            )
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    header = (
        "# Few-shot inference: ms per episode (2 classes of k support rows + 200 query rows,"
        " one thread)\n\n"
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"median of {args.repeats} runs.\n\n"
    )
    lines = [
        "| model | k | head | features | n_ensemble | members | ms per episode | <= 50 ms |",
        "|---|---:|---|---:|---|---:|---:|---|",
    ]
    lines += [
        f"| {r.model} | {r.k} | {r.head} | {r.features} | {r.n_ensemble} | {r.members} | "
        f"{r.ms_per_episode:.1f} | "
        f"{'yes' if r.within_50ms else 'no'} |"
        for r in table.itertuples()
    ]
    text = header + "\n".join(lines) + "\n"
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return table


if __name__ == "__main__":
    main()
