"""User-facing errors: one clear line, non-zero exit (tracebacks only with --debug)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class JetbenchError(Exception):
    """An error caused by input the user can fix; the CLI prints it as one line."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> JetbenchError:
    """Error for a wrong registry name, with a 'did you mean' hint and the known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return JetbenchError(f"unknown {kind} '{name}'{hint}; known: {', '.join(known)}")
