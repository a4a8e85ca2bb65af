"""File locks on `filelock`: exclusive across processes, and a waiting process says so."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from jetbench.core.locks import file_lock, lock_path

# holds the lock on argv[1] for argv[2] seconds, printing 'held' once it has it
_HOLDER = textwrap.dedent("""
    import sys, time
    from jetbench.core.locks import file_lock
    with file_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def test_second_process_waits_and_says_so(tmp_path, capsys):
    target = tmp_path / "sub" / "store.h5"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(target), "1.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.perf_counter()
        with file_lock(target, what="btag smoke train"):
            waited = time.perf_counter() - t0
        assert waited > 0.3  # it really waited for the other process to release
    finally:
        holder.wait(timeout=60)
    assert capsys.readouterr().err == \
        "jetbench: waiting for another process to finish btag smoke train\n"
    assert lock_path(target) == tmp_path / "sub" / ".store.h5.lock"


def test_uncontended_lock_is_silent_and_released(tmp_path, capsys):
    target = tmp_path / "a.npz"
    with file_lock(target):
        pass
    with file_lock(target):  # released: the same process takes it again at once
        pass
    assert capsys.readouterr().err == ""


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    target = tmp_path / "x.npz"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(target), "60"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)
    t0 = time.perf_counter()
    with file_lock(target):
        assert time.perf_counter() - t0 < 5
