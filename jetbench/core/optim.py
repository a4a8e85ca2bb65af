"""The optimiser toolkit shared by pretraining and the protocols: AdamW, learning-rate schedules
(warm-up + cosine, warm-up + exponential decay) and early stopping.

Each piece reproduces exactly what the training loops did before they shared it, float for float
(tests/test_numerics_pinned.py): pretraining uses the fused AdamW kernel, protocol training the
default implementation its committed results were measured with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch

PAPER_STEPS = 1_000_000
PAPER_WARMUP = 50_000
PAPER_HALF_LIFE = 100_000
PAPER_LR = 1e-3


def adamw(params: Iterable[Any], lr: float, weight_decay: float,
          fused: bool = False) -> torch.optim.AdamW:
    """AdamW over parameters or parameter groups; `fused` uses the fused kernel where this torch
    build has one (several times faster on CPU) and falls back to the default otherwise.

    Protocols keep `fused=False`: switching changes float rounding, i.e. their results.
    """
    params = list(params)
    if fused:
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, floor: float = 0.01) -> float:
    """LR factor of 0-based `step`: linear warm-up, then cosine from 1 down to `floor`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    t = min((step - warmup_steps) / span, 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass(frozen=True)
class WarmupExpDecay:
    """The MPM papers' schedule: linear ramp to `base_lr`, then halving every `half_life` steps.

    The MPMv2 paper trains 1M steps with a 50k-step warm-up and a 100k-step half-life; a shorter
    run keeps the same shape by scaling both to the step count (5 % warm-up, half-life 10 % of
    the steps). Very short runs may ask for a longer half-life: at 400 steps a 10 % half-life
    leaves the second half of the run below 3 % of the peak learning rate, i.e. mostly wasted.
    """

    base_lr: float
    warmup_steps: int
    half_life: int

    @classmethod
    def scaled(cls, total_steps: int, base_lr: float = PAPER_LR,
               half_life_fraction: float = PAPER_HALF_LIFE / PAPER_STEPS) -> WarmupExpDecay:
        """The paper schedule shrunk (or stretched) proportionally to `total_steps`."""
        warmup = max(1, round(total_steps * PAPER_WARMUP / PAPER_STEPS))
        half_life = max(1, round(total_steps * half_life_fraction))
        return cls(base_lr=base_lr, warmup_steps=warmup, half_life=half_life)

    def lr(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        return self.base_lr * 0.5 ** ((step - self.warmup_steps) / self.half_life)

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set the learning rate of every parameter group for update `step`; return it."""
        lr = self.lr(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def to_dict(self) -> dict:
        return asdict(self)


class EarlyStopping:
    """Tracks the best validation loss; `exhausted` after `patience` evaluations without an
    improvement of more than `min_delta`."""

    def __init__(self, patience: int, min_delta: float = 1e-6) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_step, self.bad = float("inf"), 0, 0

    def update(self, value: float, step: int) -> bool:
        """Record an evaluation; True if it is a new best (the caller keeps those weights)."""
        if value < self.best - self.min_delta:
            self.best, self.best_step, self.bad = value, step, 0
            return True
        self.bad += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.bad >= self.patience
