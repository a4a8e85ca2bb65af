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


def _default_sigint() -> None:
    """A shell that started the tests in the background (`cmd &`, nohup) leaves SIGINT ignored,
    which children inherit and Python then never turns into KeyboardInterrupt: give the child
    the default disposition, as a terminal's Ctrl-C would find it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(cmd: list[str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    # output to a file, not a pipe: a surviving worker holding the pipe would hang the test
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=_env(),
                            cwd=cwd, preexec_fn=_default_sigint)


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


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_generation_leaves_no_worker(tmp_path, sig):
    out = tmp_path / "gen.h5"
    proc = _start([sys.executable, "-m", "jetbench", "data", "generate", "jetclass", "--n", "2000",
                   "--workers", "2", "--out", str(out), "--no-progress"], tmp_path / "log")
    kids = _workers(proc.pid)
    time.sleep(1.0)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert _alive(kids) == []
    if sig != signal.SIGKILL:  # the parent stops its workers, says so in one line
        code, word = {signal.SIGTERM: (143, "terminated"), signal.SIGINT: (130, "interrupted")}[sig]
        assert proc.returncode == code
        assert (tmp_path / "log").read_text().strip().splitlines()[-1] == f"jetbench: {word}"
    assert list(tmp_path.iterdir()) == [tmp_path / "log"]


# a plug-in whose encode() marks that its worker is inside a cell, then blocks: the sweep is
# killed mid-cell without any real training; its data is a tiny task of its own. Fine-tuning, so
# the two cells share no embedding cache file (a frozen cell would wait for the other's).
_SLEEPY = textwrap.dedent("""
    import os, time
    from pathlib import Path
    import torch
    from torch import nn
    from jetbench.encoders import Encoder

    class Sleepy(Encoder):
        def __init__(self, dim=4):
            super().__init__()
            self.name, self.embed_dim, self._config = "sleepy", dim, {"dim": dim}
            torch.manual_seed(0)
            self.lin = nn.Linear(7, dim)

        def encode(self, batch):
            Path(os.environ["SLEEPY_MARKS"], f"cell-{os.getpid()}").write_text("in a cell")
            time.sleep(120)
            x = self.lin(batch["csts"].float()) * batch["mask"][..., None]
            return x.sum(1), x, batch["mask"]

    def make(scale="smoke", **overrides):
        return Sleepy(**overrides)
""")


def _tiny_task(folder: Path) -> None:
    """btag's definition under the name 'tiny', its smoke splits cut from one small store of random
    jets (no generator run); the cpu and paper splits only need to hold their budgets: they are
    never made here."""
    from conftest import random_batch

    from jetbench.core.hashing import sha256_file
    from jetbench.data.store import write_store

    folder.mkdir()
    store = folder / "jets.h5"
    write_store(store, random_batch(520, "btag", seed=3), "btag")
    part = f"path: {store}, sha256: {sha256_file(str(store))}"
    smoke = (f"{{train: [{{{part}, stop: 400}}], val: [{{{part}, start: 400, stop: 460}}], "
             f"test: [{{{part}, start: 460, stop: 520}}]}}")
    big = ("{{train: {{n: 3000000, seed: {0}}}, val: {{n: 60, seed: {1}}}, "
           "test: {{n: 60, seed: {2}}}}}")
    data = (f"data:\n  dataset: btag\n  profile: btag\n  scales:\n    smoke: {smoke}\n"
            f"    cpu: {big.format(9701, 9702, 9703)}\n    paper: {big.format(9711, 9712, 9713)}\n")
    btag = (ROOT / "jetbench" / "tasks" / "definitions" / "btag.yaml").read_text()
    (folder / "tiny.yaml").write_text(btag.replace("name: btag", "name: tiny")
                                      .replace("data: btag\n", data))


def test_killed_sweep_mid_cell_leaves_no_worker(tmp_path):
    """SIGKILL of `sweep -j 2` (the parent alone, not its process group) while both workers are
    inside a cell: both workers exit, and no result or temp file is left."""
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "sleepyplug.py").write_text(_SLEEPY)
    _tiny_task(tmp_path / "tasks")
    marks, res = tmp_path / "marks", tmp_path / "res"
    marks.mkdir()
    env = {**_env(), "JETBENCH_TASKS": str(tmp_path / "tasks"), "SLEEPY_MARKS": str(marks),
           "JETBENCH_DATA": str(tmp_path / "data"), "JETBENCH_RESULTS": str(res),
           "JETBENCH_CHECKPOINTS": str(tmp_path / "ckpt"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "plug"), _env()["PYTHONPATH"]])}
    cmd = [sys.executable, "-m", "jetbench", "sweep", "--encoders", "sleepyplug:make", "--tasks",
           "tiny", "--protocols", "finetune", "--budgets", "50", "--seeds", "0,1", "--scale",
           "smoke", "--results", str(res), "-j", "2", "--threads", "2", "--no-progress"]
    log = tmp_path / "log"
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 300
        while len(list(marks.iterdir())) < 2:  # both workers inside encode()
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, "the workers did not reach encode()"
            time.sleep(0.2)
        kids = psutil.Process(proc.pid).children(recursive=True)
        in_cell = {int(m.name.split("-")[1]) for m in marks.iterdir()}
        assert in_cell <= {k.pid for k in kids}, "the cells run in the sweep's workers"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert _alive(kids) == []
    assert not list(res.rglob("*.json")) and not list(res.rglob(".*")) if res.exists() else True


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
