"""What a smoke sweep writes to a captured stderr (a pipe, as in a SLURM log): plain lines, no
progress-bar frames; and the embedding cache it leaves is listed by encoder and task."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from jetbench.protocols.embedding_cache import cache_dir


def test_smoke_sweep_stderr_has_no_carriage_returns(tmp_path):
    t0 = time.time()
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
    # the embedding files this sweep used are recorded under its encoder and task (the cache
    # folder is shared with the other tests of the session: look at what was used since t0)
    used = [e for e in cache_dir().entries() if e.last_used >= t0]
    assert len(used) >= 2 and all(e.tags == {"encoder": ["scratch"], "task": ["btag"]}
                                  for e in used), used
    listing = subprocess.run([sys.executable, "-m", "jetbench", "cache", "list", "--json"],
                             capture_output=True, text=True, timeout=600, check=True)
    groups = json.loads(listing.stdout)["groups"]
    assert any(g["encoder"] == "scratch" and "btag" in g["tasks"].split(",") for g in groups)
