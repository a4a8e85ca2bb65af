"""`frozen`/`linear` on a split too large to hold (paper scale): embeddings made chunk by chunk.

The npz cache (`jetbench.protocols.embeddings`) holds a whole split in memory when it writes and
reads it; at the paper scale (20M test jets, ~1M training jets, tens of real tokens of D floats
each) that is tens to hundreds of GB. A split that `streams()` is instead run through the
encoder `CHUNK` rows at a time (`embedded_chunks`):

- scoring predicts each chunk as it comes and keeps only the predictions;
- fitting writes each chunk's jet embeddings (float32), packed real tokens (float16, as in the
  cache) and targets to flat files in a folder under `data_dir()/embeddings/stream/`
  (`EmbeddingStore`), which the head then reads back batch by batch: every read maps the files,
  copies the rows it needs and drops the mapping, so resident memory stays one batch and the
  page cache does the rest. The folder lives for one fit (a killed run leaves it behind).

A batch read from the store equals the same batch of the in-memory `EmbeddingSource`, so the
head trains on the same numbers; only the encoder's batches differ (grouped by length within a
chunk rather than within the split), which can move an embedding by float rounding.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetbench.core import distributed as dd
from jetbench.core.errors import JetbenchError
from jetbench.data.fileset import open_jets
from jetbench.data.format import JetBatch
from jetbench.protocols.data import EmbeddingSource, Split
from jetbench.protocols.embedding_cache import cache_root
from jetbench.protocols.embeddings import Embeddings, EmbedStats, compute

CHUNK = 16_384  # rows embedded at once: a multiple of the 512-jet prediction batch
_JET, _TOKENS, _TARGETS = "jet.bin", "tokens.bin", "targets.bin"
_OFFSETS, _META = "offsets.npy", "meta.json"  # written last: a folder with meta.json is complete


def stream_root() -> Path:
    """Where the per-fit folders go: next to the embedding cache (the disk sized for it)."""
    return cache_root() / "stream"


def embedded_bytes(split: Split, dim: int) -> int:
    """The most the split's embeddings can take in memory: a float16 token per slot and a
    float32 jet vector per jet (a store-backed split)."""
    with open_jets(split.path) as jets:
        n_slots = jets.info.n_slots
    return len(split) * (n_slots * dim * 2 + dim * 4)


def embedded_chunks(encoder: torch.nn.Module, split: Split, targets: Callable[[JetBatch], Any],
                    *, device: str = "cpu", batch_size: int = 256, progress: bool = True,
                    stats: EmbedStats | None = None, chunk: int | None = None
                    ) -> Iterator[tuple[Embeddings, np.ndarray]]:
    """(embeddings, targets) of consecutive pieces of `chunk` (default `CHUNK`) of the split's
    rows, in split order; each piece's jets are read once and embedded without the cache."""
    rows = split.rows()
    size = max(1, int(chunk or CHUNK))
    for a in range(0, len(rows), size):
        part = rows[a:a + size]
        uniq = np.unique(part)
        batch = split.load_rows(uniq)
        emb = compute(encoder, split, uniq, device, batch_size, progress, stats, batch=batch)
        pos = np.searchsorted(uniq, part)
        yield emb.take(pos), np.asarray(targets(batch))[pos]


class EmbeddingStore:
    """A folder of flat files: jet [N, D] float32, real tokens [T, D] float16, targets [N, ...],
    offsets [N + 1], in the order written. A mini-batch source (`get`, `len`) like
    `EmbeddingSource`, never resident (`keep_resident = False`: the linear fit re-reads it)."""

    keep_resident = False

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            meta = json.loads((self.folder / _META).read_text())
            self.offsets = np.load(self.folder / _OFFSETS)
            self.n, self.dim = int(meta["n"]), int(meta["dim"])
            self.target_dtype = np.dtype(meta["target_dtype"])
            self.target_shape = tuple(int(d) for d in meta["target_shape"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise JetbenchError(f"{self.folder}: streamed embeddings missing or incomplete "
                                f"({type(err).__name__}: {err})") from None
        self.counts = np.diff(self.offsets)
        expect = {_JET: self.n * self.dim * 4, _TOKENS: int(self.offsets[-1]) * self.dim * 2,
                  _TARGETS: self.n * int(np.prod(self.target_shape)) * self.target_dtype.itemsize}
        for name, size in expect.items():
            path = self.folder / name
            have = path.stat().st_size if path.exists() else None
            if have != size or len(self.offsets) != self.n + 1:
                raise JetbenchError(f"{path}: {have} bytes, expected {size} (streamed embeddings "
                                    "changed or removed while in use?)")

    def __len__(self) -> int:
        return self.n

    @classmethod
    def write(cls, folder: str | Path, chunks: Iterable[tuple[Embeddings, np.ndarray]]
              ) -> EmbeddingStore:
        """Append each (embeddings, targets) chunk to the files; metadata last (it marks the
        folder complete)."""
        folder = Path(folder)
        counts: list[np.ndarray] = []
        dim: int | None = None
        target: np.ndarray | None = None  # first chunk's targets: dtype and per-row shape
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / _JET, "wb") as fj, open(folder / _TOKENS, "wb") as ft, \
                    open(folder / _TARGETS, "wb") as fy:
                for emb, y in chunks:
                    dim = emb.jet.shape[1] if dim is None else dim
                    target = y if target is None else target
                    if emb.jet.shape[1] != dim or y.shape[1:] != target.shape[1:]:
                        raise JetbenchError(f"{folder}: chunk shapes differ ({emb.jet.shape}, "
                                            f"{y.shape}) from the first chunk's")
                    np.ascontiguousarray(emb.jet, np.float32).tofile(fj)
                    np.ascontiguousarray(emb.tokens, np.float16).reshape(-1, dim).tofile(ft)
                    np.ascontiguousarray(y, target.dtype).tofile(fy)
                    counts.append(np.diff(emb.offsets))
            if dim is None:
                raise JetbenchError(f"{folder}: no jets to embed (empty split)")
            offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
            np.save(folder / _OFFSETS, offsets)
            meta = {"n": len(offsets) - 1, "dim": int(dim), "target_dtype": target.dtype.str,
                    "target_shape": list(target.shape[1:])}
            (folder / _META).write_text(json.dumps(meta))
        except OSError as err:
            raise JetbenchError(f"{folder}: cannot write streamed embeddings "
                                f"({err.strerror or err}); free disk space under {stream_root()} "
                                "or lower the training budget") from None
        return cls(folder)

    def _map(self, name: str, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        if shape[0] == 0:
            return np.zeros(shape, dtype)
        try:
            return np.memmap(self.folder / name, dtype=dtype, mode="r", shape=shape)
        except (OSError, ValueError) as err:
            raise JetbenchError(f"{self.folder / name}: cannot read streamed embeddings "
                                f"({err})") from None

    def get(self, idx: np.ndarray, device: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Head inputs and targets of items `idx` (any order): the rows are copied out of
        short-lived maps and batched exactly as `EmbeddingSource.get` batches them."""
        idx = np.asarray(idx, np.int64)
        counts = self.counts[idx]
        starts = self.offsets[idx] - (np.cumsum(counts) - counts)
        flat = np.arange(int(counts.sum())) + np.repeat(starts, counts)
        jet = np.array(self._map(_JET, np.float32, (self.n, self.dim))[idx])
        tokens = np.array(self._map(_TOKENS, np.float16, (int(self.offsets[-1]), self.dim))[flat])
        y = np.array(self._map(_TARGETS, self.target_dtype, (self.n, *self.target_shape))[idx])
        part = EmbeddingSource(jet, tokens, np.concatenate([[0], np.cumsum(counts)]), y)
        return part.get(np.arange(len(idx)), device)

    def remove(self) -> None:
        """Delete the folder (rank 0; call once every rank has finished reading)."""
        if dd.is_main():
            shutil.rmtree(self.folder, ignore_errors=True)


def stream_embeddings(encoder: torch.nn.Module, split: Split, targets: Callable[[JetBatch], Any],
                      **kwargs: Any) -> EmbeddingStore:
    """The split's embeddings and targets written to a fresh folder chunk by chunk (keywords:
    `embedded_chunks`'). Under torchrun rank 0 writes while the other ranks wait, then all read."""
    name = ""
    if dd.is_main():
        stream_root().mkdir(parents=True, exist_ok=True)
        name = tempfile.mkdtemp(prefix=f"{split.name}-", dir=stream_root())
    folder = Path(dd.broadcast_object(name))
    if dd.is_main():
        try:
            EmbeddingStore.write(folder, embedded_chunks(encoder, split, targets, **kwargs))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    dd.barrier()
    return EmbeddingStore(folder)


__all__ = ["CHUNK", "EmbeddingStore", "embedded_bytes", "embedded_chunks", "stream_embeddings", "stream_root"]
