"""Stores and readers validate on open: each damage is one JetbenchError naming file and field;
fuzzed HDF5 and ROOT bytes end in a clean JetbenchError or a valid read, never another error."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from branch_factory import btag_branches
from conftest import random_batch
from transfer_factory import quarkgluon_branches, toptag_branches

from jetbench.cli import main
from jetbench.core.errors import JetbenchError
from jetbench.data.format import JetBatch
from jetbench.data.quarkgluon import write_quarkgluon_npz
from jetbench.data.readers import read_any
from jetbench.data.rootio import write_root
from jetbench.data.store import JetStore, verify_store, write_store
from jetbench.data.toptag import write_toptag_h5


def _store(tmp_path, name="s.h5", n=50, dataset="btag"):
    path = tmp_path / name
    write_store(path, random_batch(n, dataset, seed=1), dataset, {"seed": 1})
    return path


def _edit_attr(path, key, value):
    with h5py.File(path, "r+") as f:
        if value is None:
            del f.attrs[key]
        else:
            f.attrs[key] = value


DAMAGE = [
    ("missing content", lambda f: f.attrs.__delitem__("dataset"), "store field 'dataset' is missing"),
    ("n_jets lies", lambda f: f.attrs.__setitem__("n_jets", 51), "'n_jets' says 51 but the arrays hold 50"),
    ("n_jets text", lambda f: f.attrs.__setitem__("n_jets", "many"), "'n_jets' should be an integer"),
    ("bad metadata", lambda f: f.attrs.__setitem__("metadata", "{seed: 1"), "'metadata' is not valid JSON"),
    ("bad labels", lambda f: f.attrs.__setitem__("labels", '["light"'), "'labels' is not valid JSON"),
    ("wrong labels", lambda f: f.attrs.__setitem__("labels", json.dumps(["a", "b", "c"])),
     "do not match dataset 'btag'"),
    ("bad features", lambda f: f.attrs.__setitem__("features_present", '["pt", "spin"]'),
     "'features_present' should be a subset"),
    ("future format", lambda f: f.attrs.__setitem__("jetbench_format", 9), "'jetbench_format' is 9"),
    ("missing dataset", lambda f: f.__delitem__("jets"), "store field 'jets' is missing"),
    ("one track field", lambda f: f.__delitem__("track_type"), "'track_type' is missing"),
    ("wrong dtype", lambda f: (f.__delitem__("labels"), f.create_dataset("labels", data=np.zeros(50))),
     "'labels' has dtype float64, expected int16"),
    ("wrong shape", lambda f: (f.__delitem__("jets"), f.create_dataset("jets", data=np.zeros((50, 4), np.float32))),
     "'jets' has shape (50, 4), expected (50, 5)"),
    ("short array", lambda f: (f.__delitem__("jets"), f.create_dataset("jets", data=np.zeros((49, 5), np.float32))),
     "'jets' has shape (49, 5)"),
    ("group not dataset", lambda f: (f.__delitem__("mask"), f.create_group("mask")), "'mask' is not a dataset"),
]


@pytest.mark.parametrize("what,damage,match", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_header_is_one_line_naming_file_and_field(tmp_path, what, damage, match):
    path = _store(tmp_path)
    with h5py.File(path, "r+") as f:
        damage(f)
    with pytest.raises(JetbenchError) as err:
        JetStore(path)
    msg = str(err.value)
    assert str(path) in msg and match in msg and "\n" not in msg


def test_label_out_of_range_refused_on_read_info_and_convert(tmp_path, capsys):
    path = _store(tmp_path)
    with h5py.File(path, "r+") as f:
        labels = f["labels"][()]
        labels[17] = 77
        f["labels"][...] = labels
    with JetStore(path) as s, pytest.raises(JetbenchError, match=r"'labels' holds 77 at jet 17"):
        s.read()
    assert main(["data", "info", str(path)]) == 2
    assert main(["data", "convert", str(path), "--out", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("holds 77 at jet 17" in e for e in err)
    assert not (tmp_path / "c.h5").exists()
    batch = random_batch(10, "btag")
    batch.labels[3] = 5
    with pytest.raises(JetbenchError, match="jet 3 has label 5, expected 0..2"):
        write_store(tmp_path / "w.h5", batch, "btag")


def test_info_verify_checks_the_content_hash(tmp_path, capsys):
    path = _store(tmp_path, dataset="jetclass")
    assert main(["data", "info", str(path), "--verify"]) == 0
    assert "(verified)" in capsys.readouterr().out
    with h5py.File(path, "r+") as f:
        jets = f["jets"][()]
        jets[3, 0] += 1.0
        f["jets"][...] = jets
    assert main(["data", "info", str(path)]) == 0  # header fine: info alone does not read it all
    capsys.readouterr()
    assert main(["data", "info", str(path), "--verify"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not match recorded" in err[0]


def _mutations(data: bytes, rng: np.random.Generator, n: int):
    """Truncations at random points, and random byte flips / overwritten runs."""
    for i in range(n):
        b = bytearray(data)
        kind = i % 3
        if kind == 0:
            yield bytes(b[: int(rng.integers(0, len(b)))])
            continue
        for _ in range(int(rng.integers(1, 8)) if kind == 1 else 1):
            at = int(rng.integers(0, len(b)))
            if kind == 1:
                b[at] ^= 1 << int(rng.integers(0, 8))
            else:
                run = int(rng.integers(1, 64))
                b[at:at + run] = rng.integers(0, 256, len(b[at:at + run]), dtype=np.uint8).tobytes()
        yield bytes(b)


def _read_all(path) -> None:
    with JetStore(path) as s:
        for batch in s.iter_chunks(16):
            batch.validate(str(path))
        s[np.array([3, 1, 3])]
    verify_store(path)


@pytest.mark.parametrize("reader", ["store", "root", "toptag", "quarkgluon"])
def test_fuzzed_bytes_give_jetbench_error_or_valid_read(tmp_path, reader):
    rng = np.random.default_rng({"store": 1, "root": 2, "toptag": 3, "quarkgluon": 4}[reader])
    if reader == "store":
        src = _store(tmp_path, "src.h5", n=40)
        read = _read_all
    elif reader == "root":
        src = write_root(tmp_path / "src.root", btag_branches(40, seed=5), "btag", chunk=16)
        read = lambda p: JetBatch.concat(list(read_any(p, chunk=16)))  # noqa: E731
    elif reader == "toptag":
        src = write_toptag_h5(tmp_path / "src.h5", toptag_branches(20, seed=5, max_parts=30))
        read = lambda p: list(read_any(p, dataset="toptag", chunk=8))  # noqa: E731
    else:
        src = write_quarkgluon_npz(tmp_path / "src.npz", quarkgluon_branches(30, seed=5))
        read = lambda p: list(read_any(p, dataset="quarkgluon", chunk=8))  # noqa: E731
    data = src.read_bytes()
    outcomes = {"error": 0, "read": 0}
    for i, blob in enumerate(_mutations(data, rng, 90)):
        path = tmp_path / f"m{i}{src.suffix}"
        path.write_bytes(blob)
        try:
            read(path)
            outcomes["read"] += 1
        except JetbenchError as err:
            assert "\n" not in str(err).strip()
            outcomes["error"] += 1
        path.unlink()
    print(reader, outcomes)
    assert outcomes["error"] >= 30  # most damage is seen


def test_store_written_before_features_present_existed_still_opens(tmp_path):
    path = _store(tmp_path, dataset="jetclass")
    with JetStore(path) as s:
        want = s.content_hash
    with h5py.File(path, "r+") as f:  # the layout of stores made before this attribute
        del f.attrs["features_present"]
    with JetStore(path) as s:
        assert s.features_present == s.info.features_present and s.content_hash == want
        assert s.read().feature_mask.all()
    assert verify_store(path) == want
