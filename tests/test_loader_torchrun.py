"""The streaming loader under a real `torchrun --nproc_per_node 2` (gloo, CPU, one thread each):
in every epoch the two ranks see disjoint rows that together are every row exactly once, with
0 and 1 loader workers, in a new order each epoch; and the streamed frozen embeddings are
written once by rank 0 into a folder every rank reads alike.

This file is also the script torchrun runs (the `__main__` block): each rank writes the rows it
saw to `rank<r>.json`, and the test checks them together.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from jetbench.core import distributed as dd
from jetbench.data.format import JetBatch
from jetbench.data.store import write_store
from jetbench.protocols import Split
from jetbench.protocols.embedding_store import stream_embeddings
from jetbench.protocols.loader import StreamSource
from tests.conftest import random_batch
from tests.test_protocols import ToyEncoder

ROOT = Path(__file__).resolve().parents[1]
N = 300
EPOCHS = (0, 1)
WORKERS = (0, 1)


def _rows() -> np.ndarray:
    """A budget: 250 of the store's 300 rows (sorted, as the protocols pass them)."""
    return np.sort(np.random.default_rng(0).choice(N, 250, replace=False))


def _labels(batch: JetBatch) -> np.ndarray:
    return batch.labels.astype(np.int64)


def _rank_main(store: str, out: str) -> None:
    """One torchrun rank: the rows of each (workers, epoch), and the streamed embeddings."""
    torch.set_num_threads(1)
    info = dd.setup("cpu")
    seen: dict[str, list[int]] = {}
    for workers in WORKERS:
        src = StreamSource(store, _rows(), _labels, batch_size=16, seed=7, workers=workers,
                           chunk=20, streams=3)
        ds = src.dataset(shuffle=True, batch_size=16)  # this rank's share (rank, world from dd)
        for epoch in EPOCHS:
            ds.set_epoch(epoch)
            seen[f"{workers}/{epoch}"] = [int(r) for _, _, rows in src.loader(ds, "cpu")
                                         for r in rows]
    emb = stream_embeddings(ToyEncoder(), Split.from_store("train", store, _rows()), _labels,
                            batch_size=64, progress=False, chunk=100)
    inputs, y = emb.get(np.arange(len(emb)), "cpu")
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in (*inputs.values(), y)))
    dd.barrier()  # both ranks have read before rank 0 removes
    emb.remove()
    dd.barrier()
    Path(out, f"rank{dd.rank()}.json").write_text(json.dumps(
        {"rank": dd.rank(), "world": dd.world_size(), "seen": seen, "folder": str(emb.folder),
         "gone": not emb.folder.exists(), "sha": digest.hexdigest()}))
    dd.teardown(info)


def test_every_row_once_per_epoch_across_two_torchrun_ranks(tmp_path):
    store = tmp_path / "jets.h5"
    write_store(store, random_batch(N, "btag", seed=3), "btag")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JETBENCH_DATA": str(tmp_path / "data"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", __file__, str(store), str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (r0["rank"], r1["rank"], r0["world"], r1["world"]) == (0, 1, 2, 2)
    rows = _rows().tolist()
    for workers in WORKERS:
        for epoch in EPOCHS:
            key = f"{workers}/{epoch}"
            a, b = r0["seen"][key], r1["seen"][key]
            assert a and b, key  # both ranks get work
            assert not set(a) & set(b), key  # disjoint across ranks
            assert sorted(a + b) == rows, key  # union = every row, each exactly once
        # the loader shuffles per epoch: a new order (and a new split of rows between ranks)
        assert r0["seen"][f"{workers}/0"] != r0["seen"][f"{workers}/1"], workers
    # the streamed embeddings: one folder (rank 0's, broadcast), read alike, removed after
    assert r0["folder"] == r1["folder"] and r0["sha"] == r1["sha"] and r0["gone"]
    assert "stream" in Path(r0["folder"]).parts


if __name__ == "__main__":
    _rank_main(sys.argv[1], sys.argv[2])
