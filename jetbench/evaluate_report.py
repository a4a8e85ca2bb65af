"""What a result says about where and how it was measured, and how a finished cell is printed."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import time
from pathlib import Path

import torch
from tabulate import tabulate

from jetbench import __version__
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


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(window: float = 0.3) -> float:
    """Cores kept busy by other processes right now (sampled over `window` seconds).

    Sampled, not the load average: the 1-minute average still counts work that just ended (e.g.
    this process's own generator workers), which would halve the threads of an idle machine.
    """
    cores = os.cpu_count() or 1
    a = _cpu_times()
    if a is None:
        try:
            return float(os.getloadavg()[0])
        except OSError:
            return 0.0
    time.sleep(window)
    b = _cpu_times()
    busy, total = b[0] - a[0], b[1] - a[1]
    return cores * busy / total if total > 0 else 0.0


def auto_threads(requested: int | None = None) -> int:
    """Intra-op threads: as requested, else $OMP_NUM_THREADS, else the cores not already busy.

    On a shared machine torch's default (one thread per core) spin-waits against the other
    processes and runs several times slower than a single thread (measured: 10x for a head step
    at load 4.6 on 2 cores), so what the other processes use right now decides.
    """
    if requested:
        return max(1, int(requested))
    env = os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    cores = os.cpu_count() or 1
    return max(1, min(cores, int(cores - busy_cores() + 0.5)))


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
