"""`jetbench list tasks` and `jetbench data prepare`: the task registry on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from tabulate import tabulate

from jetbench.cli.app import (
    data_app,
    list_app,
    no_progress_option,
    progress_wanted,
    tasks_dir_option,
    tasks_dirs_wanted,
)
from jetbench.core import preflight
from jetbench.core.errors import unknown_name
from jetbench.core.scales import SCALES


def _short(n: int) -> str:
    """1000 -> 1k, 2020000 -> 2.02M (budgets read at a glance)."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def _budgets(spec, scale: str) -> str:
    if scale not in spec.scales:
        return "-"
    default = spec.default_budget(scale)
    return ",".join(_short(b) + ("*" if b == default else "") for b in spec.budgets[scale])


@list_app.command("tasks")
def list_tasks(scale: str = typer.Option("cpu", "--scale", help="Budgets of this scale: smoke | "
                                         "cpu | paper."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON."),
               tasks_dir: list[Path] = tasks_dir_option()) -> None:
    """Registered tasks: what each asks, its data, main score and label budgets (* = default)."""
    from jetbench.tasks import list_tasks as registered  # lazy: torch; `jetbench --help` fast

    if scale not in SCALES:
        raise unknown_name("scale", scale, SCALES)
    tasks_dirs_wanted(tasks_dir)
    tasks = registered()
    if as_json:
        print(json.dumps([{"name": t.name, "version": t.version, "summary": t.summary,
                           "description": t.description, "dataset": t.dataset,
                           "data": t.data.name, "head": t.head, "main_score": t.main_score,
                           "metrics": list(t.metric_names), "budgets": t.budgets,
                           "default_budget": {s: t.default_budget(s) for s in t.scales},
                           "hash": t.hash()} for t in tasks], indent=2))
        return
    rows = [(t.name, t.version, t.summary or t.description.split(". ")[0], t.data.name,
             t.main_score, _budgets(t, scale)) for t in tasks]
    print(tabulate(rows, headers=["task", "v", "question", "data", "main score",
                                  f"budgets {scale}"]))


@data_app.command("prepare")
def prepare(task: str = typer.Argument(..., help="Task name (see `jetbench list tasks`)."),
            scale: str = typer.Option("cpu", "--scale", help="smoke | cpu | paper"),
            workers: int = typer.Option(0, "--workers",
                                        help="Generator processes (0: all cores)."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON."),
            tasks_dir: list[Path] = tasks_dir_option(),
            no_progress: bool = no_progress_option()) -> None:
    """Produce (generate, or index real files), cache and check every split of a task."""
    from jetbench.tasks import prepare_task  # lazy: torch; `jetbench --help` stays fast

    preflight.check_count("--workers", workers, 0, 1024)
    tasks_dirs_wanted(tasks_dir)
    preflight.check_caches("data")
    info = prepare_task(task, scale, workers=workers or None,
                        progress=progress_wanted(no_progress))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    rows = [(s, v["n_jets"], v["content_hash"], v["path"]) for s, v in info["splits"].items()]
    print(tabulate(rows, headers=["split", "jets", "content hash", "store"]))
    print(f"task {info['task']} v{info['version']} ({scale}): splits disjoint, "
          f"manifest hash {info['manifest_hash']}")
