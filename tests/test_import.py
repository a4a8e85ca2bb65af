"""`jetbench data import`: user arrays -> canonical store, then `data info` shows them; every
bad input is one line; nothing is replaced without --force."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import uproot

from jetbench.cli import main
from jetbench.core.errors import JetbenchError
from jetbench.data.fourvectors import from_pt_eta_phi
from jetbench.data.importer import import_arrays, parse_fields
from jetbench.data.store import JetStore, verify_store

N, M = 60, 30


def _four_vectors(seed: int = 0):
    """Zero-padded [N, M] (E, px, py, pz) of massless particles around a random axis."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(4, M + 1, N)
    real = np.arange(M)[None] < counts[:, None]
    pt = np.where(real, rng.exponential(20, (N, M)) + 1, 0.0)
    eta = rng.uniform(-1.5, 1.5, (N, 1)) + rng.normal(0, 0.2, (N, M))
    phi = rng.uniform(-3, 3, (N, 1)) + rng.normal(0, 0.2, (N, M))
    p4 = from_pt_eta_phi(pt.ravel(), eta.ravel(), phi.ravel(), 0.0).reshape(N, M, 4)
    p4[~real] = 0.0
    return p4, counts, rng.integers(0, 2, N)


FIELDS = ["--field", "e=E", "--field", "px=PX", "--field", "py=PY", "--field", "pz=PZ"]


def test_npz_of_four_vectors_to_store_to_info(tmp_path, capsys):
    p4, counts, y = _four_vectors()
    src = tmp_path / "mine.npz"
    np.savez(src, E=p4[..., 3], PX=p4[..., 0], PY=p4[..., 1], PZ=p4[..., 2], y=y)
    out = tmp_path / "mine.h5"
    argv = ["data", "import", str(src), "--out", str(out), *FIELDS, "--label-field", "y",
            "--labels", "gluon,quark", "--name", "mine", "--slots", "24"]
    assert main(argv) == 0
    assert "60 mine jets (gluon, quark), inputs pt, deta, dphi" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "dataset mine, 60 jets" in text and "(verified)" in text
    assert f"gluon {int((y == 0).sum())}" in " ".join(text.split())
    with JetStore(out) as s:
        b = s.read()
        assert s.labels == ["gluon", "quark"] and b.n_slots == 24
        np.testing.assert_array_equal(b.labels, y)
        np.testing.assert_array_equal(b.jets[:, 4], counts)
        np.testing.assert_array_equal(b.mask.sum(1), np.minimum(counts, 24))
        jet = p4.sum(axis=1)
        np.testing.assert_allclose(b.jets[:, 0], np.hypot(jet[:, 0], jet[:, 1]), rtol=1e-5)
    # refuses to overwrite, then replaces with --force
    assert main(argv) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_pt_eta_phi_with_pid_from_hdf5_and_jagged_root(tmp_path):
    p4, counts, y = _four_vectors(1)
    pt = np.hypot(p4[..., 0], p4[..., 1])
    eta = np.arcsinh(np.divide(p4[..., 2], pt, out=np.zeros_like(pt), where=pt > 0))
    phi = np.arctan2(p4[..., 1], p4[..., 0])
    pid = np.where(pt > 0, 211, 0)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        g = f.create_group("jets")
        for k, v in {"pt": pt, "eta": eta, "phi": phi, "pid": pid, "label": y}.items():
            g[k] = v
    fields = parse_fields(["pt=jets/pt", "eta=jets/eta", "phi=jets/phi", "pid=jets/pid"])
    out = import_arrays([tmp_path / "in.h5"], tmp_path / "a.h5", fields, "jets/label",
                        dataset="quarkgluon")
    with JetStore(out) as s:
        a = s.read()
        assert s.dataset == "quarkgluon" and s.features_present == ("pt", "deta", "dphi", "id")
        assert (a.csts_id[a.mask] == 3).all()  # pi+ -> h+
    import awkward as ak

    real = pt > 0
    jag = {k: ak.unflatten(v[real], real.sum(1)) for k, v in {"pt": pt, "eta": eta, "phi": phi}.items()}
    with uproot.recreate(tmp_path / "in.root") as f:  # a TTree (plain assignment makes an RNTuple)
        part = ak.zip(jag)
        tree = f.mktree("events", {"part": part.type.content, "label": y.dtype})
        tree.extend({"part": part, "label": y})
    out = import_arrays([tmp_path / "in.root"], tmp_path / "b.h5",
                        parse_fields(["pt=part_pt", "eta=part_eta", "phi=part_phi"]), "label",
                        labels=["g", "q"])
    verify_store(out)
    with JetStore(out) as s:
        b = s.read()
        np.testing.assert_allclose(b.csts[..., :3], a.csts[..., :3], atol=2e-5)


@pytest.mark.parametrize("fields,label,kw,match", [
    (["pt=x"], "y", {}, "give the momenta as either"),
    (["e=E", "px=PX", "py=PY", "pz=PZ", "eta=PX"], "y", {}, "mixes the two ways"),
    (["e=E", "px=PX", "py=PY", "pz=NOPE"], "y", {"labels": ["a", "b"]}, "no array named NOPE"),
    (["e=E", "px=PX", "py=PY", "pz=PZ"], "y", {"labels": ["a"]}, "at least two distinct"),
    (["e=E", "px=PX", "py=PY", "pz=PZ"], "bad", {"labels": ["a", "b"]}, "jet 5 has label 7"),
    (["e=E", "px=PX", "py=PY", "pz=PZ"], "y", {"dataset": "toptag", "labels": ["a", "b"]},
     "differ from dataset 'toptag'"),
])
def test_bad_imports_are_one_line(tmp_path, fields, label, kw, match):
    p4, _, y = _four_vectors(2)
    bad = y.copy()
    bad[5] = 7
    src = tmp_path / "in.npz"
    np.savez(src, E=p4[..., 3], PX=p4[..., 0], PY=p4[..., 1], PZ=p4[..., 2], y=y, bad=bad)
    with pytest.raises(JetbenchError, match=match) as err:
        import_arrays([src], tmp_path / "o.h5", parse_fields(fields), label, **kw)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "o.h5").exists()


def test_field_syntax_errors():
    with pytest.raises(JetbenchError, match="expected NAME=ARRAY"):
        parse_fields(["pt"])
    with pytest.raises(JetbenchError, match="unknown input 'spin'"):
        parse_fields(["spin=s"])
    with pytest.raises(JetbenchError, match="impact parameters need all of"):
        parse_fields(["d0=a"])


def test_parquet_jagged_import(tmp_path):
    pytest.importorskip("pyarrow")
    import awkward as ak

    p4, counts, y = _four_vectors(3)
    real = np.hypot(p4[..., 0], p4[..., 1]) > 0
    arr = ak.zip({k: ak.unflatten(p4[..., i][real], real.sum(1))
                  for i, k in enumerate(("px", "py", "pz", "e"))})
    table = ak.zip({"part": arr, "label": y}, depth_limit=1)
    ak.to_parquet(ak.Array({"px": table.part.px, "py": table.part.py, "pz": table.part.pz,
                            "e": table.part.e, "label": table.label}), tmp_path / "in.parquet")
    out = import_arrays([tmp_path / "in.parquet"], tmp_path / "p.h5",
                        parse_fields(["e=e", "px=px", "py=py", "pz=pz"]), "label",
                        labels=["a", "b"])
    with JetStore(out) as s:
        b = s.read()
        np.testing.assert_array_equal(b.jets[:, 4], counts)
        np.testing.assert_array_equal(b.labels, y)
