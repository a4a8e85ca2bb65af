"""Reader of the MPM paper-2 HDF5 layout (keys `csts csts_id mask jets labels` [+ `vtx_id
vtx_pos track_type`]), streamed in chunks into canonical `JetBatch`es.

Differences to our format that are mapped here:
- dtypes: the paper files hold int64 ids/labels/vertex ids and float64 jets; cast to ours.
- JetClass labels are stored in the jetssl order (QCD, Tbl, Tbqq, Wqq, Zqq, Hbb, Hcc, Hgg, H4q,
  Hqql); we renumber them to the JetClass-file order of `DATASETS["jetclass"]`.
- BTag `vtx_id` is zero-padded in the paper files; padding becomes -1 as in our format.
- constituents are re-sorted by pT and padded/truncated to our slot count; padded slots are
  zeroed. The paper JetClass jets carry the soft-drop mass in column 3 (kept as is).
- `vtx_pos` has no canonical slot and is not read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.format import DATASETS, JetBatch, dataset_info

PAPER_KEYS = ("csts", "csts_id", "mask", "jets", "labels")
TRACK_KEYS = ("vtx_id", "track_type")
PAPER_JETCLASS_ORDER = ("QCD", "Tbl", "Tbqq", "Wqq", "Zqq", "Hbb", "Hcc", "Hgg", "H4q", "Hqql")
# paper label index -> our label index
JETCLASS_LABEL_MAP = np.array([DATASETS["jetclass"].labels.index(n) for n in PAPER_JETCLASS_ORDER],
                              np.int16)


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise JetbenchError(f"{path}: not a readable HDF5 file ({err})") from None


def infer_paper_dataset(f: h5py.File, path: Path) -> str:
    """btag if the file carries vertex truth, else jetclass."""
    missing = [k for k in PAPER_KEYS if k not in f]
    if missing:
        raise JetbenchError(f"{path}: not a paper-2 HDF5 file, missing keys: {', '.join(missing)}")
    return "btag" if all(k in f for k in TRACK_KEYS) else "jetclass"


def _check_layout(f: h5py.File, path: Path, dataset: str) -> int:
    info = dataset_info(dataset)
    keys = PAPER_KEYS + (TRACK_KEYS if info.has_tracks else ())
    missing = [k for k in keys if k not in f]
    if missing:
        raise JetbenchError(f"{path}: missing keys for {dataset}: {', '.join(missing)}")
    n, p = f["mask"].shape[:2]
    want = {"csts": (n, p, 7), "csts_id": (n, p), "labels": (n,)}
    want.update({k: (n, p) for k in TRACK_KEYS if info.has_tracks})
    for key, shape in want.items():
        got = f[key].shape
        if key == "labels" and got in ((n, 1),):
            continue
        if got != shape:
            raise JetbenchError(f"{path}: '{key}' has shape {got}, expected {shape}")
    if f["jets"].shape[0] != n or f["jets"].shape[1] not in (4, 5):
        raise JetbenchError(f"{path}: 'jets' has shape {f['jets'].shape}, expected ({n}, 5)")
    return n


def _slots(raw: dict[str, np.ndarray], n_slots: int) -> dict[str, np.ndarray]:
    """Sort real constituents by decreasing pT, then cut/pad every per-slot array to n_slots."""
    mask = raw["mask"].astype(bool)
    key = np.where(mask, raw["csts"][..., 0], -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")[:, :n_slots]
    pad = n_slots - order.shape[1]
    new_mask = np.take_along_axis(mask, order, axis=1)
    out = {}
    fills = {"csts": 0, "csts_id": 0, "mask": False, "vtx_id": -1, "track_type": -1}
    for key_, fill in fills.items():
        if key_ not in raw:
            continue
        a = raw[key_]
        idx = order[..., None] if a.ndim == 3 else order
        m = new_mask[..., None] if a.ndim == 3 else new_mask
        a = np.where(m, np.take_along_axis(a, idx, axis=1), fill)
        if pad > 0:
            a = np.concatenate([a, np.full((len(a), pad) + a.shape[2:], fill, a.dtype)], axis=1)
        out[key_] = a
    return out


def _to_canonical(raw: dict[str, np.ndarray], dataset: str, where: str) -> JetBatch:
    info = dataset_info(dataset)
    slots = _slots(raw, info.n_slots)
    jets = raw["jets"].astype(np.float32)
    if jets.shape[1] == 4:  # no multiplicity column: count the real constituents
        n_real = raw["mask"].astype(bool).sum(axis=1, keepdims=True)
        jets = np.concatenate([jets, n_real.astype(np.float32)], axis=1)
    labels = raw["labels"].reshape(-1).astype(np.int64)
    bad = (labels < 0) | (labels >= len(info.labels))
    if bad.any():
        j = int(np.argmax(bad))
        raise JetbenchError(f"{where}: jet {j} has label {labels[j]}, "
                            f"expected 0..{len(info.labels) - 1}")
    if dataset == "jetclass":
        labels = JETCLASS_LABEL_MAP[labels]
    batch = JetBatch(
        csts=np.ascontiguousarray(slots["csts"], np.float32),
        csts_id=slots["csts_id"].astype(np.int8), mask=slots["mask"].astype(bool), jets=jets,
        labels=labels.astype(np.int16),
        vtx_id=slots["vtx_id"].astype(np.int16) if info.has_tracks else None,
        track_type=slots["track_type"].astype(np.int8) if info.has_tracks else None,
    )
    return batch.validate(where)


def iter_paper_h5(path: str | os.PathLike, dataset: str | None = None,
                  chunk: int = 20_000) -> Iterator[JetBatch]:
    """Stream a paper-2 HDF5 file as canonical batches of at most `chunk` jets."""
    path = Path(path)
    f = _open(path)
    with f:
        dataset = dataset or infer_paper_dataset(f, path)
        n = _check_layout(f, path, dataset)
        keys = PAPER_KEYS + (TRACK_KEYS if dataset_info(dataset).has_tracks else ())
        for start in range(0, n, chunk):
            try:
                raw = {k: f[k][start:start + chunk] for k in keys}
            except (OSError, KeyError, ValueError) as err:
                raise JetbenchError(f"{path}: corrupt or truncated HDF5 file ({err})") from None
            stop = start + len(raw["labels"])
            yield _to_canonical(raw, dataset, f"{path} [jets {start}-{stop - 1}]")
