"""Unit tests of the generator's parts that need no Pythia events: detector model, clustering
(against FastJet's public awkward API), vertex-z separation, shard planning and seeds."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetbench.data.convert import track_origin
from jetbench.generate import detector as det
from jetbench.generate.btag import _separate_z
from jetbench.generate.clustering import antikt, substructure
from jetbench.generate.processes import PROFILES, derive_seed
from jetbench.generate.shards import plan


def _particles(n, seed=0, spread=1.5):
    rng = np.random.default_rng(seed)
    pt = rng.exponential(5, n) + 0.6
    eta = rng.normal(0, spread, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    return np.column_stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta),
                            pt * np.cosh(eta)])


def test_antikt_and_substructure_match_fastjet_public_api():
    import fastjet

    counts = np.array([300, 0, 400, 1])
    p4 = _particles(counts.sum())
    jets = antikt(p4, counts, 0.8, 10.0)
    events = ak.unflatten(ak.zip({k: p4[:, i] for i, k in enumerate(("px", "py", "pz", "E"))}),
                          counts)
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8))
    ref_px = ak.to_numpy(ak.flatten(cs.inclusive_jets(10.0).px))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ref = [np.asarray(c) + starts[e] for e, ev in enumerate(cs.constituent_index(10.0).to_list())
           for c in ev]
    assert np.allclose(jets.p4[:, 0], ref_px) and len(ref) == len(jets.event) > 5
    assert all(np.array_equal(a, b) for a, b in zip(jets.constituents.to_list(), ref,
                                                    strict=True))
    flat = np.concatenate(ref)
    sizes = np.array([len(r) for r in ref])
    sub = substructure(p4[flat], sizes)
    per_jet = ak.unflatten(ak.zip({k: p4[flat, i] for i, k in enumerate(("px", "py", "pz", "E"))}),
                           sizes)
    cs2 = fastjet.ClusterSequence(per_jet, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.))
    sd = cs2.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=0.8)
    assert np.allclose(sub["sdmass"], ak.to_numpy(sd.msoftdrop))
    taus = ak.to_numpy(cs2.njettiness(njets=[1, 2, 3, 4], beta=1.0, R0=0.8))
    assert np.allclose(np.column_stack([sub[f"tau{i}"] for i in range(1, 5)]), taus)


def _reco(p4, pid, charge, vertex=None, seed=0, model=None):
    n = len(pid)
    vertex = np.zeros((n, 3)) if vertex is None else vertex
    model = model or det.DetectorModel()
    return model.apply(p4, vertex, np.asarray(pid), np.asarray(charge, float),
                       np.zeros(n, np.int64), np.random.default_rng(seed))


def test_detector_tracks_resolutions_and_acceptance():
    p4 = np.array([[10.0, 0, 0, 10.01], [0, 20.0, 5, 20.7], [0.3, 0, 0, 0.33],
                   [10, 0, 200, 200.3], [0, -5, 1, 5.2], [5, 0, 0, 5.0]])
    pid = [211, -211, 211, 211, 14, 13]
    charge = [1, -1, 1, 1, 0, -1]
    model = det.DetectorModel(track_eff_soft=1.0, track_eff_hard=1.0)
    a, b, c = (_reco(p4, pid, charge, seed=s, model=model) for s in (1, 1, 2))
    assert np.array_equal(a.p4, b.p4) and not np.array_equal(a.p4, c.p4)  # seeded
    # kept: the two pions and the muon as tracks. Lost: the 0.3 GeV pion (below the tracking
    # threshold, under the HCAL threshold), the pion at |eta| 3.7 (outside), the neutrino
    assert sorted(a.source.tolist()) == [0, 1, 5]
    assert a.is_track.all()
    assert a.kind[a.source == 5][0] == det.MUON and a.kind[a.source == 0][0] == det.CHARGED_HADRON
    true_pt = np.hypot(p4[a.source, 0], p4[a.source, 1])
    assert np.allclose(a.d0_err, model.d0_sigma(true_pt))
    assert np.allclose(a.z0_err, model.z0_sigma(true_pt))
    assert np.allclose(np.hypot(a.p4[:, 0], a.p4[:, 1]) / true_pt, 1, atol=0.05)
    assert np.array_equal(a.charge, np.asarray(charge, float)[a.source])


def test_detector_efficiency_d0_and_radius_cuts():
    n = 20000
    rng = np.random.default_rng(5)
    p4 = _particles(n, seed=1, spread=0.8)
    pid = np.full(n, 211)
    vertex = np.zeros((n, 3))
    far = rng.random(n) < 0.5
    vertex[far, 0] = 150.0  # beyond the 100 mm tracking radius
    reco = _reco(p4, pid, np.ones(n), vertex, seed=3)
    tracked = np.zeros(n, bool)
    tracked[reco.source[reco.is_track]] = True
    pt = np.hypot(p4[:, 0], p4[:, 1])
    near_hard = ~far & (pt > 1.0) & (np.abs(np.arcsinh(p4[:, 2] / pt)) < 2.5)
    assert not tracked[far].any()
    assert abs(tracked[near_hard].mean() - 0.95) < 0.01
    # measured d0 of prompt tracks: pull N(0, 1)
    pull = reco.d0[reco.is_track] / reco.d0_err[reco.is_track]
    assert abs(pull.std() - 1) < 0.03 and abs(pull.mean()) < 0.03


def test_calorimeter_cells_merge_and_smear():
    # two photons 0.005 apart (same ECAL cell) and one 0.5 away; a neutron in the HCAL
    def photon(e, eta, phi):
        pt = e / np.cosh(eta)
        return [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e]

    p4 = np.array([photon(20, 0.101, 0.101), photon(10, 0.104, 0.104), photon(15, 0.6, 0.1),
                   [0, 0, 30, np.hypot(30, 0.94)]])
    reco = _reco(p4, [22, 22, 22, 2112], [0, 0, 0, 0], seed=4)
    kinds = sorted(reco.kind.tolist())
    assert kinds == [det.PHOTON, det.PHOTON]  # the neutron at eta ~ inf is outside
    energies = sorted(reco.p4[:, 3])
    assert abs(energies[0] - 15) < 2 and abs(energies[1] - 30) < 3
    assert np.allclose(np.linalg.norm(reco.p4[:, :3], axis=1), reco.p4[:, 3])  # massless


def test_separate_z_keeps_the_paper_rule_exact():
    z = [0.0, 5e-7, -2e-7, 3.0, 3.0 + 1e-6, 3.0 + 2e-6, -1.5, 12.25]
    out = _separate_z(z)
    assert np.all(np.abs(out) >= 3e-6)
    order = np.sort(out)
    tol = np.maximum(1e-6, 1e-6 * np.abs(order[1:]))
    assert np.all(np.diff(order) > 2 * tol)
    assert max(abs(a - b) for a, b in zip(out, z, strict=True)) < 1e-4  # nanometre nudges
    assert _separate_z([1.0, 2.0, -3.0]) == [1.0, 2.0, -3.0]
    # the reader's rule on the separated values: each vertex matches only its own hadron
    prod = np.float32([0.0, out[3], out[4], out[6]])
    had_z = np.float32([out[3], out[4], out[6]])
    types = track_origin(prod, np.zeros(4, np.int64), np.array([3]), had_z,
                         np.array([511, 411, 310]))
    assert types.tolist() == [0, 2, 1, 3]


def test_plan_splits_evenly_with_distinct_seeds():
    tasks = plan("jetclass", 1003, 9, list(PROFILES["jetclass"].class_sources))
    per_class = {}
    for t in tasks:
        per_class[t.klass] = per_class.get(t.klass, 0) + t.n_jets
        assert 1 <= t.n_jets <= PROFILES["jetclass"].shard_jets
    assert sorted(per_class.values()) == [100] * 7 + [101] * 3
    assert per_class["QCD"] == 101
    seeds = [t.shard_seed for t in tasks]
    assert len(set(seeds)) == len(seeds) and all(1 <= s <= 900_000_000 for s in seeds)
    hqql = [t.source for t in tasks if t.klass == "Hqql"]
    assert hqql[:2] == ["zh_wwlnuqq_plus", "zh_wwlnuqq_minus"]
    assert derive_seed(1, "a") == derive_seed(1, "a") != derive_seed(2, "a")


@pytest.mark.parametrize("source", ["zh_wwlnuqq_plus", "tt_leptonic", "z_parton"])
def test_sources_are_accepted_by_pythia(source):
    from jetbench.generate.pythia_source import PythiaSource

    src = PythiaSource(source, 12345)
    record = src.next_event()
    assert len(record) > 100
