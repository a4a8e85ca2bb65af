"""SLURM array jobs for a sweep: a prepare job (data and pretraining once), then one array task
per cell, each a plain `jetbench run` (which itself skips a finished cell with matching hashes)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_text
from jetbench.evaluation.cell import Cell


def write_slurm(cells: list[Cell], folder: str | Path, results_dir: str | Path,
                grid_args: list[str], cpus: int = 2, time_limit: str = "02:00:00",
                max_parallel: int = 50) -> Path:
    """A SLURM array (one cell per index, read from cells.txt) behind a prepare job; returns
    the submit script. Cells whose result file already exists are left out of the list (and
    `jetbench run` itself skips a finished cell with matching hashes)."""
    folder = Path(folder).resolve()
    results_dir = Path(results_dir).resolve()
    todo = [c for c in cells if not c.path(results_dir).exists()]
    if not todo:
        raise JetbenchError(f"every cell of the sweep already has a result in {results_dir}")
    python = shlex.quote(sys.executable)
    env = "".join(f"export {k}={shlex.quote(str(Path(v).resolve()))}\n"
                  for k in ("JETBENCH_DATA", "JETBENCH_CHECKPOINTS") if (v := os.environ.get(k)))
    gpu = "#SBATCH --gres=gpu:1\n" if todo[0].scale == "paper" else ""
    header = (f"#!/bin/bash\n#SBATCH --cpus-per-task={cpus}\n#SBATCH --time={time_limit}\n{gpu}"
              f"#SBATCH --output={folder}/logs/%x-%A_%a.out\n")
    write_text(folder / "cells.txt",
               "".join(shlex.join(c.run_args(results_dir)) + "\n" for c in todo))
    write_text(folder / "prepare.sbatch", header.replace("_%a", "") +
               f"#SBATCH --job-name=jetbench-prepare\nset -euo pipefail\n{env}"
               f"exec {python} -m jetbench sweep {shlex.join(grid_args)} --prepare-only\n")
    write_text(folder / "array.sbatch", header +
               f"#SBATCH --job-name=jetbench-sweep\n#SBATCH --array=0-{len(todo) - 1}"
               f"%{max_parallel}\nset -euo pipefail\n{env}"
               f'ARGS=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {folder}/cells.txt)\n'
               f"eval exec {python} -m jetbench run --no-progress $ARGS\n")
    submit = folder / "submit.sh"
    write_text(submit, "#!/bin/bash\n# data and pretraining once, then one array task per cell\n"
               f"set -euo pipefail\nPREP=$(sbatch --parsable {folder}/prepare.sbatch)\n"
               f"sbatch --dependency=afterok:$PREP {folder}/array.sbatch\n")
    submit.chmod(0o755)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    return submit
