"""Paper-scale splits on stand-in download folders: the real datasets' file names and schemas
(JetClass ROOT in extracted tarballs, BTag ROOT, Top Tagging HDF5 tables, Quark-Gluon npz),
read in place through the task definitions — disjoint splits, the right counts, no converted
copy — and a file whose checksum does not match refused with one line."""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest

from jetbench.core.errors import JetbenchError
from jetbench.data import definitions
from jetbench.data.download import extract_archive, read_record, record_sums
from jetbench.data.fileset import FileSet, is_fileset, open_jets
from jetbench.data.quarkgluon import write_quarkgluon_npz
from jetbench.data.rootio import write_root
from jetbench.data.schemas import JETCLASS_LABEL_BRANCHES
from jetbench.data.toptag import write_toptag_h5
from jetbench.datasets import jet_identities, pretrain_split
from jetbench.tasks import budget_indices, cwola_layout, get_task, manifest_hash, task_split
from tests.branch_factory import btag_branches, jetclass_branches
from tests.transfer_factory import quarkgluon_branches, toptag_branches

N = 24  # jets per stand-in file
N_TTBAR_VAL = 60  # TTBar_001: the cwola val split reads its first 50 jets
SPLITS = ("train", "val", "test")
# JetClass file prefix -> label (particle_transformer's file names)
JETCLASS = {"ZJetsToNuNu": "QCD", "HToBB": "Hbb", "HToCC": "Hcc", "HToGG": "Hgg",
            "HToWW4Q": "H4q", "HToWW2Q1L": "Hqql", "ZToQQ": "Zqq", "WToQQ": "Wqq",
            "TTBar": "Tbqq", "TTBarLep": "Tbl"}
FEW = ("ZJetsToNuNu", "TTBar", "HToBB")  # classes of the val/test stand-ins


def _jetclass_file(path: Path, prefix: str, n: int, seed: int) -> None:
    b = jetclass_branches(n, seed, mean_parts=12)
    label = list(JETCLASS.values()).index(JETCLASS[prefix])
    for i, name in enumerate(JETCLASS_LABEL_BRANCHES):
        b[name] = np.full(n, i == label)
    write_root(path, b, "jetclass")


def _tar(staging: Path, out: Path) -> Path:
    with tarfile.open(out, "w") as tar:
        for p in sorted(staging.rglob("*.root")):
            tar.add(p, arcname=p.relative_to(staging).as_posix())
    return out


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("real")
    # JetClass: tarballs unpacked by `jetbench data download jetclass --extract` (extract_archive)
    jc, stage = root / "jetclass", tmp_path_factory.mktemp("stage")
    seed = 0
    files = {"JetClass_Pythia_train_100M_part0": [("train_100M", p, "000", N) for p in FEW]
             + [("train_100M", "ZJetsToNuNu", "001", N), ("train_100M", "ZJetsToNuNu", "010", N),
                ("train_100M", "TTBar", "001", N_TTBAR_VAL)],
             "JetClass_Pythia_val_5M": [("val_5M", p, "120", N) for p in FEW],
             "JetClass_Pythia_test_20M": [("test_20M", p, "100", N) for p in FEW]}
    jc.mkdir()
    for tar_name, entries in files.items():
        for folder, prefix, num, n in entries:
            seed += 1
            _jetclass_file(stage / tar_name / folder / f"{prefix}_{num}.root", prefix, n, seed)
        extract_archive(_tar(stage / tar_name, jc / f"{tar_name}.tar"), jc)
    # BTag: ROOT files as fetched by `jetbench data download btag` (sha256 recorded)
    bt = root / "btag"
    for i, name in enumerate(("train_0.root", "train_1.root", "train_small.root",
                              "validate.root", "test.root")):
        write_root(bt / name, btag_branches(N, 100 + i), "btag")
    record_sums(bt, {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in bt.glob("*.root")})
    # Top Tagging: the three pandas tables (PyTables layout, as the published files; one in
    # pandas' fixed layout, which is read too); Quark-Gluon: the 20 npz files
    for i, name in enumerate(("train.h5", "val.h5", "test.h5")):
        write_toptag_h5(root / "toptag" / name, toptag_branches(N, 200 + i, max_parts=30),
                        layout="fixed" if name == "val.h5" else "table")
    for i in range(20):
        name = "QG_jets.npz" if i == 0 else f"QG_jets_{i}.npz"
        write_quarkgluon_npz(root / "quarkgluon" / name, quarkgluon_branches(N, 300 + i, 30))
    return root


@pytest.fixture
def env(real, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JETBENCH_REAL_DATA", str(real))
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "data"))
    return real


def _pin(monkeypatch, dataset: str, folder: Path) -> None:
    """Pin the stand-ins' checksums in place of the published ones (as if they were the real
    files), keeping the kind of pin the definition has (sha256 for Quark-Gluon, md5 for Top
    Tagging)."""
    info = definitions.DATASETS[dataset]
    pins = []
    for f in info.files:
        p = folder / f.name
        data = p.read_bytes() if p.exists() else b""
        pins.append(dataclasses.replace(
            f, size=None, md5=hashlib.md5(data).hexdigest() if f.md5 else None,
            sha256=hashlib.sha256(data).hexdigest() if f.sha256 else None))
    monkeypatch.setitem(definitions.DATASETS, dataset, dataclasses.replace(info, files=tuple(pins)))


def _sizes(task: str) -> dict[str, int]:
    out = {}
    for split in SPLITS:
        path = task_split(task, split, "paper")
        assert is_fileset(path), path
        with open_jets(path) as jets:
            out[split] = len(jets)
    return out


def _disjoint_by_content(task: str) -> None:
    ids = {s: set(jet_identities(task_split(task, s, "paper")).tolist()) for s in SPLITS}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]


def _no_copy(data: Path) -> None:
    """Nothing converted: no store under the data cache except indexes and check stamps."""
    assert not list(data.rglob("*.h5")), list(data.rglob("*.h5"))


def test_jetclass_and_cwola_read_the_extracted_tarballs(env, tmp_path):
    assert any(k.endswith("train_100M/HToBB_000.root") for k in read_record(env / "jetclass"))
    assert _sizes("jetclass") == {"train": 5 * N + N_TTBAR_VAL, "val": 3 * N, "test": 3 * N}
    with open_jets(task_split("jetclass", "train", "paper")) as train:
        labels = train.read_labels()
        assert np.bincount(labels, minlength=10)[[0, 1, 8]].tolist() == [3 * N, N,
                                                                          N + N_TTBAR_VAL]
        assert len(train.segments) == 6 and train.read().n_slots == 128
    pre = pretrain_split("paper")
    assert FileSet.load(pre).content_hash == FileSet.load(task_split("jetclass", "train",
                                                                     "paper")).content_hash
    manifest_hash("jetclass", "paper")  # checks the splits are disjoint (file segments)
    _disjoint_by_content("jetclass")
    # CWoLa: QCD = ZJetsToNuNu_00[0-9] (2 stand-in files), Tbqq = TTBar_000, val TTBar_001[:50]
    assert _sizes("cwola") == {"train": 3 * N, "val": N + 50, "test": 2 * N}
    train = task_split("cwola", "train", "paper")
    layout = cwola_layout(train)
    assert layout == {"n_background": 2 * N, "n_signal": N, "n_background_mixture1": N}
    with open_jets(train) as jets:
        lab = jets.read_labels()
        assert (lab[:2 * N] == 8).sum() == N and (lab[2 * N:] == 8).all()  # half QCD -> mixture 1
        np.testing.assert_array_equal(jets[np.arange(len(jets))].labels, lab)
    with open_jets(task_split("cwola", "test", "paper")) as test:  # true labels
        assert sorted(np.bincount(test.read_labels()).nonzero()[0].tolist()) == [0, 8]
    idx = budget_indices("cwola", "paper", 5)
    assert len(idx) == 2 * N + 5
    manifest_hash("cwola", "paper")
    _no_copy(tmp_path / "data")


def test_btag_vertexing_trackid_share_the_real_files(env, tmp_path):
    sizes = _sizes("btag")
    assert sizes == {"train": 2 * N, "val": N, "test": N}  # train_small.root left out
    assert _sizes("vertexing") == sizes and _sizes("trackid") == sizes
    assert task_split("vertexing", "train", "paper") == task_split("btag", "train", "paper")
    with open_jets(task_split("trackid", "test", "paper")) as test:
        batch = test[np.array([3, 1, 3])]
        assert batch.track_type is not None and (batch.track_type[~batch.mask] == -1).all()
    manifest_hash("btag", "paper")
    _disjoint_by_content("btag")
    idx = budget_indices("btag", "paper", 9)
    assert len(idx) == 9 and np.bincount(open_jets(task_split("btag", "train", "paper"))
                                         .read_labels()[idx], minlength=3).tolist() == [3, 3, 3]
    _no_copy(tmp_path / "data")


def test_toptag_refuses_the_wrong_file_then_reads_pinned_ones(env, monkeypatch, tmp_path):
    with pytest.raises(JetbenchError) as err:  # the stand-ins are not the published files
        task_split("toptag", "train", "paper")
    msg = str(err.value)
    assert "\n" not in msg and "train.h5" in msg and "does not match the pinned md5" in msg
    _pin(monkeypatch, "toptag", env / "toptag")
    assert _sizes("toptag") == {"train": N, "val": N, "test": N}
    manifest_hash("toptag", "paper")
    _disjoint_by_content("toptag")
    _no_copy(tmp_path / "data")


def test_quarkgluon_reads_sixteen_two_two_files(env, monkeypatch, tmp_path):
    with pytest.raises(JetbenchError, match="does not match the pinned sha256"):
        task_split("quarkgluon", "val", "paper")
    _pin(monkeypatch, "quarkgluon", env / "quarkgluon")
    assert _sizes("quarkgluon") == {"train": 16 * N, "val": 2 * N, "test": 2 * N}
    with open_jets(task_split("quarkgluon", "test", "paper")) as test:
        assert [Path(s.path).name for s in test.segments] == ["QG_jets_18.npz", "QG_jets_19.npz"]
        assert test.read().features_present == ("pt", "deta", "dphi", "id")
    manifest_hash("quarkgluon", "paper")
    _disjoint_by_content("quarkgluon")


def test_modified_or_unrecorded_file_refused_with_one_line(real, tmp_path, monkeypatch):
    copy = tmp_path / "real"
    (copy / "btag").mkdir(parents=True)
    for p in (real / "btag").iterdir():
        (copy / "btag" / p.name).write_bytes(p.read_bytes())
    monkeypatch.setenv("JETBENCH_REAL_DATA", str(copy))
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "data"))
    with open(copy / "btag" / "test.root", "r+b") as f:  # one changed byte
        f.seek(500)
        b = f.read(1)
        f.seek(500)
        f.write(bytes([b[0] ^ 1]))
    with pytest.raises(JetbenchError) as err:
        task_split("btag", "test", "paper")
    assert "\n" not in str(err.value)
    assert "test.root: sha256" in str(err.value) and "recorded in" in str(err.value)
    write_root(copy / "btag" / "train_2.root", btag_branches(5, 9), "btag")  # not downloaded
    with pytest.raises(JetbenchError, match="train_2.root: no checksum pinned for it and not "
                                            "listed in .*SHA256SUMS"):
        task_split("btag", "train", "paper")
    (copy / "btag" / "validate.root").unlink()
    with pytest.raises(JetbenchError, match="no file matches 'validate.root'.*data download btag"):
        task_split("btag", "val", "paper")


def test_paper_files_leave_the_task_identity_of_other_scales(env):
    """`paper_files` is outside the definition's dump: the cpu-scale task hash is unchanged by
    where the paper scale reads from."""
    spec = get_task("jetclass")
    assert "paper_files" not in spec.model_dump(mode="json")["data"]
    assert spec.data.parts("paper", "train")[0].files == "**/train_100M/*.root"
    assert spec.data.parts("cpu", "train")[0].n == 11000


def test_toptag_table_layout_reads_like_the_fixed_one_even_without_column_names(tmp_path):
    """PyTables layout: the pickled column names are read without running any code; without
    them the published column order is assumed; both give the fixed layout's jets."""
    import h5py

    from jetbench.data.ranged import JetFile

    b = toptag_branches(30, 7, max_parts=25)
    fixed = JetFile(write_toptag_h5(tmp_path / "f.h5", b), "toptag").read()
    table = write_toptag_h5(tmp_path / "t.h5", b, layout="table")
    f = JetFile(table, "toptag")
    np.testing.assert_array_equal(f.read().csts, fixed.csts)
    np.testing.assert_array_equal(f.labels(4, 20), fixed.labels[4:20])
    f.close()
    with h5py.File(table, "r+") as h:
        for i in (0, 1):
            del h["table/table"].attrs[f"values_block_{i}_kind"]
        h["table/table"].attrs["values_block_1_kind"] = np.bytes_(
            b"cos\nsystem\n(S'echo unsafe'\ntR.")  # a pickle that would run code
    f = JetFile(table, "toptag")
    np.testing.assert_array_equal(f.read().csts, fixed.csts)  # refused, published order used
    np.testing.assert_array_equal(f.labels(), fixed.labels)
    f.close()
