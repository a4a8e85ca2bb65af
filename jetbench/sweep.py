"""`jetbench sweep`: the grid encoder x task x protocol x budget x seed, run locally or on SLURM.

Resumable by construction: every cell writes its own result JSON atomically, and a cell whose
result exists with matching hashes is skipped. Data and pretrained encoders are produced once,
before any worker starts, so workers never race to generate or pretrain the same thing.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_text
from jetbench.core.workers import worker_pool
from jetbench.results import cell_id, cell_path


@dataclass(frozen=True)
class Cell:
    encoder: str
    task: str
    protocol: str
    scale: str
    budget: int
    seed: int

    @property
    def id(self) -> str:
        return cell_id(self.encoder, self.task, self.protocol, self.scale, self.budget, self.seed)

    def run_args(self, results_dir: str | Path) -> list[str]:
        """Arguments of the equivalent `jetbench run` command."""
        return ["--encoder", self.encoder, "--task", self.task, "--protocol", self.protocol,
                "--budget", str(self.budget), "--seed", str(self.seed), "--scale", self.scale,
                "--results", str(results_dir)]


def split_list(values: list[str] | None) -> list[str]:
    """['a,b', 'c'] -> ['a', 'b', 'c'] (repeated flags and comma lists both work)."""
    return [v.strip() for item in values or [] for v in str(item).split(",") if v.strip()]


def _numbers(values: list[str], what: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise JetbenchError(f"--{what}: expected whole numbers or 'all', got {values}") from None


def expand(encoders: list[str], tasks: list[str], protocols: list[str],
           budgets: list[str] | None = None, seeds: list[str] | None = None,
           scale: str = "cpu") -> list[Cell]:
    """The grid. Budgets/seeds default to each task's defaults at the scale; 'all' = all of the
    task's; numbers apply to every task. Names are checked up front (unknown ones are listed)."""
    from jetbench.evaluate_cell import check_names, resolve_budget
    from jetbench.tasks import get_task

    encoders, tasks, protocols = split_list(encoders), split_list(tasks), split_list(protocols)
    budgets, seeds = split_list(budgets), split_list(seeds)
    for what, values in (("encoders", encoders), ("tasks", tasks), ("protocols", protocols)):
        if not values:
            raise JetbenchError(f"--{what}: give at least one name")
    for e in encoders:
        for t in tasks:
            for p in protocols:
                check_names(e, t, p)
    cells = []
    for t in tasks:
        spec = get_task(t)
        spec.scale(scale)
        if not budgets:
            b_list = [spec.default_budget(scale)]
        elif budgets == ["all"]:
            b_list = spec.budgets[scale]
        else:
            b_list = [resolve_budget(spec, scale, b) for b in _numbers(budgets, "budgets")]
        if not seeds:
            s_list = spec.default_seeds(scale)
        elif seeds == ["all"]:
            s_list = spec.seeds[scale]
        else:
            s_list = _numbers(seeds, "seeds")
        cells += [Cell(e, t, p, scale, int(b), int(s)) for e in encoders for p in protocols
                  for b in b_list for s in s_list]
    return list(dict.fromkeys(cells))


def prepare(cells: list[Cell], device: str = "auto", progress: bool = True) -> dict:
    """Produce every task's data and every encoder's checkpoint once (in this process)."""
    from jetbench.evaluate_cell import load_encoder_for, prepare_data
    from jetbench.pretraining.config import resolve_device
    from jetbench.tasks import get_task

    scale = cells[0].scale if cells else "cpu"
    for task in dict.fromkeys(c.task for c in cells):
        prepare_data(get_task(task), scale, progress)
    dev = str(resolve_device(device))
    return {e: load_encoder_for(e, scale, dev) for e in dict.fromkeys(c.encoder for c in cells)}


def pending(cells: list[Cell], results_dir: str | Path, device: str = "auto",
            encoders: dict | None = None) -> tuple[list[Cell], list[Cell]]:
    """(to run, already done with matching hashes)."""
    from jetbench.evaluate_cell import finished, plan_cell

    todo, done = [], []
    for c in cells:
        plan = plan_cell(c.encoder, c.task, c.protocol, budget=c.budget, seed=c.seed,
                         scale=c.scale, device=device, results_dir=results_dir, progress=False,
                         encoders=encoders)
        (done if finished(plan)[0] is not None else todo).append(c)
    return todo, done


_WORKER_ENCODERS: dict = {}


def _run_one(cell: Cell, results_dir: str, device: str, force: bool, threads: int,
             progress: bool) -> dict[str, Any]:
    """One cell in a worker: never raises, reports the outcome."""
    from jetbench.evaluate_cell import run_cell

    t0 = time.perf_counter()
    try:
        out = run_cell(cell.encoder, cell.task, cell.protocol, budget=cell.budget, seed=cell.seed,
                       scale=cell.scale, device=device, results_dir=results_dir, force=force,
                       progress=progress, threads=threads, encoders=_WORKER_ENCODERS)
    except Exception as err:  # noqa: BLE001 - one failed cell must not stop the sweep
        return {"cell": cell.id, "status": "failed", "score": None,
                "seconds": round(time.perf_counter() - t0, 1),
                "error": f"{type(err).__name__}: {err}"}
    r = out.result
    return {"cell": cell.id, "status": "skipped" if out.skipped else "done",
            "score": f"{r.main_score}={r.score:.4f}", "seconds": round(time.perf_counter() - t0, 1),
            "error": ""}


def run_local(cells: list[Cell], results_dir: str | Path, workers: int = 1, device: str = "auto",
              force: bool = False, threads: int | None = None) -> list[dict[str, Any]]:
    """Run cells in this process (workers=1) or in a pool of `workers` spawned processes."""
    from jetbench.evaluate_report import auto_threads

    per_worker = max(1, auto_threads(threads) // max(workers, 1))
    if workers <= 1:
        out = []
        for i, c in enumerate(cells, 1):
            print(f"jetbench sweep: [{i}/{len(cells)}] {c.id}", file=sys.stderr, flush=True)
            out.append(_run_one(c, str(results_dir), device, force, per_worker, True))
        return out
    outcomes: list[dict[str, Any]] = []
    with worker_pool(workers) as pool:  # workers die with this process; Ctrl-C/SIGTERM stop them
        futures = {pool.submit(_run_one, c, str(results_dir), device, force, per_worker, False): c
                   for c in cells}
        remaining = set(futures)
        while remaining:
            finished_now, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for f in finished_now:
                try:
                    o = f.result()
                except Exception as err:  # noqa: BLE001 - a worker process died
                    o = {"cell": futures[f].id, "status": "failed", "score": None,
                         "seconds": None, "error": f"worker died: {err}"}
                outcomes.append(o)
                print(f"jetbench sweep: [{len(outcomes)}/{len(cells)}] {o['cell']}: "
                      f"{o['status']} {o['score'] or o['error']}", file=sys.stderr, flush=True)
    return outcomes


def write_slurm(cells: list[Cell], folder: str | Path, results_dir: str | Path,
                grid_args: list[str], cpus: int = 2, time_limit: str = "02:00:00",
                max_parallel: int = 50) -> Path:
    """A SLURM array (one cell per index, read from cells.txt) behind a prepare job; returns
    the submit script. Cells whose result file already exists are left out of the list (and
    `jetbench run` itself skips a finished cell with matching hashes)."""
    folder = Path(folder).resolve()
    results_dir = Path(results_dir).resolve()
    todo = [c for c in cells if not cell_path(results_dir, c.encoder, c.task, c.protocol, c.scale,
                                              c.budget, c.seed).exists()]
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


def summary_table(outcomes: list[dict[str, Any]]) -> str:
    rows = [[o["cell"], o["status"], o["score"] or "", o["seconds"] if o["seconds"] is not None
             else "", o["error"][:80]] for o in outcomes]
    return tabulate(rows, headers=["cell", "status", "main score", "s", "error"])


__all__ = ["Cell", "expand", "pending", "prepare", "run_local", "summary_table", "write_slurm"]
