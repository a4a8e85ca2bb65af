"""Where and with what a result was measured: versions, host, CPU and its float kernels, device
and the git state of the checkout jetbench runs from (commit, and whether it had uncommitted
changes)."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from pathlib import Path

import torch

from jetbench.core.kernels import cpu_model, kernel_fingerprint
from jetbench.core.version import __version__
from jetbench.evaluation.results import Provenance

REPO = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    if not (REPO / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the repository jetbench runs from (None when not a git checkout)."""
    out = _git("rev-parse", "HEAD")
    return out.strip() or None if out is not None else None


@functools.lru_cache(maxsize=1)
def git_dirty() -> bool | None:
    """True if tracked files differ from HEAD (the commit alone does not say what ran); None
    when not a git checkout."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def provenance(task_hash: str, protocol_hash: str, config_hash: str, data_manifest_hash: str,
               encoder_checkpoint_hash: str | None, device: str) -> Provenance:
    return Provenance(task_hash=task_hash, protocol_hash=protocol_hash, config_hash=config_hash,
                      data_manifest_hash=data_manifest_hash,
                      encoder_checkpoint_hash=encoder_checkpoint_hash,
                      jetbench_version=__version__, git_commit=git_commit(), git_dirty=git_dirty(),
                      torch_version=torch.__version__, device=device,
                      python_version=platform.python_version(), hostname=socket.gethostname(),
                      cpu=cpu_model(), kernels=kernel_fingerprint())
