"""Prototypical networks on the shared cell encoder (metric-based few-shot learning).

Rows are embedded independently (cells -> attention across columns -> mean over
columns); a class prototype is the mean embedding of its context rows; a query row's
logits are negative squared distances to the prototypes, scaled by a learned temperature.
"""

from __future__ import annotations

import torch
from torch import nn

from autometa.fewshot._encoder import EpisodeModel, RowEncoder, class_means

SIZES: dict[str, dict] = {
    "tiny": {"d_model": 32, "n_layers": 1, "n_heads": 4},
    "S": {"d_model": 96, "n_layers": 3, "n_heads": 4},
    "M": {"d_model": 160, "n_layers": 4, "n_heads": 8},
}


class ProtoNet(EpisodeModel):
    """Prototypical network.

    Parameters
    ----------
    d_model, n_layers, n_heads, d_id : int
        Row-encoder sizes (see :class:`autometa.fewshot._encoder.RowEncoder`).
    """

    method = "protonet"

    def __init__(
        self, d_model: int = 96, n_layers: int = 3, n_heads: int = 4, d_id: int = 16
    ) -> None:
        super().__init__()
        self.config = {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads, "d_id": d_id}
        self.d_id = d_id
        self.encoder = RowEncoder(d_model, n_layers, n_heads, d_id)
        self.log_temp = nn.Parameter(torch.zeros(()))

    def episode_logits(self, z, miss, feat_ids, class_ids, y_ctx, n_classes):
        n_ctx = y_ctx.shape[1]
        e = self.encoder(z, miss, feat_ids)  # (B, N, d)
        protos = class_means(e[:, :n_ctx], y_ctx, n_classes)  # (B, C, d)
        d2 = torch.cdist(e[:, n_ctx:].float(), protos.float()) ** 2
        return -d2 * torch.exp(self.log_temp) / e.shape[-1] ** 0.5
