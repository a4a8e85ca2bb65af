"""The paper's learning-rate schedule (linear warm-up, exponential decay), scaled to any length.

The MPMv2 paper trains 1M steps with a 50k-step warm-up and a 100k-step half-life; a shorter run
keeps the same shape by scaling both to the step count (5 % warm-up, half-life 10 % of the steps).
Very short runs may ask for a longer half-life: at 400 steps a 10 % half-life leaves the second
half of the run below 3 % of the peak learning rate, i.e. mostly wasted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

PAPER_STEPS = 1_000_000
PAPER_WARMUP = 50_000
PAPER_HALF_LIFE = 100_000
PAPER_LR = 1e-3


@dataclass(frozen=True)
class WarmupExpDecay:
    """lr of 0-based update `step`: linear ramp to `base_lr`, then halving every `half_life`."""

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
