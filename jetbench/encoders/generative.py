"""Generative MPMv2 targets: the conditional density of a dropped particle's 7 features.

`flow` (mpm_flow, the paper's CNF): rational-quadratic spline coupling flow from zuko — a MAF with
two passes (= coupling: one half of the features conditions the other, alternating), 8 bins.
zuko's spline is the identity outside [-bound, bound] (linear tails); the paper's "tail bound 4"
is realised by `MonotonicRQSTransform(bound=4)`. The context is Linear(decoder output -> 128).
Loss = NLL (nats per particle) after dequantisation noise 0.05·N(0, 1) on the four
impact-parameter features (training mode only); always computed in fp32 with autocast disabled.

`cfm`: conditional flow matching, x_t = (1 - t) x + t ε with t = sigmoid(N(0, 1)), loss
‖v(x_t, t, c) - (ε - x)‖² summed over the features, a residual MLP velocity field with a
sinusoidal time embedding.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import zuko
from torch import Tensor, nn
from zuko.transforms import MonotonicRQSTransform

from jetbench.encoders.targets import N_FEATURES, Target

IMPACT = slice(3, 7)


class FlowTarget(Target):
    kind = "flow"

    def __init__(
        self,
        in_dim: int,
        context: int = 128,
        transforms: int = 6,
        bins: int = 8,
        bound: float = 4.0,
        hidden: list[int] | tuple[int, ...] = (128, 128),
        dequant: float = 0.05,
    ) -> None:
        super().__init__()
        self.dequant = dequant
        self.context = nn.Linear(in_dim, context)
        self.flow = zuko.flows.MAF(
            features=N_FEATURES,
            context=context,
            transforms=transforms,
            passes=2,
            univariate=partial(MonotonicRQSTransform, bound=float(bound)),
            shapes=[(bins,), (bins,), (bins - 1,)],
            hidden_features=tuple(hidden),
        )

    def loss(self, h: Tensor, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, float]]:
        device_type = h.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            x = x.float()
            if self.training and self.dequant > 0:
                noise = torch.zeros_like(x)
                noise[:, IMPACT] = self.dequant * torch.randn_like(x[:, IMPACT])
                x = x + noise
            nll = -self.flow(self.context(h.float())).log_prob(x).mean()
        return nll, {"flow_nll": float(nll.detach())}


def time_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of t in [0, 1] -> [M, dim]."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(10000.0) / half))
    angles = 1000.0 * t.float()[:, None] * freqs[None]  # transformer-style, t scaled to [0, 1000]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class _ResBlock(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.net = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.time = nn.Linear(hidden, hidden)

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        return x + self.net(self.norm(x) + self.time(temb))


class VelocityMLP(nn.Module):
    """v(x_t, t, c): input projection, residual blocks with time injection, linear output."""

    def __init__(self, features: int, context: int, hidden: int = 128, blocks: int = 3, time_dim: int = 32) -> None:
        super().__init__()
        self.time_dim = time_dim
        self.time = nn.Sequential(nn.Linear(time_dim, hidden), nn.SiLU())
        self.inp = nn.Linear(features + context, hidden)
        self.blocks = nn.ModuleList(_ResBlock(hidden) for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, features))

    def forward(self, xt: Tensor, t: Tensor, c: Tensor) -> Tensor:
        temb = self.time(time_embedding(t, self.time_dim))
        h = self.inp(torch.cat([xt, c], dim=-1))
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h)


def flow_matching_loss(net: nn.Module, x: Tensor, *cond: Tensor) -> Tensor:
    """Per-row ‖v(x_t, t, *cond) - (ε - x)‖² with t = sigmoid(N(0, 1)) (rectified-flow path)."""
    t = torch.sigmoid(torch.randn(x.shape[0], device=x.device))
    eps = torch.randn_like(x)
    tt = t.view(-1, *([1] * (x.dim() - 1)))
    xt = (1 - tt) * x + tt * eps
    v = net(xt, t, *cond)
    return ((v - (eps - x)) ** 2).sum(-1)


class CFMTarget(Target):
    kind = "cfm"

    def __init__(
        self,
        in_dim: int,
        context: int = 128,
        hidden: int = 128,
        blocks: int = 3,
        time_dim: int = 32,
    ) -> None:
        super().__init__()
        self.context = nn.Linear(in_dim, context)
        self.velocity = VelocityMLP(N_FEATURES, context, hidden, blocks, time_dim)

    def loss(self, h: Tensor, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, float]]:
        value = flow_matching_loss(self.velocity, x.float(), self.context(h)).mean()
        return value, {"cfm_mse": float(value.detach())}
