"""One place for what jetbench tells the user on stderr: log levels and progress bars.

Messages go through the `jetbench` logger and look as they always did, one plain line each:
`jetbench: message` (`jetbench sweep: message` for the `sweep` component, `jetbench: warning: ...`
for warnings). The handler is installed here, not left to the caller, so `jetbench.evaluate()`
from a notebook says the same things as the CLI; `logging.getLogger("jetbench")` is the handle to
silence or redirect it (it does not propagate to the root logger, so nothing prints twice).

Progress bars are for people watching a terminal: captured logs (a pipe, a file, a SLURM job)
would fill with carriage-return frames, so a bar is drawn only when stderr is a terminal (or in
a notebook, where tqdm draws a widget), the
level shows info messages, and neither `--no-progress` nor `JETBENCH_NO_PROGRESS=1` turned it off.
The level and the progress switch travel to spawned worker processes through the environment
(`JETBENCH_LOG_LEVEL`, `JETBENCH_NO_PROGRESS`), because a spawned worker starts a fresh logger.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

ROOT = "jetbench"
LEVEL_ENV = "JETBENCH_LOG_LEVEL"
NO_PROGRESS_ENV = "JETBENCH_NO_PROGRESS"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


class _Format(logging.Formatter):
    """`jetbench[ component]: [level: ]message`, the look of the messages before logging."""

    def format(self, record: logging.LogRecord) -> str:
        component = record.name[len(ROOT) + 1:] if record.name.startswith(ROOT + ".") else ""
        prefix = f"{ROOT} {component}" if component else ROOT
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        text = f"{prefix}: {level}{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StderrHandler(logging.Handler):
    """Writes to the *current* sys.stderr (pytest and notebooks swap it), above any progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if "tqdm" in sys.modules:  # a bar may be on screen: print above it, not through it
                from tqdm import tqdm  # lazy: only once some bar imported it

                tqdm.write(msg, file=sys.stderr)
            else:
                sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never break the run it reports on
            self.handleError(record)


def _install() -> logging.Logger:
    logger = logging.getLogger(ROOT)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Format())
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(_LEVELS.get(os.environ.get(LEVEL_ENV, "info").lower(), logging.INFO))
    return logger


def get_logger(component: str | None = None) -> logging.Logger:
    """The `jetbench` logger, or its child `jetbench.<component>` (shown as `jetbench component:`).

    Modules use a component only where the prefix helps the reader (`sweep`), not per module."""
    _install()
    return logging.getLogger(f"{ROOT}.{component}" if component else ROOT)


def configure(quiet: bool = False, verbose: bool = False, progress: bool | None = None) -> None:
    """Set the level from `--quiet` (warnings and errors only) / `--verbose` (debug messages too)
    and, if given, the progress switch; both are exported for worker processes."""
    level = "warning" if quiet else "debug" if verbose else "info"
    _install().setLevel(_LEVELS[level])
    os.environ[LEVEL_ENV] = level
    if progress is not None:
        set_progress(progress)


def set_progress(enabled: bool) -> None:
    """Turn progress bars on or off for this process and the workers it starts."""
    if enabled:
        os.environ.pop(NO_PROGRESS_ENV, None)
    else:
        os.environ[NO_PROGRESS_ENV] = "1"


def show_progress(requested: bool = True) -> bool:
    """Whether to draw a bar: asked for, not switched off, info level on, stderr a terminal."""
    if not requested or os.environ.get(NO_PROGRESS_ENV, "") not in ("", "0"):
        return False
    if not _install().isEnabledFor(logging.INFO):
        return False
    if "ipykernel" in sys.modules:  # a notebook: tqdm.auto draws a widget, not stderr frames
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """A tqdm bar on stderr that is drawn only when `show_progress(enabled)`; otherwise a silent
    stand-in with the same methods (update, set_postfix, close, context manager)."""
    from tqdm.auto import tqdm  # lazy: most commands draw no bar

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not show_progress(enabled), **kwargs)


__all__ = ["configure", "get_logger", "progress_bar", "set_progress", "show_progress"]
