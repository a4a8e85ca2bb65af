"""docs/own-data.md works as written: its dataset and task YAML, read from the page itself, with
its `data import` command, give a task that `list tasks` shows and `data prepare` splits.

One subprocess (the dataset registry is read when jetbench is imported, from $JETBENCH_DATASETS),
60 random jets, no encoder: a few seconds plus the imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "own-data.md"


def _block(text: str, first_line: str) -> str:
    """The fenced code block of the page that starts with `first_line`."""
    for _lang, body in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S):
        if body.startswith(first_line):
            return body
    raise AssertionError(f"docs/own-data.md has no code block starting with {first_line!r}")


def _import_command(text: str) -> list[str]:
    cmd = _block(text, "jetbench data import").split("\njetbench data info")[0]
    return cmd.replace("\\\n", " ").split()[1:]  # without the leading 'jetbench'


def _my_jets(path: Path, n: int = 60, m: int = 12) -> None:
    """Zero-padded constituent 4-vectors E, px, py, pz [n, m] and labels 0/1, as on the page."""
    rng = np.random.default_rng(0)
    counts = rng.integers(3, m + 1, n)
    real = np.arange(m)[None] < counts[:, None]
    pt = np.where(real, rng.exponential(30.0, (n, m)) + 1.0, 0.0)
    eta = np.where(real, rng.normal(0.0, 0.3, (n, m)), 0.0)
    phi = np.where(real, rng.normal(0.5, 0.3, (n, m)), 0.0)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    np.savez(path, E=np.sqrt(px**2 + py**2 + pz**2), px=px, py=py, pz=pz,
             label=np.arange(n) % 2)


def test_own_data_page_runs_as_written(tmp_path):
    text = PAGE.read_text()
    datasets, tasks = tmp_path / "mydatasets", tmp_path / "mytasks"
    datasets.mkdir()
    tasks.mkdir()
    (datasets / "mytag.yaml").write_text(_block(text, "# mydatasets/mytag.yaml"))
    _my_jets(tmp_path / "my_jets.npz")
    args = _import_command(text)
    assert args[:3] == ["data", "import", "my_jets.npz"] and "--dataset" in args
    script = textwrap.dedent(f"""
        import hashlib, json, sys
        from jetbench.cli import main
        assert main({args!r}) == 0
        sha = hashlib.sha256(open("my_jets.h5", "rb").read()).hexdigest()
        task = {_block(text, "# mytasks/mytag.yaml")!r}
        task = (task.replace("/data/my_jets.h5", {str(tmp_path / "my_jets.h5")!r})
                .replace("<64 hex digits>", sha).replace("20000", "30").replace("25000", "45"))
        open({str(tasks / "mytag.yaml")!r}, "w").write(task)
        assert main(["list", "tasks", "--json"]) == 0
        assert main(["data", "prepare", "mytag", "--scale", "smoke", "--json"]) == 0
    """)
    check = tmp_path / "check.py"
    check.write_text(script)
    env = {**os.environ, "JETBENCH_DATASETS": str(datasets), "JETBENCH_TASKS": str(tasks),
           "JETBENCH_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(check)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    listed, prepared = (json.loads(part) for part in _json_documents(out.stdout))
    mytag = next(t for t in listed if t["name"] == "mytag")
    assert mytag["data"] == "mytag" and mytag["main_score"] == "auc"
    assert {s: v["n_jets"] for s, v in prepared["splits"].items()} == {"train": 30, "val": 15,
                                                                        "test": 15}
    assert hashlib.sha256((tmp_path / "my_jets.h5").read_bytes()).hexdigest()


def _json_documents(stdout: str) -> list[str]:
    """The JSON documents printed one after another (each starts at a line with '[' or '{')."""
    starts = [m.start() for m in re.finditer(r"^[\[{]", stdout, flags=re.M)]
    return [stdout[a:b] for a, b in zip(starts, [*starts[1:], len(stdout)], strict=True)]
