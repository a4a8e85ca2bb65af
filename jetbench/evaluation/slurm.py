"""`jetbench sweep --slurm FOLDER`: the sweep as SLURM jobs, submitted with submitit.

Two submissions: one job makes every task's data and pretrains every encoder (once, so array tasks
never race to do it), then a job array runs one cell per task once that job succeeded
(`afterok`). Cells that already have a result file are left out, and a cell whose result exists
with matching hashes is a no-op anyway, so re-submitting the same sweep resumes it.

Why submitit and not hand-written sbatch files: it writes and submits the array script, pickles
each cell to its task, keeps per-task logs, and re-queues a task that hits the time limit or is
pre-empted; partition, account, time, GPUs and CPUs map onto its checked sbatch parameters.
Jobs run with progress bars off (a log file is not a terminal) and the same JETBENCH_* caches.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbench.core.errors import JetbenchError
from jetbench.core.log import LEVEL_ENV, NO_PROGRESS_ENV, set_progress
from jetbench.evaluation.cell import Cell
from jetbench.evaluation.sweep import prepare

# environment the jobs need to find the same caches and settings as the submitting shell
_PATH_VARS = ("JETBENCH_DATA", "JETBENCH_CHECKPOINTS", "JETBENCH_TRACKING_DIR")
_PLAIN_VARS = (LEVEL_ENV, "JETBENCH_TRACK", "JETBENCH_THREADS", "WANDB_MODE", "WANDB_PROJECT",
               "MLFLOW_TRACKING_URI")


@dataclass(frozen=True)
class SlurmOptions:
    """What the cluster needs to know; None leaves it to the cluster's defaults."""

    partition: str | None = None
    account: str | None = None
    time: str = "02:00:00"  # per job, in any of sbatch's --time formats (see `minutes`)
    gpus: int | None = None  # per job; default 1 at paper scale, else 0
    cpus: int = 2
    mem_gb: float | None = None
    max_parallel: int = 50  # array tasks running at once


def minutes(value: str) -> int:
    """sbatch's --time formats in whole minutes (rounded up): '90' (minutes), '90:30'
    (minutes:seconds), '2:00:00' (hours:minutes:seconds), '1-12' / '1-12:30' / '1-12:30:00'
    (days-hours...)."""
    text = value.strip()
    if not re.fullmatch(r"(\d+-)?\d+(:\d+){0,2}", text):
        raise JetbenchError(f"--time {value!r}: expected minutes or sbatch's [D-]HH:MM:SS")
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # D-HH[:MM[:SS]]
        h, m, s = (parts + [0, 0])[:3]
    else:  # MM, MM:SS or HH:MM:SS
        h, m, s = {1: (0, parts[0], 0), 2: (0, *parts), 3: tuple(parts)}[len(parts)]
    total_s = int(days or 0) * 86400 + h * 3600 + m * 60 + s
    if total_s <= 0:
        raise JetbenchError(f"--time {value!r}: must be positive")
    return -(-total_s // 60)


def _setup_lines() -> list[str]:
    lines = [f"export {k}={shlex.quote(str(Path(v).resolve()))}"
             for k in _PATH_VARS if (v := os.environ.get(k))]
    lines += [f"export {k}={shlex.quote(v)}" for k in _PLAIN_VARS if (v := os.environ.get(k))]
    return lines + [f"export {NO_PROGRESS_ENV}=1"]


def executor(folder: str | os.PathLike, options: SlurmOptions, scale: str) -> Any:
    """A submitit SLURM executor for `folder` with `options` (sbatch and srun on PATH)."""
    missing = [exe for exe in ("sbatch", "srun") if shutil.which(exe) is None]
    if missing:
        raise JetbenchError(f"--slurm: {' and '.join(missing)} not found; run the sweep on a "
                            "SLURM login node")
    import submitit  # lazy: only --slurm needs it

    ex = submitit.SlurmExecutor(folder=str(Path(folder).resolve()))
    gpus = options.gpus if options.gpus is not None else (1 if scale == "paper" else 0)
    params: dict[str, Any] = dict(time=minutes(options.time), cpus_per_task=options.cpus,
                                  array_parallelism=options.max_parallel, setup=_setup_lines(),
                                  partition=options.partition, account=options.account)
    if gpus:
        params["gpus_per_node"] = gpus
    if options.mem_gb:
        params["mem"] = f"{int(options.mem_gb * 1024)}M"
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return ex


def prepare_job(cells: list[Cell], device: str) -> None:
    """Job 1: every task's data and every encoder's checkpoint, made once."""
    set_progress(False)
    prepare(cells, device, progress=False)


def cell_job(cell: Cell, results_dir: str, device: str) -> dict[str, Any]:
    """One array task: one cell. Raises on failure, so SLURM marks the task FAILED."""
    from jetbench.evaluation.run import run_cell  # lazy: torch, in the job only

    set_progress(False)
    out = run_cell(cell.encoder, cell.task, cell.protocol, budget=cell.budget, seed=cell.seed,
                   scale=cell.scale, device=device, results_dir=results_dir, progress=False)
    return {"cell": cell.id, "skipped": out.skipped, "score": out.result.score,
            "path": str(out.path) if out.path else None}


@dataclass(frozen=True)
class Submission:
    prepare_id: str
    array_id: str
    n_cells: int
    folder: Path


def submit_sweep(cells: list[Cell], folder: str | os.PathLike, results_dir: str | os.PathLike,
                 options: SlurmOptions = SlurmOptions(), device: str = "auto") -> Submission:
    """Submit the prepare job and, behind it, one array task per cell without a result file."""
    results = Path(results_dir).resolve()
    todo = [c for c in cells if not c.path(results).exists()]
    if not todo:
        raise JetbenchError(f"every cell of the sweep already has a result in {results}")
    scale = todo[0].scale
    ex = executor(folder, options, scale)
    ex.update_parameters(job_name="jetbench-prepare")
    prep = ex.submit(prepare_job, todo, device)
    ex.update_parameters(job_name="jetbench-sweep", dependency=f"afterok:{prep.job_id}")
    jobs = ex.map_array(cell_job, todo, [str(results)] * len(todo), [device] * len(todo))
    array_id = str(jobs[0].job_id).split("_")[0]
    return Submission(str(prep.job_id), array_id, len(todo), Path(folder).resolve())


__all__ = ["SlurmOptions", "Submission", "cell_job", "executor", "minutes", "prepare_job",
           "submit_sweep"]
