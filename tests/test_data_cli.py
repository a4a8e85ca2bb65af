"""`jetbench data convert|download` through the CLI: success paths and one-line errors (exit 2)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
from branch_factory import btag_branches, jetclass_branches
from conftest import random_batch
from test_download import _publish, server  # noqa: F401  (fixture)

from jetbench.cli import main
from jetbench.data.convert import batch_from_branches
from jetbench.data.rootio import write_root
from jetbench.data.store import JetStore, write_store


def _fails(capsys, argv: list[str], match: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("jetbench: error: "), err
    assert match in err, err
    return err


def test_convert_root_to_store(tmp_path, capsys):
    b = jetclass_branches(80, seed=1)
    src = write_root(tmp_path / "a.root", b, "jetclass")
    assert main(["data", "convert", str(src), "--out", str(tmp_path / "a.h5")]) == 0
    assert "80 jetclass jets" in capsys.readouterr().out
    with JetStore(tmp_path / "a.h5") as store:
        np.testing.assert_array_equal(store.read().csts, batch_from_branches(b, "jetclass").csts)


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "out.h5"
    src = write_root(tmp_path / "b.root", btag_branches(300, seed=2), "btag", chunk=100)
    raw = src.read_bytes()
    (tmp_path / "trunc.root").write_bytes(raw[: len(raw) // 2])
    _fails(capsys, ["data", "convert", str(tmp_path / "trunc.root"), "--out", str(out)],
           "trunc.root: corrupt or truncated ROOT file")
    bad = bytearray(raw)
    bad[len(raw) // 3: len(raw) // 3 + 2048] = b"\xff" * 2048
    (tmp_path / "bad.root").write_bytes(bytes(bad))
    _fails(capsys, ["data", "convert", str(tmp_path / "bad.root"), "--out", str(out)],
           "bad.root: corrupt or truncated ROOT file")
    write_store(tmp_path / "s.h5", random_batch(3000, "jetclass"), "jetclass")
    h5 = (tmp_path / "s.h5").read_bytes()
    (tmp_path / "trunc.h5").write_bytes(h5[: len(h5) // 2])
    _fails(capsys, ["data", "convert", str(tmp_path / "trunc.h5"), "--out", str(out)],
           "trunc.h5: not a readable HDF5 file")
    (tmp_path / "garbage.h5").write_bytes(h5[:8] + bytes(range(256)) * 40)
    _fails(capsys, ["data", "convert", str(tmp_path / "garbage.h5"), "--out", str(out)],
           "garbage.h5: not a readable HDF5 file")
    _fails(capsys, ["data", "convert", str(src), "--dataset", "jetclas", "--out", str(out)],
           "unknown dataset 'jetclas' (did you mean 'jetclass'?)")
    _fails(capsys, ["data", "convert", str(src), "--dataset", "jetclass", "--out", str(out)],
           "b.root: missing branches for jetclass: part_px")
    _fails(capsys, ["data", "convert", str(tmp_path / "none.root"), "--out", str(out)],
           "none.root: no such file")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_missing_branch_in_file_and_nan(tmp_path, capsys):
    b = btag_branches(50, seed=3)
    with uproot.recreate(tmp_path / "m.root") as f:  # a tree without trk_prod_z / hadron_*
        keep = {k: v for k, v in b.items() if k.startswith("jet_") or k == "n_trks"}
        keep["trk"] = ak.zip({k[4:]: b[k] for k in b if k.startswith("trk_") and k != "trk_prod_z"})
        f.mktree("tree", {k: v.type.content if isinstance(v, ak.Array) else v.dtype
                          for k, v in keep.items()})
        f["tree"].extend(keep)
    _fails(capsys, ["data", "convert", str(tmp_path / "m.root"), "--out", str(tmp_path / "o.h5")],
           "m.root: missing branches for btag: trk_prod_z, hadron_pdgid, hadron_z")
    b = btag_branches(50, seed=4)
    pt = ak.to_list(b["trk_pt"])
    pt[41][2] = float("nan")
    b["trk_pt"] = ak.Array(pt)
    src = write_root(tmp_path / "nan.root", b, "btag")
    _fails(capsys, ["data", "convert", str(src), "--out", str(tmp_path / "o.h5")],
           "nan.root: non-finite value (NaN/inf) in branch 'trk_pt' of jet 41")
    assert not (tmp_path / "o.h5").exists()


def test_download_command(tmp_path, capsys, server):  # noqa: F811
    src = write_root(tmp_path / "t.root", btag_branches(30), "btag")
    _publish(server, "btag", {"test_small.root": src.read_bytes()})
    argv = ["data", "download", "btag", "--dest", str(tmp_path / "dl"), "--mirror", server.url,
            "--no-progress"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "dl" / "test_small.root")
    _fails(capsys, argv[:-1] + ["--files", "nothing*", "--no-progress"],
           "no btag file matches 'nothing*'")
    _fails(capsys, ["data", "download", "cms", "--mirror", server.url],
           "unknown dataset 'cms'")


@pytest.mark.parametrize("dataset", ["jetclass", "btag"])
def test_convert_paper_h5_via_cli(tmp_path, capsys, dataset):
    from test_readers import _paper_file

    batch = random_batch(40, dataset, seed=5)
    _paper_file(tmp_path / "p.h5", batch, dataset)
    assert main(["data", "convert", str(tmp_path / "p.h5"), "--out", str(tmp_path / "c.h5")]) == 0
    with JetStore(tmp_path / "c.h5") as store:
        assert store.dataset == dataset and store.metadata["source_format"] == "paper_h5"
        np.testing.assert_array_equal(store.read().labels, batch.labels)
