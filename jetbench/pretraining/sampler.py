"""A DataLoader-free, resumable batch order: seeded shuffling per epoch, in blocks of store chunks.

The epoch's order is: a seeded permutation of the store's 1024-jet chunks, cut into blocks of
`block_chunks` chunks, each block's jets shuffled. When the split is in memory there is one block
(a full shuffle); a split too large for memory is streamed block by block, so only the chunks of
the current block are read. The order of epoch e depends only on (seed, e), so the data position
(epoch, block, offset) is all a checkpoint needs to continue the same stream. Under DDP every rank
draws the same global batch and keeps its own contiguous slice.
"""

from __future__ import annotations

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.store import CHUNK_JETS


class BatchSampler:
    """Global batches of jet indices, reshuffled each epoch; `state_dict` is the data position."""

    def __init__(self, n_jets: int, batch_size: int, seed: int, block_chunks: int | None = None):
        if batch_size > n_jets:
            raise JetbenchError(f"batch size {batch_size} is larger than the pretraining split ({n_jets} jets)")
        self.n_jets, self.batch_size, self.seed = n_jets, batch_size, seed
        self.n_chunks = -(-n_jets // CHUNK_JETS)
        self.block_chunks = min(block_chunks or self.n_chunks, self.n_chunks)
        self.n_blocks = -(-self.n_chunks // self.block_chunks)
        self.epoch, self.block, self.offset, self.consumed = 0, 0, 0, 0
        self._key: tuple[int, int] | None = None
        self._block = np.empty(0, np.int64)
        self._chunk_order = np.empty(0, np.int64)

    def _jets_of_block(self) -> np.ndarray:
        """Shuffled global jet indices of the current block (cached)."""
        if self._key != (self.epoch, self.block):
            if self._key is None or self._key[0] != self.epoch:
                self._chunk_order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n_chunks)
            chunks = self._chunk_order[self.block * self.block_chunks : (self.block + 1) * self.block_chunks]
            starts = chunks * CHUNK_JETS
            jets = np.concatenate([np.arange(s, min(s + CHUNK_JETS, self.n_jets)) for s in starts])
            rng = np.random.default_rng([self.seed, self.epoch, self.block])
            self._block, self._key = jets[rng.permutation(len(jets))], (self.epoch, self.block)
        return self._block

    def next(self) -> np.ndarray:
        """The next global batch; it may span two blocks; the epoch's last partial batch is skipped."""
        if self.n_jets - self.consumed < self.batch_size:
            self.epoch, self.block, self.offset, self.consumed = self.epoch + 1, 0, 0, 0
        parts, need = [], self.batch_size
        while need:
            jets = self._jets_of_block()
            take = jets[self.offset : self.offset + need]
            parts.append(take)
            need -= len(take)
            self.offset += len(take)
            if self.offset == len(jets):
                self.block, self.offset = self.block + 1, 0
        self.consumed += self.batch_size
        return np.concatenate(parts)

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "block": self.block,
            "offset": self.offset,
            "consumed": self.consumed,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "n_jets": self.n_jets,
            "block_chunks": self.block_chunks,
        }

    def load_state_dict(self, state: dict) -> None:
        mine = (self.n_jets, self.seed, self.block_chunks)
        theirs = (state["n_jets"], state["seed"], state["block_chunks"])
        if mine != theirs:
            raise JetbenchError(f"checkpoint data position is for (jets, seed, block) {theirs}, this run has {mine}")
        self.epoch, self.block = int(state["epoch"]), int(state["block"])
        self.offset, self.consumed = int(state["offset"]), int(state["consumed"])


def rank_slice(index: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """This rank's contiguous share of a global batch (the batch size must divide evenly)."""
    if len(index) % world_size:
        raise JetbenchError(f"batch size {len(index)} does not split evenly over {world_size} processes")
    per = len(index) // world_size
    return index[rank * per : (rank + 1) * per]
