"""Streaming readers: ROOT (both schemas), paper-2 HDF5, our store; format detection; bad files."""

from __future__ import annotations

import json

import awkward as ak
import h5py
import numpy as np
import pytest
from branch_factory import btag_branches, jetclass_branches
from conftest import random_batch

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import sha256_file
from jetbench.data.convert import batch_from_branches
from jetbench.data.format import JetBatch
from jetbench.data.paper_h5 import JETCLASS_LABEL_MAP
from jetbench.data.readers import convert_file, file_format, read_any
from jetbench.data.rootio import write_root
from jetbench.data.store import JetStore, verify_store, write_store

MAKERS = {"jetclass": jetclass_branches, "btag": btag_branches}


def _equal(a: JetBatch, b: JetBatch) -> None:
    assert a.arrays().keys() == b.arrays().keys()
    for key, x in a.arrays().items():
        assert x.dtype == b.arrays()[key].dtype, key
        np.testing.assert_array_equal(x, b.arrays()[key], err_msg=key)


@pytest.mark.parametrize("dataset", ["jetclass", "btag"])
def test_root_round_trip_streams_over_files_and_chunks(tmp_path, dataset):
    parts = [MAKERS[dataset](150, seed=s, **({"sort": False} if s else {})) for s in (0, 1)]
    for i, b in enumerate(parts):
        write_root(tmp_path / f"part{i}.root", b, dataset, chunk=64)
    batches = list(read_any(str(tmp_path / "part*.root"), chunk=40))
    assert [len(b) for b in batches] == [40, 40, 40, 30] * 2  # never more than a step in memory
    got = JetBatch.concat(batches)
    want = JetBatch.concat([batch_from_branches(b, dataset) for b in parts])
    _equal(got, want)
    assert file_format(tmp_path / "part0.root") == "root"


def test_root_dataset_inference_and_mismatch(tmp_path):
    write_root(tmp_path / "j.root", jetclass_branches(20), "jetclass")
    assert len(next(read_any(tmp_path / "j.root"))) == 20
    with pytest.raises(JetbenchError, match=r"j.root: missing branches for btag: trk_pt, trk_eta"):
        next(read_any(tmp_path / "j.root", dataset="btag"))
    with pytest.raises(JetbenchError, match="unknown dataset 'jetclas'.*did you mean 'jetclass'"):
        next(read_any(tmp_path / "j.root", dataset="jetclas"))


def test_root_nan_names_file_branch_and_global_jet(tmp_path):
    b = btag_branches(100, seed=2)
    z0 = ak.to_list(b["trk_z0"])
    z0[73][0] = float("nan")
    b["trk_z0"] = ak.Array(z0)
    write_root(tmp_path / "n.root", b, "btag")
    with pytest.raises(JetbenchError, match=r"n.root: non-finite .* 'trk_z0' of jet 73"):
        list(read_any(tmp_path / "n.root", chunk=30))


def _paper_file(path, batch: JetBatch, dataset: str, seed: int = 0) -> None:
    """Write `batch` in the paper-2 layout: unsorted slots, int64 ids, jetssl label order, ..."""
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random(batch.mask.shape), axis=1)
    take = lambda a: np.take_along_axis(a, perm, axis=1)  # noqa: E731
    with h5py.File(path, "w") as f:
        f["csts"] = np.take_along_axis(batch.csts, perm[..., None], axis=1)
        f["csts_id"] = take(batch.csts_id).astype(np.int64)
        f["mask"] = take(batch.mask)
        f["jets"] = batch.jets.astype(np.float64)
        labels = batch.labels.astype(np.int64)
        if dataset == "jetclass":
            labels = np.argsort(JETCLASS_LABEL_MAP)[labels]
        f["labels"] = labels
        if batch.vtx_id is not None:
            f["vtx_id"] = take(np.where(batch.mask, batch.vtx_id, 0)).astype(np.int64)
            f["track_type"] = take(batch.track_type).astype(np.int64)
            f["vtx_pos"] = rng.normal(size=(len(batch), 4, 4))


@pytest.mark.parametrize("dataset", ["jetclass", "btag"])
def test_paper_h5_layout_maps_to_canonical(tmp_path, dataset):
    batch = random_batch(90, dataset, seed=4)
    _paper_file(tmp_path / "p.h5", batch, dataset)
    assert file_format(tmp_path / "p.h5") == "paper_h5"
    batches = list(read_any(tmp_path / "p.h5", chunk=25))
    assert [len(b) for b in batches] == [25, 25, 25, 15]
    _equal(JetBatch.concat(batches), batch)


def test_paper_jetclass_label_order():
    # jetssl order index 1 is Tbl, ours index 9; index 5 is Hbb, ours 1
    assert JETCLASS_LABEL_MAP[[0, 1, 2, 5, 9]].tolist() == [0, 9, 8, 1, 5]


def test_paper_h5_wider_slots_are_truncated_by_pt(tmp_path):
    batch = random_batch(10, "btag", seed=5)
    wide = JetBatch(**{k: np.concatenate([v, v[:, :5]], axis=1) if v.ndim >= 2 and k != "jets"
                       else v for k, v in batch.arrays().items()})
    wide.csts[:, 15:, 0] = 1e4  # five extra hardest tracks
    wide.mask[:, 15:] = True
    _paper_file(tmp_path / "w.h5", wide, "btag")
    got = next(read_any(tmp_path / "w.h5"))
    assert got.csts.shape == (10, 15, 7) and (got.csts[:, :5, 0] == 1e4).all()


def test_store_is_read_and_dataset_checked(tmp_path):
    batch = random_batch(50, "btag", seed=6)
    write_store(tmp_path / "s.h5", batch, "btag")
    assert file_format(tmp_path / "s.h5") == "store"
    _equal(JetBatch.concat(list(read_any(tmp_path / "s.h5", chunk=20))), batch)
    with pytest.raises(JetbenchError, match="holds dataset 'btag', not 'jetclass'"):
        next(read_any(tmp_path / "s.h5", dataset="jetclass"))


def test_convert_file_records_sources_and_matches(tmp_path):
    b = btag_branches(120, seed=7)
    src = write_root(tmp_path / "in.root", b, "btag")
    out = convert_file(src, None, tmp_path / "out.h5")
    with JetStore(out) as store:
        assert store.dataset == "btag" and len(store) == 120
        assert store.metadata["source_files"] == [{"name": "in.root", "sha256": sha256_file(src)}]
        assert store.metadata["source_format"] == "root"
        _equal(store.read(), batch_from_branches(b, "btag"))
    verify_store(out)


def test_failed_conversion_leaves_nothing(tmp_path):
    b = jetclass_branches(60, seed=8)
    b["jet_eta"] = np.where(np.arange(60) == 55, np.inf, b["jet_eta"])
    src = write_root(tmp_path / "in.root", b, "jetclass")
    with pytest.raises(JetbenchError, match="'jet_eta' of jet 55"):
        convert_file(src, "jetclass", tmp_path / "out.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.root"]


def test_truncated_and_corrupt_files(tmp_path):
    src = write_root(tmp_path / "ok.root", jetclass_branches(300, seed=9), "jetclass", chunk=100)
    data = src.read_bytes()
    (tmp_path / "trunc.root").write_bytes(data[: len(data) // 2])
    with pytest.raises(JetbenchError, match=r"trunc.root: corrupt or truncated ROOT file"):
        list(read_any(tmp_path / "trunc.root"))
    garbled = bytearray(data)
    garbled[len(data) // 3: len(data) // 3 + 4096] = bytes(4096)  # zero a stretch of baskets
    (tmp_path / "bad.root").write_bytes(bytes(garbled))
    with pytest.raises(JetbenchError, match=r"bad.root: corrupt or truncated ROOT file"):
        list(read_any(tmp_path / "bad.root"))
    write_store(tmp_path / "s.h5", random_batch(2000, "jetclass"), "jetclass")
    h5 = (tmp_path / "s.h5").read_bytes()
    (tmp_path / "t.h5").write_bytes(h5[: len(h5) // 2])
    with pytest.raises(JetbenchError, match=r"t.h5: .*HDF5"):
        list(read_any(tmp_path / "t.h5"))
    (tmp_path / "x.txt").write_text(json.dumps({"not": "data"}))
    with pytest.raises(JetbenchError, match="x.txt: not a ROOT or HDF5 file"):
        list(read_any(tmp_path / "x.txt"))
    with pytest.raises(JetbenchError, match="no files match"):
        list(read_any(str(tmp_path / "nothing*.root")))
