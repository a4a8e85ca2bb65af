"""A tiny PretrainableEncoder for the pretraining-loop tests (fast, and exactly reproducible).

`mask_mode="rng"` draws the mask from the global torch RNG (exercises RNG checkpointing);
`mask_mode="content"` derives it from each particle's own features, so the draw of a jet does not
depend on which process or batch it lands in (exercises DDP equivalence).
"""

from __future__ import annotations

import torch
from torch import nn

from jetbench.encoders.base import Encoder, PretrainableEncoder, check_batch

# tests set {"at": k, "how": "error" | "sigint" | "nan"}: interrupt a run in its k-th pretrain_loss
# call (an exception, a Ctrl-C, or a NaN loss from then on)
INTERRUPT: dict = {}


class ToyEncoder(PretrainableEncoder):
    def __init__(self, dim: int = 16, mask_mode: str = "rng", dropout: float = 0.0, name: str = "toy"):
        super().__init__()
        self.name, self.embed_dim, self.mask_mode = name, dim, mask_mode
        self._config = {"dim": dim, "mask_mode": mask_mode, "dropout": dropout, "name": name}
        self.register_buffer("mu", torch.zeros(7))
        self.register_buffer("sigma", torch.ones(7))
        self.feat = nn.Sequential(nn.Linear(7, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.ids = nn.Embedding(8, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        self.unused = nn.Linear(dim, dim)  # never touched by pretrain_loss: DDP must tolerate it
        self.out = nn.Linear(dim, 7)
        self.calls = 0

    def fit_preprocessing(self, sample, seed):
        real = torch.from_numpy(sample.csts[sample.mask])
        self.mu.copy_(real.mean(0))
        self.sigma.copy_(real.std(0).clamp_min(1e-3))

    def _tokens(self, batch, hide=None):
        csts, ids, mask = check_batch(batch)
        x = (csts - self.mu) / self.sigma
        h = self.feat(x) + self.ids(ids)
        if hide is not None:
            h = torch.where(hide.unsqueeze(-1), self.mask_token.expand_as(h), h)
        return x, h * mask.unsqueeze(-1), mask

    def encode(self, batch):
        _, h, mask = self._tokens(batch)
        jet = h.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return jet, h, mask

    def _hide(self, batch):
        mask = batch["mask"]
        if self.mask_mode == "rng":
            u = torch.rand(mask.shape, device=mask.device)
        else:  # a pseudo-random number fixed by the particle's own features
            u = torch.frac(torch.sin(batch["csts"].sum(-1) * 12.9898 + 0.5) * 43758.5453).abs()
        return (u < 0.3) & mask

    def pretrain_loss(self, batch):
        self.calls += 1
        poison = INTERRUPT.get("how") == "nan" and self.calls >= INTERRUPT["at"]
        if INTERRUPT.get("at") == self.calls and not poison:
            if INTERRUPT["how"] == "sigint":  # like Ctrl-C: the loop finishes this step, then stops
                import os
                import signal

                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise RuntimeError("power cut")
        hide = self._hide(batch)
        x, h, mask = self._tokens(batch, hide)
        context = h.sum(1, keepdim=True) / mask.sum(1, keepdim=True).unsqueeze(-1).clamp_min(1)
        pred = self.out(h + context)
        err = ((pred - x) ** 2).mean(-1) * hide
        per_jet = err.sum(1) / hide.sum(1).clamp_min(1)
        loss = per_jet.mean() * (float("nan") if poison else 1.0)
        return loss, {"masked_frac": float(hide.sum() / mask.sum())}


def make_toy(scale: str = "smoke", **overrides) -> ToyEncoder:
    return ToyEncoder(**overrides)


def make_toy_content(scale: str = "smoke", **overrides) -> ToyEncoder:
    return ToyEncoder(mask_mode="content", **overrides)


class PlainEncoder(Encoder):
    """Ready to encode, nothing to pretrain (a plug-in shipped with its own weights)."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.embed_dim, self._config = dim, {"dim": dim}
        self.lin = nn.Linear(7, dim)

    def encode(self, batch):
        csts, _, mask = check_batch(batch)
        tokens = self.lin(csts) * mask.unsqueeze(-1)
        return tokens.sum(1) / mask.sum(1, keepdim=True).clamp_min(1), tokens, mask


def make_plain(scale: str = "smoke", **overrides) -> PlainEncoder:
    return PlainEncoder(**overrides)
