"""Data-parallel fine-tuning on CPU (gloo): ranks stay in sync and only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jetbench.core import distributed as dd


def _worker(rank: int, world: int, init: str, out: str) -> None:
    from jetbench.protocols import Split, get_protocol
    from tests.test_protocols import TASKS, ToyEncoder, _learnable

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    train, val = Split.from_batch("train", _learnable(256, 1)), Split.from_batch("val",
                                                                              _learnable(64, 2))
    proto = get_protocol("finetune", "smoke", max_steps=6, freeze_steps=2, ramp_steps=2,
                         batch_size=64, eval_every=3)
    proto.fit(ToyEncoder(seed=rank), TASKS["jet_class"], train, val, progress=False)
    state = torch.cat([p.detach().flatten() for p in proto.model.parameters()])
    np.save(f"{out}/rank{rank}.npy", state.numpy())
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"val": proto.history.val_loss, "world": dd.world_size()}, f)
    dist.destroy_process_group()


def test_two_ranks_stay_in_sync(tmp_path):
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.start_processes(_worker, args=(2, init, str(tmp_path)), nprocs=2, start_method="spawn")
    a, b = np.load(tmp_path / "rank0.npy"), np.load(tmp_path / "rank1.npy")
    # different initial encoders (seed=rank): rank 0's weights were broadcast, then gradients
    # were averaged every step, so both ranks end with the same model
    assert np.array_equal(a, b)
    logs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert logs[0] == logs[1] and logs[0]["world"] == 2  # same (all-reduced) validation losses


@pytest.mark.slow
def test_torchrun_two_processes_one_result(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "-m", "jetbench", "run", "--encoder", "mpm_flow", "--task", "btag", "--scale", "smoke",
           "--results", str(tmp_path), "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
    (path,) = tmp_path.glob("*.json")
    assert json.loads(path.read_text())["config"]["run"]["world_size"] == 2
    assert out.stdout.count("accuracy (main)") == 1  # rank 0 alone prints
