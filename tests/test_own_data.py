"""The documented path from your own arrays to a result (docs/own-data.md, 'Try it in a minute'):
`data import` of an npz of 4-vectors -> a task YAML in a `--tasks-dir` folder (smoke scale only)
-> a `scratch` result, by the same commands the page shows; `jetbench.evaluate` runs the task
too. No jetclass data is generated: scratch fits its input transform on the task's own jets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from jetbench.cli import main as cli_main
from jetbench.core.errors import JetbenchError

DOC = Path(__file__).resolve().parents[1] / "docs" / "own-data.md"
COMMANDS = [
    "jetbench data import my_jets.npz --out my_jets.h5 --field e=E --field px=px --field py=py "
    "--field pz=pz --label-field label --labels QCD,signal --name mytag --tasks-dir mytasks",
    "jetbench list tasks --tasks-dir mytasks --scale smoke",
    "jetbench run --encoder scratch --task mytag --tasks-dir mytasks --scale smoke --results results",
]
TASK = """\
name: mytag
version: 1
description: My signal vs QCD jets, from my_jets.h5.
data:
  dataset: mytag            # the definition data import wrote to mytasks/datasets/mytag.yaml
  scales:
    smoke:
      train: {path: /data/my_jets.h5, sha256: SHA256, start: 0, stop: 200}
      val: {path: /data/my_jets.h5, sha256: SHA256, start: 200, stop: 250}
      test: {path: /data/my_jets.h5, sha256: SHA256, start: 250}
head: jet_class
loss: {name: cross_entropy, label_smoothing: 0.1}
metrics: [auc, accuracy]
main_score: auc
class_balanced: true
scales:
  smoke:
    budgets: [100]
    default_budget: 100
    seeds: [0]
    default_seeds: [0]
    training: {max_epochs: 2, max_steps: 10, batch_size: 32}
"""


def write_npz(path: Path, n: int = 300, seed: int = 0) -> None:
    """Zero-padded constituent 4-vectors E, px, py, pz [n, 40] and a 0/1 label, as in the docs
    (signal jets are wider, so the classes differ)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    counts = rng.integers(5, 40, n)
    real = np.arange(40)[None] < counts[:, None]
    pt = rng.exponential(20, (n, 40)) + 1
    width = np.where(label[:, None] == 1, 0.3, 0.1)
    eta = rng.normal(0, 1, (n, 1)) + rng.normal(0, 1, (n, 40)) * width
    phi = rng.uniform(-3, 3, (n, 1)) + rng.normal(0, 1, (n, 40)) * width
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2)
    arrays = {k: np.where(real, v, 0.0).astype(np.float32)
              for k, v in {"E": e, "px": px, "py": py, "pz": pz}.items()}
    np.savez(path, **arrays, label=label)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh folder as the working directory; the task and dataset search paths the CLI's
    `--tasks-dir` sets for its process are undone afterwards."""
    from jetbench.data.definitions import refresh_definitions

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("JETBENCH_CHECKPOINTS", str(tmp_path / "checkpoints"))
    for var in ("JETBENCH_TASKS", "JETBENCH_DATASETS"):
        monkeypatch.setenv(var, "")
    yield tmp_path
    monkeypatch.undo()
    refresh_definitions()


def test_documented_sequence_import_task_scratch_result(workdir, capsys):
    page = " ".join(DOC.read_text().split())
    for command in COMMANDS:
        assert command in page, f"docs/own-data.md no longer shows: {command}"
    assert " ".join(TASK.replace("SHA256", "<sha256 printed by data import>").split()) in page

    write_npz(workdir / "my_jets.npz")
    (workdir / "mytasks").mkdir()
    assert cli_main(COMMANDS[0].split()[1:]) == 0
    out = capsys.readouterr().out
    sha = out.split("sha256 ")[1].split()[0]
    assert (workdir / "mytasks" / "datasets" / "mytag.yaml").is_file()
    task = TASK.replace("SHA256", sha).replace("/data/my_jets.h5", str(workdir / "my_jets.h5"))
    (workdir / "mytasks" / "mytag.yaml").write_text(task)

    assert cli_main(COMMANDS[1].split()[1:]) == 0
    assert "mytag" in capsys.readouterr().out
    assert cli_main(COMMANDS[2].split()[1:]) == 0
    results = list((workdir / "results").rglob("*.json"))
    result = json.loads(next(p for p in results if "predictions" not in p.name).read_text())
    assert result["task"] == "mytag" and result["encoder"] == "scratch"
    assert 0.0 <= result["metrics"]["auc"] <= 1.0 and result["config"]["run"]["n_test"] == 50
    assert not (workdir / "cache" / "generated").exists()  # no jetclass split was generated
    assert not (workdir / "checkpoints").exists() or not any((workdir / "checkpoints").iterdir())


def test_evaluate_runs_a_task_folder_and_restores_the_search_path(workdir, capsys):
    import jetbench

    write_npz(workdir / "my_jets.npz", seed=1)
    (workdir / "mytasks").mkdir()
    assert cli_main(COMMANDS[0].split()[1:]) == 0
    sha = capsys.readouterr().out.split("sha256 ")[1].split()[0]
    (workdir / "mytasks" / "mytag.yaml").write_text(
        TASK.replace("SHA256", sha).replace("/data/my_jets.h5", str(workdir / "my_jets.h5")))
    results = jetbench.evaluate("scratch", tasks=["mytag"], protocol="finetune", scale="smoke",
                                tasks_dir=workdir / "mytasks", progress=False)
    assert len(results) == 1 and results[0].task == "mytag"
    assert not os.environ["JETBENCH_TASKS"]  # the folder was on the path for the call only
    with pytest.raises(JetbenchError, match="unknown task 'mytag'"):
        jetbench.evaluate("scratch", tasks=["mytag"], scale="smoke", progress=False)
    with pytest.raises(JetbenchError, match="task 'mytag' is not defined at scale 'cpu' "
                                            r"\(it defines smoke\)"):
        jetbench.evaluate("scratch", tasks=["mytag"], scale="cpu", progress=False,
                          tasks_dir=workdir / "mytasks")
