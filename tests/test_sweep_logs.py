"""What a smoke sweep writes to a captured stderr (a pipe, as in a SLURM log): plain lines, no
progress-bar frames; and the embedding cache it leaves is listed by encoder and task."""

from __future__ import annotations

import json
import subprocess
import sys


def test_smoke_sweep_stderr_has_no_carriage_returns(tmp_path):
    cmd = [sys.executable, "-m", "jetbench", "sweep", "--encoders", "scratch", "--tasks", "btag",
           "--protocols", "frozen", "--scale", "smoke", "--results", str(tmp_path / "res"),
           "--threads", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)  # stderr: a pipe
    assert out.returncode == 0, out.stderr[-2000:]
    assert "\r" not in out.stderr, out.stderr[:2000]
    lines = out.stderr.splitlines()
    assert "jetbench sweep: 1 cells; preparing data and encoders" in lines
    assert any(line.startswith("jetbench sweep: [1/1] scratch") for line in lines)
    assert all(line.startswith("jetbench") for line in lines), lines  # one plain line each
    listing = subprocess.run([sys.executable, "-m", "jetbench", "cache", "list", "--json"],
                             capture_output=True, text=True, timeout=600, check=True)
    groups = json.loads(listing.stdout)["groups"]
    assert {(g["encoder"], g["tasks"]) for g in groups} == {("scratch", "btag")}
    assert sum(g["files"] for g in groups) >= 2  # the train/val/test stores' embeddings
