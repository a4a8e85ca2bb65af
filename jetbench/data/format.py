"""The canonical jet format: one contract for every data source (docs/design.md,
'Data format').

Constituents are sorted by pT (descending) and zero-padded to P slots. Every reader and the
generator produce a `JetBatch`; every encoder and task consumes one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from jetbench.core.errors import JetbenchError, unknown_name

CST_FEATURES = ("pt", "deta", "dphi", "d0", "d0_err", "z0", "z0_err")
JET_FEATURES = ("pt", "eta", "phi", "mass", "n_constituents")
CST_IDS = ("photon", "h-", "h0", "h+", "e-", "e+", "mu-", "mu+")
TRACK_TYPES = ("primary", "c", "b", "other")


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset name means: slots per jet, label list, whether it carries vertex truth."""

    name: str
    n_slots: int
    labels: tuple[str, ...]
    has_tracks: bool


DATASETS: dict[str, DatasetInfo] = {
    "jetclass": DatasetInfo(
        "jetclass", 128,
        ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"), False,
    ),
    "btag": DatasetInfo("btag", 15, ("light", "c", "b"), True),
}


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name]


@dataclass
class JetBatch:
    """N jets in the canonical format (numpy arrays; see docs/design.md, 'Data format', for each key)."""

    csts: np.ndarray  # float32 [N, P, 7]
    csts_id: np.ndarray  # int8 [N, P]
    mask: np.ndarray  # bool [N, P]
    jets: np.ndarray  # float32 [N, 5]
    labels: np.ndarray  # int16 [N]
    vtx_id: np.ndarray | None = None  # int16 [N, P], track datasets only
    track_type: np.ndarray | None = None  # int8 [N, P], track datasets only

    DTYPES: ClassVar[dict[str, np.dtype]] = {
        "csts": np.dtype("float32"),
        "csts_id": np.dtype("int8"),
        "mask": np.dtype("bool"),
        "jets": np.dtype("float32"),
        "labels": np.dtype("int16"),
        "vtx_id": np.dtype("int16"),
        "track_type": np.dtype("int8"),
    }

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_slots(self) -> int:
        return int(self.mask.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The present arrays by key (optional track truth left out when absent)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def __getitem__(self, index) -> JetBatch:
        """Select jets (slice, index array or boolean mask); always returns a JetBatch."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        return JetBatch(**{k: v[index] for k, v in self.arrays().items()})

    @classmethod
    def concat(cls, batches: list[JetBatch]) -> JetBatch:
        if not batches:
            raise JetbenchError("cannot concatenate zero batches")
        keys = batches[0].arrays().keys()
        return cls(**{k: np.concatenate([b.arrays()[k] for b in batches]) for k in keys})

    def validate(self, where: str = "batch") -> JetBatch:
        """Check dtypes, shapes and finiteness; raise one clear JetbenchError naming `where`."""
        n = len(self)
        arrays = self.arrays()
        for key, a in arrays.items():
            if a.dtype != self.DTYPES[key]:
                raise JetbenchError(f"{where}: '{key}' has dtype {a.dtype}, expected {self.DTYPES[key]}")
            if a.shape[0] != n:
                raise JetbenchError(f"{where}: '{key}' has {a.shape[0]} jets, 'labels' has {n}")
        n_slots = self.mask.shape[1] if self.mask.ndim == 2 else -1
        expect = {"csts": (n, n_slots, 7), "csts_id": (n, n_slots), "mask": (n, n_slots), "jets": (n, 5),
                  "labels": (n,), "vtx_id": (n, n_slots), "track_type": (n, n_slots)}
        for key, a in arrays.items():
            if a.shape != expect[key]:
                raise JetbenchError(f"{where}: '{key}' has shape {a.shape}, expected {expect[key]}")
        for key in ("csts", "jets"):
            bad = ~np.isfinite(arrays[key])
            if bad.any():
                jet = int(np.argwhere(bad)[0][0])
                raise JetbenchError(f"{where}: non-finite value (NaN/inf) in '{key}' of jet {jet}")
        empty = ~self.mask.any(axis=1)
        if empty.any():
            raise JetbenchError(f"{where}: jet {int(np.argmax(empty))} has no constituents")
        return self


def empty_batch(n: int, n_slots: int, with_tracks: bool) -> JetBatch:
    """Zero-filled batch (padding values: 0, False, and -1 for the track truth)."""
    return JetBatch(
        csts=np.zeros((n, n_slots, 7), np.float32),
        csts_id=np.zeros((n, n_slots), np.int8),
        mask=np.zeros((n, n_slots), bool),
        jets=np.zeros((n, 5), np.float32),
        labels=np.zeros(n, np.int16),
        vtx_id=np.full((n, n_slots), -1, np.int16) if with_tracks else None,
        track_type=np.full((n, n_slots), -1, np.int8) if with_tracks else None,
    )
