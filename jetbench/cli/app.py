"""The typer application objects; command modules attach their commands to these."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from jetbench.core.errors import JetbenchError
from jetbench.core.log import configure, set_progress
from jetbench.core.version import __version__
from jetbench.tracking import GROUP_ENV, TRACK_ENV, selected

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="jetbench: a benchmark suite for jet foundation models.")
data_app = typer.Typer(no_args_is_help=True, help="Generate, convert, inspect and download jet data.")
list_app = typer.Typer(no_args_is_help=True, help="List registered tasks and encoders.")
app.add_typer(data_app, name="data")
app.add_typer(list_app, name="list")

DEBUG = {"on": False}


def _print_version(value: bool) -> None:
    if value:
        print(f"jetbench {__version__}")
        raise typer.Exit()


# `--no-progress` of the long commands (run, sweep, pretrain, data prepare): one definition
NO_PROGRESS_HELP = "No progress bars (they are drawn only on a terminal anyway)."


def no_progress_option() -> Any:
    """The `--no-progress` option of a long command (the same flag the root accepts)."""
    return typer.Option(False, "--no-progress", help=NO_PROGRESS_HELP)


def progress_wanted(no_progress: bool) -> bool:
    """A command's `--no-progress` switched on for everything below it (and its workers)."""
    if no_progress:
        set_progress(False)
    return not no_progress


def tasks_dir_option() -> Any:
    """`--tasks-dir DIR` (repeatable): folders of the user's own task YAMLs."""
    return typer.Option(None, "--tasks-dir", help="Folder of your own task YAMLs (and their "
                        "datasets/); repeatable. Also: $JETBENCH_TASKS (':'-separated).")


def tasks_dirs_wanted(dirs: list[Path] | None) -> None:
    """Put `--tasks-dir` folders on the task search path (and into workers' environment)."""
    if dirs:
        from jetbench.tasks.registry import add_task_dirs  # lazy: torch; `--help` stays fast

        add_task_dirs(dirs)


def track_option() -> Any:
    """`--track wandb,mlflow,tensorboard` of the commands that train (run, sweep, pretrain)."""
    return typer.Option(None, "--track", help="Experiment tracking: wandb, mlflow and/or "
                        "tensorboard, comma-separated (default: $JETBENCH_TRACK, else off).")


def tracking_wanted(track: str | None, group: str | None = None) -> None:
    """Check `--track` and pass it (and a sweep's group name) on to workers and jobs."""
    if track is not None:
        os.environ[TRACK_ENV] = ",".join(selected(track))
    if group and selected():
        os.environ.setdefault(GROUP_ENV, group)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Also debug messages."),
          no_progress: bool = typer.Option(False, "--no-progress", help=NO_PROGRESS_HELP),
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="Print the version and exit.")) -> None:
    if quiet and verbose:
        raise JetbenchError("--quiet and --verbose: give one of them")
    DEBUG["on"] = debug
    configure(quiet=quiet, verbose=verbose, progress=False if no_progress else None)
