"""Round trip on generator output: generate -> ROOT (real schema) -> reader == generator's store."""

from __future__ import annotations

import numpy as np
import pytest

from jetbench.data.format import JetBatch
from jetbench.data.readers import convert_file, read_any
from jetbench.data.rootio import write_root
from jetbench.data.store import JetStore
from jetbench.generate import generate_branches, generate_file

SIZES = {"jetclass": 20, "btag": 30}  # n is split evenly over the classes (10 / 3)


@pytest.mark.parametrize("dataset", ["jetclass", "btag"])
def test_generated_root_reads_back_as_the_generated_store(tmp_path, dataset):
    n, seed = SIZES[dataset], 11
    branches = generate_branches(dataset, n, seed, progress=False)
    root = write_root(tmp_path / "gen.root", branches, dataset)
    store = generate_file(dataset, n, seed, tmp_path / "gen.h5", progress=False)
    from_root = JetBatch.concat(list(read_any(root, chunk=7)))
    with JetStore(store) as s:
        direct = s.read()
        want_hash = s.content_hash
    assert len(from_root) == n
    for key, a in direct.arrays().items():
        np.testing.assert_array_equal(from_root.arrays()[key], a, err_msg=key)
    with JetStore(convert_file(root, None, tmp_path / "conv.h5")) as s:
        assert s.content_hash == want_hash  # hash-equal stores via both routes
