"""Branch -> canonical conversion (hand-checked cases) and ROOT writing."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
from branch_factory import btag_branches, jetclass_branches

from jetbench.core.errors import JetbenchError
from jetbench.data import schemas
from jetbench.data.convert import btag_batch, hadron_flavour, jetclass_batch
from jetbench.data.rootio import write_root


def _jetclass(parts: list[list[dict]], labels: list[str], pt=600.0, eta=0.0, energy=None) -> dict:
    """Hand-made JetClass branches: one dict of particle fields per particle."""
    defaults = dict(px=10.0, py=0.0, pz=0.0, energy=10.0, deta=0.0, dphi=0.0, d0val=0.0,
                    d0err=0.0, dzval=0.0, dzerr=0.0, charge=0.0, isChargedHadron=0.0,
                    isNeutralHadron=0.0, isPhoton=0.0, isElectron=0.0, isMuon=0.0)
    b = {}
    for field in defaults:
        b[f"part_{field}"] = ak.Array([[float(p.get(field, defaults[field])) for p in jet]
                                       for jet in parts])
    n = len(parts)
    b.update(jet_pt=np.full(n, pt), jet_eta=np.full(n, eta), jet_phi=np.zeros(n),
             jet_energy=np.full(n, energy if energy is not None else pt * np.cosh(eta)),
             jet_nparticles=np.array([len(p) for p in parts], float))
    for name in schemas.JETCLASS_LABEL_BRANCHES:
        b[name] = np.array([name == f"label_{lab}" for lab in labels])
    return b


def test_jetclass_lifetime_signs_by_hand():
    # jet along phi=0; a track at dphi=+0.1 with d0=+0.5 has its PCA at (-0.05, 0.497):
    # behind the jet axis -> negative. z0 > 0 with the track below the jet in eta -> positive.
    parts = [[
        dict(px=40, charge=1, isChargedHadron=1, dphi=0.1, d0val=0.5, d0err=0.02, deta=-0.2,
             dzval=1.0, dzerr=0.03),
        dict(px=30, charge=-1, isChargedHadron=1, dphi=0.1, d0val=-0.5, deta=0.2, dzval=1.0),
        dict(px=20, charge=1, isChargedHadron=1, dphi=-0.1, d0val=0.5, deta=0.2, dzval=-1.0),
        dict(px=10, charge=0, isNeutralHadron=1, dphi=-0.1, d0val=0.5, d0err=0.1, dzval=2.0),
    ]]
    batch = jetclass_batch(_jetclass(parts, ["QCD"]))
    d0, d0err, z0, z0err = (batch.csts[0, :4, i] for i in (3, 4, 5, 6))
    np.testing.assert_allclose(d0, [-0.5, 0.5, 0.5, 0.0], rtol=1e-6)
    np.testing.assert_allclose(z0, [1.0, -1.0, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(d0err, [0.02, 0.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(z0err, [0.03, 0.0, 0.0, 0.0], rtol=1e-6)


def test_jetclass_classes_sort_mass_and_labels():
    kinds = [dict(isPhoton=1), dict(isChargedHadron=1, charge=-1), dict(isNeutralHadron=1),
             dict(isChargedHadron=1, charge=1), dict(isElectron=1, charge=-1),
             dict(isElectron=1, charge=1), dict(isMuon=1, charge=-1), dict(isMuon=1, charge=1)]
    # pT increasing with the class index, so the pT sort reverses the order
    parts = [[dict(k, px=3.0 * (i + 1), py=4.0 * (i + 1)) for i, k in enumerate(kinds)]] * 2
    b = _jetclass(parts, ["Tbqq", "Hbb"], pt=500.0, energy=float(np.hypot(500.0, 100.0)))
    b["jet_energy"][1] = 400.0  # E < |p|: unphysical mass^2 < 0 is clipped to 0
    batch = jetclass_batch(b)
    assert batch.csts_id[0, :8].tolist() == [7, 6, 5, 4, 3, 2, 1, 0]
    np.testing.assert_allclose(batch.csts[0, :8, 0], 5.0 * np.arange(8, 0, -1), rtol=1e-6)
    assert batch.mask[0].sum() == 8 and not batch.mask[0, 8:].any()
    np.testing.assert_allclose(batch.jets[:, 3], [100.0, 0.0], rtol=1e-4)
    assert batch.jets[0, 4] == 8 and batch.labels.tolist() == [8, 1]
    assert batch.csts.dtype == np.float32 and batch.csts.shape == (2, 128, 7)


def test_jetclass_label_errors():
    parts = [[dict(px=10.0)]] * 2
    b = _jetclass(parts, ["QCD", "QCD"])
    b["label_Hbb"] = np.array([False, True])
    with pytest.raises(JetbenchError, match="jet 1 has 2 label_"):
        jetclass_batch(b)
    b["label_QCD"] = np.array([False, False])
    b["label_Hbb"] = np.array([False, False])
    with pytest.raises(JetbenchError, match="jet 0 has no label_"):
        jetclass_batch(b)


def test_missing_branches_and_nan_are_named():
    b = jetclass_branches(5, seed=1)
    del b["part_dzerr"], b["label_Tbl"]
    with pytest.raises(JetbenchError, match="missing branches: part_dzerr, label_Tbl"):
        jetclass_batch(b, where="f.root")
    b = jetclass_branches(5, seed=1)
    px = ak.to_list(b["part_px"])
    px[3][1] = float("nan")
    b["part_px"] = ak.Array(px)
    with pytest.raises(JetbenchError, match=r"f.root: .*'part_px' of jet 13"):
        jetclass_batch(b, where="f.root", first_jet=10)
    b = btag_branches(4, seed=1)
    b["jet_M"] = np.array([1.0, 2.0, np.inf, 3.0])
    with pytest.raises(JetbenchError, match="'jet_M' of jet 2"):
        btag_batch(b)


def test_hadron_flavour_from_pdg_digits():
    ids = [521, -511, 5122, 10513, 553, 421, -411, 4122, 443, 211, 2212, 11, 5, 4]
    assert hadron_flavour(np.array(ids)).tolist() == [5, 5, 5, 5, 5, 4, 4, 4, 4, 2, 2, 0, 0, 0]


def _btag(tracks: list[list[dict]], hadrons: list[list[tuple[int, float]]], flav: list[int]):
    defaults = dict(pt=5.0, eta=0.0, phi=0.0, d0=0.0, d0err=0.01, z0=0.0, z0err=0.01, charge=1,
                    vtx_index=0, pdg_id=211, prod_z=0.0)
    b = {f"trk_{k}": ak.Array([[t.get(k, v) for t in jet] for jet in tracks])
         for k, v in defaults.items()}
    b["hadron_pdgid"] = ak.Array([[h[0] for h in jet] for jet in hadrons])
    b["hadron_z"] = ak.Array([[float(h[1]) for h in jet] for jet in hadrons])
    n = len(tracks)
    b.update(jet_pt=np.full(n, 50.0), jet_eta=np.zeros(n), jet_phi=np.full(n, -3.1),
             jet_M=np.full(n, 8.0), n_trks=np.array([len(t) for t in tracks]),
             jet_flav=np.array(flav))
    return b


def test_btag_track_types_classes_and_labels():
    tracks = [
        [dict(pt=9, prod_z=0.0), dict(pt=8, prod_z=2.0, vtx_index=1),
         dict(pt=7, prod_z=5.0, vtx_index=2), dict(pt=6, prod_z=3.0, vtx_index=3),
         dict(pt=5, prod_z=100.000003, vtx_index=4)],  # float32 neighbour of 100: relative match
        [dict(pt=4, prod_z=2.0, charge=-1, pdg_id=11), dict(pt=3, prod_z=1e-7, pdg_id=-11),
         dict(pt=2, charge=-1, pdg_id=13), dict(pt=1, pdg_id=-13), dict(pt=0.5, charge=-1)],
    ]
    hadrons = [[(521, 2.0), (421, 5.0), (4122, 100.0)], []]
    batch = btag_batch(_btag(tracks, hadrons, [5, 0]))
    assert batch.track_type[0, :6].tolist() == [0, 2, 1, 3, 1, -1]
    assert batch.track_type[1, :5].tolist() == [3, 0, 0, 0, 0]  # no hadrons in jet 1
    assert batch.vtx_id[0, :6].tolist() == [0, 1, 2, 3, 4, -1]
    assert batch.csts_id[1, :5].tolist() == [4, 5, 6, 7, 1]
    assert batch.labels.tolist() == [2, 0]
    assert batch.csts.shape == (2, 15, 7) and batch.jets[0, 4] == 5


def test_btag_unsorted_tracks_wrap_and_signs():
    # jet at phi=-3.1, track at phi=3.1: dphi wraps to 6.2 - 2 pi = -0.0832
    tracks = [[dict(pt=1, phi=3.1, d0=0.3, z0=0.4, eta=-0.1, vtx_index=0),
               dict(pt=7, phi=-3.0, d0=0.3, z0=0.4, eta=0.1, vtx_index=1, prod_z=4.0)]]
    batch = btag_batch(_btag(tracks, [[(-511, 4.0)]], [4]))
    assert batch.vtx_id[0, :2].tolist() == [1, 0] and batch.track_type[0, :2].tolist() == [2, 0]
    np.testing.assert_allclose(batch.csts[0, :2, 2], [0.1, 6.2 - 2 * np.pi], rtol=1e-5)
    # d0 > 0 with dphi > 0 -> negative; with dphi < 0 -> positive. z0 > 0 and deta > 0 -> negative
    np.testing.assert_allclose(batch.csts[0, :2, 3], [-0.3, 0.3], rtol=1e-6)
    np.testing.assert_allclose(batch.csts[0, :2, 5], [-0.4, 0.4], rtol=1e-6)
    assert batch.labels.tolist() == [1]


def test_btag_bad_flavour_and_ragged_branches():
    b = _btag([[dict()]], [[]], [15])
    with pytest.raises(JetbenchError, match="jet_flav 15"):
        btag_batch(b)
    b = _btag([[dict(), dict()]], [[]], [0])
    b["trk_d0"] = ak.Array([[0.1]])
    with pytest.raises(JetbenchError, match="'trk_d0' has different list lengths"):
        btag_batch(b)


def test_truncation_keeps_highest_pt_tracks():
    b = btag_branches(200, seed=3)
    batch = btag_batch(b)
    pts = ak.sort(b["trk_pt"], ascending=False)
    top = ak.to_numpy(ak.fill_none(ak.pad_none(pts, 15, clip=True), 0.0)).astype(np.float32)
    np.testing.assert_array_equal(batch.csts[..., 0], top)
    assert (batch.mask.sum(1) == np.minimum(b["n_trks"], 15)).all()


@pytest.mark.parametrize("dataset", ["jetclass", "btag"])
def test_write_root_is_a_ttree_and_round_trips(tmp_path, dataset):
    make, convert = {"jetclass": (jetclass_branches, jetclass_batch),
                     "btag": (btag_branches, btag_batch)}[dataset]
    branches = make(300, seed=5)
    out = write_root(tmp_path / "x.root", branches, dataset, chunk=128)
    assert [p.name for p in tmp_path.iterdir()] == ["x.root"]
    with uproot.open(out) as f:
        assert f.classnames() == {"tree;1": "TTree"}
        tree = f["tree"]
        assert tree.num_entries == 300
        assert tree["jet_pt"].num_baskets == 3  # written in chunks of 128 jets
        names = list(branches)
        read = tree.arrays(names, library="ak")
    got = convert({k: read[k] for k in names})
    want = convert(branches)
    for key, a in want.arrays().items():
        np.testing.assert_array_equal(got.arrays()[key], a, err_msg=key)


def test_write_root_refuses_missing_branches(tmp_path):
    b = btag_branches(3)
    del b["trk_prod_z"]
    with pytest.raises(JetbenchError, match="missing branches: trk_prod_z"):
        write_root(tmp_path / "x.root", b, "btag")
    assert list(tmp_path.iterdir()) == []


def test_root_writer_appends_in_pieces(tmp_path):
    from jetbench.data.rootio import RootWriter

    parts = [jetclass_branches(70, seed=s) for s in (1, 2)]
    with RootWriter(tmp_path / "w.root", "jetclass") as w:
        for p in parts:
            w.append(p, chunk=50)
    with uproot.open(tmp_path / "w.root") as f:
        read = f["tree"].arrays(list(parts[0]), library="ak")
        assert f["tree"]["jet_pt"].num_baskets == 4
    got = jetclass_batch({k: read[k] for k in parts[0]})
    want = [jetclass_batch(p) for p in parts]
    np.testing.assert_array_equal(got.csts, np.concatenate([w.csts for w in want]))
    empty = RootWriter(tmp_path / "e.root", "btag")
    with pytest.raises(JetbenchError, match="no jets to write"):
        empty.close()
    assert not (tmp_path / "e.root").exists() and len(list(tmp_path.iterdir())) == 1
