"""The canonical jet format: one contract for every data source.

Constituents are sorted by pT (descending) and zero-padded to the dataset's slot count. Every
reader and the generator produce a `JetBatch`; every encoder and task consumes one. What a
dataset name means (slots, labels, features present) comes from its YAML definition
(`jetbench.data.definitions`); the feature names and neutral values from `jetbench.data.features`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.definitions import DATASETS, DatasetInfo, dataset_info
from jetbench.data.features import (
    CST_FEATURES,
    CST_IDS,
    FEATURES,
    IMPACT_PARAMETERS,
    JET_FEATURES,
    MISSING_ID,
    TRACK_TYPES,
)

__all__ = ["CST_FEATURES", "CST_IDS", "DATASETS", "FEATURES", "JET_FEATURES", "TRACK_TYPES",
           "DatasetInfo", "JetBatch", "dataset_info", "empty_batch"]
ARRAY_KEYS = ("csts", "csts_id", "mask", "jets", "labels", "vtx_id", "track_type")


@dataclass
class JetBatch:
    """N jets in the canonical format (numpy arrays, constituents pT-sorted and padded).

    `features_present` names the inputs the source really has (`features.FEATURES`); the
    others hold the neutral values of `jetbench.data.features`. It is not an array and not
    part of a store's content hash.
    """

    csts: np.ndarray  # float32 [N, P, 7]: pt, deta, dphi, d0, d0_err, z0, z0_err
    csts_id: np.ndarray  # int8 [N, P]: index into CST_IDS
    mask: np.ndarray  # bool [N, P]: real constituent
    jets: np.ndarray  # float32 [N, 5]: pt, eta, phi, mass, n_constituents
    labels: np.ndarray  # int16 [N]: index into the dataset's labels
    vtx_id: np.ndarray | None = None  # int16 [N, P], track datasets only (-1 padding)
    track_type: np.ndarray | None = None  # int8 [N, P], track datasets only (-1 padding)
    features_present: tuple[str, ...] = field(default=FEATURES)

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

    @property
    def feature_mask(self) -> np.ndarray:
        """bool [8]: which of the 7 `csts` columns and the id (last) carry real information."""
        return np.array([f in self.features_present for f in FEATURES])

    def arrays(self) -> dict[str, np.ndarray]:
        """The present arrays by key (optional track truth left out when absent)."""
        return {k: getattr(self, k) for k in ARRAY_KEYS if getattr(self, k) is not None}

    def __getitem__(self, index) -> JetBatch:
        """Select jets (slice, index array or boolean mask); always returns a JetBatch."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        return JetBatch(**{k: v[index] for k, v in self.arrays().items()},
                        features_present=self.features_present)

    @classmethod
    def concat(cls, batches: list[JetBatch]) -> JetBatch:
        """Jets of all batches in order; a feature counts as present only if present in all."""
        if not batches:
            raise JetbenchError("cannot concatenate zero batches")
        keys = batches[0].arrays().keys()
        present = tuple(f for f in FEATURES if all(f in b.features_present for b in batches))
        return cls(**{k: np.concatenate([b.arrays()[k] for b in batches]) for k in keys},
                   features_present=present)

    def validate(self, where: str = "batch", n_labels: int | None = None) -> JetBatch:
        """Check dtypes, shapes, finiteness, neutral values of missing features and (given
        `n_labels`) the label range; raise one clear JetbenchError naming `where`."""
        n = len(self)
        arrays = self.arrays()
        for key, a in arrays.items():
            if a.dtype != self.DTYPES[key]:
                raise JetbenchError(f"{where}: '{key}' has dtype {a.dtype}, expected {self.DTYPES[key]}")
            if a.ndim == 0 or a.shape[0] != n:
                raise JetbenchError(f"{where}: '{key}' has {a.shape[:1]} jets, 'labels' has {n}")
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
        if n_labels is not None:
            bad = (self.labels < 0) | (self.labels >= n_labels)
            if bad.any():
                j = int(np.argmax(bad))
                raise JetbenchError(f"{where}: jet {j} has label {int(self.labels[j])}, expected "
                                    f"0..{n_labels - 1}")
        self._check_missing(where)
        return self

    def _check_missing(self, where: str) -> None:
        unknown = set(self.features_present) - set(FEATURES)
        if unknown:
            raise JetbenchError(f"{where}: unknown features {sorted(unknown)} in features_present")
        for i, name in enumerate(CST_FEATURES):
            if name not in self.features_present and name in IMPACT_PARAMETERS and \
                    self.csts[..., i][self.mask].any():
                raise JetbenchError(f"{where}: feature '{name}' is declared missing but not 0")
        if "id" not in self.features_present and (self.csts_id[self.mask] != MISSING_ID).any():
            raise JetbenchError(f"{where}: particle id is declared missing but not {MISSING_ID}")


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
