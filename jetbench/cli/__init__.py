"""The `jetbench` command: a thin layer over the Python API.

Errors the user can fix (JetbenchError) print as one line and exit with status 2; the full
traceback only appears with `--debug`.
"""

from __future__ import annotations

import sys

from jetbench.cli import (
    cache_commands,  # noqa: F401  (registers commands)
    data_commands,  # noqa: F401
    encoder_commands,  # noqa: F401
    generate_command,  # noqa: F401
    import_command,  # noqa: F401
    leaderboard_commands,  # noqa: F401
    list_commands,  # noqa: F401
    pretrain_command,  # noqa: F401
    run_commands,  # noqa: F401
)
from jetbench.cli.app import DEBUG, app
from jetbench.core.errors import JetbenchError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="jetbench", standalone_mode=False)
        if isinstance(rc, int) and rc == 130:  # typer reports Ctrl-C as a returned 130
            print("jetbench: interrupted", file=sys.stderr)
        if isinstance(rc, int):
            return rc
    except JetbenchError as err:
        if debug or DEBUG["on"]:
            raise
        print(f"jetbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jetbench: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # typer/click exits (usage errors, --help)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as err:  # click usage errors arrive as ClickException
        import click  # lazy: only on this error path (typer may bundle its own click)

        if isinstance(err, click.ClickException):
            err.show()
            return err.exit_code
        if isinstance(err, click.exceptions.Abort):
            return 1
        raise
    return 0
