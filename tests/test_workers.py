"""Worker processes die with their parent: SIGKILL, SIGTERM or Ctrl-C of the parent leaves no
process behind (the generator's pool, `sweep -j`, and core.workers.worker_pool itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]

_PARENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from jetbench.core.files import atomic_path
    from jetbench.core.workers import terminate_as_interrupt, worker_pool

    def task(folder, i):
        with atomic_path(Path(folder) / f"out{i}.txt") as tmp:
            tmp.write_text("partial")
            time.sleep(120)  # still running when the parent is killed

    if __name__ == "__main__":
        with terminate_as_interrupt(), worker_pool(2) as pool:
            futures = [pool.submit(task, sys.argv[1], i) for i in range(2)]
            [f.result() for f in futures]
""")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


def _workers(pid: int, n: int = 2, timeout: float = 120.0) -> list[psutil.Process]:
    """Every descendant of `pid` once `n` spawned pool workers exist (resource tracker included)."""
    def cmdline(p: psutil.Process) -> str:
        try:
            return " ".join(p.cmdline())
        except psutil.Error:  # gone, or a short-lived helper not yet reaped (zombie)
            return ""

    deadline = time.time() + timeout
    while time.time() < deadline:
        kids = psutil.Process(pid).children(recursive=True)
        if sum("spawn_main" in cmdline(k) for k in kids) >= n:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"{n} workers of {pid} did not start within {timeout} s")


def _alive(procs: list[psutil.Process], wait: float = 15.0) -> list[int]:
    """Pids still running (zombies count as gone: init may not reap them) after up to `wait` s."""
    def running(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.time() + wait
    while time.time() < deadline and any(running(p) for p in procs):
        time.sleep(0.1)
    left = [p.pid for p in procs if running(p)]
    for pid in left:  # do not leak them into the rest of the session
        os.kill(pid, signal.SIGKILL)
    return left


def _start(cmd: list[str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    # output to a file, not a pipe: a surviving worker holding the pipe would hang the test
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=_env(),
                            cwd=cwd)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_worker_pool_dies_with_parent(tmp_path, sig):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    proc = _start([sys.executable, str(script), str(tmp_path)], tmp_path / "log")
    kids = _workers(proc.pid)
    time.sleep(1.5)  # the tasks are inside atomic_path now
    assert sorted(p.name for p in tmp_path.glob(".out*")), "tasks should hold temp files"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert _alive(kids) == []
    if sig != signal.SIGKILL:  # the parent stopped and reaped them itself
        assert proc.returncode != 0
    assert not list(tmp_path.glob(".out*")) and not list(tmp_path.glob("out*")), \
        "a terminated worker removes its temp file"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_generation_leaves_no_worker(tmp_path, sig):
    out = tmp_path / "gen.h5"
    proc = _start([sys.executable, "-m", "jetbench", "data", "generate", "jetclass", "--n", "2000",
                   "--workers", "2", "--out", str(out), "--no-progress"], tmp_path / "log")
    kids = _workers(proc.pid)
    time.sleep(1.0)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert _alive(kids) == []
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        assert (tmp_path / "log").read_text().strip().splitlines()[-1] == "jetbench: terminated"
    assert list(tmp_path.iterdir()) == [tmp_path / "log"]


@pytest.mark.slow
def test_killed_sweep_leaves_no_worker(tmp_path):
    """SIGKILL of the sweep parent alone (not its process group): the 2 workers exit too."""
    cmd = [sys.executable, "-m", "jetbench", "sweep", "--encoders", "scratch", "--tasks", "btag",
           "--protocols", "finetune", "--budgets", "50,150", "--seeds", "0,1", "--scale", "smoke",
           "--results", str(tmp_path / "res"), "-j", "2", "--threads", "2"]
    subprocess.run([*cmd, "--prepare-only"], check=True, capture_output=True, timeout=900,
                   env=_env())
    proc = _start(cmd, tmp_path / "log")
    kids = _workers(proc.pid, timeout=300)
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _alive(kids) == []
    res = tmp_path / "res"
    assert not list(res.glob(".*tmp*")) if res.exists() else True
