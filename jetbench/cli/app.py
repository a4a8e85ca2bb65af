"""The typer application objects; command modules attach their commands to these."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="jetbench: a benchmark suite for jet foundation models.")
data_app = typer.Typer(no_args_is_help=True, help="Generate, convert, inspect and download jet data.")
list_app = typer.Typer(no_args_is_help=True, help="List registered tasks and encoders.")
app.add_typer(data_app, name="data")
app.add_typer(list_app, name="list")

DEBUG = {"on": False}


def _print_version(value: bool) -> None:
    if value:
        from jetbench import __version__

        print(f"jetbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="Print the version and exit.")) -> None:
    DEBUG["on"] = debug
