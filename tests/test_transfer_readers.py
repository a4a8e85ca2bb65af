"""Top Tagging (pandas HDF5 table) and Quark-Gluon (npz) readers: stand-in files with the real
names and schemas read back exactly as the in-memory conversion, streamed; physics of the
4-vector conversion; bad files are one line."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from transfer_factory import quarkgluon_branches, toptag_branches

from jetbench.core.errors import JetbenchError
from jetbench.data.convert import batch_from_branches
from jetbench.data.format import JetBatch, dataset_info
from jetbench.data.fourvectors import pdg_class
from jetbench.data.quarkgluon import write_quarkgluon_npz
from jetbench.data.readers import convert_file, file_format, read_any
from jetbench.data.store import JetStore, verify_store
from jetbench.data.toptag import particle_columns, write_toptag_h5

WRITERS = {"toptag": (toptag_branches, write_toptag_h5, "train.h5"),
           "quarkgluon": (quarkgluon_branches, write_quarkgluon_npz, "QG_jets.npz")}


def _equal(a: JetBatch, b: JetBatch) -> None:
    assert a.arrays().keys() == b.arrays().keys() and a.features_present == b.features_present
    for key, x in a.arrays().items():
        np.testing.assert_array_equal(x, b.arrays()[key], err_msg=key)


@pytest.mark.parametrize("dataset", ["toptag", "quarkgluon"])
def test_file_reads_back_as_in_memory_conversion_in_chunks(tmp_path, dataset):
    make, write, name = WRITERS[dataset]
    branches = make(230, seed=1)
    path = write(tmp_path / name, branches)
    assert file_format(path) == f"{dataset}_{'h5' if dataset == 'toptag' else 'npz'}"
    batches = list(read_any(path, chunk=100))
    assert [len(b) for b in batches] == [100, 100, 30]
    got = JetBatch.concat(batches)
    _equal(got, batch_from_branches(branches, dataset))
    info = dataset_info(dataset)
    assert got.n_slots == info.n_slots and got.features_present == info.features_present
    np.testing.assert_array_equal(got.labels, np.asarray(branches[
        "is_signal_new" if dataset == "toptag" else "y"]))
    # multiplicity column counts every constituent; the mask keeps at most n_slots
    counts = np.asarray([len(x) for x in branches[next(iter(branches))]])
    np.testing.assert_array_equal(got.jets[:, 4], counts)
    np.testing.assert_array_equal(got.mask.sum(axis=1), np.minimum(counts, info.n_slots))
    store = convert_file(path, None, tmp_path / "s.h5")
    with JetStore(store) as s:
        assert s.dataset == dataset and s.features_present == info.features_present
        _equal(s.read(), got)
    verify_store(store)


def test_toptag_layout_and_jet_kinematics(tmp_path):
    b = toptag_branches(40, seed=2)
    path = write_toptag_h5(tmp_path / "val.h5", b)
    with h5py.File(path) as f:
        g = f["table"]
        names = [x.decode() for x in g["axis0"][()]]
        assert names[:8] == ["E_0", "PX_0", "PY_0", "PZ_0", "E_1", "PX_1", "PY_1", "PZ_1"]
        assert names[-6:] == ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]
        assert g["block0_values"].shape == (40, 804) and g["block0_values"].dtype == np.float32
        assert g["block1_values"].dtype == np.int64
    batch = JetBatch.concat(list(read_any(path)))
    # jet = sum of the constituent 4-vectors
    px, py, pz, e = (np.array([float(np.sum(np.asarray(b[k][i], np.float64))) for i in range(40)])
                     for k in ("part_px", "part_py", "part_pz", "part_energy"))
    np.testing.assert_allclose(batch.jets[:, 0], np.hypot(px, py), rtol=1e-5)
    np.testing.assert_allclose(batch.jets[:, 3], np.sqrt(e**2 - px**2 - py**2 - pz**2), rtol=1e-3)
    # features relative to the axis; ids and impact parameters neutral and masked
    c = batch.csts[batch.mask]
    assert np.abs(c[:, 1]).max() < 2 and np.abs(c[:, 2]).max() < 2 and (c[:, 3:] == 0).all()
    assert (batch.csts_id[batch.mask] == 2).all()
    assert batch.feature_mask.tolist() == [True, True, True, False, False, False, False, False]
    assert (np.diff(np.where(batch.mask, batch.csts[..., 0], -1), axis=1) <= 0).all()


def test_pdg_ids_map_to_canonical_classes():
    # PDG: 11 is the electron (negative), -11 the positron; 211 pi+ positive
    pid = np.array([22, 11, -11, 13, -13, 211, -211, 2212, -2212, 2112, 130, 321, 999999])
    want = ["photon", "e-", "e+", "mu-", "mu+", "h+", "h-", "h+", "h-", "h0", "h0", "h+", "h0"]
    from jetbench.data.format import CST_IDS

    assert [CST_IDS[i] for i in pdg_class(pid)] == want


def test_bad_transfer_files_are_one_line(tmp_path):
    b = toptag_branches(30, seed=3)
    path = write_toptag_h5(tmp_path / "test.h5", b)
    with h5py.File(path, "r+") as f:
        v = f["table"]["block1_values"][()]
        v[7, 1] = 3
        f["table"]["block1_values"][...] = v
    with pytest.raises(JetbenchError, match=r"test.h5: jet 7 has is_signal_new = 3"):
        list(read_any(path))
    with h5py.File(path, "r+") as f:
        del f["table"]["block1_values"], f["table"]["block1_items"]
    with pytest.raises(JetbenchError, match="lacks columns is_signal_new"):
        list(read_any(path))
    q = write_quarkgluon_npz(tmp_path / "QG_jets_1.npz", quarkgluon_branches(50, seed=4))
    raw = q.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(JetbenchError, match="cut.npz: corrupt or truncated Quark-Gluon file"):
        list(read_any(tmp_path / "cut.npz"))
    with pytest.raises(JetbenchError, match="dataset 'jetclass' is stored as jetclass_root"):
        list(read_any(q, dataset="jetclass"))


def test_particle_columns_cover_200_constituents():
    cols = particle_columns()
    assert len(cols) == 800 and cols[-1] == "PZ_199"
