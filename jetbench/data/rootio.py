"""Writing real-schema ROOT files (a TTree named "tree", like the JetClass/BTag files).

uproot 5.7 turns `file["tree"] = {...}` into an RNTuple, which the real files are not; we build
the TTree with `mktree` + `extend`. Jagged branches sharing a prefix (`part_*`, `trk_*`,
`hadron_*`) are written as one record so they share a counter branch (`npart`, `ntrk`, ...), the
way ROOT users lay out per-particle vectors. Float64 is stored as float32 and int64 as int32
(the real files' types). The file appears under its final name only when complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from jetbench.data import schemas
from jetbench.data.convert import required_branches
from jetbench.errors import JetbenchError
from jetbench.fileio import atomic_path

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


def write_root(path: str | os.PathLike, branches: Mapping, dataset: str,
               chunk: int = CHUNK_JETS) -> Path:
    """Write `branches` (real schema of `dataset`) as TTree "tree"; one basket per `chunk` jets."""
    missing = [b for b in required_branches(dataset) if b not in branches]
    if missing:
        raise JetbenchError(f"{path}: cannot write {dataset} ROOT file, missing branches: "
                            f"{', '.join(missing)}")
    n = _n_jets(branches)
    if n == 0:
        raise JetbenchError(f"{path}: no jets to write")
    path = Path(path)
    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        tree = None
        for start in range(0, n, chunk):
            part = {k: v[start:start + chunk] for k, v in branches.items()}
            layout = _layout(part, min(chunk, n - start))
            if tree is None:
                tree = f.mktree(TREE, _branch_types(layout))
            tree.extend(layout)
    return path
