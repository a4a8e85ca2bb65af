"""The toptag and quarkgluon generator profiles: physics sanity of small samples, the published
selections, and generated raw files (pandas table / npz) reading back as the generated store."""

from __future__ import annotations

import numpy as np
import pytest

from jetbench.data.format import JetBatch
from jetbench.data.readers import convert_file, read_any
from jetbench.data.store import JetStore
from jetbench.generate import api, runner

TOP_PER_CLASS = 40
QG_PER_CLASS = 50


def _sample(tmp_path_factory, profile: str, n: int, seed: int) -> dict:
    out = tmp_path_factory.mktemp(profile)
    classes = runner.check_request(profile, n, seed, 1, None)
    cols = runner.generate_columns(profile, n, seed, 1, classes, progress=False)
    branches = api._branches(profile, cols)
    meta = api.metadata(profile, n, seed, classes)
    h5 = api.write_branches(branches, out / f"{profile}.h5", profile, "h5", meta)
    raw = api.write_branches(branches, out / ("val.h5" if profile == "toptag" else "QG_jets.npz"),
                             profile, "raw", meta)
    with JetStore(h5) as store:
        return {"batch": store.read(), "h5": h5, "raw": raw, "hash": store.content_hash,
                "features": store.features_present}


@pytest.fixture(scope="module")
def toptag(tmp_path_factory):
    return _sample(tmp_path_factory, "toptag", 2 * TOP_PER_CLASS, seed=4)


@pytest.fixture(scope="module")
def quarkgluon(tmp_path_factory):
    return _sample(tmp_path_factory, "quarkgluon", 2 * QG_PER_CLASS, seed=4)


def test_toptag_mass_window_and_four_vectors_only(toptag):
    b: JetBatch = toptag["batch"]
    assert np.bincount(b.labels, minlength=2).tolist() == [TOP_PER_CLASS] * 2
    pt, eta = b.jets[:, 0], b.jets[:, 1]
    assert pt.min() >= 550 * 0.99 and pt.max() <= 650 * 1.01 and np.abs(eta).max() < 2.02
    median = {k: float(np.median(b.jets[b.labels == i, 3])) for i, k in enumerate(("QCD", "top"))}
    print("toptag median jet mass", {k: round(v, 1) for k, v in median.items()})
    assert abs(median["top"] / 173.0 - 1) < 0.12
    assert median["QCD"] < 0.6 * median["top"]
    assert toptag["features"] == ("pt", "deta", "dphi")
    assert (b.csts[..., 3:][b.mask] == 0).all() and (b.csts_id[b.mask] == 2).all()
    assert b.mask.sum(axis=1).max() <= 200


def test_quarkgluon_multiplicity_window_and_ids(quarkgluon):
    b: JetBatch = quarkgluon["batch"]
    assert np.bincount(b.labels, minlength=2).tolist() == [QG_PER_CLASS] * 2
    pt = b.jets[:, 0]
    assert pt.min() >= 500 * 0.99 and pt.max() <= 550 * 1.01
    assert np.abs(b.jets[:, 1]).max() < 2.05  # |y| < 2 on the jet (eta ~ y at m << pT)
    mult = {k: float(b.mask[b.labels == i].sum(axis=1).mean()) for i, k in enumerate(("gluon", "quark"))}
    print("quarkgluon mean multiplicity", {k: round(v, 1) for k, v in mult.items()})
    assert mult["gluon"] > 1.25 * mult["quark"]
    assert quarkgluon["features"] == ("pt", "deta", "dphi", "id")
    ids = np.bincount(b.csts_id[b.mask], minlength=8)
    assert ids[0] > 0 and ids[1] > 0 and ids[2] > 0 and ids[3] > 0  # photons, h-, h0, h+
    assert (b.csts[..., 3:][b.mask] == 0).all()
    dr = np.hypot(b.csts[..., 1], b.csts[..., 2])[b.mask]
    assert np.quantile(dr, 0.99) < 0.45


@pytest.mark.parametrize("profile", ["toptag", "quarkgluon"])
def test_raw_file_reads_back_as_the_generated_store(profile, toptag, quarkgluon, tmp_path):
    sample = {"toptag": toptag, "quarkgluon": quarkgluon}[profile]
    back = JetBatch.concat(list(read_any(sample["raw"], chunk=33)))
    for key, a in sample["batch"].arrays().items():
        np.testing.assert_array_equal(back.arrays()[key], a, err_msg=key)
    with JetStore(convert_file(sample["raw"], None, tmp_path / "c.h5")) as s:
        assert s.content_hash == sample["hash"]


def test_root_format_refused_for_non_root_profiles(tmp_path):
    from jetbench.core.errors import JetbenchError

    with pytest.raises(JetbenchError, match="writes toptag_h5 files, not ROOT; use --format raw"):
        api.generate_file("toptag", 2, 0, tmp_path / "x.root", fmt="root")
