"""Meta-training of the few-shot learners.

Each step draws one batch of episodes, from the synthetic prior (:mod:`.prior`) with
probability ``1 - p_real`` and otherwise real k-shot / predict-a-column episodes from the
meta-train split (:mod:`.episodes`), and takes one AdamW step on the query cross-entropy
(MAML: through the inner loop; Reptile: see :mod:`._maml`).  Bounded by minutes (CPU time
on the CPU, wall time on a GPU) and/or steps; bf16 autocast on CUDA; a checkpoint every
``checkpoint_every`` steps from which a rerun with the same ``out`` resumes; a CSV loss log;
final weights written with :func:`autometa.fewshot._weights.save_weights`. The steps
themselves (the budget, drawing a batch, one optimisation step, the log, checkpoints and
snapshots) are in :mod:`._train_steps`.

Command line (see ``data/fewshot/README.md`` for the shipped runs)::

    python -m autometa.fewshot.train --device cuda --minutes 6 --method pfn --size S \
        --out data/fewshot/weights
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa.fewshot._train_steps import (
    CURRICULUM_FRACTION,
    CURRICULUM_START,
    MAX_ATTENTION_CELLS,
    Budget,
    EpisodeSource,
    LossLog,
    curriculum_caps,
    episodes_within,
    lr_at,
    optimisation_step,
    restore_checkpoint,
    save_checkpoint,
    save_snapshot,
)
from autometa.fewshot._weights import build_model, load_weights, save_weights, size_config
from autometa.fewshot.episodes import DEFAULT_CORPUS, load_tables
from autometa.fewshot.prior import PRIOR_WEIGHTS
from autometa.fewshot.split import load_split

# The curriculum and the attention bound are defined with the steps (._train_steps) and
# read from here too.
__all__ = [
    "CURRICULUM_FRACTION",
    "CURRICULUM_START",
    "MAX_ATTENTION_CELLS",
    "curriculum_caps",
    "episodes_within",
    "main",
    "resolve_device",
    "train",
]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch.cuda.is_available() is False")
    return dev


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
    _check_budget(minutes, max_steps, clock, finetune_frac, p_real)
    dev = resolve_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"{method}_{size}"
    log_path = out / f"{name}_loss.csv"
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _initial_model(method, size, init).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    run = _Run(model, opt, rng, dev, out, name)
    if resume and run.ckpt_path.exists():
        run.restore()
        if verbose:
            print(f"[{name}] resumed from {run.ckpt_path} at step {run.step} ({run.elapsed0:.0f}s)")
    elif log_path.exists():
        log_path.unlink()
    source = EpisodeSource(
        tables=_real_tables(p_real, split_file, corpus, packed),
        device=dev,
        batch_size=batch_size,
        tokens_per_batch=tokens_per_batch,
        n_query=n_query,
        p_real=p_real,
        finetune_frac=finetune_frac,
        prior_weights=prior_weights,
        max_features=max_features,
        max_classes=max_classes,
        max_k=max_k,
        curriculum=curriculum,
        max_attention_cells=max_attention_cells,
    )
    budget = Budget(None if minutes is None else minutes * 60.0, max_steps)
    log = LossLog(log_path)
    if clock == "auto":
        clock = "cpu" if dev.type == "cpu" else "wall"
    wall0 = time.time()
    elapsed = run.optimise(
        source,
        budget,
        log,
        lr=lr,
        clock=time.process_time if clock == "cpu" else time.time,
        use_amp=amp and dev.type == "cuda",
        log_every=log_every,
        checkpoint_every=checkpoint_every,
        snapshot_minutes=snapshot_minutes,
        verbose=verbose,
    )
    run.checkpoint(elapsed)
    log.close()
    model.eval()
    record = _run_record(
        run,
        source,
        method=method,
        size=size,
        seed=seed,
        minutes=minutes,
        max_steps=max_steps,
        lr=lr,
        init=init,
        clock=clock,
        elapsed=elapsed,
        wall_s=round(time.time() - wall0, 1),
    )
    weights = save_weights(model, out / f"{name}.pt", {"train": record})
    record["weights"] = str(weights)
    (out / f"{name}_run.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    if verbose:
        print(
            f"[{name}] done: {run.step} steps in {elapsed:.0f}s, loss(ema) {run.ema}, "
            f"weights {weights}"
        )
    return record


@dataclass
class _Run:
    """One training run: the model and what a step changes (optimiser, RNG, step count,
    loss average), and where it checkpoints (``{out}/{name}.ckpt``)."""

    model: Any
    opt: torch.optim.Optimizer
    rng: np.random.Generator
    device: torch.device
    out: Path
    name: str
    step: int = 0
    elapsed0: float = 0.0  # seconds of training before this session (a resumed run)
    ema: float | None = None  # moving average of the loss

    @property
    def ckpt_path(self) -> Path:
        return self.out / f"{self.name}.ckpt"

    def restore(self) -> None:
        """Continue from the checkpoint."""
        self.step, self.elapsed0 = restore_checkpoint(
            self.ckpt_path, self.model, self.opt, self.rng, device=self.device
        )

    def checkpoint(self, elapsed: float) -> None:
        save_checkpoint(
            self.ckpt_path,
            self.model,
            self.opt,
            self.rng,
            step=self.step,
            elapsed=elapsed,
            device=self.device,
        )

    def optimise(
        self,
        source: EpisodeSource,
        budget: Budget,
        log: LossLog,
        *,
        lr: float,
        clock: Callable[[], float],
        use_amp: bool,
        log_every: int,
        checkpoint_every: int,
        snapshot_minutes: float | None,
        verbose: bool,
    ) -> float:
        """Steps until the budget is spent (``clock`` counts its seconds), logging,
        checkpointing and writing snapshots on the way; the elapsed seconds at the end."""
        t0 = clock()
        next_snapshot = (
            (math.floor(self.elapsed0 / 60.0 / snapshot_minutes) + 1) * snapshot_minutes
            if snapshot_minutes
            else math.inf
        )
        while True:
            elapsed = self.elapsed0 + clock() - t0
            frac = budget.fraction(self.step, elapsed)
            if frac >= 1.0:
                break
            lr_now = lr_at(frac, lr)
            for g in self.opt.param_groups:
                g["lr"] = lr_now
            batch = source.draw(self.rng, frac)
            if batch is None:
                continue
            lv = optimisation_step(
                self.model, self.opt, batch, self.rng, device=self.device, use_amp=use_amp
            )
            if lv is None:
                continue
            self.step += 1
            self.ema = lv if self.ema is None else 0.98 * self.ema + 0.02 * lv
            if self.step % log_every == 0:
                log.write(self.step, elapsed, lv, lr_now, batch)
            if verbose and self.step % (log_every * 20) == 0:
                print(
                    f"[{self.name}] step {self.step} {elapsed:.0f}s loss(ema) {self.ema:.4f} "
                    f"lr {lr_now:.2e}",
                    flush=True,
                )
            if self.step % checkpoint_every == 0:
                self.checkpoint(elapsed)
            if snapshot_minutes and elapsed >= next_snapshot * 60.0:
                save_snapshot(
                    self.model, self.out, self.name, next_snapshot, step=self.step, elapsed=elapsed
                )
                next_snapshot += snapshot_minutes
        return self.elapsed0 + clock() - t0


def _run_record(
    run: _Run,
    source: EpisodeSource,
    *,
    method: str,
    size: str,
    seed: int,
    minutes: float | None,
    max_steps: int | None,
    lr: float,
    init: str | Path | None,
    clock: str,
    elapsed: float,
    wall_s: float,
) -> dict[str, Any]:
    """What :func:`train` returns and writes to ``{name}_run.json``: the run's settings
    and outcome."""
    model, dev = run.model, run.device
    return {
        "method": method,
        "size": size,
        "name": run.name,
        "config": model.config,
        "n_parameters": model.n_parameters,
        "steps": run.step,
        "elapsed_s": round(elapsed, 1),
        "clock": clock,
        "wall_s_this_session": wall_s,
        "final_loss_ema": run.ema,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "seed": seed,
        "minutes": minutes,
        "max_steps": max_steps,
        "batch_size": source.batch_size,
        "tokens_per_batch": source.tokens_per_batch,
        "n_query": source.n_query,
        "lr": lr,
        "p_real": source.p_real,
        "prior_weights": source.prior_weights or PRIOR_WEIGHTS,
        "max_features": source.max_features,
        "max_classes": source.max_classes,
        "max_k": source.max_k,
        "init": str(init) if init else None,
        "curriculum": source.curriculum,
        "finetune_frac": source.finetune_frac,
        "threads": torch.get_num_threads(),
        "max_attention_cells": source.max_attention_cells,
        "split": "data/fewshot/split.json (train)",
    }


def _check_budget(
    minutes: float | None, max_steps: int | None, clock: str, finetune_frac: float, p_real: float
) -> None:
    """:func:`train`'s budget and phases make sense (a ``ValueError`` otherwise)."""
    if minutes is None and max_steps is None:
        raise ValueError("set minutes, max_steps or both")
    if clock not in ("auto", "cpu", "wall"):
        raise ValueError(f"clock={clock!r}: use 'auto', 'cpu' or 'wall'")
    if not 0.0 <= finetune_frac <= 1.0:
        raise ValueError(f"finetune_frac={finetune_frac!r} must be between 0 and 1")
    if finetune_frac > 0 and p_real <= 0:
        raise ValueError("finetune_frac > 0 needs real tables: set p_real > 0")


def _initial_model(method: str, size: str, init: str | Path | None) -> Any:
    """A new model of the named size, or the one in the weights file ``init``."""
    if init is not None:
        model, _init_meta = load_weights(init, method)
        return model
    return build_model(method, size_config(method, size))


def _real_tables(
    p_real: float,
    split_file: str | Path | None,
    corpus: str | Path | None,
    packed: str | Path | None,
) -> dict[str, Any]:
    """The meta-train split's tables (none when no step uses real episodes)."""
    if p_real <= 0:
        return {}
    split = load_split(split_file)
    return load_tables(split["train"], corpus or DEFAULT_CORPUS, packed=packed)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (``python -m autometa.fewshot.train --help``)."""
    options = vars(_parser().parse_args(argv))
    dev = resolve_device(options["device"])
    threads = options.pop("threads")
    torch.set_num_threads(threads or (1 if dev.type == "cpu" else min(4, os.cpu_count() or 1)))
    # the command line's switches are the negations of train's flags
    flags = {flag: not options.pop(f"no_{flag}") for flag in ("curriculum", "amp", "resume")}
    options["max_attention_cells"] = options["max_attention_cells"] or None  # 0: no bound
    train(options.pop("method"), options.pop("size"), **options, **flags)


def _parser() -> argparse.ArgumentParser:
    """The options of :func:`main`: :func:`train`'s, under their names with dashes."""
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
    return p


if __name__ == "__main__":
    main()


class _CallableModule(__import__("types").ModuleType):
    """Deprecated: ``autometa.fewshot.train(...)`` called this module (the name is both the
    submodule and the function); to be removed in 0.3. Use :func:`autometa.fewshot.meta_train`."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        import warnings

        warnings.warn(
            "calling the module autometa.fewshot.train is deprecated; call "
            "autometa.fewshot.meta_train(...) (the same function) instead",
            FutureWarning,
            stacklevel=2,
        )
        return train(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
