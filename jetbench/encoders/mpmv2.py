"""MPMv2 (Leigh et al., arXiv 2409.12589): masked-autoencoder particle modelling.

40% of each jet's real particles are dropped; the backbone runs on the kept ones only. A
transformer decoder receives the (projected) encoder outputs and registers plus, at every dropped
slot, a learned null token indexed by the particle's pT rank among the dropped particles only.
Heads act on the decoder outputs at the dropped slots:
  loss = id_weight (0.3) × CE(particle id, label smoothing 0.1) + the continuous task
with the task one of reg, kmeans, vqvae, flow, cfm (jetbench.encoders.targets / generative).
mpm_reg, mpm_kmeans, mpm_vqvae, mpm_flow and mpm_cfm are configs of this one class.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jetbench.core.scales import SCALES, PerScale
from jetbench.core.sets import compact, gather, random_subset, scatter, value_rank
from jetbench.data.format import JetBatch
from jetbench.encoders.backbone import Transformer
from jetbench.encoders.base import Batch
from jetbench.encoders.model import BACKBONE_SCALES, N_IDS, SetEncoder
from jetbench.encoders.registry import Factory, register_variant
from jetbench.encoders.target_registry import build_target
from jetbench.encoders.targets import mlp, vqvae_target_cfg


class MPMv2(SetEncoder):
    """MPMv2: drop particles, decode them from the kept set with null tokens."""

    def __init__(
        self,
        name: str,
        target: str,
        target_cfg: dict[str, Any],
        drop_frac: float = 0.4,
        id_weight: float = 0.3,
        id_smoothing: float = 0.1,
        dec_dim: int = 128,
        dec_depth: int = 2,
        dec_heads: int = 4,
        **backbone: Any,
    ) -> None:
        super().__init__(name, **backbone)
        self.drop_frac, self.id_weight, self.id_smoothing = drop_frac, id_weight, id_smoothing
        ff_mult = backbone.get("ff_mult", 2)
        ls = backbone.get("layerscale_init", 1e-3)
        self.dec_in = nn.Linear(self.embed_dim, dec_dim)
        self.null = nn.Embedding(self.max_particles, dec_dim)
        self.decoder = Transformer(dec_dim, dec_depth, dec_heads, ff_mult, ls)
        self.id_head = mlp(dec_dim, dec_dim, N_IDS)
        self.target = build_target(target, dec_dim, dict(target_cfg))

    def fit_targets(self, sample: JetBatch, seed: int) -> None:
        self.target.fit(self.transformed_sample(sample, seed), seed)

    def decode(self, x: Tensor, ids: Tensor, mask: Tensor, drop: Tensor) -> Tensor:
        """Decoder outputs at the dropped particles [M, dec_dim], row-major like x[drop]."""
        kept = mask & ~drop
        tokens, registers, idx, valid = self.run_backbone(self.embed(x, ids, kept), kept)
        slots = scatter(self.dec_in(tokens), idx, valid, mask.shape[1])
        rank = value_rank(drop, x[..., 0]).clamp(0, self.max_particles - 1)
        slots = slots + self.null(rank) * drop.unsqueeze(-1).to(slots.dtype)
        idx2, valid2 = compact(mask)
        R = registers.shape[1]
        h = torch.cat([self.dec_in(registers), gather(slots, idx2)], dim=1)
        key_mask = torch.cat([valid2.new_ones((valid2.shape[0], R)), valid2], dim=1)
        h = self.decoder(h, key_mask)[:, R:]
        return h[gather(drop, idx2) & valid2]

    def pretrain_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        x, ids, mask = self.inputs(batch)
        drop = random_subset(mask, self.drop_frac)
        labels = self.target.labels(x, ids, mask, drop)
        h = self.decode(x, ids, mask, drop)
        id_logits = self.id_head(h)
        id_loss = F.cross_entropy(id_logits, ids[drop], label_smoothing=self.id_smoothing)
        task, logs = self.target.loss(h, x[drop], labels)
        loss = self.id_weight * id_loss + task
        id_acc = (id_logits.argmax(-1) == ids[drop]).float().mean()
        return loss, {
            "loss": float(loss.detach()),
            "id_ce": float(id_loss.detach()),
            "id_acc": float(id_acc),
            **logs,
        }


# -- registered variants (configs of the one class above) ----------------------------------------
DECODER_SCALES = PerScale({  # paper time: 128 x 4 x 4 (the thesis says 256); a knob
    "smoke": {"dec_dim": 32, "dec_depth": 1, "dec_heads": 2},
    "cpu": {"dec_dim": 128, "dec_depth": 2, "dec_heads": 4},
    "paper": {"dec_dim": 128, "dec_depth": 4, "dec_heads": 4},
}, "MPMv2 decoder")
_SMOKE, _CPU, _PAPER = SCALES
# MPMv2's VQ-VAE tokeniser recipe (cosine codebook, Huber reconstruction)
V2_VQ_RECIPE = {"cosine": True, "decay": 0.8, "commitment": 1.0, "recon": "huber", "vq_weight": 10.0, "dead_code": 2}
V2_TARGETS: dict[str, dict[str, dict[str, Any]]] = {
    "reg": {s: {"hidden": d["dec_dim"], "loss": "l1"} for s, d in DECODER_SCALES.items()},
    "kmeans": {
        s: {"hidden": DECODER_SCALES[s]["dec_dim"], "k": k, "smoothing": 0.1}
        for s, k in ((_SMOKE, 32), (_CPU, 1024), (_PAPER, 16384))
    },
    "vqvae": {
        s: vqvae_target_cfg(s, DECODER_SCALES[s]["dec_dim"], 0.05, code_dim=cd, **V2_VQ_RECIPE)
        for s, cd in ((_SMOKE, 8), (_CPU, 32), (_PAPER, 32))
    },
    "flow": {
        _SMOKE: {"context": 16, "transforms": 6, "bins": 8, "bound": 4.0, "hidden": [16, 16]},
        _CPU: {"context": 128, "transforms": 6, "bins": 8, "bound": 4.0, "hidden": [128, 128]},
        _PAPER: {"context": 128, "transforms": 6, "bins": 8, "bound": 4.0, "hidden": [256, 256]},
    },
    "cfm": {
        _SMOKE: {"context": 16, "hidden": 32, "blocks": 3, "time_dim": 16},
        _CPU: {"context": 128, "hidden": 128, "blocks": 3, "time_dim": 32},
        _PAPER: {"context": 128, "hidden": 128, "blocks": 3, "time_dim": 32},
    },
}


def _v2(name: str, target: str) -> Factory:
    """An MPMv2 variant with the continuous task `target`, dropping 40% (the paper's defaults)."""
    targets = {s: {"target": target, "target_cfg": cfg} for s, cfg in V2_TARGETS[target].items()}
    return register_variant(MPMv2, name, BACKBONE_SCALES, DECODER_SCALES, targets, drop_frac=0.4, id_weight=0.3)


mpm_reg = _v2("mpm_reg", "reg")
mpm_kmeans = _v2("mpm_kmeans", "kmeans")
mpm_vqvae = _v2("mpm_vqvae", "vqvae")
mpm_flow = _v2("mpm_flow", "flow")
mpm_cfm = _v2("mpm_cfm", "cfm")
