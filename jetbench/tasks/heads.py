"""Task heads: the networks a protocol trains on top of an encoder (docs/design.md, 'Heads').

A head maps an encoder's output `(jet [B,D], tokens [B,P,D], mask [B,P])` to logits:
- jet tasks: `ClassAttentionHead` (CaiT-style class token attending to the tokens) -> [B, C]
  ([B] for binary tasks);
- trackid: `TrackHead` (per-track residual MLP) -> [B, P, C];
- vertexing: `PairHead` (twin MLP F, logit = Linear(|F(z_i) - F(z_j)|)) -> [B, P, P], computed only
  on upper-triangle pairs of real tracks (other entries are 0 and ignored by loss and metrics).
The `linear` protocol uses the `Linear*` variants (no hidden layer). Which head (and loss) a task
gets is decided by its kind (`jetbench.tasks.kinds`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jetbench.core.sets import Packing


def packed_positions(mask: torch.Tensor) -> torch.Tensor:
    """[B, P] -> position of each real token in `tokens[mask]` (-1 on padding)."""
    pos = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
    pos[mask] = torch.arange(int(mask.sum()), device=mask.device)
    return pos


def unpack(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Packed per-token values [T, C] -> [B, P, C] with zeros on padding."""
    return Packing(mask).unpack(values)


class ClassAttentionBlock(nn.Module):
    """CaiT class-attention layer: only the class token is updated; it attends to itself and the
    real tokens.

    With a single query per jet, keys and values never need to be formed per token: for head h,
    q_h . (W_k^h x_t + b_k^h) = (W_k^hT q_h) . x_t + q_h . b_k^h, and sum_t a_t (W_v^h x_t + b_v^h)
    = W_v^h (sum_t a_t x_t) + b_v^h sum_t a_t. The tokens enter only through two [B, H, D] x
    [B, D, P] products, so the per-token cost falls from a 2D x D projection to 2H dot products
    (about 5x fewer FLOPs for the whole head at D = 128, H = 4), the same function as materialised
    keys and values (`tests/test_heads.py` checks outputs and gradients against them). The token
    layer norm's affine part is folded in the same way, so the blocks share one normalisation.
    """

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.attn_drop = heads, dropout
        self.norm1 = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * dim, dim), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, cls: torch.Tensor, n: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """cls [B, 1, D]; n = tokens layer-normalised without affine, padded [B, P, D] (zeros on
        padding); mask [B, P]."""
        B, _, D = n.shape
        h, dh = self.heads, D // self.heads
        gamma, beta = self.norm1.weight, self.norm1.bias
        w_k, w_v = self.kv.weight[:D].view(h, dh, D), self.kv.weight[D:].view(h, dh, D)
        b_k, b_v = self.kv.bias[:D].view(h, dh), self.kv.bias[D:].view(h, dh)
        c = self.norm1(cls[:, 0])  # [B, D]
        q = self.q(c).view(B, h, dh) * dh ** -0.5
        u = torch.einsum("bhe,hed->bhd", q, w_k)  # W_k^hT q_h, [B, h, D]
        shift = u @ beta + (q * b_k).sum(-1)  # same for every key: keeps the function exact
        tok = torch.bmm(n, (u * gamma).transpose(1, 2)).transpose(1, 2) + shift[..., None]
        tok = tok.masked_fill(~mask[:, None, :], float("-inf"))
        k_cls = F.linear(c, self.kv.weight[:D], self.kv.bias[:D]).view(B, h, dh)
        # the class token is always a valid key, so no row is fully masked (no NaN for empty jets)
        logits = torch.cat([(q * k_cls).sum(-1, keepdim=True), tok], dim=-1)
        a = F.dropout(logits.softmax(-1), self.attn_drop, self.training)
        a_cls, a_tok = a[..., :1], a[..., 1:]
        s_tok = a_tok.sum(-1, keepdim=True)
        z = gamma * torch.bmm(a_tok, n) + beta * s_tok + a_cls * c[:, None]  # sum_t a_t x_t
        out = torch.einsum("bhd,hed->bhe", z, w_v) + b_v * (s_tok + a_cls)  # [B, h, dh]
        cls = cls + self.drop(self.proj(out.reshape(B, 1, D)))
        return cls + self.mlp(self.norm2(cls))


class ClassAttentionHead(nn.Module):
    """Jet-level head: project tokens, pool them with `layers` class-attention blocks, classify."""

    def __init__(self, in_dim: int, n_out: int, dim: int = 128, heads: int = 4, layers: int = 2,
                 dropout: float = 0.2):
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.blocks = nn.ModuleList(ClassAttentionBlock(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, n_out)
        self.n_out = n_out

    def forward(self, jet: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.proj(tokens[mask])  # per-token work on packed real tokens only
        eps = self.blocks[0].norm1.eps if len(self.blocks) else 1e-5
        n = unpack(F.layer_norm(x, x.shape[-1:], eps=eps), mask)
        cls = self.cls.expand(mask.shape[0], -1, -1)
        for block in self.blocks:
            cls = block(cls, n, mask)
        logits = self.out(self.norm(cls[:, 0]))
        return logits[:, 0] if self.n_out == 1 else logits


def reference_class_attention(head: ClassAttentionHead, tokens: torch.Tensor,
                              mask: torch.Tensor) -> torch.Tensor:
    """The textbook CaiT head in eval mode: keys and values materialised for every (padded) token,
    then SDPA. Not used for training; it is the oracle for the test and `bench/bench_head.py`."""
    B, P = mask.shape
    x = head.proj(tokens)
    cls = head.cls.expand(B, -1, -1)
    for blk in head.blocks:
        D, h = cls.shape[-1], blk.heads
        kv = blk.kv(blk.norm1(torch.cat([cls, x], 1)))
        k, v = kv.view(B, 1 + P, 2, h, D // h).permute(2, 0, 3, 1, 4)
        q = blk.q(blk.norm1(cls)).view(B, 1, h, D // h).transpose(1, 2)
        keep = torch.cat([mask.new_ones(B, 1), mask], 1)[:, None, None, :]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        cls = cls + blk.proj(a.transpose(1, 2).reshape(B, 1, D))
        cls = cls + blk.mlp(blk.norm2(cls))
    return head.out(head.norm(cls[:, 0]))


class ResidualMLP(nn.Module):
    """Per-token MLP: input projection, `blocks` pre-norm residual blocks, output projection."""

    def __init__(self, in_dim: int, n_out: int, hidden: int = 128, blocks: int = 3,
                 dropout: float = 0.2):
        super().__init__()
        self.inp = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU(),
                          nn.Dropout(dropout))
            for _ in range(blocks))
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x)
        return self.out(self.norm(x))


class TrackHead(nn.Module):
    """Per-track classifier (trackid): logits [B, P, C]; padded slots are ignored by the loss."""

    def __init__(self, in_dim: int, n_out: int, hidden: int = 128, blocks: int = 3,
                 dropout: float = 0.2, linear: bool = False):
        super().__init__()
        self.net = (nn.Linear(in_dim, n_out) if linear
                    else ResidualMLP(in_dim, n_out, hidden, blocks, dropout))

    def forward(self, jet: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return unpack(self.net(tokens[mask]), mask)


def pair_index(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(jet, i, j) of the upper-triangle pairs i < j of real tracks."""
    P = mask.shape[1]
    upper = torch.triu(torch.ones(P, P, dtype=torch.bool, device=mask.device), diagonal=1)
    valid = mask[:, :, None] & mask[:, None, :] & upper
    b, i, j = valid.nonzero(as_tuple=True)
    return b, i, j


class PairHead(nn.Module):
    """Twin head for vertexing: logit(i, j) = Linear(|F(z_i) - F(z_j)|), symmetric by construction.

    Only real upper-triangle pairs are computed; the result is scattered into a [B, P, P] matrix.
    `linear=True` drops F (the `linear` protocol: a linear map of |z_i - z_j|).

    Design hooks (used by `jetbench.protocols.linear_fit`): with `linear=True` the rows the final
    layer reads do not depend on anything trained, so a convex fit may build them once
    (`design`) and evaluate only `design_logits` per step instead of re-gathering millions of
    pairs and scattering them into [B, P, P] every L-BFGS evaluation. `forward` is built from the
    same two pieces, so both paths run the same ops on the same rows in the same order.
    """

    def __init__(self, in_dim: int, hidden: int = 128, blocks: int = 3, dropout: float = 0.2,
                 linear: bool = False):
        super().__init__()
        self.f = nn.Identity() if linear else ResidualMLP(in_dim, hidden, hidden, blocks, dropout)
        self.out = nn.Linear(in_dim if linear else hidden, 1)

    def _rows(self, tokens: torch.Tensor, mask: torch.Tensor,
              b: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        f = self.f(tokens[mask])  # packed: F runs on real tracks only
        pos = packed_positions(mask)
        return (f[pos[b, i]] - f[pos[b, j]]).abs()

    def design_layer(self) -> nn.Linear | None:
        """The final layer when it is all that trains (`linear=True`), else None (no design)."""
        return self.out if isinstance(self.f, nn.Identity) else None

    def design(self, jet: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Inputs of the final layer, [pairs, D]: |F(z_i) - F(z_j)| in `pair_index(mask)` order."""
        return self._rows(tokens, mask, *pair_index(mask))

    def design_logits(self, rows: torch.Tensor) -> torch.Tensor:
        """Flat pair logits [pairs] from `design` rows."""
        return self.out(rows)[:, 0]

    def forward(self, jet: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, i, j = pair_index(mask)
        logit = self.design_logits(self._rows(tokens, mask, b, i, j))
        out = logit.new_zeros(mask.shape[0], mask.shape[1], mask.shape[1])
        out = out.index_put((b, i, j), logit)
        return out.index_put((b, j, i), logit)


class LinearJetHead(nn.Module):
    """`linear` protocol jet head: logistic regression on the pooled jet embedding."""

    def __init__(self, in_dim: int, n_out: int):
        super().__init__()
        self.out = nn.Linear(in_dim, n_out)
        self.n_out = n_out

    def forward(self, jet: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.out(jet)
        return logits[:, 0] if self.n_out == 1 else logits
