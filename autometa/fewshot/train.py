"""Meta-training of the few-shot learners.

Each step draws one batch of episodes, from the synthetic prior (:mod:`.prior`) with
probability ``1 - p_real`` and otherwise real k-shot / predict-a-column episodes from the
meta-train split (:mod:`.episodes`), and takes one AdamW step on the query cross-entropy
(MAML: through the inner loop; Reptile: see :mod:`._maml`).  Bounded by minutes (CPU time
on the CPU, wall time on a GPU) and/or steps; bf16 autocast on CUDA; a checkpoint every ``checkpoint_every`` steps from
which a rerun with the same ``out`` resumes; a CSV loss log; final weights written with
:func:`autometa.fewshot._weights.save_weights`.

Command line (see ``data/fewshot/README.md`` for the shipped runs)::

    python -m autometa.fewshot.train --device cuda --minutes 6 --method pfn --size S \
        --out data/fewshot/weights
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._io import write_atomic
from autometa.fewshot._weights import build_model, load_weights, save_weights, size_config
from autometa.fewshot.episodes import DEFAULT_CORPUS, load_tables, real_batch
from autometa.fewshot.prior import PRIOR_WEIGHTS, sample_prior_batch
from autometa.fewshot.split import load_split


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch.cuda.is_available() is False")
    return dev


#: Curriculum: episode caps start here and grow (log-linearly) to the run's maxima over the
#: first ``CURRICULUM_FRACTION`` of the budget.
CURRICULUM_START = {"max_features": 8, "max_classes": 3, "max_k": 5}
CURRICULUM_FRACTION = 0.5


def curriculum_caps(
    frac: float, max_features: int, max_classes: int, max_k: int
) -> tuple[int, int, int]:
    """Episode caps (features, classes, rows per class) at ``frac`` of the budget.

    Small tables first: a CPU step on small episodes is cheap, so the model sees many
    simple tasks early and the large ones once it has learnt the basics.
    """
    t = min(1.0, max(0.0, frac) / CURRICULUM_FRACTION)

    def grow(start: int, end: int) -> int:
        start = min(start, end)
        return round(math.exp(math.log(start) + t * (math.log(end) - math.log(start))))

    return (
        grow(CURRICULUM_START["max_features"], max_features),
        max(2, grow(CURRICULUM_START["max_classes"], max_classes)),
        grow(CURRICULUM_START["max_k"], max_k),
    )


#: Default bound on ``episodes x (features + 1) x rows^2`` per step: the rows-attention maps
#: a step keeps for the backward pass grow with the square of the episode's rows. Without
#: it, a batch of large real episodes (500 context rows, 64 features) took a 2-core
#: machine's 24 GB (an out-of-memory kill of the first CPU stretch's pfn S run).
MAX_ATTENTION_CELLS = 20_000_000


def episodes_within(batch: int, n_rows: int, n_features: int, max_cells: int | None) -> int:
    """How many of ``batch`` episodes of ``n_rows`` x ``n_features`` fit in ``max_cells``
    (0: not even one; ``max_cells=None``: no bound)."""
    if max_cells is None:
        return batch
    return min(batch, max_cells // ((n_features + 1) * n_rows * n_rows))


def _episode_shape(rng: np.random.Generator, max_features: int, max_classes: int, max_k: int):
    C = 2 if rng.random() < 0.5 or max_classes < 3 else int(rng.integers(3, max_classes + 1))
    k = int(np.clip(np.round(np.exp(rng.uniform(0, math.log(max_k)))), 1, max_k))
    n_ctx = max(C, round(k * C * rng.uniform(0.7, 1.3)))
    Fd = int(np.clip(np.round(np.exp(rng.uniform(0, math.log(max_features)))), 1, max_features))
    return C, n_ctx, Fd


def _lr_at(frac: float, lr: float, warmup: float = 0.05) -> float:
    if frac < warmup:
        return lr * max(frac / warmup, 0.01)
    return lr * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warmup) / (1 - warmup))))
    )


def train(
    method: str = "pfn",
    size: str = "S",
    *,
    out: str | Path = "data/fewshot/weights",
    device: str = "auto",
    minutes: float | None = 5.0,
    max_steps: int | None = None,
    batch_size: int = 32,
    tokens_per_batch: int = 400_000,
    n_query: int = 64,
    lr: float = 3e-4,
    weight_decay: float = 0.01,
    p_real: float = 0.3,
    prior_weights: dict[str, float] | None = None,
    max_features: int = 64,
    max_classes: int = 10,
    max_k: int = 50,
    corpus: str | Path | None = None,
    packed: str | Path | None = None,
    split_file: str | Path | None = None,
    init: str | Path | None = None,
    curriculum: bool = True,
    finetune_frac: float = 0.0,
    snapshot_minutes: float | None = None,
    clock: str = "auto",
    max_attention_cells: int | None = MAX_ATTENTION_CELLS,
    checkpoint_every: int = 200,
    log_every: int = 10,
    amp: bool = True,
    seed: int = 0,
    resume: bool = True,
    name: str | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Meta-train one few-shot model and write its weights.

    Parameters
    ----------
    method : {"pfn", "protonet", "maml", "reptile"}
    size : {"tiny", "S", "M"}
        Named model size (see ``SIZES`` in each model module).
    out : path
        Output directory: ``{name}.pt`` (weights), ``{name}.ckpt`` (resumable checkpoint),
        ``{name}_loss.csv`` and ``{name}_run.json``; ``name`` defaults to ``{method}_{size}``.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    minutes, max_steps : float, int
        Stop at whichever comes first (at least one must be set). The learning-rate schedule
        follows the fraction of the budget used, so a time-bounded run anneals fully.
    batch_size : int
        Episodes per step (reduced for large episodes to keep ``tokens_per_batch``).
    n_query : int
        Query rows per episode.
    p_real : float
        Probability that a step uses real episodes from the meta-train split instead of the prior.
    prior_weights : dict, optional
        Mixture weights of the prior families.
    corpus, packed, split_file : path, optional
        Where the real tables come from (corpus directory or packed ``.npz``) and the split.
    init : path, optional
        Weights file to start from (fine-tuning the shipped model).
    curriculum : bool
        Grow the episode caps from small tables to ``max_features`` / ``max_classes`` /
        ``max_k`` over the first half of the budget (:func:`curriculum_caps`).
    finetune_frac : float
        The last fraction of the budget trains on real meta-train episodes only
        (``p_real = 1``): prior pre-training, then fine-tuning, in one resumable run.
    snapshot_minutes : float, optional
        Also write the weights every this many minutes of training to
        ``{out}/snapshots/{name}_{minutes}min.pt`` (for the quality-per-CPU-minute curve).
    max_attention_cells : int or None
        Bound on ``episodes x (features + 1) x rows^2`` per step (memory of the rows
        attention): a batch over it keeps fewer episodes, an episode over it alone is
        drawn again (:data:`MAX_ATTENTION_CELLS`; ``None``: no bound).
    clock : {"auto", "cpu", "wall"}
        What ``minutes`` (and snapshots, and the log's ``elapsed_s``) count: ``"cpu"`` the
        process's CPU time (all its threads: CPU-minutes, the same whatever else runs on a
        shared machine), ``"wall"`` wall-clock time; ``"auto"``: CPU time on the CPU, wall
        time on a GPU.
    checkpoint_every : int
        Steps between checkpoints (also written at the end).
    amp : bool
        bf16 autocast on CUDA.
    seed : int
    resume : bool
        Continue from ``{out}/{name}.ckpt`` when it exists.

    Returns
    -------
    dict
        Run record (also written to ``{name}_run.json``): steps, time, final loss, paths.

    Examples
    --------
    >>> train("pfn", "tiny", out="/tmp/fs", device="cpu", minutes=None, max_steps=5)  # doctest: +SKIP
    """
    if minutes is None and max_steps is None:
        raise ValueError("set minutes, max_steps or both")
    if clock not in ("auto", "cpu", "wall"):
        raise ValueError(f"clock={clock!r}: use 'auto', 'cpu' or 'wall'")
    if not 0.0 <= finetune_frac <= 1.0:
        raise ValueError(f"finetune_frac={finetune_frac!r} must be between 0 and 1")
    if finetune_frac > 0 and p_real <= 0:
        raise ValueError("finetune_frac > 0 needs real tables: set p_real > 0")
    dev = resolve_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"{method}_{size}"
    ckpt_path, log_path = out / f"{name}.ckpt", out / f"{name}_loss.csv"
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    if init is not None:
        model, _init_meta = load_weights(init, method)
        config = dict(model.config)
    else:
        config = size_config(method, size)
        model = build_model(method, config)
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    step, elapsed0 = 0, 0.0
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed0 = int(ck["step"]), float(ck["elapsed"])
        torch.set_rng_state(ck["torch_rng"])
        if dev.type == "cuda" and "cuda_rng" in ck:
            torch.cuda.set_rng_state(ck["cuda_rng"])
        rng.bit_generator.state = json.loads(ck["numpy_rng"])
        if verbose:
            print(f"[{name}] resumed from {ckpt_path} at step {step} ({elapsed0:.0f}s)")
    elif log_path.exists():
        log_path.unlink()

    tables = {}
    if p_real > 0:
        split = load_split(split_file)
        tables = load_tables(split["train"], corpus or DEFAULT_CORPUS, packed=packed)
    use_amp = amp and dev.type == "cuda"
    budget_s = None if minutes is None else minutes * 60.0

    def frac_done(elapsed: float) -> float:
        fr = []
        if budget_s:
            fr.append(elapsed / budget_s)
        if max_steps:
            fr.append(step / max_steps)
        return max(fr)

    def checkpoint(elapsed: float) -> None:
        ck = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "elapsed": elapsed,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(rng.bit_generator.state),
        }
        if dev.type == "cuda":
            ck["cuda_rng"] = torch.cuda.get_rng_state()
        write_atomic(ckpt_path, lambda tmp: torch.save(ck, tmp))

    new_log = not log_path.exists()
    log_fh = open(log_path, "a", newline="")  # noqa: SIM115 - kept open for the whole loop
    writer = csv.writer(log_fh)
    if new_log:
        writer.writerow(
            [
                "step",
                "elapsed_s",
                "loss",
                "lr",
                "source",
                "batch",
                "n_ctx",
                "n_features",
                "n_classes",
            ]
        )
    if clock == "auto":
        clock = "cpu" if dev.type == "cpu" else "wall"
    now = time.process_time if clock == "cpu" else time.time
    t0, wall0 = now(), time.time()
    next_snapshot = (
        (math.floor(elapsed0 / 60.0 / snapshot_minutes) + 1) * snapshot_minutes
        if snapshot_minutes
        else math.inf
    )
    ema = None
    losses: list[float] = []
    while True:
        elapsed = elapsed0 + now() - t0
        if frac_done(elapsed) >= 1.0:
            break
        frac = frac_done(elapsed)
        lr_now = _lr_at(frac, lr)
        for g in opt.param_groups:
            g["lr"] = lr_now
        caps = (
            curriculum_caps(frac, max_features, max_classes, max_k)
            if curriculum
            else (max_features, max_classes, max_k)
        )
        cap_features, cap_classes, cap_k = caps
        p_real_now = 1.0 if frac >= 1.0 - finetune_frac else p_real
        source = "real" if tables and rng.random() < p_real_now else "prior"
        if source == "real":
            batch = None
            for _ in range(10):
                b = max(
                    2,
                    min(
                        batch_size, tokens_per_batch // ((n_query + 100) * (cap_features // 2 + 1))
                    ),
                )
                batch = real_batch(
                    tables,
                    rng,
                    b,
                    max_features=cap_features,
                    max_classes=cap_classes,
                    n_query=n_query,
                    max_k=cap_k,
                )
                if batch is not None:
                    break
            if batch is None:
                continue
            xb, yb, n_ctx, C = batch
            keep = episodes_within(len(xb), xb.shape[1], xb.shape[2], max_attention_cells)
            if keep < 1:
                continue
            xb, yb = xb[:keep], yb[:keep]
            x = torch.from_numpy(xb).to(dev)
            y = torch.from_numpy(yb).to(dev)
        else:
            C, n_ctx, Fd = _episode_shape(rng, cap_features, cap_classes, cap_k)
            N = n_ctx + n_query
            b = int(max(2, min(batch_size, tokens_per_batch // (N * (Fd + 1)))))
            b = episodes_within(b, N, Fd, max_attention_cells)
            if b < 1:
                continue
            x, y = sample_prior_batch(
                b, N, n_ctx, Fd, C, device=dev, weights=prior_weights or PRIOR_WEIGHTS
            )
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = model.meta_loss(
                x,
                y[:, :n_ctx],
                y[:, n_ctx:],
                C,
                norm="robust" if rng.random() < 0.6 else "quantile",
            )
        if not torch.isfinite(loss):
            opt.zero_grad(set_to_none=True)
            continue  # a degenerate random task; skip it rather than poison the weights
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        lv = float(loss.detach())
        losses.append(lv)
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if step % log_every == 0:
            writer.writerow(
                [
                    step,
                    round(elapsed, 2),
                    round(lv, 5),
                    f"{lr_now:.3g}",
                    source,
                    x.shape[0],
                    n_ctx,
                    x.shape[2],
                    C,
                ]
            )
            log_fh.flush()
        if verbose and step % (log_every * 20) == 0:
            print(
                f"[{name}] step {step} {elapsed:.0f}s loss(ema) {ema:.4f} lr {lr_now:.2e}",
                flush=True,
            )
        if step % checkpoint_every == 0:
            checkpoint(elapsed)
        if snapshot_minutes and elapsed >= next_snapshot * 60.0:
            model.eval()
            save_weights(
                model,
                out / "snapshots" / f"{name}_{round(next_snapshot):04d}min.pt",
                {"snapshot": {"step": step, "elapsed_s": round(elapsed, 1), "name": name}},
            )
            model.train()
            next_snapshot += snapshot_minutes
    elapsed = elapsed0 + now() - t0
    checkpoint(elapsed)
    log_fh.close()
    model.eval()
    record = {
        "method": method,
        "size": size,
        "name": name,
        "config": model.config,
        "n_parameters": model.n_parameters,
        "steps": step,
        "elapsed_s": round(elapsed, 1),
        "clock": clock,
        "wall_s_this_session": round(time.time() - wall0, 1),
        "final_loss_ema": ema,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "seed": seed,
        "minutes": minutes,
        "max_steps": max_steps,
        "batch_size": batch_size,
        "tokens_per_batch": tokens_per_batch,
        "n_query": n_query,
        "lr": lr,
        "p_real": p_real,
        "prior_weights": prior_weights or PRIOR_WEIGHTS,
        "max_features": max_features,
        "max_classes": max_classes,
        "max_k": max_k,
        "init": str(init) if init else None,
        "curriculum": curriculum,
        "finetune_frac": finetune_frac,
        "threads": torch.get_num_threads(),
        "max_attention_cells": max_attention_cells,
        "split": "data/fewshot/split.json (train)",
    }
    weights = save_weights(model, out / f"{name}.pt", {"train": record})
    record["weights"] = str(weights)
    (out / f"{name}_run.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    if verbose:
        print(f"[{name}] done: {step} steps in {elapsed:.0f}s, loss(ema) {ema}, weights {weights}")
    return record


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (``python -m autometa.fewshot.train --help``)."""
    p = argparse.ArgumentParser(
        prog="python -m autometa.fewshot.train", description=__doc__.split("\n")[0]
    )
    p.add_argument("--method", default="pfn", choices=["pfn", "protonet", "maml", "reptile"])
    p.add_argument("--size", default="S", choices=["tiny", "S", "M"])
    p.add_argument("--out", default="data/fewshot/weights")
    p.add_argument("--name", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--tokens-per-batch", type=int, default=400_000)
    p.add_argument("--n-query", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--p-real", type=float, default=0.3)
    p.add_argument("--max-features", type=int, default=64)
    p.add_argument("--max-k", type=int, default=50)
    p.add_argument("--corpus", default=None)
    p.add_argument("--packed", default=None, help="packed .npz of the meta-train tables")
    p.add_argument("--split-file", default=None)
    p.add_argument("--init", default=None, help="weights file to fine-tune from")
    p.add_argument("--no-curriculum", action="store_true", help="full-size episodes from step 1")
    p.add_argument(
        "--finetune-frac",
        type=float,
        default=0.0,
        help="last fraction of the budget on real meta-train episodes only",
    )
    p.add_argument(
        "--snapshot-minutes", type=float, default=None, help="weights snapshot every N minutes"
    )
    p.add_argument(
        "--clock",
        default="auto",
        choices=["auto", "cpu", "wall"],
        help="what --minutes counts (auto: CPU time on the CPU, wall time on a GPU)",
    )
    p.add_argument(
        "--max-attention-cells",
        type=int,
        default=MAX_ATTENTION_CELLS,
        help="bound on episodes x (features+1) x rows^2 per step (0: none)",
    )
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: 1 on CPU)"
    )
    a = p.parse_args(argv)
    dev = resolve_device(a.device)
    torch.set_num_threads(a.threads or (1 if dev.type == "cpu" else min(4, os.cpu_count() or 1)))
    train(
        a.method,
        a.size,
        out=a.out,
        name=a.name,
        device=a.device,
        minutes=a.minutes,
        max_steps=a.max_steps,
        batch_size=a.batch_size,
        tokens_per_batch=a.tokens_per_batch,
        n_query=a.n_query,
        lr=a.lr,
        p_real=a.p_real,
        max_features=a.max_features,
        max_k=a.max_k,
        corpus=a.corpus,
        packed=a.packed,
        split_file=a.split_file,
        init=a.init,
        curriculum=not a.no_curriculum,
        finetune_frac=a.finetune_frac,
        snapshot_minutes=a.snapshot_minutes,
        clock=a.clock,
        max_attention_cells=a.max_attention_cells or None,
        checkpoint_every=a.checkpoint_every,
        amp=not a.no_amp,
        seed=a.seed,
        resume=not a.no_resume,
    )


if __name__ == "__main__":
    main()


class _CallableModule(__import__("types").ModuleType):
    """Let ``autometa.fewshot.train(...)`` work although ``train`` is also this submodule's
    name: once the submodule is imported, the package attribute is the module, so the
    module forwards calls to :func:`train`."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return train(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
