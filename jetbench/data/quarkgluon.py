"""Quark-Gluon (EnergyFlow) files: npz streamed a chunk at a time, and stand-in writers.

Each published file (QG_jets.npz, QG_jets_1.npz ... QG_jets_19.npz, and the `_withbc` family)
holds `X` [100000, M, 4] = (pT, y, phi, PDG id) zero-padded (M differs per file) and `y`
(1 quark, 0 gluon). An npz is a zip of .npy members; `X` is read from its member stream row
block by row block (the .npy header gives shape and dtype), so memory stays at one chunk however
large the file. A particle is real when pT > 0. The 4-vectors are rebuilt from (pT, y, phi) and
the mass of the PDG id, and the jet axis is their sum (`fourvectors`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import awkward as ak
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path
from jetbench.data.fileerrors import damaged_file_errors
from jetbench.data.format import DatasetInfo, JetBatch
from jetbench.data.fourvectors import batch_from_p4, binary_labels, from_pt_y_phi, pdg_class, pdg_mass

NPZ_MAGIC = b"PK\x03\x04"
MAX_HEADER = 1 << 16


def batch_from_particles(pt, y, phi, pid, counts, labels, info: DatasetInfo,
                         where: str) -> JetBatch:
    """Canonical batch from flat (pT, y, phi, PDG id) particles with `counts` per jet."""
    bad = ~np.isfinite(np.stack([np.asarray(a, np.float64) for a in (pt, y, phi, pid)]))
    if bad.any():
        raise JetbenchError(f"{where}: non-finite particle value (pT, y, phi or pid)")
    pid = np.asarray(pid)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd values fail validation below
        pt, y, phi = (np.asarray(a).astype(np.float32).astype(np.float64) for a in (pt, y, phi))
        p4 = from_pt_y_phi(pt, y, phi, pdg_mass(pid))
    return batch_from_p4(p4, counts, np.asarray(labels), info, where, ids=pdg_class(pid))


def quarkgluon_batch(branches: Mapping, info: DatasetInfo, where: str = "branches") -> JetBatch:
    """Canonical batch from in-memory branches (jagged part_pt/part_y/part_phi/part_pid, `y`):
    the generator's output, converted exactly as the file reader does."""
    counts = ak.to_numpy(ak.num(branches["part_pt"], axis=1)).astype(np.int64)
    flat = {k: ak.to_numpy(ak.flatten(branches[k])) for k in ("part_pt", "part_y", "part_phi",
                                                              "part_pid")}
    labels = binary_labels(np.asarray(branches["y"]), "y", where, 0)
    return batch_from_particles(flat["part_pt"], flat["part_y"], flat["part_phi"],
                                flat["part_pid"], counts, labels, info, where)


def _npy_header(fp) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fp, max_header_size=MAX_HEADER)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fp, max_header_size=MAX_HEADER)
    raise ValueError(f"unsupported .npy version {version}")


def _check_x(path: Path, shape, fortran: bool, dtype: np.dtype) -> None:
    if (len(shape) != 3 or shape[2] != 4 or fortran or dtype.kind not in "fiu" or dtype.hasobject
            or shape[0] > 10**8 or shape[1] > 10_000):
        raise JetbenchError(f"{path}: 'X' has shape {shape} / dtype {dtype}"
                            f"{' (Fortran order)' if fortran else ''}, expected [n, M, 4] numbers")


class QGFile:
    """An open Quark-Gluon npz: the labels read whole (one number per jet), `X` read by jet
    ranges from its member stream (a forward seek decompresses only up to the range; reading
    ranges in order never re-reads a byte)."""

    def __init__(self, path: str | os.PathLike, info: DatasetInfo):
        self.path, self.info = Path(path), info
        with damaged_file_errors(self.path, "Quark-Gluon file"):
            self._zip = zipfile.ZipFile(self.path)
            try:
                self._open()
            except BaseException:
                self._zip.close()
                raise

    def _open(self) -> None:
        path, z = self.path, self._zip
        names = set(z.namelist())
        for member in ("X.npy", "y.npy"):
            if member not in names:
                raise JetbenchError(f"{path}: no array '{member[0]}' (not a Quark-Gluon file)")
        with z.open("y.npy") as fy:
            y_shape, _, y_dtype = _npy_header(fy)
            if len(y_shape) != 1 or y_dtype.hasobject or y_shape[0] > 10**8:
                raise JetbenchError(f"{path}: 'y' has shape {y_shape}, expected [n]")
            self.y = np.frombuffer(fy.read(y_shape[0] * y_dtype.itemsize), y_dtype)
        self._x = z.open("X.npy")
        shape, fortran, self.dtype = _npy_header(self._x)
        _check_x(path, shape, fortran, self.dtype)
        self.n, self.m = shape[0], shape[1]
        if len(self.y) != self.n:
            raise JetbenchError(f"{path}: 'y' has {len(self.y)} jets, 'X' has {self.n}")
        self._data = self._x.tell()
        self.row = self.m * 4 * self.dtype.itemsize

    def __len__(self) -> int:
        return self.n

    def labels(self, start: int, stop: int) -> np.ndarray:
        return binary_labels(self.y[start:stop], "y", str(self.path), start)

    def read(self, start: int, stop: int) -> JetBatch:
        """Canonical batch of the jets [start, stop)."""
        path = self.path
        with damaged_file_errors(path, "Quark-Gluon file"):
            self._x.seek(self._data + start * self.row)
            raw = self._x.read((stop - start) * self.row)
        if len(raw) != (stop - start) * self.row:
            raise JetbenchError(f"{path}: 'X' ends after {start + len(raw) // max(self.row, 1)} "
                                f"of {self.n} jets (truncated)")
        x = np.frombuffer(raw, self.dtype).reshape(stop - start, self.m, 4)
        real = x[..., 0] > 0
        where = f"{path} [jets {start}-{stop - 1}]"
        return batch_from_particles(x[..., 0][real], x[..., 1][real], x[..., 2][real],
                                    x[..., 3][real], real.sum(axis=1), self.labels(start, stop),
                                    self.info, where)

    def close(self) -> None:
        self._x.close()
        self._zip.close()


def iter_quarkgluon_npz(path: str | os.PathLike, info: DatasetInfo, chunk: int = 20_000
                        ) -> Iterator[JetBatch]:
    """Stream a Quark-Gluon npz as canonical batches of at most `chunk` jets."""
    qg = QGFile(path, info)
    try:
        for start in range(0, qg.n, chunk):
            yield qg.read(start, min(start + chunk, qg.n))
    finally:
        qg.close()


def write_quarkgluon_npz(path: str | os.PathLike, branches: Mapping) -> Path:
    """Write branches in the published layout: X [n, M, 4] float64 (pT, y, phi, pid) zero-padded
    to the largest jet, y float64; compressed npz, atomically."""
    counts = ak.to_numpy(ak.num(branches["part_pt"], axis=1))
    m = max(int(counts.max(initial=0)), 1)
    x = np.zeros((len(counts), m, 4), np.float64)
    for c, k in enumerate(("part_pt", "part_y", "part_phi", "part_pid")):
        x[..., c] = ak.to_numpy(ak.fill_none(ak.pad_none(branches[k], m, clip=True), 0))
    y = np.asarray(branches["y"], np.float64)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, X=x, y=y)
    return Path(path)
