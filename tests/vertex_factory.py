"""Synthetic vertexing problems in embedding space, for tests and bench/bench_linear_pairs.py.

Random track embeddings (offset, feature scales differing several-fold) and vertex ids 0..3 of
which one bit depends on the first embedding feature, so a pair probe has something to find.
"""

from __future__ import annotations

import numpy as np

from jetbench.protocols.data import EmbeddingSource


def pair_source(n: int, seed: int, slots: int = 11, dim: int = 12,
                mean_tracks: float | None = None) -> EmbeddingSource:
    """`n` jets of up to `slots` tracks: 0..slots tracks per jet uniformly (empty jets included:
    edge cases), or Poisson(`mean_tracks`) clipped to 2..slots (b-jet-like multiplicities)."""
    rng = np.random.default_rng(seed)
    counts = (rng.integers(0, slots + 1, n) if mean_tracks is None
              else np.clip(rng.poisson(mean_tracks, n), 2, slots))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    tokens = (rng.normal(size=(offsets[-1], dim)) * rng.uniform(0.5, 3, dim)
              + rng.normal(size=dim)).astype(np.float32)
    vtx = np.full((n, slots), -1, np.int64)
    for k in range(n):
        t = tokens[offsets[k]:offsets[k + 1]]
        vtx[k, :counts[k]] = (t[:, 0] > 0).astype(int) * 2 + rng.integers(0, 2, counts[k])
    jet = rng.normal(size=(n, dim)).astype(np.float32)
    return EmbeddingSource(jet, tokens, offsets, vtx)
