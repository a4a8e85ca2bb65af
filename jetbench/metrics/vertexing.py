"""Secondary-vertex finding metrics: a jet's tracks are grouped by vertex; the model scores every
pair of real tracks (i < j) with a same-vertex probability [N, P, P].

Per-jet values (NaN for jets with fewer than 2 tracks: no pair to predict) are averaged over jets
by the caller. Array-at-a-time, in chunks of jets to bound memory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

CHUNK = 20_000


def pair_mask(mask: np.ndarray) -> np.ndarray:
    """[N, P, P] upper-triangle (i < j) pairs of real tracks."""
    p = mask.shape[1]
    return mask[:, :, None] & mask[:, None, :] & np.triu(np.ones((p, p), bool), 1)[None]


def same_vertex(vtx_id: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[N, P, P] truth of the pair task: both tracks from the same vertex (on real i<j pairs)."""
    return (vtx_id[:, :, None] == vtx_id[:, None, :]) & pair_mask(mask)


def n_secondary_vertices(vtx_id: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distinct secondary vertex ids (> 0) among a jet's real tracks."""
    ids = np.where(mask, vtx_id, -1).astype(np.int64)
    hi = int(ids.max(initial=0)) + 1
    present = np.zeros((len(ids), hi + 1), bool)
    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    present[rows, ids.ravel() + 1] = True  # column 0 collects padding (-1)
    return present[:, 2:].sum(1)


def cluster_tracks(probs: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Vertex ids predicted per track: connected components of the edges with p > threshold
    (i < j entries are read); -1 on padding. Ids are unique across the batch."""
    n, p = mask.shape
    b, i, j = np.nonzero((probs > threshold) & pair_mask(mask))
    nodes = n * p
    graph = coo_matrix((np.ones(len(b), np.int8), (b * p + i, b * p + j)), shape=(nodes, nodes))
    _, comp = connected_components(graph, directed=False)
    return np.where(mask, comp.reshape(n, p), -1)


def _pair_counts(same_true: np.ndarray, same_pred: np.ndarray, pairs: np.ndarray):
    tp = np.sum(same_true & same_pred & pairs, axis=(1, 2)).astype(np.float64)
    fn = np.sum(same_true & ~same_pred & pairs, axis=(1, 2)).astype(np.float64)
    fp = np.sum(~same_true & same_pred & pairs, axis=(1, 2)).astype(np.float64)
    tn = np.sum(pairs, axis=(1, 2)) - tp - fn - fp
    return tp, fp, fn, tn


def adjusted_rand_per_jet(true_ids: np.ndarray, pred_ids: np.ndarray,
                          mask: np.ndarray) -> np.ndarray:
    """sklearn's adjusted_rand_score per jet, from the pair confusion matrix (same special case:
    1.0 when no pair is split or merged wrongly); NaN for jets with < 2 tracks."""
    out = []
    for s in range(0, len(mask), CHUNK):
        t, q, m = true_ids[s:s + CHUNK], pred_ids[s:s + CHUNK], mask[s:s + CHUNK]
        pairs = pair_mask(m)
        tp, fp, fn, tn = _pair_counts(t[:, :, None] == t[:, None, :],
                                      q[:, :, None] == q[:, None, :], pairs)
        den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
        ari = np.divide(2.0 * (tp * tn - fn * fp), den, out=np.ones_like(den), where=den > 0)
        ari[(fn == 0) & (fp == 0)] = 1.0
        ari[m.sum(1) < 2] = np.nan
        out.append(ari)
    return np.concatenate(out) if out else np.zeros(0)


def vertex_ari_per_jet(probs: np.ndarray, vtx_id: np.ndarray, mask: np.ndarray,
                       threshold: float = 0.5) -> np.ndarray:
    """ARI of the clustering from predicted edges (connected components) vs the true vertices."""
    return adjusted_rand_per_jet(vtx_id, cluster_tracks(probs, mask, threshold), mask)


@lru_cache(maxsize=8)
def bell_numbers(n_max: int) -> tuple[int, ...]:
    """B_0 .. B_n_max (exact integers, Bell triangle)."""
    bells, row = [1], [1]
    for _ in range(n_max):
        nxt = [row[-1]]
        for v in row:
            nxt.append(nxt[-1] + v)
        row = nxt
        bells.append(row[0])
    return tuple(bells)


def edge_ari_per_jet(probs: np.ndarray, vtx_id: np.ndarray, mask: np.ndarray,
                     threshold: float = 0.5) -> np.ndarray:
    """The paper code's edge ARI: (RI - E[RI]) / (1 - E[RI]) with pairs scored directly.

    Faithful to `get_ari` in mattcleigh/jetssl, src/models/vertexer.py (paper 2): RI = correct
    pair predictions / n(n-1)/2 with `pred = p > 0.5` (the code's logit > 0); the expectation is
    for a uniformly random partition, where two tracks share a block with probability
    r = B_{n-1}/B_n (Bell numbers): E = r g + (1 - r)(1 - g), g = sum_v C(n_v, 2) / C(n, 2) over
    the true vertices. One deliberate difference: the paper code counts vertex ids 0..6 only in
    g; here every id counts (identical whenever a jet has at most 6 secondary vertices).
    """
    p = mask.shape[1]
    bells = bell_numbers(p)
    ratio = np.array([0.0] + [bells[k - 1] / bells[k] for k in range(1, p + 1)])
    out = []
    for s in range(0, len(mask), CHUNK):
        m, v, pr = mask[s:s + CHUNK], vtx_id[s:s + CHUNK], probs[s:s + CHUNK]
        pairs = pair_mask(m)
        target = (v[:, :, None] == v[:, None, :]) & pairs
        pred = (pr > threshold) & pairs
        n = m.sum(1)
        n_edges = n * (n - 1) / 2.0
        with np.errstate(invalid="ignore", divide="ignore"):
            ri = np.sum((pred == target) & pairs, axis=(1, 2)) / n_edges
            g = np.sum(target, axis=(1, 2)) / n_edges  # = sum_v C(n_v, 2) / C(n, 2)
            r = ratio[n]
            expect = r * g + (1 - r) * (1 - g)
            ari = (ri - expect) / (1 - expect)
        ari[n < 2] = np.nan
        out.append(ari)
    return np.concatenate(out) if out else np.zeros(0)


def edge_counts(probs: np.ndarray, vtx_id: np.ndarray, mask: np.ndarray,
                threshold: float = 0.5) -> np.ndarray:
    """Per jet [N, 4]: (tp, fp, fn, tn) of the same-vertex pair predictions."""
    out = []
    for s in range(0, len(mask), CHUNK):
        m, v, pr = mask[s:s + CHUNK], vtx_id[s:s + CHUNK], probs[s:s + CHUNK]
        pairs = pair_mask(m)
        out.append(np.stack(_pair_counts(v[:, :, None] == v[:, None, :], pr > threshold, pairs), 1))
    return np.concatenate(out) if out else np.zeros((0, 4))


def perfect_per_jet(counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """1 if every pair of the jet is predicted right, else 0; NaN for jets with < 2 tracks."""
    perfect = ((counts[:, 1] + counts[:, 2]) == 0).astype(np.float64)
    perfect[mask.sum(1) < 2] = np.nan
    return perfect


def f1_from_counts(tp: float, fp: float, fn: float) -> float:
    den = 2 * tp + fp + fn
    return float(2 * tp / den) if den > 0 else float("nan")
