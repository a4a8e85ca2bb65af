"""Jet VQ-VAE tokeniser (vector-quantize-pytorch, the library paper 2 used).

A transformer encoder over the jet gives every particle a latent, quantised to one of
`codebook_size` codes (k-means initialised, EMA codebook with decay, dead codes re-seeded from the
batch); a transformer decoder reconstructs the 7 transformed features from the codes. Codes are
context dependent (they see the whole jet), which is why targets ask for labels on full jets.

Paper 1 (MPMv1): 512 codes, latent 16, β = 0.9 (read as the EMA decay of the codebook),
commitment weight 10, MSE reconstruction. Paper 2 (MPMv2): 512 codes, code dim 32, cosine
similarity, Huber reconstruction + 10 × VQ loss, encoder/decoder 128 × 3 layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jetbench.core.sets import compact, gather
from jetbench.encoders.backbone import Transformer, safe_key_mask

N_FEATURES = 7
N_IDS = 8


class VQVAE(nn.Module):
    def __init__(
        self,
        dim: int = 128,
        depth: int = 3,
        heads: int = 4,
        codebook_size: int = 512,
        code_dim: int = 32,
        cosine: bool = True,
        decay: float = 0.8,
        commitment: float = 1.0,
        dead_code: int = 2,
        recon: str = "huber",
        vq_weight: float = 10.0,
    ) -> None:
        from vector_quantize_pytorch import VectorQuantize  # lazy: seconds to import; VQ-VAE only

        super().__init__()
        if recon not in ("huber", "mse"):
            raise ValueError(f"VQ-VAE reconstruction loss must be 'huber' or 'mse', got {recon!r}")
        self.codebook_size = codebook_size
        self.recon, self.vq_weight = recon, vq_weight
        self.feat = nn.Linear(N_FEATURES, dim)
        self.id_embed = nn.Embedding(N_IDS, dim)
        self.encoder = Transformer(dim, depth, heads, layerscale_init=0.1)
        self.to_code = nn.Linear(dim, code_dim)
        self.vq = VectorQuantize(
            dim=code_dim,
            codebook_size=codebook_size,
            decay=decay,
            commitment_weight=commitment,
            kmeans_init=True,
            kmeans_iters=10,
            use_cosine_sim=cosine,
            threshold_ema_dead_code=dead_code,
        )
        self.from_code = nn.Linear(code_dim, dim)
        self.decoder = Transformer(dim, depth, heads, layerscale_init=0.1)
        self.out = nn.Linear(dim, N_FEATURES)

    def _quantise(self, x: Tensor, ids: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        z = self.to_code(self.encoder(self.feat(x) + self.id_embed(ids), safe_key_mask(valid)))
        # quantise the real particles as one flat set: no padding reaches the codebook (k-means
        # init, EMA, dead-code re-seeding), and shapes stay simple for the library's einx paths
        flat_q, flat_i, vq_loss = self.vq(z[valid].unsqueeze(0))
        quantised = z.new_zeros(z.shape).index_put((valid,), flat_q[0].to(z.dtype))
        indices = torch.zeros(valid.shape, dtype=torch.long, device=z.device)
        indices = indices.index_put((valid,), flat_i[0].long())
        return quantised, indices, vq_loss.sum()

    def loss(self, x: Tensor, ids: Tensor, mask: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Reconstruction + vq_weight × VQ loss on the real particles of a batch."""
        idx, valid = compact(mask)
        xc, ic = gather(x, idx), gather(ids, idx)
        quantised, indices, vq_loss = self._quantise(xc, ic, valid)
        recon = self.out(self.decoder(self.from_code(quantised), safe_key_mask(valid)))
        fn = F.huber_loss if self.recon == "huber" else F.mse_loss
        rec = fn(recon[valid], xc[valid])
        used = indices[valid].unique().numel() / self.codebook_size
        logs = {
            "vq_recon": float(rec.detach()),
            "vq_loss": float(vq_loss.detach()),
            "vq_usage": used,
        }
        return rec + self.vq_weight * vq_loss, logs

    def codes(self, x: Tensor, ids: Tensor, mask: Tensor) -> Tensor:
        """Code index per slot [B, P] (-1 at padding)."""
        idx, valid = compact(mask)
        _, indices, _ = self._quantise(gather(x, idx), gather(ids, idx), valid)
        out = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
        indices = torch.where(valid, indices.long(), torch.full_like(indices.long(), -1))
        out.scatter_(1, idx, indices)
        return torch.where(mask, out, torch.full_like(out, -1))


def fit_vqvae(
    model: VQVAE, data: dict[str, Tensor], steps: int, batch_size: int, lr: float, seed: int
) -> dict[str, float]:
    """Train the VQ-VAE on random jets of the transformed sample; returns the last step's logs."""
    x, ids, mask = data["x"], data["ids"], data["mask"]
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    logs: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):  # dead-code re-seeding draws from the global RNG
        torch.manual_seed(seed)
        for _ in range(steps):
            pick = torch.randint(len(x), (min(batch_size, len(x)),), generator=g).to(x.device)
            loss, logs = model.loss(x[pick], ids[pick], mask[pick])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    model.eval()
    return logs
