"""SSFM (paper 2): set-to-set flow matching.

A random fraction f ~ U(0.2, 1.0) of each jet's particles is dropped; the backbone encodes the kept
set (plus registers). A time-conditioned transformer generator — adaLN-Zero modulation from the
flow time, self-attention among the dropped particles, cross-attention to the encoder's latent set
— regresses the flow-matching velocity of the whole dropped set, each particle represented as
[7 transformed features ‖ one-hot id]. No mask or null tokens: the generator's own noisy inputs
stand for the dropped particles. Loss = mean over dropped particles of ‖v - (ε - y)‖².
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jetbench.core.scales import PerScale
from jetbench.core.sets import compact, gather, random_subset
from jetbench.encoders.backbone import Attention, SwiGLU, safe_key_mask
from jetbench.encoders.base import Batch
from jetbench.encoders.generative import flow_matching_loss, time_embedding
from jetbench.encoders.model import BACKBONE_SCALES, N_FEATURES, N_IDS, SetEncoder
from jetbench.encoders.registry import register_variant


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class AdaLNBlock(nn.Module):
    """Self-attention, cross-attention and SwiGLU, each pre-normed and modulated by the time."""

    def __init__(self, dim: int, heads: int, context_dim: int, ff_mult: int = 2) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(dim, elementwise_affine=False) for _ in range(3))
        self.self_attn = Attention(dim, heads)
        self.cross_attn = Attention(dim, heads, context_dim=context_dim)
        self.ff = SwiGLU(dim, ff_mult * dim)
        self.ada = nn.Linear(dim, 9 * dim)  # (shift, scale, gate) x 3 sublayers
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: Tensor, cond: Tensor, valid: Tensor, context: Tensor, context_mask: Tensor) -> Tensor:
        m = self.ada(cond).chunk(9, dim=-1)
        h = _modulate(self.norms[0](x), m[0], m[1])
        x = x + m[2].unsqueeze(1) * self.self_attn(h, valid)
        h = _modulate(self.norms[1](x), m[3], m[4])
        x = x + m[5].unsqueeze(1) * self.cross_attn(h, context_mask, context=context)
        h = _modulate(self.norms[2](x), m[6], m[7])
        return x + m[8].unsqueeze(1) * self.ff(h)


class SetGenerator(nn.Module):
    """v(y_t [B, m, F], t [B], context [B, n, d]) for a padded set of m particles."""

    def __init__(self, features: int, dim: int, depth: int, heads: int, context_dim: int, time_dim: int = 32) -> None:
        super().__init__()
        self.time_dim = time_dim
        self.time = nn.Sequential(nn.Linear(time_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.inp = nn.Linear(features, dim)
        self.blocks = nn.ModuleList(AdaLNBlock(dim, heads, context_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.out = nn.Linear(dim, features)

    def forward(self, yt: Tensor, t: Tensor, valid: Tensor, context: Tensor, context_mask: Tensor) -> Tensor:
        cond = self.time(time_embedding(t, self.time_dim))
        h = self.inp(yt)
        valid = safe_key_mask(valid)
        for block in self.blocks:
            h = block(h, cond, valid, context, context_mask)
        return self.out(self.norm(h))


class SSFM(SetEncoder):
    """SSFM: the backbone learns by letting a flow-matching generator rebuild the dropped set."""

    def __init__(
        self,
        name: str,
        gen_dim: int = 128,
        gen_depth: int = 2,
        gen_heads: int = 4,
        time_dim: int = 32,
        frac_low: float = 0.2,
        frac_high: float = 1.0,
        **backbone: Any,
    ) -> None:
        super().__init__(name, **backbone)
        if not 0.0 < frac_low <= frac_high <= 1.0:
            raise ValueError(f"mask fractions must satisfy 0 < low <= high <= 1, got {frac_low}, {frac_high}")
        self.frac_low, self.frac_high = frac_low, frac_high
        self.generator = SetGenerator(N_FEATURES + N_IDS, gen_dim, gen_depth, gen_heads, self.embed_dim, time_dim)

    def pretrain_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        x, ids, mask = self.inputs(batch)
        B = mask.shape[0]
        frac = self.frac_low + (self.frac_high - self.frac_low) * torch.rand(B, device=mask.device)
        drop = random_subset(mask, frac)
        kept = mask & ~drop
        tokens, registers, _, valid = self.run_backbone(self.embed(x, ids, kept), kept)
        context = torch.cat([registers, tokens], dim=1)
        context_mask = torch.cat([valid.new_ones((B, registers.shape[1])), valid], dim=1)
        idx, dvalid = compact(drop)
        y = torch.cat([x, F.one_hot(ids, N_IDS).to(x.dtype)], dim=-1)
        per_particle = flow_matching_loss(self._velocity, gather(y, idx), dvalid, context, context_mask)
        w = dvalid.to(per_particle.dtype)
        loss = (per_particle * w).sum() / w.sum().clamp(min=1)
        return loss, {
            "loss": float(loss.detach()),
            "fm_mse": float(loss.detach()),
            "drop_frac": float(drop.sum() / mask.sum()),
        }

    def _velocity(self, yt: Tensor, t: Tensor, valid: Tensor, context: Tensor, context_mask: Tensor) -> Tensor:
        return self.generator(yt, t, valid, context, context_mask)


GENERATOR_SCALES = PerScale({  # paper: 4 layers, 8 heads, dim 256
    "smoke": {"gen_dim": 32, "gen_depth": 1, "gen_heads": 2, "time_dim": 16},
    "cpu": {"gen_dim": 128, "gen_depth": 2, "gen_heads": 4, "time_dim": 32},
    "paper": {"gen_dim": 256, "gen_depth": 4, "gen_heads": 8, "time_dim": 32},
}, "SSFM generator")


ssfm = register_variant(SSFM, "ssfm", BACKBONE_SCALES, GENERATOR_SCALES, frac_low=0.2, frac_high=1.0)
