"""What a protocol trains and scores on: a `Split` (rows of a canonical store, or an in-memory
batch) and the mini-batch sources that turn it into tensors.

Batches are cut to the longest jet they contain (slots are pT-sorted, so real constituents come
first): no compute is spent on padding beyond that. A split larger than `max_in_memory_bytes()`
(a paper-scale split of real files) is not loaded: protocols read it through
`jetbench.protocols.loader` while they use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_arrays
from jetbench.data.fileset import open_jets
from jetbench.data.format import JetBatch

MAX_IN_MEMORY_GB = 4.0  # the pretraining data's threshold too (pretraining/data.py)


def max_in_memory_bytes() -> int:
    """Largest split loaded whole: $JETBENCH_MAX_IN_MEMORY_GB, else 4 GB."""
    env = os.environ.get("JETBENCH_MAX_IN_MEMORY_GB")
    try:
        return int(float(env) * 1024**3) if env else int(MAX_IN_MEMORY_GB * 1024**3)
    except ValueError:
        raise JetbenchError(f"JETBENCH_MAX_IN_MEMORY_GB={env!r}: expected a number") from None


@dataclass
class Split:
    """Jets of one split: `indices` rows of the store at `path` (all rows if None), or `batch`."""

    name: str
    path: Path | None = None
    indices: np.ndarray | None = None
    batch: JetBatch | None = field(default=None, repr=False)
    _loaded: JetBatch | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_store(cls, name: str, path: str | os.PathLike,
                   indices: np.ndarray | None = None) -> Split:
        return cls(name, Path(path), None if indices is None else np.asarray(indices, np.int64))

    @classmethod
    def from_batch(cls, name: str, batch: JetBatch) -> Split:
        return cls(name, None, None, batch)

    @cached_property
    def source_hash(self) -> str:
        """Content hash of the whole source (the store's recorded hash, or of the batch arrays)."""
        if self.path is not None:
            with open_jets(self.path) as store:
                return store.content_hash
        return hash_arrays(self.batch.arrays())

    @cached_property
    def source_len(self) -> int:
        if self.path is not None:
            with open_jets(self.path) as store:
                return len(store)
        return len(self.batch)

    def rows(self) -> np.ndarray:
        """Row numbers in the source, in this split's order."""
        return np.arange(self.source_len) if self.indices is None else self.indices

    def __len__(self) -> int:
        return self.source_len if self.indices is None else len(self.indices)

    def load_rows(self, rows: np.ndarray | None = None) -> JetBatch:
        """Jets at source rows `rows` (default: this split's rows)."""
        rows = self.rows() if rows is None else np.asarray(rows, np.int64)
        if self.path is None:
            return self.batch[rows]
        with open_jets(self.path) as store:
            if len(rows) == len(store) and np.array_equal(rows, np.arange(len(store))):
                return store.read()
            return store[rows]

    def nbytes(self) -> int:
        """Memory of this split's jets as a loaded batch (padded arrays)."""
        if self.path is None:
            return sum(a.nbytes for a in self.batch.arrays().values())
        with open_jets(self.path) as jets:
            info = jets.info
        per_jet = info.n_slots * (7 * 4 + 1 + 1 + (3 if info.has_tracks else 0)) + 5 * 4 + 2
        return len(self) * per_jet

    def streams(self) -> bool:
        """Too large to load whole: read while used (`jetbench.protocols.loader`)."""
        return self.path is not None and self.nbytes() > max_in_memory_bytes()

    def subset(self, n: int, seed: int) -> Split:
        """A seeded random `n` of this split's jets (sorted rows), e.g. a validation sample."""
        rows = self.rows()
        if n >= len(rows):
            return self
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), n, replace=False))
        return Split(self.name, self.path, rows[pick], self.batch)

    def load(self) -> JetBatch:
        """This split's jets, read once (fitting, scoring and the metrics share the batch)."""
        if self._loaded is None:
            self._loaded = self.load_rows()
        return self._loaded


def trim(n_real: np.ndarray) -> int:
    """Slots needed for a batch: its longest jet (at least 1)."""
    return max(int(n_real.max(initial=1)), 1)


class RawSource:
    """Canonical jets + targets -> encoder input dicts, cut to the batch's longest jet."""

    def __init__(self, batch: JetBatch, targets: np.ndarray):
        self.csts = torch.from_numpy(np.ascontiguousarray(batch.csts))
        self.ids = torch.from_numpy(batch.csts_id.astype(np.int64))
        self.mask = torch.from_numpy(batch.mask)
        self.counts = batch.mask.sum(1)
        self.targets = torch.from_numpy(np.asarray(targets))

    def __len__(self) -> int:
        return len(self.counts)

    def get(self, idx: np.ndarray, device: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        p = trim(self.counts[idx])
        t = torch.from_numpy(np.asarray(idx))
        inputs = {"csts": self.csts[t, :p], "csts_id": self.ids[t, :p], "mask": self.mask[t, :p]}
        y = self.targets[t]
        if y.ndim >= 2:
            y = y[:, :p]
        return {k: v.to(device) for k, v in inputs.items()}, y.to(device)


class EmbeddingSource:
    """Cached encoder outputs (packed real tokens) + targets -> head inputs, padded per batch."""

    def __init__(self, jet: np.ndarray, tokens: np.ndarray, offsets: np.ndarray,
                 targets: np.ndarray):
        self.jet = torch.from_numpy(np.ascontiguousarray(jet, np.float32))
        self.tokens = torch.from_numpy(np.ascontiguousarray(tokens))
        self.offsets = np.asarray(offsets, np.int64)
        self.counts = np.diff(self.offsets)
        self.targets = torch.from_numpy(np.asarray(targets))

    def __len__(self) -> int:
        return len(self.counts)

    def get(self, idx: np.ndarray, device: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        idx = np.asarray(idx)
        counts = self.counts[idx]
        p = trim(counts)
        mask = np.arange(p)[None, :] < counts[:, None]
        # packed positions of the selected jets' tokens, row-major like `tokens[mask]`
        starts = self.offsets[idx] - (np.cumsum(counts) - counts)
        flat = np.arange(int(counts.sum())) + np.repeat(starts, counts)
        tokens = torch.zeros(len(idx), p, self.tokens.shape[1], dtype=torch.float32)
        tmask = torch.from_numpy(mask)
        tokens[tmask] = self.tokens[torch.from_numpy(flat)].float()
        t = torch.from_numpy(idx)
        y = self.targets[t]
        if y.ndim >= 2:
            y = y[:, :p]
        inputs = {"jet": self.jet[t], "tokens": tokens, "mask": tmask}
        return {k: v.to(device) for k, v in inputs.items()}, y.to(device)


def batches(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches over n items: shuffled by `rng`, or in order when rng is None."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
