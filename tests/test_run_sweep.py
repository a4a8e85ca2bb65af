"""`jetbench sweep`: grid expansion, resume after being killed mid-way (SLURM: test_slurm.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from jetbench.core.errors import JetbenchError
from jetbench.evaluation.results import load_results
from jetbench.evaluation.sweep import expand, split_list


def test_expand_grid_defaults_all_and_numbers():
    cells = expand(["mpm_flow,scratch"], ["btag", "vertexing"], ["frozen"], scale="smoke")
    assert len(cells) == 4 and {c.budget for c in cells} == {150}
    cells = expand(["mpm_flow"], ["jetclass"], ["frozen", "linear"], ["all"], ["0", "1"],
                   scale="cpu")
    assert sorted({c.budget for c in cells}) == [100, 1000, 10000] and len(cells) == 12
    cells = expand(["mpm_flow"], ["jetclass", "jetclass"], ["linear"], ["100", "100"], ["all"],
                   scale="cpu")
    assert len(cells) == 3  # duplicates removed; 'all' seeds = the task's seeds (0, 1, 2)
    assert split_list(["a, b", "c"]) == ["a", "b", "c"]


@pytest.mark.parametrize("kw,match", [
    (dict(encoders=["nope"]), "unknown encoder 'nope'"),
    (dict(protocols=["frozn"]), "did you mean 'frozen'"),
    (dict(budgets=["99999"]), "the maximum budget is 150"),
    (dict(seeds=["x"]), "--seeds: expected whole numbers"),
    (dict(tasks=[]), "--tasks: give at least one name"),
])
def test_expand_refuses_bad_grids(kw, match):
    args = dict(encoders=["mpm_flow"], tasks=["btag"], protocols=["frozen"], budgets=None,
                seeds=None, scale="smoke") | kw
    with pytest.raises(JetbenchError, match=match):
        expand(**args)


# 8 cells: the fine-tuning ones take long enough that a kill after the first finished cell lands
# before the last one, even on an idle machine (4 fast frozen/linear cells could all finish
# within one polling interval)
_PROTOCOLS = ("frozen", "linear", "finetune", "scratch")
_CELLS = len(_PROTOCOLS) * 2


def _sweep(results, workers: int) -> list[str]:
    return [sys.executable, "-m", "jetbench", "sweep", "--encoders", "mpm_flow", "--tasks", "btag",
            "--protocols", ",".join(_PROTOCOLS), "--budgets", "50,150", "--seeds", "0", "--scale",
            "smoke", "--results", str(results), "--workers", str(workers), "--threads", "2"]


def test_killed_sweep_resumes(tmp_path):
    res = tmp_path / "res"
    # prepare data and encoder first so the kill lands while cells run
    subprocess.run(_sweep(res, 2) + ["--prepare-only"], check=True, capture_output=True,
                   timeout=900)
    proc = subprocess.Popen(_sweep(res, 2), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while not list(res.glob("*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-way
    proc.wait()
    first = {p.name: p.stat().st_mtime_ns for p in res.glob("*.json")}
    assert 1 <= len(first) < _CELLS, "the kill should land between the first and the last cell"
    out = subprocess.run(_sweep(res, 1), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert f"{len(first)} already done, {_CELLS - len(first)} to run" in out.stderr
    results = load_results(res)
    assert len(results) == _CELLS
    assert {(r.protocol, r.budget) for r in results} == {(p, b) for p in _PROTOCOLS
                                                         for b in (50, 150)}
    for name, mtime in first.items():  # finished cells were not redone
        assert (res / name).stat().st_mtime_ns == mtime
    again = subprocess.run(_sweep(res, 1), capture_output=True, text=True, timeout=900)
    assert f"{_CELLS} already done, 0 to run" in again.stderr
