"""A split made of jet ranges of real files, read in place: no converted copy.

The paper-scale splits read the downloaded files (100M JetClass jets are ~200 GB of ROOT; a
canonical copy would double that and take a day to write). A `FileSet` is the list of
(file, sha256, jet range) segments of a split, saved as a small JSON index (`*.jets.json`), and
reads like a `JetStore`: `len`, slices and index arrays, `iter_chunks`, labels alone,
`content_hash`. Memory is one read block however large the split: slices and index arrays are
read segment by segment, index arrays in blocks of `BLOCK` jets. A CWoLa mixture is a relabelling
(`flip`: background jets moved to mixture 1 keep their data, only the label changes), so mixed
splits need no copy either. `open_jets(path)` opens either kind of file.
"""

from __future__ import annotations

import base64
import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json
from jetbench.core.hashing import hash_json
from jetbench.data.format import DatasetInfo, JetBatch, dataset_info
from jetbench.data.ranged import JetFile
from jetbench.data.store import JetStore

SUFFIX = ".jets.json"
FORMAT = 1
BLOCK = 10_000  # jets read at once for index-array access (flat memory)
OPEN_FILES = 32  # open file handles kept per FileSet (a ROOT open reads the tree metadata)


@dataclass(frozen=True)
class Segment:
    """Jets [start, stop) of one file, identified by its sha256."""

    path: str
    sha256: str
    start: int
    stop: int
    fmt: str

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Flip:
    """CWoLa relabelling: of the first `n` jets, those whose bit is set get label `label`."""

    label: int
    bits: np.ndarray  # bool [n]

    def to_json(self) -> dict[str, Any]:
        packed = np.packbits(self.bits.astype(bool))
        return {"label": self.label, "n": len(self.bits),
                "bits": base64.b64encode(packed.tobytes()).decode()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Flip:
        raw = np.frombuffer(base64.b64decode(d["bits"]), np.uint8)
        return cls(int(d["label"]), np.unpackbits(raw, count=int(d["n"])).astype(bool))


class FileSet:
    """Jets of file segments, in segment order, with the reading interface of `JetStore`."""

    def __init__(self, dataset: str | DatasetInfo, segments: list[Segment], flip: Flip | None = None,
                 metadata: dict[str, Any] | None = None, path: str | os.PathLike | None = None):
        self.info = dataset if isinstance(dataset, DatasetInfo) else dataset_info(dataset)
        if not segments:
            raise JetbenchError(f"{path or 'file set'}: no file segments")
        self.segments = list(segments)
        self.flip = flip
        self.metadata = dict(metadata or {})
        self.path = Path(path) if path is not None else None
        self.dataset = self.info.name
        self.labels = list(self.info.labels)
        self.features_present = self.info.features_present
        self._ends = np.cumsum([len(s) for s in self.segments])
        self._files: OrderedDict[int, JetFile] = OrderedDict()
        self.content_hash = hash_json({
            "dataset": self.dataset,
            "segments": [[s.sha256, s.start, s.stop] for s in self.segments],
            "flip": None if flip is None else flip.to_json()})

    # --- persistence ---
    def to_json(self) -> dict[str, Any]:
        return {"jetbench_fileset": FORMAT, "dataset": self.dataset,
                "segments": [asdict(s) for s in self.segments],
                "flip": None if self.flip is None else self.flip.to_json(),
                "metadata": self.metadata, "content_hash": self.content_hash}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index atomically."""
        write_json(path, self.to_json())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FileSet:
        try:
            d = json.loads(Path(path).read_text())
            segments = [Segment(**s) for s in d["segments"]]
            flip = None if d.get("flip") is None else Flip.from_json(d["flip"])
            if d.get("jetbench_fileset") != FORMAT:
                raise ValueError(f"format {d.get('jetbench_fileset')!r}, expected {FORMAT}")
            return cls(d["dataset"], segments, flip, d.get("metadata"), path)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise JetbenchError(f"{path}: not a readable file-set index ({err})") from None

    # --- the JetStore reading interface ---
    def __len__(self) -> int:
        return int(self._ends[-1])

    def _file(self, i: int) -> JetFile:
        f = self._files.get(i)
        if f is None:
            s = self.segments[i]
            f = self._files[i] = JetFile(s.path, self.info, s.fmt)
            while len(self._files) > OPEN_FILES:
                self._files.popitem(last=False)[1].close()
        self._files.move_to_end(i)
        return f

    def _locate(self, row: int) -> tuple[int, int]:
        """(segment, offset in the file) of a row."""
        i = int(np.searchsorted(self._ends, row, side="right"))
        first = int(self._ends[i - 1]) if i else 0
        return i, self.segments[i].start + row - first

    def _flip(self, batch: JetBatch, rows: np.ndarray) -> JetBatch:
        if self.flip is not None:
            inside = rows < len(self.flip.bits)
            hit = np.zeros(len(rows), bool)
            hit[inside] = self.flip.bits[rows[inside]]
            if hit.any():
                batch.labels = np.where(hit, self.flip.label, batch.labels).astype(np.int16)
        return batch

    def _slice(self, a: int, b: int) -> JetBatch:
        parts, row = [], a
        while row < b:
            i, off = self._locate(row)
            take = min(b - row, int(self._ends[i]) - row)
            parts.append(self._file(i).read(off, off + take))
            row += take
        batch = parts[0] if len(parts) == 1 else JetBatch.concat(parts)
        return self._flip(batch, np.arange(a, b))

    def __getitem__(self, index: slice | np.ndarray) -> JetBatch:
        """A slice or an index array (any order, repeats allowed) of jets."""
        n = len(self)
        if isinstance(index, slice):
            r = range(n)[index]
            if r.step != 1:
                return self[np.arange(r.start, r.stop, r.step)]
            if not len(r):
                raise JetbenchError(f"{self.path or 'file set'}: empty jet range")
            return self._slice(r.start, r.stop)
        idx = np.asarray(index)
        idx = (np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64)).reshape(-1)
        if not len(idx):
            raise JetbenchError(f"{self.path or 'file set'}: no jets selected")
        if idx.min() < 0 or idx.max() >= n:
            raise JetbenchError(f"{self.path or 'file set'}: jet index out of range 0..{n - 1}")
        uniq, inverse = np.unique(idx, return_inverse=True)
        parts = []
        for block in np.split(uniq, np.flatnonzero(np.diff(uniq // BLOCK)) + 1):
            lo, hi = int(block[0]), int(block[-1]) + 1
            parts.append(self._slice(lo, hi)[block - lo])
        batch = parts[0] if len(parts) == 1 else JetBatch.concat(parts)
        return batch[inverse]

    def read(self) -> JetBatch:
        return self._slice(0, len(self))

    def iter_chunks(self, size: int = 10_000) -> Iterator[JetBatch]:
        for start in range(0, len(self), size):
            yield self._slice(start, min(start + size, len(self)))

    def read_labels(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Label indices of the jets [start, stop) without reading their constituents."""
        stop = len(self) if stop is None else min(stop, len(self))
        out, row = [], start
        while row < stop:
            i, off = self._locate(row)
            take = min(stop - row, int(self._ends[i]) - row)
            out.append(self._file(i).labels(off, off + take))
            row += take
        labels = np.concatenate(out) if out else np.zeros(0, np.int16)
        if self.flip is not None:
            rows = np.arange(start, stop)
            hit = np.zeros(len(rows), bool)
            inside = rows < len(self.flip.bits)
            hit[inside] = self.flip.bits[rows[inside]]
            labels = np.where(hit, self.flip.label, labels).astype(np.int16)
        return labels

    def close(self) -> None:
        while self._files:
            self._files.popitem()[1].close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled into a loader worker without open files (each worker opens its own)."""
        return {**self.__dict__, "_files": OrderedDict()}

    def __enter__(self) -> FileSet:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def is_fileset(path: str | os.PathLike) -> bool:
    return str(path).endswith(SUFFIX)


def open_jets(path: str | os.PathLike) -> JetStore | FileSet:
    """A canonical store or a file-set index, opened for reading (both are context managers)."""
    return FileSet.load(path) if is_fileset(path) else JetStore(path)


def read_labels(path: str | os.PathLike, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Labels of a store or file set, without the constituents."""
    with open_jets(path) as jets:
        return jets.read_labels(start, stop)
