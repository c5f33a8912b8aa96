"""Fault injection: kill -9 a small batch run and a tune study at random moments, resume
each time, and count what was lost, duplicated or left partial.

* **batch**: ``autometa batch`` of a few small tables made in code (12 configs, 2-fold CV)
  is started, killed with SIGKILL (its whole process group: runner, workers, evaluation
  children) after a random delay, and started again, until it finishes. The journal and the
  knowledge base are then compared with a run that was never killed:
  lost = cells of the reference missing, duplicated = (dataset, config, size, fold) records
  written twice, partial = cells without all their folds, mismatched = cells whose score
  differs from the reference.
* **tune**: ``autometa.tune`` with a journal or SQLite storage, killed and resumed the same
  way until the study holds ``n_trials`` finished trials: duplicated = configurations
  evaluated twice, missing = fewer finished trials than asked, extra = more.

Prints a table and writes ``benchmarks/results/fault_injection.csv`` and ``.md``.

Usage::

    python benchmarks/fault_injection.py --kills 50            # both scenarios
    python benchmarks/fault_injection.py --scenarios batch --kills 30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from autometa._testing import write_toy_suite

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = 12


def _start(script: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_cycles(
    script: str, kills: int, rng: np.random.Generator, low: float, high: float
) -> tuple[int, int]:
    """Run ``script`` until it exits 0, killing its process group up to ``kills`` times."""
    done_kills = starts = 0
    while True:
        process = _start(script)
        starts += 1
        if done_kills < kills:
            deadline = time.monotonic() + rng.uniform(low, high)
            while time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.02)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                done_kills += 1
                continue
        if process.wait() == 0:
            return done_kills, starts
        if starts > 4 * kills + 10:
            raise RuntimeError("the run keeps failing after resumes")


def _journal_records(kb_dir: Path) -> list[dict]:
    records = []
    for path in sorted((kb_dir / "journal").glob("*.jsonl")):
        for line in path.read_bytes().split(b"\n"):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a truncated last line of a killed writer
            if record.get("kind") == "evaluation":
                cell = {k: v for k, v in record.items() if k not in ("kind", "folds")}
                records.extend({**cell, **fold} for fold in record["folds"])
    return records


def batch_scenario(kills: int, seed: int, work: Path) -> dict:
    from autometa.kb import KnowledgeBase

    suite = write_toy_suite(work / "suite", n_datasets=3, n_rows=150)
    script = textwrap.dedent(f"""
        from autometa import batch
        batch.run({f"dir:{suite}"!r}, {{kb!r}}, configs={CONFIGS}, cv=2, n_jobs=2,
                  time_limit=60, progress=False)
    """)
    reference = work / "reference"
    subprocess.run([sys.executable, "-c", script.format(kb=str(reference))], check=True)
    killed = work / "killed"
    t0 = time.perf_counter()
    n_kills, starts = _kill_cycles(
        script.format(kb=str(killed)), kills, np.random.default_rng(seed), 1.5, 6.0
    )
    seconds = time.perf_counter() - t0
    keys = [
        (r["dataset"], r["config_id"], r.get("n_rows_used"), r["fold"])
        for r in _journal_records(killed)
    ]
    ref, got = KnowledgeBase.load(reference), KnowledgeBase.load(killed)
    lost = partial = mismatched = 0
    for task in ref.tasks:
        metric = "balanced_accuracy" if task == "classification" else "r2"
        a, b = ref.performance(task, metric), got.performance(task, metric)
        b = b.reindex(index=a.index, columns=a.columns)
        lost += int((a.notna() & b.isna()).to_numpy().sum())
        mismatched += int((np.abs(a - b) > 1e-9).to_numpy().sum())
        partial += int((got.status_matrix(task) == "partial").to_numpy().sum())
    return {
        "scenario": "batch",
        "kills": n_kills,
        "starts": starts,
        "expected": sum(ref.summary(t)["n_results"] for t in ref.tasks),
        "recorded": len(set(keys)),
        "lost": lost,
        "duplicated": len(keys) - len(set(keys)),
        "partial": partial,
        "mismatched": mismatched,
        "seconds": round(seconds, 1),
    }


def tune_scenario(kills: int, seed: int, work: Path, storage_kind: str, n_trials: int = 12) -> dict:
    import optuna

    rng = np.random.default_rng(seed)
    n = 200
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    X.assign(y=(X["a"] + X["b"] > 0).astype(int)).to_csv(work / "tune.csv", index=False)
    storage = (
        f"journal:{work / 'tune.log'}"
        if storage_kind == "journal"
        else f"sqlite:///{work / 'tune.db'}"
    )
    script = textwrap.dedent(f"""
        import autometa
        autometa.tune({str(work / "tune.csv")!r}, target="y", n_trials={n_trials},
                      n_warm_start=0, cv=2, storage={storage!r}, study_name="faults",
                      time_limit=30, random_state=0)
    """)
    t0 = time.perf_counter()
    n_kills, starts = _kill_cycles(script, kills, np.random.default_rng(seed + 1), 2.0, 7.0)
    seconds = time.perf_counter() - t0
    from autometa.tuning import make_storage

    study = optuna.load_study(study_name="faults", storage=make_storage(storage))
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    configs = [json.dumps(t.user_attrs.get("config"), sort_keys=True) for t in finished]
    return {
        "scenario": f"tune ({storage_kind})",
        "kills": n_kills,
        "starts": starts,
        "expected": n_trials,
        "recorded": len(finished),
        "lost": max(0, n_trials - len(finished)),
        "duplicated": len(configs) - len(set(configs)),
        "partial": sum(t.state == optuna.trial.TrialState.RUNNING for t in study.trials),
        "mismatched": max(0, len(finished) - n_trials),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="kills per scenario")
    parser.add_argument("--scenarios", nargs="+", default=["batch", "tune-journal", "tune-sqlite"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    for scenario in args.scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            if scenario == "batch":
                row = batch_scenario(args.kills, args.seed, Path(tmp))
            else:
                row = tune_scenario(args.kills, args.seed, Path(tmp), scenario.split("-", 1)[1])
        print(row, flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "fault_injection.csv", index=False)
    header = "| " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in table.itertuples(index=False)]
    (args.out / "fault_injection.md").write_text(
        "# Fault injection (kill -9 and resume)\n\n"
        f"`python benchmarks/fault_injection.py --kills {args.kills}`; target: 0 lost, "
        "0 duplicated, 0 partial, 0 mismatched.\n\n" + "\n".join(lines) + "\n"
    )
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
