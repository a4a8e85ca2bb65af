"""SLURM submission through submitit, against a stand-in `sbatch` that records what it is given."""

from __future__ import annotations

import glob
import os
import stat
import subprocess

import pytest

from jetbench.core.errors import JetbenchError
from jetbench.evaluation.cell import Cell
from jetbench.evaluation.slurm import SlurmOptions, minutes, submit_sweep
from jetbench.evaluation.sweep import expand

# answers like sbatch and keeps a copy of each submitted script as <job id>.sh
FAKE_SBATCH = """#!/bin/bash
n=$(( $(ls "$SBATCH_RECORD" | wc -l) + 1001 ))
cp "${@: -1}" "$SBATCH_RECORD/$n.sh"
echo "Submitted batch job $n"
"""


@pytest.fixture
def sbatch(tmp_path, monkeypatch):
    bin_dir, record = tmp_path / "bin", tmp_path / "submitted"
    bin_dir.mkdir()
    record.mkdir()
    exe = bin_dir / "sbatch"
    exe.write_text(FAKE_SBATCH)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    srun = bin_dir / "srun"  # submitit looks for it to tell that this is a SLURM host
    srun.write_text("#!/bin/bash\nexit 1\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_RECORD", str(record))
    return record


def _cells():
    return expand(["mpm_flow", "scratch"], ["btag"], ["frozen", "finetune"], ["50", "150"], ["0"],
                  scale="smoke")


def test_array_behind_prepare_job_with_cluster_options(sbatch, tmp_path, monkeypatch):
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "data"))
    res = tmp_path / "res"
    res.mkdir()
    done = Cell("mpm_flow", "btag", "frozen", "smoke", 50, 0)
    (res / f"{done.id}.json").write_text("{}")  # finished cells are left out
    opts = SlurmOptions(partition="gpu", account="phys", time="1:30:00", gpus=1, cpus=4,
                        mem_gb=8, max_parallel=3)
    sub = submit_sweep(_cells(), tmp_path / "job", res, opts, device="cpu")
    assert (sub.prepare_id, sub.array_id, sub.n_cells) == ("1001", "1002", 7)
    prep, array = (sbatch / "1001.sh").read_text(), (sbatch / "1002.sh").read_text()
    for script in (prep, array):
        for line in ("#SBATCH --partition=gpu", "#SBATCH --account=phys", "#SBATCH --time=90",
                     "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=4",
                     "#SBATCH --mem=8192M", f"export JETBENCH_DATA={tmp_path / 'data'}",
                     "export JETBENCH_NO_PROGRESS=1"):
            assert line in script, (line, script)
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert "#SBATCH --job-name=jetbench-prepare" in prep and "--array" not in prep
    assert "#SBATCH --job-name=jetbench-sweep" in array
    assert "#SBATCH --array=0-6%3" in array and "#SBATCH --dependency=afterok:1001" in array


def test_each_array_task_runs_its_cell_without_progress_bars(sbatch, tmp_path, monkeypatch):
    from submitit.core.utils import DelayedSubmission

    import jetbench.evaluation.run as ec

    submit_sweep(_cells()[:2], tmp_path / "job", tmp_path / "res", SlurmOptions(), device="cpu")
    pickles = sorted(glob.glob(str(tmp_path / "job" / "1002_*_submitted.pkl")))
    assert len(pickles) == 2
    task = DelayedSubmission.load(pickles[1])
    calls = []

    class Out:
        skipped, path = False, tmp_path / "r.json"
        result = type("R", (), {"score": 0.5})()

    def fake_run_cell(*args, **kwargs):
        calls.append((args, kwargs, os.environ.get("JETBENCH_NO_PROGRESS")))
        return Out()

    monkeypatch.setattr(ec, "run_cell", fake_run_cell)
    monkeypatch.delenv("JETBENCH_NO_PROGRESS", raising=False)
    report = task.function(*task.args, **task.kwargs)
    (args, kwargs, no_progress), = calls
    cell = _cells()[1]
    assert args == (cell.encoder, cell.task, cell.protocol) and kwargs["budget"] == cell.budget
    assert kwargs["progress"] is False and no_progress == "1"
    assert kwargs["results_dir"] == str((tmp_path / "res").resolve())
    assert report == {"cell": cell.id, "skipped": False, "score": 0.5, "path": str(Out.path)}


def test_refusals(sbatch, tmp_path, monkeypatch):
    res = tmp_path / "res"
    res.mkdir()
    cells = _cells()[:1]
    (res / f"{cells[0].id}.json").write_text("{}")
    with pytest.raises(JetbenchError, match="already has a result"):
        submit_sweep(cells, tmp_path / "job", res)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(JetbenchError, match="sbatch and srun not found"):
        submit_sweep(_cells()[1:2], tmp_path / "job", res)
    with pytest.raises(JetbenchError, match="--time '1h'"):
        minutes("1h")


@pytest.mark.parametrize("text,expect", [("90", 90), ("90:30", 91), ("2:00:00", 120),
                                         ("1-12", 2160), ("1-12:30", 2190), ("0:59", 1)])
def test_time_formats_of_sbatch(text, expect):
    assert minutes(text) == expect


def test_sweep_command_submits(sbatch, tmp_path, capsys):
    from jetbench.cli import main

    code = main(["sweep", "--encoders", "scratch", "--tasks", "btag", "--protocols", "frozen",
                 "--budgets", "50,150", "--scale", "smoke", "--results", str(tmp_path / "res"), "--slurm",
                 str(tmp_path / "job"), "--partition", "short", "--account", "phys", "--time",
                 "90", "--gpus", "2", "--max-parallel", "1"])
    assert code == 0
    assert "2 cells: SLURM job 1001 (data and encoders), then array job 1002" in \
        capsys.readouterr().out
    array = (sbatch / "1002.sh").read_text()
    for line in ("#SBATCH --partition=short", "#SBATCH --account=phys", "#SBATCH --time=90",
                 "#SBATCH --gpus-per-node=2", "#SBATCH --array=0-1%1"):
        assert line in array
