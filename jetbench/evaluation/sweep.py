"""`jetbench sweep`: the grid encoder x task x protocol x budget x seed, run locally (SLURM array
files: `jetbench.evaluation.slurm`).

Resumable by construction: every cell writes its own result JSON atomically, and a cell whose
result exists with matching hashes is skipped. Data and pretrained encoders are produced once,
before any worker starts, so workers never race to generate or pretrain the same thing.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any

from tabulate import tabulate

from jetbench.core.devices import resolve_device
from jetbench.core.errors import JetbenchError
from jetbench.core.log import get_logger
from jetbench.core.threads import auto_threads
from jetbench.core.workers import worker_pool
from jetbench.evaluation.cell import Cell
from jetbench.evaluation.plan import LoadedEncoder, check_names, load_encoder, plan_cell, prepare_data
from jetbench.evaluation.run import finished, run_cell
from jetbench.tasks import get_task, resolve_budget
from jetbench.tasks.registry import is_builtin

_log = get_logger("sweep")  # messages read "jetbench sweep: ..."


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
    encoders, tasks, protocols = split_list(encoders), split_list(tasks), split_list(protocols)
    budgets, seeds = split_list(budgets), split_list(seeds)
    for what, values in (("encoders", encoders), ("tasks", tasks), ("protocols", protocols)):
        if not values:
            raise JetbenchError(f"--{what}: give at least one name")
    for e in encoders:
        for t in tasks:
            for p in protocols:
                check_names(e, t, p, scale)
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


def prepare(cells: list[Cell], device: str = "auto", progress: bool = True,
            pretrain: bool = False) -> dict[str, LoadedEncoder]:
    """Produce every task's data and every encoder's checkpoint once (in this process). On a
    user's task an encoder without pretraining is fitted on that task's jets (`plan_cell`), so
    it is loaded per task (key `encoder@task`) and never pretrained for it."""
    scale = cells[0].scale if cells else "cpu"
    paths = {task: prepare_data(get_task(task), scale, progress)[0]
             for task in dict.fromkeys(c.task for c in cells)}
    dev = str(resolve_device(device))
    out: dict[str, LoadedEncoder] = {}
    for e in dict.fromkeys(c.encoder for c in cells):
        tasks = list(dict.fromkeys(c.task for c in cells if c.encoder == e))
        user = [t for t in tasks if not is_builtin(t)]
        if len(user) < len(tasks):
            out[e] = load_encoder(e, scale, dev, pretrain)
        for t in user:
            out[f"{e}@{t}"] = load_encoder(e, scale, dev, pretrain, fit_on=paths[t]["train"])
    return out


def pending(cells: list[Cell], results_dir: str | Path, device: str = "auto",
            encoders: dict[str, LoadedEncoder] | None = None,
            pretrain: bool = False) -> tuple[list[Cell], list[Cell]]:
    """(to run, already done with matching hashes)."""
    todo, done = [], []
    for c in cells:
        plan = plan_cell(c.encoder, c.task, c.protocol, budget=c.budget, seed=c.seed,
                         scale=c.scale, device=device, results_dir=results_dir, progress=False,
                         encoders=encoders, pretrain=pretrain)
        (done if finished(plan)[0] is not None else todo).append(c)
    return todo, done


_WORKER_ENCODERS: dict[str, LoadedEncoder] = {}


def _run_one(cell: Cell, results_dir: str, device: str, force: bool, threads: int,
             progress: bool, pretrain: bool = False) -> dict[str, Any]:
    """One cell in a worker: never raises, reports the outcome."""
    t0 = time.perf_counter()
    try:
        out = run_cell(cell.encoder, cell.task, cell.protocol, budget=cell.budget, seed=cell.seed,
                       scale=cell.scale, device=device, results_dir=results_dir, force=force,
                       progress=progress, threads=threads, encoders=_WORKER_ENCODERS,
                       pretrain=pretrain)
    except Exception as err:  # noqa: BLE001 - one failed cell must not stop the sweep
        return {"cell": cell.id, "status": "failed", "score": None,
                "seconds": round(time.perf_counter() - t0, 1),
                "error": f"{type(err).__name__}: {err}"}
    r = out.result
    return {"cell": cell.id, "status": "skipped" if out.skipped else "done",
            "score": f"{r.main_score}={r.score:.4f}", "seconds": round(time.perf_counter() - t0, 1),
            "error": ""}


def run_local(cells: list[Cell], results_dir: str | Path, workers: int = 1, device: str = "auto",
              force: bool = False, threads: int | None = None,
              pretrain: bool = False) -> list[dict[str, Any]]:
    """Run cells in this process (workers=1) or in a pool of `workers` spawned processes."""
    per_worker = max(1, auto_threads(threads) // max(workers, 1))
    if workers <= 1:
        out = []
        for i, c in enumerate(cells, 1):
            _log.info(f"[{i}/{len(cells)}] {c.id}")
            out.append(_run_one(c, str(results_dir), device, force, per_worker, True, pretrain))
        return out
    outcomes: list[dict[str, Any]] = []
    with worker_pool(workers) as pool:  # workers die with this process; Ctrl-C/SIGTERM stop them
        futures = {pool.submit(_run_one, c, str(results_dir), device, force, per_worker, False,
                               pretrain): c
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
                _log.info(f"[{len(outcomes)}/{len(cells)}] {o['cell']}: "
                          f"{o['status']} {o['score'] or o['error']}")
    return outcomes


def summary_table(outcomes: list[dict[str, Any]]) -> str:
    rows = [[o["cell"], o["status"], o["score"] or "", o["seconds"] if o["seconds"] is not None
             else "", o["error"][:80]] for o in outcomes]
    return tabulate(rows, headers=["cell", "status", "main score", "s", "error"])


__all__ = ["Cell", "expand", "pending", "prepare", "run_local", "split_list", "summary_table"]
