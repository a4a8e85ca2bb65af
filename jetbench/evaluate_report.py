"""What a result says about where and how it was measured, and how a finished cell is printed."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from pathlib import Path

import torch
from tabulate import tabulate

from jetbench.core.version import __version__
from jetbench.results import Provenance, Result


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the repository jetbench runs from (None when not a git checkout)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def provenance(task_hash: str, protocol_hash: str, config_hash: str, data_manifest_hash: str,
               encoder_checkpoint_hash: str | None, device: str) -> Provenance:
    return Provenance(task_hash=task_hash, protocol_hash=protocol_hash, config_hash=config_hash,
                      data_manifest_hash=data_manifest_hash,
                      encoder_checkpoint_hash=encoder_checkpoint_hash,
                      jetbench_version=__version__, git_commit=git_commit(),
                      torch_version=torch.__version__, device=device,
                      python_version=platform.python_version(), hostname=socket.gethostname())


def format_result(result: Result, skipped: bool = False) -> str:
    """A short table: the main score (± bootstrap error) first, then the other metrics."""
    main = result.main_score
    se = result.stderr.get(main)
    head = (f"{result.encoder} | {result.task}@v{result.task_version} | "
            f"{result.protocol}@v{result.protocol_version} | scale {result.scale} | "
            f"budget {result.budget} | seed {result.seed}"
            + (" | (already done, not re-run)" if skipped else f" | {result.wall_time_s:.1f} s"))
    rows = [[f"{main} (main)", f"{result.metrics[main]:.4f}" + (f" ± {se:.4f}" if se else "")]]
    rows += [[k, f"{v:.4f}"] for k, v in sorted(result.metrics.items()) if k != main]
    return head + "\n" + tabulate(rows, headers=["metric", "value"], tablefmt="simple")
