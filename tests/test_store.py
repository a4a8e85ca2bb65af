import h5py
import numpy as np
import pytest

from jetbench.core.errors import JetbenchError
from jetbench.data.format import JetBatch
from jetbench.data.store import JetStore, StoreWriter, verify_store, write_store
from tests.conftest import random_batch


@pytest.mark.parametrize("dataset", ["jetclass", "btag"])
def test_roundtrip_slices_and_hash(tmp_path, dataset):
    batch = random_batch(300, dataset)
    path = tmp_path / "a.h5"
    with StoreWriter(path, dataset, {"seed": 3}) as w:
        w.append(batch[:100])
        w.append(batch[100:])
    with JetStore(path) as s:
        assert len(s) == 300 and s.dataset == dataset and s.metadata == {"seed": 3}
        got = s.read()
        for k, a in batch.arrays().items():
            np.testing.assert_array_equal(got.arrays()[k], a)
        idx = np.array([250, 3, 77])
        np.testing.assert_array_equal(s[idx].csts, batch.csts[idx])
        assert sum(len(b) for b in s.iter_chunks(64)) == 300
        with h5py.File(path) as f:
            assert f["csts"].chunks is not None and f["csts"].compression == "gzip"
    # the hash does not depend on how the jets were split into appends
    assert write_store(tmp_path / "b.h5", batch, dataset, {"seed": 3}) == JetStore(path).content_hash
    assert verify_store(path) == JetStore(path).content_hash


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "x.h5"
    with pytest.raises(RuntimeError), StoreWriter(path, "jetclass") as w:
        w.append(random_batch(10))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_nan_and_corrupt_rejected(tmp_path):
    bad = random_batch(10)
    bad.csts[4, 0, 3] = np.nan
    with pytest.raises(JetbenchError, match="non-finite.*jet 4"):
        write_store(tmp_path / "nan.h5", bad, "jetclass")
    assert not (tmp_path / "nan.h5").exists()
    path = tmp_path / "ok.h5"
    write_store(path, random_batch(50), "jetclass")
    data = path.read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(JetbenchError, match="trunc.h5"):
        JetStore(tmp_path / "trunc.h5").read()


def test_batch_validation_messages():
    b = random_batch(5)
    b.labels = b.labels.astype(np.int64)
    with pytest.raises(JetbenchError, match="'labels' has dtype int64"):
        b.validate()
    assert len(JetBatch.concat([random_batch(3), random_batch(4)])) == 7
