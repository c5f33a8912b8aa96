"""The permutation-invariant cell encoder shared by every few-shot method.

A few-shot *episode* is a batch tensor ``x`` of shape ``(B, N, F)`` whose first ``n_ctx``
rows are the labelled context (support) rows and the rest are query rows, with labels
``y_ctx`` of shape ``(B, n_ctx)`` in ``0 .. C-1``.  Missing values are NaN.

Three ingredients make every method invariant to column order and to label relabelling:

* no feature position encodings: each column gets a random *identity vector* drawn from a
  seeded generator, so the network can tell columns apart without knowing their order;
* at inference the identity vectors (and class vectors) are handed out in a *canonical*
  order computed from the column (class) content, so permuting columns (relabelling
  classes) hands every column (class) the same vector as before and the output is the same
  up to floating-point summation order;
* everything after the cell embedding is permutation-equivariant (attention without
  positions, means over rows/columns).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Soft clip applied after scaling so heavy tails do not dominate: ~identity on [-2, 2].
CLIP = 4.0
NORMS = ("robust", "quantile")


def _soft_clip(z: torch.Tensor) -> torch.Tensor:
    return z / torch.sqrt(1.0 + (z / CLIP) ** 2)


def normalize(
    x: torch.Tensor, n_ctx: int, mode: str = "robust"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise each column with statistics of the context rows only.

    Parameters
    ----------
    x : Tensor of shape (B, N, F)
        Raw values, NaN where missing; rows ``:n_ctx`` are the context.
    n_ctx : int
        Number of context rows.
    mode : {"robust", "quantile"}
        ``"robust"``: ``(x - median) / scale`` with scale from the interquartile range
        (falling back to the standard deviation, then 1 for constant columns), softly
        clipped.  ``"quantile"``: the mid-rank of ``x`` among the context values mapped to
        a standard normal score.

    Returns
    -------
    values : Tensor of shape (B, N, F)
        Normalised values, 0 where missing (and everywhere in a constant column).
    missing : Tensor of shape (B, N, F)
        1.0 where the raw value was missing.
    """
    if mode not in NORMS:
        raise ValueError(f"unknown normalisation {mode!r}; use one of {NORMS}")
    x = x.float()
    missing = torch.isnan(x)
    ctx = x[:, :n_ctx]
    if mode == "robust":
        q = torch.nanquantile(ctx, torch.tensor([0.25, 0.5, 0.75], device=x.device), dim=1)
        q1, med, q3 = q[0], q[1], q[2]  # (B, F)
        med = torch.nan_to_num(med, nan=0.0)
        iqr = torch.nan_to_num(q3 - q1, nan=0.0) / 1.349
        cnt = (~missing[:, :n_ctx]).sum(1).clamp(min=1)
        mean = torch.nan_to_num(ctx, nan=0.0).sum(1) / cnt
        var = (torch.nan_to_num(ctx - mean[:, None], nan=0.0) ** 2).sum(1) / cnt
        std = var.sqrt()
        # Binary or mostly-constant columns have IQR 0 but a usable std.
        scale = torch.where(iqr > 1e-6 * (1 + med.abs()), iqr, std)
        const = scale <= 1e-8 * (1 + med.abs())
        scale = torch.where(const, torch.ones_like(scale), scale)
        z = (x - med[:, None]) / scale[:, None]
        z = torch.where(const[:, None], torch.zeros_like(z), z)
        z = _soft_clip(z)
    else:
        # Sort the context per column (NaN last as +inf) and search each value in it.
        filled = torch.where(missing[:, :n_ctx], torch.full_like(ctx, float("inf")), ctx)
        srt = filled.transpose(1, 2).contiguous().sort(dim=-1).values  # (B, F, n_ctx)
        vals = torch.where(missing, torch.zeros_like(x), x).transpose(1, 2).contiguous()
        lo = torch.searchsorted(srt, vals, right=False).float()
        hi = torch.searchsorted(srt, vals, right=True).float()
        cnt = (~missing[:, :n_ctx]).sum(1).float().clamp(min=1)[:, :, None]  # (B, F, 1)
        u = ((lo + hi) / 2.0 + 0.5) / (cnt + 1.0)
        u = u.clamp(1e-4, 1 - 1e-4)
        z = (math.sqrt(2.0) * torch.erfinv(2 * u - 1)).transpose(1, 2)
        nuniq_ctx = (srt[..., 1:] != srt[..., :-1]) & torch.isfinite(srt[..., 1:])
        const = nuniq_ctx.sum(-1) == 0  # (B, F)
        z = torch.where(const[:, None], torch.zeros_like(z), z)
    z = torch.where(missing, torch.zeros_like(z), z)
    return z, missing.float()


def _fingerprint(v: torch.Tensor, dim: int) -> torch.Tensor:
    """Order-free statistics of ``v`` along ``dim`` stacked on a new last axis.

    Rounded so that floating-point summation order cannot flip a comparison between two
    fingerprints that are equal in exact arithmetic.
    """
    stats = torch.stack(
        [v.mean(dim), (v**2).mean(dim), torch.sin(3.0 * v + 1.0).mean(dim), (v**3).mean(dim)],
        dim=-1,
    )
    return torch.round(stats * 1e4) / 1e4


def canonical_feature_order(
    z: torch.Tensor, n_ctx: int, y_rank: torch.Tensor | None = None
) -> torch.Tensor:
    """Rank of each column in an order that depends on its content only.

    Parameters
    ----------
    z : Tensor of shape (B, N, F)
        Normalised values (output of :func:`normalize`).
    n_ctx : int
    y_rank : Tensor of shape (B, n_ctx), optional
        Canonical class rank of each context label (see :func:`canonical_class_order`),
        not the label value, so the order does not change when classes are relabelled;
        when given it enters the fingerprint (two columns with the same marginal but a
        different relation to the label are told apart).

    Returns
    -------
    Tensor of shape (B, F), long
        ``rank[b, j]`` is the canonical position of column ``j``.
    """
    ctx = z[:, :n_ctx]
    # A row signature that does not depend on column order, to tell apart columns with
    # identical marginals (e.g. two binary columns with the same number of ones).
    row_sig = torch.round(torch.sin(2.0 * ctx + 0.5).sum(-1, keepdim=True) * 1e3) / 1e3
    parts = [_fingerprint(ctx, 1), _fingerprint(ctx * torch.tanh(row_sig), 1)]
    if y_rank is not None:
        yy = torch.cos(1.7 * y_rank.float() + 0.3)[:, :, None]
        parts.append(_fingerprint(ctx * yy, 1))
    key = torch.cat(parts, dim=-1)  # (B, F, K)
    # Lexicographic sort on the K statistics: repeated stable sorts from the last key.
    order = torch.arange(z.shape[-1], device=z.device).expand(z.shape[0], -1)
    for k in range(key.shape[-1] - 1, -1, -1):
        kk = torch.gather(key[..., k], 1, order)
        idx = torch.sort(kk, dim=1, stable=True).indices
        order = torch.gather(order, 1, idx)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(z.shape[-1], device=z.device).expand_as(order))
    return rank


def canonical_class_order(z: torch.Tensor, y_ctx: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Rank of each class in an order that depends on class content, not on label values.

    Classes are ordered by context count, then by a fingerprint of their mean row.

    Returns
    -------
    Tensor of shape (B, C), long
    """
    B, n_ctx = z.shape[0], y_ctx.shape[1]
    onehot = F.one_hot(y_ctx, n_classes).float()  # (B, n_ctx, C)
    count = onehot.sum(1)  # (B, C)
    means = torch.einsum("bnc,bnf->bcf", onehot, z[:, :n_ctx]) / count.clamp(min=1)[..., None]
    fp = _fingerprint(means, -1)  # (B, C, 4)
    key = torch.cat([-count[..., None], fp], -1)
    order = torch.arange(n_classes, device=z.device).expand(B, -1)
    for k in range(key.shape[-1] - 1, -1, -1):
        kk = torch.gather(key[..., k], 1, order)
        idx = torch.sort(kk, dim=1, stable=True).indices
        order = torch.gather(order, 1, idx)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(n_classes, device=z.device).expand_as(order))
    return rank


def identity_vectors(
    rank: torch.Tensor, dim: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Random unit vectors handed out by rank: ``out[b, j] = table[b, rank[b, j]]``.

    Parameters
    ----------
    rank : Tensor of shape (B, M), long
    dim : int
    generator : torch.Generator or None
        Seeded generator (CPU) for reproducible draws; ``None`` uses the global RNG
        (training).

    Returns
    -------
    Tensor of shape (B, M, dim)
    """
    B, M = rank.shape
    table = torch.randn(B, M, dim, generator=generator)
    table = table.to(device)
    table = table / table.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    return torch.gather(table, 1, rank[..., None].expand(-1, -1, dim))


class CellEncoder(nn.Module):
    """Embed each cell from its normalised value, its missing flag and its column identity.

    Parameters
    ----------
    d_model : int
        Width of the cell embeddings.
    d_id : int
        Width of the random column identity vectors.
    """

    def __init__(self, d_model: int, d_id: int = 16) -> None:
        super().__init__()
        self.d_id = d_id
        self.value = nn.Sequential(nn.Linear(3, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.ident = nn.Linear(d_id, d_model, bias=False)

    def forward(
        self, z: torch.Tensor, missing: torch.Tensor, feat_ids: torch.Tensor
    ) -> torch.Tensor:
        """(B, N, F) values and flags, (B, F, d_id) identities -> (B, N, F, d_model)."""
        inp = torch.stack([z, missing, z * z / CLIP], dim=-1)
        return self.value(inp) + self.ident(feat_ids)[:, None]


class Attention(nn.Module):
    """Multi-head attention where queries and keys/values may be different token sets."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.h = n_heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.o = nn.Linear(d_model, d_model)

    def forward(self, xq: torch.Tensor, xkv: torch.Tensor) -> torch.Tensor:
        """(S, Lq, d), (S, Lk, d) -> (S, Lq, d)."""
        S, Lq, d = xq.shape
        Lk = xkv.shape[1]
        q = self.q(xq).view(S, Lq, self.h, d // self.h).transpose(1, 2)
        k, v = self.kv(xkv).view(S, Lk, 2, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.o(out.transpose(1, 2).reshape(S, Lq, d))


class TwoWayBlock(nn.Module):
    """One transformer layer over a (rows x columns) grid of tokens.

    Attention across columns within each row, then (optionally) across rows within each
    column where every row attends to the context rows only, then an MLP.  Pre-norm.
    """

    def __init__(self, d_model: int, n_heads: int, rows: bool = True, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.rows = rows
        self.n1 = nn.LayerNorm(d_model)
        self.att_f = Attention(d_model, n_heads)
        if rows:
            self.n2 = nn.LayerNorm(d_model)
            self.att_r = Attention(d_model, n_heads)
        self.n3 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def forward(self, h: torch.Tensor, n_ctx: int) -> torch.Tensor:
        """(B, N, T, d) -> (B, N, T, d); rows ``:n_ctx`` are the context."""
        B, N, T, d = h.shape
        a = self.n1(h).reshape(B * N, T, d)
        h = h + self.att_f(a, a).view(B, N, T, d)
        if self.rows:
            a = self.n2(h).transpose(1, 2).reshape(B * T, N, d)
            h = h + self.att_r(a, a[:, :n_ctx]).view(B, T, N, d).transpose(1, 2)
        return h + self.mlp(self.n3(h))


class RowEncoder(nn.Module):
    """Embed each row independently: cells -> attention across columns -> mean over columns.

    Used by the metric-based and optimisation-based methods, whose episode logic lives in
    the embedding space.  Column-order invariant by construction (mean pooling).
    """

    def __init__(
        self, d_model: int = 64, n_layers: int = 2, n_heads: int = 4, d_id: int = 16
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.cells = CellEncoder(d_model, d_id)
        self.blocks = nn.ModuleList(
            TwoWayBlock(d_model, n_heads, rows=False) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, z: torch.Tensor, missing: torch.Tensor, feat_ids: torch.Tensor
    ) -> torch.Tensor:
        """(B, N, F) -> (B, N, d_model)."""
        h = self.cells(z, missing, feat_ids)
        for blk in self.blocks:
            h = blk(h, z.shape[1])
        return self.norm(h.mean(2))


def class_means(e: torch.Tensor, y_ctx: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean of context embeddings per class: (B, n_ctx, d), (B, n_ctx) -> (B, C, d)."""
    onehot = F.one_hot(y_ctx, n_classes).to(e.dtype)
    count = onehot.sum(1).clamp(min=1)
    return torch.einsum("bnc,bnd->bcd", onehot, e) / count[..., None]


class EpisodeModel(nn.Module):
    """Common interface of the few-shot methods.

    Subclasses implement :meth:`episode_logits`; :meth:`forward` does the normalisation and
    the draw of column identities.  ``config`` holds the constructor arguments so weights can
    be saved and rebuilt (see :mod:`autometa.fewshot._weights`).
    """

    method: str = ""
    d_id: int = 16

    def forward(
        self,
        x: torch.Tensor,
        y_ctx: torch.Tensor,
        n_classes: int,
        *,
        norm: str = "robust",
        generator: torch.Generator | None = None,
        canonical: bool = False,
    ) -> torch.Tensor:
        """Logits of the query rows.

        Parameters
        ----------
        x : Tensor of shape (B, N, F)
            Raw values, NaN for missing; rows ``:n_ctx`` are the context.
        y_ctx : Tensor of shape (B, n_ctx), long
            Context labels in ``0 .. n_classes-1``.
        n_classes : int
        norm : {"robust", "quantile"}
        generator : torch.Generator, optional
            Seeded CPU generator for the identity vectors (reproducible inference).
        canonical : bool
            Hand out identity vectors in content order (exact column-order and label
            invariance); training uses random order, which is the same in distribution.

        Returns
        -------
        Tensor of shape (B, N - n_ctx, n_classes)
        """
        z, miss, feat_ids, class_ids = self._episode_inputs(
            x, y_ctx, n_classes, norm, generator, canonical
        )
        return self.episode_logits(z, miss, feat_ids, class_ids, y_ctx, n_classes)

    def row_embeddings(
        self,
        x: torch.Tensor,
        y_ctx: torch.Tensor,
        n_classes: int,
        *,
        norm: str = "robust",
        generator: torch.Generator | None = None,
        canonical: bool = False,
    ) -> torch.Tensor:
        """Embeddings of every row, (B, N, d): what the method's own head works on.

        Only for methods that embed each row on its own (:attr:`has_row_embeddings`); the
        arguments are those of :meth:`forward`, so a row's embedding is the one its logits
        would come from.
        """
        if not self.has_row_embeddings:
            raise NotImplementedError(f"{self.method!r} does not embed rows on their own")
        z, miss, feat_ids, _ = self._episode_inputs(x, y_ctx, n_classes, norm, generator, canonical)
        return self.encoder(z, miss, feat_ids)

    @property
    def has_row_embeddings(self) -> bool:
        """Whether the model embeds each row independently (a :class:`RowEncoder`)."""
        return isinstance(getattr(self, "encoder", None), RowEncoder)

    def _episode_inputs(self, x, y_ctx, n_classes, norm, generator, canonical):
        """Normalised values, missing flags, column and class identities of an episode."""
        n_ctx = y_ctx.shape[1]
        z, miss = normalize(x, n_ctx, norm)
        B, _, Fd = z.shape
        if canonical:
            crank = canonical_class_order(z, y_ctx, n_classes)
            frank = canonical_feature_order(z, n_ctx, torch.gather(crank, 1, y_ctx))
        else:
            crank = torch.argsort(torch.rand(B, n_classes, generator=generator), dim=1).to(z.device)
            frank = torch.argsort(torch.rand(B, Fd, generator=generator), dim=1).to(z.device)
        feat_ids = identity_vectors(frank, self.d_id, generator, z.device)
        class_ids = identity_vectors(crank, self.d_id, generator, z.device)
        return z, miss, feat_ids, class_ids

    def episode_logits(
        self,
        z: torch.Tensor,
        miss: torch.Tensor,
        feat_ids: torch.Tensor,
        class_ids: torch.Tensor,
        y_ctx: torch.Tensor,
        n_classes: int,
    ) -> torch.Tensor:  # pragma: no cover - abstract
        """(B, N, F) normalised values and flags, (B, F, d_id) column and (B, C, d_id) class
        identities, (B, n_ctx) labels -> (B, N - n_ctx, C) logits."""
        raise NotImplementedError

    def meta_loss(
        self,
        x: torch.Tensor,
        y_ctx: torch.Tensor,
        y_qry: torch.Tensor,
        n_classes: int,
        norm: str = "robust",
    ) -> torch.Tensor:
        """Mean cross-entropy of the query rows of a batch of episodes (training loss).

        ``y_qry`` has shape (B, N - n_ctx); other arguments as in :meth:`forward`.
        """
        logits = self(x, y_ctx, n_classes, norm=norm)
        return F.cross_entropy(logits.float().flatten(0, 1), y_qry.flatten())

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters())
