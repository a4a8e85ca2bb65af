"""Top Tagging Landscape files: pandas HDF5 tables read with h5py, and stand-in writers.

The published files (train/val/test.h5) are pandas DataFrames saved under the key `table`.
Columns: `E_0 PX_0 PY_0 PZ_0 ... E_199 PX_199 PY_199 PZ_199` (zero-padded, leading 200
constituents by pT), `truthE truthPX truthPY truthPZ` (the top; 0 for QCD), `ttv`,
`is_signal_new` (1 top, 0 QCD). Both of pandas' HDF5 layouts are read:

- "fixed": a group holding `axis0` (column names), `axis1` (row index) and one
  `block<i>_items` / `block<i>_values` pair per dtype (the 2-D values, rows = jets);
- "table" (PyTables; what code reading the published files with `HDFStore.select(columns=...)`
  or `table/table` … `values_block_0` implies they are): a compound dataset `table/table` with a
  2-D field `values_block_<i>` per dtype, whose column names PyTables stores as a pickled list in
  the attribute `values_block_<i>_kind` — unpickled here with no class lookups allowed (data
  only), or taken from the published column order when absent.

Columns are found by name in whichever block holds them, so the reader does not depend on how
pandas grouped the dtypes. A constituent is real when E > 0.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path
from jetbench.data.fileerrors import damaged_file_errors
from jetbench.data.format import DatasetInfo, JetBatch
from jetbench.data.fourvectors import batch_from_p4, binary_labels

KEY = "table"
MAX_PARTICLES = 200
P4_NAMES = ("PX", "PY", "PZ", "E")  # canonical (px, py, pz, E) order
TRUTH = ("truthE", "truthPX", "truthPY", "truthPZ")
LABEL = "is_signal_new"


def particle_columns(n: int = MAX_PARTICLES) -> list[str]:
    return [f"{c}_{i}" for i in range(n) for c in ("E", "PX", "PY", "PZ")]


def _names(ds) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[()]]


class _DataOnly(pickle.Unpickler):
    """Unpickles lists, tuples, strings and numbers only: a file's attribute names no code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _kind_names(attr: Any) -> list[str] | None:
    """Column names of a PyTables `values_block_<i>_kind` attribute (a pickled list)."""
    raw = bytes(attr) if isinstance(attr, (bytes, np.bytes_, np.ndarray)) else None
    if raw is None:
        return None
    try:
        names = _DataOnly(io.BytesIO(raw), encoding="latin1").load()
    except Exception:  # noqa: BLE001 - a malformed attribute: fall back to the published order
        return None
    return [str(x.decode() if isinstance(x, bytes) else x) for x in names] \
        if isinstance(names, (list, tuple)) else None


class _Field:
    """One 2-D field of a compound dataset, sliced like a dataset (reads only that field)."""

    def __init__(self, ds: h5py.Dataset, name: str):
        self.ds, self.name = ds, name
        shape = ds.dtype[name].shape
        self.shape = (ds.shape[0], shape[0] if shape else 1)
        self.ndim = 2

    def __getitem__(self, rows: slice) -> np.ndarray:
        return np.asarray(self.ds.fields(self.name)[rows]).reshape(-1, self.shape[1])


# the published column order of the two blocks pandas writes (float columns, int columns)
_FLOAT_COLUMNS = [f"{c}_{i}" for i in range(MAX_PARTICLES) for c in ("E", "PX", "PY", "PZ")] \
    + list(TRUTH)
_INT_COLUMNS = ["ttv", LABEL]


class TopTable:
    """Column access to an open pandas table, fixed or PyTables layout (no pandas needed)."""

    def __init__(self, f: h5py.File, path: Path):
        self.path = path
        if KEY not in f or not isinstance(f[KEY], h5py.Group):
            raise JetbenchError(f"{path}: no pandas table '{KEY}' (not a Top Tagging file)")
        g = f[KEY]
        self.where: dict[str, tuple[Any, int]] = {}
        rows = set()
        blocks = self._table_blocks(g) if isinstance(g.get("table"), h5py.Dataset) \
            else self._fixed_blocks(g)
        for values, names in blocks:
            for j, name in enumerate(names):
                self.where[name] = (values, j)
            rows.add(values.shape[0])
        if len(rows) != 1:
            raise JetbenchError(f"{path}: table blocks have different row counts {sorted(rows)}")
        self.n = rows.pop()
        n_part = 0
        while f"E_{n_part}" in self.where:
            n_part += 1
        missing = [c for c in (*particle_columns(max(n_part, 1)), LABEL) if c not in self.where]
        if missing:
            raise JetbenchError(f"{path}: table lacks columns {', '.join(missing[:4])}"
                                f"{' ...' if len(missing) > 4 else ''}")
        self.n_particles = n_part

    def _fixed_blocks(self, g: h5py.Group) -> list[tuple[Any, list[str]]]:
        out, i = [], 0
        while f"block{i}_values" in g:
            values, items = g[f"block{i}_values"], g.get(f"block{i}_items")
            if items is None or values.ndim != 2 or len(items) != values.shape[1]:
                raise JetbenchError(f"{self.path}: table block {i} is malformed")
            out.append((values, _names(items)))
            i += 1
        return out

    def _table_blocks(self, g: h5py.Group) -> list[tuple[Any, list[str]]]:
        ds = g["table"]
        fields = [n for n in (ds.dtype.names or ()) if n.startswith("values_block_")]
        if not fields:
            raise JetbenchError(f"{self.path}: '{KEY}/table' has no values_block_* fields")
        out = []
        for name in sorted(fields, key=lambda n: int(n.rsplit("_", 1)[1])):
            block = _Field(ds, name)
            names = _kind_names(ds.attrs.get(f"{name}_kind"))
            if names is None:  # no readable names: the published order, if the width fits
                names = next((c for c in (_FLOAT_COLUMNS, _INT_COLUMNS)
                              if len(c) == block.shape[1]), None)
            if names is None or len(names) != block.shape[1]:
                raise JetbenchError(f"{self.path}: cannot tell the columns of field '{name}' "
                                    f"({block.shape[1]} values per jet)")
            out.append((block, names))
        return out

    def read(self, names: list[str], start: int, stop: int) -> np.ndarray:
        """[stop - start, len(names)] values, one contiguous read per block."""
        out = np.empty((stop - start, len(names)), np.float64)
        by_block: dict[int, tuple[h5py.Dataset, list[tuple[int, int]]]] = {}
        for k, name in enumerate(names):
            ds, j = self.where[name]
            by_block.setdefault(id(ds), (ds, []))[1].append((k, j))
        for ds, pairs in by_block.values():
            block = ds[start:stop]
            out[:, [k for k, _ in pairs]] = block[:, [j for _, j in pairs]]
        return out


def flat_from_padded(e: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Real constituents (E > 0) of padded [N, M] arrays: flat (px, py, pz, E) and counts."""
    real = e > 0
    p4 = np.stack([px[real], py[real], pz[real], e[real]], axis=1)
    return p4.astype(np.float32).astype(np.float64), real.sum(axis=1)


def table_batch(table: TopTable, info: DatasetInfo, start: int, stop: int) -> JetBatch:
    """Canonical batch of the jets [start, stop) of an open table (one read per block)."""
    m = table.n_particles
    v = table.read(particle_columns(m) + [LABEL], start, stop)
    parts = v[:, :4 * m].reshape(-1, m, 4)
    p4, counts = flat_from_padded(parts[..., 0], parts[..., 1], parts[..., 2], parts[..., 3])
    where = f"{table.path} [jets {start}-{stop - 1}]"
    return batch_from_p4(p4, counts, binary_labels(v[:, -1], LABEL, str(table.path), start), info,
                         where)


def table_labels(table: TopTable, start: int, stop: int) -> np.ndarray:
    """Label indices of the jets [start, stop), read from the label column only."""
    return binary_labels(table.read([LABEL], start, stop)[:, 0], LABEL, str(table.path), start)


def check_binary(path: Path, info: DatasetInfo) -> None:
    if len(info.labels) != 2:
        raise JetbenchError(f"{path}: dataset '{info.name}' must have 2 labels to read "
                            f"{LABEL} (QCD, top)")


def iter_toptag_h5(path: str | os.PathLike, info: DatasetInfo, chunk: int = 20_000
                   ) -> Iterator[JetBatch]:
    """Stream a Top Tagging file as canonical batches of at most `chunk` jets."""
    path = Path(path)
    check_binary(path, info)
    try:
        f = h5py.File(path, "r")
    except Exception as err:
        raise JetbenchError(f"{path}: not a readable HDF5 file ({err})") from None
    with f, damaged_file_errors(path, "Top Tagging file"):
        table = TopTable(f, path)
        for start in range(0, table.n, chunk):
            yield table_batch(table, info, start, min(start + chunk, table.n))


def toptag_batch(branches: Mapping, info: DatasetInfo, where: str = "branches") -> JetBatch:
    """Canonical batch from in-memory Top Tagging branches (jagged part_px/py/pz/energy,
    `is_signal_new`): the generator's output, converted exactly as the file reader does."""
    counts = ak.to_numpy(ak.num(branches["part_energy"], axis=1)).astype(np.int64)
    flat = [ak.to_numpy(ak.flatten(branches[k])) for k in ("part_px", "part_py", "part_pz",
                                                            "part_energy")]
    p4 = np.stack(flat, axis=1).astype(np.float32).astype(np.float64)
    labels = binary_labels(np.asarray(branches[LABEL]), LABEL, where, 0)
    return batch_from_p4(p4, counts, labels, info, where)


def write_toptag_h5(path: str | os.PathLike, branches: Mapping, layout: str = "fixed") -> Path:
    """Write Top Tagging branches as a pandas table under the key 'table' (float32 block of the
    4-vectors and truth, int64 block of ttv, is_signal_new), in pandas' "fixed" layout or, with
    `layout="table"`, the PyTables layout (module docstring)."""
    if layout not in ("fixed", "table"):
        raise JetbenchError(f"{path}: unknown pandas layout '{layout}' (fixed or table)")
    e = branches["part_energy"]
    n = len(e)
    counts = ak.to_numpy(ak.num(e, axis=1))
    if (counts > MAX_PARTICLES).any():
        raise JetbenchError(f"{path}: a jet has more than {MAX_PARTICLES} constituents")
    pad = {k: ak.to_numpy(ak.fill_none(ak.pad_none(branches[k], MAX_PARTICLES, clip=True), 0.0))
           for k in ("part_energy", "part_px", "part_py", "part_pz")}
    floats = np.zeros((n, 4 * MAX_PARTICLES + 4), np.float32)
    for c, k in enumerate(("part_energy", "part_px", "part_py", "part_pz")):
        floats[:, c:4 * MAX_PARTICLES:4] = pad[k]
    for c, k in enumerate(TRUTH):
        floats[:, 4 * MAX_PARTICLES + c] = np.asarray(branches.get(k, np.zeros(n)))
    ints = np.stack([np.asarray(branches.get("ttv", np.zeros(n))),
                     np.asarray(branches[LABEL])], axis=1).astype(np.int64)
    float_names = particle_columns() + list(TRUTH)
    int_names = ["ttv", LABEL]
    if layout == "table":
        return _write_table_layout(Path(path), floats, ints, float_names, int_names)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        g = f.create_group(KEY)
        for k, v in {"pandas_type": b"frame", "pandas_version": b"0.15.2", "encoding": b"UTF-8",
                     "errors": b"strict", "axis0_variety": b"regular",
                     "axis1_variety": b"regular", "block0_items_variety": b"regular",
                     "block1_items_variety": b"regular"}.items():
            g.attrs[k] = v
        g.attrs["ndim"] = 2
        g.attrs["nblocks"] = 2
        g["axis0"] = np.array([s.encode() for s in float_names + int_names])
        g["axis1"] = np.arange(n, dtype=np.int64)
        g["block0_items"] = np.array([s.encode() for s in float_names])
        g["block0_values"] = floats
        g["block1_items"] = np.array([s.encode() for s in int_names])
        g["block1_values"] = ints
    return Path(path)


def _write_table_layout(path: Path, floats: np.ndarray, ints: np.ndarray, float_names: list[str],
                        int_names: list[str]) -> Path:
    """PyTables layout: compound dataset table/table (index, values_block_0, values_block_1),
    column names as pickled lists in `values_block_<i>_kind` (what PyTables writes)."""
    n = len(floats)
    dtype = np.dtype([("index", np.int64), ("values_block_0", np.float32, (floats.shape[1],)),
                      ("values_block_1", np.int64, (ints.shape[1],))])
    rows = np.zeros(n, dtype)
    rows["index"], rows["values_block_0"], rows["values_block_1"] = np.arange(n), floats, ints
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        g = f.create_group(KEY)
        g.attrs["pandas_type"] = b"frame_table"
        g.attrs["table_type"] = b"appendable_frame"
        ds = g.create_dataset("table", data=rows, chunks=True)
        ds.attrs["NROWS"] = n
        for i, names in enumerate((float_names, int_names)):
            ds.attrs[f"values_block_{i}_kind"] = np.bytes_(pickle.dumps(names, protocol=0))
    return path
