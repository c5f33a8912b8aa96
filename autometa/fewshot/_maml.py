"""Optimisation-based few-shot learners: MAML and Reptile on the shared cell encoder.

Both meta-learn a row encoder and the initialisation of a small head that is fine-tuned
for a few gradient steps on the support (context) rows of each episode:

* head: ``hidden = gelu(e @ W1 + b1)`` (meta-learned init, adapted in the inner loop), and
  an output layer initialised from the class prototypes of the hidden features,
  ``W2_c = 2 p_c, b2_c = -|p_c|^2`` (Proto-MAML, Triantafillou et al. 2020), so the head
  takes any number of classes and is equivariant to relabelling;
* inner loop: ``inner_steps`` steps of SGD on the support cross-entropy, written with
  ``torch.func.grad`` over per-episode ("batched") fast weights;
* ``"maml"``: the query loss after adaptation is back-propagated through the inner loop
  (second order; ``first_order=True`` gives FOMAML) and the inner learning rate is learned;
* ``"reptile"``: the head initialisation moves towards the adapted weights (the Reptile
  pseudo-gradient ``W - W'``); the encoder, which is not adapted, gets the first-order
  gradient of the query loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad

from autometa.fewshot._encoder import EpisodeModel, RowEncoder, class_means, normalize

SIZES: dict[str, dict] = {
    "tiny": {"d_model": 32, "n_layers": 1, "n_heads": 4},
    "S": {"d_model": 96, "n_layers": 3, "n_heads": 4},
    "M": {"d_model": 160, "n_layers": 4, "n_heads": 8},
}
METHODS = ("maml", "reptile")


def _head_logits(
    fast: dict[str, torch.Tensor], e: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    hid = F.gelu(torch.einsum("bnd,bdh->bnh", e, fast["W1"]) + fast["b1"][:, None])
    return (torch.einsum("bnh,bch->bnc", hid, fast["W2"]) + fast["b2"][:, None]) * scale


def _support_loss(
    fast: dict[str, torch.Tensor], e: torch.Tensor, y: torch.Tensor, scale: torch.Tensor
):
    logits = _head_logits(fast, e, scale)
    # Sum of per-episode means: the gradient for episode b only involves its own fast weights.
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / y.shape[1]


class HeadAdaptation(EpisodeModel):
    """MAML / Reptile learner.

    Parameters
    ----------
    method : {"maml", "reptile"}
    d_model, n_layers, n_heads, d_id : int
        Row-encoder sizes.
    d_hidden : int, optional
        Width of the adapted hidden layer (default ``d_model``).
    inner_steps : int
        SGD steps on the support rows, in training and at inference.
    inner_lr : float
        Initial (MAML: learned) inner learning rate.
    first_order : bool
        MAML only: drop second-order terms (FOMAML).
    """

    def __init__(
        self,
        method: str = "maml",
        d_model: int = 96,
        n_layers: int = 3,
        n_heads: int = 4,
        d_id: int = 16,
        d_hidden: int | None = None,
        inner_steps: int = 5,
        inner_lr: float = 0.5,
        first_order: bool = False,
    ) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        d_hidden = d_hidden or d_model
        self.method = method
        self.config = {
            "d_model": d_model,
            "n_layers": n_layers,
            "n_heads": n_heads,
            "d_id": d_id,
            "d_hidden": d_hidden,
            "inner_steps": inner_steps,
            "inner_lr": inner_lr,
            "first_order": first_order,
        }
        self.d_id = d_id
        self.inner_steps = inner_steps
        self.first_order = first_order
        self.encoder = RowEncoder(d_model, n_layers, n_heads, d_id)
        self.W1 = nn.Parameter(torch.randn(d_model, d_hidden) / math.sqrt(d_model))
        self.b1 = nn.Parameter(torch.zeros(d_hidden))
        self.log_scale = nn.Parameter(torch.tensor(-math.log(d_hidden) / 2))
        # Learned for MAML (Meta-SGD style scalar); a fixed buffer for Reptile.
        log_lr = torch.tensor(math.log(inner_lr))
        if method == "maml":
            self.log_inner_lr = nn.Parameter(log_lr)
        else:
            self.register_buffer("log_inner_lr", log_lr)

    def _adapt(self, e_ctx: torch.Tensor, y_ctx: torch.Tensor, n_classes: int, first_order: bool):
        B = e_ctx.shape[0]
        init = {"W1": self.W1.expand(B, -1, -1), "b1": self.b1.expand(B, -1)}
        hid = F.gelu(torch.einsum("bnd,dh->bnh", e_ctx, self.W1) + self.b1)
        p = class_means(hid, y_ctx, n_classes)
        fast = {**init, "W2": 2 * p, "b2": -(p * p).sum(-1)}
        scale = torch.exp(self.log_scale)
        lr = torch.exp(self.log_inner_lr)
        g_fn = grad(_support_loss)
        for _ in range(self.inner_steps):
            g = g_fn(fast, e_ctx, y_ctx, scale)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            fast = {k: fast[k] - lr * g[k] for k in fast}
        return fast, scale

    def episode_logits(self, z, miss, feat_ids, class_ids, y_ctx, n_classes):
        n_ctx = y_ctx.shape[1]
        e = self.encoder(z, miss, feat_ids).float()
        first_order = self.first_order or self.method == "reptile" or not torch.is_grad_enabled()
        with torch.enable_grad():  # the inner loop needs gradients even at inference
            fast, scale = self._adapt(e[:, :n_ctx], y_ctx, n_classes, first_order)
        logits = _head_logits(fast, e[:, n_ctx:], scale)
        return logits if torch.is_grad_enabled() else logits.detach()

    def meta_loss(
        self,
        x: torch.Tensor,
        y_ctx: torch.Tensor,
        y_qry: torch.Tensor,
        n_classes: int,
        norm: str = "robust",
    ):
        """Training loss of one batch of episodes (see the module docstring)."""
        if self.method == "maml":
            return super().meta_loss(x, y_ctx, y_qry, n_classes, norm)
        # Reptile: adapt from a detached copy of the init, then pull the init towards the
        # adapted head (gradient of 0.5*|W - W'|^2 is W - W') and train the encoder on the
        # query loss of the adapted head.
        n_ctx = y_ctx.shape[1]
        z, miss = normalize(x, n_ctx, norm)
        B, _, Fd = z.shape
        frank = torch.argsort(torch.rand(B, Fd), dim=1).to(z.device)
        from autometa.fewshot._encoder import identity_vectors

        feat_ids = identity_vectors(frank, self.d_id, None, z.device)
        e = self.encoder(z, miss, feat_ids).float()
        W1, b1 = self.W1, self.b1
        fast, scale = self._adapt(e[:, :n_ctx], y_ctx, n_classes, first_order=True)
        q_logits = _head_logits(
            {
                "W1": fast["W1"].detach(),
                "b1": fast["b1"].detach(),
                "W2": fast["W2"],
                "b2": fast["b2"],
            },
            e[:, n_ctx:],
            scale,
        )
        q_loss = F.cross_entropy(q_logits.flatten(0, 1), y_qry.flatten())
        lr_steps = torch.exp(self.log_inner_lr) * self.inner_steps
        pull = 0.5 * (
            ((W1 - fast["W1"].detach().mean(0)) ** 2).sum()
            + ((b1 - fast["b1"].detach().mean(0)) ** 2).sum()
        )
        return q_loss + pull / lr_steps
