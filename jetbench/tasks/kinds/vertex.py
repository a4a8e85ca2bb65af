"""`vertex_pair`: is each pair of tracks from the same vertex? (secondary-vertex finding)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jetbench.data.format import JetBatch
from jetbench.tasks.heads import PairHead, pair_index
from jetbench.tasks.kinds.base import TaskKind
from jetbench.tasks.kinds.track import pad_slots, per_track_targets

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 3.0,
               alpha: float | None = None) -> torch.Tensor:
    """Binary focal loss (mean): down-weights the many easy 'different vertex' pairs."""
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None and alpha >= 0:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return loss.mean()


class PairLoss(nn.Module):
    """Focal loss over the upper-triangle pairs of real tracks; target = same vertex id.

    `flat_targets` / `flat_loss` are the same loss on flat pair logits in `pair_index` order (the
    design hooks of `jetbench.protocols.linear_fit`, paired with `PairHead.design`)."""

    def __init__(self, gamma: float, alpha: float | None) -> None:
        super().__init__()
        self.gamma, self.alpha = gamma, alpha

    def flat_targets(self, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Same-vertex 0/1 per real upper-triangle pair, in `pair_index(mask)` order."""
        b, i, j = pair_index(mask)
        return (targets[b, i] == targets[b, j]).float()

    def flat_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of flat pair logits against `flat_targets`."""
        return focal_loss(logits, target, self.gamma, self.alpha)

    def forward(self, out: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, i, j = pair_index(mask)
        return self.flat_loss(out[b, i, j], (targets[b, i] == targets[b, j]).float())


class VertexKind(TaskKind):
    head = "vertex_pair"
    unit = "vertex"
    losses = ("focal",)
    needs_tracks = True

    @classmethod
    def labels(cls, spec: TaskSpec) -> tuple[str, ...]:
        return ("different_vertex", "same_vertex")

    def targets(self, batch: JetBatch) -> np.ndarray:
        """Vertex ids per track; the pair target (same id) is formed by the loss and metrics."""
        return per_track_targets(self.spec, batch, "vtx_id")

    def build_head(self, in_dim: int, linear: bool = False) -> nn.Module:
        return PairHead(in_dim, linear=linear)

    def loss(self) -> nn.Module:
        gamma = self.spec.loss.gamma
        return PairLoss(3.0 if gamma is None else float(gamma), self.spec.loss.alpha)

    def to_scores(self, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = mask[:, :, None] & mask[:, None, :]
        valid &= ~torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
        return torch.sigmoid(out) * valid

    def pad_scores(self, scores: torch.Tensor, n_slots: int) -> torch.Tensor:
        return pad_slots(scores, n_slots, dims=2)

    def shapes(self, n: int, p: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        return (n, p), [(n, p, p)]
