"""Real data files read by jet ranges: the random-access side of the readers.

The streaming readers (`jetbench.data.readers`) go through a file once, front to back. Splits of
the real datasets need more: a jet range of a file (one sample cut into train/val/test), the
labels alone (budgets and CWoLa mixing over millions of jets must not decode the constituents),
and chunks in any order (a shuffled training loader). `JetFile` does this for every format of
the real datasets — JetClass and BTag ROOT (`TTree.arrays` with an entry range over the needed
branches), Top Tagging HDF5 (row slices of the pandas table), Quark-Gluon npz (a seek in the `X`
member stream) — and for canonical stores. The open handle is kept between reads (reading the
chunks of one file in order costs one open) and dropped when the object is pickled into a
loader worker, which reopens the file on its first read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data import schemas
from jetbench.data.convert import batch_from_branches, label_branches, labels_from_branches, required_branches
from jetbench.data.fileerrors import damaged_file_errors
from jetbench.data.format import DatasetInfo, JetBatch, dataset_info
from jetbench.data.quarkgluon import QGFile
from jetbench.data.store import JetStore
from jetbench.data.toptag import TopTable, check_binary, table_batch, table_labels

ROOT_FORMATS = ("jetclass_root", "btag_root")
FORMATS = (*ROOT_FORMATS, "toptag_h5", "quarkgluon_npz", "store")


def detect_format(path: str | os.PathLike, info: DatasetInfo) -> str:
    """The `FORMATS` entry of a file, from its content (a ROOT file is read with the dataset's
    ROOT schema). Paper-2 HDF5 files have no ranged reader: convert them first."""
    from jetbench.data.readers import file_format  # lazy: readers import uproot helpers

    fmt = file_format(Path(path))
    if fmt == "root":
        if info.file_format not in ROOT_FORMATS:
            raise JetbenchError(f"{path}: a ROOT file, but dataset '{info.name}' is stored as "
                                f"{info.file_format}")
        return str(info.file_format)
    if fmt == "paper_h5":
        raise JetbenchError(f"{path}: MPM paper HDF5 files are read front to back only; convert "
                            "it once with `jetbench data convert` and use the store")
    return fmt


class JetFile:
    """One file of a dataset, read by jet ranges: `len`, `read(start, stop)`, `labels(...)`."""

    def __init__(self, path: str | os.PathLike, dataset: str | DatasetInfo, fmt: str | None = None):
        self.path = Path(path)
        self.info = dataset if isinstance(dataset, DatasetInfo) else dataset_info(dataset)
        self.fmt = fmt or detect_format(self.path, self.info)
        if self.fmt not in FORMATS:
            raise JetbenchError(f"{path}: unknown file format '{self.fmt}' "
                                f"(known: {', '.join(FORMATS)})")
        self._handle: Any = None
        self._n: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        """A worker process gets the description, not the open file."""
        return {**self.__dict__, "_handle": None}

    def _open(self) -> Any:
        if self._handle is not None:
            return self._handle
        if not self.path.is_file():
            raise JetbenchError(f"{self.path}: no such file")
        if self.fmt in ROOT_FORMATS:
            self._handle = _open_root(self.path)
        elif self.fmt == "toptag_h5":
            check_binary(self.path, self.info)
            with damaged_file_errors(self.path, "Top Tagging file"):
                f = h5py.File(self.path, "r")
                try:
                    self._handle = (f, TopTable(f, self.path))
                except BaseException:
                    f.close()
                    raise
        elif self.fmt == "quarkgluon_npz":
            self._handle = QGFile(self.path, self.info)
        else:
            store = JetStore(self.path)
            if store.dataset != self.info.name:
                store.close()
                raise JetbenchError(f"{self.path}: store holds dataset '{store.dataset}', "
                                    f"not '{self.info.name}'")
            self._handle = store
        return self._handle

    def __len__(self) -> int:
        if self._n is None:
            h = self._open()
            if self.fmt in ROOT_FORMATS:
                self._n = int(h[1].num_entries)
            elif self.fmt == "toptag_h5":
                self._n = int(h[1].n)
            else:
                self._n = len(h)
        return self._n

    def _range(self, start: int, stop: int | None) -> tuple[int, int]:
        n = len(self)
        stop = n if stop is None else stop
        if not 0 <= start < stop <= n:
            raise JetbenchError(f"{self.path}: jet range [{start}, {stop}) outside the file's "
                                f"{n} jets")
        return start, stop

    def read(self, start: int = 0, stop: int | None = None) -> JetBatch:
        """The jets [start, stop) in the canonical format."""
        start, stop = self._range(start, stop)
        h = self._open()
        if self.fmt in ROOT_FORMATS:
            names = list(required_branches(self.info.name))
            with damaged_file_errors(self.path, "ROOT file"):
                arrays = h[1].arrays(names, entry_start=start, entry_stop=stop, library="ak")
            cols = {b: arrays[b] for b in names}
            return batch_from_branches(cols, self.info.name, where=str(self.path), first_jet=start)
        if self.fmt == "toptag_h5":
            with damaged_file_errors(self.path, "Top Tagging file"):
                return table_batch(h[1], self.info, start, stop)
        return h.read(start, stop) if self.fmt == "quarkgluon_npz" else h[start:stop]

    def labels(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Label indices (int16) of the jets [start, stop), without reading the constituents."""
        start, stop = self._range(start, stop)
        h = self._open()
        if self.fmt in ROOT_FORMATS:
            names = list(label_branches(self.info.name))
            with damaged_file_errors(self.path, "ROOT file"):
                arrays = h[1].arrays(names, entry_start=start, entry_stop=stop, library="np")
            return labels_from_branches(arrays, self.info.name, str(self.path), start)
        if self.fmt == "toptag_h5":
            with damaged_file_errors(self.path, "Top Tagging file"):
                return table_labels(h[1], start, stop)
        if self.fmt == "quarkgluon_npz":
            return h.labels(start, stop)
        return h.read_labels(start, stop)

    def close(self) -> None:
        h, self._handle = self._handle, None
        if h is None:
            return
        if isinstance(h, tuple):
            h[0].close()
        else:
            h.close()


def _open_root(path: Path) -> tuple[Any, Any]:
    import uproot  # lazy: uproot and awkward load only for ROOT input

    with damaged_file_errors(path, "ROOT file"):
        f = uproot.open(path, array_cache=None)
        if schemas.JETCLASS_TREE not in {k.split(";")[0] for k in f.classnames()}:
            f.close()
            raise JetbenchError(f"{path}: no TTree '{schemas.JETCLASS_TREE}'")
        return f, f[schemas.JETCLASS_TREE]
