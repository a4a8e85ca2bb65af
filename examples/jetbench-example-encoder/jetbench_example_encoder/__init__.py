"""A DeepSets jet encoder as a jetbench plug-in: the smallest complete example of the contract.

What jetbench needs from an encoder (jetbench's docs/design.md, 'Encoders'; checked by `jetbench validate-encoder`):
- subclass `jetbench.encoders.Encoder`, set `embed_dim` and `name`;
- `encode(batch) -> (jet [B, D], tokens [B, P, D], mask [B, P])` on the tensor batch
  {"csts": float32 [B, P, 7] raw features, "csts_id": int64 [B, P], "mask": bool [B, P]};
- tokens permutation-equivariant, jet embedding permutation-invariant, padding ignored;
- `get_config()` returning the constructor arguments, so checkpoints can rebuild the module;
- a factory `fn(scale="cpu", **overrides) -> Encoder`, registered as an entry point in the
  group `jetbench.encoders` (see pyproject.toml).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jetbench.encoders import Encoder

__all__ = ["ExampleDeepSets", "example_deepsets"]

# model size per jetbench scale (smoke = tests, cpu = laptop minutes, paper = GPU)
SIZES: dict[str, dict[str, int]] = {
    "smoke": {"dim": 32, "depth": 1, "hidden": 64},
    "cpu": {"dim": 64, "depth": 2, "hidden": 128},
    "paper": {"dim": 256, "depth": 4, "hidden": 512},
}


def scale_inputs(csts: Tensor, mask: Tensor) -> Tensor:
    """Fixed, hand-chosen scaling of the raw canonical features to O(1) numbers.

    The reference encoders fit a quantile transform instead; a fixed map keeps this example free
    of any fitting step. Padded slots are zeroed first so their content can never leak in.
    """
    x = torch.where(mask.unsqueeze(-1), csts.float(), torch.zeros_like(csts, dtype=torch.float32))
    pt = torch.log(x[..., 0].clamp(min=1e-3))  # pT [GeV] -> log
    angles = x[..., 1:3] * 5.0  # deta, dphi: O(0.2) -> O(1)
    ip = torch.asinh(x[..., 3::2] / 0.05)  # d0, z0 [mm], signed
    ip_err = torch.log1p(x[..., 4::2] / 0.01)  # their uncertainties
    out = torch.cat([pt.unsqueeze(-1), angles, ip, ip_err], dim=-1)
    return out * mask.unsqueeze(-1)


class EquivariantBlock(nn.Module):
    """h_i <- h_i + MLP([h_i, mean_j h_j]): each particle sees the set through its mean only."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        m = mask.unsqueeze(-1).to(h.dtype)
        z = self.norm(h)
        mean = (z * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1.0)
        return (h + self.mlp(torch.cat([z, mean.expand_as(z)], dim=-1))) * m


class ExampleDeepSets(Encoder):
    """DeepSets encoder: per-particle embedding, equivariant blocks, masked-mean jet embedding."""

    license = "MIT"
    pretraining_data: tuple[str, ...] = ()  # trained from scratch downstream

    def __init__(self, name: str = "example_deepsets", dim: int = 64, depth: int = 2,
                 hidden: int = 128) -> None:
        super().__init__()
        self.name = name
        self.embed_dim = dim
        self._config = {"name": name, "dim": dim, "depth": depth, "hidden": hidden}
        self.features = nn.Sequential(nn.Linear(7, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ids = nn.Embedding(8, dim)
        self.blocks = nn.ModuleList(EquivariantBlock(dim, hidden) for _ in range(depth))
        self.out_norm = nn.LayerNorm(dim)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        mask = batch["mask"].bool()
        ids = batch["csts_id"].long().clamp(0, 7)
        m = mask.unsqueeze(-1).float()
        h = (self.features(scale_inputs(batch["csts"], mask)) + self.ids(ids)) * m
        for block in self.blocks:
            h = block(h, mask)
        tokens = self.out_norm(h) * m
        jet = tokens.sum(1) / m.sum(1).clamp(min=1.0)
        return jet, tokens, mask


def example_deepsets(scale: str = "cpu", weights: str | None = None,
                     **overrides: Any) -> ExampleDeepSets:
    """The entry-point factory: size by jetbench scale, keyword overrides, optional weights.

    `weights` is a safetensors file of this module's state dict (for example your pretrained
    model); without it the encoder starts from a seeded random initialisation.
    """
    if scale not in SIZES:
        raise ValueError(f"unknown scale '{scale}'; known: {', '.join(SIZES)}")
    torch.manual_seed(0)  # the same initial weights every time: reproducible results
    model = ExampleDeepSets(**{**SIZES[scale], **overrides})
    if weights is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(weights))
    return model
