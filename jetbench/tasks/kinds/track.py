"""`track_class`: one label per track (its origin: primary, c, b, other)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jetbench.core.errors import JetbenchError
from jetbench.data.format import TRACK_TYPES, JetBatch
from jetbench.tasks.heads import TrackHead
from jetbench.tasks.kinds.base import TaskKind

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec

# inverse-frequency weights of the four track origins (paper 2), used when a 4-class task names none
TRACK_CLASS_WEIGHTS = (0.3868, 1.4342, 3.3482, 2.3896)


class TrackLoss(nn.Module):
    """Weighted cross-entropy over real tracks (padding ignored)."""

    def __init__(self, weights: tuple[float, ...] | None, smoothing: float) -> None:
        super().__init__()
        self.smoothing = smoothing
        w = None if weights is None else torch.tensor(weights, dtype=torch.float32)
        self.register_buffer("weights", w)

    def forward(self, out: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        t = targets.long().masked_fill(~mask, -1)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1), weight=self.weights,
                               ignore_index=-1, label_smoothing=self.smoothing)


def per_track_targets(spec: TaskSpec, batch: JetBatch, key: str) -> np.ndarray:
    """Per-track truth `key` of the batch with -1 on padding."""
    arr = getattr(batch, key)
    if arr is None:
        raise JetbenchError(f"task '{spec.name}' needs '{key}' in the batch (track datasets)")
    return np.where(batch.mask, arr, -1).astype(np.int64)


def pad_slots(scores: torch.Tensor, n_slots: int, dims: int) -> torch.Tensor:
    """Zero-pad the last `dims` slot axes (before any class axis) up to `n_slots`."""
    pad = n_slots - scores.shape[1]
    return F.pad(scores, (0, 0, 0, pad) if dims == 1 else (0, pad, 0, pad))


class TrackKind(TaskKind):
    head = "track_class"
    unit = "track"
    losses = ("cross_entropy",)
    needs_tracks = True

    @classmethod
    def labels(cls, spec: TaskSpec) -> tuple[str, ...]:
        return TRACK_TYPES

    def targets(self, batch: JetBatch) -> np.ndarray:
        return per_track_targets(self.spec, batch, "track_type")

    def build_head(self, in_dim: int, linear: bool = False) -> nn.Module:
        return TrackHead(in_dim, self.spec.n_classes, linear=linear)

    def loss(self) -> nn.Module:
        weights = self.spec.loss.class_weights
        if weights is None and self.spec.n_classes == len(TRACK_CLASS_WEIGHTS):
            weights = TRACK_CLASS_WEIGHTS
        return TrackLoss(weights, float(self.spec.loss.label_smoothing))

    def to_scores(self, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=-1) * mask[..., None]

    def pad_scores(self, scores: torch.Tensor, n_slots: int) -> torch.Tensor:
        return pad_slots(scores, n_slots, dims=1)

    def shapes(self, n: int, p: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        return (n, p), [(n, p, self.spec.n_classes)]
