"""The shared MPM transformer: pre-norm SwiGLU blocks with LayerScale, plus registers.

No positional encoding anywhere, so outputs are permutation-equivariant in the particles. Padding
is handled by the caller compacting the set (jetbench.core.sets.compact) and by a boolean
key-padding mask in `F.scaled_dot_product_attention`; registers are always valid keys, so no
attention row is ever fully masked (an empty jet just attends to the registers).

Jets differ a lot in length (JetClass: mean ~47, max ~110 particles), so a batch compacted to its
longest jet is still about half padding. With enough padding the per-token layers (norms, qkv,
projection, feed-forward: ~85% of the FLOPs at d=128) run on the packed real tokens only and just
the attention product sees the padded layout (`Packing`); the result is the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jetbench.core.sets import Packing


def safe_key_mask(valid: Tensor) -> Tensor:
    """Key mask with every row attending to something (an all-padding row would give NaN)."""
    return valid | ~valid.any(-1, keepdim=True)


# pack when at most this fraction of the [B, N] positions is real; above it the gather/scatter
# costs more than the padded rows it saves
PACK_BELOW = 0.8


class LayerScale(nn.Module):
    """Per-channel learned residual scale (CaiT), starting small so deep stacks train stably.

    Applied by the block as a scale of the preceding output projection's weight and bias (d x d,
    cheap) instead of a multiply over every token's activations — the same function, faster.
    """

    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))


def _linear(x: Tensor, layer: nn.Linear, scale: Tensor | None) -> Tensor:
    """layer(x), optionally times a per-output-channel scale folded into the weights."""
    if scale is None:
        return layer(x)
    return F.linear(x, layer.weight * scale[:, None], layer.bias * scale)


class Attention(nn.Module):
    """Multi-head attention; keys/values from `context` when given (cross-attention)."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.cross = context_dim is not None
        if self.cross:
            self.q = nn.Linear(dim, dim)
            self.kv = nn.Linear(context_dim, 2 * dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        x: Tensor,
        key_mask: Tensor | None = None,
        context: Tensor | None = None,
        scale: Tensor | None = None,
    ) -> Tensor:
        B, N, D = x.shape
        h = self.heads
        if self.cross:
            q = self.q(x).view(B, N, h, D // h).transpose(1, 2)
            k, v = self.kv(context).view(B, context.shape[1], 2, h, D // h).permute(2, 0, 3, 1, 4)
        else:
            q, k, v = self.qkv(x).view(B, N, 3, h, D // h).permute(2, 0, 3, 1, 4)
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return _linear(out.transpose(1, 2).reshape(B, N, D), self.proj, scale)

    def forward_packed(self, x: Tensor, packing: Packing, key_mask: Tensor,
                       scale: Tensor | None = None) -> Tensor:
        """Self-attention on packed tokens [T, D]: projections packed, the product padded."""
        B, N = packing.shape
        D, h = x.shape[-1], self.heads
        qkv = packing.unpack(self.qkv(x))
        q, k, v = qkv.view(B, N, 3, h, D // h).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])
        return _linear(packing.pack(out.transpose(1, 2).reshape(B, N, D)), self.proj, scale)


class SwiGLU(nn.Module):
    """Gated feed-forward (Shazeer 2020): W3(silu(W1 x) * W2 x)."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, out_dim or dim)

    def forward(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
        a, b = self.w12(x).chunk(2, dim=-1)
        return _linear(F.silu(a) * b, self.w3, scale)


class Block(nn.Module):
    """Pre-norm block: x + LS(attn(LN x)); x + LS(SwiGLU(LN x)); FFN hidden = ff_mult·d."""

    def __init__(self, dim: int, heads: int, ff_mult: int = 2, layerscale_init: float = 1e-3) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim, layerscale_init)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = SwiGLU(dim, ff_mult * dim)
        self.ls2 = LayerScale(dim, layerscale_init)

    def forward(self, x: Tensor, key_mask: Tensor | None = None, packing: Packing | None = None
                ) -> Tensor:
        """x [B, N, d], or packed real tokens [T, d] when `packing` is given."""
        if packing is None:
            x = x + self.attn(self.norm1(x), key_mask, scale=self.ls1.gamma)
        else:
            x = x + self.attn.forward_packed(self.norm1(x), packing, key_mask, scale=self.ls1.gamma)
        return x + self.ff(self.norm2(x), scale=self.ls2.gamma)


class Transformer(nn.Module):
    """A stack of `Block`s with a final LayerNorm (depth 0 = just the norm)."""

    def __init__(self, dim: int, depth: int, heads: int, ff_mult: int = 2, layerscale_init: float = 1e-3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, ff_mult, layerscale_init) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """x [B, N, d]; positions where `key_mask` is False come back as 0 if the batch was packed."""
        packing = None
        if key_mask is not None and self.blocks and float(key_mask.float().mean()) <= PACK_BELOW:
            packing = Packing(key_mask)
            x = packing.pack(x)
        for block in self.blocks:
            x = block(x, key_mask, packing)
        x = self.norm(x)
        return x if packing is None else packing.unpack(x)


class Backbone(nn.Module):
    """Registers + transformer over an already embedded, compacted particle set.

    forward(x [B, n, d], valid [B, n]) -> (tokens [B, n, d], registers [B, R, d]).
    Built by `SetEncoder`, whose constructor holds the defaults (they are the stored config).
    """

    def __init__(
        self, dim: int, depth: int, heads: int, n_registers: int, ff_mult: int, layerscale_init: float
    ) -> None:
        super().__init__()
        self.dim = dim
        self.n_registers = n_registers
        self.registers = nn.Parameter(torch.randn(n_registers, dim) * 0.02)
        self.transformer = Transformer(dim, depth, heads, ff_mult, layerscale_init)

    def forward(self, x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        B, R = x.shape[0], self.n_registers
        h = torch.cat([self.registers.to(x.dtype).expand(B, R, self.dim), x], dim=1)
        # no mask at all when nothing is padded: SDPA's unmasked kernel is faster
        key_mask = None if bool(valid.all()) else torch.cat([valid.new_ones((B, R)), valid], dim=1)
        h = self.transformer(h, key_mask)
        return h[:, R:], h[:, :R]
