"""How many intra-op threads torch may use on a shared machine."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator


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


@contextlib.contextmanager
def pinned_threads(n: int) -> Iterator[None]:
    """Run the block with exactly `n` threads in torch and in the BLAS/OpenMP pools that numpy and
    scikit-learn use (k-means fits); restore the previous settings after. `n` = 0: leave as is.

    Floating-point sums depend on how work is split over threads, so a computation that must give
    the same bits on every run (a reference checkpoint) fixes its thread count instead of taking
    what the machine's load suggests.
    """
    if n <= 0:
        yield
        return
    import torch  # lazy: core.threads is read by code paths that never touch torch
    from threadpoolctl import threadpool_limits  # lazy: only pinned runs need it

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)
