"""Vectorised bootstrap statistics agree with the metric code they stand for, on any weights."""

from __future__ import annotations

import numpy as np
import pytest

from jetbench.leaderboard.resample import RocStat, metric_stat, resample_counts
from jetbench.metrics import METRICS, MetricInput
from jetbench.metrics import classification as cl

RNG = np.random.default_rng(5)


def _weights(n: int, k: int = 4) -> np.ndarray:
    """Unit weights, two bootstrap resamples and one sparse resample (many jets left out)."""
    w = np.vstack([np.ones(n), *list(resample_counts(n, k - 2, seed=3))])
    sparse = np.zeros(n)
    sparse[RNG.choice(n, n // 5, replace=False)] = 1.0
    return np.vstack([w, sparse])


def _reference(name: str, inp: MetricInput, w: np.ndarray, options=None) -> np.ndarray:
    m = METRICS[name]
    value = m.prepare(inp, m.parse_options(options or {}))
    return np.array([value(row) for row in w])


def _jet_input(n=600, c=3, binary=False, ties=False):
    y = RNG.integers(0, 2 if binary else c, n)
    logits = RNG.normal(size=(n, 2 if binary else c)) + 1.5 * np.eye(2 if binary else c)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    if ties:
        p = np.round(p, 2)  # many tied scores, as float16 predictions have
    scores = p[:, 1] if binary else p
    labels = ("QCD", "Tbqq") if binary else tuple(f"c{i}" for i in range(c))
    return MetricInput("jet", y, scores, labels)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("name,options", [("auc", {}), ("sic", {"fpr": 0.01}),
                                          ("sic", {"fpr": 0.1}), ("max_sic", {}),
                                          ("accuracy", {}), ("balanced_accuracy", {})])
def test_binary_jet_statistics_match_the_metrics(name, options, ties):
    inp = _jet_input(binary=True, ties=ties)
    w = _weights(len(inp))
    got = metric_stat(name, inp, options)(w)
    np.testing.assert_allclose(got, _reference(name, inp, w, options), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "macro_auc"])
def test_multiclass_statistics_match_the_metrics(name):
    inp = _jet_input(c=4)
    w = _weights(len(inp))
    np.testing.assert_allclose(metric_stat(name, inp)(w), _reference(name, inp, w), rtol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_rejection_matches_inverse_bkg_eff(ties):
    inp = _jet_input(n=800, c=3, ties=ties)
    sel = np.flatnonzero((inp.y == 1) | (inp.y == 0))
    disc = cl.ratio_score(inp.scores[sel], 1, 0)
    stat = RocStat(inp.y[sel] == 1, disc, sel)
    w = _weights(len(inp), 6)
    effs = [0.3, 0.5, 0.7, 0.995]
    got = stat.rejection(w, effs)
    for b, row in enumerate(w):
        want = [cl.inverse_bkg_eff(inp.y[sel] == 1, disc, e, row[sel]) for e in effs]
        np.testing.assert_allclose(got[b], want, rtol=1e-12)


def test_track_and_vertex_statistics_match_the_metrics():
    from tests.conftest import random_batch

    batch = random_batch(120, "btag", seed=2)
    n, p = batch.mask.shape
    y = np.where(batch.mask, batch.track_type, -1).astype(np.int64)
    scores = RNG.dirichlet(np.ones(4), size=(n, p))
    scores[np.arange(n)[:, None], np.arange(p)[None], np.clip(y, 0, 3)] += 0.5
    track = MetricInput("track", y, scores, ("a", "b", "c", "d"), batch.mask)
    w = _weights(n)
    for name in ("accuracy", "balanced_accuracy"):
        np.testing.assert_allclose(metric_stat(name, track)(w), _reference(name, track, w),
                                   rtol=1e-12)
    vtx = np.where(batch.mask, batch.vtx_id, -1).astype(np.int64)
    same = (vtx[:, :, None] == vtx[:, None, :]).astype(float)
    probs = np.clip(same + RNG.normal(0, 0.4, (n, p, p)), 0, 1)
    vertex = MetricInput("vertex", vtx, probs, ("different_vertex", "same_vertex"), batch.mask)
    for name in ("ari", "edge_ari", "perfect_jet_fraction", "edge_f1"):
        np.testing.assert_allclose(metric_stat(name, vertex)(w), _reference(name, vertex, w),
                                   rtol=1e-12)


def test_resample_counts_are_seeded_blocks_of_bootstrap_draws(monkeypatch):
    import jetbench.leaderboard.resample as rs

    monkeypatch.setattr(rs, "BLOCK_ELEMENTS", 1000)  # force several blocks
    a = np.vstack(list(resample_counts(300, 25, seed=9)))
    b = np.vstack(list(resample_counts(300, 25, seed=9)))
    assert a.shape == (25, 300) and np.array_equal(a, b)
    assert np.all(a.sum(1) == 300) and not np.array_equal(a[0], a[1])
    # each jet is drawn ~Binomial(300, 1/300) times: mean 1, variance ~1
    assert abs(a.mean() - 1) < 1e-12 and 0.8 < a.var() < 1.2
