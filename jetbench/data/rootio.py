"""Writing real-schema ROOT files (a TTree named "tree", like the JetClass/BTag files).

uproot 5.7 turns `file["tree"] = {...}` into an RNTuple, which the real files are not; we build
the TTree with `mktree` + `extend`. Jagged branches sharing a prefix (`part_*`, `trk_*`,
`hadron_*`) are written as one record so they share a counter branch (`npart`, `ntrk`, ...), the
way ROOT users lay out per-particle vectors. Float64 is stored as float32 and int64 as int32
(the real files' types). The file appears under its final name only when complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path
from jetbench.data import schemas
from jetbench.data.convert import required_branches

TREE = schemas.JETCLASS_TREE
CHUNK_JETS = 10_000


def _narrow(a: ak.Array | np.ndarray):
    """float64 -> float32, int64 -> int32 (ROOT file types of the real datasets)."""
    kind_map = {"f": np.float32, "i": np.int32, "u": np.uint32}
    if isinstance(a, ak.Array):
        prim = ak.type(a).content
        while hasattr(prim, "content"):
            prim = prim.content
        dtype = np.dtype(str(prim.primitive)) if hasattr(prim, "primitive") else None
        if dtype is not None and dtype.kind in kind_map and dtype.itemsize > 4:
            return ak.values_astype(a, kind_map[dtype.kind])
        return a
    a = np.asarray(a)
    if a.dtype.kind in kind_map and a.dtype.itemsize > 4:
        return a.astype(kind_map[a.dtype.kind])
    return a


def _layout(branches: Mapping, n: int) -> dict[str, object]:
    """Group jagged branches by prefix into records; scalars stay plain arrays."""
    jagged: dict[str, dict[str, ak.Array]] = {}
    out: dict[str, object] = {}
    for name, value in branches.items():
        is_jagged = isinstance(value, ak.Array) and value.ndim == 2 or (
            isinstance(value, np.ndarray) and value.dtype == object)
        arr = _narrow(ak.Array(value) if is_jagged and not isinstance(value, ak.Array) else value)
        if len(arr) != n:
            raise JetbenchError(f"branch '{name}' has {len(arr)} jets, expected {n}")
        if is_jagged:
            prefix, _, field = name.partition("_")
            jagged.setdefault(prefix if field else name, {})[field or name] = arr
        else:
            out[name] = arr
    for prefix, fields in jagged.items():
        counts = [ak.to_numpy(ak.num(v, axis=1)) for v in fields.values()]
        if all(np.array_equal(counts[0], c) for c in counts[1:]) and len(fields) > 1:
            out[prefix] = ak.zip(fields, depth_limit=None)
        else:  # lists of different lengths: one counter per branch
            for field, v in fields.items():
                out[f"{prefix}_{field}" if field != prefix else prefix] = v
    return out


def _branch_types(layout: Mapping[str, object]) -> dict[str, object]:
    types = {}
    for name, value in layout.items():
        types[name] = value.type.content if isinstance(value, ak.Array) else value.dtype
    return types


def _n_jets(branches: Mapping) -> int:
    lengths = {len(v) for v in branches.values()}
    if len(lengths) != 1:
        raise JetbenchError(f"branches have different numbers of jets: {sorted(lengths)}")
    return lengths.pop()


class RootWriter:
    """Append branch dicts (same schema each time) to a new TTree file; atomic on `close()`.

    For files too large to hold in memory at once; `write_root` is the one-shot form.
    """

    def __init__(self, path: str | os.PathLike, dataset: str):
        self.path = Path(path)
        self.required = required_branches(dataset)
        self.dataset = dataset
        self._atomic = atomic_path(self.path)
        self._file = uproot.recreate(self._atomic.__enter__())
        self._tree = None
        self.n = 0

    def append(self, branches: Mapping, chunk: int = CHUNK_JETS) -> None:
        missing = [b for b in self.required if b not in branches]
        if missing:
            raise JetbenchError(f"{self.path}: cannot write {self.dataset} ROOT file, missing "
                                f"branches: {', '.join(missing)}")
        n = _n_jets(branches)
        for start in range(0, n, chunk):
            part = {k: v[start:start + chunk] for k, v in branches.items()}
            layout = _layout(part, min(chunk, n - start))
            try:
                if self._tree is None:
                    self._tree = self._file.mktree(TREE, _branch_types(layout))
                self._tree.extend(layout)
            except OSError as err:  # a full disk: one line; the caller's abort removes the file
                raise JetbenchError(f"{self.path}: cannot write ({err.strerror or err}); "
                                    "nothing was written") from None
        self.n += n

    def close(self) -> Path:
        if self.n == 0:
            self.abort()
            raise JetbenchError(f"{self.path}: no jets to write")
        try:
            self._file.close()
        except OSError as err:
            self.abort()
            raise JetbenchError(f"{self.path}: cannot write ({err.strerror or err}); "
                                "nothing was written") from None
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # may fail again on a full disk
            self._file.close()
        with contextlib.suppress(BaseException):  # __exit__ re-raises after deleting the temp
            err = RuntimeError("aborted")
            self._atomic.__exit__(type(err), err, None)

    def __enter__(self) -> RootWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()


def write_root(path: str | os.PathLike, branches: Mapping, dataset: str,
               chunk: int = CHUNK_JETS) -> Path:
    """Write `branches` (real schema of `dataset`) as TTree "tree"; one basket per `chunk` jets."""
    with RootWriter(path, dataset) as writer:
        writer.append(branches, chunk)
    return writer.path
