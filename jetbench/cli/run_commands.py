"""`jetbench run` (one cell) and `jetbench sweep` (a grid of cells, local workers or SLURM)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from jetbench.cli.app import (
    app,
    no_progress_option,
    progress_wanted,
    tasks_dir_option,
    tasks_dirs_wanted,
    track_option,
    tracking_wanted,
)
from jetbench.core import preflight
from jetbench.core.errors import JetbenchError
from jetbench.core.log import get_logger


@app.command("run")
def run(
    encoder: str = typer.Option(..., "--encoder", "-e", help="Encoder name (jetbench list "
                                "encoders) or a 'module:factory' spec."),
    task: str = typer.Option(..., "--task", "-t", help="Task name (jetbench list tasks)."),
    protocol: str = typer.Option(None, "--protocol", "-p",
                                 help="frozen | linear | finetune | scratch (default: finetune)."),
    budget: int = typer.Option(None, "--budget", "-b", help="Label budget (default: the task's "
                               "default at this scale)."),
    seed: int = typer.Option(0, "--seed", "-s", help="Run seed."),
    scale: str = typer.Option("cpu", "--scale", help="smoke | cpu | paper."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N]."),
    results: Path = typer.Option(None, "--results", help="Result folder (default: "
                                 "$JETBENCH_RESULTS or ./results)."),
    force: bool = typer.Option(False, "--force", help="Re-run even if the result exists."),
    threads: int = typer.Option(None, "--threads", help="Torch threads (default: the idle "
                                "cores)."),
    pretrain: bool = typer.Option(False, "--pretrain", help="Pretrain the encoder here (or use "
                                  "the one pretrained before) instead of the checkpoint shipped "
                                  "with jetbench."),
    precision: str = typer.Option("auto", "--precision", help="auto (bf16 autocast on CUDA, "
                                  "fp32 on CPU) | fp32 | bf16."),
    tasks_dir: list[Path] = tasks_dir_option(),
    no_progress: bool = no_progress_option(),
    track: str = track_option(),
) -> None:
    """Train and score one cell; write its result JSON; print a short table.

    Uses the encoder checkpoint shipped with jetbench where there is one (and says so); makes
    the task data and pretrains an encoder without one first if they are not cached yet.
    """
    from jetbench.core import distributed as dd  # lazy: torch; `jetbench --help` stays fast
    from jetbench.evaluation import format_result, run_cell  # lazy: torch

    preflight.check_run_args(seed=seed, threads=threads, budget=budget)
    tasks_dirs_wanted(tasks_dir)
    res = preflight.check_run_outputs(results)
    tracking_wanted(track)
    out = run_cell(encoder, task, protocol, budget=budget, seed=seed, scale=scale, device=device,
                   results_dir=res, force=force, progress=progress_wanted(no_progress),
                   threads=threads, pretrain=pretrain, precision=precision)
    if dd.is_main():
        print(format_result(out.result, out.skipped))
        if out.path is not None and not out.skipped:
            print(f"result: {out.path}")
    dd.shutdown()


@app.command("sweep")
def sweep(
    encoders: list[str] = typer.Option(..., "--encoders", help="Encoder names (comma-separated "
                                       "or repeated)."),
    tasks: list[str] = typer.Option(..., "--tasks", help="Task names."),
    protocols: list[str] = typer.Option(["finetune"], "--protocols", help="Protocols."),
    budgets: list[str] = typer.Option(None, "--budgets", help="Budgets, or 'all' (default: each "
                                      "task's default)."),
    seeds: list[str] = typer.Option(None, "--seeds", help="Seeds, or 'all' (default: each "
                                    "task's default seeds)."),
    scale: str = typer.Option("cpu", "--scale", help="smoke | cpu | paper."),
    workers: int = typer.Option(1, "--workers", "-j", help="Local worker processes."),
    slurm: Path = typer.Option(None, "--slurm", help="Submit to SLURM instead of running: a "
                               "prepare job, then a job array (submitit files and logs here)."),
    partition: str = typer.Option(None, "--partition", help="SLURM partition."),
    account: str = typer.Option(None, "--account", help="SLURM account."),
    time_limit: str = typer.Option("02:00:00", "--time", help="SLURM time limit per job "
                                   "(sbatch formats: minutes, HH:MM:SS, D-HH...)."),
    gpus: int = typer.Option(None, "--gpus", help="GPUs per SLURM job (default: 1 at paper "
                             "scale, else 0)."),
    cpus: int = typer.Option(2, "--cpus", help="CPUs per SLURM job."),
    mem_gb: float = typer.Option(None, "--mem-gb", help="Memory per SLURM job in GB."),
    max_parallel: int = typer.Option(50, "--max-parallel", help="SLURM array tasks at once."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    results: Path = typer.Option(None, "--results", help="Result folder."),
    force: bool = typer.Option(False, "--force", help="Re-run finished cells."),
    threads: int = typer.Option(None, "--threads", help="Torch threads in total."),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="Only make data and "
                                      "pretrained encoders."),
    pretrain: bool = typer.Option(False, "--pretrain", help="Pretrain encoders here instead of "
                                  "using the checkpoints shipped with jetbench."),
    tasks_dir: list[Path] = tasks_dir_option(),
    no_progress: bool = no_progress_option(),
    track: str = track_option(),
) -> None:
    """Run every cell of encoders x tasks x protocols x budgets x seeds; skip finished cells.

    Killed and restarted with the same arguments, it resumes where it stopped.
    """
    from jetbench.evaluation import slurm as sl  # lazy: torch; `jetbench --help` stays fast
    from jetbench.evaluation import sweep as sw  # lazy: torch

    preflight.check_run_args(threads=threads, workers=workers)
    tasks_dirs_wanted(tasks_dir)
    cells = sw.expand(encoders, tasks, protocols, budgets, seeds, scale)
    preflight.check_run_args(seeds=sorted({c.seed for c in cells}))
    res = preflight.check_run_outputs(results)
    progress = progress_wanted(no_progress)
    tracking_wanted(track, group=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    if slurm is not None:
        preflight.check_output_dir(slurm, "SLURM job folder")
        preflight.check_count("--cpus", cpus, 1, 4096)
        preflight.check_count("--gpus", gpus, 0, 64)
        preflight.check_count("--max-parallel", max_parallel, 1)
        if mem_gb is not None and not mem_gb > 0:
            raise JetbenchError(f"--mem-gb must be a positive number, got {mem_gb}")
        opts = sl.SlurmOptions(partition=partition, account=account, time=time_limit, gpus=gpus,
                               cpus=cpus, mem_gb=mem_gb, max_parallel=max_parallel)
        sub = sl.submit_sweep(cells, slurm, res, opts, device=device)
        print(f"{sub.n_cells} cells: SLURM job {sub.prepare_id} (data and encoders), then array "
              f"job {sub.array_id}; logs in {sub.folder} (squeue -j {sub.prepare_id},{sub.array_id})")
        return
    log = get_logger("sweep")
    log.info(f"{len(cells)} cells; preparing data and encoders")
    encs = sw.prepare(cells, device, progress=progress, pretrain=pretrain)
    if prepare_only:
        return
    todo, done = (cells, []) if force else sw.pending(cells, res, device, encs, pretrain)
    log.info(f"{len(done)} already done, {len(todo)} to run with {workers} worker(s)")
    outcomes = sw.run_local(todo, res, workers, device, force, threads, pretrain) if todo else []
    outcomes += [{"cell": c.id, "status": "skipped", "score": "", "seconds": None, "error": ""}
                 for c in done]
    print(sw.summary_table(outcomes))
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        raise JetbenchError(f"{len(failed)} of {len(cells)} cells failed (see the table); "
                            "re-run the same command to retry them")
