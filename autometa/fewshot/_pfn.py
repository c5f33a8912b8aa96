"""The in-context tabular transformer (TabPFN v2 style, per-cell tokens).

Each episode is a grid of tokens: one per cell plus one *label token* per row.  Context
rows carry the identity vector of their class in the label token; query rows carry a
learned "unknown" token.  Layers alternate attention across the columns of a row and
across the rows of a column (query rows attend only to context rows).  The prediction for
a query row is read from its label token and compared with a per-class key built from the
context label tokens of that class, so the head has no fixed number of classes and is
equivariant to relabelling.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from autometa.fewshot._encoder import CellEncoder, EpisodeModel, TwoWayBlock, class_means

#: Named sizes: S ~0.5M and M ~2M parameters (weights stored in float16: M < 5 MB).
SIZES: dict[str, dict] = {
    "tiny": {"d_model": 32, "n_layers": 2, "n_heads": 4},
    "S": {"d_model": 96, "n_layers": 4, "n_heads": 4},
    "M": {"d_model": 160, "n_layers": 6, "n_heads": 8},
}


class PFN(EpisodeModel):
    """In-context transformer over (rows x (columns + label)) token grids.

    Parameters
    ----------
    d_model : int
    n_layers : int
    n_heads : int
    d_id : int
        Width of column/class identity vectors.
    """

    method = "pfn"

    def __init__(
        self, d_model: int = 96, n_layers: int = 4, n_heads: int = 4, d_id: int = 16
    ) -> None:
        super().__init__()
        self.config = {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads, "d_id": d_id}
        self.d_id = d_id
        self.cells = CellEncoder(d_model, d_id)
        self.label_in = nn.Linear(d_id, d_model)
        self.unknown = nn.Parameter(torch.randn(d_model) * 0.02)
        self.blocks = nn.ModuleList(
            TwoWayBlock(d_model, n_heads, rows=True) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.q_head = nn.Sequential(
            nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model)
        )
        self.k_head = nn.Linear(d_model, d_model)
        self.k_id = nn.Linear(d_id, d_model, bias=False)
        self.log_temp = nn.Parameter(torch.zeros(()))

    def episode_logits(self, z, miss, feat_ids, class_ids, y_ctx, n_classes):
        B, N, _ = z.shape
        n_ctx = y_ctx.shape[1]
        cells = self.cells(z, miss, feat_ids)  # (B, N, F, d)
        lab_ctx = self.label_in(
            torch.gather(class_ids, 1, y_ctx[..., None].expand(-1, -1, self.d_id))
        )
        lab_qry = self.unknown.expand(B, N - n_ctx, -1)
        lab = torch.cat([lab_ctx, lab_qry.to(lab_ctx.dtype)], 1)[:, :, None]  # (B, N, 1, d)
        h = torch.cat([cells, lab.to(cells.dtype)], 2)
        for blk in self.blocks:
            h = blk(h, n_ctx)
        out = self.norm(h[:, :, -1])  # label tokens (B, N, d)
        q = self.q_head(out[:, n_ctx:])
        k = self.k_head(class_means(out[:, :n_ctx], y_ctx, n_classes)) + self.k_id(class_ids)
        scale = torch.exp(self.log_temp) / math.sqrt(q.shape[-1])
        return torch.einsum("bqd,bcd->bqc", q, k) * scale
