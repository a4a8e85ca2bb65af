"""Per-jet test predictions in a compact file, so every metric can be recomputed after a run.

A cell scores exactly what it stores: `Predictions.from_arrays` rounds the scores to the stored
precision first and `scoring.score_predictions` scores the rounded values, so re-scoring the file gives
the result JSON's numbers bit for bit. Precision by task kind:
- jet tasks keep float32: their ROC working points (rejection at εS = 99.5 %, SIC at 1 % FPR)
  sit where probabilities crowd near 0 or 1 and float16's 2^-11 steps would tie many jets;
- track and vertex tasks store float16: their metrics are argmax / p > 0.5 decisions and per-class
  AUCs over ~10^5 tracks, which the rounding moves by less than 1e-4, and it halves the file.
Track and vertex data are packed over real tracks (and real i < j track pairs), not padded
[N, P(, P)]: vertexing on 10k jets with <= 15 tracks is ~0.5 MB instead of ~9 MB.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path
from jetbench.core.hashing import sha256_file
from jetbench.metrics.registry import MetricInput

FORMAT = "jetbench-predictions/1"
SUFFIX = ".npz"
SCORE_DTYPE = {"jet": np.float32, "track": np.float16, "vertex": np.float16}


@dataclass(frozen=True)
class BatchView:
    """What scoring reads from a test batch besides targets and scores (shapes, binning)."""

    mask: np.ndarray  # [N, P] real tracks ([N, 1] of True for jet tasks)
    labels: np.ndarray  # [N] dataset label of each jet (binning by flavour)
    vtx_id: np.ndarray | None = None  # [N, P] vertex ids (binning by number of vertices)


def _pairs(mask: np.ndarray) -> np.ndarray:
    """[N, P, P] i < j pairs of real tracks, in the order the packed pair scores use."""
    p = mask.shape[1]
    return mask[:, :, None] & mask[:, None, :] & np.triu(np.ones((p, p), bool), 1)[None]


def _unpack(packed: np.ndarray, where: np.ndarray, fill: float, dtype: Any) -> np.ndarray:
    out = np.full(where.shape + packed.shape[1:], fill, dtype)
    out[where] = packed
    return out


@dataclass
class Predictions:
    """Targets and stored-precision scores of one cell's test split (see the module doc).

    jet: y [N], scores [N, C] or [N]; track: y [T], scores [T, C] over the T real tracks;
    vertex: y [T] vertex ids, scores [Q] same-vertex probabilities of the Q real i < j pairs.
    """

    kind: str
    labels: tuple[str, ...]
    jet_index: np.ndarray  # [N] row of each jet in the test store
    y: np.ndarray
    scores: np.ndarray
    jet_label: np.ndarray  # [N]
    mask: np.ndarray | None = None  # [N, P] (track/vertex)
    vtx_id: np.ndarray | None = None  # [T] packed (track kind; vertex kind: y)

    @classmethod
    def from_arrays(cls, kind: str, labels: tuple[str, ...], y: np.ndarray, scores: np.ndarray,
                    jet_label: np.ndarray, jet_index: np.ndarray | None = None,
                    mask: np.ndarray | None = None,
                    vtx_id: np.ndarray | None = None) -> Predictions:
        """Pack padded arrays (the layout `score_task` takes) at the stored precision."""
        if kind not in SCORE_DTYPE:
            raise JetbenchError(f"unknown task kind '{kind}' (expected one of {list(SCORE_DTYPE)})")
        n = len(y)
        index = np.arange(n) if jet_index is None else np.asarray(jet_index)
        dtype = SCORE_DTYPE[kind]
        s = np.asarray(scores)
        if kind == "jet":
            return cls(kind, tuple(labels), index.astype(np.int64), np.asarray(y, np.int64),
                       s.astype(dtype), np.asarray(jet_label, np.int16))
        m = np.asarray(mask, bool)
        packed_y = np.asarray(y)[m].astype(np.int16)
        packed_s = s[_pairs(m)] if kind == "vertex" else s[m]
        vtx = None if kind == "vertex" or vtx_id is None else np.asarray(vtx_id)[m].astype(np.int16)
        return cls(kind, tuple(labels), index.astype(np.int64), packed_y, packed_s.astype(dtype),
                   np.asarray(jet_label, np.int16), m, vtx)

    @classmethod
    def concat(cls, parts: list[Predictions]) -> Predictions:
        """The predictions of consecutive chunks of one test split as one (a split too large
        to load whole is scored chunk by chunk)."""
        first = parts[0]

        def cat(key: str) -> np.ndarray | None:
            arrays = [getattr(p, key) for p in parts]
            return None if arrays[0] is None else np.concatenate(arrays)

        return cls(first.kind, first.labels, cat("jet_index"), cat("y"), cat("scores"),
                   cat("jet_label"), cat("mask"), cat("vtx_id"))

    def __len__(self) -> int:
        return len(self.jet_index)

    def padded(self) -> tuple[np.ndarray, np.ndarray, BatchView]:
        """(y, scores float64, batch view) in the padded layout `score_task` takes."""
        s = self.scores.astype(np.float64)
        if self.kind == "jet":
            return self.y, s, BatchView(np.ones((len(self), 1), bool), self.jet_label)
        m = self.mask
        y = _unpack(self.y.astype(np.int64), m, -1, np.int64)
        scores = _unpack(s, _pairs(m), 0.0, np.float64) if self.kind == "vertex" else \
            _unpack(s, m, 0.0, np.float64)
        vtx = y if self.kind == "vertex" else (
            None if self.vtx_id is None else _unpack(self.vtx_id.astype(np.int64), m, -1, np.int64))
        return y, scores, BatchView(m, self.jet_label, vtx)

    def metric_input(self) -> MetricInput:
        """The metric functions' input (padded arrays, float64 scores)."""
        y, s, view = self.padded()
        return MetricInput(self.kind, y, s, self.labels, None if self.kind == "jet" else view.mask)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"format": np.array(FORMAT), "kind": np.array(self.kind),
               "labels": np.array(self.labels, dtype=str), "jet_index": self.jet_index,
               "y": self.y, "scores": self.scores, "jet_label": self.jet_label}
        if self.mask is not None:
            out["mask"] = self.mask
        if self.vtx_id is not None:
            out["vtx_id"] = self.vtx_id
        return out

    def save(self, path: str | os.PathLike) -> str:
        """Write the file atomically (compressed npz); returns its sha256."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays())
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(buf.getvalue())
        return sha256_file(path)

    @classmethod
    def load(cls, path: str | os.PathLike, sha256: str | None = None) -> Predictions:
        """Read a predictions file; with `sha256`, refuse a file whose content changed."""
        if sha256 is not None and sha256_file(path) != sha256:
            raise JetbenchError(f"{path}: sha256 differs from the one its result JSON records")
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            raise JetbenchError(f"{path}: not a readable predictions file ({err})") from None
        if str(d.get("format", "")) != FORMAT:
            raise JetbenchError(f"{path}: not a {FORMAT} file")
        return cls(str(d["kind"]), tuple(str(x) for x in d["labels"]), d["jet_index"], d["y"],
                   d["scores"], d["jet_label"], d.get("mask"), d.get("vtx_id"))
