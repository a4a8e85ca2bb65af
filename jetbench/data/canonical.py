"""Padding in one place: jagged per-constituent arrays -> the canonical `JetBatch`.

Readers and the generator hand over awkward arrays (one list per jet) or, equivalently, the flat
contents plus a count per jet; this module sorts by pT, truncates to the dataset's slot count and
zero-pads, array-at-a-time (no Python loop over jets).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from jetbench.data.format import JetBatch


def _flat(x: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(x, axis=1)))


def pad_flat(
    features: np.ndarray,
    ids: np.ndarray,
    counts: np.ndarray,
    jets: np.ndarray,
    labels: np.ndarray,
    n_slots: int,
    vtx_id: np.ndarray | None = None,
    track_type: np.ndarray | None = None,
) -> JetBatch:
    """Build a JetBatch from flat constituents: features [T, 7] (pt first), ids/truth [T], and
    the number of constituents of each jet (`counts`, jets stored one after the other).

    Constituents are ordered by decreasing pT (stable for ties) and cut to `n_slots`; the
    padding is one numpy scatter of the flat contents into their slots.
    """
    counts = np.asarray(counts, np.int64)
    n = len(counts)
    first = np.cumsum(counts) - counts
    starts = np.repeat(first, counts)
    pt = features[:, 0]
    # files are usually pT-sorted already; then the stable sort is the identity and is skipped
    rises = pt[1:] > pt[:-1]
    rises[first[(first > 0) & (first < len(pt))] - 1] = False  # a new jet may start higher
    src = None
    if rises.any():  # stable per-jet sort by decreasing pT: jets stay grouped and in order
        src = np.lexsort((-pt, np.repeat(np.arange(n), counts)))
    slot = np.arange(len(pt)) - starts
    keep = slot < n_slots
    if src is not None:
        src = src[keep]
    elif keep.all():
        keep = None
    dest = np.repeat(np.arange(n, dtype=np.int64) * n_slots, counts) + slot
    dest = dest if keep is None else dest[keep]

    def scatter(flat: np.ndarray, fill, dtype) -> np.ndarray:
        shape = (n * n_slots,) + flat.shape[1:]
        out = np.zeros(shape, dtype) if fill == 0 else np.full(shape, fill, dtype)
        if src is not None:
            out[dest] = flat[src]
        else:
            out[dest] = flat if keep is None else flat[keep]
        return out.reshape((n, n_slots) + flat.shape[1:])

    mask = np.arange(n_slots)[None, :] < np.minimum(counts, n_slots)[:, None]
    return JetBatch(
        csts=scatter(np.asarray(features, np.float32), 0.0, np.float32),
        csts_id=scatter(ids, 0, np.int8),
        mask=mask,
        jets=np.asarray(jets, np.float32),
        labels=np.asarray(labels, np.int16),
        vtx_id=None if vtx_id is None else scatter(vtx_id, -1, np.int16),
        track_type=None if track_type is None else scatter(track_type, -1, np.int8),
    )


def pad_constituents(
    features: list[ak.Array],
    ids: ak.Array,
    jets: np.ndarray,
    labels: np.ndarray,
    n_slots: int,
    vtx_id: ak.Array | None = None,
    track_type: ak.Array | None = None,
) -> JetBatch:
    """Build a JetBatch from 7 jagged feature arrays (pt first) and jagged ids/truth.

    Constituents are ordered by decreasing pT (stable for ties) and cut to `n_slots`.
    """
    counts = ak.to_numpy(ak.num(features[0], axis=1))
    flat = np.stack([_flat(f).astype(np.float32, copy=False) for f in features], axis=1)
    return pad_flat(flat, _flat(ids), counts, jets, labels, n_slots,
                    vtx_id=None if vtx_id is None else _flat(vtx_id),
                    track_type=None if track_type is None else _flat(track_type))
