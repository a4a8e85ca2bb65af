"""`SetEncoder`: input transform + feature/id embedding + backbone = every MPM encode path.

MPMv1, MPMv2, SSFM and the baselines subclass it and add only their pretraining objective, so
they share one definition of how a jet becomes embeddings (and one checkpoint layout).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jetbench.core.errors import JetbenchError
from jetbench.core.scales import PerScale
from jetbench.core.sets import compact, gather, scatter
from jetbench.data.format import JetBatch
from jetbench.encoders.backbone import Backbone
from jetbench.encoders.base import Batch, PretrainableEncoder, check_batch, tensor_batch
from jetbench.encoders.transform import QuantileInputTransform

# backbone width/depth/heads per scale (docs/design.md, 'Encoders': paper 2 = 512 x 8 x 8, CPU default 128 x 4 x 4).
# cpu: LayerScale starts at 0.1, not 1e-3. With 1e-3 the four blocks begin as near-identities and a
# short run spends its first thousand steps growing them: mpm_reg pretrained for 900 steps of 128
# jets (15 CPU-minutes) reached a JetClass linear probe of 0.492 with 1e-3 and 0.540 with 0.1
# (random init: 0.395 / 0.443; held-out train+val jets, docs/pretraining.md). Deep paper-scale
# stacks keep the small init that keeps them stable.
BACKBONE_SCALES: PerScale[dict[str, Any]] = PerScale({
    "smoke": {"dim": 32, "depth": 2, "heads": 2},
    "cpu": {"dim": 128, "depth": 4, "heads": 4, "layerscale_init": 0.1},
    "paper": {"dim": 512, "depth": 8, "heads": 8},
}, "backbone")
N_IDS = 8
N_FEATURES = 7


class SetEncoder(PretrainableEncoder):
    """Jet -> (mean of real tokens and registers, per-particle tokens, mask).

    Only real particles enter the transformer: the batch is compacted to the longest jet and the
    tokens are scattered back to the P input slots, so extra padding changes nothing.
    """

    def __init__(
        self,
        name: str,
        dim: int,
        depth: int,
        heads: int,
        n_registers: int = 8,
        ff_mult: int = 2,
        layerscale_init: float = 1e-3,
        n_quantiles: int = 500,
        max_particles: int = 128,
        pretraining_data: tuple[str, ...] | list[str] = ("jetclass",),
    ) -> None:
        super().__init__()
        self.name = name
        self.embed_dim = dim
        self.max_particles = max_particles
        self.pretraining_data = tuple(pretraining_data)
        self.transform = QuantileInputTransform(N_FEATURES, n_quantiles)
        self.feat_embed = nn.Linear(N_FEATURES, dim)
        self.id_embed = nn.Embedding(N_IDS, dim)
        self.backbone = Backbone(dim, depth, heads, n_registers, ff_mult, layerscale_init)

    # -- encode path ---------------------------------------------------------------------------
    def inputs(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(transformed features [B, n, 7], ids [B, n], mask [B, n]), real particles compacted.

        Real particles keep their relative order and move to the front; n = the longest jet, so
        no later step spends compute on padding columns.
        """
        return self.compact_inputs(batch, generator)[:3]

    def compact_inputs(
        self, batch: Batch, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """`inputs` plus the slot index [B, n] of every compacted entry (to scatter back)."""
        csts, ids, mask = check_batch(batch, N_FEATURES)
        idx, valid = compact(mask)
        ids = gather(ids, idx)
        x = self.transform(gather(csts, idx), ids, valid, generator)
        return x, ids, valid, idx

    def embed(self, x: Tensor, ids: Tensor, mask: Tensor) -> Tensor:
        """Per-particle input embedding [B, P, d] (subclasses may add position information)."""
        return self.feat_embed(x) + self.id_embed(ids)

    def run_backbone(self, emb: Tensor, select: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Backbone on the selected slots only: (tokens [B, n, d], registers, idx [B, n], valid)."""
        idx, valid = compact(select)
        tokens, registers = self.backbone(gather(emb, idx), valid)
        return tokens, registers, idx, valid

    @staticmethod
    def pool(tokens: Tensor, valid: Tensor, registers: Tensor) -> Tensor:
        """Mean over real tokens and registers: permutation invariant, defined for empty jets."""
        w = valid.unsqueeze(-1).to(tokens.dtype)
        total = (tokens * w).sum(1) + registers.sum(1)
        return total / (w.sum(1) + registers.shape[1])

    def encode(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        x, ids, valid, idx = self.compact_inputs(batch)
        tokens, registers = self.backbone(self.embed(x, ids, valid), valid)
        jet = self.pool(tokens, valid, registers)
        mask = batch["mask"].bool()
        return jet, scatter(tokens, idx, valid, mask.shape[1]), mask

    def encoder_parameters(self) -> list[nn.Parameter]:
        mods = (self.feat_embed, self.id_embed, self.backbone) + tuple(self._extra_encode_modules())
        return [p for m in mods for p in m.parameters()]

    def _extra_encode_modules(self) -> tuple[nn.Module, ...]:
        return ()

    # -- pretraining hooks -------------------------------------------------------------------
    def fit_preprocessing(self, sample: JetBatch, seed: int) -> None:
        """Fit the input transform on the sample's real constituents, then any target state."""
        sample.validate("pretraining sample")
        self.transform.fit(sample.csts, sample.mask, seed)
        self.fit_targets(sample, seed)

    def fit_targets(self, sample: JetBatch, seed: int) -> None:
        """Fit target-specific state (k-means, bins, VQ-VAE); nothing for plain encoders."""

    def transformed_sample(self, sample: JetBatch, seed: int, max_jets: int = 20000) -> Batch:
        """The sample (at most `max_jets`) as transformed tensors, noise drawn with `seed`."""
        n = min(len(sample), max_jets)
        tb = tensor_batch(sample[:n], device=self.transform.quantiles.device)
        gen = torch.Generator(device=tb["csts"].device).manual_seed(seed)
        with torch.no_grad():
            x, ids, mask = self.inputs(tb, generator=gen)
        return {"x": x, "ids": ids, "mask": mask}

    def pretrain_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        raise JetbenchError(
            f"encoder '{self.name}' has no pretraining objective "
            "(needs_pretraining is False); use it from random initialisation"
        )
