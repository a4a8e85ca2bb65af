"""One exclusive lock per cached file, so two processes never build or merge the same file at once.

`filelock` instead of `fcntl`: the same OS lock on Linux and macOS (flock), and a working one on
Windows (msvcrt), which `fcntl` does not have. The lock is released when the process dies, so a
killed producer never leaves a stale lock behind. Only the plain API (`FileLock`, `acquire`,
`release`, `Timeout`) is used; it is the same across the tested 3.x and 4.x releases.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from jetbench.core.log import get_logger


def lock_path(target: str | os.PathLike) -> Path:
    """The hidden lock file next to `target`."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def file_lock(target: str | os.PathLike, what: str | None = None) -> Iterator[None]:
    """Hold the exclusive lock on `target` for the block; says so when it has to wait
    ("waiting for another process to finish WHAT", WHAT defaulting to the file's name)."""
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        get_logger().info(f"waiting for another process to finish {what or Path(target).name}")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


__all__ = ["file_lock", "lock_path"]
