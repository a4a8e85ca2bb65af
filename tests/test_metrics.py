"""Every metric against sklearn or a hand computation with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    adjusted_rand_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)

from jetbench import metrics as M
from jetbench.core.errors import JetbenchError
from jetbench.metrics.registry import METRICS, MetricInput
from jetbench.tasks import get_task, score_task
from tests.conftest import random_batch


def _probs(rng, n, c, y, sharp=1.5):
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += sharp
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


# --- classification ------------------------------------------------------------------------
def test_classification_metrics_match_sklearn_with_and_without_weights():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 500)
    s = _probs(rng, 500, 4, y)
    w = rng.integers(0, 3, 500).astype(float)
    pred = s.argmax(1)
    assert M.accuracy(y, s) == pytest.approx(accuracy_score(y, pred))
    assert M.accuracy(y, s, w) == pytest.approx(accuracy_score(y, pred, sample_weight=w))
    assert M.balanced_accuracy(y, s) == pytest.approx(balanced_accuracy_score(y, pred))
    assert M.balanced_accuracy(y, s, w) == pytest.approx(
        balanced_accuracy_score(y, pred, sample_weight=w))
    assert M.macro_auc(y, s) == pytest.approx(roc_auc_score(y, s, multi_class="ovr"))
    assert M.class_aucs(y, s)[2] == pytest.approx(roc_auc_score(y == 2, s[:, 2]))
    yb = (y > 1).astype(int)
    assert M.macro_auc(yb, s[:, 0]) == pytest.approx(roc_auc_score(yb, s[:, 0]))
    assert M.accuracy(yb, s[:, 0]) == pytest.approx(accuracy_score(yb, s[:, 0] > 0.5))


def test_rejection_on_shifted_uniform_scores_is_exact():
    """Background scores on a uniform grid in (0,1), signal shifted by 0.3: at eps_S = 50% the
    threshold is 0.8, so eps_B = 20% and the rejection is exactly 5."""
    n = 1000
    bkg = (np.arange(n) + 0.5) / n
    sig = bkg + 0.3
    score = np.concatenate([sig, bkg])
    is_sig = np.arange(2 * n) < n
    assert M.bkg_eff_at(is_sig, score, 0.5) == pytest.approx(0.2)
    assert M.inverse_bkg_eff(is_sig, score, 0.5) == pytest.approx(5.0)
    assert M.inverse_bkg_eff(is_sig, score, 0.9) == pytest.approx(1 / 0.6)
    # no background above any signal-efficient threshold -> floor at 1/N_B (finite lower bound)
    assert M.inverse_bkg_eff(is_sig, np.concatenate([bkg + 2, bkg]), 0.5) == pytest.approx(n)


def test_sic_and_max_sic_on_constructed_distributions():
    """Background uniform on (0,1), signal uniform on (0,2): at threshold t < 1,
    FPR = 1 - t and TPR = (2 - t)/2, so SIC(FPR=f) = (1 + f) / (2 sqrt f)."""
    nb, ns = 20000, 20000
    bkg = (np.arange(nb) + 0.5) / nb
    sig = 2 * (np.arange(ns) + 0.5) / ns
    score = np.concatenate([sig, bkg])
    is_sig = np.arange(ns + nb) < ns
    assert M.sic_at_fpr(is_sig, score, 0.01) == pytest.approx(1.01 / 0.2, rel=2e-3)
    assert M.max_sic(is_sig, score, fpr_floor=0.01, min_background=0) == pytest.approx(
        1.01 / 0.2, rel=2e-3)
    assert M.max_sic(is_sig, score, fpr_floor=0.04, min_background=0) == pytest.approx(
        1.04 / 0.4, rel=2e-3)
    # the floor also honours a minimum number of background jets: 800 of 20000 = 4%
    assert M.max_sic(is_sig, score, fpr_floor=1e-4, min_background=800) == pytest.approx(
        1.04 / 0.4, rel=2e-3)


def _jet_input(labels, y, s):
    return MetricInput("jet", np.asarray(y), np.asarray(s), tuple(labels))


def test_jetclass_rejection_uses_pairwise_ratio_and_per_class_efficiency():
    """Class A vs QCD with p_A/(p_A+p_QCD); class B at eps_S = 99%: known answers by design."""
    n = 1000
    grid = (np.arange(n) + 0.5) / n
    labels = ("QCD", "A", "B")
    # the ratio r = p_A/(p_A+p_QCD) is set directly; column B only dilutes (ratio unchanged)
    r_sig, r_bkg = grid * 0.7 + 0.3, grid  # signal uniform on (0.3, 1.0)
    s = np.zeros((2 * n, 3))
    for i, r in enumerate(np.concatenate([r_sig, r_bkg])):
        s[i] = [0.5 * (1 - r), 0.5 * r, 0.5]
    y = np.r_[np.ones(n, int), np.zeros(n, int)]
    opts = METRICS["rejection"].parse_options({"background": "QCD", "eff_per_class": {"B": 0.99}})
    out = METRICS["rejection"].prepare(_jet_input(labels, y, s), opts)(None)
    # half the signal passes r >= 0.65 -> eps_B = 0.35
    assert out["rej50_A"] == pytest.approx(1 / 0.35, rel=1e-3)
    assert set(out) == {"rej50_A", "rej99_B"}


def test_btag_rejection_at_70_percent_b_efficiency():
    n = 1000
    grid = (np.arange(n) + 0.5) / n
    labels = ("light", "c", "b")
    # p_b/(p_b+p_light) for b jets uniform on (0.3,1.3)->clipped: use ratio via columns directly
    rb, rl = grid * 0.5 + 0.5, grid  # b: (0.5,1), light: (0,1)
    s_b = np.stack([1 - rb, np.zeros(n), rb], 1)
    s_l = np.stack([1 - rl, np.zeros(n), rl], 1)
    s_c = np.stack([np.zeros(n), 1 - grid, grid], 1)  # p_b/(p_b+p_c) = grid for c jets
    s = np.concatenate([s_b, s_l, s_c])
    y = np.r_[np.full(n, 2), np.zeros(n, int), np.ones(n, int)]
    out = METRICS["btag_rejection"].prepare(
        _jet_input(labels, y, s), METRICS["btag_rejection"].parse_options({}))(None)
    # vs light: 70% of b above 0.65 -> 35% of light above 0.65; vs c: b ratio is 1 -> floor 1/N_c
    assert out["light_rej70"] == pytest.approx(1 / 0.35, rel=1e-3)
    assert out["c_rej70"] == pytest.approx(n)


# --- vertexing -----------------------------------------------------------------------------
def _edges_from_clusters(ids, p_same=0.9, p_diff=0.1):
    ids = np.asarray(ids)
    return np.where(ids[:, :, None] == ids[:, None, :], p_same, p_diff)


def test_ari_perfect_random_and_exact():
    mask = np.ones((1, 4), bool)
    true = np.array([[0, 0, 1, 1]])
    assert M.vertex_ari_per_jet(_edges_from_clusters(true), true, mask)[0] == 1.0
    # predicted {0,1},{2},{3} vs true {0,1},{2,3}: hand computation gives 4/7
    probs = _edges_from_clusters(true)
    probs[0, 2, 3] = probs[0, 3, 2] = 0.2
    assert M.vertex_ari_per_jet(probs, true, mask)[0] == pytest.approx(4 / 7)
    assert adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    # random predicted clusterings: ARI averages to ~0
    rng = np.random.default_rng(1)
    n, p = 3000, 12
    t = rng.integers(0, 3, (n, p))
    q = rng.integers(0, 3, (n, p))
    ari = M.adjusted_rand_per_jet(t, q, np.ones((n, p), bool))
    assert abs(ari.mean()) < 0.02


def test_vectorised_ari_matches_sklearn_per_jet():
    rng = np.random.default_rng(2)
    n, p = 300, 15
    mask = np.arange(p)[None] < rng.integers(1, p + 1, n)[:, None]
    t = rng.integers(0, 4, (n, p))
    q = np.where(rng.random((n, p)) < 0.7, t, rng.integers(0, 4, (n, p)))
    got = M.adjusted_rand_per_jet(t, q, mask)
    for j in range(n):
        m = mask[j]
        if m.sum() < 2:
            assert np.isnan(got[j])
        else:
            assert got[j] == pytest.approx(adjusted_rand_score(t[j, m], q[j, m]), abs=1e-12)


def test_cluster_tracks_is_connected_components():
    # edges 0-1 and 1-2 (not 0-2) join three tracks; track 3 alone; slot 4 is padding
    probs = np.zeros((1, 5, 5))
    probs[0, 0, 1] = probs[0, 1, 2] = 0.8
    probs[0, 3, 4] = 0.9  # edge to padding is ignored
    mask = np.array([[1, 1, 1, 1, 0]], bool)
    ids = M.cluster_tracks(probs, mask)[0]
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[0] and ids[4] == -1


def test_edge_ari_worked_example():
    """True {0,1},{2,3}; one wrong pair (2,3): RI = 5/6; B3/B4 = 5/15, g = 2/6, so
    E = 1/3*1/3 + 2/3*2/3 = 5/9 and ARI = (5/6 - 5/9)/(1 - 5/9) = 5/8."""
    assert M.bell_numbers(6) == (1, 1, 2, 5, 15, 52, 203)
    mask = np.ones((1, 4), bool)
    true = np.array([[0, 0, 1, 1]])
    probs = _edges_from_clusters(true)
    probs[0, 2, 3] = probs[0, 3, 2] = 0.2
    assert M.edge_ari_per_jet(probs, true, mask)[0] == pytest.approx(5 / 8)
    assert M.edge_ari_per_jet(_edges_from_clusters(true), true, mask)[0] == pytest.approx(1.0)
    one_track = np.array([[True, False, False, False]])
    assert np.isnan(M.edge_ari_per_jet(probs, true, one_track)[0])


def test_perfect_fraction_and_edge_f1():
    rng = np.random.default_rng(3)
    n, p = 200, 8
    mask = np.arange(p)[None] < rng.integers(2, p + 1, n)[:, None]
    vtx = rng.integers(0, 3, (n, p))
    probs = rng.random((n, p, p))
    counts = M.edge_counts(probs, vtx, mask)
    pairs = M.pair_mask(mask)
    truth = M.same_vertex(vtx, mask)[pairs]
    pred = (probs > 0.5)[pairs]
    tp, fp, fn, _ = counts.sum(0)
    assert 2 * tp / (2 * tp + fp + fn) == pytest.approx(f1_score(truth, pred))
    inp = MetricInput("vertex", vtx, probs, ("different_vertex", "same_vertex"), mask)
    f1 = METRICS["edge_f1"].prepare(inp, METRICS["edge_f1"].parse_options({}))(None)
    assert f1 == pytest.approx(f1_score(truth, pred))
    perfect_probs = _edges_from_clusters(vtx)
    perfect_probs[:10] = 1 - perfect_probs[:10]  # first 10 jets all wrong
    pf = METRICS["perfect_jet_fraction"].prepare(
        MetricInput("vertex", vtx, perfect_probs, inp.labels, mask),
        METRICS["perfect_jet_fraction"].parse_options({}))(None)
    assert pf == pytest.approx(190 / 200)


def test_n_secondary_vertices():
    vtx = np.array([[0, 1, 1, 3, -1], [0, 0, 0, -1, -1], [2, 2, 5, 1, -1]])
    mask = vtx >= 0
    assert M.n_secondary_vertices(vtx, mask).tolist() == [2, 0, 3]


# --- bootstrap and score_task ----------------------------------------------------------------
def test_bootstrap_se_matches_binomial():
    rng = np.random.default_rng(4)
    n, p = 2000, 0.8
    y = np.zeros(n, int)
    correct = rng.random(n) < p
    s = np.where(correct, 0.1, 0.9)  # binary prob of class 1; y = 0 -> right iff s < 0.5
    acc = M.accuracy(y, s)
    prepared = METRICS["accuracy"].prepare(_jet_input(("a", "b"), y, s), None)
    se = M.bootstrap_se(prepared, n, n_boot=400, seed=0)
    assert se == pytest.approx(np.sqrt(acc * (1 - acc) / n), rel=0.12)


def test_score_task_vertexing_and_trackid_on_random_batch():
    batch = random_batch(300, "btag", seed=5)
    rng = np.random.default_rng(5)
    vtx_targets = np.where(batch.mask, batch.vtx_id, -1)
    probs = _edges_from_clusters(vtx_targets)
    scores = score_task("vertexing", vtx_targets, probs, batch, n_boot=20)
    assert scores.metrics["ari"] == pytest.approx(1.0)
    assert scores.metrics["perfect_jet_fraction"] == pytest.approx(1.0)
    assert set(scores.binned) == {"ari@n_sv", "edge_ari@n_sv", "perfect_jet_fraction@n_sv",
                                  "edge_f1@n_sv", "ari@flavour", "edge_ari@flavour"}
    assert set(scores.binned["ari@flavour"]) == {"light", "c", "b"}
    assert scores.stderr["ari"] == pytest.approx(0.0)
    tt = np.where(batch.mask, batch.track_type, -1)
    p = np.stack([_probs(rng, 300, 4, np.maximum(tt[:, k], 0)) for k in range(15)], 1)
    sc = score_task("trackid", tt, p, batch, n_boot=20)
    valid = batch.mask
    assert sc.metrics["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(tt[valid], p[valid].argmax(-1)))
    assert set(sc.metrics) >= {"accuracy", "auc_primary", "auc_b"}
    assert 0 < sc.stderr["balanced_accuracy"] < 0.05
    assert "balanced_accuracy@n_tracks" in sc.binned


def test_score_task_jet_tasks_and_input_errors():
    rng = np.random.default_rng(6)
    batch = random_batch(400, "jetclass", seed=6)
    y = batch.labels.astype(int)
    s = _probs(rng, 400, 10, y)
    sc = score_task("jetclass", y, s, batch, n_boot=0)
    assert sc.metrics["accuracy"] == pytest.approx(accuracy_score(y, s.argmax(1)))
    assert "rej99.5_Tbl" in sc.metrics and "rej99_Hqql" in sc.metrics and sc.stderr == {}
    yb = rng.integers(0, 2, 400)
    sb = np.clip(yb * 0.3 + rng.random(400) * 0.7, 0, 1)
    cw = score_task(get_task("cwola"), yb, sb, batch, n_boot=10)
    assert cw.metrics["auc"] == pytest.approx(roc_auc_score(yb, sb))
    assert cw.metrics["sic"] > 0 and "auc" in cw.stderr  # the main score carries the SE
    with pytest.raises(JetbenchError, match="predictions have shape"):
        score_task("jetclass", y, s[:, :3], batch)
    bad = s.copy()
    bad[0, 0] = np.nan
    with pytest.raises(JetbenchError, match="NaN"):
        score_task("jetclass", y, bad, batch)
