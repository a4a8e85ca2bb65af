"""Detached online linear probe: jet-label accuracy of the current embedding during pretraining.

A Linear layer on `jet_embedding.detach()` learns the jet labels of the pretraining batches with its
own optimizer, as the MPM papers monitored their runs. The embedding is computed without autograd
and detached, so the encoder never receives a gradient from the labels: pretraining stays
self-supervised. Under DDP the probe gradients and counts are averaged over ranks, so every rank
holds the same probe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jetbench.core import distributed
from jetbench.core.optim import adamw


class OnlineProbe(nn.Module):
    """Linear probe with its own AdamW; `update` trains it on one batch and counts hits."""

    def __init__(self, embed_dim: int, n_classes: int, lr: float = 1e-2):
        super().__init__()
        self.linear = nn.Linear(embed_dim, n_classes)
        self.optimizer = adamw(self.linear.parameters(), lr, weight_decay=0.0, fused=True)
        self.correct = 0.0
        self.total = 0.0

    def update(self, jet_embedding: torch.Tensor, labels: torch.Tensor) -> float:
        """One probe step on `jet_embedding` (detached here); returns the probe loss."""
        x = jet_embedding.detach().float()
        with torch.enable_grad():
            logits = self.linear(x)
            loss = F.cross_entropy(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        distributed.average_gradients(self.linear.parameters())
        self.optimizer.step()
        hits = torch.stack(
            [
                (logits.argmax(-1) == labels).sum().float(),
                torch.tensor(float(len(labels)), device=labels.device),
            ]
        )
        hits = distributed.sum_tensor(hits.detach())
        self.correct += float(hits[0])
        self.total += float(hits[1])
        return float(loss.detach())

    def pop_accuracy(self) -> float | None:
        """Running accuracy since the last call (None if the probe saw no jets), then reset."""
        if self.total == 0:
            return None
        acc = self.correct / self.total
        self.correct = self.total = 0.0
        return acc

    def train_state(self) -> dict:
        return {
            "linear": self.linear.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "correct": self.correct,
            "total": self.total,
        }

    def load_train_state(self, state: dict) -> None:
        self.linear.load_state_dict(state["linear"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.correct, self.total = float(state["correct"]), float(state["total"])
