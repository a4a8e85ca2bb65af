"""Padding in one place: jagged per-constituent arrays -> the canonical `JetBatch`.

Readers and the generator hand over awkward arrays (one list per jet); this module sorts by pT,
truncates to the dataset's slot count and zero-pads, array-at-a-time (no Python loop over jets).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from jetbench.data.format import JetBatch


def _pad(x: ak.Array, n_slots: int, fill, dtype) -> np.ndarray:
    padded = ak.fill_none(ak.pad_none(x, n_slots, axis=1, clip=True), fill)
    return ak.to_numpy(padded).astype(dtype, copy=False)


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
    order = ak.argsort(features[0], axis=1, ascending=False, stable=True)
    csts = np.stack([_pad(f[order], n_slots, 0.0, np.float32) for f in features], axis=-1)
    counts = np.minimum(ak.to_numpy(ak.num(features[0], axis=1)), n_slots)
    mask = np.arange(n_slots)[None, :] < counts[:, None]
    batch = JetBatch(
        csts=np.ascontiguousarray(csts),
        csts_id=_pad(ids[order], n_slots, 0, np.int8),
        mask=mask,
        jets=np.asarray(jets, np.float32),
        labels=np.asarray(labels, np.int16),
        vtx_id=None if vtx_id is None else _pad(vtx_id[order], n_slots, -1, np.int16),
        track_type=None if track_type is None else _pad(track_type[order], n_slots, -1, np.int8),
    )
    return batch
