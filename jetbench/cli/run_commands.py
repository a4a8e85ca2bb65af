"""`jetbench run` (one cell) and `jetbench sweep` (a grid of cells, local workers or SLURM)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from jetbench.cli.app import app


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
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
) -> None:
    """Train and score one cell; write its result JSON; print a short table.

    Makes the task data and pretrains the encoder first if they are not cached yet.
    """
    from jetbench.core import preflight
    from jetbench.evaluate_cell import format_result, run_cell
    from jetbench.protocols import distributed as dd

    preflight.check_run_args(seed=seed, threads=threads, budget=budget)
    res = preflight.check_run_outputs(results)
    out = run_cell(encoder, task, protocol, budget=budget, seed=seed, scale=scale, device=device,
                   results_dir=res, force=force, progress=not no_progress, threads=threads)
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
    slurm: Path = typer.Option(None, "--slurm", help="Write a SLURM array job into this folder "
                               "instead of running."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    results: Path = typer.Option(None, "--results", help="Result folder."),
    force: bool = typer.Option(False, "--force", help="Re-run finished cells."),
    threads: int = typer.Option(None, "--threads", help="Torch threads in total."),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="Only make data and "
                                      "pretrained encoders."),
) -> None:
    """Run every cell of encoders x tasks x protocols x budgets x seeds; skip finished cells.

    Killed and restarted with the same arguments, it resumes where it stopped.
    """
    from jetbench import sweep as sw
    from jetbench.core import preflight
    from jetbench.core.errors import JetbenchError

    preflight.check_run_args(threads=threads, workers=workers)
    cells = sw.expand(encoders, tasks, protocols, budgets, seeds, scale)
    preflight.check_run_args(seeds=sorted({c.seed for c in cells}))
    res = preflight.check_run_outputs(results)
    if slurm is not None:
        preflight.check_output_dir(slurm, "SLURM job folder")
        grid = sum(([f"--{k}", ",".join(sw.split_list(v))] for k, v in
                    (("encoders", encoders), ("tasks", tasks), ("protocols", protocols),
                     ("budgets", budgets), ("seeds", seeds)) if v), [])
        grid += ["--scale", scale, "--results", str(Path(res).resolve())]
        submit = sw.write_slurm(cells, slurm, res, grid)
        print(f"{len(cells)} cells; SLURM job written; submit with: {submit}")
        return
    print(f"jetbench sweep: {len(cells)} cells; preparing data and encoders", file=sys.stderr)
    encs = sw.prepare(cells, device)
    if prepare_only:
        return
    todo, done = (cells, []) if force else sw.pending(cells, res, device, encs)
    print(f"jetbench sweep: {len(done)} already done, {len(todo)} to run with {workers} "
          f"worker(s)", file=sys.stderr)
    outcomes = sw.run_local(todo, res, workers, device, force, threads) if todo else []
    outcomes += [{"cell": c.id, "status": "skipped", "score": "", "seconds": None, "error": ""}
                 for c in done]
    print(sw.summary_table(outcomes))
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        raise JetbenchError(f"{len(failed)} of {len(cells)} cells failed (see the table); "
                            "re-run the same command to retry them")
