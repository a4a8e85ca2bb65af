"""DDP: `torchrun --nproc_per_node 2 -m jetbench pretrain` on CPU (gloo) matches one process.

Two processes each take half of the same global batch; DDP averages their gradients, which equals
the one-process gradient because the toy loss is a mean over jets and each jet's mask is fixed by
its own features (`make_toy_content`), not by which process drew it. Measured agreement is ~1e-7
relative on the loss; the test allows 1e-5 (float32 sums in a different order).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import random_batch
from safetensors.torch import load_file

from jetbench.data.store import write_store
from jetbench.pretraining import pretrain

TESTS = Path(__file__).parent
RTOL = 1e-5


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "pretrain_log.jsonl").read_text().splitlines()]


@pytest.mark.timeout(180)
def test_two_cpu_processes_match_one(tmp_path):
    data = tmp_path / "pretrain.h5"
    write_store(data, random_batch(300, seed=11), "jetclass")
    args = [
        "--encoder",
        "pretrain_toy:make_toy_content",
        "--scale",
        "smoke",
        "--steps",
        "5",
        "--batch-size",
        "32",
        "--data",
        str(data),
        "--no-progress",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "jetbench",
        "pretrain",
        *args,
        "--out",
        str(tmp_path / "ddp"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [str(tmp_path / "ddp")]  # rank 0 alone prints
    summary = json.loads((tmp_path / "ddp" / "pretrain_log.json").read_text())
    assert summary["world_size"] == 2
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "config.json",
        "model.safetensors",
        "pretrain_log.json",
        "pretrain_log.jsonl",
    ]

    one = pretrain(
        "pretrain_toy:make_toy_content",
        "smoke",
        steps=5,
        batch_size=32,
        data=data,
        out=tmp_path / "one",
        progress=False,
    )
    two, single = records(tmp_path / "ddp"), records(one)
    assert [r["step"] for r in two] == [r["step"] for r in single] == [1, 2, 3, 4, 5]
    for a, b in zip(two, single, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=RTOL)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=RTOL)
        assert a["probe_acc"] == b["probe_acc"]  # probe gradients and counts are all-reduced too
    assert two[0]["loss"] != two[-1]["loss"]  # the weights did move
    wa, wb = (
        load_file(str(tmp_path / "ddp" / "model.safetensors")),
        load_file(str(one / "model.safetensors")),
    )
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=RTOL, atol=1e-6)
