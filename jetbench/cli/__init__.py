"""The `jetbench` command: a thin layer over the Python API, behind one error boundary.

Exit status (documented in the README):
  0    success
  1    an unexpected error (a bug, or the machine: disk, memory): one line naming the error type,
       the full traceback with `--debug`
  2    an error the user can fix (JetbenchError) or a usage error (unknown option, bad value, no
       command): one line, or the usage message
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM). Worker processes are stopped either way.
"""

from __future__ import annotations

import contextlib
import signal
import sys

import typer

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
from jetbench.core.workers import Terminated, sigterm_seen, terminate_as_interrupt

EXIT_BUG, EXIT_USER, EXIT_INT, EXIT_TERM = 1, 2, 130, 128 + signal.SIGTERM


def _is_usage_error(err: BaseException) -> bool:
    """A click/typer exception that knows how to show itself (usage errors, bad parameters).

    Duck-typed: typer >= 0.2x bundles its own click (`typer._click`), older typer uses `click`;
    importing either by name could fail on a fresh install."""
    return callable(getattr(err, "show", None)) and isinstance(getattr(err, "exit_code", None), int)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else ""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if not args:  # the help, as a usage error (the same on every typer/click version)
        with contextlib.redirect_stdout(sys.stderr):
            app(args=["--help"], prog_name="jetbench", standalone_mode=False)
        return EXIT_USER
    try:
        with terminate_as_interrupt():
            rc = app(args=args, prog_name="jetbench", standalone_mode=False)
        if isinstance(rc, int) and rc == EXIT_INT:  # typer reports Ctrl-C (and SIGTERM) as 130
            if sigterm_seen():
                print("jetbench: terminated", file=sys.stderr)
                return EXIT_TERM
            print("jetbench: interrupted", file=sys.stderr)
        return rc if isinstance(rc, int) else 0
    except JetbenchError as err:
        if debug or DEBUG["on"]:
            raise
        print(f"jetbench: error: {err}", file=sys.stderr)
        return EXIT_USER
    except Terminated:
        print("jetbench: terminated", file=sys.stderr)
        return EXIT_TERM
    except KeyboardInterrupt:
        print("jetbench: interrupted", file=sys.stderr)
        return EXIT_INT
    except SystemExit as exc:  # commands that exit with a status (validate-encoder, mock-run)
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_BUG
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.Abort:
        print("jetbench: aborted", file=sys.stderr)
        return EXIT_BUG
    except Exception as err:
        if _is_usage_error(err):
            err.show()  # type: ignore[attr-defined]
            return err.exit_code  # type: ignore[attr-defined]
        if debug or DEBUG["on"]:
            raise
        print(f"jetbench: {type(err).__name__}: {_one_line(err)} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_BUG
