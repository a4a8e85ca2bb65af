"""Stable content hashes for provenance (tasks, protocols, configs, data)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def hash_json(obj: Any, length: int = 16) -> str:
    """sha256 of a canonical JSON encoding (sorted keys): equal configs give equal hashes."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def hash_arrays(arrays: dict[str, np.ndarray], length: int = 16) -> str:
    """sha256 over named arrays (name, dtype, shape and bytes), independent of dict order."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:length]


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
