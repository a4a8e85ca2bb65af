"""The pretraining split as torch tensors: in memory when it fits, else streamed chunk by chunk.

At the smoke and cpu scales the split is a few hundred MB, loaded once; a batch is one tensor
gather (no worker processes, no collation). The paper split (100M jets) cannot be held, so it is
read in the sampler's blocks of 1024-jet chunks, keeping only the chunks of the current and the
previous block in memory.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import torch

from jetbench.data.fileset import open_jets
from jetbench.data.format import JetBatch
from jetbench.data.store import CHUNK_JETS

MAX_IN_MEMORY_BYTES = 4 * 1024**3
BLOCK_CHUNKS = 64  # streamed: 65k jets per shuffle block


def _tensors(batch: JetBatch) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(np.ascontiguousarray(batch.csts, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(batch.csts_id)),
        torch.from_numpy(np.ascontiguousarray(batch.mask, dtype=bool)),
        torch.from_numpy(batch.labels.astype(np.int64)),
    )


class PretrainData:
    """Jets of a canonical store, served as encoder batch dicts by global index."""

    def __init__(self, source: str | os.PathLike | JetBatch, max_bytes: int | None = None):
        if isinstance(source, JetBatch):
            self.store, self.content_hash, self.labels = None, "in-memory", []
            self._load(source)
            return
        self.store = open_jets(source)
        self.content_hash, self.labels = self.store.content_hash, list(self.store.labels)
        self.n = len(self.store)
        per_jet = self.store.info.n_slots * (7 * 4 + 2) + 5 * 4 + 2
        if self.n * per_jet <= (MAX_IN_MEMORY_BYTES if max_bytes is None else max_bytes):
            self._load(self.store.read())
            self.store.close()
            self.store = None
        else:
            self.jets, self.block_chunks = None, max(1, BLOCK_CHUNKS)
            self._chunks: OrderedDict[int, tuple[torch.Tensor, ...]] = OrderedDict()

    def _load(self, jets: JetBatch) -> None:
        self.jets, self.n, self.block_chunks = jets, len(jets), None
        self._all = _tensors(jets)

    @property
    def in_memory(self) -> bool:
        return self.store is None

    def __len__(self) -> int:
        return self.n

    def sample(self, size: int, seed: int) -> JetBatch:
        """A seeded random subset for fit_preprocessing (whole chunks when streaming)."""
        rng = np.random.default_rng(seed)
        if size >= self.n:
            return self.jets if self.in_memory else self.store.read()
        if self.in_memory:
            return self.jets[np.sort(rng.choice(self.n, size, replace=False))]
        order = rng.permutation(-(-self.n // CHUNK_JETS))
        sizes = np.minimum(CHUNK_JETS, self.n - order * CHUNK_JETS)
        picks = np.sort(order[: int(np.searchsorted(np.cumsum(sizes), size)) + 1])
        parts = [self.store[int(c) * CHUNK_JETS : (int(c) + 1) * CHUNK_JETS] for c in picks]
        return JetBatch.concat(parts)[:size]

    def _fetch(self, index: np.ndarray) -> tuple[torch.Tensor, ...]:
        if self.in_memory:
            idx = torch.from_numpy(index)
            return tuple(t[idx] for t in self._all)
        chunk_ids = np.unique(index // CHUNK_JETS)
        for c in chunk_ids:
            if int(c) not in self._chunks:
                self._chunks[int(c)] = _tensors(self.store[int(c) * CHUNK_JETS : (int(c) + 1) * CHUNK_JETS])
            self._chunks.move_to_end(int(c))
        while len(self._chunks) > max(2 * self.block_chunks, len(chunk_ids)):  # oldest first
            self._chunks.popitem(last=False)
        which = index // CHUNK_JETS
        first = self._chunks[int(chunk_ids[0])]
        out = [torch.empty((len(index),) + t.shape[1:], dtype=t.dtype) for t in first]
        for c in chunk_ids:
            sel = np.flatnonzero(which == c)
            rows, at = torch.from_numpy(index[sel] % CHUNK_JETS), torch.from_numpy(sel)
            for o, t in zip(out, self._chunks[int(c)], strict=True):
                o[at] = t[rows]
        return tuple(out)

    def gather(self, index: np.ndarray, device: torch.device) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """(encoder batch dict, jet labels) for the jets `index`, trimmed to the longest jet.

        Trailing slots that are padding in every selected jet are cut: encoders ignore padding
        (a tested property), and attention cost grows with the square of the slot count.
        """
        csts, ids, mask, labels = self._fetch(np.asarray(index, dtype=np.int64))
        used = mask.any(0).nonzero()
        n_slots = int(used.max()) + 1 if len(used) else 1
        batch = {
            "csts": csts[:, :n_slots].to(device, non_blocking=True),
            "csts_id": ids[:, :n_slots].long().to(device, non_blocking=True),
            "mask": mask[:, :n_slots].to(device, non_blocking=True),
        }
        return batch, labels.to(device, non_blocking=True)
