"""The steps of :func:`autometa.fewshot.train.train`: what a step draws, the step itself,
and what a run writes along the way.

* the budget (:class:`Budget`: the fraction used, which drives the learning-rate schedule
  :func:`lr_at`, the curriculum :func:`curriculum_caps` and the fine-tuning phase);
* one batch of episodes (:class:`EpisodeSource`: from the synthetic prior or the real
  meta-train tables, bounded by :data:`MAX_ATTENTION_CELLS`);
* one optimisation step (:func:`optimisation_step`);
* the loss log (:class:`LossLog`), the resumable checkpoint (:func:`save_checkpoint`,
  :func:`restore_checkpoint`) and the weight snapshots (:func:`save_snapshot`).

The draws happen in a fixed order from one numpy generator (source, episode shape or real
batch, then the normalisation), so that a run is reproducible for a seed and resumes from a
checkpoint where it stopped.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._io import write_atomic
from autometa.fewshot._weights import save_weights
from autometa.fewshot.episodes import real_batch
from autometa.fewshot.prior import PRIOR_WEIGHTS, sample_prior_batch

__all__ = [
    "CURRICULUM_FRACTION",
    "CURRICULUM_START",
    "MAX_ATTENTION_CELLS",
    "Batch",
    "Budget",
    "EpisodeSource",
    "LossLog",
    "curriculum_caps",
    "episodes_within",
    "lr_at",
    "optimisation_step",
    "restore_checkpoint",
    "save_checkpoint",
    "save_snapshot",
]

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


def episode_shape(
    rng: np.random.Generator, max_features: int, max_classes: int, max_k: int
) -> tuple[int, int, int]:
    """Classes, context rows and features of a prior episode within the caps."""
    C = 2 if rng.random() < 0.5 or max_classes < 3 else int(rng.integers(3, max_classes + 1))
    k = int(np.clip(np.round(np.exp(rng.uniform(0, math.log(max_k)))), 1, max_k))
    n_ctx = max(C, round(k * C * rng.uniform(0.7, 1.3)))
    Fd = int(np.clip(np.round(np.exp(rng.uniform(0, math.log(max_features)))), 1, max_features))
    return C, n_ctx, Fd


def lr_at(frac: float, lr: float, warmup: float = 0.05) -> float:
    """The learning rate at ``frac`` of the budget: a linear warm-up over ``warmup``, then
    a cosine decay to 5 % of ``lr``."""
    if frac < warmup:
        return lr * max(frac / warmup, 0.01)
    return lr * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warmup) / (1 - warmup))))
    )


@dataclass(frozen=True)
class Budget:
    """A run's budget: ``seconds`` (of its clock) and/or ``steps``, whichever ends first."""

    seconds: float | None
    steps: int | None

    def fraction(self, step: int, elapsed: float) -> float:
        """The fraction used after ``step`` steps and ``elapsed`` seconds."""
        used = []
        if self.seconds:
            used.append(elapsed / self.seconds)
        if self.steps:
            used.append(step / self.steps)
        return max(used)


@dataclass
class Batch:
    """One step's episodes: ``x`` (episodes, rows, features), ``y`` (episodes, rows), the
    first ``n_ctx`` rows the context, ``n_classes`` classes, from ``source``."""

    x: torch.Tensor
    y: torch.Tensor
    n_ctx: int
    n_classes: int
    source: str  # "real" or "prior"


@dataclass
class EpisodeSource:
    """Where each step's batch of episodes comes from: the synthetic prior, or with
    probability ``p_real`` (1 in the last ``finetune_frac`` of the budget) the real
    meta-train ``tables``; episodes within the curriculum's caps at that point of the
    budget, batches within the token and attention bounds."""

    tables: dict[str, Any]
    device: torch.device
    batch_size: int
    tokens_per_batch: int
    n_query: int
    p_real: float
    finetune_frac: float
    prior_weights: dict[str, float] | None
    max_features: int
    max_classes: int
    max_k: int
    curriculum: bool
    max_attention_cells: int | None

    def caps(self, frac: float) -> tuple[int, int, int]:
        """Episode caps (features, classes, rows per class) at ``frac`` of the budget."""
        if self.curriculum:
            return curriculum_caps(frac, self.max_features, self.max_classes, self.max_k)
        return self.max_features, self.max_classes, self.max_k

    def draw(self, rng: np.random.Generator, frac: float) -> Batch | None:
        """A batch at ``frac`` of the budget, or ``None`` when none fits (the step is
        drawn again)."""
        caps = self.caps(frac)
        p_real_now = 1.0 if frac >= 1.0 - self.finetune_frac else self.p_real
        if self.tables and rng.random() < p_real_now:
            return self._real(rng, *caps)
        return self._prior(rng, *caps)

    def _real(
        self, rng: np.random.Generator, cap_features: int, cap_classes: int, cap_k: int
    ) -> Batch | None:
        batch = None
        for _ in range(10):
            b = max(
                2,
                min(
                    self.batch_size,
                    self.tokens_per_batch // ((self.n_query + 100) * (cap_features // 2 + 1)),
                ),
            )
            batch = real_batch(
                self.tables,
                rng,
                b,
                max_features=cap_features,
                max_classes=cap_classes,
                n_query=self.n_query,
                max_k=cap_k,
            )
            if batch is not None:
                break
        if batch is None:
            return None
        xb, yb, n_ctx, C = batch
        keep = episodes_within(len(xb), xb.shape[1], xb.shape[2], self.max_attention_cells)
        if keep < 1:
            return None
        x = torch.from_numpy(xb[:keep]).to(self.device)
        y = torch.from_numpy(yb[:keep]).to(self.device)
        return Batch(x, y, n_ctx, C, "real")

    def _prior(
        self, rng: np.random.Generator, cap_features: int, cap_classes: int, cap_k: int
    ) -> Batch | None:
        C, n_ctx, Fd = episode_shape(rng, cap_features, cap_classes, cap_k)
        N = n_ctx + self.n_query
        b = int(max(2, min(self.batch_size, self.tokens_per_batch // (N * (Fd + 1)))))
        b = episodes_within(b, N, Fd, self.max_attention_cells)
        if b < 1:
            return None
        x, y = sample_prior_batch(
            b, N, n_ctx, Fd, C, device=self.device, weights=self.prior_weights or PRIOR_WEIGHTS
        )
        return Batch(x, y, n_ctx, C, "prior")


def optimisation_step(
    model: Any,
    opt: torch.optim.Optimizer,
    batch: Batch,
    rng: np.random.Generator,
    *,
    device: torch.device,
    use_amp: bool,
) -> float | None:
    """One AdamW step on the batch's query cross-entropy (gradients clipped to norm 1);
    its loss, or ``None`` for a non-finite loss (a degenerate random task: skipped rather
    than let it poison the weights)."""
    n_ctx = batch.n_ctx
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        loss = model.meta_loss(
            batch.x,
            batch.y[:, :n_ctx],
            batch.y[:, n_ctx:],
            batch.n_classes,
            norm="robust" if rng.random() < 0.6 else "quantile",
        )
    if not torch.isfinite(loss):
        opt.zero_grad(set_to_none=True)
        return None
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss.detach())


class LossLog:
    """The run's CSV loss log, appended to (a resumed run continues it)."""

    COLUMNS = (
        "step",
        "elapsed_s",
        "loss",
        "lr",
        "source",
        "batch",
        "n_ctx",
        "n_features",
        "n_classes",
    )

    def __init__(self, path: Path) -> None:
        new = not path.exists()
        self._fh = open(path, "a", newline="")  # noqa: SIM115 - kept open for the whole run
        self._writer = csv.writer(self._fh)
        if new:
            self._writer.writerow(list(self.COLUMNS))

    def write(self, step: int, elapsed: float, loss: float, lr: float, batch: Batch) -> None:
        self._writer.writerow(
            [
                step,
                round(elapsed, 2),
                round(loss, 5),
                f"{lr:.3g}",
                batch.source,
                batch.x.shape[0],
                batch.n_ctx,
                batch.x.shape[2],
                batch.n_classes,
            ]
        )
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def save_checkpoint(
    path: Path,
    model: Any,
    opt: torch.optim.Optimizer,
    rng: np.random.Generator,
    *,
    step: int,
    elapsed: float,
    device: torch.device,
) -> None:
    """Everything a rerun needs to continue: weights, optimiser, step, clock and RNGs."""
    ck = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "elapsed": elapsed,
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": json.dumps(rng.bit_generator.state),
    }
    if device.type == "cuda":
        ck["cuda_rng"] = torch.cuda.get_rng_state()
    write_atomic(path, lambda tmp: torch.save(ck, tmp))


def restore_checkpoint(
    path: Path,
    model: Any,
    opt: torch.optim.Optimizer,
    rng: np.random.Generator,
    *,
    device: torch.device,
) -> tuple[int, float]:
    """Load :func:`save_checkpoint`'s state into ``model``, ``opt``, ``rng`` and torch's
    RNGs; the step and elapsed seconds to continue from."""
    ck = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in ck:
        torch.cuda.set_rng_state(ck["cuda_rng"])
    rng.bit_generator.state = json.loads(ck["numpy_rng"])
    return int(ck["step"]), float(ck["elapsed"])


def save_snapshot(
    model: Any, out: Path, name: str, minutes: float, *, step: int, elapsed: float
) -> None:
    """The weights at ``minutes`` of training, as ``{out}/snapshots/{name}_{minutes}min.pt``."""
    model.eval()
    save_weights(
        model,
        out / "snapshots" / f"{name}_{round(minutes):04d}min.pt",
        {"snapshot": {"step": step, "elapsed_s": round(elapsed, 1), "name": name}},
    )
    model.train()
