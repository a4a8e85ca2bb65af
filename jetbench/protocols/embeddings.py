"""On-disk cache of frozen encoder outputs, so `frozen`/`linear` sweeps embed each jet once.

Key: the encoder's revision (`jetbench.encoders.identity`: a hash of its code, config and every
tensor, so an in-memory model that keeps training, or an encoder whose code changed, never reads
stale embeddings) and the content hash of the store.
File: data_dir()/embeddings/<encoder>/<revision>/<store hash>.npz with
`rows` (store rows present, sorted), `jet` [M, D] float32, `tokens` [T, D] float16 (real tokens
only, packed) and `offsets` [M + 1]. The cache is sparse: only rows some run needed are
computed; later runs add the missing rows (read-merge-write under a file lock, written atomically).
`refresh=True` (`jetbench run --force`) recomputes the requested rows instead of reading them.
The folder has a size cap with least-recently-used eviction (`jetbench.protocols.embedding_cache`,
`jetbench cache list|clear`); `use_cache=False` computes in memory and writes nothing, for a
training loop that evaluates a changing model every epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from jetbench.core import distributed as dd
from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path
from jetbench.core.locks import file_lock
from jetbench.core.log import progress_bar
from jetbench.data.format import JetBatch
from jetbench.encoders.identity import identify
from jetbench.protocols.data import Split, trim
from jetbench.protocols.embedding_cache import cache_root, enforce_cap, record_use


class EmbedStats(Protocol):
    """Where `embed` adds the jets it ran through the encoder and the seconds it took."""

    embedded_jets: int
    embed_s: float


@dataclass
class Embeddings:
    rows: np.ndarray
    jet: np.ndarray
    tokens: np.ndarray
    offsets: np.ndarray

    def take(self, pos: np.ndarray) -> Embeddings:
        """Entries at positions `pos` (any order), tokens repacked to match."""
        counts = np.diff(self.offsets)[pos]
        starts = self.offsets[pos] - (np.cumsum(counts) - counts)
        flat = np.arange(int(counts.sum())) + np.repeat(starts, counts)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return Embeddings(self.rows[pos], self.jet[pos], self.tokens[flat], offsets)

    def select(self, rows: np.ndarray) -> Embeddings:
        """The entries for store rows `rows` (all must be present), in that order."""
        rows = np.asarray(rows, np.int64)
        pos = np.clip(np.searchsorted(self.rows, rows), 0, max(len(self.rows) - 1, 0))
        if len(rows) and (len(self.rows) == 0 or not np.array_equal(self.rows[pos], rows)):
            raise JetbenchError("embedding cache is missing requested rows (concurrent writer?)")
        return self.take(pos)

    @staticmethod
    def merge(parts: list[Embeddings]) -> Embeddings:
        """Disjoint parts -> one, sorted by row."""
        counts = np.concatenate([np.diff(p.offsets) for p in parts])
        whole = Embeddings(np.concatenate([p.rows for p in parts]).astype(np.int64),
                           np.concatenate([p.jet for p in parts]),
                           np.concatenate([p.tokens for p in parts]),
                           np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        return whole.take(np.argsort(whole.rows, kind="stable"))


def cache_path(encoder: torch.nn.Module, split: Split) -> Path:
    ident = identify(encoder)
    return _path(ident.name, ident.revision, split)


def _path(name: str, revision: str, split: Split) -> Path:
    safe = name.replace("/", "_").replace(":", "_")
    return cache_root() / safe / revision / f"{split.source_hash}.npz"


def _read(path: Path) -> Embeddings | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            return Embeddings(z["rows"], z["jet"], z["tokens"], z["offsets"])
    except (OSError, ValueError, KeyError) as err:
        raise JetbenchError(f"{path}: corrupt embedding cache ({err}); delete it to recompute"
                            ) from None


def _write(path: Path, emb: Embeddings) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, rows=emb.rows, jet=emb.jet, tokens=emb.tokens, offsets=emb.offsets)


@torch.no_grad()
def compute(encoder: torch.nn.Module, split: Split, rows: np.ndarray, device: str,
            batch_size: int = 256, progress: bool = True,
            stats: EmbedStats | None = None, batch: JetBatch | None = None) -> Embeddings:
    """Run the frozen encoder over store rows `rows`; batches grouped by length to skip padding.
    `batch`: those rows already loaded (a caller that also needs their targets reads once)."""
    t0 = time.perf_counter()
    batch = split.load_rows(rows) if batch is None else batch
    first = next(iter(encoder.parameters()), None)
    device = str(first.device) if first is not None else device  # run where the encoder lives
    counts = batch.mask.sum(1)
    order = np.argsort(counts, kind="stable")
    jets, toks, lens = [], [], []
    was_training = encoder.training
    encoder.eval()
    bar = progress_bar(total=len(rows), desc=f"embed {split.name}", unit="jet", enabled=progress,
                       leave=False)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        p = trim(counts[idx])
        inputs = {"csts": torch.from_numpy(batch.csts[idx, :p]).to(device),
                  "csts_id": torch.from_numpy(batch.csts_id[idx, :p].astype(np.int64)).to(device),
                  "mask": torch.from_numpy(batch.mask[idx, :p]).to(device)}
        jet, tokens, mask = encoder.encode(inputs)
        jets.append(jet.float().cpu().numpy())
        toks.append(tokens[mask].to(torch.float16).cpu().numpy())
        lens.append(mask.sum(1).cpu().numpy())
        bar.update(len(idx))
    bar.close()
    encoder.train(was_training)
    if stats is not None:
        stats.embedded_jets += len(rows)
        stats.embed_s += time.perf_counter() - t0
    lens_all = np.concatenate(lens)
    sorted_emb = Embeddings(np.asarray(rows)[order], np.concatenate(jets), np.concatenate(toks),
                            np.concatenate([[0], np.cumsum(lens_all)]).astype(np.int64))
    return Embeddings.merge([sorted_emb])


def embed(encoder: torch.nn.Module, split: Split, device: str = "cpu", batch_size: int = 256,
          progress: bool = True, use_cache: bool = True, refresh: bool = False,
          stats: EmbedStats | None = None, task: str | None = None) -> Embeddings:
    """Embeddings of the split's rows (in split order), from the cache where present
    (`refresh`: recomputed and written back). `stats` collects what was computed now; `task`
    is recorded with the cache file's use (`jetbench cache list` groups by it).

    Under torchrun, rank 0 computes and writes while the other ranks wait, then read.
    """
    rows = split.rows()
    if not use_cache:
        return compute(encoder, split, np.unique(rows), device, batch_size, progress,
                       stats).select(rows)
    ident = identify(encoder)
    path = _path(ident.name, ident.revision, split)
    if dd.world_size() > 1 and not dd.is_main():
        dd.barrier()
        return _read(path).select(rows)
    with file_lock(path, what=f"the {ident.name} embeddings of {split.name}"):
        have = _read(path)
        need = np.unique(rows)
        if refresh and have is not None:  # drop the requested rows; they are computed again
            keep = np.flatnonzero(~np.isin(have.rows, need))
            have = have.take(keep) if len(keep) else None
        missing = need if have is None else need[~np.isin(need, have.rows)]
        if len(missing):
            new = compute(encoder, split, missing, device, batch_size, progress, stats)
            have = new if have is None else Embeddings.merge([have, new])
            _write(path, have)
        record_use(path, ident.name, task)
    if len(missing):
        enforce_cap(path)
    if dd.world_size() > 1:
        dd.barrier()
    return have.select(rows)
