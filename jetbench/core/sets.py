"""Set bookkeeping on padded [B, P] layouts: pick random subsets, rank them, compact them.

Every encoder runs its transformer only on real (or kept) particles: `compact` moves the selected
slots to the front (stable, so relative order is preserved) and trims the batch to the longest
selection, and `scatter` puts per-particle results back into the original P slots. `Packing` goes
one step further, to the real tokens only ([T, C]), for per-token layers in ragged batches.

Pure tensor helpers with no jetbench dependency, in `core` because both the encoders (backbone,
masking) and the task heads (`jetbench.tasks.heads`) use them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def compact(select: Tensor) -> tuple[Tensor, Tensor]:
    """Indices [B, n] of the selected slots first (stable), n = max selected per jet; and validity.

    When the selection is already a prefix of the slots (canonical pT-sorted, zero-padded data) the
    indices are a plain arange, so no reordering happens at all.
    """
    counts = select.sum(1)
    n = int(counts.max()) if select.numel() else 0
    B, P = select.shape
    if n == 0:
        return select.new_zeros((B, 0), dtype=torch.long), select.new_zeros((B, 0))
    if bool((select[:, :n].sum(1) == counts).all()):
        idx = torch.arange(n, device=select.device).expand(B, n)
        idx._jetbench_prefix = True  # lets gather() slice instead of copying
    else:
        idx = torch.argsort((~select).to(torch.int8), dim=1, stable=True)[:, :n]
    return idx, torch.gather(select, 1, idx)


def gather(x: Tensor, idx: Tensor) -> Tensor:
    """x [B, P, ...] -> x at idx [B, n, ...] (a slice, no copy, for prefix indices from compact)."""
    if getattr(idx, "_jetbench_prefix", False):
        return x[:, : idx.shape[1]]
    if x.dim() == 2:
        return torch.gather(x, 1, idx)
    shape = idx.shape + x.shape[2:]
    flat = idx.reshape(idx.shape + (1,) * (x.dim() - 2)).expand(shape)
    return torch.gather(x, 1, flat)


def scatter(values: Tensor, idx: Tensor, valid: Tensor, n_slots: int) -> Tensor:
    """Inverse of `gather` for the valid entries: [B, n, D] -> [B, P, D] with zeros elsewhere."""
    B, n, D = values.shape
    values = values * valid.unsqueeze(-1).to(values.dtype)
    if getattr(idx, "_jetbench_prefix", False):
        return F.pad(values, (0, 0, 0, n_slots - n))
    out = values.new_zeros((B, n_slots, D))
    # invalid entries point at real slots too (argsort tail); adding zeros there is harmless
    return out.scatter_add_(1, idx.unsqueeze(-1).expand(B, idx.shape[1], D), values)


def random_subset(
    mask: Tensor, frac: float | Tensor, generator: torch.Generator | None = None, min_count: int = 1
) -> Tensor:
    """Uniformly random subset of each jet's real slots of size max(min_count, round(frac·n)).

    `frac` is a float or a per-jet tensor [B]; the size never exceeds the jet's multiplicity.
    """
    n = mask.sum(1)
    frac_t = torch.as_tensor(frac, dtype=torch.float32, device=mask.device)
    k = torch.round(frac_t * n.float()).long().clamp(min=min_count)
    k = torch.minimum(k, n)
    scores = torch.rand(mask.shape, generator=generator, device=mask.device)
    scores = scores.masked_fill(~mask, 2.0)  # padding sorts last
    order = torch.argsort(scores, dim=1)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(mask.shape[1], device=mask.device).expand_as(order))
    return (rank < k.unsqueeze(1)) & mask


def sequence_rank(select: Tensor) -> Tensor:
    """Position of each selected slot among the selected ones in slot order (0-based; -1 elsewhere).

    For the canonical pT-sorted format this is the pT rank; it changes when slots are permuted.
    """
    return torch.where(select, select.long().cumsum(1) - 1, torch.full_like(select, -1, dtype=torch.long))


def value_rank(select: Tensor, value: Tensor) -> Tensor:
    """Rank of each selected slot by decreasing `value` among the selected ones (-1 elsewhere).

    Depends only on the values, so it is unchanged by any permutation of the slots.
    """
    key = torch.where(select, -value, torch.full_like(value, float("inf")))
    order = torch.argsort(key, dim=1, stable=True)
    rank = torch.empty_like(order).scatter_(
        1, order, torch.arange(select.shape[1], device=select.device).expand_as(order)
    )
    return torch.where(select, rank, torch.full_like(rank, -1))


class Packing:
    """Positions of the real tokens of a padded [B, N] layout: pack [B, N, C] <-> [T, C]."""

    def __init__(self, valid: Tensor) -> None:
        self.shape = valid.shape
        self.flat = valid.reshape(-1).nonzero().squeeze(1)

    def pack(self, x: Tensor) -> Tensor:
        return x.reshape(-1, x.shape[-1]).index_select(0, self.flat)

    def unpack(self, t: Tensor) -> Tensor:
        """Packed rows back into the padded layout; padded positions are 0."""
        out = t.new_zeros(self.shape.numel(), t.shape[-1]).index_copy_(0, self.flat, t)
        return out.view(*self.shape, t.shape[-1])
