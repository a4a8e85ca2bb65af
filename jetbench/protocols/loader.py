"""Streaming mini-batches for splits too large to hold: a torch DataLoader over file chunks.

At the smoke and cpu scales a split is loaded once and batches are tensor gathers
(`data.RawSource`). The paper splits (100M JetClass jets; ~360 GB as padded float32) are read
while training: `ChunkStream` is an IterableDataset that cuts the split's rows (a budget: any
sorted subset) into pieces of consecutive rows, deals the shuffled pieces out to every DDP rank
and loader worker, and has each worker read `streams` pieces at once, `chunk` rows at a time,
shuffling the rows of its buffer before cutting batches — so a batch mixes jets of `streams`
different files (JetClass files hold one class each) while every file is opened once per epoch
and memory stays at one buffer per worker.

Correct by construction:
- each epoch yields every row exactly once over all ranks and workers, whatever their number
  (rows are dealt, not sampled), in an order fixed by (seed, epoch);
- workers read with one torch thread and their own file handles (open files are not pickled);
- `loader_options` pins host memory only when the device is CUDA, prefetches `prefetch` batches
  per worker only when there are workers, and copies to the device with `non_blocking=True`
  (which overlaps only from pinned memory);
- workers are started per epoch (the epoch number reaches them through the pickled dataset).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from jetbench.core import distributed as dd
from jetbench.data.fileset import open_jets
from jetbench.data.format import JetBatch
from jetbench.protocols.data import trim

CHUNK = 4096  # rows read at once per stream
STREAMS = 16  # pieces (files) a worker reads at once: a batch mixes this many sources
PREFETCH = 4  # batches each worker prepares ahead


def default_workers() -> int:
    """Loader workers: $JETBENCH_LOADER_WORKERS, else min(8, cores - 1) (0 on one core)."""
    env = os.environ.get("JETBENCH_LOADER_WORKERS")
    if env:
        return max(0, int(env))
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def loader_options(device: str | torch.device, workers: int) -> dict[str, Any]:
    """DataLoader keywords for `device`: pinned memory on CUDA only, prefetch with workers only."""
    dev = torch.device(device)
    opts: dict[str, Any] = {"batch_size": None, "num_workers": int(workers),
                            "pin_memory": dev.type == "cuda", "persistent_workers": False}
    if workers > 0:
        opts.update(prefetch_factor=PREFETCH, worker_init_fn=_worker_init)
    return opts


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # the workers share the cores with the training process


@dataclass(frozen=True)
class Piece:
    """Positions [a, b) of the split's sorted rows: consecutive source rows (mostly one file)."""

    a: int
    b: int


def pieces(n_rows: int, parts: int, chunk: int) -> list[Piece]:
    """`n_rows` cut into at least `parts` pieces (when there are enough rows), each at least
    one chunk long."""
    size = max(chunk, math.ceil(n_rows / max(parts, 1)))
    return [Piece(a, min(a + size, n_rows)) for a in range(0, n_rows, size)]


class ChunkStream(IterableDataset):
    """Batches (inputs, targets, source rows) of `rows` of the store or file set at `path`."""

    def __init__(self, path: str | os.PathLike, rows: np.ndarray, targets: Callable[[JetBatch], Any],
                 batch_size: int, seed: int = 0, shuffle: bool = True, chunk: int = CHUNK,
                 streams: int = STREAMS, rank: int = 0, world: int = 1, workers: int = 0):
        super().__init__()
        self.path, self.targets = Path(path), targets
        self.rows = np.sort(np.asarray(rows, np.int64))
        self.batch_size, self.seed, self.shuffle = int(batch_size), int(seed), shuffle
        self.chunk, self.streams = int(chunk), int(streams) if shuffle else 1
        self.rank, self.world = rank, world
        self.pieces = pieces(len(self.rows), world * max(workers, 1) * self.streams, self.chunk)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _mine(self, worker: int, n_workers: int) -> list[Piece]:
        order = (np.random.default_rng([self.seed, self.epoch, 0]).permutation(len(self.pieces))
                 if self.shuffle else np.arange(len(self.pieces)))
        g, total = self.rank * n_workers + worker, self.world * n_workers
        if not self.shuffle:  # in order: contiguous blocks, so concatenating ranks keeps order
            per = math.ceil(len(order) / total)
            return [self.pieces[i] for i in order[g * per:(g + 1) * per]]
        return [self.pieces[i] for i in order[g::total]]

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        todo = self._mine(worker, n_workers)
        rng = np.random.default_rng([self.seed, self.epoch, 1 + self.rank * n_workers + worker])
        with open_jets(self.path) as jets:
            active: list[list[int]] = []  # [next position, end] per open piece
            while todo or active:
                while todo and len(active) < self.streams:
                    p = todo.pop(0)
                    active.append([p.a, p.b])
                buf = []
                for s in active:
                    stop = min(s[0] + self.chunk, s[1])
                    buf.append(self.rows[s[0]:stop])
                    s[0] = stop
                active = [s for s in active if s[0] < s[1]]
                rows = np.concatenate(buf)
                batch = jets[rows]
                order = rng.permutation(len(rows)) if self.shuffle else np.arange(len(rows))
                yield from self._batches(batch, rows, order)

    def _batches(self, batch: JetBatch, rows: np.ndarray, order: np.ndarray) -> Iterator[Any]:
        y_all = np.asarray(self.targets(batch))
        counts = batch.mask.sum(1)
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            p = trim(counts[idx])
            inputs = {"csts": torch.from_numpy(np.ascontiguousarray(batch.csts[idx, :p])),
                      "csts_id": torch.from_numpy(batch.csts_id[idx, :p].astype(np.int64)),
                      "mask": torch.from_numpy(np.ascontiguousarray(batch.mask[idx, :p]))}
            y = y_all[idx]
            if y.ndim >= 2:
                y = y[:, :p]
            yield inputs, torch.from_numpy(np.ascontiguousarray(y)), torch.from_numpy(rows[idx])


def to_device(inputs: dict[str, torch.Tensor], y: torch.Tensor, device: str | torch.device
              ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Host batch -> device; non-blocking (it overlaps with compute from pinned memory)."""
    return ({k: v.to(device, non_blocking=True) for k, v in inputs.items()},
            y.to(device, non_blocking=True))


class StreamSource:
    """A training/validation/scoring source over a split that is read while it is used.

    `epochs(device)` yields (inputs, targets) forever, epoch after epoch, sharded over the DDP
    ranks; `ordered(device)` yields every row once in split order (for scoring)."""

    def __init__(self, path: str | os.PathLike, rows: np.ndarray,
                 targets: Callable[[JetBatch], Any], batch_size: int, seed: int = 0,
                 workers: int | None = None, chunk: int = CHUNK, streams: int = STREAMS):
        self.path, self.rows = Path(path), np.asarray(rows, np.int64)
        self.targets, self.batch_size, self.seed = targets, int(batch_size), int(seed)
        self.workers = default_workers() if workers is None else int(workers)
        self.chunk, self.streams = chunk, streams

    def __len__(self) -> int:
        return len(self.rows)

    def dataset(self, shuffle: bool, batch_size: int, distributed: bool = True) -> ChunkStream:
        world, rank = (dd.world_size(), dd.rank()) if distributed else (1, 0)
        return ChunkStream(self.path, self.rows, self.targets, batch_size, self.seed, shuffle,
                           self.chunk, self.streams, rank, world, self.workers)

    def loader(self, ds: ChunkStream, device: str | torch.device) -> DataLoader:
        return DataLoader(ds, **loader_options(device, self.workers))

    def epochs(self, device: str | torch.device, global_batch: int | None = None
               ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        """Shuffled batches of `global_batch` jets over all ranks (each rank its share)."""
        per_rank = max(1, (global_batch or self.batch_size) // dd.world_size())
        ds = self.dataset(True, per_rank)
        for epoch in count():
            ds.set_epoch(epoch)
            for inputs, y, _ in self.loader(ds, device):
                yield to_device(inputs, y, device)

    def ordered(self, device: str | torch.device, batch_size: int | None = None
                ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]:
        """Every row once, with its source row (one process; for scoring). Workers interleave
        their batches, so callers place results by row, not by arrival."""
        ds = self.dataset(False, batch_size or self.batch_size, distributed=False)
        for inputs, y, rows in self.loader(ds, device):
            yield (*to_device(inputs, y, device), rows)
