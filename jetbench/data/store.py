"""The on-disk canonical store: one HDF5 file per dataset split, chunked and compressed.

Written through `StoreWriter` (append batches, atomic rename on close, content hash recorded in the
file attributes), read through `JetStore` (slices and chunk iteration without loading the file).
Keys are the canonical ones (`csts csts_id mask jets labels` [+ `vtx_id track_type`]), which is
also the layout of the paper-2 HDF5 files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path
from jetbench.core.guarded_file import GuardedFile
from jetbench.data.format import CST_FEATURES, JET_FEATURES, DatasetInfo, JetBatch, dataset_info

FORMAT_VERSION = 1
CHUNK_JETS = 1024


class StoreWriter:
    """Append JetBatches to a new canonical HDF5 file; the file appears only after `close()`.

    Used as a context manager: on an exception the temporary file is deleted, so an interrupted
    generation or conversion never leaves a partial store behind.
    """

    def __init__(self, path: str | os.PathLike, dataset: str, metadata: dict[str, Any] | None = None):
        self.info: DatasetInfo = dataset_info(dataset)
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._io = GuardedFile(self._tmp)  # a full disk must not crash HDF5 (see core.guarded_file)
        self._file = h5py.File(self._io, "w")
        self._hashers: dict[str, Any] = {}
        self.n = 0

    def append(self, batch: JetBatch) -> None:
        batch.validate(where=str(self.path))
        if batch.n_slots != self.info.n_slots:
            raise JetbenchError(f"{self.path}: batch has {batch.n_slots} slots, "
                                f"dataset '{self.info.name}' has {self.info.n_slots}")
        arrays = batch.arrays()
        for key, a in arrays.items():
            if key not in self._file:
                chunks = (min(CHUNK_JETS, max(len(a), 1)),) + a.shape[1:]
                self._file.create_dataset(key, shape=(0,) + a.shape[1:], maxshape=(None,) + a.shape[1:],
                                          dtype=a.dtype, chunks=chunks, compression="gzip",
                                          compression_opts=4, shuffle=True)
                self._hashers[key] = hashlib.sha256()
            ds = self._file[key]
            ds.resize(self.n + len(a), axis=0)
            ds[self.n:] = a
            self._hashers[key].update(np.ascontiguousarray(a).tobytes())
        self.n += len(batch)
        self._flush()  # a full disk fails here, in Python, not later inside HDF5's close

    def content_hash(self) -> str:
        h = hashlib.sha256()
        for key in sorted(self._hashers):
            h.update(key.encode() + self._hashers[key].digest())
        return h.hexdigest()[:16]

    def close(self) -> Path:
        if self.n == 0:
            err = JetbenchError(f"{self.path}: no jets to write")
            self.abort(err)
            raise err
        attrs = self._file.attrs
        attrs["jetbench_format"] = FORMAT_VERSION
        attrs["dataset"] = self.info.name
        attrs["n_jets"] = self.n
        attrs["cst_features"] = json.dumps(CST_FEATURES)
        attrs["jet_features"] = json.dumps(JET_FEATURES)
        attrs["labels"] = json.dumps(self.info.labels)
        attrs["content_hash"] = self.content_hash()
        attrs["metadata"] = json.dumps(self.metadata, sort_keys=True, default=str)
        self._flush()
        self._file.close()
        self._io.close()
        if self._io.error is not None:
            err = JetbenchError(f"{self.path}: cannot write ({self._io.error.strerror}); "
                                "nothing was written")
            self.abort(err)
            raise err
        self._atomic.__exit__(None, None, None)
        return self.path

    def _flush(self) -> None:
        self._file.flush()
        if self._io.error is not None:
            err = self._io.error
            raise JetbenchError(f"{self.path}: cannot write ({err.strerror or err}); "
                                "nothing was written")

    def abort(self, exc: BaseException | None = None) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        self._io.close()
        exc = exc or RuntimeError("aborted")
        with contextlib.suppress(BaseException):  # __exit__ re-raises after deleting the temp file
            self._atomic.__exit__(type(exc), exc, None)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


def write_store(path: str | os.PathLike, batch: JetBatch, dataset: str,
                metadata: dict[str, Any] | None = None) -> str:
    """Write one batch as a store; return its content hash."""
    with StoreWriter(path, dataset, metadata) as w:
        w.append(batch)
    return w.content_hash()


class JetStore:
    """Read-only view of a canonical HDF5 store: `len`, slicing, chunk iteration, metadata."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise JetbenchError(f"{self.path}: no such file")
        try:
            self._file = h5py.File(self.path, "r")
            attrs = dict(self._file.attrs)
        except OSError as err:
            raise JetbenchError(f"{self.path}: not a readable HDF5 file ({err})") from None
        if "content_hash" not in attrs:
            raise JetbenchError(f"{self.path}: not a jetbench store (no 'content_hash' attribute); "
                                "use `jetbench data convert` for paper-2 HDF5 files")
        self.dataset: str = str(attrs["dataset"])
        self.info = dataset_info(self.dataset)
        self.content_hash: str = str(attrs["content_hash"])
        self.metadata: dict[str, Any] = json.loads(attrs.get("metadata", "{}"))
        self.labels: list[str] = json.loads(attrs["labels"])
        self.keys = [k for k in JetBatch.DTYPES if k in self._file]
        self._n = int(attrs["n_jets"])

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: slice | np.ndarray) -> JetBatch:
        """Read a slice or a sorted/unsorted index array of jets."""
        try:
            if isinstance(index, slice):
                return JetBatch(**{k: self._file[k][index] for k in self.keys})
            idx = np.asarray(index)
            order = np.argsort(idx, kind="stable")
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order))
            sorted_idx = idx[order]
            return JetBatch(**{k: self._file[k][sorted_idx][inverse] for k in self.keys})
        except (OSError, KeyError) as err:
            raise JetbenchError(f"{self.path}: corrupt or truncated store ({err})") from None

    def iter_chunks(self, size: int = 10_000) -> Iterator[JetBatch]:
        for start in range(0, len(self), size):
            yield self[start:start + size]

    def read(self) -> JetBatch:
        return self[0:len(self)]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JetStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def verify_store(path: str | os.PathLike, chunk: int = 20_000) -> str:
    """Recompute the content hash of a store chunk by chunk; raise if it does not match."""
    with JetStore(path) as store:
        hashers = {k: hashlib.sha256() for k in store.keys}
        for batch in store.iter_chunks(chunk):
            for k, a in batch.arrays().items():
                hashers[k].update(np.ascontiguousarray(a).tobytes())
        h = hashlib.sha256()
        for key in sorted(hashers):
            h.update(key.encode() + hashers[key].digest())
        got = h.hexdigest()[:16]
        if got != store.content_hash:
            raise JetbenchError(f"{path}: content hash {got} does not match recorded {store.content_hash}")
        return got
