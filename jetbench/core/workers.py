"""Worker processes that die with their parent, and a parent that stops its workers.

A pool worker whose parent is killed is re-parented and would keep computing (and writing) for
nobody. Each worker therefore asks the kernel for a signal when its parent dies
(`prctl(PR_SET_PDEATHSIG)`, Linux) and runs a watchdog thread that notices a changed parent pid
(the portable fallback, and a guard against the parent dying before `prctl` ran). Either way the
worker gets SIGTERM: the running task unwinds (atomic writers remove their temp files), and a
timer ends the process for sure a few seconds later, because a pool worker whose parent is gone
would otherwise wait forever on its task queue.

In the parent, `worker_pool` cancels pending work and terminates and reaps the workers on any
exception, including Ctrl-C and SIGTERM (turned into `Terminated` by `terminate_as_interrupt`).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_SECONDS = 0.5  # how often the watchdog looks at the parent pid
GRACE_SECONDS = 3.0  # time a terminated worker has to unwind before it exits regardless
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so the same cleanup paths run."""


_SIGTERM_SEEN = threading.Event()


def sigterm_seen() -> bool:
    """Whether `terminate_as_interrupt` turned a SIGTERM into `Terminated` (a caller such as typer
    may have caught it as a KeyboardInterrupt and returned 130)."""
    return _SIGTERM_SEEN.is_set()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread (elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        _SIGTERM_SEEN.set()
        raise Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_TERMINATING = threading.Event()


def _exit_later(code: int) -> None:
    def run() -> None:
        time.sleep(GRACE_SECONDS)
        os._exit(code)

    threading.Thread(target=run, name="jetbench-exit", daemon=True).start()


def _on_sigterm(signum: int, frame: Any) -> None:
    """First SIGTERM: unwind the running task and exit after a grace period; later ones: ignored."""
    if _TERMINATING.is_set():
        return
    _TERMINATING.set()
    _exit_later(EXIT_TERMINATED)
    raise SystemExit(EXIT_TERMINATED)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(2 * GRACE_SECONDS)  # the handler's timer should have ended us by now
    os._exit(EXIT_TERMINATED)


def init_worker(parent: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple = ()) -> None:
    """Pool initialiser: die with `parent`, leave Ctrl-C to the parent, then the caller's init."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    set_parent_death_signal(signal.SIGTERM)
    threading.Thread(target=_watch_parent, args=(parent,), name="jetbench-watchdog",
                     daemon=True).start()
    if os.getppid() != parent:  # the parent died before prctl: the signal will never come
        os.kill(os.getpid(), signal.SIGTERM)
    if initializer is not None:
        initializer(*initargs)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work, terminate the workers and reap them (kill after the grace period)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + GRACE_SECONDS + 1.0
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        with contextlib.suppress(Exception):
            if p.is_alive():
                p.kill()
                p.join(1.0)


@contextlib.contextmanager
def worker_pool(workers: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple = ()) -> Iterator[ProcessPoolExecutor]:
    """A spawn-based ProcessPoolExecutor whose workers die with this process.

    Leaving the block normally waits for the submitted work; leaving it by an exception (a
    failed task, Ctrl-C, SIGTERM under `terminate_as_interrupt`) stops the workers first."""
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=init_worker,
                               initargs=(os.getpid(), initializer, initargs))
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
