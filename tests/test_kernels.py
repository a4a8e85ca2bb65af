"""The CPU/kernel fingerprint that names where a result's last bits come from: stable on one
machine, different when torch dispatches to other kernels, recorded in provenance and named when
a re-made checkpoint's bits differ from the shipped one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from jetbench.core.kernels import cpu_model, kernel_fingerprint
from jetbench.evaluation.provenance import provenance
from jetbench.pretraining.api import check_shipped

PROBE = "from jetbench.core.kernels import kernel_fingerprint; print(kernel_fingerprint())"


def _fingerprint_in_subprocess(**env: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.strip()


def test_fingerprint_is_stable_across_processes_and_thread_counts():
    fp = kernel_fingerprint()
    assert len(fp) == 12 and int(fp, 16) >= 0
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:  # an uncached probe runs on one pinned thread and gives the caller's count back
        assert kernel_fingerprint.__wrapped__() == fp
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert _fingerprint_in_subprocess(OMP_NUM_THREADS="2") == fp


def test_fingerprint_changes_with_the_kernels_torch_dispatches_to():
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this CPU already runs torch's scalar (DEFAULT) kernels")
    assert _fingerprint_in_subprocess(ATEN_CPU_CAPABILITY="default") != kernel_fingerprint()


def test_provenance_records_cpu_and_kernels():
    p = provenance("t", "p", "c", "d", None, "cpu")
    assert p.kernels == kernel_fingerprint() and p.cpu == cpu_model()


def test_a_remade_checkpoint_that_differs_names_this_machine(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the shipped weights")
    ok, message = check_shipped("mpm_flow", "cpu", tmp_path)
    assert not ok
    assert "differs from the shipped" in message and kernel_fingerprint() in message
    assert "torch 2.13.0" in message  # the manifest's torch build, what the shipped bits need
