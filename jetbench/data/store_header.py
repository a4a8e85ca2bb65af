"""Checks of a canonical store's header on open: attributes, datasets, dtypes, shapes, counts.

Everything here reads metadata only (no jet data), so opening a 100M-jet store stays instant;
label ranges and values are checked as chunks are read (`JetStore`) and in full by
`verify_store`. Every problem is one JetbenchError naming the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.definitions import DATASETS, DatasetInfo
from jetbench.data.features import CST_FEATURES, EXTRA_FIELDS, FEATURES, JET_FEATURES

FORMAT_VERSION = 1
BASE_KEYS = ("csts", "csts_id", "mask", "jets", "labels")
DTYPES = {"csts": "float32", "csts_id": "int8", "mask": "bool", "jets": "float32",
          "labels": "int16", "vtx_id": "int16", "track_type": "int8"}
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class Header:
    """What a store's header says, checked."""

    info: DatasetInfo  # the dataset's definition (or one built from the header if unknown)
    n_jets: int
    content_hash: str
    labels: tuple[str, ...]
    features_present: tuple[str, ...]
    metadata: dict[str, Any]
    keys: tuple[str, ...]


def _bad(path: Path, field: str, msg: str) -> JetbenchError:
    return JetbenchError(f"{path}: store field '{field}' {msg}")


def _text(attrs, path: Path, name: str) -> str:
    if name not in attrs:
        raise _bad(path, name, "is missing (not a complete jetbench store)")
    value = attrs[name]
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            raise _bad(path, name, "is not text") from None
    if not isinstance(value, str):
        raise _bad(path, name, f"should be text, is {type(value).__name__}")
    return value


def _integer(attrs, path: Path, name: str) -> int:
    if name not in attrs:
        raise _bad(path, name, "is missing (not a complete jetbench store)")
    value = attrs[name]
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _bad(path, name, f"should be an integer, is {value!r}")
    return int(value)


def _json(attrs, path: Path, name: str, default: Any = None) -> Any:
    if name not in attrs and default is not None:
        return default
    text = _text(attrs, path, name)
    try:
        return json.loads(text)
    except ValueError:
        raise _bad(path, name, "is not valid JSON") from None


def _names(value: Any, path: Path, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _bad(path, name, "should be a JSON list of names")
    return tuple(value)


def _info(path: Path, dataset: str, labels: tuple[str, ...], n_slots: int,
          has_tracks: bool) -> DatasetInfo:
    known = DATASETS.get(dataset)
    if known is None:  # a user's dataset (jetbench data import): the header is its definition
        return DatasetInfo(dataset, n_slots, labels, has_tracks, origin=str(path))
    if labels != known.labels:
        raise _bad(path, "labels", f"{list(labels)} do not match dataset '{dataset}' "
                                   f"({list(known.labels)})")
    if n_slots != known.n_slots:
        raise _bad(path, "mask", f"has {n_slots} slots, dataset '{dataset}' has {known.n_slots}")
    if has_tracks != known.has_tracks:
        want = "has" if known.has_tracks else "has no"
        raise _bad(path, "vtx_id", f"presence does not match dataset '{dataset}' (it {want} "
                                   "track truth)")
    return known


def _check_arrays(f: h5py.File, path: Path, n: int) -> tuple[tuple[str, ...], int, bool]:
    tracks = [k for k in EXTRA_FIELDS if k in f]
    if len(tracks) == 1:
        missing = next(k for k in EXTRA_FIELDS if k not in f)
        raise _bad(path, missing, "is missing (the store has the other track truth field)")
    keys = BASE_KEYS + tuple(tracks)
    for key in keys:
        if key not in f:
            raise _bad(path, key, "is missing")
        if not isinstance(f[key], h5py.Dataset):
            raise _bad(path, key, "is not a dataset")
    mask_shape = f["mask"].shape
    if len(mask_shape) != 2 or mask_shape[1] < 1:
        raise _bad(path, "mask", f"has shape {mask_shape}, expected (n_jets, slots)")
    p = mask_shape[1]
    counts = {f[k].shape[0] if f[k].shape else -1 for k in keys}
    if len(counts) == 1 and counts != {n}:
        raise _bad(path, "n_jets", f"says {n} but the arrays hold {counts.pop()} jets")
    expect = {"csts": (n, p, 7), "csts_id": (n, p), "mask": (n, p), "jets": (n, 5),
              "labels": (n,), "vtx_id": (n, p), "track_type": (n, p)}
    for key in keys:
        ds = f[key]
        if ds.dtype != np.dtype(DTYPES[key]):
            raise _bad(path, key, f"has dtype {ds.dtype}, expected {DTYPES[key]}")
        if ds.shape != expect[key]:
            raise _bad(path, key, f"has shape {ds.shape}, expected {expect[key]}")
    return keys, p, bool(tracks)


def read_header(f: h5py.File, path: Path) -> Header:
    """Check the header of an open store; return what it says."""
    attrs = f.attrs
    if "content_hash" not in attrs:
        raise JetbenchError(f"{path}: not a jetbench store (no 'content_hash' attribute); "
                            "use `jetbench data convert` for paper-2 HDF5 files")
    version = _integer(attrs, path, "jetbench_format")
    if not 1 <= version <= FORMAT_VERSION:
        raise _bad(path, "jetbench_format", f"is {version}; this jetbench reads 1..{FORMAT_VERSION}")
    content_hash = _text(attrs, path, "content_hash")
    if len(content_hash) != 16 or not set(content_hash) <= _HEX:
        raise _bad(path, "content_hash", f"should be 16 hex digits, is {content_hash!r}")
    dataset = _text(attrs, path, "dataset")
    if not dataset.isidentifier():
        raise _bad(path, "dataset", f"should be a dataset name, is {dataset!r}")
    n = _integer(attrs, path, "n_jets")
    if n < 1:
        raise _bad(path, "n_jets", f"is {n}; a store holds at least one jet")
    labels = _names(_json(attrs, path, "labels"), path, "labels")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise _bad(path, "labels", "should list at least two distinct class names")
    for name, want in (("cst_features", CST_FEATURES), ("jet_features", JET_FEATURES)):
        if _names(_json(attrs, path, name), path, name) != want:
            raise _bad(path, name, f"should be {list(want)}")
    metadata = _json(attrs, path, "metadata", default={})
    if not isinstance(metadata, dict):
        raise _bad(path, "metadata", "should be a JSON object")
    keys, n_slots, has_tracks = _check_arrays(f, path, n)
    info = _info(path, dataset, labels, n_slots, has_tracks)
    present = info.features_present
    if "features_present" in attrs:  # stores written before it existed: the definition's
        present = _names(_json(attrs, path, "features_present"), path, "features_present")
        if not set(present) <= set(FEATURES) or not {"pt", "deta", "dphi"} <= set(present):
            raise _bad(path, "features_present", f"should be a subset of {list(FEATURES)} "
                                                 "including pt, deta, dphi")
        if not set(present) <= set(info.features_present):
            raise _bad(path, "features_present", f"{list(present)} claims inputs dataset "
                                                 f"'{dataset}' does not have")
    if info.origin == str(path):
        info = replace(info, features_present=present)
    return Header(info, n, content_hash, labels, present, metadata, keys)
