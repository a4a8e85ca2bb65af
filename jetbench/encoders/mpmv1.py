"""MPMv1 (Golling et al. 2024, arXiv 2401.13537): BERT-style masked particle modelling.

30% of each jet's real particles have their input embedding replaced by one learned mask token;
the backbone sees the whole jet; a per-particle MLP head predicts the target at the masked
particles only. Ordering (positions = sequence index among real particles, i.e. the pT rank in the
canonical pT-sorted format):
  none      no position information anywhere (fully permutation invariant)
  head      learned position embedding added only at the head input — the paper's choice; encode()
            stays permutation invariant
  backbone  position embedding added at the backbone input — breaks permutation invariance
Targets: vqvae (its own VQ-VAE, trained in fit_preprocessing), kmeans, binning, reg (MSE).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jetbench.core.scales import PerScale
from jetbench.core.sets import gather, random_subset, sequence_rank
from jetbench.data.format import JetBatch
from jetbench.encoders.base import Batch
from jetbench.encoders.model import BACKBONE_SCALES, SetEncoder
from jetbench.encoders.registry import Factory, register_variant
from jetbench.encoders.target_registry import build_target
from jetbench.encoders.targets import vqvae_target_cfg

ORDERINGS = ("none", "head", "backbone")


class MPMv1(SetEncoder):
    """MPMv1: mask-token BERT pretraining of the shared backbone."""

    def __init__(
        self,
        name: str,
        target: str,
        target_cfg: dict[str, Any],
        ordering: str = "head",
        mask_frac: float = 0.3,
        **backbone: Any,
    ) -> None:
        super().__init__(name, **backbone)
        if ordering not in ORDERINGS:
            raise ValueError(f"ordering must be one of {ORDERINGS}, got {ordering!r}")
        self.ordering = ordering
        self.mask_frac = mask_frac
        dim = self.embed_dim
        self.mask_token = nn.Parameter(torch.randn(dim) * 0.02)
        self.position = nn.Embedding(self.max_particles, dim) if ordering != "none" else None
        self.target = build_target(target, dim, dict(target_cfg))

    def _positions(self, mask: Tensor) -> Tensor:
        return sequence_rank(mask).clamp(0, self.max_particles - 1)

    def embed(self, x: Tensor, ids: Tensor, mask: Tensor) -> Tensor:
        emb = super().embed(x, ids, mask)
        if self.ordering == "backbone":
            emb = emb + self.position(self._positions(mask))
        return emb

    def _extra_encode_modules(self) -> tuple[nn.Module, ...]:
        return (self.position,) if self.ordering == "backbone" else ()

    def fit_targets(self, sample: JetBatch, seed: int) -> None:
        self.target.fit(self.transformed_sample(sample, seed), seed)

    def pretrain_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        x, ids, mask = self.inputs(batch)
        masked = random_subset(mask, self.mask_frac)
        labels = self.target.labels(x, ids, mask, masked)
        emb = self.feat_embed(x) + self.id_embed(ids)
        emb = torch.where(masked.unsqueeze(-1), self.mask_token.to(emb.dtype), emb)
        if self.ordering == "backbone":
            emb = emb + self.position(self._positions(mask))
        tokens, _, idx, valid = self.run_backbone(emb, mask)
        h = tokens[gather(masked, idx) & valid]  # same row-major order as x[masked]
        if self.ordering == "head":
            h = h + self.position(self._positions(mask)[masked])
        loss, logs = self.target.loss(h, x[masked], labels)
        return loss, {"loss": float(loss.detach()), **logs}


# -- registered variants (configs of the one class above) ----------------------------------------
HEAD_HIDDEN = PerScale({"smoke": 32, "cpu": 128, "paper": 512}, "MPMv1 head width")
# MPMv1's VQ-VAE tokeniser recipe (Euclidean codebook, MSE reconstruction)
V1_VQ_RECIPE = {"cosine": False, "decay": 0.9, "commitment": 10.0, "recon": "mse", "vq_weight": 1.0, "dead_code": 2}
V1_TARGETS: dict[str, dict[str, dict[str, Any]]] = {
    "reg": {s: {"hidden": h, "loss": "mse"} for s, h in HEAD_HIDDEN.items()},
    "kmeans": {
        s: {"hidden": h, "k": k, "smoothing": 0.0}
        for (s, h), k in zip(HEAD_HIDDEN.items(), (32, 512, 512), strict=True)
    },
    "binning": {
        "smoke": {"hidden": 32, "bins": [3, 3, 3, 2, 1, 2, 1]},
        "cpu": {"hidden": 128, "bins": [5, 5, 5, 2, 2, 2, 2]},
        "paper": {"hidden": 512, "bins": [8, 8, 8, 2, 2, 2, 2]},
    },
    "vqvae": {s: vqvae_target_cfg(s, h, 0.0, code_dim=16, **V1_VQ_RECIPE) for s, h in HEAD_HIDDEN.items()},
}


def _v1(name: str, target: str, ordering: str = "head") -> Factory:
    """An MPMv1 variant predicting `target` with 30% masking; the paper's choice is `head` ordering."""
    targets = {s: {"target": target, "target_cfg": cfg} for s, cfg in V1_TARGETS[target].items()}
    return register_variant(MPMv1, name, BACKBONE_SCALES, targets, ordering=ordering, mask_frac=0.3)


mpmv1_vqvae = _v1("mpmv1_vqvae", "vqvae")
mpmv1_kmeans = _v1("mpmv1_kmeans", "kmeans")
mpmv1_binning = _v1("mpmv1_binning", "binning")
mpmv1_reg = _v1("mpmv1_reg", "reg")
# the ordering ablation of the paper's tables: no position information anywhere
mpmv1_vqvae_none = _v1("mpmv1_vqvae_none", "vqvae", ordering="none")
mpmv1_kmeans_none = _v1("mpmv1_kmeans_none", "kmeans", ordering="none")
