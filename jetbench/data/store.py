"""The on-disk canonical store: one HDF5 file per dataset split, chunked and compressed.

Written through `StoreWriter` (append batches, atomic rename on close, content hash recorded in the
file attributes), read through `JetStore` (slices and chunk iteration without loading the file).
Keys are the canonical ones (`csts csts_id mask jets labels` [+ `vtx_id track_type`]), which is
also the layout of the paper-2 HDF5 files. A store is checked when opened (header: attributes,
datasets, dtypes, shapes, counts; `store_header`) and as it is read (label range); any damage is
one JetbenchError naming the file and the field.
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
from jetbench.data.fileerrors import damaged_file_errors
from jetbench.data.format import CST_FEATURES, JET_FEATURES, DatasetInfo, JetBatch, dataset_info
from jetbench.data.store_header import FORMAT_VERSION, read_header

__all__ = ["CHUNK_JETS", "FORMAT_VERSION", "JetStore", "StoreWriter", "verify_store", "write_store"]
CHUNK_JETS = 1024


class StoreWriter:
    """Append JetBatches to a new canonical HDF5 file; the file appears only after `close()`.

    Used as a context manager: on an exception the temporary file is deleted, so an interrupted
    generation or conversion never leaves a partial store behind. `dataset` is a registered name
    or, for a user's own data, a `DatasetInfo` (its labels are then recorded in the file only).
    """

    def __init__(self, path: str | os.PathLike, dataset: str | DatasetInfo,
                 metadata: dict[str, Any] | None = None):
        self.info: DatasetInfo = dataset if isinstance(dataset, DatasetInfo) else dataset_info(dataset)
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self.features_present = self.info.features_present
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        try:
            # HDF5 writes through a GuardedFile: a full disk must not crash it (core.guarded_file)
            self._io = GuardedFile(self._tmp)
            try:
                self._file = h5py.File(self._io, "w")
            except BaseException:
                self._io.close()
                raise
        except OSError as err:
            with contextlib.suppress(BaseException):
                self._atomic.__exit__(type(err), err, None)
            raise JetbenchError(f"{self.path}: cannot create the store ({err})") from None
        self._hashers: dict[str, Any] = {}
        self.n = 0

    def append(self, batch: JetBatch) -> None:
        batch.validate(where=str(self.path), n_labels=len(self.info.labels))
        if batch.n_slots != self.info.n_slots:
            raise JetbenchError(f"{self.path}: batch has {batch.n_slots} slots, "
                                f"dataset '{self.info.name}' has {self.info.n_slots}")
        if (batch.vtx_id is not None) != self.info.has_tracks:
            want = "needs" if self.info.has_tracks else "has no"
            raise JetbenchError(f"{self.path}: dataset '{self.info.name}' {want} track truth "
                                "(vtx_id, track_type)")
        extra = set(batch.features_present) - set(self.info.features_present)
        if extra:
            raise JetbenchError(f"{self.path}: batch has inputs dataset '{self.info.name}' does not "
                                f"declare ({', '.join(sorted(extra))})")
        self.features_present = tuple(f for f in self.features_present if f in batch.features_present)
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
        return _combine(self._hashers)

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
        attrs["features_present"] = json.dumps(self.features_present)
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


def _combine(hashers: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for key in sorted(hashers):
        h.update(key.encode() + hashers[key].digest())
    return h.hexdigest()[:16]


def write_store(path: str | os.PathLike, batch: JetBatch, dataset: str | DatasetInfo,
                metadata: dict[str, Any] | None = None) -> str:
    """Write one batch as a store; return its content hash."""
    with StoreWriter(path, dataset, metadata) as w:
        w.append(batch)
    return w.content_hash()


def _read_errors(path: Path):
    return damaged_file_errors(path, "store")


class JetStore:
    """Read-only view of a canonical HDF5 store: `len`, slicing, chunk iteration, metadata."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise JetbenchError(f"{self.path}: no such file")
        try:
            self._file = h5py.File(self.path, "r")
        except Exception as err:  # OSError mostly; damaged superblocks raise others
            raise JetbenchError(f"{self.path}: not a readable HDF5 file ({err})") from None
        try:
            with _read_errors(self.path):
                header = read_header(self._file, self.path)
        except BaseException:
            self._file.close()
            raise
        self.info: DatasetInfo = header.info
        self.dataset: str = header.info.name
        self.content_hash: str = header.content_hash
        self.metadata: dict[str, Any] = header.metadata
        self.labels: list[str] = list(header.labels)
        self.features_present: tuple[str, ...] = header.features_present
        self.keys = list(header.keys)
        self._n = header.n_jets

    def __len__(self) -> int:
        return self._n

    def _batch(self, arrays: dict[str, np.ndarray], first: int) -> JetBatch:
        batch = JetBatch(**arrays, features_present=self.features_present)
        labels = batch.labels
        bad = (labels < 0) | (labels >= len(self.labels))
        if bad.any():
            j = int(np.argmax(bad))
            raise JetbenchError(f"{self.path}: store field 'labels' holds {int(labels[j])} at jet "
                                f"{first + j}, expected 0..{len(self.labels) - 1}")
        return batch

    def __getitem__(self, index: slice | np.ndarray) -> JetBatch:
        """Read a slice or an index array (any order, repeats allowed) of jets."""
        with _read_errors(self.path):
            if isinstance(index, slice):
                start = range(self._n)[index].start if len(range(self._n)[index]) else 0
                return self._batch({k: self._file[k][index] for k in self.keys}, start)
            idx = np.asarray(index)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            idx = idx.astype(np.int64).reshape(-1)
            if len(idx) and (idx.min() < 0 or idx.max() >= self._n):
                raise JetbenchError(f"{self.path}: jet index out of range 0..{self._n - 1}")
            uniq, inverse = np.unique(idx, return_inverse=True)
            return self._batch({k: self._file[k][uniq][inverse] for k in self.keys}, 0)

    def read_labels(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Label indices of the jets [start, stop) without reading their constituents."""
        with _read_errors(self.path):
            return np.asarray(self._file["labels"][start:stop], np.int16)

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
    """Check every jet (dtypes, shapes, finiteness, labels, neutral values of missing inputs)
    and recompute the content hash chunk by chunk; raise if anything is off."""
    with JetStore(path) as store:
        hashers = {k: hashlib.sha256() for k in store.keys}
        for start in range(0, len(store), chunk):
            batch = store[start:start + chunk]
            batch.validate(f"{path} [jets {start}-{start + len(batch) - 1}]", len(store.labels))
            for k, a in batch.arrays().items():
                hashers[k].update(np.ascontiguousarray(a).tobytes())
        got = _combine(hashers)
        if got != store.content_hash:
            raise JetbenchError(f"{path}: content hash {got} does not match recorded {store.content_hash}")
        return got

